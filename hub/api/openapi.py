"""The OpenAPI 3.1 document, assembled from the route declarations (``hub.api.declare``).

Parameters, request bodies and responses come from each route's declaration, schemas
from its pydantic models: what is documented is what is served.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hub import __version__
from hub.api.declare import Route
from hub.api.schemas import Error

__all__ = ["document"]

_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "The request is malformed: a parameter or the body (see error.message)",
    401: "Missing or wrong bearer token",
    404: "No such resource",
    406: "A representation the operation does not offer (only list operations answer CSV)",
    422: "The body is well-formed but describes something invalid (see error.fields)",
    503: "The broker is unreachable",
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _content(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _ref(model: type[BaseModel] | None) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"} if model else {"type": "object"}


def _operation(route: Route) -> dict[str, Any]:
    success = {
        "description": _REASONS.get(route.status, "OK"),
        "content": _content(
            _ref(route.response) if route.media_type == "application/json" else {"type": "string"},
            route.media_type,
        ),
    }
    responses: dict[str, Any] = {str(route.status): success}
    for status, meaning in route.responses.items():
        body = _ref(route.response) if status < 300 else _ERROR_REF
        responses[str(status)] = {"description": meaning, "content": _content(body)}
    errors = set()
    if route.query_params() or route.body is not None:
        errors.add(400)
    if any(p.where == "path" for p in route.params):
        errors.add(404)
    if not route.public:
        errors.add(401)
    for status in sorted(errors - set(route.responses)):
        responses[str(status)] = {"description": _REASONS[status], "content": _content(_ERROR_REF)}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method.lower()}_{route.handler.__name__}",
        "parameters": [p.spec() for p in route.params],
        "responses": responses,
    }
    if route.public:
        operation["security"] = []
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {t: {"schema": _ref(route.body)} for t in route.body_types},
        }
    return operation


def document(routes: Iterable[Route]) -> dict[str, Any]:
    """The whole document for ``routes``: the API's, so the dashboard's pages are left out."""
    routes = [route for route in routes if not route.page]
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    models: set[type[BaseModel]] = {Error}
    for route in routes:
        models.update(m for m in (route.response, route.body) if m is not None)
    _, schemas = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Product Ops Hub API",
            "version": __version__,
            "description": "Projections of the event log, connectors, roadmap and alerts. "
            "Bearer token required except where an operation says otherwise.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas.get("$defs", {}),
        },
    }
