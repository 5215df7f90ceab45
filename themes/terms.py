"""A theme's name: the terms that set its requests apart from every other theme's.

Class-based TF-IDF (as BERTopic labels topics): a term's frequency inside the theme,
weighted by how rare it is across themes, so "card arrive" names a theme while words
every request uses ("account", "help") name none. Placeholders left by scrubbing
(``[email]``, ``[phone]``) never become a theme's name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

__all__ = ["distinctive_terms"]

PHRASE_SHARE = 0.7

# What scrubbing puts in and what requests say whatever their topic.
_NOISE = frozenset({"email", "phone", "iban", "hi", "hello", "thanks", "thank", "please",
                    "hey", "just", "need", "want", "help", "did", "does", "doing", "don",
                    "got", "ve", "ll", "im", "isn", "didn", "doesn", "wasn", "like", "know",
                    "tell", "way", "able", "really", "sure"})  # fmt: skip
# Words scikit-learn's general list drops that name what customers ask about.
_CONTENT = frozenset({"top", "bill", "call", "system", "interest", "move", "show", "find",
                      "fill", "fire", "found", "front", "back", "full", "empty"})  # fmt: skip
_STOP = sorted((ENGLISH_STOP_WORDS | _NOISE) - _CONTENT)


def distinctive_terms(themes: Sequence[Sequence[str]], top: int = 4) -> list[list[str]]:
    """The ``top`` most distinctive terms (words or two-word phrases) of each theme's texts.

    A theme whose texts have no usable word gets an empty list."""
    texts = [text for theme in themes for text in theme]
    owner = np.repeat(np.arange(len(themes)), [len(theme) for theme in themes])
    if not any(text.strip() for text in texts):
        return [[] for _ in themes]
    vectorizer = CountVectorizer(
        stop_words=_STOP, ngram_range=(1, 2), token_pattern=r"(?u)\b[^\W\d_]{2,}\b"
    )
    try:  # each text on its own, so no phrase spans two requests
        per_text = vectorizer.fit_transform(texts).astype(np.float64)
    except ValueError:  # nothing but stop words anywhere
        return [[] for _ in themes]
    membership = sparse.csr_matrix(
        (np.ones(len(texts)), (owner, np.arange(len(texts)))), shape=(len(themes), len(texts))
    )
    counts = (membership @ per_text).tocsr()
    terms = vectorizer.get_feature_names_out()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    tf = counts.multiply(1 / np.maximum(totals, 1)[:, None]).tocsr()
    frequency = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log(1 + totals.mean() / np.maximum(frequency, 1))
    scores = tf.multiply(idf).tocsr()
    named = []
    for row in range(scores.shape[0]):
        line = scores.getrow(row)
        order = np.argsort(-line.data, kind="stable")
        chosen: dict[str, float] = {}
        for index, score in zip(line.indices[order][: top * 6], line.data[order], strict=False):
            term = str(terms[index])
            words = set(term.split())
            if any(words <= set(kept.split()) for kept in chosen):
                continue  # "card" after "card arrive" says nothing new
            inside = [kept for kept in chosen if set(kept.split()) < words]
            if inside:
                # a phrase replaces a word it contains when nearly as telling: "top up"
                # names better than "top", "integration longer" worse than "integration"
                if score < PHRASE_SHARE * max(chosen[kept] for kept in inside):
                    continue
                for kept in inside:
                    del chosen[kept]
            chosen[term] = float(score)
            if len(chosen) == top:
                break
        named.append(list(chosen))
    return named
