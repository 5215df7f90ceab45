"""What the dashboard's script fetches besides pages: the static files that ship in the
package (no CDN) and the change signal that tells a live page to refresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from hub.api.declare import Call, Routes
from hub.api.declare import path as path_param
from hub.api.errors import ApiError

__all__ = ["ROUTES", "STATIC"]

ROUTES = Routes("dashboard")
STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/plain", ".svg": "image/svg+xml"}


@ROUTES.get(
    "/static/{name:.+}",
    "A file of the dashboard (scripts, styles, vendored libraries)",
    params=(path_param("name", "File path under static/."),),
    public=True,
    page=True,
)
async def static_file(call: Call) -> Any:
    wanted = (STATIC / call.args["name"]).resolve()
    if not wanted.is_relative_to(STATIC.resolve()) or not wanted.is_file():
        raise ApiError(404, "not_found", "No such file.")
    if wanted.suffix not in TYPES and not wanted.name.endswith(("LICENSE", "NOTICE")):
        raise ApiError(404, "not_found", "No such file.")
    response = web.FileResponse(wanted, headers={
        "Cache-Control": "public, max-age=3600",
        "Content-Type": TYPES.get(wanted.suffix, "text/plain") + "; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
    })  # fmt: skip
    response.enable_compression()
    return response


@ROUTES.get("/ui/version", "Changes seen so far: a live page refreshes when it moves", page=True)
async def version(call: Call) -> Any:
    s = call.services
    seen = (s.read_model.version, s.alerting.store.version, s.connect_state.version)
    return web.json_response({"version": "-".join(str(n) for n in seen)})
