"""CSV answers for list endpoints: ``Accept: text/csv`` gets the page's items as a table.

BI tools and spreadsheets read CSV directly, so every list operation (a response with
``items`` and ``next_cursor``) can answer it. Nested objects become dotted columns
(``progress.done``), lists of plain values are joined with ``"; "`` and anything deeper
is JSON in its cell. Text that a spreadsheet would run as a formula (a leading ``=``,
``+``, ``-``, ``@``, tab or carriage return: customers write request titles) is quoted
with a leading apostrophe, as OWASP advises against CSV injection.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CSV", "flatten", "to_csv", "preferred"]

CSV = "text/csv"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            value = "; ".join(str(v) for v in value)
        else:
            value = json.dumps(value, separators=(",", ":"), sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One flat row: nested mappings as dotted columns, cells ready for a CSV writer."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = _cell(value if not isinstance(value, Mapping) else None)
    return flat


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """RFC 4180 text with a header row; columns in the order they first appear."""
    flat = [flatten(r) for r in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), restval="")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.strip():
            ranges.append((media.strip().lower(), quality))
    return ranges


def preferred(accept: str, offered: tuple[str, ...]) -> str | None:
    """The offered media type ``Accept`` ranks highest, each judged by the most specific
    range that matches it (RFC 9110); ties go to the first offered; None if none is."""
    ranges = _ranges(accept or "*/*")
    best: tuple[float, int, int, str] | None = None
    for rank, candidate in enumerate(offered):
        kind = candidate.split("/")[0]
        specific, quality = -1, 0.0
        for media, q in ranges:
            level = {candidate: 2, f"{kind}/*": 1, "*/*": 0}.get(media, -1)
            if level > specific:
                specific, quality = level, q
        if quality > 0 and (best is None or (quality, specific, -rank) > best[:3]):
            best = (quality, specific, -rank, candidate)
    return best[3] if best else None
