"""The dashboard on the demo organisation: server time per page, first contentful paint
in headless Chromium, and bytes transferred per page, each against a baseline measured
in the same run.

- server time p95 per page (target < 200 ms): baseline, the API's JSON answer for the
  same data (the portfolio against ``/api/v1/roadmap/items``, and so on);
- first contentful paint (target < 1 s): baseline, the sign-in page (no data, no charts);
- transferred per page, a first visit with an empty cache (target < 1.5 MB, vendored
  libraries included): baseline, the vendored libraries' own bytes on disk.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.common import TOKEN, Result, demo_hub, produce, work_item_events
from demo.organisation import TEAMS

PAGES = {  # page -> the API route that serves the same data
    "/": "/api/v1/roadmap/items",
    "/items/checkout-v2": "/api/v1/roadmap/items/checkout-v2",
    "/teams/platform": "/api/v1/teams/platform/resources",
    "/demand": "/api/v1/requests",
    "/alerts": "/api/v1/alerts",
    "/connectors": "/api/v1/connectors",
}
VENDOR = Path(__file__).parent.parent / "hub" / "dashboard" / "static" / "vendor"
CHROMIUM = "/usr/bin/chromium"


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _timed(session: requests.Session, url: str, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        reply = session.get(url, timeout=30, allow_redirects=False)
        samples.append((time.perf_counter() - started) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"{url}: {reply.status_code}")
    return samples


def _sign_in(base: str, token: str) -> requests.Session:
    import re

    session = requests.Session()
    form = session.get(base + "/signin", timeout=10).text
    signin = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert signin is not None
    session.post(
        base + "/signin",
        data={"signin_token": signin.group(1), "next": "/", "token": token},
        timeout=10,
        allow_redirects=False,
    ).raise_for_status()
    return session


def _browser(base: str, token: str) -> tuple[dict[str, float], dict[str, int]]:
    """(first contentful paint ms, bytes transferred) per page, each on an empty cache
    (a new browser context carrying only the session cookie)."""
    from playwright.sync_api import sync_playwright

    paint, transferred = {}, {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        signing_in = browser.new_context()
        page = signing_in.new_page()
        page.goto(base + "/signin")
        page.fill("#token", token)
        page.click("form[action='/signin'] button[type=submit]")
        page.wait_for_load_state("networkidle")
        signed_in = signing_in.storage_state()
        signing_in.close()
        for path in ["/signin", *PAGES]:
            context = browser.new_context(storage_state=None if path == "/signin" else signed_in)
            page = context.new_page()
            sizes: list[int] = []
            page.on(
                "requestfinished", lambda r, into=sizes: into.append(r.sizes()["responseBodySize"])
            )
            page.goto(base + path, wait_until="networkidle")
            fcp = page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
            )
            paint[path], transferred[path] = float(fcp), sum(sizes)
            context.close()
        browser.close()
    return paint, transferred


def _count_work_items(api: requests.Session, base: str) -> int:
    """Every work item the API lists, page by page."""
    count, cursor = 0, None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        page = api.get(base + "/api/v1/workitems", params=params, timeout=30).json()
        count += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return count


def _grow(data: Path, api: requests.Session, base: str, items: int) -> int:
    """Add ``items`` work items (four events each) to the running demo's log, on the demo's
    teams, and wait until they are folded and queryable; the work items then held."""
    bootstrap = json.loads((data / "broker.json").read_text())["bootstrap_servers"]
    teams = tuple(t.key for t in TEAMS)
    produce(bootstrap, work_item_events(items * 4, keys=items, prefix="SCALE", teams=teams))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        health = api.get(base + "/health", timeout=10).json()
        if not sum(health["lag"].values()) and health["read_model"]["behind"] == 0:
            last = api.get(base + f"/api/v1/workitems/SCALE-{items - 1}", timeout=10)
            if last.ok and len(last.json()["timeline"]) >= 3:
                return int(health["read_model"]["entities"])
        time.sleep(2)
    raise RuntimeError("the added work items were not folded within 10 minutes")


def run(quick: bool) -> list[Result]:
    rounds = 20 if quick else 60
    root = Path(tempfile.mkdtemp(prefix="hub-bench-dashboard-"))
    try:
        with demo_hub(root / "data", "memory") as base:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {TOKEN}"
            pages = _sign_in(base, TOKEN)
            server = {path: _p95(_timed(pages, base + path, rounds)) for path in PAGES}
            json_side = {p: _p95(_timed(api, base + route, rounds)) for p, route in PAGES.items()}
            paint, transferred = _browser(base, TOKEN)
            # ten times the demo's work items: nine times as many more, on its teams
            demo_items = _count_work_items(api, base)
            grown = _grow(root / "data", api, base, demo_items * 9)
            server_10x = {path: _p95(_timed(pages, base + path, rounds)) for path in PAGES}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    vendor_bytes = sum(f.stat().st_size for f in VENDOR.glob("*.js"))
    slowest = max(server, key=lambda p: server[p])
    slowest_paint = max(PAGES, key=lambda p: paint[p])
    heaviest = max(PAGES, key=lambda p: transferred[p])
    slowest_10x = max(server_10x, key=lambda p: server_10x[p])
    return [
        Result(
            "dashboard_server_p95_10x_work_items",
            server_10x[slowest_10x],
            "ms",
            server[slowest_10x],
            higher_is_better=False,
            note=f"the demo ({demo_items} work items) plus nine times as many ({grown} "
            "entities in all); slowest "
            f"page {slowest_10x}; baseline: the same page on the demo alone; every page: "
            + ", ".join(f"{p} {v:.0f} ms" for p, v in server_10x.items())
            + "; target < 1000 ms",
        ),
        Result(
            "dashboard_server_p95",
            server[slowest],
            "ms",
            json_side[slowest],
            higher_is_better=False,
            note=f"slowest page {slowest} over {rounds} requests; baseline: its API route "
            f"{PAGES[slowest]}; every page: "
            + ", ".join(f"{p} {v:.0f} ms" for p, v in server.items())
            + "; target < 200 ms",
        ),
        Result(
            "dashboard_first_contentful_paint",
            paint[slowest_paint],
            "ms",
            paint["/signin"],
            higher_is_better=False,
            note=f"slowest page {slowest_paint}, headless Chromium, empty cache; baseline: the "
            "sign-in page; every page: "
            + ", ".join(f"{p} {paint[p]:.0f} ms" for p in PAGES)
            + "; target < 1000 ms",
        ),
        Result(
            "dashboard_transferred_per_page",
            transferred[heaviest] / 2**20,
            "MiB",
            vendor_bytes / 2**20,
            higher_is_better=False,
            note=f"heaviest page {heaviest}, first visit; baseline: the vendored libraries on "
            "disk; target < 1.5 MiB",
        ),
    ]
