"""CSV answers: content negotiation, flattening, and formula text made harmless."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from hub.api.declare import window
from hub.api.errors import ApiError
from hub.api.tabular import CSV, preferred, to_csv

JSON = "application/json"
BOTH = (JSON, CSV)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("text/csv", CSV),
        ("", JSON),
        ("*/*", JSON),
        ("text/csv, */*", CSV),  # the more specific range wins over */*
        ("application/json, text/csv", JSON),  # a tie goes to the first offered
        ("text/csv;q=0.5, application/json;q=0.9", JSON),
        ("text/*", CSV),
        ("text/csv;q=0", None),  # q=0 refuses CSV, and JSON is not accepted either
        ("image/png", None),
    ],
)
def test_accept_picks_the_most_preferred_representation(accept: str, chosen: str | None) -> None:
    """RFC 9110 content negotiation over JSON and CSV: quality, then specificity, then
    the server's order; nothing acceptable is None."""
    assert preferred(accept, BOTH) == chosen


def test_rows_flatten_to_dotted_columns_and_formulas_are_quoted() -> None:
    """Nested objects become dotted columns, lists of values are joined, deeper lists are
    JSON, missing cells are empty, and text starting like a formula gets an apostrophe
    while negative numbers stay numbers."""
    rows = [
        {"key": "A", "progress": {"done": 1, "total": 2}, "labels": ["x", "y"], "delta": -3},
        {"key": "B", "title": '=HYPERLINK("http://evil")', "timeline": [{"s": "To Do"}]},
    ]
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert list(table[0]) == [
        "key", "progress.done", "progress.total", "labels", "delta", "title", "timeline",
    ]  # fmt: skip
    assert table[0]["labels"] == "x; y" and table[0]["delta"] == "-3"
    assert table[1]["title"].startswith("'=") and table[1]["timeline"] == '[{"s":"To Do"}]'
    assert table[1]["progress.done"] == ""


def test_a_window_is_at_most_a_year_and_never_overflows() -> None:
    """from after to, more than 53 weeks, or a to too early to look back from are 400s."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert window({"from": None, "to": None}, now, 4)[0] == datetime(2026, 2, 1, tzinfo=UTC)
    for args in (
        {"from": now, "to": datetime(2026, 1, 1, tzinfo=UTC)},
        {"from": datetime(2024, 1, 1, tzinfo=UTC), "to": None},
        {"from": None, "to": datetime(1, 1, 2, tzinfo=UTC)},
    ):
        with pytest.raises(ApiError) as caught:
            window(args, now, 12)
        assert caught.value.status == 400
