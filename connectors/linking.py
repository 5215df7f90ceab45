"""Finding the Jira issues a customer request or deal is about, the same way in every source.

Sources carry them in a custom field or attribute (free text holding one or more keys) or
in tags that start with a configured prefix (``jira_pay-12``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core.events import Event

__all__ = ["jira_keys", "link_events", "rule_targets", "field_link_events"]

_JIRA_KEY = re.compile(r"\b([A-Z][A-Z0-9]+-\d+)\b")


def jira_keys(
    texts: Iterable[Any] = (), tags: Iterable[str] = (), tag_prefix: str | None = None
) -> list[str]:
    """Every Jira key in ``texts`` and in tags carrying ``tag_prefix``, sorted, once each."""
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(_JIRA_KEY.findall(str(text).upper()))
    if tag_prefix:
        for tag in tags:
            if tag.startswith(tag_prefix):
                found.update(_JIRA_KEY.findall(tag[len(tag_prefix) :].upper()))
    return sorted(found)


def link_events(
    make: Callable[..., Event], type_: str, key: str, keys: Iterable[str], at: datetime
) -> list[Event]:
    """One ``*.linked`` event per Jira key, with an id stable across pulls and webhooks."""
    return [
        make(
            type_,
            key,
            f"jira:{jira}",
            at,
            {"relation": "work_item", "target": {"kind": "work_item", "key": jira}},
        )
        for jira in keys
    ]


def rule_targets(text: str | None, rules: dict[str, str]) -> list[str]:
    """Roadmap ids whose rule (a case-insensitive regular expression) matches ``text``.

    For CRMs where nobody fills a link field but names say it: ``{"(?i)\\bsso\\b": "R-SSO"}``.
    """
    if not text:
        return []
    return sorted(
        {target for pattern, target in rules.items() if re.search(pattern, text, re.IGNORECASE)}
    )


def field_link_events(
    make: Callable[..., Event],
    type_: str,
    key: str,
    value: Any,
    at: datetime,
    extra_roadmap: Iterable[str] = (),
) -> list[Event]:
    """Links from a CRM field holding Jira keys and/or roadmap ids (``;`` or ``,`` separated),
    plus roadmap ids found by other means (label rules)."""
    text = str(value or "")
    keys = jira_keys([text])
    events = link_events(make, type_, key, keys, at)
    roadmap = {item.strip() for item in text.replace(";", ",").split(",")}
    roadmap = {r for r in roadmap if r and r.upper() not in keys} | set(extra_roadmap)
    events += [
        make(
            type_,
            key,
            f"roadmap:{item}",
            at,
            {"relation": "roadmap_item", "target": {"kind": "roadmap_item", "key": item}},
        )
        for item in sorted(roadmap)
    ]
    return events
