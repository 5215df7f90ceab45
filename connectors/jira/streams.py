"""What the Jira connector reads, declared: the issue search (Cloud and Data Center page
differently), an issue's full changelog, and a board's issues."""

from __future__ import annotations

from connectors.streams import OffsetPaginator, Stream, TokenPaginator

__all__ = [
    "BOARDS",
    "BOARD_ISSUES",
    "BOARD_SPRINTS",
    "CHANGELOG",
    "SEARCH_CLOUD",
    "SEARCH_DATACENTER",
]

# Cloud's enhanced search pages by token; the old offset search is gone there.
SEARCH_CLOUD = Stream(
    "issues",
    "/rest/api/3/search/jql",
    TokenPaginator("issues", param="nextPageToken", next=("nextPageToken",), last="isLast"),
    key="key",
    cursor_field="updated",
)
SEARCH_DATACENTER = Stream(
    "issues", "/rest/api/2/search", OffsetPaginator("issues"), key="key", cursor_field="updated"
)
# Histories the search truncates; ``{version}`` is 3 on Cloud, 2 on Data Center.
CHANGELOG = Stream(
    "changelog",
    "/rest/api/{version}/issue/{key}/changelog",
    OffsetPaginator("values", total=None, last="isLast"),
    cursor_field="created",
)
BOARD_ISSUES = Stream(
    "board_issues", "/rest/agile/1.0/board/{board}/issue", OffsetPaginator("issues"), key="key"
)
# Jira Software's Agile API: boards and their sprints, paged by startAt with isLast.
BOARDS = Stream(
    "boards", "/rest/agile/1.0/board", OffsetPaginator("values", total=None, last="isLast")
)
BOARD_SPRINTS = Stream(
    "sprints",
    "/rest/agile/1.0/board/{board}/sprint",
    OffsetPaginator("values", total=None, last="isLast"),
)
