"""How good a judge is: classification, calibration and ranking figures.

Classification treats ``passed`` as the positive class and ``p_correct >= threshold`` as a
positive prediction. Ranking asks what a judge is for: among several candidates of one
problem, does its top choice pass more often than a random pick (the expected pass@1 of
the pool), than the generator's own log-probability, and how far is it from an oracle
that always finds a passing candidate when there is one (pass@k)?

scikit-learn computes what it has (imported lazily: it is in the optional ``[train]``
extra); ECE comes from ``winnow.judge.base.numeric`` (the code the judge's calibration uses), the
reliability bins and the ranking figures are computed here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TypedDict

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.numeric import expected_calibration_error

#: The keys of :func:`classification_metrics`, in report order.
CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "kappa", "mcc", "auc", "ece", "brier")
#: The keys of :func:`ranking_metrics`, in report order.
RANKING_KEYS = ("pass1_judge", "pass1_random", "pass1_logprob", "passk_oracle", "n_problems_ranked")


def _sklearn_metrics() -> ModuleType:
    """``sklearn.metrics``, or an error that says how to install it."""
    try:
        from sklearn import metrics
    except ImportError as exc:
        raise WinnowError(
            "evaluation needs scikit-learn: pip install 'winnow-lsp[train]' (or pip install scikit-learn)"
        ) from exc
    return metrics


def _finite(value: float) -> float | None:
    """A metric that is undefined (NaN) on this data is reported as None."""
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width probability bin of a reliability diagram."""

    low: float
    high: float
    count: int
    mean_p: float | None
    frac_positive: float | None


def reliability_bins(y_true: Sequence[int], p: Sequence[float], bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1] (the last one includes 1.0)."""
    members: list[list[int]] = [[] for _ in range(bins)]
    for i, prob in enumerate(p):
        members[min(int(prob * bins), bins - 1)].append(i)
    out = []
    for b, idx in enumerate(members):
        if idx:
            mean_p = sum(p[i] for i in idx) / len(idx)
            frac = sum(y_true[i] for i in idx) / len(idx)
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, len(idx), mean_p, frac))
        else:
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, 0, None, None))
    return out


class ClassificationFigures(TypedDict):
    """What :func:`classification_metrics` reports (docs/formats.md, ``winnow eval`` output)."""

    n: int
    n_positive: int
    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    kappa: float | None
    mcc: float
    auc: float | None
    ece: float
    brier: float


def classification_metrics(
    y_true: Sequence[int], p: Sequence[float], threshold: float = 0.5
) -> ClassificationFigures:
    """Accuracy, precision, recall, F1, Cohen's kappa, MCC, ROC-AUC, ECE and Brier score.

    Precision/recall/F1 are 0 where undefined (no positive predictions / labels); kappa and
    AUC are None where undefined (AUC needs both classes).
    """
    if len(y_true) != len(p):
        raise WinnowError("labels and scores differ in length")
    if not y_true:
        raise WinnowError("no labelled, scored candidates to evaluate")
    m = _sklearn_metrics()
    y = [int(bool(v)) for v in y_true]
    pred = [int(v >= threshold) for v in p]
    both_classes = 0 < sum(y) < len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined kappa/MCC on constant inputs: handled below
        kappa = _finite(m.cohen_kappa_score(y, pred)) if len(set(y) | set(pred)) > 1 else None
        return {
            "n": len(y),
            "n_positive": sum(y),
            "threshold": threshold,
            "accuracy": float(m.accuracy_score(y, pred)),
            "precision": float(m.precision_score(y, pred, zero_division=0)),
            "recall": float(m.recall_score(y, pred, zero_division=0)),
            "f1": float(m.f1_score(y, pred, zero_division=0)),
            "kappa": kappa,
            "mcc": float(m.matthews_corrcoef(y, pred)),
            "auc": float(m.roc_auc_score(y, p)) if both_classes else None,
            "ece": expected_calibration_error(y, p),
            "brier": float(m.brier_score_loss(y, p, pos_label=1)) if both_classes else _brier(y, p),
        }


def _brier(y: Sequence[int], p: Sequence[float]) -> float:
    return sum((pi - yi) ** 2 for yi, pi in zip(y, p, strict=True)) / len(y)


def roc_auc(y_true: Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC-AUC of any real-valued scores (probabilities or raw z); None without both classes."""
    y = [int(bool(v)) for v in y_true]
    if not 0 < sum(y) < len(y):
        return None
    return float(_sklearn_metrics().roc_auc_score(y, [float(s) for s in scores]))


def task_pairs(problem_ids: Sequence[str], y_true: Sequence[int]) -> list[tuple[int, int]]:
    """Every (passing index, failing index) pair of candidates of the same problem."""
    by_task: dict[str, tuple[list[int], list[int]]] = {}
    for i, (pid, label) in enumerate(zip(problem_ids, y_true, strict=True)):
        by_task.setdefault(pid, ([], []))[0 if label else 1].append(i)
    return [(p, f) for passing, failing in by_task.values() for p in passing for f in failing]


def within_task_pairwise(problem_ids: Sequence[str], y_true: Sequence[int], scores: Sequence[float]) -> float | None:
    """The share of (passing, failing) pairs of one problem where the passing candidate scores
    higher (ties count half): what best-of-N ranking needs. None when no problem has both."""
    pairs = task_pairs(problem_ids, y_true)
    if not pairs:
        return None
    wins = sum(1.0 if scores[p] > scores[f] else 0.5 if scores[p] == scores[f] else 0.0 for p, f in pairs)
    return wins / len(pairs)


@dataclass(frozen=True)
class Ranked:
    """One scored, labelled candidate of a problem, as ranking sees it."""

    candidate_id: str
    p_correct: float
    passed: bool
    mean_logprob: float | None = None


def _top_pass_rate(cands: Sequence[Ranked], key: str) -> float:
    """Whether the top-scored candidate passes; where several tie at the top, the expected
    pass rate of a random pick among them (ids carry no preference: "canonical" sorts first)."""
    best = max(float(getattr(c, key)) for c in cands)
    tied = [c for c in cands if float(getattr(c, key)) == best]
    return sum(c.passed for c in tied) / len(tied)


class RankingFigures(TypedDict):
    """What :func:`ranking_metrics` reports: pass@1 by each way of picking, over the problems ranked."""

    pass1_judge: float | None
    pass1_random: float | None
    pass1_logprob: float | None
    passk_oracle: float | None
    n_problems_ranked: int
    n_problems_logprob: int


def ranking_metrics(groups: Mapping[str, Sequence[Ranked]]) -> RankingFigures:
    """pass@1 of the judge's top pick vs a random pick vs the log-prob pick vs the oracle pass@k.

    Only problems with at least two candidates count. ``pass1_logprob`` uses the problems
    whose candidates all carry ``mean_logprob`` (None when none do).
    """
    ranked = {pid: c for pid, c in groups.items() if len(c) >= 2}
    n = len(ranked)
    if n == 0:
        return {
            "pass1_judge": None, "pass1_random": None, "pass1_logprob": None,
            "passk_oracle": None, "n_problems_ranked": 0, "n_problems_logprob": 0,
        }  # fmt: skip
    judge = sum(_top_pass_rate(c, "p_correct") for c in ranked.values()) / n
    random_pick = sum(sum(x.passed for x in c) / len(c) for c in ranked.values()) / n
    oracle = sum(any(x.passed for x in c) for c in ranked.values()) / n
    with_lp = [c for c in ranked.values() if all(x.mean_logprob is not None for x in c)]
    logprob = sum(_top_pass_rate(c, "mean_logprob") for c in with_lp) / len(with_lp) if with_lp else None
    return {
        "pass1_judge": judge,
        "pass1_random": random_pick,
        "pass1_logprob": logprob,
        "passk_oracle": oracle,
        "n_problems_ranked": n,
        "n_problems_logprob": len(with_lp),
    }
