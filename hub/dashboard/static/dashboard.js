// Product Ops Hub dashboard: charts, progress bars, live refresh, confirmations.
// No inline script anywhere (the Content-Security-Policy forbids it): pages carry their
// data in <script type="application/json"> blocks and this file turns them into charts.
(function () {
  "use strict";
  var charts = [];

  function initCharts(root) {
    charts.forEach(function (c) { if (!document.body.contains(c.getDom())) { c.dispose(); } });
    charts = charts.filter(function (c) { return !c.isDisposed(); });
    root.querySelectorAll("script[data-chart-for]").forEach(function (block) {
      var el = document.getElementById(block.getAttribute("data-chart-for"));
      if (!el || el.getAttribute("data-ready") === "1" || typeof echarts === "undefined") { return; }
      el.style.height = (el.getAttribute("data-height") || "320") + "px";
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(block.textContent));
      el.setAttribute("data-ready", "1");
      charts.push(chart);
    });
  }

  function initBars(root) {
    root.querySelectorAll(".bar-fill[data-pct]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, +el.getAttribute("data-pct"))) + "%";
    });
  }

  function init(root) { initCharts(root); initBars(root); }

  // Live pages refresh when the hub has learned something new (checked every 3 s),
  // unless someone is typing in a form on the page.
  var version = null;
  function poll() {
    var main = document.querySelector("main[data-live]");
    if (!main) { return; }
    fetch("/ui/version", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var busy = document.activeElement && document.activeElement.closest("main form");
        if (version !== null && body.version !== version && !busy && window.htmx) {
          htmx.ajax("GET", window.location.href, { target: "main", select: "main", swap: "outerHTML" });
        }
        version = body.version;
      })
      .catch(function () { /* the next poll tries again */ });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    poll();
    window.setInterval(poll, 3000);
  });
})();
