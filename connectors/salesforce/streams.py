"""What the Salesforce connector reads, declared: SOQL queries paged by
``nextRecordsUrl``, and each object's deletions (``getDeleted``)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.streams import LinkPaginator, Stream

__all__ = ["DELETED", "FIELDS", "QUERY", "soql", "soql_time"]

# object -> fields read; the cursor column is SystemModstamp except where noted
FIELDS: dict[str, list[str]] = {
    "Account": ["Id", "Name", "Website", "SystemModstamp", "CreatedDate"],
    "Opportunity": [
        "Id",
        "Name",
        "AccountId",
        "StageName",
        "Amount",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "CreatedDate",
        "SystemModstamp",
    ],
    "OpportunityHistory": ["Id", "OpportunityId", "StageName", "CreatedDate", "SystemModstamp"],
    "Case": [
        "Id",
        "Subject",
        "Description",
        "Status",
        "Priority",
        "AccountId",
        "IsClosed",
        "ClosedDate",
        "CreatedDate",
        "SystemModstamp",
        "Origin",
    ],
}


QUERY = Stream(
    "query",
    "/services/data/v{version}/query",
    LinkPaginator("records", next=("nextRecordsUrl",), done="done"),
    key="Id",
    cursor_field="SystemModstamp",
)
DELETED = Stream(
    "deleted",
    "/services/data/v{version}/sobjects/{sobject}/deleted/",
    LinkPaginator("deletedRecords", next=("nextRecordsUrl",)),
    cursor_field="deletedDate",
)


def soql_time(moment: datetime) -> str:
    """SOQL datetime literal: unquoted, UTC, ``2026-05-01T07:25:37Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql(sobject: str, fields: list[str], since: datetime) -> str:
    """Records of ``sobject`` changed at or after ``since``, oldest first."""
    return (
        f"SELECT {', '.join(fields)} FROM {sobject} "
        f"WHERE SystemModstamp >= {soql_time(since)} ORDER BY SystemModstamp ASC"
    )
