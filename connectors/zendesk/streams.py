"""What the Zendesk connector reads, declared.

- the incremental ticket export (cursor based; ``start_time`` only until Zendesk hands
  out a cursor): every ticket as it is now;
- the incremental ticket *events* export (time based, 1,000 events a page, admins only):
  every ticket's status and group changes at their own times, for all tickets at once;
- the incremental organization export (time based, admins only): every customer account;
- a ticket's audits and ``organizations/show_many``: the same history and accounts for
  one ticket at a time, for webhooks and for API users without admin rights.
"""

from __future__ import annotations

from connectors.streams import LinkPaginator, Stream, TokenPaginator

__all__ = ["AUDITS", "ORGANIZATIONS", "TICKETS", "TICKET_EVENTS"]

TICKETS = Stream(
    "tickets",
    "/api/v2/incremental/tickets/cursor.json",
    # An empty page is not the end: only end_of_stream (or no cursor) is.
    TokenPaginator("tickets", param="cursor", next=("after_cursor",), last="end_of_stream"),
    cursor_field="updated_at",
    first_only=("start_time",),
)
# Time-based exports name the next page (``start_time`` = this page's ``end_time``) and
# say ``end_of_stream`` on the last; a page boundary may repeat events, which map to the
# same ids.
TICKET_EVENTS = Stream(
    "ticket_events",
    "/api/v2/incremental/ticket_events.json",
    LinkPaginator("ticket_events", next=("next_page",), done="end_of_stream"),
    cursor_field="timestamp",
)
ORGANIZATIONS = Stream(
    "organizations",
    "/api/v2/incremental/organizations.json",
    LinkPaginator("organizations", next=("next_page",), done="end_of_stream"),
    cursor_field="updated_at",
)
AUDITS = Stream(
    "audits", "/api/v2/tickets/{ticket}/audits.json", LinkPaginator("audits", next=("next_page",))
)
