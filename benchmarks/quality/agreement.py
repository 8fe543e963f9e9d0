"""``winnow bench agreement``: does candidates' agreement on shared inputs (MBR-exec) help
the verdict pick, on problems it never saw?

Every candidate of a problem runs on the same inputs in one sandboxed process (the
docstring examples' literal calls, nudged to edges, or inputs drawn from the signature's
type hints), and its *agreement* is the share of the other candidates that return the same
outputs (``output_agreement``). On the same validation signals (the judge manifest's
``training.val_problems`` of ``--train-labels``) it fits: the verdict as shipped (P(correct)
over judge z, examples, lint), the verdict with ``agreement`` as one more feature, and two
pairwise rankers (``verdict.fit_ranker``: which of two candidates of a task goes first),
without and with agreement. Each, and agreement alone, is then measured on every held-out
set: ROC-AUC, within-task pairwise, and how often the top pick passes, overall and split by
regime (problems whose docstring has examples, and those without). ``--write PATH`` saves
the manifest with the verdict and the ranker with agreement (ship it only if it helps);
``--signals FILE`` keeps every candidate's signals so a rerun scores nothing again.
``--json`` prints one object.

    winnow bench agreement --train-labels train-labels.jsonl --signals signals.jsonl \\
        --heldout variants=heldout-labels.jsonl --heldout unparsed=unparsed-labels.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl
from winnow.judge.scoring.verdict import (
    FEATURES,
    VERDICT_FEATURES,
    Signals,
    VerdictModel,
    fit_ranker,
    fit_verdict,
)


@dataclass
class Row:
    """One labelled candidate with what serving computes for it (``signals`` None: it does not parse)."""

    problem_id: str
    passed: bool
    signals: Any
    has_examples: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", default="default", help="judge manifest (default: the shipped one)")
    parser.add_argument("--train-problems", default="humaneval:train", help="problem set of --train-labels")
    parser.add_argument("--train-labels", required=True, help="labels JSONL the validation problems are read from")
    parser.add_argument("--heldout-problems", default="humaneval:heldout", help="problem set of the held-out labels")
    parser.add_argument(
        "--heldout", action="append", required=True, metavar="NAME=LABELS",
        help="a held-out labels JSONL and its name (repeatable)",
    )  # fmt: skip
    parser.add_argument("--write", help="save the judge manifest with the verdict and the agreement ranker here")
    parser.add_argument("--signals", help="JSONL cache of every candidate's signals (read when there, else written)")
    parser.add_argument("--threads", type=int, default=None, help="judge threads (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _rows(problems: dict[str, Any], records: list[dict[str, Any]], judge: Any, runner: Any) -> list[Row]:
    """Serving's signals for every candidate, each problem's batch together (agreement on)."""
    from tqdm import tqdm

    from winnow.judge.evidence.examples import find_examples
    from winnow.judge.scoring.ranking import gather_signals

    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("status") in ("passed", "failed", "timeout", "error"):
            by_problem[str(record["problem_id"])].append(record)
    rows: list[Row] = []
    for pid, recs in tqdm(sorted(by_problem.items()), desc="signals", unit="problem", file=sys.stderr):
        prompt = problems[pid].prompt
        has_examples = bool(find_examples(prompt))
        gathered = gather_signals(prompt, [str(r["code"]) for r in recs], judge, runner, agree=True)
        rows += [Row(pid, r["status"] == "passed", sig, has_examples) for r, sig in zip(recs, gathered, strict=True)]
    return rows


def _save_rows(path: str, sets: dict[str, list[Row]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for name, rows in sets.items():
            for r in rows:
                sig = None if r.signals is None else dataclasses.asdict(r.signals)
                f.write(json.dumps({"set": name, "problem_id": r.problem_id, "passed": r.passed,
                                    "has_examples": r.has_examples, "signals": sig}) + "\n")  # fmt: skip


def _load_rows(path: str) -> dict[str, list[Row]]:
    sets: dict[str, list[Row]] = defaultdict(list)
    for rec in read_jsonl(path):
        sig = None if rec["signals"] is None else Signals(**rec["signals"])
        sets[rec["set"]].append(Row(rec["problem_id"], bool(rec["passed"]), sig, bool(rec["has_examples"])))
    return dict(sets)


def _figures(rows: list[Row], score: Callable[[Signals], float]) -> dict[str, Any]:
    from winnow.judge.evaluation.metrics import Ranked, ranking_metrics, roc_auc, within_task_pairwise

    if not rows:
        return {"n": 0}
    y = [int(r.passed) for r in rows]
    p = [0.0 if r.signals is None else float(score(r.signals)) for r in rows]
    groups: dict[str, list[Ranked]] = defaultdict(list)
    for i, (r, value) in enumerate(zip(rows, p, strict=True)):
        groups[r.problem_id].append(Ranked(str(i), value, r.passed))
    ranking = ranking_metrics(groups)
    return {
        "n": len(rows),
        "problems": len(groups),
        "auc": roc_auc(y, p),
        "pairwise": within_task_pairwise([r.problem_id for r in rows], y, p),
        "top_pick_passes": ranking["pass1_judge"],
        "random_pick_passes": ranking["pass1_random"],
    }


def _coef(names: list[str], coef: list[float], intercept: float | None = None) -> dict[str, float]:
    out = {n: round(c, 3) for n, c in zip(names, coef, strict=True)}
    return out | ({"intercept": round(intercept, 3)} if intercept is not None else {})


def compare(train: list[Row], heldout: dict[str, list[Row]]) -> tuple[dict[str, Any], VerdictModel]:
    """Fit the verdicts and rankers on ``train``, measure every scorer on each held-out set by regime."""
    fit = [r for r in train if r.signals is not None]
    args = ([r.signals for r in fit], [int(r.passed) for r in fit], [r.problem_id for r in fit])
    where = f"{len({r.problem_id for r in fit})} validation problems"
    base = fit_verdict(*args, fitted_on=where, features=VERDICT_FEATURES)
    with_agreement = fit_verdict(*args, fitted_on=where, features=FEATURES)
    plain = list(VERDICT_FEATURES)
    ranker_plain = dataclasses.replace(base, rank_features=plain, rank_coef=fit_ranker(*args, features=plain))
    ranker = dataclasses.replace(base, rank_features=list(FEATURES), rank_coef=fit_ranker(*args, features=FEATURES))
    scorers: dict[str, Callable[[Signals], float]] = {
        "verdict": base.p,
        "verdict+agreement": with_agreement.p,
        "ranker": ranker_plain.rank_score,
        "ranker+agreement": ranker.rank_score,
        "agreement alone": lambda s: 0.5 if s.agreement is None else s.agreement,
    }
    report: dict[str, Any] = {
        "fitted": {
            "verdict": _coef(base.features, base.coef, base.intercept),
            "verdict+agreement": _coef(with_agreement.features, with_agreement.coef, with_agreement.intercept),
            "ranker": _coef(plain, ranker_plain.rank_coef),
            "ranker+agreement": _coef(list(FEATURES), ranker.rank_coef),
        },
        "agreement_known": {name: sum(r.signals is not None and r.signals.agreement is not None for r in rows) / max(1, len(rows))
                            for name, rows in heldout.items()},  # fmt: skip
        "sets": {},
    }
    for name, rows in heldout.items():
        regimes = {"all": rows, "with_examples": [r for r in rows if r.has_examples],
                   "without_examples": [r for r in rows if not r.has_examples]}  # fmt: skip
        report["sets"][name] = {
            regime: {scorer: _figures(part, fn) for scorer, fn in scorers.items()} for regime, part in regimes.items()
        }
    return report, ranker


def _print(report: dict[str, Any]) -> None:
    for name, coef in report["fitted"].items():
        print(f"{name} fitted: " + ", ".join(f"{k} {v:+.2f}" for k, v in coef.items()))
    for name, regimes in report["sets"].items():
        print(f"\n{name} (agreement known for {report['agreement_known'][name]:.0%} of candidates)")
        print(f"{'regime':18} {'scorer':20} {'n':>5} {'AUC':>6} {'pairwise':>9} {'top pick':>9} {'random':>7}")
        print("(AUC across tasks means nothing for a ranker's score: it orders within a task)")
        for regime, scorers in regimes.items():
            for scorer, f in scorers.items():
                if not f.get("n"):
                    continue
                cells = [f.get(k) for k in ("auc", "pairwise", "top_pick_passes", "random_pick_passes")]
                text = [f"{v:.3f}" if isinstance(v, float) else "  –" for v in cells]
                print(f"{regime:18} {scorer:20} {f['n']:>5} {text[0]:>6} {text[1]:>9} {text[2]:>9} {text[3]:>7}")


def run(args: argparse.Namespace) -> int:
    from winnow.judge.dataset.problems import problems_by_id
    from winnow.judge.evidence.example_runs import examples_runner
    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.manifest import JudgeManifest

    sets = {}
    for item in args.heldout:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise WinnowError(f"--heldout wants NAME=LABELS, not {item!r}")
        sets[name] = path
    manifest = JudgeManifest.load(args.judge)
    wanted = set((manifest.training.val_problems if manifest.training else None) or [])
    if not wanted:
        raise WinnowError(f"{manifest.path} names no validation problems (training.val_problems)")
    if args.signals and os.path.exists(args.signals):
        cached = _load_rows(args.signals)
        if not set(sets) | {"train"} <= set(cached):
            raise WinnowError(f"{args.signals} holds {sorted(cached)}, not every set asked for: remove it to rescore")
        train_rows, heldout = cached["train"], {name: cached[name] for name in sets}
    else:
        judge = Judge.load(args.judge, n_threads=args.threads or 0)
        runner = examples_runner(5.0)
        train_problems = problems_by_id(args.train_problems)
        heldout_problems = problems_by_id(args.heldout_problems)
        train = [r for r in read_jsonl(args.train_labels) if r.get("problem_id") in wanted]
        train_rows = _rows(train_problems, train, judge, runner)
        heldout = {name: _rows(heldout_problems, list(read_jsonl(path)), judge, runner) for name, path in sets.items()}
        if args.signals:
            _save_rows(args.signals, {"train": train_rows, **heldout})
    report, model = compare(train_rows, heldout)
    if args.write:
        manifest.verdict = dataclasses.replace(model, fitted_on=f"{model.fitted_on} of {args.train_problems}")
        report["written"] = str(manifest.save(args.write))
    if args.json:
        print(json.dumps(report))
    else:
        _print(report)
    return 0
