"""The ``hub connect``, ``hub sync``, ``hub connectors`` and ``hub deadletter`` commands."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from core.settings import Settings
from hub.api_client import ApiClient, echo_json

__all__ = ["register"]


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, path_type=Path),
        help="connectors.yaml to apply at start (or HUB_CONNECTORS_FILE).",
    )
    @click.option(
        "--solo",
        is_flag=True,
        help="Run every connector here without joining the runtimes' group: for a broker "
        "no other runtime uses (hub up's embedded one).",
    )
    @click.option(
        "--no-progress",
        is_flag=True,
        help="Show no backfill progress (hub up's runtime: the supervisor shows it).",
    )
    @click.pass_context
    def connect(
        ctx: click.Context, config_file: Path | None, solo: bool, no_progress: bool
    ) -> None:
        """Run the connector runtime: its share of the connectors (all of them with --solo),
        each on its interval."""
        from connectors.config import load_config_file
        from connectors.runtime import ConnectorRuntime
        from connectors.state import config_record
        from core.runtime_files import resolve_bootstrap
        from core.secrets import SecretResolver
        from core.topics import CONNECT_CONFIGS, ensure_topics

        settings = _settings(ctx)
        bootstrap = resolve_bootstrap(settings)
        ensure_topics(bootstrap, settings.topic_partitions, settings.topic_replication)
        runtime = ConnectorRuntime(
            bootstrap,
            SecretResolver(os.environ),
            crash_after_pages=settings.fault_crash_after_pages,
            solo=solo,
        )
        runtime.start_following()
        path = config_file or settings.connectors_file
        if path is not None:
            for valid in load_config_file(path):
                name, wanted = valid.config.name, valid.config.public()
                previous = runtime.state.configs.get(name)
                if previous is None or previous.get("config") != wanted:
                    record = config_record(wanted, previous)
                    runtime.producer.publish(
                        [(CONNECT_CONFIGS.name, name, json.dumps(record).encode())]
                    )
                    runtime.state.apply(CONNECT_CONFIGS.name, name, record)
                    click.echo(f"applied {name} from {path}", err=True)
        signal.signal(signal.SIGTERM, lambda *_: runtime.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: runtime.stop_event.set())
        display = None
        if not no_progress:
            from hub.backfill_display import BackfillDisplay

            display = BackfillDisplay.for_console(lambda: runtime.state.status, settings.log_format)
            display.start()
        try:
            runtime.run()
        finally:
            if display is not None:
                display.stop()

    @cli.command()
    @click.option(
        "--config", "config_file", required=True, type=click.Path(exists=True, path_type=Path)
    )
    @click.option(
        "--once", is_flag=True, help="One pull, then exit (otherwise: every poll_interval)."
    )
    @click.option(
        "--output", type=click.File("w"), default="-", help="Where events go (- = stdout)."
    )
    @click.option("--cursor", help="Start from this cursor (JSON) instead of a full backfill.")
    def sync(config_file: Path, once: bool, output: Any, cursor: str | None) -> None:
        """Pull FILE's connector without any broker; print its events as JSON lines."""
        from connectors.config import build_connector, load_config_file
        from core.codec import encode
        from core.secrets import SecretResolver

        configs = load_config_file(config_file)
        if len(configs) != 1:
            raise click.BadParameter(
                "FILE must describe exactly one connector", param_hint="--config"
            )
        valid = configs[0]
        connector = build_connector(valid, SecretResolver(os.environ))
        position = json.loads(cursor) if cursor else None
        while True:
            for page in connector.pull(position):
                for event in page.events:
                    output.write(encode(event).decode() + "\n")
                for reject in page.rejects:
                    click.echo(f"rejected: {reject.error}", err=True)
                output.flush()
                position = page.cursor
                click.echo(json.dumps({"cursor": position}), err=True)
            if once:
                return
            time.sleep(valid.config.poll_interval.total_seconds())

    @cli.group()
    def connectors() -> None:
        """Configure connectors through the hub's API."""

    @connectors.command("list")
    @click.pass_context
    def connectors_list(ctx: click.Context) -> None:
        """Connectors with their type, interval and state."""
        for row in ApiClient(_settings(ctx)).call("GET", "/connectors")["items"]:
            click.echo(
                f"{row['name']:<24} {row['type']:<16} {row['poll_interval']:>8} {row['state']}"
            )

    @connectors.command("show")
    @click.argument("name")
    @click.pass_context
    def connectors_show(ctx: click.Context, name: str) -> None:
        """A connector's configuration and status (secrets as references)."""
        api = ApiClient(_settings(ctx))
        echo_json(
            {
                "config": api.call("GET", f"/connectors/{name}"),
                "status": api.call("GET", f"/connectors/{name}/status"),
            }
        )

    def _file_configs(path: Path) -> list[Any]:
        from connectors.config import load_config_file

        return load_config_file(path)

    @connectors.command("validate")
    @click.argument("file", type=click.Path(exists=True, path_type=Path))
    @click.pass_context
    def connectors_validate(ctx: click.Context, file: Path) -> None:
        """Check FILE field by field and live against each source."""
        api, failed = ApiClient(_settings(ctx)), False
        for valid in _file_configs(file):
            result = api.call(
                "POST", f"/connector-types/{valid.config.type}/validate", valid.config.public()
            )
            mark = "ok" if result["valid"] else "invalid"
            click.echo(f"{valid.config.name}: {mark}")
            for problem in result["errors"]:
                click.echo(f"  {problem['field']}: {problem['message']}")
            failed = failed or not result["valid"]
        if failed:
            sys.exit(1)

    @connectors.command("apply")
    @click.argument("file", type=click.Path(exists=True, path_type=Path))
    @click.pass_context
    def connectors_apply(ctx: click.Context, file: Path) -> None:
        """Create or update every connector in FILE."""
        api = ApiClient(_settings(ctx))
        for valid in _file_configs(file):
            api.call("PUT", f"/connectors/{valid.config.name}", valid.config.public())
            click.echo(f"applied {valid.config.name}")

    for action, method, path, help_text in (
        ("pause", "PUT", "/pause", "Stop polling until resumed."),
        ("resume", "PUT", "/resume", "Resume polling."),
        ("restart", "POST", "/restart", "Abandon the current sync and start again."),
        ("reset", "DELETE", "/cursor", "Forget the cursor: a full backfill on the next sync."),
        ("delete", "DELETE", "", "Remove the connector (its events stay in the log)."),
    ):

        def make(method: str = method, path: str = path, action: str = action) -> Any:
            @click.argument("name")
            @click.pass_context
            def command(ctx: click.Context, name: str) -> None:
                ApiClient(_settings(ctx)).call(method, f"/connectors/{name}{path}")
                click.echo(f"{action}: {name}")

            return command

        connectors.command(action, help=help_text)(make())

    @cli.group()
    def deadletter() -> None:
        """Inspect and replay records that could not be processed."""

    @deadletter.command("list")
    @click.option("--limit", default=50, show_default=True)
    @click.pass_context
    def deadletter_list(ctx: click.Context, limit: int) -> None:
        """The newest dead letters: when, where from, why."""
        from core.runtime_files import resolve_bootstrap
        from core.topics import DEADLETTER, read_topic

        records = read_topic(resolve_bootstrap(_settings(ctx)), DEADLETTER.name)[-limit:]
        for _, value in records:
            letter = json.loads(value)
            click.echo(f"{letter['failed_at']}  {letter['origin']:<24} {letter['error'][:160]}")
        click.echo(f"{len(records)} shown", err=True)

    @deadletter.command("replay")
    @click.option(
        "--origin", help="Only letters from this origin (e.g. worker, connector:jira-main)."
    )
    @click.pass_context
    def deadletter_replay(ctx: click.Context, origin: str | None) -> None:
        """Produce again every dead letter that is now a valid event; report the rest."""
        from core.codec import decode
        from core.errors import SkippableError
        from core.publish import SyncPublisher
        from core.runtime_files import resolve_bootstrap
        from core.topics import DEADLETTER, read_topic

        bootstrap = resolve_bootstrap(_settings(ctx))
        events, still = [], 0
        for _, value in read_topic(bootstrap, DEADLETTER.name):
            letter = json.loads(value)
            if origin and letter["origin"] != origin:
                continue
            try:
                events.append(decode(letter["raw"]))
            except SkippableError as exc:
                still += 1
                click.echo(f"still invalid ({letter['origin']}): {exc}", err=True)
        with SyncPublisher(bootstrap, origin="cli") as producer:
            producer.publish_events(events)
        click.echo(f"replayed {len(events)}; {still} still invalid")
