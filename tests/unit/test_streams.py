"""Declared streams page through a real HTTP client against a local server, each style once."""

from __future__ import annotations

from typing import Any

from connectors.streams import LinkPaginator, OffsetPaginator, Stream, TokenPaginator, dig
from core.http import HttpClient
from emulators.http_server import EmulatorServer, Reply, Request


def _client(server: EmulatorServer) -> HttpClient:
    return HttpClient(base_url=server.url)


def test_offset_paging_stops_at_the_total_or_the_last_page_flag() -> None:
    """startAt advances by the records read; the total or an isLast flag ends the paging."""
    data = list(range(7))

    def page(request: Request) -> Reply:
        start = int(request.query["startAt"])
        return Reply(200, {"values": data[start : start + 3], "total": 7})

    with EmulatorServer({("GET", "/items"): page}) as server:
        stream = Stream("items", "/items", OffsetPaginator("values"))
        assert [r for _, r in stream.pages(_client(server))] == [[0, 1, 2], [3, 4, 5], [6]]
        assert len(server.requests) == 3

    def flagged(request: Request) -> Reply:
        start = int(request.query["startAt"])
        return Reply(200, {"values": data[start : start + 3], "isLast": start + 3 >= 7})

    with EmulatorServer({("GET", "/h"): flagged}) as server:
        stream = Stream("h", "/h", OffsetPaginator("values", total=None, last="isLast"))
        assert stream.records(_client(server)) == data


def test_token_paging_resumes_from_a_token_and_drops_first_only_parameters() -> None:
    """A start token resumes mid-way; start_time goes only with the first, tokenless request."""
    pages = {None: ([1, 2], "a"), "a": ([3], "b"), "b": ([], None)}

    def export(request: Request) -> Reply:
        items, after = pages[request.query.get("cursor")]
        return Reply(200, {"tickets": items, "after_cursor": after, "end_of_stream": after is None})

    stream = Stream(
        "tickets",
        "/export",
        TokenPaginator("tickets", param="cursor", next=("after_cursor",), last="end_of_stream"),
        first_only=("start_time",),
    )
    with EmulatorServer({("GET", "/export"): export}) as server:
        got = [r for _, r in stream.pages(_client(server), {"start_time": 5, "per_page": 2})]
        assert got == [[1, 2], [3], []]
        sent = [dict(r.query) for r in server.requests]
        assert sent[0] == {"start_time": "5", "per_page": "2"}
        assert sent[1] == {"per_page": "2", "cursor": "a"}
        server.requests.clear()
        resumed = [r for _, r in stream.pages(_client(server), {"start_time": 5}, start="a")]
        assert resumed == [[3], []] and "start_time" not in server.requests[0].query


def test_post_search_sends_the_token_in_a_nested_json_body_until_no_more() -> None:
    """A POST stream puts dotted parameters into nested JSON; has_more false ends the paging."""
    bodies: list[Any] = []

    def search(request: Request) -> Reply:
        body = request.json()
        bodies.append(body)
        token = (body.get("pagination") or {}).get("starting_after")
        if token is None:
            return Reply(200, {"hits": [1], "pages": {"next": {"starting_after": "t1"}}})
        return Reply(200, {"hits": [2], "pages": {}})

    stream = Stream(
        "hits",
        "/search",
        TokenPaginator(
            "hits", param="pagination.starting_after", next=("pages", "next", "starting_after")
        ),
        method="POST",
    )
    with EmulatorServer({("POST", "/search"): search}) as server:
        query = {"query": {"field": "x"}, "pagination.per_page": 1}
        assert stream.records(_client(server), query) == [1, 2]
    assert bodies[0] == {"query": {"field": "x"}, "pagination": {"per_page": 1}}
    assert bodies[1]["pagination"] == {"per_page": 1, "starting_after": "t1"}


def test_link_paging_follows_next_urls_until_done() -> None:
    """Each page's next URL is fetched as given; the done flag ends the paging."""
    with EmulatorServer({}) as server:
        server.routes = {
            ("GET", "/q"): lambda r: Reply(200, {"records": [1], "done": False, "next": "/q2"}),
            ("GET", "/q2"): lambda r: Reply(200, {"records": [2], "done": True, "next": "/q3"}),
        }
        stream = Stream("q", "/q", LinkPaginator("records", next=("next",), done="done"))
        assert stream.records(_client(server)) == [1, 2]
        assert [r.path for r in server.requests] == ["/q", "/q2"]


def test_path_placeholders_and_dig() -> None:
    """Path placeholders are filled from path_args; dig walks nested keys and tolerates gaps."""
    with EmulatorServer(
        {("GET", "/board/7/issue"): lambda r: Reply(200, {"issues": [{"key": "A"}], "total": 1})}
    ) as server:
        stream = Stream("b", "/board/{board}/issue", OffsetPaginator("issues"))
        assert stream.records(_client(server), path_args={"board": 7}) == [{"key": "A"}]
    assert dig({"a": {"b": 1}}, ("a", "b")) == 1 and dig({"a": None}, ("a", "b")) is None
