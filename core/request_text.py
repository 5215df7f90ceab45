"""A customer request's words as the log keeps them: plain text, capped, personal data out.

Connectors carry what customers wrote (subject plus description or first message) so
feedback can be clustered into themes. Sources send HTML, signatures with phone numbers,
pasted card numbers and multi-megabyte bodies; this module turns any of it into one
bounded plain-text string *before* it is published, so nothing personal is ever stored in
a topic, embedded or shown. Kernel code: pure functions, no I/O.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = [
    "REQUEST_TEXT_CAP",
    "REQUEST_TITLE_CAP",
    "request_text",
    "request_title",
    "scrub",
    "strip_html",
]

#: Characters of text kept per request. Themes need the gist (a subject and the first
#: paragraphs), not whole threads: 2,000 characters hold the first message of almost
#: every ticket while keeping a million requests' text under 2 GB of log.
REQUEST_TEXT_CAP = 2_000

#: Characters of a title kept: a subject line, never a pasted body.
REQUEST_TITLE_CAP = 300

# Work on at most this much of a raw body: a 1 MB paste costs no more than 64 KiB does.
_RAW_CAP = 64 * 1024

_BLOCK_TAGS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4",
     "h5", "h6", "blockquote", "pre", "hr", "table", "section", "article"}
)  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "template"})


class _TextOf(HTMLParser):
    """Collects the text of an HTML fragment; block elements become line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """The readable text of ``text`` (HTML or not), entities decoded, blank runs folded."""
    if "<" in text or "&" in text:
        parser = _TextOf()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# Two letters, two check digits, then 11 to 30 letters or digits, in groups or not.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b")
# 13 to 19 digits, perhaps in groups: card numbers (checked with Luhn below).
_CARD = re.compile(r"(?<![\d.,])\d(?:[ -]?\d){12,18}(?![\d.,])")
# A leading +, 0 or bracketed area code and 7 to 15 digits with the usual separators.
_PHONE = re.compile(
    r"(?<![\w.,/])(?:\+|\b0|\(\d)[\d ().-]{5,}\d(?![\d,/]|\.\d)"
    r"|\b\d{3}([.-])\d{3}\1\d{4}\b"  # North American 555-123-4567
)
_DATE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card number]" if _luhn(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if _DATE.fullmatch(match.group()) or not 7 <= len(digits) <= 15:
        return match.group()
    return "[phone]"


def scrub(text: str) -> str:
    """``text`` with e-mail addresses, IBAN-like, card-like and phone numbers replaced.

    Placeholders keep the sentence readable ("my card [card number] was charged twice"),
    which is what a theme needs; the numbers themselves never are. Card-like numbers are
    Luhn-checked so order ids and amounts stay; phone numbers need a leading ``+``, ``0``,
    an area code in brackets or the 3-3-4 North American form, so dates, versions and
    counts stay too."""
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub("[iban]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def _capped(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    cut = text[: cap - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > cap // 2 else cut).rstrip() + "…"


def request_text(subject: str | None, body: str | None, cap: int = REQUEST_TEXT_CAP) -> str | None:
    """Subject and body as one plain, scrubbed string of at most ``cap`` characters.

    ``None`` when neither says anything, so "no words" is distinguishable from an empty
    string. The body's first line is dropped when it repeats the subject (many desks
    copy it there)."""
    head = scrub(strip_html(subject[:_RAW_CAP])) if subject else ""
    rest = scrub(strip_html(body[:_RAW_CAP])) if body else ""
    if head and rest.startswith(head):
        rest = rest[len(head) :].lstrip()
    text = "\n".join(part for part in (head, rest) if part)
    return _capped(text, cap) if text else None


def request_title(subject: str | None) -> str | None:
    """A subject as one scrubbed plain line of at most ``REQUEST_TITLE_CAP`` characters:
    titles are stored and shown too, so they get the same scrubbing as the text."""
    line = " ".join(scrub(strip_html(subject[:_RAW_CAP])).split()) if subject else ""
    return _capped(line, REQUEST_TITLE_CAP) if line else None
