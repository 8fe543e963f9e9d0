"""The figures that say whether a judge sees bugs, not just failed attempts.

- *within-task pairwise accuracy*: over every (passing, failing) pair of candidates of one
  task, how often the passing one scores higher (ties count half) — what best-of-N needs,
  and blind to how scores compare across tasks;
- *subtle AUC*: ROC-AUC over reference-like candidates (the canonical solution and its
  behaviour-keeping rewrites) and their single-point bugs only, so generator samples —
  easy negatives — cannot carry the figure;
- *recall per bug class*: of the failing mutants of each class, the fraction the judge
  scores below the threshold;
- *pairwise per bug class*: within-task pairwise accuracy of the reference-like passing
  candidates against the failing mutants of one class only — threshold-free, so it reads
  the same for an uncalibrated score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from winnow.judge.evaluation.metrics import roc_auc, task_pairs, within_task_pairwise

REFERENCE_LIKE = frozenset({"canonical", "rewrite"})
SUBTLE_ORIGINS = REFERENCE_LIKE | {"mutant"}


@dataclass(frozen=True)
class Judged:
    """One labelled, scored candidate with where it came from."""

    problem_id: str
    p_correct: float
    passed: bool
    origin: str | None = None  # canonical | rewrite | mutant | sample
    bug_class: str | None = None


def pairwise_accuracy(items: Sequence[Judged]) -> tuple[float | None, int]:
    """(within-task pairwise accuracy, number of (pass, fail) pairs)."""
    ids = [c.problem_id for c in items]
    y = [int(c.passed) for c in items]
    return within_task_pairwise(ids, y, [c.p_correct for c in items]), len(task_pairs(ids, y))


def auc(items: Sequence[Judged]) -> float | None:
    """ROC-AUC of ``p_correct`` over ``items`` (None without both classes)."""
    return roc_auc([int(c.passed) for c in items], [c.p_correct for c in items])


class ClassRecall(TypedDict):
    """Of one class's failing mutants: how many, and the share scored below the threshold."""

    n: int
    recall: float


class ClassPairwise(TypedDict):
    """Reference-like passing candidates against one class's failing mutants, pair by pair."""

    n_pairs: int
    pairwise: float | None


class BugFigures(TypedDict):
    """What :func:`bug_metrics` reports (the figures of the module doc, by name)."""

    pairwise: float | None
    n_pairs: int
    subtle_auc: float | None
    subtle_pairwise: float | None
    n_subtle: int
    n_subtle_pairs: int
    recall_by_class: dict[str, ClassRecall]
    pairwise_by_class: dict[str, ClassPairwise]


def bug_metrics(items: Sequence[Judged], threshold: float = 0.5) -> BugFigures:
    """Pairwise accuracy (all candidates and the subtle set), subtle AUC, recall per class."""
    subtle = [c for c in items if c.origin in SUBTLE_ORIGINS]
    pairwise, n_pairs = pairwise_accuracy(items)
    subtle_pairwise, n_subtle_pairs = pairwise_accuracy(subtle)
    recall: dict[str, ClassRecall] = {}
    by_class: dict[str, list[Judged]] = defaultdict(list)
    for c in items:
        if c.origin == "mutant" and not c.passed:
            by_class[c.bug_class or "unknown"].append(c)
    references = [c for c in items if c.origin in REFERENCE_LIKE and c.passed]
    by_class_pairwise: dict[str, ClassPairwise] = {}
    for name in sorted(by_class):
        group = by_class[name]
        recall[name] = {"n": len(group), "recall": sum(c.p_correct < threshold for c in group) / len(group)}
        value, n = pairwise_accuracy([*references, *group])
        by_class_pairwise[name] = {"n_pairs": n, "pairwise": value}
    return {
        "pairwise": pairwise,
        "n_pairs": n_pairs,
        "subtle_auc": auc(subtle),
        "subtle_pairwise": subtle_pairwise,
        "n_subtle": len(subtle),
        "n_subtle_pairs": n_subtle_pairs,
        "recall_by_class": recall,
        "pairwise_by_class": by_class_pairwise,
    }
