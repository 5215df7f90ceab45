"""A request's words as the log keeps them: plain, capped, with personal data replaced."""

from __future__ import annotations

import pytest

from core.request_text import (
    REQUEST_TEXT_CAP,
    REQUEST_TITLE_CAP,
    request_text,
    request_title,
    scrub,
    strip_html,
)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("write to jane.doe+x@example.co.uk now", "write to [email] now"),
        ("Call me on +44 20 7946 0958 please", "Call me on [phone] please"),
        ("my number is 020 7946 0958.", "my number is [phone]."),
        ("phone (415) 555-2671 today", "phone [phone] today"),
        ("or 555-123-4567, thanks", "or [phone], thanks"),
        ("мой номер +7 912 345-67-89 😀", "мой номер [phone] 😀"),
        ("card 4111 1111 1111 1111 was charged", "card [card number] was charged"),
        ("card 4111-1111-1111-1111", "card [card number]"),
        ("IBAN DE89 3704 0044 0532 0130 00 refund", "IBAN [iban] refund"),
        ("to GB82WEST12345698765432", "to [iban]"),
    ],
)
def test_personal_data_is_replaced_by_placeholders(written: str, stored: str) -> None:
    """E-mail addresses, phone numbers, card-like and IBAN-like numbers never survive."""
    assert scrub(written) == stored


@pytest.mark.parametrize(
    "kept",
    [
        "order 1234567890123 is late",  # 13 digits that fail the Luhn check: an id
        "on 2026-11-24 we paid 1,000,000 and 12.50, invoice 2026/11/0042",
        "since 01/02/2024 and 01.02.2024, version 3.12.1, ticket #55123, 0.5% fee",
    ],
)
def test_ids_dates_amounts_and_versions_are_not_taken_for_personal_data(kept: str) -> None:
    """What themes need (order ids, dates, amounts, versions) stays as written."""
    assert scrub(kept) == kept


def test_html_becomes_lines_of_text_without_scripts_or_entities() -> None:
    """Block elements break lines, entities decode, scripts and styles vanish."""
    html = "<style>p{}</style><p>Refund&nbsp;please &amp; thanks</p><p>line<br>two</p>"
    assert strip_html(html + "<script>alert(1)</script>") == "Refund please & thanks\nline\ntwo"
    assert strip_html("a < b and 3 > 2") == "a < b and 3 > 2"


def test_subject_and_body_join_without_repeating_the_subject() -> None:
    """The body's copy of the subject is dropped; empty or blank words give None."""
    assert request_text("Refund", "<p>Refund</p><p>It never came.</p>") == "Refund\nIt never came."
    assert request_text("Export", None) == "Export"
    assert request_text("   ", "\n\t ") is None
    assert request_text(None, "<p> </p>") is None


def test_a_megabyte_body_is_cut_at_a_word_within_the_cap() -> None:
    """A 1.5 MB paste is stored as at most the documented cap, cut between words."""
    text = request_text("Logs", "word " * 300_000)
    assert text is not None and len(text) <= REQUEST_TEXT_CAP
    assert text.endswith("word…")
    title = request_title("x" * 10_000)
    assert title is not None and len(title) <= REQUEST_TITLE_CAP


def test_titles_are_one_scrubbed_line() -> None:
    """A subject keeps no line breaks, markup or personal data."""
    assert request_title("<b>Call</b>\n+44 20 7946 0958") == "Call [phone]"
    assert request_title("") is None
