"""The OpenAPI document is built from the route declarations and describes what is served."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from core.settings import Settings
from hub.api import routes
from hub.wiring import create_worker


def _served(tmp_path: Path) -> set[tuple[str, str]]:
    settings = Settings(data_dir=tmp_path, store="memory://", _env_file=None)  # type: ignore[call-arg]
    worker = create_worker(settings, "127.0.0.1:9", "token")
    web_app = web.Application()
    routes.mount(web_app, worker.services)
    return {
        (route.method, route.resource.canonical)
        for route in web_app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def test_every_served_route_is_documented_and_every_documented_route_is_served(
    tmp_path: Path,
) -> None:
    """The (method, path) pairs the web server mounts equal the document's operations plus
    the dashboard's pages, which are declared the same way but are not the API."""
    spec = routes.openapi_document()
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    pages = {(r.method, routes.canonical(r.path)) for r in routes.all_routes() if r.page}
    assert pages and not pages & documented
    assert _served(tmp_path) == documented | pages
    assert not [
        p for p in spec["paths"] if not p.startswith(("/api/", "/webhooks/", "/health", "/metrics"))
    ]
    assert spec["openapi"] == "3.1.0"
    tags = {op["tags"][0] for item in spec["paths"].values() for op in item.values()}
    assert {"workitems", "roadmap", "alerts", "connectors", "webhooks", "health"} <= tags


def test_path_parameters_match_the_path_template() -> None:
    """Each operation declares exactly the path parameters its template names."""
    for path, item in routes.openapi_document()["paths"].items():
        for operation in item.values():
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path


def test_every_schema_reference_resolves() -> None:
    """Every $ref in the document points at a schema the document defines."""
    spec = routes.openapi_document()
    defined = set(spec["components"]["schemas"])

    def refs(node: object) -> set[str]:
        if isinstance(node, dict):
            found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
            return found.union(*(refs(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(refs(v) for v in node))
        return set()

    missing = {r for r in refs(spec) if r.removeprefix("#/components/schemas/") not in defined}
    assert missing == set()


def test_public_routes_say_so_and_the_rest_need_the_token() -> None:
    """Only /health, /metrics and webhooks are documented without bearer security."""
    spec = routes.openapi_document()
    public = {
        path
        for path, item in spec["paths"].items()
        for operation in item.values()
        if operation.get("security") == []
    }
    assert public == {"/health", "/metrics", "/webhooks/{name}"}
    assert spec["security"] == [{"bearer": []}]
