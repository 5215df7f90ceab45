"""``hub export`` and ``hub sql``: the read model as files for BI tools, and SQL over it."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

__all__ = ["register"]


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    if moment.tzinfo is None:
        raise click.BadParameter("needs a time zone, e.g. 2026-03-01T00:00:00Z", param_hint=option)
    return moment.astimezone(UTC)


def _export(ctx: click.Context, out: Path, fmt: str, as_of: datetime | None) -> dict[str, int]:
    from core.runtime_files import resolve_bootstrap
    from hub.export import export_inputs, write_tables

    bootstrap = resolve_bootstrap(ctx.obj["settings"])
    data = asyncio.run(export_inputs(bootstrap, as_of, datetime.now(UTC)))
    return write_tables(data, out, "parquet" if fmt == "parquet" else "csv")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _print_table(columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"({len(cells)} row{'s' if len(cells) != 1 else ''})", err=True)


def register(cli: click.Group) -> None:
    @cli.command("export")
    @click.option(
        "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet",
        show_default=True,
    )  # fmt: skip
    @click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
    @click.option("--as-of", "as_of", help="The tables as they stood then (ISO 8601 with zone).")
    @click.pass_context
    def export(ctx: click.Context, fmt: str, out: Path, as_of: str | None) -> None:
        """Write every projection as flat tables to OUT (work items, status transitions,
        roadmap items, requests, accounts, team weeks, team investment, sprints, alerts),
        with their schema in OUT/schema.json; DuckDB, pandas and BI tools read them."""
        counts = _export(ctx, out, fmt, _moment(as_of, "--as-of"))
        click.echo(f"wrote {out}: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))

    @cli.command("sql")
    @click.argument("query")
    @click.option(
        "--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A directory written by hub export (default: export from the log now).",
    )  # fmt: skip
    @click.option("--as-of", "as_of", help="Without --data: query the tables as of then.")
    @click.option(
        "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
        show_default=True,
    )  # fmt: skip
    @click.pass_context
    def sql(ctx: click.Context, query: str, data: Path | None, as_of: str | None, fmt: str) -> None:
        """Run QUERY (DuckDB SQL) over the exported tables, e.g.
        hub sql "SELECT team, avg(cycle_time_days) FROM work_items GROUP BY team"."""
        from hub.export import run_sql

        moment = _moment(as_of, "--as-of")
        if data is not None and moment is not None:
            raise click.UsageError("--as-of applies to a fresh export; --data is already one")
        if data is None:
            with tempfile.TemporaryDirectory(prefix="hub-sql-") as scratch:
                _export(ctx, Path(scratch), "parquet", moment)
                columns, rows = run_sql(query, Path(scratch))
        else:
            columns, rows = run_sql(query, data)
        if fmt == "json":
            click.echo(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str))
        elif fmt == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(columns)
            writer.writerows([[_cell(v) for v in r] for r in rows])
        else:
            _print_table(columns, rows)
