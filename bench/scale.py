"""Growth with the organisation: 1x, 10x and 50x the demo, and the exponent between sizes.

A generated organisation the shape of the demo (six teams of about 370 work items each,
epics with stories under roadmap items, unplanned bugs, assignments, sprints on half the
teams, customer requests on accounts) is multiplied by the factor: 1x is about 2.2k work
items, 50x about 110k. Per size:

- in a fresh process: replay time of the whole log, the read model's memory (what the
  folded entities add to the process's RSS) and one full rule evaluation
  (``drift_inputs`` + every rule), over a frozen heap as in the worker's forks;
- in a worker: fold throughput from an empty table, how long its read model then takes
  to hold the whole changelog, then query latency (key lookups and list pages from 50
  paced clients) while the leader evaluates the rules back to back
  (``evaluation_interval: 1s``), once the first evaluation's notifications have gone
  out, the worker's evaluation time, its peak RSS, and the private memory of its forks
  (the standing evaluation fork: pages copied for it since it forked).

The baseline of every 10x and 50x figure is the same figure at 1x, measured in the same
run; the growth exponent k in value ~ size^k is log(ratio) / log(factor). Targets (#21):
k <= 1.1 for memory and evaluation time; at 50x a worker under 2 GiB, an evaluation under
5 s, query p99 under 10 ms (key) and 50 ms (list) while it runs, replay of 5M events in
under 4 minutes.
"""

from __future__ import annotations

import gc
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Result, Worker, produce
from core.codec import decode_dict
from core.events import Event, make_event_id
from core.topics import ensure_topics
from hub.broker import EmbeddedBroker, free_port

FACTORS = (1, 10, 50)
QUICK_FACTORS = (1, 5)
TEAMS_PER_FACTOR = 6
ITEMS_PER_TEAM = 370
WEEKS = 26
CLIENTS = 50
KEY_RATE, LIST_RATE = 10.0, 2.0  # per client, as in bench/query.py
LOAD_SECONDS = 20.0
NOW = datetime(2026, 7, 1, 9, tzinfo=UTC)
EVENTS_PER_FACTOR = 17_040  # events of the 1x organisation
REPLAY_EVENTS, REPLAY_TARGET_SECONDS = 5_000_000, 240


def _event(type_: str, key: str, change: str, at: datetime, payload: dict[str, Any]) -> Event:
    kind = type_.partition(".")[0]
    return decode_dict(
        {
            "type": type_,
            "event_id": make_event_id("scale", kind, key, change, type_),
            "source": {"system": "jira", "connector": "scale"},
            "entity": {"kind": kind, "key": key},
            "occurred_at": at.isoformat(),
            "payload": payload,
        }
    )


def _status(key: str, n: int, at: datetime, old: tuple[str, str], new: tuple[str, str]) -> Event:
    return _event(
        "work_item.status_changed",
        key,
        f"s{n}",
        at,
        {"from_status": old[0], "to_status": new[0], "from_category": old[1],
         "to_category": new[1]},
    )  # fmt: skip


TO_DO, DOING, REVIEW, DONE = ("To Do", "todo"), ("In Progress", "in_progress"), (
    "In Review", "in_progress"), ("Done", "done")  # fmt: skip


def organisation(factor: int, seed: int = 7) -> Iterator[Event]:
    """The demo-shaped organisation times ``factor``, as canonical events in time order
    per key (the topics' order), about nine events per work item."""
    rng = random.Random(seed)
    begin = NOW - timedelta(weeks=WEEKS)
    for t in range(TEAMS_PER_FACTOR * factor):
        team, project = f"team-{t}", f"T{t}"
        members = [f"{project.lower()}-p{m}" for m in range(5)]
        yield _event("team.defined", team, "v1", begin, {
            "name": team, "capacity_fte": 4.0, "wip_limit": 8, "members": members,
            "investment_target": {"roadmap": 0.6, "bugs": 0.2, "maintenance": 0.2},
        })  # fmt: skip
        epics = [f"{project}-E{r}" for r in range(2)]
        for r, epic in enumerate(epics):
            yield _event("roadmap_item.planned", f"{project}-R{r}", "v1", begin, {
                "title": f"{team} initiative {r}", "teams": [team], "epics": [epic],
                "committed_at": (begin + timedelta(weeks=2)).isoformat(),
                "planned_start": (begin + timedelta(weeks=2)).date().isoformat(),
                "target_date": (NOW + timedelta(weeks=rng.randint(-4, 12))).date().isoformat(),
                "planned_allocation": {team: 1.5}, "budget": 250_000,
            })  # fmt: skip
            yield _event("work_item.created", epic, "c", begin, {
                "title": f"Epic {epic}", "item_type": "Epic", "status": "To Do",
                "status_category": "todo", "team": team, "project": project,
            })  # fmt: skip
        sprinting = t % 2 == 0
        for n in range(ITEMS_PER_TEAM - len(epics)):
            key = f"{project}-{n}"
            created = begin + timedelta(hours=rng.uniform(0, WEEKS * 7 * 24 - 48))
            bug = n % 3 == 0
            parent = None if bug or n % 5 == 0 else epics[n % 2]
            points = rng.choice([1, 2, 3, 5, 8])
            yield _event("work_item.created", key, "c", created, {
                "title": f"{'Bug' if bug else 'Story'} {key}", "item_type": "Bug" if bug
                else "Story", "status": "To Do", "status_category": "todo", "team": team,
                "project": project, "parent": parent, "estimate": points,
                "labels": ["support"] if n % 11 == 0 else [],
            })  # fmt: skip
            yield _event("work_item.assigned", key, "a", created + timedelta(hours=1),
                         {"to_assignee": rng.choice(members)})  # fmt: skip
            for edit in range(2):  # re-pulled snapshots: a retitle, a relabel
                yield _event("work_item.updated", key, f"u{edit}", created + timedelta(
                    hours=2 + edit), {
                    "title": f"{'Bug' if bug else 'Story'} {key} (v{edit + 2})",
                    "item_type": "Bug" if bug else "Story", "status": "To Do",
                    "status_category": "todo", "team": team, "project": project,
                    "parent": parent, "labels": ["support"] if n % 11 == 0 else [],
                    "estimate": points,
                })  # fmt: skip
            started = created + timedelta(days=rng.uniform(0.5, 6))
            if started >= NOW:
                continue
            if sprinting:
                sprint = f"scale-{t}-{int((started - begin).days // 14)}"
                yield _event("work_item.sprint_changed", key, "sp", started - timedelta(hours=3),
                             {"added": [sprint]})  # fmt: skip
            yield _status(key, 1, started, TO_DO, DOING)
            review = started + timedelta(days=rng.uniform(0.5, 5))
            if review < NOW:
                yield _status(key, 2, review, DOING, REVIEW)
                done = review + timedelta(days=rng.uniform(0.2, 2))
                if done < NOW:
                    yield _status(key, 3, done, REVIEW, DONE)
        if sprinting:
            for s in range(WEEKS // 2):
                start = begin + timedelta(days=14 * s)
                end = start + timedelta(days=14)
                closed = end <= NOW
                yield _event("sprint.upserted", f"scale-{t}-{s}", "v", min(end, NOW), {
                    "name": f"{team} sprint {s + 1}", "board": str(t),
                    "state": "closed" if closed else "active", "start_at": start.isoformat(),
                    "end_at": end.isoformat(), "completed_at": end.isoformat() if closed
                    else None,
                })  # fmt: skip
        for a in range(10):
            account = f"acct-{t}-{a}"
            arr = rng.choice([20_000, 80_000, 250_000])
            yield _event("customer_account.upserted", account, "v", begin,
                         {"name": account, "arr": arr})  # fmt: skip
        for q in range(40):
            request = f"req-{t}-{q}"
            opened = begin + timedelta(days=rng.uniform(0, WEEKS * 7 - 1))
            yield _event("customer_request.opened", request, "o", opened, {
                "title": f"Request {q}", "account": f"acct-{t}-{q % 10}", "priority": "normal",
            })  # fmt: skip
            target = f"{project}-{rng.randrange(ITEMS_PER_TEAM - 2)}"
            yield _event("customer_request.linked", request, "l", opened + timedelta(hours=2),
                         {"relation": "work_item",
                          "target": {"kind": "work_item", "key": target}})  # fmt: skip


# --- in a fresh process: replay, read-model memory, one evaluation ------------------------


def _current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(bootstrap: str) -> None:
    import resource

    from alerts.config import AlertingConfig
    from alerts.rules import evaluate_rules
    from hub.drift_inputs import drift_inputs
    from hub.rebuild import rebuild
    from projections.rollups import WorkIndex
    from projections.work_items import view_base

    before = _current_rss_mib()
    started = time.perf_counter()
    entities, report = rebuild(bootstrap)
    replay_seconds = time.perf_counter() - started
    model_mib = _current_rss_mib() - before  # what the folded entities hold, as RSS
    config = AlertingConfig()
    # The read model keeps every item's view base as the item changes (hub.read_model), so
    # an evaluation starts with them at hand: built here first, and timed on their own.
    started = time.perf_counter()
    bases = {key: view_base(state) for key, state in entities.get("work_item", {}).items()}
    bases_seconds = time.perf_counter() - started
    # As the worker's forks evaluate: the cyclic collector does not scan the model they
    # inherit (a one-shot fork ran without it; the standing fork freezes the inherited
    # heap). Scanning a freshly replayed 50x model added ~2 s that no worker pays.
    gc.freeze()
    started = time.perf_counter()
    index = WorkIndex(entities, NOW, bases)
    inputs = drift_inputs(entities, index, NOW, config)
    observed, failed = evaluate_rules(inputs, config)
    evaluation = time.perf_counter() - started
    print(
        json.dumps(
            {
                "events": report.events,
                "work_items": len(entities.get("work_item", {})),
                "replay_seconds": replay_seconds,
                "model_mib": model_mib,
                "bases_seconds": bases_seconds,
                "evaluation_seconds": evaluation,
                "observed": len(observed),
                "failed": sorted(failed),
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def _in_process(bootstrap: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale", bootstrap],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- in a worker: fold throughput, evaluation and queries under it --------------------


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _forks_private_mib(pid: int) -> float:
    """What the worker's forks hold of their own (pages copied since they forked, their
    own allocations): the standing evaluation fork costs this beside the worker's RSS."""
    total = 0
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            rollup = Path(f"/proc/{child}/smaps_rollup").read_text()
        except FileNotFoundError:  # ended meanwhile
            continue
        for line in rollup.splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / 1024


def _read_model_settled(worker: Worker, quiet: int = 3) -> float:
    """When (perf_counter) the worker's read model had read its whole changelog and held
    the same entities for ``quiet`` seconds: the backfill is over for queries too, and
    what is measured next is the steady state the targets speak of."""
    last, calm = None, 0
    while calm < quiet:
        model = worker.session.get(worker.url + "/health", timeout=30).json()["read_model"]
        seen = (model["behind"], model["entities"])
        calm = calm + 1 if seen == last and model["behind"] == 0 else 0
        last = seen
        time.sleep(1)
    return time.perf_counter() - quiet


def _notifications_sent(worker: Worker, group_wait: float = 30.0) -> None:
    """Past the first evaluation's notifications: its alert groups flush after the route's
    ``group_wait`` (30 s by default) and a thousand notifications then go out one by one.
    That first flush is a start's one-off; the targets are about the steady state, where
    the rules evaluate back to back and nothing new is to be told."""
    time.sleep(group_wait + 2)
    calm = 0
    while calm < 3:
        status = worker.session.get(worker.url + "/api/v1/alerting/status", timeout=30).json()
        calm = calm + 1 if status["pending_deliveries"] == 0 else 0
        time.sleep(1)


def _in_worker(bootstrap: str, events: int, work_items: int) -> dict[str, Any]:
    from bench.query import _load, _percentile

    alerting = Path(tempfile.mkdtemp(prefix="hub-scale-")) / "alerting.yaml"
    alerting.write_text("evaluation_interval: 1s\n")
    started = time.perf_counter()
    worker = Worker(bootstrap, free_port(), extra_env={"HUB_ALERTING_FILE": str(alerting)})
    try:
        worker.wait_running(timeout=300)
        while worker.folded() < events:
            time.sleep(0.2)
        fold_seconds = time.perf_counter() - started
        settle_seconds = max(0.0, _read_model_settled(worker) - started - fold_seconds)
        deadline = time.monotonic() + 900
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = worker.session.get(worker.url + "/api/v1/alerting/status", timeout=30).json()
            if status["last_evaluation"]:
                break
            time.sleep(0.5)
        _notifications_sent(worker)
        keys = _load(
            worker,
            lambda n: f"/api/v1/workitems/T{n % TEAMS_PER_FACTOR}-{(n * 7919) % 300}",
            CLIENTS,
            KEY_RATE,
            LOAD_SECONDS,
        )
        lists = _load(
            worker,
            lambda n: f"/api/v1/workitems?team=team-{n % TEAMS_PER_FACTOR}&limit=100",
            CLIENTS,
            LIST_RATE,
            LOAD_SECONDS,
        )
        status = worker.session.get(worker.url + "/api/v1/alerting/status", timeout=30).json()
        return {
            "fold_rate": events / fold_seconds,
            "read_model_settle_seconds": settle_seconds,
            "worker_evaluation_seconds": status["last_evaluation"]["seconds"],
            "key_p99_ms": _percentile(keys, 0.99) * 1000,
            "list_p99_ms": _percentile(lists, 0.99) * 1000,
            "worker_rss_mib": _rss_mib(worker.process.pid),
            "forks_private_mib": _forks_private_mib(worker.process.pid),
            "work_items": work_items,
        }
    finally:
        worker.stop()


def measure(factor: int) -> dict[str, Any]:
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        events = produce(broker.bootstrap_servers, organisation(factor))
        offline = _in_process(broker.bootstrap_servers)
        online = _in_worker(broker.bootstrap_servers, events, offline["work_items"])
    return {"factor": factor, **offline, **online}


FIGURES = (  # name, unit, higher is better, growth target (exponent), 50x target
    ("replay_seconds", "s", False, None, None),
    ("model_mib", "MiB", False, 1.1, None),
    ("bases_seconds", "s", False, 1.1, None),
    ("evaluation_seconds", "s", False, 1.1, 5.0),
    ("worker_evaluation_seconds", "s", False, 1.1, 5.0),
    ("worker_rss_mib", "MiB", False, 1.1, 2048.0),
    ("forks_private_mib", "MiB", False, None, None),
    ("key_p99_ms", "ms", False, None, 10.0),
    ("list_p99_ms", "ms", False, None, 50.0),
    ("fold_rate", "events/s", True, None, None),
    ("read_model_settle_seconds", "s", False, None, None),
)


def replay_at_size(events: int) -> dict[str, Any]:
    """The demo-shaped organisation grown to ``events`` events (#21's replay target is 5M,
    about 300x the demo), replayed from the log in a fresh process, then judged once."""
    factor = max(1, round(events / EVENTS_PER_FACTOR))
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap_servers, 4, 1)
        produce(broker.bootstrap_servers, organisation(factor))
        return {"factor": factor, **_in_process(broker.bootstrap_servers)}


def run(quick: bool) -> list[Result]:
    factors = QUICK_FACTORS if quick else FACTORS
    sizes = [measure(f) for f in factors]
    print(json.dumps({"scale_sizes": sizes}), file=sys.stderr, flush=True)
    base = sizes[0]
    results = []
    for size in sizes[1:]:
        grow = size["factor"] / base["factor"]
        for name, unit, higher, growth, target in FIGURES:
            value, baseline = size[name], base[name]
            exponent = math.log(value / baseline) / math.log(grow) if value and baseline else 0
            note = (
                f"{size['factor']}x: {size['work_items']:,} work items, {size['events']:,} "
                f"events; baseline 1x ({base['work_items']:,} items); growth exponent "
                f"{exponent:.2f}"
            )
            if growth is not None:
                note += f" (target <= {growth:g})"
            if target is not None and size["factor"] == 50:
                note += f"; target at 50x < {target:g} {unit}"
            results.append(
                Result(f"scale_{size['factor']}x_{name}", value, unit, baseline, higher, note)
            )
    if not quick:
        full = replay_at_size(REPLAY_EVENTS)
        print(json.dumps({"scale_replay": full}), file=sys.stderr, flush=True)
        note = (
            f"{full['events']:,} events ({full['factor']}x) replayed in "
            f"{full['replay_seconds']:.0f} s, peak RSS {full['rss_mib']:,.0f} MiB; baseline: "
            f"the 1x replay's rate in this run; target: {REPLAY_EVENTS:,} events in under "
            f"{REPLAY_TARGET_SECONDS} s"
        )
        results.append(
            Result(
                "scale_replay_5m_rate",
                full["events"] / full["replay_seconds"],
                "events/s",
                base["events"] / base["replay_seconds"],
                True,
                note,
            )
        )
    return results


if __name__ == "__main__":
    if sys.argv[1] == "replay":  # python -m bench.scale replay [EVENTS]: that figure alone
        size = int(sys.argv[2]) if len(sys.argv) > 2 else REPLAY_EVENTS
        print(json.dumps(replay_at_size(size)))
    else:
        _child(sys.argv[1])
