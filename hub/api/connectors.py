"""``/api/v1/connectors`` and ``/api/v1/connector-types``: Kafka Connect's REST API, for the hub.

Writes go to ``hub.connect-configs`` (the runtime acts on them); reads come from the
connect topics every worker follows. A config is checked field by field before it is
stored; ``validate`` also checks it live against the source.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from connectors.config import InvalidConfigError, build_connector, parse_config
from connectors.registry import connector_types
from connectors.state import PAUSED, RUNNING, UNASSIGNED, config_record
from core.topics import CONNECT_CONFIGS
from core.validation import FieldProblem
from hub.api.declare import Call, Reply, Routes
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.api.schemas import ConnectorConfig

if TYPE_CHECKING:
    from hub.services import Services

__all__ = ["ROUTES", "connector_status", "live_check", "write_config"]

ROUTES = Routes("connectors")
NAME = path_param("name", "Connector name.")


def _problems(exc: InvalidConfigError) -> list[dict[str, str]]:
    return [p.as_dict() for p in exc.problems]


async def write_config(services: Services, name: str, record: dict[str, Any] | None) -> None:
    value = json.dumps(record).encode() if record is not None else None
    await services.publisher.publish([(CONNECT_CONFIGS.name, name, value)])
    services.connect_state.apply(CONNECT_CONFIGS.name, name, record)  # read-your-writes here


def _existing(services: Services, name: str) -> dict[str, Any]:
    record = services.connect_state.configs.get(name)
    if record is None:
        raise ApiError(404, "not_found", f"no connector {name!r}")
    return record


def connector_status(services: Services, name: str) -> dict[str, Any]:
    state = services.connect_state
    record = _existing(services, name)
    status = dict(state.status.get(name) or {"state": UNASSIGNED})
    if record.get("target_state") == PAUSED and status.get("state") == RUNNING:
        status["state"] = "PAUSING"
    return {
        "name": name,
        "type": record["config"]["type"],
        "target_state": record["target_state"],
        **status,
        "cursor": state.cursor(name),
    }


def _public(services: Services, name: str) -> dict[str, Any]:
    record = _existing(services, name)
    valid = parse_config(record["config"])
    return {**valid.config.public(), "target_state": record["target_state"]}


@ROUTES.get("/api/v1/connectors", "Connectors with their state")
async def list_connectors(call: Call) -> Any:
    names = sorted(call.services.connect_state.configs)
    rows = [
        {**_public(call.services, n), "state": connector_status(call.services, n)["state"]}
        for n in names
    ]
    return {"items": rows, "next_cursor": None}


@ROUTES.get(
    "/api/v1/connectors/{name}",
    "A connector's configuration (secrets as references)",
    params=(NAME,),
    response=ConnectorConfig,
)
async def get_connector(call: Call) -> Any:
    return _public(call.services, call.args["name"])


@ROUTES.put(
    "/api/v1/connectors/{name}",
    "Create or replace a connector; 400 lists bad fields",
    params=(NAME,),
    body=ConnectorConfig,
    response=ConnectorConfig,
    responses={201: "Created"},
)
async def put_connector(call: Call) -> Any:
    name = call.args["name"]
    body = await call.json()
    if isinstance(body, dict):
        body = {"name": name, **body}
        if body["name"] != name:
            raise ApiError(400, "name_mismatch", f"body names {body['name']!r}, URL {name!r}")
    try:
        valid = parse_config(body)
    except InvalidConfigError as exc:
        raise ApiError(400, "invalid_config", str(exc), _problems(exc)) from None
    previous = call.services.connect_state.configs.get(name)
    await write_config(call.services, name, config_record(valid.config.public(), previous))
    return Reply(_public(call.services, name), status=200 if previous else 201)


@ROUTES.delete("/api/v1/connectors/{name}", "Delete a connector", params=(NAME,))
async def delete_connector(call: Call) -> Any:
    name = call.args["name"]
    _existing(call.services, name)
    await write_config(call.services, name, None)
    return {"deleted": name}


@ROUTES.get(
    "/api/v1/connectors/{name}/status",
    "State (RUNNING/PAUSED/FAILED), last sync, events produced, lag, last error, warnings, "
    "and the backfill's progress (events, pages, oldest and newest change, done)",
    params=(NAME,),
)
async def get_status(call: Call) -> Any:
    return connector_status(call.services, call.args["name"])


async def _control(call: Call, action: str, **changes: Any) -> Reply:
    """Change the connector's target state or bump a request counter; the runtime acts."""
    name = call.args["name"]
    record = _existing(call.services, name)
    updates = {k: (v(record) if callable(v) else v) for k, v in changes.items()}
    await write_config(call.services, name, config_record(record["config"], record, **updates))
    return Reply({"name": name, "action": action, **updates}, status=202)


def _bump(field: str) -> Any:
    return lambda record: record.get(field, 0) + 1


@ROUTES.put("/api/v1/connectors/{name}/pause", "Pause", params=(NAME,), status=202)
async def pause_connector(call: Call) -> Any:
    return await _control(call, "pause", target_state=PAUSED)


@ROUTES.put("/api/v1/connectors/{name}/resume", "Resume", params=(NAME,), status=202)
async def resume_connector(call: Call) -> Any:
    return await _control(call, "resume", target_state=RUNNING)


@ROUTES.post(
    "/api/v1/connectors/{name}/restart", "Restart the current sync", params=(NAME,), status=202
)
async def restart_connector(call: Call) -> Any:
    return await _control(call, "restart", restart=_bump("restart"))


@ROUTES.get("/api/v1/connectors/{name}/cursor", "The committed cursor", params=(NAME,))
async def get_cursor(call: Call) -> Any:
    name = call.args["name"]
    _existing(call.services, name)
    state = call.services.connect_state
    return {
        "name": name,
        "cursor": state.cursor(name),
        "committed_at": (state.offsets.get(name) or {}).get("committed_at"),
    }


@ROUTES.delete(
    "/api/v1/connectors/{name}/cursor",
    "Reset the cursor: a full backfill on the next sync",
    params=(NAME,),
    status=202,
)
async def reset_cursor(call: Call) -> Any:
    return await _control(call, "reset", reset=_bump("reset"))


@ROUTES.get("/api/v1/connector-types", "Connector types and their settings schemas")
async def list_types(call: Call) -> Any:
    rows = [
        {
            "type": name,
            "system": cls.system,
            "webhooks": cls.supports_webhooks,
            "settings_schema": cls.settings_model.model_json_schema(),
        }
        for name, cls in sorted(connector_types().items())
    ]
    return {"items": rows, "next_cursor": None}


@ROUTES.post(
    "/api/v1/connector-types/{type_name}/validate",
    "Check a config field by field and live against the source",
    params=(path_param("type_name", "Connector type."),),
    body=ConnectorConfig,
)
async def validate_config(call: Call) -> Any:
    type_name = call.args["type_name"]
    if type_name not in connector_types():
        raise ApiError(404, "not_found", f"no connector type {type_name!r}")
    body = await call.json()
    if isinstance(body, dict):
        body = {"name": "validation", **body, "type": type_name}
    try:
        valid = parse_config(body)
    except InvalidConfigError as exc:
        return {"valid": False, "errors": _problems(exc)}
    connector = build_connector(valid, call.services.secrets)
    problems = await asyncio.to_thread(live_check, connector)
    return {"valid": not problems, "errors": problems}


def live_check(connector: Any) -> list[dict[str, str]]:
    from core.errors import HubError

    try:
        return [p.as_dict() for p in connector.check()]
    except HubError as exc:  # e.g. a secret reference that does not resolve here
        return [FieldProblem("settings", str(exc)).as_dict()]
