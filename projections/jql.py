"""A subset of Jira's JQL, evaluated against work item views.

Roadmap items may name their work by a JQL query. The hub cannot ask Jira for every query
on every change, so it evaluates the common subset itself over the items it already holds:
``field = value``, ``!=``, ``in (...)``, ``not in (...)``, ``is EMPTY``, ``is not EMPTY``,
``AND``, ``OR``, ``NOT`` and parentheses; ``ORDER BY`` is ignored. Anything else is refused
with the reason when the roadmap is validated, never silently matched to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["JqlError", "compile_jql", "FIELDS"]

View = Mapping[str, Any]
Predicate = Callable[[View], bool]


class JqlError(ValueError):
    pass


def _values(name: str, multi: bool = False) -> Callable[[View], set[str]]:
    def get(view: View) -> set[str]:
        value = view.get(name)
        if value is None:
            return set()
        items = value if multi else [value]
        return {str(v).lower() for v in items if v is not None}

    return get


# JQL field name (lower case) -> the values a view holds for it.
FIELDS: dict[str, Callable[[View], set[str]]] = {
    "project": _values("project"),
    "key": _values("key"),
    "issuekey": _values("key"),
    "type": _values("type"),
    "issuetype": _values("type"),
    "status": _values("status"),
    "statuscategory": _values("status_category"),
    "priority": _values("priority"),
    "labels": _values("labels", multi=True),
    "label": _values("labels", multi=True),
    "component": _values("components", multi=True),
    "components": _values("components", multi=True),
    "fixversion": _values("fix_versions", multi=True),
    "parent": _values("parent"),
    "epic link": _values("parent"),
    "team": _values("team"),
}

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|=|\(|\)|,)'
    r"|(?P<word>[^\s=!(),\"']+))",
)


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = re.split(r"\border\s+by\b", text, flags=re.IGNORECASE)[0]
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise JqlError(f"cannot read JQL at {text[position : position + 20]!r}")
        position = match.end()
        if match.group("str"):
            tokens.append("\0" + match.group("str")[1:-1].replace('\\"', '"'))
        else:
            tokens.append(match.group("op") or match.group("word"))
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self, offset: int = 0) -> str | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or token.lower() != word:
                return False
        self.at += len(words)
        return True

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise JqlError("JQL ends too early")
        self.at += 1
        return token

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.keyword("or"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda v: any(t(v) for t in terms)

    def conjunction(self) -> Predicate:
        terms = [self.negation()]
        while self.keyword("and"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else lambda v: all(t(v) for t in terms)

    def negation(self) -> Predicate:
        if self.keyword("not"):
            inner = self.negation()
            return lambda v: not inner(v)
        if self.peek() == "(":
            self.take()
            inner = self.expression()
            if self.take() != ")":
                raise JqlError("missing )")
            return inner
        return self.clause()

    def field(self) -> str:
        name = self.take().lstrip("\0").lower()
        if name == "epic" and self.keyword("link"):
            name = "epic link"
        if name not in FIELDS:
            raise JqlError(f"field {name!r} is not supported; supported: {', '.join(FIELDS)}")
        return name

    def value(self) -> str:
        token = self.take()
        if token in ("(", ")", ",", "=", "!="):
            raise JqlError(f"expected a value, found {token!r}")
        return token.lstrip("\0").lower()

    def values(self) -> set[str]:
        if self.take() != "(":
            raise JqlError("expected ( after in")
        found = {self.value()}
        while self.peek() == ",":
            self.take()
            found.add(self.value())
        if self.take() != ")":
            raise JqlError("missing ) after the value list")
        return found

    def clause(self) -> Predicate:
        get = FIELDS[self.field()]
        if self.keyword("is", "not", "empty") or self.keyword("is", "not", "null"):
            return lambda v: bool(get(v))
        if self.keyword("is", "empty") or self.keyword("is", "null"):
            return lambda v: not get(v)
        if self.keyword("not", "in"):
            excluded = self.values()
            return lambda v: not (get(v) & excluded)
        if self.keyword("in"):
            wanted = self.values()
            return lambda v: bool(get(v) & wanted)
        operator = self.take()
        if operator == "=":
            one = self.value()
            return lambda v: one in get(v)
        if operator == "!=":
            other = self.value()
            return lambda v: other not in get(v)
        raise JqlError(f"operator {operator!r} is not supported (use =, !=, in, not in, is)")


def compile_jql(text: str) -> Predicate:
    """A predicate over work item views; raises ``JqlError`` naming what is not supported."""
    tokens = _tokens(text)
    if not tokens:
        raise JqlError("empty JQL")
    parser = _Parser(tokens)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise JqlError(f"unexpected {parser.peek()!r}")
    return predicate
