"""Small numeric helpers used across the layers, each written once.

``sigmoid`` and ``logsumexp`` turn the judge's Yes/No logits into probabilities;
``expected_calibration_error`` measures how well those probabilities are calibrated
(scikit-learn's argument order: labels first); ``percentile`` is the nearest-rank
percentile of latencies in the server's stats and the benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def sigmoid(x: np.ndarray | Sequence[float] | float) -> np.ndarray:
    """1 / (1 + e^-x), element-wise; x is clipped to ±60 so that it never overflows."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=np.float64), -60, 60)))


def logsumexp(values: np.ndarray) -> float:
    """log(sum(exp(values))) without overflow (the largest value is taken out first)."""
    m = float(values.max())
    return m + math.log(float(np.exp(values - m).sum()))


def expected_calibration_error(labels: Sequence[int], probs: Sequence[float], bins: int = 10) -> float:
    """ECE: the bin-size-weighted gap between mean confidence and accuracy over
    ``bins`` equal-width bins of [0, 1] (the last one includes 1.0); 0.0 for no data."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.size == 0:
        return 0.0
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() / p.size * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 ≤ q ≤ 1) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]
