"""How well themes match labelled feedback: the check anyone can run on their own data.

``hub themes evaluate FILE.csv`` reads ``id,text,label`` rows, puts each text through the
same path a request takes (``core.request_text``: HTML out, personal data out, capped),
builds themes with the production pipeline and scores them against the labels with the
adjusted Rand index and normalized mutual information.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from core.errors import ConfigError
from core.request_text import request_text
from themes.model import UNCLASSIFIED, Embeds, Feedback, build_themes

__all__ = ["evaluate_csv", "read_labelled"]


def read_labelled(path: Path) -> list[tuple[str, str, str]]:
    """``(id, text, label)`` rows of a CSV with those three columns (others ignored)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"text", "label"} - set(reader.fieldnames or [])
            if missing:
                raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            return [
                (row.get("id") or str(n), row["text"] or "", row["label"] or "")
                for n, row in enumerate(reader, start=1)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def evaluate_csv(path: Path, embedder: Embeds, k: int | None = None) -> dict[str, Any]:
    """Scores and speed of the theme pipeline on a labelled CSV."""
    rows = read_labelled(path)
    if not rows:
        raise ConfigError(f"{path}: no rows to evaluate")
    keys = [f"{n:08d}" for n in range(len(rows))]  # file order, whatever the ids look like
    feedback = [
        Feedback(key, request_text(text, None))
        for key, (_, text, _) in zip(keys, rows, strict=True)
    ]
    started = time.perf_counter()
    built = build_themes(feedback, embedder, k)
    seconds = time.perf_counter() - started
    predicted = [built.theme_of(key) or UNCLASSIFIED for key in keys]
    truth = [label for _, _, label in rows]
    return {
        "messages": len(rows),
        "labels": len(set(truth)),
        "themes": len(built.themes),
        "unclassified": len(built.unclassified),
        "k": k,
        "ari": round(float(adjusted_rand_score(truth, predicted)), 4),
        "nmi": round(float(normalized_mutual_info_score(truth, predicted)), 4),
        "seconds": round(seconds, 2),
        "messages_per_second": round(len(rows) / seconds, 1) if seconds else None,
    }
