"""Themes from a set of requests: which requests belong together, and what each theme is.

Pure given its inputs: the same requests (whatever order they arrive in) give the same
themes with the same ids on every worker and after every replay, because requests are
put in key order first, clustering is seeded, and a theme's id comes from its earliest
member's key. Requests with too few words to say what they are about go to the
``unclassified`` theme instead of pulling a real theme off course.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

__all__ = [
    "Embeds",
    "Feedback",
    "JOIN_THRESHOLD",
    "Theme",
    "ThemeSet",
    "UNCLASSIFIED",
    "apply_decisions",
    "build_themes",
    "classifiable",
    "theme_id",
]

UNCLASSIFIED = "unclassified"
#: Cosine similarity to a theme's centre at which a new request joins it before the next
#: rebuild (the dev set's requests lie at a median 0.62 from their own theme's centre).
JOIN_THRESHOLD = 0.5
QUOTES = 3
_WORD = re.compile(r"[^\W\d_]{2,}")


class Embeds(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Feedback:
    """One request's words, as the log has them (``None`` when it carried none)."""

    key: str
    text: str | None


@dataclass
class Theme:
    id: str
    label: list[str]
    members: list[str]
    quotes: list[str]
    centroid: np.ndarray = field(repr=False)
    name: str | None = None  # a person's name for it (a rename), else the terms say
    links: list[str] = field(default_factory=list)  # roadmap items people linked it to


@dataclass
class ThemeSet:
    themes: list[Theme]
    unclassified: list[str]
    texts: dict[str, str] = field(default_factory=dict, repr=False)
    _of: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._of = {key: theme.id for theme in self.themes for key in theme.members}
        self._of.update(dict.fromkeys(self.unclassified, UNCLASSIFIED))

    def theme_of(self, key: str) -> str | None:
        return self._of.get(key)

    def join(self, key: str, vector: np.ndarray, text: str) -> str:
        """Where a request that arrived after the build goes until the next one: the
        nearest theme when it is close enough, else a new theme it seeds (its id from its
        key, as a build would name it), which the next like it may join. The next build
        regroups everything deterministically."""
        from themes.clustering import nearest

        self.texts[key] = text  # a later merge or split describes it with the rest
        centroids = np.array([t.centroid for t in self.themes]) if self.themes else np.zeros(0)
        index = nearest(vector, centroids, JOIN_THRESHOLD)
        if index is None:
            from themes.terms import distinctive_terms

            seeded = Theme(theme_id(key), distinctive_terms([[text]])[0], [key], [text], vector)
            self.themes.append(seeded)
            self._of[key] = seeded.id
            return seeded.id
        theme = self.themes[index]
        theme.members.append(key)
        self._of[key] = theme.id
        return theme.id

    def theme(self, wanted: str) -> Theme | None:
        return next((t for t in self.themes if t.id == wanted), None)

    def set_aside(self, key: str) -> None:
        """A request with too few words to place, or like no theme yet: unclassified."""
        self.unclassified.append(key)
        self._of[key] = UNCLASSIFIED


def classifiable(text: str | None) -> bool:
    """Whether a text says enough (two words at least) to place it in a theme."""
    return text is not None and len(_WORD.findall(text)) >= 2


def theme_id(first_member: str) -> str:
    """A theme's id, from the key of its earliest member: stable while that request
    stays in it, the same on every worker and replay."""
    return "theme-" + hashlib.sha1(first_member.encode()).hexdigest()[:10]


def build_themes(
    feedback: Sequence[Feedback], embedder: Embeds, k: int | None = None, *, seed: int = 0
) -> ThemeSet:
    """Group ``feedback`` into themes (``k`` of them, or as many as the requests show)."""
    ordered = sorted(feedback, key=lambda f: f.key)
    usable = [f for f in ordered if classifiable(f.text)]
    unclassified = [f.key for f in ordered if not classifiable(f.text)]
    if not usable:
        return ThemeSet([], unclassified)
    from themes.clustering import group  # SciPy and scikit-learn: ~1 s to import, paid
    # only by a worker that has requests to group, not by every start

    texts = {f.key: f.text or "" for f in usable}
    vectors = embedder.embed(list(texts.values()))
    labels = group(vectors, k, seed=seed) if len(usable) > 1 else np.zeros(1, dtype=np.int64)
    keys = list(texts)
    groups = {
        theme_id(keys[rows[0]]): [keys[i] for i in rows]
        for rows in (np.flatnonzero(labels == label) for label in np.unique(labels))
    }
    by_key = dict(zip(keys, vectors, strict=True))
    return ThemeSet(_describe(groups, texts, by_key), unclassified, texts)


def _describe(
    groups: Mapping[str, list[str]], texts: Mapping[str, str], vectors: Mapping[str, np.ndarray]
) -> list[Theme]:
    """Themes with their names, quotes and centres from their members' texts; largest
    first. Names contrast each theme with all the others, so they are made together."""
    from themes.terms import distinctive_terms

    ids = list(groups)
    names = distinctive_terms([[texts[k] for k in groups[i]] for i in ids])
    themes = []
    for theme, name in zip(ids, names, strict=True):
        members = groups[theme]
        rows = np.array([vectors[k] for k in members])
        centre = rows.mean(axis=0)
        centre = centre / max(float(np.linalg.norm(centre)), 1e-9)
        closest = np.argsort(-(rows @ centre), kind="stable")[:QUOTES]
        themes.append(Theme(theme, name, members, [texts[members[i]] for i in closest], centre))
    themes.sort(key=lambda t: (-len(t.members), t.id))
    return themes


def _vectors(texts: Mapping[str, str], embedder: Embeds) -> dict[str, np.ndarray]:
    keys = list(texts)
    return dict(zip(keys, embedder.embed([texts[k] for k in keys]), strict=True))


def apply_decisions(
    built: ThemeSet, decided: Mapping[str, Mapping[str, Any]], embedder: Embeds
) -> ThemeSet:
    """The computed themes with what people decided: splits first (the named requests
    leave for a theme of their own), then merges (followed to the theme finally kept),
    then names and roadmap links. Decisions about a theme the requests no longer form are
    kept on the log and apply again if it comes back."""
    groups = {t.id: list(t.members) for t in built.themes}
    for source in sorted(decided):
        for split in decided[source].get("splits", []):
            members = groups.get(source, [])
            leaving = [k for k in split["requests"] if k in members]
            if not leaving or len(leaving) == len(members):
                continue
            groups[source] = [k for k in members if k not in leaving]
            groups[theme_id(f"{source}/{min(leaving)}")] = sorted(leaving)
    for source in sorted(decided):
        target: str | None = decided[source].get("merged_into")
        seen = {source}
        while (
            target is not None and target not in seen and decided.get(target, {}).get("merged_into")
        ):
            seen.add(target)
            target = decided[target]["merged_into"]
        if target is not None and source in groups and target in groups and target != source:
            groups[target] = sorted({*groups[target], *groups.pop(source)})
    unchanged = groups == {t.id: t.members for t in built.themes}
    themes = (
        [replace(t, members=list(t.members)) for t in built.themes]
        if unchanged
        else _describe(groups, built.texts, _vectors(built.texts, embedder))
    )
    for theme in themes:
        decision = decided.get(theme.id) or {}
        theme.name = decision.get("name")
        theme.links = list(decision.get("links") or [])
    return ThemeSet(themes, list(built.unclassified), built.texts)
