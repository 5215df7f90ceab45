"""Finding the Jira issues a customer request or deal is about, the same way in every source.

Sources carry them in a custom field or attribute (free text holding one or more keys) or
in tags that start with a configured prefix (``jira_pay-12``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from hub.events import Event

__all__ = ["jira_keys", "link_events"]

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
