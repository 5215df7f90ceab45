"""Feedback themes: the real offline model, clustering, names, stability and bad input."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from core.request_text import request_text
from themes.clustering import group
from themes.embedding import DIMENSIONS, Embedder
from themes.evaluate import evaluate_csv
from themes.model import UNCLASSIFIED, Feedback, build_themes, classifiable
from themes.terms import distinctive_terms

TOPICS = {
    "card": [
        "My new card has not arrived yet",
        "When will my card be delivered?",
        "Still waiting for the card you posted two weeks ago",
        "The card never arrived in the mail",
        "How long does card delivery take",
        "I have not received my card",
    ],
    "refund": [
        "I want a refund for the duplicate charge",
        "Refund has not shown up on my statement",
        "Please refund the payment you took twice",
        "Where is my refund, it has been ten days",
        "The refund for my order is missing",
        "Can I get my money back for this purchase",
    ],
    "export": [
        "The CSV export of reports times out",
        "Exporting the dashboard to PDF fails",
        "Report export is stuck at 99 percent",
        "Scheduled exports stopped arriving by email",
        "Export to Excel gives an empty file",
        "Cannot download the report export",
    ],
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def _feedback() -> list[Feedback]:
    return [
        Feedback(f"{topic}-{n}", text)
        for topic, texts in TOPICS.items()
        for n, text in enumerate(texts)
    ]


def test_the_packaged_model_embeds_offline_into_unit_vectors(embedder: Embedder) -> None:
    """The int8 MiniLM from the installed package gives unit vectors, the same text the
    same vector, and a paraphrase nearer than another topic."""
    vectors = embedder.embed(["my card did not arrive", "card never came", "refund please"])
    assert vectors.shape == (3, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    again = embedder.embed(["refund please", "my card did not arrive"])
    assert np.allclose(again[1], vectors[0], atol=1e-5)  # batching and order change nothing


def test_requests_about_the_same_thing_form_one_theme_each(embedder: Embedder) -> None:
    """Three topics of six requests: three themes, each exactly one topic, named by its
    distinctive words, quoting its own requests."""
    built = build_themes(_feedback(), embedder)
    assert len(built.themes) == 3
    for theme in built.themes:
        topics = {key.split("-")[0] for key in theme.members}
        assert len(topics) == 1 and len(theme.members) == 6
        topic = topics.pop()
        assert any(topic in term for term in theme.label), theme.label
        assert len(theme.quotes) == 3 and set(theme.quotes) <= set(TOPICS[topic])


def test_theme_ids_do_not_depend_on_arrival_order(embedder: Embedder) -> None:
    """Shuffled input gives the same themes with the same ids: replays and every worker
    agree."""
    first = build_themes(_feedback(), embedder)
    shuffled = _feedback()
    random.Random(4).shuffle(shuffled)
    second = build_themes(shuffled, embedder)
    assert [(t.id, t.members) for t in first.themes] == [(t.id, t.members) for t in second.themes]


def test_asking_for_k_themes_gives_k(embedder: Embedder) -> None:
    """With k = 2 two topics share a theme; with k = 3 they part."""
    assert len(build_themes(_feedback(), embedder, k=2).themes) == 2
    assert len(build_themes(_feedback(), embedder, k=3).themes) == 3


def test_a_new_request_joins_the_nearest_theme_or_seeds_a_new_one(embedder: Embedder) -> None:
    """After a build, a card question joins the card theme; a text like no theme seeds a
    theme of its own, which the next like it joins."""
    built = build_themes(_feedback(), embedder)
    card = built.theme_of("card-0")
    late = "my card still has not been delivered"
    joined = built.join("new-1", embedder.embed([late])[0], late)
    assert joined == card and built.theme_of("new-1") == card
    zoo = "the zebra enclosure at the aquarium"
    seeded = built.join("new-2", embedder.embed([zoo])[0], zoo)
    assert seeded not in (card, UNCLASSIFIED) and built.theme_of("new-2") == seeded
    again = "zebra enclosure at the aquarium, again"
    assert built.join("new-3", embedder.embed([again])[0], again) == seeded
    assert built.theme(seeded).quotes == [zoo]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t",
        "help",
        "😀😀😀",
        "12345 67890",
        "<p></p>",
    ],
)
def test_texts_that_say_too_little_are_unclassified(embedder: Embedder, text: str) -> None:
    """Empty, blank, one-word, emoji-only and digit-only texts go to the unclassified
    bucket; the rest still form their themes."""
    cleaned = request_text(text, None)
    assert not classifiable(cleaned)
    built = build_themes([*_feedback(), Feedback("odd", cleaned)], embedder)
    assert built.theme_of("odd") == UNCLASSIFIED and len(built.themes) == 3


def test_huge_html_and_other_scripts_flow_through(embedder: Embedder) -> None:
    """A 1 MB HTML body, Cyrillic and Japanese requests: no crash, each placed somewhere."""
    odd = [
        Feedback(
            "big", request_text("Export fails", "<p>" + "the export fails " * 70_000 + "</p>")
        ),
        Feedback("ru", request_text("Карта не пришла", "Моя карта до сих пор не пришла")),
        Feedback(
            "ja", request_text("カードが届きません", "二週間前に注文したカードがまだ届きません")
        ),
    ]
    built = build_themes([*_feedback(), *odd], embedder)
    assert all(built.theme_of(f.key) is not None for f in odd)
    assert built.theme_of("big") == built.theme_of("export-0")


def test_grouping_is_deterministic_and_finds_separated_groups() -> None:
    """Four tight, well-apart groups of random vectors: four groups, the same twice."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 32))
    points = np.vstack([c + 0.05 * rng.normal(size=(25, 32)) for c in centres])
    labels = group(points)
    assert len(set(labels.tolist())) == 4
    assert all(len(set(labels[i * 25 : (i + 1) * 25].tolist())) == 1 for i in range(4))
    assert (group(points) == labels).all()


def test_names_come_from_what_sets_a_theme_apart() -> None:
    """Words every theme uses never name one; placeholders from scrubbing neither."""
    names = distinctive_terms(
        [
            ["my account card arrived late [email]", "account card arrival"],
            ["my account refund missing [phone]", "account refund late"],
        ]
    )
    assert "card" in " ".join(names[0]) and "refund" in " ".join(names[1])
    assert not any(w in " ".join(n) for n in names for w in ("email", "phone"))


def test_evaluate_scores_a_labelled_csv_and_refuses_one_without_labels(
    embedder: Embedder, tmp_path: Path
) -> None:
    """The labelled topics score ARI and NMI 1.0 at k = 3; a CSV with no label column
    gets one clear error."""
    path = tmp_path / "labelled.csv"
    lines = ["id,text,label"] + [f'{f.key},"{f.text}",{f.key.split("-")[0]}' for f in _feedback()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = evaluate_csv(path, embedder, k=3)
    assert (report["messages"], report["labels"], report["themes"]) == (18, 3, 3)
    assert report["ari"] == 1.0 and report["nmi"] == 1.0
    assert report["messages_per_second"] > 0
    bad = tmp_path / "unlabelled.csv"
    bad.write_text("id,text\n1,hello there\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing column"):
        evaluate_csv(bad, embedder)
