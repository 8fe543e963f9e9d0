"""Trivial baselines: scores from what a candidate looks like, not what it does.

A judge's figure means something only beside these: if the length of a candidate, or how
it was printed, ranks as well as the judge, the judge may have learned the data set's
printing rather than bugs. ``length``: longer candidates first; ``layout``: the share of
blank and comment lines (an original as its author wrote it has them; a re-printed
variant has none). Each is turned into a p_correct in [0, 1] by its rank within the
problem (ties share a rank), so that pairwise and AUC figures compare with the judge's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from winnow.judge.dataset.records import ScoreRecord

BASELINES = ("length", "layout")


def _length(code: str) -> float:
    return float(len(code.strip()))


def _layout(code: str) -> float:
    lines = code.strip("\n").splitlines() or [""]
    loose = sum(1 for ln in lines if not ln.strip() or ln.strip().startswith(("#", "//", "*", "/*")))
    return loose / len(lines)


BASELINE_FEATURES: Mapping[str, Callable[[str], float]] = {"length": _length, "layout": _layout}


def baseline_scores(labels: Iterable[Mapping[str, object]], name: str) -> list[ScoreRecord]:
    """Score records (problem_id, candidate_id, p_correct) of baseline ``name`` for ``labels``."""
    feature = BASELINE_FEATURES[name]
    by_problem: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for record in labels:
        by_problem[str(record["problem_id"])].append((str(record["candidate_id"]), feature(str(record.get("code", "")))))
    out: list[ScoreRecord] = []
    for pid, items in by_problem.items():
        values = sorted({v for _, v in items})
        rank = {v: (i + 0.5) / len(values) for i, v in enumerate(values)}
        out.extend({"problem_id": pid, "candidate_id": cid, "p_correct": round(rank[v], 6)} for cid, v in items)
    return out
