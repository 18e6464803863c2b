"""Random draws the feed uses: Poisson counts per day and weighted picks from small tables."""

from __future__ import annotations

import math
import random


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation above a mean of 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    """One value from ``(value, weight)`` pairs."""
    return rng.choices([value for value, _ in table], weights=[w for _, w in table])[0]
