"""``winnow label``: run candidates against their problem's tests in the sandbox."""

from __future__ import annotations

import argparse
import sys

from winnow.judge.cli import flags
from winnow.judge.dataset.labelling import label_file
from winnow.judge.dataset.problems import problems_by_id


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "label",
        help="label candidates by executing their tests in a sandbox",
        description=(
            "Run every candidate against its problem's tests in a sandbox and append its label "
            "(passed | failed | timeout | error, with a reason) to --out. Resumable: candidates "
            "already in --out are skipped."
        ),
    )
    flags.add_problems(p)
    flags.add_candidates(p)
    flags.add_out(p, "labels JSONL to append to")
    flags.add_workers(p)
    flags.add_timeout(p, 10.0, "wall-clock seconds per candidate (default: 10)")
    flags.add_quiet(p)
    flags.add_allow_weak_sandbox(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags.apply_allow_weak_sandbox(args)
    summary = label_file(
        problems_by_id(args.problems),
        args.candidates,
        args.out,
        workers=args.workers,
        timeout_s=args.timeout,
        progress=not args.quiet,
    )
    print(summary.line(args.out), file=sys.stderr)
    return 0
