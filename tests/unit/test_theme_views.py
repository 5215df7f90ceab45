"""The numbers behind each theme and the roadmap items suggested for it, from folded
entities and the real embedding model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.theme_service import suggestions, theme_views
from projections.rollups import WorkIndex
from tests.builders import build, ev, item
from themes.embedding import Embedder
from themes.model import UNCLASSIFIED, Feedback, build_themes

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday
SSO = [
    "We need SAML single sign-on before we can renew",
    "Do you support SSO with Okta for our staff?",
    "Single sign-on through Azure AD is required by security",
    "Please add SSO so people log in with our identity provider",
]
INVOICE = [
    "Our invoice shows the same seats twice",
    "Finance needs a VAT invoice for last month",
    "The invoice amount does not match our plan",
    "Please correct the wrong invoice we received",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def _events() -> list[Any]:
    events = [
        ev("customer_account.upserted", "big", "a", NOW - timedelta(days=90), name="Big", arr=400_000),
        ev("customer_account.upserted", "mid", "a", NOW - timedelta(days=90), name="Mid", arr=60_000),
        ev("roadmap_item.planned", "sso", "p", NOW - timedelta(days=60), title="Enterprise login", epics=["E-9"]),
        ev("roadmap_item.planned", "pay", "p", NOW - timedelta(days=60), title="Checkout redesign"),
        item("E-9", NOW - timedelta(days=50), item_type="Epic", title="SAML single sign-on"),
    ]  # fmt: skip
    for n, text in enumerate(SSO):  # two this week, one last week, one a month ago
        opened = NOW - timedelta(days=[1, 2, 8, 30][n])
        events.append(
            ev("customer_request.opened", f"S-{n}", "o", opened, title=text, text=text,
               account="big" if n % 2 else "mid")
        )  # fmt: skip
    for n, text in enumerate(INVOICE):
        events.append(
            ev("customer_request.opened", f"I-{n}", "o", NOW - timedelta(days=20), title=text,
               text=text, account="mid")
        )  # fmt: skip
    events.append(
        ev("customer_request.closed", "I-0", "c", NOW - timedelta(days=19), resolution="solved")
    )
    events.append(
        ev("customer_request.opened", "X-1", "o", NOW - timedelta(days=3), title="hi", text="hi")
    )
    return events


def test_each_theme_counts_its_requests_accounts_arr_and_weekly_trend(embedder: Embedder) -> None:
    """Two themes and the unclassified bucket: SSO has 4 requests from two accounts
    (460k ARR), 2 in the last 7 days against 1 the week before (growth +1) and eight weeks
    of trend; invoices have one closed of four; "hi" is unclassified."""
    entities = build(_events())
    feedback = [Feedback(k, s.get("text")) for k, s in entities["customer_request"].items()]
    built = build_themes(feedback, embedder)
    views = {v["id"]: v for v in theme_views(built, entities, WorkIndex(entities, NOW), NOW)}
    sso = views[built.theme_of("S-0") or ""]
    assert sso["requests"] == 4 and sso["accounts"] == ["big", "mid"] and sso["arr"] == 460_000
    assert (sso["last_7_days"], sso["growth"], sso["open"]) == (2, 1, 4)
    assert len(sso["trend"]) == 8 and sso["trend"][-1] == {"week": "2026-W10", "requests": 0}
    weekly = {w["week"]: w["requests"] for w in sso["trend"] if w["requests"]}
    assert weekly == {"2026-W09": 2, "2026-W08": 1, "2026-W05": 1}
    invoice = views[built.theme_of("I-0") or ""]
    assert (invoice["requests"], invoice["closed"], invoice["arr"]) == (4, 1, 60_000)
    assert views[UNCLASSIFIED]["request_keys"] == ["X-1"]


def test_a_theme_is_suggested_the_roadmap_item_its_words_match(embedder: Embedder) -> None:
    """The SSO theme is suggested "Enterprise login" (its epic is SAML single sign-on)
    first, with a score; the checkout redesign scores lower or not at all."""
    entities = build(_events())
    feedback = [Feedback(k, s.get("text")) for k, s in entities["customer_request"].items()]
    built = build_themes(feedback, embedder)
    theme = next(t for t in built.themes if "S-0" in t.members)
    found = suggestions(theme, entities, WorkIndex(entities, NOW), lambda w: embedder.embed([w])[0])
    assert found and found[0]["roadmap_item"] == "sso" and 0.3 <= found[0]["score"] <= 1
    assert all(s["score"] < found[0]["score"] for s in found[1:])


@pytest.mark.parametrize(
    "as_of",
    [datetime(359, 4, 22, 11, 19, tzinfo=UTC), datetime(1, 1, 3, tzinfo=UTC)],
)
def test_themes_as_of_the_distant_past_are_empty_not_an_error(
    embedder: Embedder, as_of: datetime
) -> None:
    """An ``as_of`` before anything (year 359, year 1: what schemathesis sent) gives no
    themes instead of a date error."""
    built = build_themes([], embedder)
    assert theme_views(built, {}, WorkIndex({}, as_of), as_of) == []


def test_a_theme_whose_open_requests_are_linked_to_work_is_not_unaddressed(
    embedder: Embedder,
) -> None:
    """SSO requests with no link are unaddressed demand; once three of its four open
    requests are linked to work, the theme counts as addressed even without a theme link."""
    events = _events()
    entities = build(events)
    feedback = [Feedback(k, s.get("text")) for k, s in entities["customer_request"].items()]
    built = build_themes(feedback, embedder)
    index = WorkIndex(entities, NOW)
    views = {v["id"]: v for v in theme_views(built, entities, index, NOW)}
    assert views[built.theme_of("S-0") or ""]["unaddressed"]
    linked = [
        ev("customer_request.linked", f"S-{n}", "l", NOW - timedelta(hours=1), relation="work_item",
           target={"kind": "work_item", "key": "E-9"})
        for n in range(3)
    ]  # fmt: skip
    entities = build([*events, *linked])
    views = {v["id"]: v for v in theme_views(built, entities, WorkIndex(entities, NOW), NOW)}
    assert not views[built.theme_of("S-0") or ""]["unaddressed"]


def test_the_live_themes_are_looked_over_again_only_when_the_model_changed(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's once-a-second refresh lists the requests only after something new was
    folded: with nothing new it answers the same themes without a look (at scale that
    look was 12k requests every second); a request folded later joins its theme, and is
    not looked for again every second until the interval's rebuild, which groups it."""
    import asyncio

    from hub import theme_service
    from hub.read_model import ReadModel
    from projections.entities import fold_entity

    model = ReadModel("changelog", clock=lambda: NOW)

    def fold(event: Any) -> None:
        kind, key = event.entity.kind, event.entity.key
        model.apply("changelog", f"{kind}/{key}", fold_entity(model.get(kind, key), event))

    for event in _events():
        fold(event)
    model.mark_caught_up()
    looks: list[int] = []
    real = theme_service._feedback
    monkeypatch.setattr(
        theme_service, "_feedback", lambda entities: looks.append(1) or real(entities)
    )
    service = theme_service.ThemeService(model, embedder)

    async def scenario() -> None:
        built = await service.refresh()
        assert built is not None and len(looks) == 1
        for _ in range(3):
            assert await service.refresh() is built
        assert len(looks) == 1  # nothing new folded: not looked at again
        late = "Can we get SSO via Google Workspace login?"
        fold(ev("customer_request.opened", "S-9", "o", NOW, title=late, text=late))
        assert await service.refresh() is built and len(looks) == 2
        assert built.theme_of("S-9") == built.theme_of("S-0") is not None
        for _ in range(3):
            assert await service.refresh() is built
        assert len(looks) == 2  # the joined request is placed: no look until a change
        service.rebuild_seconds = 0.0  # the interval's rebuild, owed for the joined one
        rebuilt = await service.refresh()
        assert rebuilt is not built and len(looks) == 3
        assert rebuilt is not None and rebuilt.theme_of("S-9") == rebuilt.theme_of("S-0")
        assert await service.refresh() is rebuilt and len(looks) == 3  # nothing owed now

    asyncio.run(scenario())
