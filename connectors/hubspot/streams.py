"""What the HubSpot connector reads, declared: CRM search per object (POST, paged by
``after``, at most 10,000 results a query) and the archived listings."""

from __future__ import annotations

from connectors.streams import Stream, TokenPaginator

__all__ = [
    "ARCHIVED",
    "COMPANY_PROPERTIES",
    "DEAL_PROPERTIES",
    "NEXT_AFTER",
    "SEARCH",
    "SEARCH_CEILING",
    "TICKET_PROPERTIES",
]

SEARCH_CEILING = 10_000
NEXT_AFTER = ("paging", "next", "after")
DEAL_PROPERTIES = [
    "dealname",
    "amount",
    "closedate",
    "dealstage",
    "pipeline",
    "hs_lastmodifieddate",
    "createdate",
]
COMPANY_PROPERTIES = ["name", "domain", "hs_lastmodifieddate", "createdate"]
TICKET_PROPERTIES = [
    "subject",
    "content",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "createdate",
    "closed_date",
    "hs_lastmodifieddate",
]

SEARCH = Stream(
    "search",
    "/crm/v3/objects/{kind}/search",
    TokenPaginator("results", param="after", next=NEXT_AFTER),
    cursor_field="hs_lastmodifieddate",
    method="POST",
)
ARCHIVED = Stream(
    "archived", "/crm/v3/objects/{kind}", TokenPaginator("results", param="after", next=NEXT_AFTER)
)
