"""Conventions the README promises about the tests themselves."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_states_the_behaviour_it_checks() -> None:
    """Every test function in the suite has a docstring."""
    missing = [
        f"{path.relative_to(TESTS)}::{node.name}"
        for path in sorted(TESTS.rglob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
        and not ast.get_docstring(node)
    ]
    assert missing == []


def test_every_entity_kind_has_exactly_one_topic_and_one_fold() -> None:
    """The kinds named in core.events are the ones routed to topics and folded, no more."""
    from typing import get_args

    from core.events import EntityKind
    from core.topics import topic_for_kind
    from projections.entities import FOLDS

    kinds = set(get_args(EntityKind))
    assert set(FOLDS) == kinds
    assert all(topic_for_kind(kind).name.startswith("hub.") for kind in kinds)
