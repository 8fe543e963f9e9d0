"""``winnow combine``: fit the calibrated verdict (judge + examples + lint) into a judge.json."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.cli import flags

if TYPE_CHECKING:
    from winnow.judge.scoring.manifest import JudgeManifest


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "combine",
        help="fit the verdict that serving uses (judge z + docstring examples + lint) and its ranker on validation problems",
        description=(
            "Score labelled candidates of validation problems exactly as serving does (the judge's z, "
            "the docstring examples run in the sandbox, pyflakes), fit a logistic regression of the "
            "labels on those signals, and store it in the judge manifest's `verdict` section, with a "
            "pairwise ranker that orders a batch by those signals and the candidates' agreement on shared "
            "inputs (best of N; --no-ranker leaves it out). The "
            "problems default to the validation split the judge was trained with (manifest "
            "training.val_problems); held-out HumanEval problems are refused."
        ),
    )
    flags.add_judge(p, "default | PATH/judge.json: the judge to fit for; updated in place unless --out")
    flags.add_problems(p, help="problem set the labels belong to (e.g. humaneval:train)")
    flags.add_labels(p, "labels JSONL (from `winnow label` or `winnow augment --label`)")
    p.add_argument("--only", nargs="*", help="problem ids to fit on (default: the manifest's val_problems)")
    p.add_argument("--out", help="write the updated manifest here instead of over --judge")
    p.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the regression (default: 1)")
    p.add_argument("--no-ranker", action="store_true", help="fit P(correct) only; the batch is ordered by it")
    flags.add_timeout(p, 5.0, "seconds per docstring-example run (default: 5)")
    flags.add_threads(p)
    flags.add_quiet(p)
    p.set_defaults(func=run)


def _validation_records(args: argparse.Namespace, manifest: JudgeManifest) -> dict[str, list[dict[str, Any]]]:
    from winnow.judge.base.jsonl import read_jsonl
    from winnow.judge.dataset.problems import humaneval_number

    wanted = set(args.only or (manifest.training.val_problems if manifest.training else None) or [])
    if not wanted:
        raise WinnowError(f"{manifest.path} names no validation problems (training.val_problems): give --only")
    heldout = sorted(p for p in wanted if (humaneval_number(p) or -1) >= 100)
    if heldout:
        raise WinnowError(f"{heldout[0]} is a held-out problem: fit the verdict on validation problems only")
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in read_jsonl(args.labels):
        if record.get("problem_id") in wanted and record.get("status") in ("passed", "failed", "timeout", "error"):
            by_problem[str(record["problem_id"])].append(record)
    if not by_problem:
        raise WinnowError(f"no labelled candidates of the {len(wanted)} validation problems in {args.labels}")
    return by_problem


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from winnow.judge.dataset.problems import problems_by_id
    from winnow.judge.evidence.example_runs import examples_runner
    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.manifest import JudgeManifest
    from winnow.judge.scoring.ranking import gather_signals
    from winnow.judge.scoring.verdict import FEATURES, fit_ranker, fit_verdict

    manifest = JudgeManifest.load(args.judge)
    records = _validation_records(args, manifest)
    problems = problems_by_id(args.problems)
    judge = Judge.load(args.judge, n_threads=args.threads)
    runner = examples_runner(args.timeout)
    signals, labels, pids = [], [], []
    total = sum(len(v) for v in records.values())
    with tqdm(total=total, desc="signals", unit="cand", file=sys.stderr, disable=args.quiet) as bar:
        for pid, recs in sorted(records.items()):
            codes = [str(r["code"]) for r in recs]
            gathered = gather_signals(problems[pid].prompt, codes, judge, runner, agree=not args.no_ranker)
            for rec, sig in zip(recs, gathered, strict=True):
                if sig is not None:  # a candidate that does not parse is P = 0 before any verdict
                    signals.append(sig)
                    labels.append(int(rec["status"] == "passed"))
                    pids.append(pid)
            bar.update(len(recs))
    model = fit_verdict(signals, labels, pids, fitted_on=f"{len(records)} validation problems of {args.problems}", c=args.c)
    if not args.no_ranker:
        model.rank_features, model.rank_coef = list(FEATURES), fit_ranker(signals, labels, pids, FEATURES, c=args.c)
    manifest.verdict = model
    path = manifest.save(args.out or manifest.path)
    coef = ", ".join(f"{n} {c:+.2f}" for n, c in zip(model.features, model.coef, strict=True))
    print(f"verdict fitted on {model.n} candidates of {model.n_problems} problems: {coef}, intercept {model.intercept:+.2f}")
    if model.rank_coef:
        print("ranker: " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(model.rank_features, model.rank_coef, strict=True)))
    print(f"wrote {path}", file=sys.stderr)
    return 0
