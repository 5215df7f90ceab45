"""Throughput-based Monte Carlo forecasting: when will the remaining work be done?

Each run draws past weekly throughputs at random (with replacement) until the remaining
items are used up; the spread of the runs' week counts is the forecast. Percentile 85 is
the usual commitment level (ActionableAgile, Jira Align): later than that is a slip.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Forecast", "forecast_weeks", "MAX_WEEKS"]

MAX_WEEKS = 520  # ten years: "never", as far as a roadmap is concerned


@dataclass(frozen=True)
class Forecast:
    remaining: int
    runs: int
    percentile: int
    weeks: float  # weeks from now at ``percentile``; math.inf when throughput is all zero
    p50_weeks: float

    @property
    def never(self) -> bool:
        return math.isinf(self.weeks)


def _run(samples: Sequence[float], remaining: float, rng: random.Random) -> int:
    weeks = 0
    while remaining > 0 and weeks < MAX_WEEKS:
        remaining -= samples[rng.randrange(len(samples))]
        weeks += 1
    return weeks


def _at(sorted_weeks: list[int], percentile: int) -> float:
    # Nearest rank: the smallest value with at least ``percentile``% of runs at or below.
    rank = max(1, math.ceil(percentile / 100 * len(sorted_weeks)))
    value = sorted_weeks[rank - 1]
    return math.inf if value >= MAX_WEEKS else float(value)


def forecast_weeks(
    weekly_throughput: Sequence[float],
    remaining: int,
    *,
    runs: int = 2000,
    percentile: int = 85,
    seed: int | None = None,
) -> Forecast:
    """Weeks until ``remaining`` items are done, at ``percentile`` confidence."""
    if remaining <= 0:
        return Forecast(0, 0, percentile, 0.0, 0.0)
    if not weekly_throughput or not any(weekly_throughput):
        return Forecast(remaining, 0, percentile, math.inf, math.inf)
    rng = random.Random(seed)
    weeks = sorted(_run(weekly_throughput, remaining, rng) for _ in range(runs))
    return Forecast(remaining, runs, percentile, _at(weeks, percentile), _at(weeks, 50))
