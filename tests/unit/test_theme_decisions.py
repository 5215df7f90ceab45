"""People's decisions about themes: folded from the log in any order, then applied to the
computed themes (rename, merge, split, roadmap links)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.codec import decode_dict
from projections.themes import decisions, fold_theme
from tests.helpers import event_dict
from tests.unit.test_themes import TOPICS
from themes.embedding import Embedder
from themes.model import Feedback, apply_decisions, build_themes, theme_id

START = datetime(2026, 5, 1, 9, tzinfo=UTC)


def _edit(theme: str, n: int, **payload: Any) -> Any:
    raw = event_dict("theme.edited", theme, f"e{n}", kind="theme", payload=payload)
    raw["occurred_at"] = (START + timedelta(minutes=n)).isoformat()
    return decode_dict(raw)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_the_latest_rename_wins_and_links_stand_until_unlinked_in_any_order() -> None:
    """Rename, rename again, link two items, unlink one: folded in every order, the same
    decisions."""
    edits = [
        _edit("t", 1, action="rename", name="Exports"),
        _edit("t", 2, action="link", roadmap_item="reports"),
        _edit("t", 3, action="rename", name="Report exports"),
        _edit("t", 4, action="link", roadmap_item="warehouse"),
        _edit("t", 5, action="unlink", roadmap_item="reports"),
    ]
    for seed in range(5):
        shuffled = list(edits)
        random.Random(seed).shuffle(shuffled)
        state = None
        for event in shuffled:
            state = fold_theme(state, event)
        assert state is not None
        assert decisions(state) == {
            "name": "Report exports",
            "merged_into": None,
            "splits": [],
            "links": ["warehouse"],
        }


def test_decisions_rename_merge_split_and_link_the_computed_themes(embedder: Embedder) -> None:
    """Renaming names it; merging refund into card leaves two themes, card holding both;
    splitting two requests off export makes a third with its own id; links attach."""
    feedback = [Feedback(f"{t}-{n}", x) for t, xs in TOPICS.items() for n, x in enumerate(xs)]
    built = build_themes(feedback, embedder)
    card, refund, export = (built.theme_of(f"{t}-0") or "" for t in ("card", "refund", "export"))
    decided = {
        card: {"name": "Card delivery", "merged_into": None, "splits": [], "links": ["cards"]},
        refund: {"name": None, "merged_into": card, "splits": [], "links": []},
        export: {
            "name": None,
            "merged_into": None,
            "splits": [{"at": "x", "requests": ["export-0", "export-1", "nobody"]}],
            "links": [],
        },
    }
    applied = apply_decisions(built, decided, embedder)
    by_id = {t.id: t for t in applied.themes}
    assert set(by_id) == {card, export, theme_id(f"{export}/export-0")}
    assert sorted(by_id[card].members) == sorted(
        f"{t}-{n}" for t in ("card", "refund") for n in range(6)
    )
    assert by_id[card].name == "Card delivery" and by_id[card].links == ["cards"]
    assert by_id[theme_id(f"{export}/export-0")].members == ["export-0", "export-1"]
    assert len(by_id[export].members) == 4
    assert applied.theme_of("refund-3") == card
    # the computed themes themselves are untouched
    assert built.theme(refund) is not None and built.theme(card).name is None  # type: ignore[union-attr]


def test_a_decision_about_a_theme_that_no_longer_forms_changes_nothing(embedder: Embedder) -> None:
    """A rename and a merge naming themes the requests do not form are kept, not applied."""
    feedback = [Feedback(f"{t}-{n}", x) for t, xs in TOPICS.items() for n, x in enumerate(xs)]
    built = build_themes(feedback, embedder)
    decided = {
        "theme-gone": {"name": "Old", "merged_into": None, "splits": [], "links": []},
        built.themes[0].id: {"name": None, "merged_into": "theme-gone", "splits": [], "links": []},
    }
    applied = apply_decisions(built, decided, embedder)
    assert [t.members for t in applied.themes] == [t.members for t in built.themes]


def test_decisions_apply_to_requests_that_joined_after_the_build(embedder: Embedder) -> None:
    """A request that joined the card theme after the build moves with it when refund is
    merged into card: merging describes it with the rest."""
    feedback = [Feedback(f"{t}-{n}", x) for t, xs in TOPICS.items() for n, x in enumerate(xs)]
    built = build_themes(feedback, embedder)
    card, refund = built.theme_of("card-0") or "", built.theme_of("refund-0") or ""
    late = "my card has still not been delivered"
    assert built.join("late-1", embedder.embed([late])[0], late) == card
    decided = {refund: {"name": None, "merged_into": card, "splits": [], "links": []}}
    applied = apply_decisions(built, decided, embedder)
    assert applied.theme_of("late-1") == card and applied.theme_of("refund-2") == card
