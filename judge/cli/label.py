"""``winnow label``: run candidates against their problem's tests in the sandbox."""

from __future__ import annotations

import argparse
import sys

from winnow.judge.dataset.labelling import label_file
from winnow.judge.dataset.problems import NAMED_SETS, problems_by_id


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
    p.add_argument(
        "--problems", required=True, help=f"problems JSONL file or a named set ({', '.join(NAMED_SETS)})"
    )
    p.add_argument("--candidates", required=True, help="candidates JSONL: problem_id, candidate_id, code")
    p.add_argument("--out", required=True, help="labels JSONL to append to")
    p.add_argument(
        "--workers", type=int, default=None, help="sandboxes run at once (default: number of cores)"
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, help="wall-clock seconds per candidate (default: 10)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
