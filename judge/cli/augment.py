"""``winnow augment``: training candidates from reference solutions (mutants and rewrites)."""

from __future__ import annotations

import argparse
import sys

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key
from winnow.judge.dataset.problems import NAMED_SETS, load_problems


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "augment",
        help="build candidates from reference solutions: mutants and semantics-preserving rewrites",
        description=(
            "For every problem with a reference solution, write the reference itself, rewrites "
            "(renamed locals, reordered independent statements, equivalent expressions) and "
            "single-point mutants (operators, comparisons, constants, off-by-one, swapped "
            "arguments, dropped statements, ...). Whether a variant passes is decided by running "
            "it (--label, or `winnow label` afterwards), never assumed. Python only: Java "
            "problems contribute their reference unchanged. Deterministic for a given --seed, "
            "and resumable: records already in --out are kept."
        ),
    )
    p.add_argument(
        "--problems", required=True, help=f"problems JSONL file or a named set ({', '.join(NAMED_SETS)})"
    )
    p.add_argument("--out", required=True, help="candidates JSONL (labels JSONL with --label) to append to")
    p.add_argument(
        "--per-problem", type=int, default=8, help="variants per problem besides the reference (default: 8)"
    )
    p.add_argument(
        "--rewrite-share",
        type=float,
        default=1 / 3,
        help="share of variants that are rewrites (default: 1/3)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--label", action="store_true", help="run every variant in the sandbox and write labels instead"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="with --label: sandboxes at once (default: cores)"
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, help="with --label: seconds per candidate (default: 10)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from winnow.judge.dataset.variants import augment_problem

    if args.per_problem < 0:
        raise WinnowError("--per-problem must be >= 0")
    if not 0.0 <= args.rewrite_share <= 1.0:
        raise WinnowError("--rewrite-share must be between 0 and 1")
    problems = load_problems(args.problems)
    candidates = []
    for problem in problems:
        candidates.extend(augment_problem(problem, args.per_problem, args.seed, args.rewrite_share))
    skipped = sum(1 for p in problems if p.reference is None)
    note = f" ({skipped} problems without a reference skipped)" if skipped else ""
    if args.label:
        from winnow.judge.dataset.labelling import label_candidates

        by_id = {p.id: p for p in problems}
        summary = label_candidates(by_id, candidates, args.out, args.workers, args.timeout, not args.quiet)
        print(summary.line(args.out) + note, file=sys.stderr)
        return 0
    written = 0
    with JsonlAppender(args.out, key=candidate_key) as out:
        for record in candidates:
            written += out.write(record)
    print(
        f"wrote {written} candidates for {len(problems)} problems ({len(candidates) - written} already there)"
        f"{note}; candidates in {args.out}",
        file=sys.stderr,
    )
    return 0
