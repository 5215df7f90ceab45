"""What the Intercom connector reads, declared: the conversation search (paged by
``starting_after``, resumable mid-pass)."""

from __future__ import annotations

from connectors.streams import Stream, TokenPaginator

__all__ = ["CONVERSATIONS", "NEXT_PAGE", "PARTS_NEXT"]

NEXT_PAGE = ("pages", "next", "starting_after")  # the token a crashed pass resumes from
# A conversation read back holds its parts; more than one answer's worth name the next.
PARTS_NEXT = ("pages", "next", "starting_after")

CONVERSATIONS = Stream(
    "conversations",
    "/conversations/search",
    TokenPaginator(
        "conversations",
        param="pagination.starting_after",
        next=NEXT_PAGE,
    ),
    cursor_field="updated_at",
    method="POST",
)
