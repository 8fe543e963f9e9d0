"""``winnow eval``: how good is a judge, measured against execution labels."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from winnow.judge.base.errors import WinnowError
from winnow.judge.cli import flags


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate judge scores against execution labels (classification, calibration, ranking)",
        description=(
            "Join scores (problem_id, candidate_id, p_correct) with labels (passed = positive) and "
            "report accuracy, precision, recall, F1, Cohen's kappa, MCC, ROC-AUC, ECE, Brier, and, "
            "for problems with several candidates, pass@1 of the judge's top pick vs a random pick "
            "vs the log-prob pick vs oracle pass@k; and what says whether a judge sees bugs: "
            "within-task pairwise accuracy, ROC-AUC over reference-like candidates and their "
            "single-point bugs only (subtle), recall per bug class. Give --scores-b, or --also "
            "NAME=PATH as often as needed, to compare signals and judges in one table."
        ),
    )
    flags.add_labels(p)
    p.add_argument("--scores", required=True, help="scores JSONL: problem_id, candidate_id, p_correct")
    p.add_argument("--scores-b", help="a second scores JSONL to compare with the first")
    p.add_argument(
        "--name-a", default="judge", help="name of the first scores file in reports (default: judge)"
    )
    p.add_argument("--name-b", default="baseline", help="name of the second scores file (default: baseline)")
    p.add_argument(
        "--also", action="append", default=[], metavar="NAME=PATH",
        help="one more named scores JSONL in the same report (repeatable)",
    )
    p.add_argument(
        "--baselines", action="store_true",
        help="also report the trivial baselines beside the scores: length (longer first) and layout "
        "(share of blank and comment lines), ranked within each problem",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="p_correct at or above which a candidate counts as predicted correct",
    )
    flags.add_json(p, "print one JSON object (top level: first scores; 'compare': second)")
    p.add_argument(
        "--report-dir", help="also write report.md, metrics.json, roc.png and reliability.png here"
    )
    flags.add_problems(
        p, required=False,
        help="the problems the labels belong to: every figure is also reported per regime "
        "(docstring with examples / without), so that no with-examples figure stands for code without them",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from winnow.judge.evaluation.report import combined_json, evaluate_files, markdown_table

    if not 0.0 <= args.threshold <= 1.0:
        raise WinnowError("--threshold must be between 0 and 1")
    scores = {args.name_a: args.scores}
    if args.scores_b:
        if args.name_b == args.name_a:
            raise WinnowError("--name-a and --name-b must differ")
        scores[args.name_b] = args.scores_b
    for item in args.also:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise WinnowError(f"--also takes NAME=PATH, got {item!r}")
        if name in scores:
            raise WinnowError(f"two scores files are named {name!r}")
        scores[name] = path
    with tempfile.TemporaryDirectory(prefix="winnow-baselines-") as tmp:
        if args.baselines:
            scores.update(_write_baselines(args.labels, tmp, set(scores)))
        results = evaluate_files(args.labels, scores, args.threshold, args.report_dir, _regimes(args.problems))
    if args.json:
        print(json.dumps(combined_json(results)))
    else:
        sys.stdout.write(markdown_table(results))
    if args.report_dir:
        print(f"report in {args.report_dir}", file=sys.stderr)
    return 0


def _write_baselines(labels: str, folder: str, taken: set[str]) -> dict[str, str]:
    from winnow.judge.base.jsonl import read_jsonl
    from winnow.judge.evaluation.baselines import BASELINES, baseline_scores

    records = list(read_jsonl(labels))
    out = {}
    for name in BASELINES:
        if name in taken:
            raise WinnowError(f"a scores file is already named {name!r}, a baseline's name")
        path = os.path.join(folder, f"{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in baseline_scores(records, name))
        out[name] = path
    return out


def _regimes(problems: str | None) -> dict[str, str] | None:
    """Problem id → "with_examples" / "without_examples" (its docstring's examples, as the
    verdict finds them)."""
    if not problems:
        return None
    from winnow.judge.dataset.candidate_sampling import target_site
    from winnow.judge.dataset.problems import Problem, load_problems
    from winnow.judge.evidence.documents import document_evidence

    def has_examples(p: Problem) -> bool:
        way = document_evidence(p.language)
        return way is not None and bool(way.examples(target_site(p)))

    return {p.id: "with_examples" if has_examples(p) else "without_examples" for p in load_problems(problems)}
