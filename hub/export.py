"""Export for BI: every projection as flat tables (CSV or Parquet), and SQL over them.

The tables and their documented schema are ``projections.tables``; this module reads
what they need from the log (entities rebuilt up to ``as_of``, alert states from
``hub.alerting``) and writes them. DuckDB does the Parquet writing and the SQL: one
embedded engine, typed columns (timestamps as TIMESTAMPTZ), files that DuckDB, pandas
and every BI tool read, and no server to run.
"""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from alerts.store import AlertStore
from core.errors import FatalError
from core.events import iso
from hub.rebuild import rebuild_async
from projections.rollups import WorkIndex
from projections.tables import TABLES, Table, TableInputs, table_rows

__all__ = ["Format", "export_inputs", "write_tables", "run_sql", "SCHEMA_FILE", "ExportError"]

Format = Literal["csv", "parquet"]
SCHEMA_FILE = "schema.json"
ALERTS_TIMEOUT = 30.0


class ExportError(FatalError):
    """An export or query that cannot be done, with the reason."""


def _alerts_as_of(
    alerts: Mapping[str, Mapping[str, Any]], as_of: datetime | None
) -> dict[str, dict[str, Any]]:
    """Alert states as they stood at ``as_of``, from each alert's own history."""
    if as_of is None:
        return {k: dict(v) for k, v in alerts.items()}
    moment = iso(as_of)
    found = {}
    for key, alert in alerts.items():
        past = [h for h in alert.get("history", []) if h["at"] <= moment]
        if not past:
            continue
        state = {**alert, "state": past[-1]["state"], "value": past[-1].get("value")}
        if (state.get("ends_at") or "") > moment:
            state["ends_at"] = None
        if (state.get("starts_at") or "") > moment:
            state["starts_at"] = None
        found[key] = state
    return found


async def _read_alerts(bootstrap: str) -> dict[str, dict[str, Any]]:
    store = AlertStore()
    task = asyncio.create_task(store.follow(bootstrap, client_id="hub-export"))
    try:
        waited = 0.0
        while not store.caught_up:
            if task.done():
                task.result()  # raises what stopped it
            if waited > ALERTS_TIMEOUT:
                raise ExportError("could not read the alerts topic in 30 s")
            await asyncio.sleep(0.05)
            waited += 0.05
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return dict(store.alerts)


async def export_inputs(bootstrap: str, as_of: datetime | None, now: datetime) -> TableInputs:
    """The entities rebuilt from the log up to ``as_of`` (default: all of it), as of then."""
    entities, _ = await rebuild_async(bootstrap, until=as_of)
    alerts = _alerts_as_of(await _read_alerts(bootstrap), as_of)
    return TableInputs(entities, WorkIndex(entities, as_of or now), alerts)


def _write_csv(table: Table, data: TableInputs, path: Path) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([c.name for c in table.columns])
        for row in table_rows(table, data):
            writer.writerow(["" if v is None else v for v in row.values()])
            count += 1
    return count


def _csv_source(table: Table, path: Path) -> str:
    """DuckDB's reader for one of our CSV files, with the documented column types."""
    columns = ", ".join(f"'{c.name}': '{c.type}'" for c in table.columns)
    return (
        f"read_csv('{_sql_path(path)}', header=true, auto_detect=false, "
        f"columns={{{columns}}}, nullstr='', quote='\"', escape='\"')"
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def schema_document() -> dict[str, Any]:
    """Every table and column with its type and meaning: ``schema.json`` in the export."""
    return {
        "tables": {
            t.name: {
                "description": t.description,
                "columns": [
                    {"name": c.name, "type": c.type, "description": c.description}
                    for c in t.columns
                ],
            }
            for t in TABLES.values()
        }
    }


def write_tables(data: TableInputs, out: Path, fmt: Format) -> dict[str, int]:
    """Every table into ``out`` (``<table>.csv`` or ``.parquet``) with ``schema.json``;
    returns the row count per table."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="hub-export-") as scratch:
        for table in TABLES.values():
            if fmt == "csv":
                counts[table.name] = _write_csv(table, data, out / f"{table.name}.csv")
                continue
            staged = Path(scratch) / f"{table.name}.csv"
            counts[table.name] = _write_csv(table, data, staged)
            target = out / f"{table.name}.parquet"
            with duckdb.connect() as con:
                con.execute(
                    f"COPY (SELECT * FROM {_csv_source(table, staged)}) "
                    f"TO '{_sql_path(target)}' (FORMAT parquet)"
                )
    document = {**schema_document(), "format": fmt, "as_of": iso(data.now), "rows": counts}
    (out / SCHEMA_FILE).write_text(json.dumps(document, indent=2) + "\n")
    return counts


@contextmanager
def _tables_in(directory: Path) -> Iterator[Any]:
    """A DuckDB connection with a view per exported table found in ``directory``."""
    import duckdb

    with duckdb.connect() as con:
        found = 0
        for table in TABLES.values():
            parquet, text = directory / f"{table.name}.parquet", directory / f"{table.name}.csv"
            if parquet.exists():
                source = f"read_parquet('{_sql_path(parquet)}')"
            elif text.exists():
                source = _csv_source(table, text)
            else:
                continue
            con.execute(f'CREATE VIEW "{table.name}" AS SELECT * FROM {source}')
            found += 1
        if not found:
            raise ExportError(f"{directory} holds no exported tables (run hub export first)")
        yield con


def run_sql(query: str, directory: Path) -> tuple[list[str], list[Sequence[Any]]]:
    """Run ``query`` over the tables exported to ``directory``: column names and rows."""
    import duckdb

    with _tables_in(directory) as con:
        try:
            result = con.execute(query)
        except duckdb.Error as exc:
            raise ExportError(f"query failed: {exc}") from None
        if result.description is None:
            return [], []
        return [d[0] for d in result.description], result.fetchall()
