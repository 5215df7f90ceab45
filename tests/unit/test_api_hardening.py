"""The API refuses bad input with a clear 4xx, never a 500: each case an outside fuzzer found."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.state import config_record
from core.settings import Settings
from core.topics import CONNECT_CONFIGS
from core.validation import parse_duration
from hub.api import routes
from hub.api.routes import openapi_document
from hub.read_model import ReadModel
from hub.wiring import create_worker
from projections.entities import fold_entity
from projections.resources import team_resources
from tests.builders import item, start

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Check = Callable[[TestClient], Awaitable[None]]


def _run(tmp_path: Path, check: Check) -> None:
    """Serve the real routes with a real worker's services (no broker needed) and check."""
    settings = Settings(data_dir=tmp_path, store="memory://", _env_file=None)  # type: ignore[call-arg]
    worker = create_worker(settings, "127.0.0.1:9", TOKEN)

    async def scenario() -> None:
        web_app = web.Application()
        routes.mount(web_app, worker.services)
        async with TestClient(TestServer(web_app)) as client:
            await check(client)

    asyncio.run(scenario())


@pytest.mark.parametrize("value", [1e16, 99999999999999, "99999999999999s", 1e400, "1e400"])
def test_absurd_durations_are_refused_not_overflowed(value: Any) -> None:
    """A duration past ten years (or not finite) is a ValueError, never an OverflowError."""
    with pytest.raises(ValueError):
        parse_duration(value)


def test_a_huge_poll_interval_is_a_field_error_on_validate_and_put(tmp_path: Path) -> None:
    """validate answers valid=false with the field; PUT answers 400 with the field."""

    async def check(client: TestClient) -> None:
        config = {
            "type": "canonical_http",
            "poll_interval": 1e16,
            "settings": {"base_url": "http://x", "token": "${env:T}"},
        }
        answer = await client.post(
            "/api/v1/connector-types/canonical_http/validate", json=config, headers=AUTH
        )
        body = await answer.json()
        assert answer.status == 200 and body["valid"] is False
        assert body["errors"][0]["field"] == "poll_interval"
        put = await client.put("/api/v1/connectors/x", json=config, headers=AUTH)
        assert (
            put.status == 400
            and (await put.json())["error"]["fields"][0]["field"] == "poll_interval"
        )

    _run(tmp_path, check)


def test_a_body_that_is_not_utf8_is_a_400(tmp_path: Path) -> None:
    """PUT /roadmap (and every body-taking route) answers 400 to bytes that are not UTF-8."""

    async def check(client: TestClient) -> None:
        for method, path in (
            ("PUT", "/api/v1/roadmap"),
            ("POST", "/api/v1/silences"),
            ("PUT", "/api/v1/connectors/x"),
        ):
            answer = await client.request(method, path, data=b"\xff\xfe\x00teams:", headers=AUTH)
            assert answer.status == 400, (method, path)
            assert (await answer.json())["error"]["code"] == "bad_body"

    _run(tmp_path, check)


def test_405_names_the_allowed_methods(tmp_path: Path) -> None:
    """A method a route does not serve gets 405 with an Allow header and the JSON error."""

    async def check(client: TestClient) -> None:
        answer = await client.post("/api/v1/workitems", headers=AUTH)
        assert answer.status == 405
        assert "GET" in answer.headers["Allow"]
        assert (await answer.json())["error"]["code"] == "method_not_allowed"

    _run(tmp_path, check)


@pytest.mark.parametrize("query", ["as_of=", "stage=", "to=", "limit=", "cursor="])
def test_empty_parameters_are_refused(tmp_path: Path, query: str) -> None:
    """A parameter given with no value is a 400 naming it, not silently ignored."""
    path = "/api/v1/teams/core/resources" if query == "to=" else "/api/v1/workitems"

    async def check(client: TestClient) -> None:
        answer = await client.get(f"{path}?{query}", headers=AUTH)
        assert answer.status == 400
        assert query.rstrip("=") in (await answer.json())["error"]["message"]

    _run(tmp_path, check)


def test_the_document_declares_every_status_the_routes_answer_with() -> None:
    """201, 202 and 422 are documented where the routes use them; the roadmap takes YAML."""
    paths = openapi_document()["paths"]
    assert {"201", "422"} <= set(paths["/api/v1/silences"]["post"]["responses"])
    assert {"200", "201", "400"} <= set(paths["/api/v1/connectors/{name}"]["put"]["responses"])
    for action, method in (("pause", "put"), ("resume", "put"), ("restart", "post")):
        assert "202" in paths[f"/api/v1/connectors/{{name}}/{action}"][method]["responses"]
    roadmap = paths["/api/v1/roadmap"]["put"]
    assert "422" in roadmap["responses"]
    assert {"application/yaml", "application/json"} <= set(roadmap["requestBody"]["content"])


def test_a_query_never_meets_an_entity_its_index_has_not_seen() -> None:
    """Entities and index are read as one snapshot: an item arriving after the index was
    built is in neither, so walking one with the other cannot fail (it was a KeyError)."""
    now = datetime(2026, 3, 4, tzinfo=UTC)
    model = ReadModel("changelog", clock=lambda: now)
    started = fold_entity(fold_entity(None, item("A-1", now, team="core")), start("A-1", now))
    model.apply("changelog", "work_item/A-1", started)
    index = model.index()
    model.apply("changelog", "work_item/A-2", fold_entity(None, item("A-2", now, team="core")))
    assert "A-2" in model.entities["work_item"] and "A-2" not in index.entities["work_item"]
    weeks = team_resources("core", index.entities, index, datetime(2026, 2, 1, tzinfo=UTC), now)
    assert weeks and all("week" in row for row in weeks)


def test_a_webhook_whose_secret_is_not_mounted_is_a_503_naming_the_problem(
    tmp_path: Path,
) -> None:
    """A connector whose webhook secret file is missing on this worker answers 503 with the
    reason (the source retries), not a 500."""
    settings = Settings(data_dir=tmp_path, store="memory://", _env_file=None)  # type: ignore[call-arg]
    worker = create_worker(settings, "127.0.0.1:9", TOKEN)
    config = {
        "name": "hooked",
        "type": "canonical_http",
        "settings": {
            "base_url": "http://127.0.0.1:9",
            "token": "${env:NOT_NEEDED}",
            "webhook_secret": f"${{file:{tmp_path}/run/secrets/missing}}",
        },
    }
    worker.services.connect_state.apply(CONNECT_CONFIGS.name, "hooked", config_record(config))

    async def scenario() -> None:
        web_app = web.Application()
        routes.mount(web_app, worker.services)
        async with TestClient(TestServer(web_app)) as client:
            answer = await client.post("/webhooks/hooked", data=b"{}")
            body = await answer.json()
            assert answer.status == 503 and body["error"]["code"] == "connector_misconfigured"
            assert "missing" in body["error"]["message"]

    asyncio.run(scenario())


def test_bookkeeping_rows_change_no_version() -> None:
    """Checkpoint rows the read model ignores do not count as changes (no index rebuild)."""
    model = ReadModel("changelog", ignore=lambda key: key.startswith("__checkpoint"))
    model.apply("changelog", "__checkpoint/0", {"positions": {}})
    assert model.version == 0 and model.entities == {}
    model.apply("changelog", "work_item/A-1", fold_entity(None, item("A-1", datetime.now(UTC))))
    assert model.version == 1
