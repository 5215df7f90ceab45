"""The OpenAPI document describes exactly the routes the API serves."""

from __future__ import annotations

from pathlib import Path

from hub.api.openapi import document
from hub.app import create_app
from hub.settings import Settings


def test_every_api_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    """Routes under /api/v1 (but the document itself) and the document's paths are the same set."""
    settings = Settings(data_dir=tmp_path, store="memory://", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, "127.0.0.1:9", "token")
    served = {
        route.resource.canonical
        for route in app.web.web_app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/v1/")
    }
    served.discard("/api/v1/openapi.json")
    spec = document()
    assert served == set(spec["paths"])
    assert spec["openapi"].startswith("3.")
    for path, item in spec["paths"].items():
        for operation in item.values():
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path
