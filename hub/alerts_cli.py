"""``hub roadmap``, ``hub alerts``, ``hub silences`` and ``hub digest``: the plan and the
alerting surface from a terminal, through the same REST API as everything else."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

import click

from core.events import iso, utcnow
from core.settings import Settings
from core.validation import InvalidConfigError, parse_duration
from hub.api_client import ApiClient, echo_json

__all__ = ["register"]


def _api(ctx: click.Context) -> ApiClient:
    settings: Settings = ctx.obj["settings"]
    return ApiClient(settings)


def register(cli: click.Group) -> None:
    @cli.group()
    def roadmap() -> None:
        """The roadmap document (roadmap.yaml): check, apply, show."""

    @roadmap.command("validate")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def roadmap_validate(file: Path) -> None:
        """Check FILE without a running hub; every problem with its field."""
        from projections.roadmap_document import load_roadmap_text

        try:
            doc = load_roadmap_text(file.read_text())
        except InvalidConfigError as exc:
            for problem in exc.problems:
                click.echo(f"{file}: {problem.field}: {problem.message}", err=True)
            raise click.ClickException(f"{len(exc.problems)} problem(s)") from None
        click.echo(f"{file}: valid ({len(doc.teams)} teams, {len(doc.items)} items)")

    @roadmap.command("apply")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Show the changes without making them.")
    @click.pass_context
    def roadmap_apply(ctx: click.Context, file: Path, dry_run: bool) -> None:
        """Make the hub's plan equal to FILE: one roadmap event per change."""
        result = _api(ctx).call(
            "PUT", "/roadmap", text=file.read_text(), dry_run="true" if dry_run else None
        )
        verb = "would apply" if dry_run else "applied"
        click.echo(f"{verb} {len(result['changes'])} change(s)")
        for change in result["changes"]:
            click.echo(f"  {change['type']:<22} {change['key']}")
        for warning in result["warnings"]:
            click.echo(f"warning: {warning['field']}: {warning['message']}", err=True)

    @roadmap.command("show")
    @click.option("--as-of", help="The plan as it stood then (ISO time with zone).")
    @click.pass_context
    def roadmap_show(ctx: click.Context, as_of: str | None) -> None:
        """The plan as the hub holds it (now, or as it stood)."""
        echo_json(_api(ctx).call("GET", "/roadmap", as_of=as_of))

    @cli.group()
    def alerts() -> None:
        """Drift alerts: list and inspect."""

    @alerts.command("list")
    @click.option(
        "--state",
        type=click.Choice(["active", "pending", "firing", "recovering", "resolved", "inactive"]),
    )
    @click.option("--team")
    @click.pass_context
    def alerts_list(ctx: click.Context, state: str | None, team: str | None) -> None:
        """Alerts with state, severity, team and summary."""
        body = _api(ctx).call("GET", "/alerts", state=state, team=team, limit="1000")
        for alert in body["items"]:
            labels = alert["labels"]
            muted = " (suppressed)" if alert["status"]["state"] == "suppressed" else ""
            click.echo(
                f"{alert['fingerprint']}  {alert['state']:<10} {labels.get('severity', ''):<8} "
                f"{labels.get('team', '-'):<12} {alert['annotations'].get('summary', '')}{muted}"
            )

    @alerts.command("show")
    @click.argument("fingerprint")
    @click.pass_context
    def alerts_show(ctx: click.Context, fingerprint: str) -> None:
        """One alert with its labels, numbers and state history."""
        echo_json(_api(ctx).call("GET", f"/alerts/{fingerprint}"))

    @cli.group()
    def silences() -> None:
        """Silences: mute matching alerts for a while."""

    @silences.command("add")
    @click.option(
        "--matcher", "-m", "matchers", multiple=True, required=True, help='e.g. team="payments"'
    )
    @click.option("--for", "duration", default="2h", show_default=True, help="30m, 2h, 3d ...")
    @click.option("--comment", required=True)
    @click.option("--author", default=getpass.getuser, show_default="your user name")
    @click.pass_context
    def silences_add(
        ctx: click.Context, matchers: tuple[str, ...], duration: str, comment: str, author: str
    ) -> None:
        """Mute alerts matching every --matcher, from now for --for."""
        try:
            length = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
        if length <= timedelta(0):
            raise click.BadParameter("must be positive", param_hint="--for")
        body = {
            "matchers": list(matchers),
            "endsAt": iso(utcnow() + length),
            "createdBy": author,
            "comment": comment,
        }
        created = _api(ctx).call("POST", "/silences", body)
        click.echo(f"silence {created['silenceID']} until {created['endsAt']}")

    @silences.command("list")
    @click.option("--state", type=click.Choice(["active", "pending", "expired"]))
    @click.pass_context
    def silences_list(ctx: click.Context, state: str | None) -> None:
        """Silences with state, end and matchers."""
        for s in _api(ctx).call("GET", "/silences", state=state)["items"]:
            matchers = ", ".join(
                f"{m['name']}{'=' if m['isEqual'] else '!'}{'~' if m['isRegex'] else ''}"
                f'"{m["value"]}"'
                for m in s["matchers"]
            )
            click.echo(f"{s['id']}  {s['status']['state']:<8} until {s['endsAt']}  {matchers}")

    @silences.command("expire")
    @click.argument("silence_id")
    @click.pass_context
    def silences_expire(ctx: click.Context, silence_id: str) -> None:
        """End a silence now (it stays listed as expired)."""
        _api(ctx).call("DELETE", f"/silences/{silence_id}")
        click.echo(f"expired {silence_id}")

    @cli.command()
    @click.option("--team", help="One team's digest; default: all teams (leadership).")
    @click.option("--days", default=7, show_default=True, type=click.IntRange(1, 92))
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def digest(ctx: click.Context, team: str | None, days: int, as_json: bool) -> None:
        """The roadmap status update as it would be sent now."""
        from alerts.digest import digest_text

        body = _api(ctx).call("GET", "/digest", team=team, days=str(days))
        if as_json:
            echo_json(body)
        else:
            click.echo(digest_text(body))
