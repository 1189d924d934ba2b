"""The statistics behind every evaluation figure: hit rate, its interval, expectancy, edge.

* **Hit rate** = take-profit first / (take-profit first + stop-loss first). Ambiguous bars (both
  levels inside one 5m bar) and open signals are neither a win nor a loss.
* **Wilson 95 % interval** of the hit rate: unlike the normal approximation it stays inside
  [0, 1] and is honest for the small counts a pattern produces in a month.
* **Expectancy in R** (R = the stop distance): a win counts ``tp / sl`` R, a loss −1 R, and every
  decided trade pays the spread, ``spread / sl`` R. So a 120/60 pattern with a 1 pip spread wins
  2 − 1/60 R and loses 1 + 1/60 R.
* **Edge** = hit rate − baseline hit rate, with a bootstrap 95 % interval. Resampling ``n``
  binary outcomes with replacement is exactly a binomial draw with the observed rate, so the
  bootstrap draws ``B`` binomials for the signals and ``B`` for the baseline from one
  generator with a fixed seed: the same inputs always give the same interval, in any process.
"""

from __future__ import annotations

import math

import numpy as np

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054
#: Bootstrap resamples and the fixed seed that makes the interval reproducible.
BOOTSTRAP_SAMPLES = 4000
BOOTSTRAP_SEED = 20260312


def hit_rate(wins: int, losses: int) -> float | None:
    """Wins / (wins + losses), or None when nothing was decided."""
    decided = wins + losses
    return wins / decided if decided else None


def wilson_interval(wins: int, decided: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of ``wins / decided``; None when ``decided`` is 0."""
    if decided <= 0:
        return None
    if not 0 <= wins <= decided:
        raise ValueError(f"wins ({wins}) must be between 0 and decided ({decided})")
    p = wins / decided
    z2 = z * z
    centre = (p + z2 / (2 * decided)) / (1 + z2 / decided)
    half = z * math.sqrt(p * (1 - p) / decided + z2 / (4 * decided * decided)) / (1 + z2 / decided)
    return max(0.0, centre - half), min(1.0, centre + half)


def expectancy_r(
    wins: int, losses: int, take_profit_pips: float, stop_loss_pips: float, spread_pips: float
) -> float | None:
    """Mean R per decided trade: wins × tp/sl − losses × 1, minus the spread in R each."""
    decided = wins + losses
    if decided == 0:
        return None
    if stop_loss_pips <= 0:
        raise ValueError(f"stop_loss_pips must be positive, got {stop_loss_pips}")
    reward = take_profit_pips / stop_loss_pips
    cost = spread_pips / stop_loss_pips
    return (wins * reward - losses) / decided - cost


def bootstrap_edge(
    wins: int,
    decided: int,
    base_wins: int,
    base_decided: int,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Bootstrap 95 % interval of (signal hit rate − baseline hit rate); None without data."""
    if decided <= 0 or base_decided <= 0:
        return None
    rng = np.random.Generator(np.random.PCG64(seed))
    signal = rng.binomial(decided, wins / decided, size=samples) / decided
    base = rng.binomial(base_decided, base_wins / base_decided, size=samples) / base_decided
    low, high = np.quantile(signal - base, [0.025, 0.975])
    return float(low), float(high)


def quartiles(values: np.ndarray) -> dict[str, float | None]:
    """Median and quartiles of the finite values (None when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"n": 0, "q1": None, "median": None, "q3": None}
    q1, median, q3 = np.quantile(finite, [0.25, 0.5, 0.75])
    return {"n": int(finite.size), "q1": float(q1), "median": float(median), "q3": float(q3)}


def median_or_none(values: np.ndarray) -> float | None:
    """Median of the finite values, or None."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None
