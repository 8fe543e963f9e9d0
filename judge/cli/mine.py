"""``winnow mine PATH… --out DIR``: problems and self-labelled candidates from real code.

Writes ``DIR/problems.jsonl`` (one problem per mined function: its signature and
docstring, ``source`` saying where it came from), ``DIR/train.jsonl`` and
``DIR/heldout.jsonl`` (labelled candidates: the original and behaviour-keeping rewrites
``passed``, single-point bugs ``failed``; whole packages in one split or the other) and
``DIR/split.json`` (which packages went where, and the counts). ``winnow train --problems
DIR/problems.jsonl --labels DIR/train.jsonl`` trains a judge on them; this is how a team
trains one on its own code base (docs/training.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from winnow.judge.cli import flags


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mine", help="problems and self-labelled candidates from any Python tree (training data from real code)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("paths", nargs="+", help="Python files or folders (a repository, site-packages, the stdlib)")
    flags.add_out(p, "folder for problems.jsonl, train.jsonl, heldout.jsonl, split.json")
    p.add_argument("--max-functions", type=int, default=None, help="a seeded sample of at most this many functions")
    p.add_argument("--variants", type=int, default=6, help="rewrites and bugs per function (default: 6)")
    p.add_argument("--heldout-share", type=float, default=0.2, help="share of packages held out (default: 0.2)")
    p.add_argument("--heldout", nargs="*", default=None, help="these packages are the held-out split (overrides the share)")
    p.add_argument("--min-lines", type=int, default=3, help="shortest function kept, in lines (default: 3)")
    p.add_argument("--max-lines", type=int, default=60, help="longest function kept, in lines (default: 60)")
    flags.add_seed(p)
    flags.add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from winnow.judge.base.jsonl import write_json, write_jsonl
    from winnow.judge.dataset.mining import mine, records_for, split_packages

    found = mine(args.paths, args.max_functions, args.seed, min_lines=args.min_lines, max_lines=args.max_lines)
    packages = {fn.package for fn in found}
    if args.heldout is not None:
        heldout = set(args.heldout) & packages
        train = packages - heldout
    else:
        train, heldout = split_packages(packages, args.heldout_share, args.seed)
    problems, splits = [], {"train": [], "heldout": []}
    for fn in found:
        problem, labels = records_for(fn, args.variants, args.seed)
        if len(labels) < 2:
            continue  # nothing to contrast the original with
        problems.append(problem)
        splits["heldout" if fn.package in heldout else "train"].extend(labels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "problems.jsonl", problems)
    for name, records in splits.items():
        write_jsonl(out / f"{name}.jsonl", records)
    counts = {name: dict(Counter(r["status"] for r in records)) for name, records in splits.items()}
    write_json(out / "split.json", {
        "train_packages": sorted(train), "heldout_packages": sorted(heldout), "problems": len(problems),
        "candidates": counts, "seed": args.seed, "paths": [str(p) for p in args.paths],
    })  # fmt: skip
    if not args.quiet:
        print(f"{len(problems)} functions from {len(packages)} packages → {out}: "
              f"train {counts['train']}, held out {counts['heldout']} ({', '.join(sorted(heldout)) or 'none'})",
              file=sys.stderr)
    return 0
