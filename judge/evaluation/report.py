"""``winnow eval``: join a judge's scores with execution labels and report how good it is.

One scores file gives one column of figures; a second (``--scores-b``) is compared in the
same report, e.g. a fine-tuned judge against the zero-shot one. Output: a JSON object
(top-level keys for the first scores file, ``compare`` for the second), a markdown table,
and optionally a report directory with report.md, metrics.json, roc.png and reliability.png.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import candidate_key, read_jsonl
from winnow.judge.dataset.records import JsonRecord
from winnow.judge.evaluation.bug_metrics import BugFigures, Judged, bug_metrics
from winnow.judge.evaluation.metrics import (
    CLASSIFICATION_KEYS,
    RANKING_KEYS,
    ClassificationFigures,
    Ranked,
    RankingFigures,
    classification_metrics,
    ranking_metrics,
    reliability_bins,
)

#: The keys of :func:`bug_metrics` in the table (recall per class follows as rows).
BUG_KEYS = ("pairwise", "subtle_auc", "subtle_pairwise", "n_subtle")


@dataclass(frozen=True)
class Scored:
    """A candidate with both a label (from execution) and a judge score."""

    problem_id: str
    candidate_id: str
    passed: bool
    p_correct: float
    mean_logprob: float | None
    origin: str | None = None  # canonical | rewrite | mutant | sample (from the labels)
    bug_class: str | None = None
    rank_score: float | None = None  # what orders a problem's candidates, when not p_correct (a ranker)


class JoinCounts(TypedDict):
    """How a labels file and a scores file matched (by problem_id, candidate_id)."""

    n_labels: int
    n_scores: int
    n_joined: int
    unscored_labels: int
    unlabelled_scores: int


class Figures(ClassificationFigures, RankingFigures, BugFigures):
    """Every figure of one set of labelled, scored candidates."""

    pick_by: str  # p_correct | rank_score: what chose each problem's top pick
    reliability: list[JsonRecord]  # the fields of each ``metrics.ReliabilityBin``


class RegimeFigures(Figures):
    """The figures of the problems of one regime (e.g. with docstring examples)."""

    n_problems_in_regime: int


class JudgeFigures(Figures, JoinCounts, total=False):
    """One judge's column of a report (``winnow eval``; docs/formats.md lists the keys)."""

    by_regime: dict[str, RegimeFigures]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def join(labels: Iterable[JsonRecord], scores: Iterable[JsonRecord]) -> tuple[list[Scored], JoinCounts]:
    """Candidates present in both files (by problem_id, candidate_id), and counts of the rest."""
    label_by_key: dict[tuple[str, str], JsonRecord] = {}
    for number, record in enumerate(labels, start=1):
        if record.get("status") not in ("passed", "failed", "timeout", "error"):
            raise WinnowError(f"label {number}: status must be passed, failed, timeout or error")
        label_by_key[candidate_key(record)] = record
    joined: list[Scored] = []
    unlabelled = 0
    seen: set[tuple[str, str]] = set()
    for number, record in enumerate(scores, start=1):
        key = candidate_key(record)
        p = _number(record.get("p_correct"))
        if p is None or not 0.0 <= p <= 1.0:
            raise WinnowError(f"score {number} ({key[0]} {key[1]}): p_correct must be a number in [0, 1]")
        if key in seen:
            continue
        seen.add(key)
        label = label_by_key.get(key)
        if label is None:
            unlabelled += 1
            continue
        logprob = _number(label.get("mean_logprob"))
        if logprob is None:
            logprob = _number(record.get("mean_logprob"))
        joined.append(
            Scored(
                key[0], key[1], label["status"] == "passed", p, logprob,
                label.get("origin"), label.get("bug_class"), _number(record.get("rank_score")),
            )
        )
    counts: JoinCounts = {
        "n_labels": len(label_by_key), "n_scores": len(seen), "n_joined": len(joined),
        "unscored_labels": len(label_by_key) - len(joined), "unlabelled_scores": unlabelled,
    }  # fmt: skip
    if not joined:
        raise WinnowError(
            "no candidate appears in both the labels and the scores (matched on problem_id, candidate_id)"
        )
    return joined, counts


def evaluate(
    labels: list[JsonRecord],
    scores: list[JsonRecord],
    threshold: float = 0.5,
    regimes: Mapping[str, str] | None = None,
) -> JudgeFigures:
    """All figures for one judge: classification, calibration, ranking and join counts;
    with ``regimes`` (problem id → e.g. "with_examples" / "without_examples"), the same
    figures again for each regime under ``by_regime``, since a figure earned where
    docstrings carry examples says nothing about code without them."""
    joined, counts = join(labels, scores)
    out: JudgeFigures = {**_figures(joined, threshold), **counts}
    if regimes:
        out["by_regime"] = _by_regime(joined, regimes, threshold)
    return out


def _by_regime(joined: list[Scored], regimes: Mapping[str, str], threshold: float) -> dict[str, RegimeFigures]:
    """The figures of each regime that has candidates, in the regimes' order."""
    out: dict[str, RegimeFigures] = {}
    for regime in sorted(set(regimes.values())):
        part = [s for s in joined if regimes.get(s.problem_id) == regime]
        if part:
            out[regime] = {**_figures(part, threshold), "n_problems_in_regime": len({s.problem_id for s in part})}
    return out


def _figures(joined: list[Scored], threshold: float) -> Figures:
    y = [int(s.passed) for s in joined]
    p = [s.p_correct for s in joined]
    groups: dict[str, list[Ranked]] = defaultdict(list)
    ranked_by = "rank_score" if any(s.rank_score is not None for s in joined) else "p_correct"
    for s in joined:
        order = s.rank_score if s.rank_score is not None else s.p_correct
        groups[s.problem_id].append(Ranked(s.candidate_id, order, s.passed, s.mean_logprob))
    judged = [Judged(s.problem_id, s.p_correct, s.passed, s.origin, s.bug_class) for s in joined]
    return {
        **classification_metrics(y, p, threshold),
        **ranking_metrics(groups),
        "pick_by": ranked_by,  # the top pick follows the ranker where the scores carry one
        **bug_metrics(judged, threshold),
        "reliability": [b.__dict__ for b in reliability_bins(y, p)],
    }


def format_figure(value: object) -> str:
    """A figure for people: three decimals, a dash when missing."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(figures: Mapping[str, JudgeFigures]) -> str:
    """One row per metric, one column per judge."""
    results = {name: cast(JsonRecord, f) for name, f in figures.items()}  # read key by key, as JSON
    names = list(results)
    rows = [
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    keys = (*CLASSIFICATION_KEYS, *BUG_KEYS, *RANKING_KEYS, "pick_by", "n_problems_logprob", "n", "n_positive")
    for key in keys:
        rows.append(f"| {key} | " + " | ".join(format_figure(results[n].get(key)) for n in names) + " |")
    # (row label, results key, figure, its count and how the count is shown)
    per_class = (("recall", "recall_by_class", "recall", "n", "n"),
                 ("pairwise", "pairwise_by_class", "pairwise", "n_pairs", "pairs"))
    for label, key, figure, count, shown in per_class:
        for c in sorted({c for n in names for c in results[n].get(key, {})}):
            cells = []
            for n in names:
                r = results[n].get(key, {}).get(c)
                cells.append(f"{format_figure(r[figure])} ({shown}={r[count]})" if r else "–")
            rows.append(f"| {label}: {c} | " + " | ".join(cells) + " |")
    regimes = sorted({r for n in names for r in results[n].get("by_regime", {})})
    for regime in regimes:
        for key in ("auc", "subtle_auc", "pairwise", "pass1_judge", "n"):
            cells = [format_figure(results[n].get("by_regime", {}).get(regime, {}).get(key)) for n in names]
            rows.append(f"| {regime}: {key} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def combined_json(results: Mapping[str, JudgeFigures]) -> JsonRecord:
    """The ``--json`` object: the first judge's figures at top level, the second under
    ``compare``, every one by name under ``all`` (when there are more than two)."""
    names = list(results)
    out: JsonRecord = {"name": names[0], **results[names[0]]}
    if len(names) > 1:
        out["compare"] = {"name": names[1], **results[names[1]]}
    if len(names) > 2:
        out["all"] = {name: results[name] for name in names}
    return out


def _plots(
    report_dir: Path, results: Mapping[str, JudgeFigures], curves: dict[str, tuple[list[int], list[float]]]
) -> None:
    """roc.png and reliability.png: every judge's curve on one plot each."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise WinnowError(
            "plots need matplotlib: pip install 'winnow-lsp[train]' (or pip install matplotlib)"
        ) from exc
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    for name, (y, p) in curves.items():
        auc = results[name].get("auc")
        if auc is None:
            continue
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC: passing vs failing candidates")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(report_dir / "roc.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for name in curves:
        bins = [b for b in results[name]["reliability"] if b["count"]]
        ax.plot(
            [b["mean_p"] for b in bins],
            [b["frac_positive"] for b in bins],
            marker="o",
            label=f"{name} (ECE {results[name]['ece']:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted P(correct)")
    ax.set_ylabel("fraction that passed")
    ax.set_title("Reliability (10 equal-width bins)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(report_dir / "reliability.png", dpi=120)
    plt.close(fig)


def write_report(
    report_dir: str | os.PathLike[str],
    results: Mapping[str, JudgeFigures],
    curves: dict[str, tuple[list[int], list[float]]],
    sources: dict[str, str],
) -> Path:
    """report.md, metrics.json, roc.png and reliability.png in ``report_dir``."""
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(combined_json(results), indent=2) + "\n", encoding="utf-8")
    _plots(out, results, curves)
    first = results[next(iter(results))]
    lines = [
        "# Judge evaluation",
        "",
        *(f"- {name}: `{path}`" for name, path in sources.items()),
        f"- threshold {first['threshold']}; positive = the candidate passed its tests",
        "",
        markdown_table(results),
        "pass@1 figures count problems with at least two scored candidates: the judge's top "
        "choice, the expected pass rate of a random choice, the generator's mean log-prob "
        "choice (where candidates carry `mean_logprob`), and an oracle that picks a passing "
        "candidate whenever one exists (pass@k).",
        "",
        "Join counts: "
        + "; ".join(
            f"{name}: {r['n_joined']} joined, {r['unscored_labels']} labels without a score, "
            f"{r['unlabelled_scores']} scores without a label"
            for name, r in results.items()
        ),
        "",
        "![ROC](roc.png) ![Reliability](reliability.png)",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return out


def evaluate_files(
    labels_path: str,
    scores: dict[str, str],
    threshold: float = 0.5,
    report_dir: str | None = None,
    regimes: Mapping[str, str] | None = None,
) -> dict[str, JudgeFigures]:
    """Evaluate one or more named score files against one labels file."""
    labels = list(read_jsonl(labels_path))
    results: dict[str, JudgeFigures] = {}
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for name, path in scores.items():
        score_records = list(read_jsonl(path))
        results[name] = evaluate(labels, score_records, threshold, regimes)
        if report_dir:
            joined, _ = join(labels, score_records)
            curves[name] = ([int(s.passed) for s in joined], [s.p_correct for s in joined])
    if report_dir:
        write_report(report_dir, results, curves, {"labels": labels_path, **scores})
    return results
