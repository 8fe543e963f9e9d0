"""Calibration of the judge's raw score: temperature (+ bias) scaling and ECE.

The judge's raw score is z = logit(yes) − logit(no); P(correct) = sigmoid(z / T + b).
Fitting T and b by maximum likelihood on a validation split (never on held-out
problems) makes "87%" mean what it says; ECE (10 equal-width bins,
``winnow.judge.base.numeric``) measures how well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from winnow.judge.base.numeric import expected_calibration_error, sigmoid


@dataclass
class Calibration:
    """P = sigmoid(z / temperature + bias)."""

    method: str = "identity"  # "identity" | "temperature" | "temperature+bias"
    temperature: float = 1.0
    bias: float = 0.0
    n: int = 0
    ece_before: float | None = None
    ece_after: float | None = None

    def apply(self, z: Sequence[float] | np.ndarray | float) -> np.ndarray:
        return sigmoid(np.asarray(z, dtype=np.float64) / self.temperature + self.bias)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration:
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        cal = cls(**known)
        if not (cal.temperature > 0 and np.isfinite(cal.temperature) and np.isfinite(cal.bias)):
            raise ValueError(f"invalid calibration {data}: temperature must be > 0, bias finite")
        return cal


def _nll(x: np.ndarray, y: np.ndarray, a: float, b: float) -> float:
    """The negative log-likelihood of labels ``y`` under P = sigmoid(a·x + b)."""
    t = a * x + b
    return float(np.sum(np.logaddexp(0.0, t) - y * t))


def fit(z: Sequence[float], labels: Sequence[int], with_bias: bool = True, iterations: int = 100) -> Calibration:
    """Maximum-likelihood temperature (and bias) by Newton's method on (a, b) where
    P = sigmoid(a·z + b) and T = 1/a; a is kept positive so the order never flips. Each step
    is halved until the likelihood improves: on a few scores that rank the wrong way (a short
    run's validation) the plain step ran away (T = 10⁴, b = −3·10⁶: every P was 0)."""
    x = np.asarray(z, dtype=np.float64)
    labelled = np.asarray(labels, dtype=np.float64)
    if x.size < 2 or labelled.min() == labelled.max():
        return Calibration(method="identity", n=int(x.size))
    # Platt's targets: (n₊ + 1)/(n₊ + 2) and 1/(n₋ + 2), not 1 and 0, so that a few scores
    # that separate perfectly do not drive T to 0 (every P 0 or 1); on thousands, no change.
    n_pos = float(labelled.sum())
    n_neg = float(labelled.size - n_pos)
    y = np.where(labelled == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0
    ridge = 1e-6
    loss = _nll(x, y, a, b)
    for _ in range(iterations):
        p = sigmoid(a * x + b)
        w = p * (1 - p) + 1e-12
        g_a = float(np.sum((p - y) * x))
        g_b = float(np.sum(p - y)) if with_bias else 0.0
        h_aa = float(np.sum(w * x * x)) + ridge
        h_ab = float(np.sum(w * x)) if with_bias else 0.0
        h_bb = float(np.sum(w)) + ridge if with_bias else 1.0
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        da = (h_bb * g_a - h_ab * g_b) / det
        db = (h_aa * g_b - h_ab * g_a) / det if with_bias else 0.0
        step = 1.0
        while step > 1e-10:
            a_new, b_new = max(a - step * da, 1e-4), b - step * db
            new_loss = _nll(x, y, a_new, b_new)
            if new_loss <= loss:
                break
            step /= 2
        else:
            break  # no step improves: at the optimum (or as near as floats tell)
        done = abs(a_new - a) < 1e-9 and abs(b_new - b) < 1e-9
        a, b, loss = a_new, b_new, new_loss
        if done:
            break
    cal = Calibration(
        method="temperature+bias" if with_bias else "temperature", temperature=1.0 / a, bias=b, n=int(x.size)
    )
    cal.ece_before = expected_calibration_error(labelled, sigmoid(x))
    cal.ece_after = expected_calibration_error(labelled, cal.apply(x))
    return cal
