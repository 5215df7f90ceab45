"""What ``canonical_http`` reads, declared: ``GET /events?after=&limit=``, oldest first,
each page naming the cursor after it and whether more follow."""

from __future__ import annotations

from connectors.streams import Stream, TokenPaginator

__all__ = ["EVENTS"]

EVENTS = Stream(
    "events",
    "/events",
    TokenPaginator("events", param="after", next=("next_after",), more="has_more"),
    key="event_id",
    cursor_field="next_after",
)
