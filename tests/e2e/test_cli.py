"""The ``hub`` command as a user types it: topics, publish from stdin, connectors, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.publish import SyncPublisher
from core.topics import WORKITEMS
from emulators.canonical_source import CanonicalSource
from hub import __version__
from hub.broker import free_port
from tests.helpers import HubProcess, event_dict, own_broker
from tests.helpers import hub_cli as hub


def test_version_topics_and_publish_from_stdin(broker: str) -> None:
    """--version prints the version; topics ensure is repeatable; publish - reads stdin."""
    env = {"HUB_KAFKA_BOOTSTRAP_SERVERS": broker}
    assert hub("--version", env=env).stdout.strip() == f"hub, version {__version__}"
    assert hub("topics", "ensure", env=env).stdout.strip() == "created 0 topic(s)"
    listing = hub("topics", "list", env=env).stdout
    assert "hub.workitems" in listing and "4 partition(s)" in listing and "missing" not in listing
    line = json.dumps(event_dict("work_item.created", "STDIN-1", "c"))
    done = hub("publish", "-", env=env, stdin=line + "\n")
    assert done.returncode == 0 and "published 1 event(s)" in done.stdout


def test_connectors_cli_goes_through_the_api(broker: str, tmp_path: Path) -> None:
    """apply, list, show, validate, pause, resume, reset and delete, with the API's own errors."""
    with (
        CanonicalSource("cli-secret", []) as source,
        HubProcess(
            ["worker"],
            tmp_path,
            free_port(),
            bootstrap=broker,
            extra_env={"CLI_TOKEN": "cli-secret"},
        ) as api,
    ):
        api.wait_healthy()
        env = {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": broker,
            "HUB_API_PORT": str(api.port),
            "HUB_API_TOKEN": api.token,
        }
        config = tmp_path / "c.yaml"
        config.write_text(
            json.dumps(
                {
                    "name": "cli-src",
                    "type": "canonical_http",
                    "settings": {"base_url": source.url, "token": "${env:CLI_TOKEN}"},
                }
            )
        )
        assert hub("connectors", "validate", str(config), env=env).stdout.strip() == "cli-src: ok"
        assert "applied cli-src" in hub("connectors", "apply", str(config), env=env).stdout
        assert "cli-src" in hub("connectors", "list", env=env).stdout
        shown = json.loads(hub("connectors", "show", "cli-src", env=env).stdout)
        assert shown["config"]["settings"]["token"] == "${env:CLI_TOKEN}"
        for action in ("pause", "resume", "restart", "reset"):
            done = hub("connectors", action, "cli-src", env=env)
            assert done.returncode == 0 and f"{action}: cli-src" in done.stdout, done.stderr
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            json.dumps(
                {
                    "name": "x",
                    "type": "canonical_http",
                    "settings": {"base_url": source.url, "token": "${env:NOT_SET}"},
                }
            )
        )
        refused = hub("connectors", "validate", str(bad), env=env)
        assert refused.returncode == 1 and "settings.token" in refused.stdout
        missing = hub("connectors", "pause", "nope", env=env)
        assert missing.returncode == 1 and "no connector 'nope'" in missing.stderr
        assert hub("connectors", "delete", "cli-src", env=env).returncode == 0
        api.stop()


def test_deadletter_list_and_replay(broker: str) -> None:
    """Dead letters are listed with their reason; replay produces those that are now valid."""
    env = {"HUB_KAFKA_BOOTSTRAP_SERVERS": broker}
    fixed: dict[str, Any] = event_dict("work_item.created", "DLQ-1", "c")
    from core.publish import dead_letter_record

    with SyncPublisher(broker, origin="test") as producer:
        producer.publish_dead_letter(
            dead_letter_record(json.dumps(fixed), "was refused once", "test-origin")
        )
        producer.publish_dead_letter(dead_letter_record("{broken", "not JSON", "test-origin"))
    listing = hub("deadletter", "list", "--limit", "500", env=env)
    assert "test-origin" in listing.stdout and "was refused once" in listing.stdout
    replayed = hub("deadletter", "replay", "--origin", "test-origin", env=env)
    assert replayed.returncode == 0 and "replayed 1; 1 still invalid" in replayed.stdout
    from core.topics import read_topic

    assert b"work_item/DLQ-1" in [k for k, _ in read_topic(broker, WORKITEMS.name)]


def test_themes_evaluate_scores_a_labelled_csv_as_json(tmp_path: Path) -> None:
    """``hub themes evaluate FILE --k 2`` prints ARI, NMI, themes and throughput as JSON;
    a file without a label column is one clear error line and exit 2."""
    rows = [
        ("card", t)
        for t in (
            "my card has not arrived",
            "card delivery is late",
            "still waiting for my new card",
            "the card never came",
        )
    ]
    rows += [("refund", t) for t in ("where is my refund", "refund not received yet",
                                     "please refund the double charge", "refund is missing")]  # fmt: skip
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "id,text,label\n" + "".join(f"{n},{t},{lab}\n" for n, (lab, t) in enumerate(rows))
    )
    done = hub("themes", "evaluate", str(labelled), "--k", "2", env={})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["messages"], report["themes"], report["k"]) == (8, 2, 2)
    assert report["ari"] == 1.0 and report["nmi"] == 1.0 and report["messages_per_second"] > 0
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("id,text\n1,where is my refund\n")
    refused = hub("themes", "evaluate", str(unlabelled), env={})
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"error: {unlabelled}: missing column(s) label"


def test_export_writes_every_table_for_duckdb_and_pandas_and_sql_queries_them(
    tmp_path: Path,
) -> None:
    """hub export writes each documented table as Parquet (typed) and CSV, with schema.json;
    pandas reads both with exactly the documented columns and the folds' numbers; --as-of
    exports the log as it stood; hub sql answers over an export or straight from the log,
    and a bad query is a clear error."""
    import pandas as pd

    from projections.replay import replay
    from projections.rollups import WorkIndex
    from projections.sprints import sprint_reports
    from projections.tables import TABLES
    from tests.scenarios import SPRINT_START, organisation, sprint_events

    events = organisation(40, seed=3, prefix="EXP") + sprint_events("EXP")
    with own_broker() as broker:
        env = {"HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
        with SyncPublisher(broker.bootstrap_servers, origin="test") as producer:
            producer.publish_events(events)
        parquet, text = tmp_path / "parquet", tmp_path / "csv"
        done = hub("export", "--out", str(parquet), env=env)
        assert done.returncode == 0, done.stderr
        early = SPRINT_START.isoformat()
        past = hub("export", "--format", "csv", "--out", str(text), "--as-of", early, env=env)
        assert past.returncode == 0, past.stderr
        query = "SELECT team, count(*) AS n FROM work_items GROUP BY team ORDER BY team"
        over_files = hub("sql", query, "--data", str(parquet), "--format", "json", env=env)
        from_log = hub("sql", "SELECT count(*) AS n FROM sprints", env=env)
        bad = hub("sql", "SELECT nope FROM work_items", "--data", str(parquet), env=env)

    schema = json.loads((parquet / "schema.json").read_text())
    assert set(schema["tables"]) == set(TABLES) and schema["format"] == "parquet"
    entities = replay((e, None) for e in events)
    index = WorkIndex(entities, SPRINT_START)
    for name, table in TABLES.items():
        frame = pd.read_parquet(parquet / f"{name}.parquet")
        assert list(frame.columns) == [c.name for c in table.columns], name
        assert len(frame) == schema["rows"][name]
    items = pd.read_parquet(parquet / "work_items.parquet").set_index("key")
    assert len(items) == len(entities["work_item"])
    stories = items[~items.index.str.startswith("EXP-E")]  # the epics are never moved
    assert str(items["done_at"].dtype) == "datetime64[us, UTC]" and stories["done_at"].notna().all()
    view = WorkIndex(entities, index.now).views["EXP-5"]
    assert items.loc["EXP-5", "cycle_time_days"] == round(view["cycle_time_seconds"] / 86400, 4)
    sprints = pd.read_parquet(parquet / "sprints.parquet")
    (report,) = sprint_reports(entities, index, datetime.now(UTC))
    for field in ("committed", "removed", "completed", "planning_accuracy"):
        assert sprints.loc[0, field] == report["numbers"][field], field
    then = pd.read_csv(text / "work_items.csv")
    earlier = replay((e, None) for e in events if e.occurred_at <= SPRINT_START)
    created = set(earlier["work_item"])
    assert set(then["key"]) == created and len(created) < len(entities["work_item"])
    assert pd.read_csv(text / "sprints.csv").empty  # the sprint was first seen after it closed

    teams: dict[str, int] = {}
    for state in entities["work_item"].values():
        teams[state["fields"]["team"]] = teams.get(state["fields"]["team"], 0) + 1
    assert over_files.returncode == 0, over_files.stderr
    assert json.loads(over_files.stdout) == [{"team": t, "n": n} for t, n in sorted(teams.items())]
    assert from_log.returncode == 0 and from_log.stdout.split()[:3] == ["n", "-", "1"]
    assert bad.returncode == 2 and "query failed" in bad.stderr and "nope" in bad.stderr
