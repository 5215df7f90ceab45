"""What the Zendesk connector reads, declared: the incremental ticket export (cursor
based; ``start_time`` only until Zendesk hands out a cursor) and a ticket's audits."""

from __future__ import annotations

from connectors.streams import LinkPaginator, Stream, TokenPaginator

__all__ = ["AUDITS", "TICKETS"]

TICKETS = Stream(
    "tickets",
    "/api/v2/incremental/tickets/cursor.json",
    # An empty page is not the end: only end_of_stream (or no cursor) is.
    TokenPaginator("tickets", param="cursor", next=("after_cursor",), last="end_of_stream"),
    cursor_field="updated_at",
    first_only=("start_time",),
)
AUDITS = Stream(
    "audits", "/api/v2/tickets/{ticket}/audits.json", LinkPaginator("audits", next=("next_page",))
)
