"""``winnow augment``: training candidates from reference solutions (mutants and rewrites)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl, write_jsonl
from winnow.judge.cli import flags
from winnow.judge.dataset.problems import load_problems


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "augment",
        help="build candidates from reference solutions: mutants and semantics-preserving rewrites",
        description=(
            "For every problem with a reference solution, write the reference itself, rewrites "
            "(renamed locals, reordered independent statements, equivalent expressions) and "
            "single-point mutants (operators, comparisons, constants, off-by-one, swapped "
            "arguments, dropped statements, ...). Whether a variant passes is decided by running "
            "it (--label, or `winnow label` afterwards), never assumed. Java "
            "problems get their reference and single-point mutants of its entry method (no "
            "rewrites; judge.dataset.java.mutations). Deterministic for a given --seed, "
            "and resumable: records already in --out are kept. With --label, every variant's "
            "label goes to --all-labels and --out gets the balanced selection (--balance): per "
            "problem every passing candidate and at most as many failing mutants."
        ),
    )
    flags.add_problems(p)
    flags.add_out(p, "candidates JSONL (labels JSONL with --label) to append to")
    p.add_argument(
        "--per-problem", type=int, default=8, help="variants per problem besides the reference (default: 8)"
    )
    p.add_argument(
        "--rewrite-share",
        type=float,
        default=1 / 2,
        help="share of variants that are rewrites (default: 1/2; mutants fill what rewrites cannot)",
    )
    p.add_argument(
        "--balance",
        type=float,
        default=1.0,
        metavar="K",
        help=(
            "with --label: keep per problem at most K failing mutants per passing candidate, "
            "spread over bug classes (default: 1, balanced; 0 keeps every label)"
        ),
    )
    p.add_argument(
        "--all-labels",
        default=None,
        help="with --label and --balance: where every label goes (default: --out with .all.jsonl)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--label", action="store_true", help="run every variant in the sandbox and write labels instead"
    )
    flags.add_workers(p, "with --label: sandboxes at once (default: cores)")
    p.add_argument(
        "--timeout", type=float, default=10.0, help="with --label: seconds per candidate (default: 10)"
    )
    flags.add_quiet(p)
    flags.add_allow_weak_sandbox(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from winnow.judge.dataset.variants import augment_problem

    flags.apply_allow_weak_sandbox(args)
    if args.per_problem < 0:
        raise WinnowError("--per-problem must be >= 0")
    if not 0.0 <= args.rewrite_share <= 1.0:
        raise WinnowError("--rewrite-share must be between 0 and 1")
    if args.balance < 0:
        raise WinnowError("--balance must be >= 0")
    problems = load_problems(args.problems)
    candidates = []
    for problem in problems:
        candidates.extend(augment_problem(problem, args.per_problem, args.seed, args.rewrite_share))
    skipped = sum(1 for p in problems if p.reference is None)
    note = f" ({skipped} problems without a reference skipped)" if skipped else ""
    if args.label:
        from winnow.judge.dataset.labelling import label_candidates

        by_id = {p.id: p for p in problems}
        all_labels = _all_labels_path(args) if args.balance else args.out
        summary = label_candidates(by_id, candidates, all_labels, args.workers, args.timeout, not args.quiet)
        print(summary.line(all_labels) + note, file=sys.stderr)
        if args.balance:
            _write_balanced(candidates, all_labels, args.out, args.balance, args.seed)
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


def _all_labels_path(args: argparse.Namespace) -> str:
    if args.all_labels:
        if Path(args.all_labels).resolve() == Path(args.out).resolve():
            raise WinnowError("--all-labels must differ from --out")
        return str(args.all_labels)
    out = Path(args.out)
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return str(out.with_name(stem + ".all.jsonl"))


def _write_balanced(
    candidates: list[dict[str, Any]], all_labels: str, out: str, ratio: float, seed: int
) -> None:
    """Rewrite ``out`` with the balanced selection of this run's labels (selection after labelling)."""
    from winnow.judge.dataset.labelling import balance

    order = {candidate_key(c): i for i, c in enumerate(candidates)}
    # Labels come in the order the sandboxes finished: put them back in candidate order.
    labels = sorted(
        (r for r in read_jsonl(all_labels) if candidate_key(r) in order),
        key=lambda r: order[candidate_key(r)],
    )
    kept = balance(labels, ratio, seed)
    # Records of other problems or runs already in --out stay; this run's selection replaces its own.
    others = [r for r in read_jsonl(out) if candidate_key(r) not in order] if Path(out).exists() else []
    write_jsonl(out, [*others, *kept])
    passed = sum(1 for r in kept if r.get("status") == "passed")
    print(
        f"kept {len(kept)} of {len(labels)} labels ({passed} passing, {len(kept) - passed} failing; "
        f"at most {ratio:g} failing mutants per passing candidate); balanced labels in {out}",
        file=sys.stderr,
    )
