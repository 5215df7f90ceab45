"""Feedback themes: quality on labelled feedback, speed on one core, memory at 100k.

Quality: the dev set (``shared/datasets/feedback-dev``, 2,310 messages, 77 intents) through
``themes.evaluate`` (the production pipeline), with k = 77 and with the number of themes
the hub chooses itself; baseline: TF-IDF + k-means (k = 77), the dev set's documented
baseline, in the same run. Speed: embedding plus grouping per second with the process
pinned to one core and every thread pool at one thread (target >= 100/s). Memory: the
growth of the process's peak RSS while grouping 100k request vectors (20k with --quick)
made from the dev set's vectors with noise (embedding cost is linear and measured above).
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from bench.common import Result
from core.request_text import request_text
from hub.read_model import ReadModel
from hub.theme_service import ThemeService
from themes.clustering import group
from themes.embedding import Embedder
from themes.evaluate import evaluate_csv, read_labelled

DEV = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "feedback-dev" / "messages.csv"


def _tfidf_baseline(texts: list[str], labels: list[str]) -> tuple[float, float]:
    vectors = TfidfVectorizer().fit_transform(texts)
    found = KMeans(77, n_init=10, random_state=0).fit_predict(vectors)
    return adjusted_rand_score(labels, found), normalized_mutual_info_score(labels, found)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _request(key: str, text: str) -> dict[str, object]:
    return {"kind": "customer_request", "key": key, "text": request_text(text, None),
            "opened_at": "2026-11-01T09:00:00.000000Z", "statuses": [], "links": {},
            "escalations": [], "closed_at": None, "account": None}  # fmt: skip


async def _join_latency(texts: list[str], embedder: Embedder, arrivals: int) -> list[float]:
    """Seconds from a request reaching the read model to its theme, through the worker's
    own ThemeService ticking once a second, after the dev set's themes are built."""
    model = ReadModel("bench-changelog")
    for n, text in enumerate(texts):
        model.apply("bench-changelog", f"customer_request/dev-{n}", _request(f"dev-{n}", text))
    model.mark_caught_up()
    service = ThemeService(model, embedder, rebuild_seconds=3600, tick_seconds=1.0)
    await service.refresh()
    task = asyncio.create_task(service.run())
    latencies = []
    try:
        for n in range(arrivals):
            key = f"new-{n}"
            arrived = time.monotonic()
            model.apply("bench-changelog", f"customer_request/{key}", _request(key, texts[n]))
            while service.current is None or service.current.theme_of(key) is None:
                await asyncio.sleep(0.05)
            latencies.append(time.monotonic() - arrived)
            await asyncio.sleep(0.3)  # arrivals spread over the ticks
    finally:
        task.cancel()
    return latencies


def run(quick: bool) -> list[Result]:
    rows = read_labelled(DEV)
    texts, labels = [t for _, t, _ in rows], [label for _, _, label in rows]
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    with threadpool_limits(1):
        tfidf_ari, tfidf_nmi = _tfidf_baseline(texts, labels)
        embedder = Embedder(threads=1)
        fixed = evaluate_csv(DEV, embedder, 77)
        chosen = evaluate_csv(DEV, embedder, None)
        vectors = embedder.embed(texts)
        size = 20_000 if quick else 100_000
        rng = np.random.default_rng(0)
        many = vectors[rng.integers(0, len(vectors), size)]
        many = many + rng.normal(scale=0.02, size=many.shape).astype(np.float32)
        before = _peak_rss_mib()
        started = time.perf_counter()
        group(many)
        grouping = time.perf_counter() - started
        grown = _peak_rss_mib() - before + many.nbytes / 2**20
        latencies = sorted(asyncio.run(_join_latency(texts, embedder, 10 if quick else 40)))
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return [
        Result("themes_ari_k77", fixed["ari"], "ARI", tfidf_ari,
               note=f"NMI {fixed['nmi']} (TF-IDF {tfidf_nmi:.3f}); targets ARI >= 0.5, NMI >= 0.8"),
        Result("themes_nmi_k77", fixed["nmi"], "NMI", tfidf_nmi, note="target >= 0.8"),
        Result("themes_ari_chosen_k", chosen["ari"], "ARI", tfidf_ari,
               note=f"{chosen['themes']} themes chosen for 77 labels; NMI {chosen['nmi']}"),
        Result("themes_requests_per_second_one_core", fixed["messages_per_second"], "requests/s",
               100.0, note="embedding + grouping, one core; baseline: the 100/s target"),
        Result(f"themes_grouping_memory_{size // 1000}k", grown, "MiB", 1024.0,
               higher_is_better=False,
               note=f"the vectors plus peak RSS growth grouping {size:,} of them "
                    f"({grouping:.1f} s); baseline: the 1 GiB target"),
        Result("themes_join_latency_p99", p99, "s", 5.0, higher_is_better=False,
               note=f"{len(latencies)} new requests joining the dev set's themes through the "
                    "worker's ThemeService (1 s tick); baseline: the 5 s target"),
    ]  # fmt: skip
