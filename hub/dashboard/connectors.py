"""Connector pages: state, last sync, events, lag and last error for each; pause, resume,
restart and reset; add or edit one with a form generated from its type's settings schema.

Every action goes through the API's own handler for it (``hub.api.connectors``), and the
form is checked by the same validator ``POST /api/v1/connector-types/{type}/validate``
runs, field by field as people type and live against the source on "Test connection".
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from connectors.config import InvalidConfigError, build_connector, parse_config
from connectors.registry import connector_types
from connectors.state import config_record
from hub.api import connectors as api
from hub.api.declare import Call, Routes, choice
from hub.api.declare import path as path_param
from hub.api.errors import ApiError
from hub.dashboard.frame import form_fields, frame, html
from hub.dashboard.render import render, see_other
from hub.dashboard.schema_form import FormField, config_from_form, fill, flatten
from hub.dashboard.schema_form import form_fields as fields_for

__all__ = ["ROUTES"]

ROUTES = Routes("dashboard")
ENVELOPE = ("name", "poll_interval")
ACTIONS = {
    "pause": api.pause_connector,
    "resume": api.resume_connector,
    "restart": api.restart_connector,
    "reset": api.reset_cursor,
}


@ROUTES.get("/connectors", "Connectors", page=True, media_type="text/html")
async def connectors_page(call: Call) -> Any:
    f = frame(call)
    services = call.services
    rows = [api.connector_status(services, n) for n in sorted(services.connect_state.configs)]
    return html(
        "connectors.html",
        f.context("connectors", "Connectors", rows=rows, types=sorted(connector_types())),
    )


@ROUTES.post(
    "/connectors/{name}/{action}",
    "Pause, resume, restart, or reset a connector's cursor",
    params=(api.NAME, path_param("action", "pause, resume, restart or reset.")),
    page=True,
)
async def connector_action(call: Call) -> Any:
    handler = ACTIONS.get(call.args["action"])
    if handler is None:
        raise ApiError(404, "not_found", f"There is no connector action {call.args['action']!r}.")
    await handler(call)
    return see_other("/connectors")


def _form_page(
    call: Call,
    type_name: str,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    creating: bool,
    posted: bool,
    status: int = 200,
    checked: bool | None = None,
    fragment: bool = False,
) -> web.Response:
    """The form page; ``fragment``: only its problem slots, for a live check."""
    cls = connector_types()[type_name]
    fields = fields_for(cls.settings_model.model_json_schema())
    fill(fields, values, errors, posted)
    known = {"name", "poll_interval", *_names(fields)}
    general = [m for k, m in errors.items() if k not in known]
    envelope = {
        name: FormField(name, name, "text", error=errors.get(name, "")) for name in ENVELOPE
    }
    if fragment:
        return render("connector_errors.html", fields=fields, envelope=envelope, general=general)
    f = frame(call)
    title = "Add a connector" if creating else f"Edit {values.get('name', '')}"
    return html(
        "connector_form.html",
        f.context(
            "connectors",
            title,
            type_name=type_name,
            system=cls.system,
            fields=fields,
            envelope=envelope,
            values=values,
            errors=errors,
            general=general,
            creating=creating,
            checked=checked,
        ),
        status=status,
    )


def _names(fields: list[FormField]) -> list[str]:
    return [n for f in fields for n in ([f.name, *_names(f.children)])]


@ROUTES.get(
    "/connectors/new",
    "Add a connector",
    params=(choice("type", tuple(sorted(connector_types()))),),
    page=True,
    media_type="text/html",
)
async def new_connector(call: Call) -> Any:
    type_name = call.args["type"] or "jira"
    return _form_page(call, type_name, {"poll_interval": "60s"}, {}, creating=True, posted=False)


@ROUTES.get(
    "/connectors/{name}/edit",
    "Edit a connector",
    params=(api.NAME,),
    page=True,
    media_type="text/html",
)
async def edit_connector(call: Call) -> Any:
    name = call.args["name"]
    record = call.services.connect_state.configs.get(name)
    if record is None:
        raise ApiError(404, "not_found", f"There is no connector {name!r}.")
    config = parse_config(record["config"]).config.public()
    values = {"name": name, "poll_interval": config["poll_interval"], **flatten(config["settings"])}
    return _form_page(call, config["type"], values, {}, creating=False, posted=False)


async def _read_form(call: Call) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]:
    """(type, raw config, posted values, problems) from a posted connector form."""
    posted = await form_fields(call)
    type_name = posted.get("type", "")
    if type_name not in connector_types():
        raise ApiError(400, "bad_form", f"There is no connector type {type_name!r}.")
    schema = connector_types()[type_name].settings_model.model_json_schema()
    settings, problems = config_from_form(fields_for(schema), posted)
    raw = {
        "name": posted.get("name", "").strip(),
        "type": type_name,
        "poll_interval": posted.get("poll_interval", "").strip() or "60s",
        "settings": settings,
    }
    return type_name, raw, posted, problems


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    try:
        parse_config(raw)
    except InvalidConfigError as exc:
        found: dict[str, str] = {}
        for p in exc.problems:
            found.setdefault(p.field or "config", p.message)
        return found
    return {}


@ROUTES.post(
    "/connectors/form",
    "Check a connector form as it is filled in (and live against the source on request)",
    page=True,
    media_type="text/html",
)
async def check_form(call: Call) -> Any:
    type_name, raw, posted, problems = await _read_form(call)
    problems = {**_problems(raw), **problems}
    checked = None
    if posted.get("test") == "1" and not problems:
        connector = build_connector(parse_config(raw), call.services.secrets)
        live = await asyncio.to_thread(api.live_check, connector)
        problems = {p["field"] or "config": p["message"] for p in live}
        checked = not problems
    creating = posted.get("creating") == "1"
    return _form_page(
        call,
        type_name,
        posted,
        problems,
        creating=creating,
        posted=True,
        checked=checked,
        fragment=call.request.headers.get("HX-Request") == "true" and checked is None,
    )


@ROUTES.post("/connectors", "Save a connector form", page=True, media_type="text/html")
async def save_connector(call: Call) -> Any:
    type_name, raw, posted, problems = await _read_form(call)
    problems = {**_problems(raw), **problems}
    creating = posted.get("creating") == "1"
    services = call.services
    previous = services.connect_state.configs.get(raw["name"])
    if creating and previous is not None:
        problems.setdefault("name", f"A connector named {raw['name']!r} exists already.")
    if problems:
        return _form_page(
            call, type_name, posted, problems, creating=creating, posted=True, status=422
        )
    valid = parse_config(raw)
    await api.write_config(services, raw["name"], config_record(valid.config.public(), previous))
    return see_other("/connectors")
