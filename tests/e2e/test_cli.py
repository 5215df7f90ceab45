"""The ``hub`` command as a user types it: topics, publish from stdin, connectors, dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.publish import SyncPublisher
from core.topics import WORKITEMS
from emulators.canonical_source import CanonicalSource
from hub import __version__
from hub.broker import free_port
from tests.helpers import HubProcess, event_dict
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
