"""``/api/v1/connectors`` and ``/api/v1/connector-types``: Kafka Connect's REST API, for the hub.

Writes go to ``hub.connect-configs`` (the runtime acts on them); reads come from the
connect topics every worker follows. A config is checked field by field before it is
stored; ``validate`` also checks it live against the source.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from connectors.config import InvalidConfigError, build_connector, parse_config
from connectors.registry import connector_types
from connectors.state import PAUSED, RUNNING, UNASSIGNED, config_record
from hub.api.errors import ApiError
from hub.topics import CONNECT_CONFIGS

if TYPE_CHECKING:
    from hub.app import HubApp

__all__ = ["register"]


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.text())
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"request body is not JSON: {exc}") from None


def _problems(exc: InvalidConfigError) -> list[dict[str, str]]:
    return [{"field": p.field, "message": p.message} for p in exc.problems]


def register(app: HubApp) -> None:
    state = app.connect_state  # type: ignore[attr-defined]

    async def write(name: str, record: dict[str, Any] | None) -> None:
        value = json.dumps(record).encode() if record is not None else None
        await (await app.produce(CONNECT_CONFIGS.name, name, value))
        state.apply(CONNECT_CONFIGS.name, name, record)  # read-your-writes on this worker

    def existing(name: str) -> dict[str, Any]:
        record = state.configs.get(name)
        if record is None:
            raise ApiError(404, "not_found", f"no connector {name!r}")
        return record

    def status_of(name: str) -> dict[str, Any]:
        record = existing(name)
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

    def public(name: str) -> dict[str, Any]:
        record = existing(name)
        valid = parse_config(record["config"])
        return {**valid.config.public(), "target_state": record["target_state"]}

    @app.page("/api/v1/connectors")
    async def connectors(self: View, request: Request) -> Response:
        rows = [
            {**public(name), "state": status_of(name)["state"]} for name in sorted(state.configs)
        ]
        return self.json({"items": rows, "next_cursor": None})

    @app.page("/api/v1/connectors/{name}")
    class ConnectorView(View):
        async def get(self, request: Request, name: str) -> Response:
            return self.json(public(name))

        async def put(self, request: Request, name: str) -> Response:
            body = await _body(request)
            if isinstance(body, dict):
                body = {"name": name, **body}
                if body["name"] != name:
                    raise ApiError(
                        400, "name_mismatch", f"body names {body['name']!r}, URL {name!r}"
                    )
            try:
                valid = parse_config(body)
            except InvalidConfigError as exc:
                return self.json(
                    {
                        "error": {
                            "code": "invalid_config",
                            "message": str(exc),
                            "fields": _problems(exc),
                        }
                    },
                    status=400,
                )
            previous = state.configs.get(name)
            await write(name, config_record(valid.config.public(), previous))
            return self.json(public(name), status=200 if previous else 201)

        async def delete(self, request: Request, name: str) -> Response:
            existing(name)
            await write(name, None)
            return self.json({"deleted": name})

    @app.page("/api/v1/connectors/{name}/status")
    async def status(self: View, request: Request, name: str) -> Response:
        return self.json(status_of(name))

    def control(action: str, **changes: Any) -> Any:
        async def handler(self: View, request: Request, name: str) -> Response:
            record = existing(name)
            updates = {k: (v(record) if callable(v) else v) for k, v in changes.items()}
            await write(name, config_record(record["config"], record, **updates))
            return self.json({"name": name, "action": action, **updates}, status=202)

        return handler

    pause, resume = control("pause", target_state=PAUSED), control("resume", target_state=RUNNING)
    restart = control("restart", restart=lambda r: r.get("restart", 0) + 1)
    reset = control("reset", reset=lambda r: r.get("reset", 0) + 1)

    @app.page("/api/v1/connectors/{name}/pause")
    class Pause(View):
        put = pause

    @app.page("/api/v1/connectors/{name}/resume")
    class Resume(View):
        put = resume

    @app.page("/api/v1/connectors/{name}/restart")
    class Restart(View):
        post = restart

    @app.page("/api/v1/connectors/{name}/cursor")
    class CursorView(View):
        async def get(self, request: Request, name: str) -> Response:
            existing(name)
            return self.json(
                {
                    "name": name,
                    "cursor": state.cursor(name),
                    "committed_at": (state.offsets.get(name) or {}).get("committed_at"),
                }
            )

        delete = reset  # a full backfill on the next sync

    @app.page("/api/v1/connector-types")
    async def types(self: View, request: Request) -> Response:
        rows = [
            {
                "type": name,
                "system": cls.system,
                "webhooks": cls.supports_webhooks,
                "settings_schema": cls.settings_model.model_json_schema(),
            }
            for name, cls in sorted(connector_types().items())
        ]
        return self.json({"items": rows, "next_cursor": None})

    @app.page("/api/v1/connector-types/{type_name}/validate")
    class Validate(View):
        async def post(self, request: Request, type_name: str) -> Response:
            if type_name not in connector_types():
                raise ApiError(404, "not_found", f"no connector type {type_name!r}")
            body = await _body(request)
            if isinstance(body, dict):
                body = {"name": "validation", **body, "type": type_name}
            try:
                valid = parse_config(body)
            except InvalidConfigError as exc:
                return self.json({"valid": False, "errors": _problems(exc)})
            connector = build_connector(valid, app.secrets)  # type: ignore[attr-defined]
            problems = await asyncio.to_thread(_live_check, connector)
            return self.json({"valid": not problems, "errors": problems})


def _live_check(connector: Any) -> list[dict[str, str]]:
    from hub.errors import HubError

    try:
        return [{"field": p.field, "message": p.message} for p in connector.check()]
    except HubError as exc:  # e.g. a secret reference that does not resolve here
        return [{"field": "settings", "message": str(exc)}]
