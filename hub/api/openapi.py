"""``GET /api/v1/openapi.json``: the query API described in OpenAPI 3.1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from hub import __version__
from hub.api.roadmap import ROADMAP_STAGES
from hub.api.workitems import STAGES

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register", "document"]


def _param(name: str, where: str = "query", description: str = "", **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


AS_OF = _param(
    "as_of",
    description="ISO 8601 time with zone: the answer as it stood then, rebuilt from the event log.",
    type="string",
    format="date-time",
)
LIMIT = _param(
    "limit", description="Page size.", type="integer", minimum=1, maximum=1000, default=100
)
CURSOR = _param("cursor", description="next_cursor of the previous page.")
ERRORS = {
    code: {"$ref": f"#/components/responses/{name}"}
    for code, name in (("400", "BadRequest"), ("401", "Unauthorized"), ("404", "NotFound"))
}


def _get(summary: str, params: list[dict[str, Any]], schema: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                    },
                },
                **ERRORS,
            },
        }
    }


def _page_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _obj(*required: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "properties": props,
        "additionalProperties": True,
    }


_s, _n, _i, _t = (
    {"type": ["string", "null"]},
    {"type": ["number", "null"]},
    {"type": "integer"},
    {"type": ["string", "null"], "format": "date-time"},
)


def document() -> dict[str, Any]:
    key = _param("key", "path", "Work item key, e.g. PROJ-42.")
    item_id = _param("item_id", "path", "Roadmap item id.")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Product Ops Hub query API",
            "version": __version__,
            "description": "Projections of the event log. Bearer token required.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/workitems": _get(
                "Work items, filtered",
                [
                    _param("team"),
                    _param("stage", enum=list(STAGES), type="string"),
                    _param("roadmap_item", description="Members, including descendants."),
                    _param("updated_since", type="string", format="date-time"),
                    LIMIT,
                    CURSOR,
                    AS_OF,
                ],
                "WorkItemPage",
            ),
            "/api/v1/workitems/{key}": _get(
                "One work item with its timeline", [key, AS_OF], "WorkItem"
            ),
            "/api/v1/roadmap/items": _get(
                "Roadmap items with progress",
                [
                    _param("team"),
                    _param("stage", enum=list(ROADMAP_STAGES), type="string"),
                    LIMIT,
                    CURSOR,
                    AS_OF,
                ],
                "RoadmapItemPage",
            ),
            "/api/v1/roadmap/items/{item_id}": _get(
                "One roadmap item: progress, scope change, demand", [item_id, AS_OF], "RoadmapItem"
            ),
            "/api/v1/requests": _get(
                "Customer requests",
                [
                    _param("status"),
                    _param(
                        "stage", type="string", enum=["opened", "linked", "delivered", "closed"]
                    ),
                    _param("roadmap_item"),
                    _param("team"),
                    LIMIT,
                    CURSOR,
                    AS_OF,
                ],
                "RequestPage",
            ),
            "/api/v1/customers/{account}/requests": _get(
                "A customer's requests",
                [_param("account", "path"), LIMIT, CURSOR, AS_OF],
                "RequestPage",
            ),
            "/api/v1/teams": _get("Teams", [], "TeamPage"),
            "/api/v1/teams/{team}/resources": _get(
                "A team's resources per ISO week",
                [
                    _param("team", "path"),
                    _param(
                        "from",
                        type="string",
                        format="date-time",
                        description="Default: 4 weeks before to.",
                    ),
                    _param("to", type="string", format="date-time", description="Default: now."),
                ],
                "TeamResources",
            ),
            **_connector_paths(),
            **_alerting_paths(),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _obj(
                    "error",
                    error=_obj(
                        "code", "message", code={"type": "string"}, message={"type": "string"}
                    ),
                ),
                "WorkItem": _obj(
                    "key",
                    "stage",
                    key={"type": "string"},
                    title=_s,
                    stage=_s,
                    status=_s,
                    team=_s,
                    roadmap_item=_s,
                    created_at=_t,
                    started_at=_t,
                    done_at=_t,
                    lead_time_seconds=_n,
                    cycle_time_seconds=_n,
                    blocked_seconds=_n,
                    flow_efficiency=_n,
                    reopen_count=_i,
                    timeline={"type": "array"},
                ),
                "WorkItemPage": _page_of("WorkItem"),
                "RoadmapItem": _obj(
                    "id",
                    "stage",
                    "progress",
                    id={"type": "string"},
                    title=_s,
                    stage=_s,
                    progress={"type": "object"},
                    scope={"type": "object"},
                    demand={"type": "object"},
                ),
                "RoadmapItemPage": _page_of("RoadmapItem"),
                "Request": _obj(
                    "key",
                    "stage",
                    key={"type": "string"},
                    stage=_s,
                    account=_s,
                    arr=_n,
                    opened_at=_t,
                    delivered_at=_t,
                ),
                "RequestPage": _page_of("Request"),
                "Team": _obj("team", team={"type": "string"}, capacity_fte=_n, wip=_i),
                "TeamPage": _page_of("Team"),
                "ConnectorConfig": _obj(
                    "type",
                    "settings",
                    type={"type": "string"},
                    poll_interval={"type": "string", "examples": ["60s"]},
                    settings={"type": "object"},
                ),
                "RoadmapDocument": _obj(
                    teams={"type": "object", "additionalProperties": {"type": "object"}},
                    items={"type": "array", "items": {"type": "object"}},
                ),
                "Silence": _obj(
                    "matchers",
                    "endsAt",
                    "createdBy",
                    "comment",
                    matchers={
                        "type": "array",
                        "items": {"type": ["string", "object"]},
                        "examples": [['team="payments"', 'alertname=~"Forecast.*"']],
                    },
                    startsAt=_t,
                    endsAt={"type": "string", "format": "date-time"},
                    createdBy={"type": "string"},
                    comment={"type": "string"},
                ),
                "TeamResources": _obj(
                    "team",
                    "weeks",
                    team={"type": "string"},
                    weeks={"type": "array", "items": {"type": "object"}},
                ),
            },
            "responses": {
                name: {
                    "description": name,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for name in ("BadRequest", "Unauthorized", "NotFound")
            },
        },
    }


def _op(summary: str, params: list[dict[str, Any]], body: bool | str = False) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            **ERRORS,
        },
    }
    if body:
        schema = body if isinstance(body, str) else "ConnectorConfig"
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    return operation


def _alerting_paths() -> dict[str, Any]:
    fingerprint = _param("fingerprint", "path", "An alert's fingerprint.")
    silence_id = _param("silence_id", "path", "A silence's id.")
    states = ["active", "pending", "firing", "recovering", "resolved", "inactive"]
    return {
        "/api/v1/roadmap": {
            "get": _op("The roadmap document, now or as it stood at as_of", [AS_OF]),
            "put": _op(
                "Make the plan equal to this document (YAML or JSON); one event per change. "
                "422 lists bad fields; warnings list dangling links.",
                [_param("dry_run", type="boolean", description="Validate and diff only.")],
                "RoadmapDocument",
            ),
        },
        "/api/v1/alerts": {
            "get": _op(
                "Alerts with state and mute status (Alertmanager's shape)",
                [
                    _param("state", type="string", enum=states),
                    _param("team"),
                    _param("alertname"),
                    _param("severity"),
                    _param("roadmap_item"),
                    LIMIT,
                    CURSOR,
                ],
            )
        },
        "/api/v1/alerts/groups": {"get": _op("Notification groups and what each was told", [])},
        "/api/v1/alerts/{fingerprint}": {
            "get": _op("One alert with its state history", [fingerprint])
        },
        "/api/v1/notifications": {
            "get": _op(
                "Delivery log: delivered, retrying and failed notifications and digests",
                [
                    _param("status", type="string", enum=["delivered", "retrying", "failed"]),
                    _param("receiver"),
                    _param("kind", type="string", enum=["notification", "digest"]),
                ],
            )
        },
        "/api/v1/silences": {
            "get": _op(
                "Silences", [_param("state", type="string", enum=["active", "pending", "expired"])]
            ),
            "post": _op("Create a silence (201)", [], "Silence"),
        },
        "/api/v1/silences/{silence_id}": {
            "get": _op("One silence", [silence_id]),
            "delete": _op("Expire a silence now", [silence_id]),
        },
        "/api/v1/digest": {
            "get": _op(
                "The digest as it would be sent now",
                [
                    _param("team", description="One team; none: leadership."),
                    _param("days", type="integer", minimum=1, maximum=92, default=7),
                ],
            )
        },
        "/api/v1/alerting/status": {
            "get": _op("Rules, receivers and inhibition in effect; the last evaluation", [])
        },
    }


def _connector_paths() -> dict[str, Any]:
    name = _param("name", "path", "Connector name.")
    return {
        "/api/v1/connectors": {"get": _op("Connectors with their state", [])},
        "/api/v1/connectors/{name}": {
            "get": _op("A connector's configuration (secrets as references)", [name]),
            "put": _op(
                "Create or replace a connector (201 / 200); 400 lists bad fields", [name], True
            ),
            "delete": _op("Delete a connector", [name]),
        },
        "/api/v1/connectors/{name}/status": {
            "get": _op(
                "State (RUNNING/PAUSED/FAILED), last sync, events produced, lag, last error", [name]
            )
        },
        "/api/v1/connectors/{name}/pause": {"put": _op("Pause", [name])},
        "/api/v1/connectors/{name}/resume": {"put": _op("Resume", [name])},
        "/api/v1/connectors/{name}/restart": {"post": _op("Restart the current sync", [name])},
        "/api/v1/connectors/{name}/cursor": {
            "get": _op("The committed cursor", [name]),
            "delete": _op("Reset the cursor: a full backfill on the next sync", [name]),
        },
        "/api/v1/connector-types": {"get": _op("Connector types and their settings schemas", [])},
        "/api/v1/connector-types/{type_name}/validate": {
            "post": _op(
                "Check a config field by field and live against the source",
                [_param("type_name", "path")],
                True,
            )
        },
    }


def register(app: HubApp) -> None:
    spec = document()

    @app.page("/api/v1/openapi.json")
    async def openapi(self: View, request: Request) -> Response:
        return self.json(spec)
