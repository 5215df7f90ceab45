"""The ``hub`` command. Each subcommand builds settings once and hands them down."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import structlog

from core.errors import HubError
from core.logging import configure_logging
from core.settings import Settings, load_settings
from hub import __version__

__all__ = ["main", "cli"]

log = structlog.get_logger("hub.cli")


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


@click.group()
@click.version_option(__version__, prog_name="hub")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Product Ops Hub: where each roadmap item is, where effort goes, who is drifting."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    ctx.obj = {"settings": settings}


@cli.command()
@click.option(
    "--demo",
    is_flag=True,
    help="Also run a generated organisation on emulated Jira, HubSpot and Zendesk, "
    "connected through the normal configuration path, with live activity and alerts.",
)
@click.option("--seed", default=7, show_default=True, help="The demo organisation's seed.")
@click.pass_context
def up(ctx: click.Context, demo: bool, seed: int) -> None:
    """Run the whole hub: embedded broker (unless configured), worker, API, connectors."""
    from hub.supervisor import Supervisor

    sys.exit(Supervisor(_settings(ctx), demo_seed=seed if demo else None).run())


@cli.group(name="demo")
def demo_group() -> None:
    """The demo organisation: serve it (hub up --demo does), or write it as files."""


@demo_group.command("serve")
@click.option("--seed", default=7, show_default=True)
@click.pass_context
def demo_serve(ctx: click.Context, seed: int) -> None:
    """Emulated sources with the generated organisation, live activity, progress."""
    from demo.runner import serve

    serve(_settings(ctx), seed)


@demo_group.command("seed")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True)
def demo_seed(out: Path, seed: int) -> None:
    """Write the generated organisation (Jira, Zendesk, HubSpot data, roadmap.yaml) to OUT."""
    from demo.runner import seed as write_seed

    counts = write_seed(out, seed)
    click.echo(
        f"wrote {out}: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
    )


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run one worker (stream processing and API), for scaled deployments."""
    from hub.worker import run_worker

    run_worker(_settings(ctx))


@cli.group()
def topics() -> None:
    """Inspect and create the hub's topics."""


@topics.command("ensure")
@click.pass_context
def topics_ensure(ctx: click.Context) -> None:
    """Create whichever hub topics are missing (safe to repeat)."""
    from core.runtime_files import resolve_bootstrap
    from core.topics import ensure_topics

    settings = _settings(ctx)
    created = ensure_topics(
        resolve_bootstrap(settings), settings.topic_partitions, settings.topic_replication
    )
    click.echo(f"created {len(created)} topic(s)" + (": " + ", ".join(created) if created else ""))


@topics.command("list")
@click.pass_context
def topics_list(ctx: click.Context) -> None:
    """List the hub's topics with their partitions and purpose."""
    from core.runtime_files import resolve_bootstrap
    from core.topics import TOPICS, list_topics

    on_broker = list_topics(resolve_bootstrap(_settings(ctx)))
    for topic in TOPICS:
        partitions = on_broker.get(topic.name)
        state = f"{partitions} partition(s)" if partitions else "missing"
        click.echo(f"{topic.name:<22} {state:<16} {topic.purpose}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, file: Path) -> None:
    """Write the whole log — events, roadmap, alerting, connector state, dead letters — to
    FILE, from the running hub, the configured Kafka, or the embedded log at rest."""
    from hub.backup import backup as write_backup
    from hub.backup import log_for_tools

    with log_for_tools(_settings(ctx)) as bootstrap:
        summary = write_backup(bootstrap, file)
    click.echo(f"backed up {summary.total} record(s) to {file}")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Delete the hub's topics first if they hold records.")
@click.pass_context
def restore(ctx: click.Context, file: Path, replace: bool) -> None:
    """Restore a backup into an empty embedded log (HUB_DATA_DIR) or Kafka cluster."""
    from hub.backup import log_for_tools
    from hub.backup import restore as restore_backup

    settings = _settings(ctx)
    with log_for_tools(settings) as bootstrap:
        summary = restore_backup(
            bootstrap,
            file,
            replace=replace,
            partitions=settings.topic_partitions,
            replication=settings.topic_replication,
        )
    click.echo(f"restored {summary.total} record(s) from {file}")


@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.pass_context
def publish(ctx: click.Context, file: Any) -> None:
    """Validate canonical events in FILE (JSON lines, - for stdin) and produce them."""
    from core.publish import SyncPublisher
    from core.runtime_files import resolve_bootstrap
    from hub.publish import parse_event_lines

    events, errors = parse_event_lines(file)
    if errors:
        for error in errors:
            click.echo(f"{file.name}: {error}", err=True)
        raise click.ClickException(f"{len(errors)} invalid line(s); nothing was published")
    with SyncPublisher(resolve_bootstrap(_settings(ctx)), origin="cli") as producer:
        count = producer.publish_events(events)
    click.echo(f"published {count} event(s)")


@cli.command()
@click.option("--until", help="Fold only what had happened by this ISO time (with zone).")
@click.option("--out", type=click.File("w"), help="Write the rebuilt states as JSON lines.")
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Write the rebuilt states to the projection table (workers must be stopped).",
)
@click.option("--force", is_flag=True, help="With --apply: skip the check for running workers.")
@click.pass_context
def replay(ctx: click.Context, until: str | None, out: Any, apply_: bool, force: bool) -> None:
    """Rebuild all projections from the beginning of the log."""
    import json
    from datetime import datetime

    from core.runtime_files import resolve_bootstrap
    from hub.rebuild import apply_rebuild, rebuild

    settings = _settings(ctx)
    bootstrap = resolve_bootstrap(settings)
    moment = None
    if until:
        moment = datetime.fromisoformat(until.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise click.BadParameter(
                "needs a time zone, e.g. 2026-03-01T00:00:00Z", param_hint="--until"
            )
    from core.log_reader import log_size

    estimate = max(1, log_size(bootstrap))
    with click.progressbar(
        length=estimate, label="replaying", show_pos=True, file=sys.stderr
    ) as bar:
        entities, report = rebuild(bootstrap, until=moment, progress=bar.update)
    click.echo(
        f"replayed {report.events} event(s) in {report.seconds:.1f}s "
        f"({report.events_per_second:,.0f}/s): "
        + ", ".join(f"{n} {kind}" for kind, n in report.entities.items())
    )
    if out is not None:
        for kind, states in entities.items():
            for key, state in states.items():
                out.write(json.dumps({"kind": kind, "key": key, "state": state}) + "\n")
    if apply_:
        written = apply_rebuild(bootstrap, settings.app_id, entities, force=force)
        click.echo(f"wrote {written} rebuilt state(s); start the workers to serve them")


from hub import alerts_cli, connect_cli, export_cli, themes_cli  # noqa: E402

connect_cli.register(cli)
alerts_cli.register(cli)
themes_cli.register(cli)
export_cli.register(cli)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
