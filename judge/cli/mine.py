"""``winnow mine PATH… --out DIR``: problems and self-labelled candidates from real code.

Writes ``DIR/problems.jsonl`` (one problem per mined function: its signature and
docstring, ``source`` saying where it came from), ``DIR/train.jsonl`` and
``DIR/heldout.jsonl`` (labelled candidates: the original and behaviour-keeping rewrites
``passed``, single-point bugs ``failed``; whole packages in one split or the other) and
``DIR/split.json`` (which packages went where, and the counts). With ``--tests``, functions
whose tests (in the tree) name them are labelled by running those tests in the sandbox
instead (``label_source: "tests"``). ``winnow train --problems
DIR/problems.jsonl --labels DIR/train.jsonl`` trains a judge on them; this is how a team
trains one on its own code base (docs/training.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from winnow.judge.base.errors import WinnowError
from winnow.judge.cli import flags

if TYPE_CHECKING:
    from winnow.judge.dataset.mining import MinedFunction
    from winnow.judge.dataset.records import LabelRecord


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mine", help="problems and self-labelled candidates from any Python tree (training data from real code)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("paths", nargs="+", help="files or folders (a repository, site-packages, the stdlib; for Java "
                   "also a .zip such as the JDK's lib/src.zip)")
    p.add_argument("--language", choices=("python", "java"), default="python",
                   help="what to mine: Python functions (default) or Java methods (judge.dataset.java_mining)")
    flags.add_out(p, "folder for problems.jsonl, train.jsonl, heldout.jsonl, split.json")
    p.add_argument("--max-functions", type=int, default=None, help="a seeded sample of at most this many functions")
    p.add_argument("--variants", type=int, default=6, help="rewrites and bugs per function (default: 6)")
    p.add_argument("--heldout-share", type=float, default=0.2, help="share of packages held out (default: 0.2)")
    p.add_argument("--heldout", nargs="*", default=None, help="these packages are the held-out split (overrides the share)")
    p.add_argument("--also-heldout", nargs="*", default=[], metavar="PACKAGE",
                   help="these packages are held out too, beside the share: e.g. the modules of a `winnow fixes` "
                        "set, so that no function of it is trained on")
    p.add_argument("--min-lines", type=int, default=3, help="shortest function kept, in lines (default: 3)")
    p.add_argument("--max-lines", type=int, default=None,
                   help="longest function kept, in lines (default: 60; Java: 40 lines of body)")
    p.add_argument("--tests", action="store_true",
                   help="label by the tree's own tests where they name a function (pytest in the sandbox; "
                        "judge.dataset.repo_tests): every candidate of a function whose tests pass as released "
                        "and call it gets their verdict; the rest keep self-supervised labels")
    p.add_argument("--tests-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="wall-clock limit of one test run (default: 60)")
    flags.add_seed(p)
    flags.add_quiet(p)
    flags.add_allow_weak_sandbox(p)
    p.set_defaults(func=run)

    f = subparsers.add_parser(
        "fixes", help="real bug fixes between two releases of the same code (a held-out set, never trained on)",
        description=(
            "Every function whose code changed between OLD and NEW (two releases of the same tree, "
            "NEW a patch release of OLD: CPython 3.11.2 -> 3.11.7, a library's x.y.1 -> x.y.4) by a "
            "small change: a problem (NEW's signature and docstring) with NEW's version passed and "
            "OLD's failed (label_source release-fix: the release's label, noisy where a change is "
            "not a fix). Writes DIR/problems.jsonl and DIR/labels.jsonl."
        ),
    )  # fmt: skip
    f.add_argument("old", help="the earlier release's tree")
    f.add_argument("new", help="the later (patch) release's tree")
    flags.add_out(f, "folder for problems.jsonl and labels.jsonl")
    f.add_argument("--exclude", nargs="*", default=[], help="paths (relative, prefixes) to leave out: e.g. files a "
                   "distribution patched in OLD beyond NEW")
    f.add_argument("--max-changed", type=int, default=8, help="most changed lines a fix may have (default: 8)")
    flags.add_quiet(f)
    f.set_defaults(func=run_fixes)


def run_fixes(args: argparse.Namespace) -> int:
    from winnow.judge.base.jsonl import write_jsonl
    from winnow.judge.dataset.release_fixes import fix_pairs, records_for

    problems, labels = [], []
    for pair in fix_pairs(args.old, args.new, max_changed=args.max_changed):
        if any(pair.module.startswith(prefix) for prefix in args.exclude):
            continue
        problem, records = records_for(pair)
        problems.append(problem)
        labels.extend(records)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "problems.jsonl", problems)
    write_jsonl(out / "labels.jsonl", labels)
    if not args.quiet:
        print(f"{len(problems)} changed functions → {out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from winnow.judge.base.jsonl import write_json, write_jsonl
    from winnow.judge.dataset.miners import MINERS
    from winnow.judge.dataset.mining import split_packages
    from winnow.judge.dataset.repo_tests import noise_summary

    flags.apply_allow_weak_sandbox(args)
    miner = MINERS[args.language]
    if args.tests and not miner.labels_by_tests:  # before mining: the JDK takes minutes
        raise WinnowError(f"--tests runs Python test files (pytest); {args.language.capitalize()} trees are labelled self-supervised")
    found = miner.find(args.paths, args.max_functions, args.seed, min_lines=args.min_lines,
                       max_lines=args.max_lines or miner.max_lines)
    records_of = miner.records
    packages = {fn.package for fn in found}
    if args.heldout is not None:
        heldout = set(args.heldout) & packages
        train = packages - heldout
    else:
        train, heldout = split_packages(packages, args.heldout_share, args.seed)
    heldout |= set(args.also_heldout) & packages
    train -= heldout
    relabel = _test_labeller(args.paths, args.tests_timeout, args.quiet) if args.tests else None
    outcomes: Counter[str] = Counter()
    problems, splits = [], {"train": [], "heldout": []}
    # Labelling by tests takes seconds a function: show it (mining alone takes no time worth a bar).
    for fn in tqdm(found, desc="tests", unit="fn", file=sys.stderr, disable=args.quiet or not args.tests):
        problem, labels = records_of(fn, args.variants, args.seed)
        if len(labels) < 2:
            continue  # nothing to contrast the original with
        if relabel is not None:
            labels, outcome = relabel(fn, labels)
            outcomes[outcome] += 1
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
        **({"tests": noise_summary([*splits["train"], *splits["heldout"]], outcomes)} if args.tests else {}),
    })  # fmt: skip
    if not args.quiet:
        print(f"{len(problems)} functions from {len(packages)} packages → {out}: "
              f"train {counts['train']}, held out {counts['heldout']} ({', '.join(sorted(heldout)) or 'none'})",
              file=sys.stderr)
        if args.tests:
            print(f"tests: {dict(outcomes)}", file=sys.stderr)
    return 0


def _test_labeller(
    roots: list[str], timeout_s: float, quiet: bool
) -> Callable[[MinedFunction, list[LabelRecord]], tuple[list[LabelRecord], str]]:
    """Label a mined function's candidates by the tests of the root it came from (each
    root's test files indexed once, when a function of it first needs them)."""
    from winnow.judge.dataset.repo_tests import SuiteIndex, label_by_tests

    resolved = [Path(r).resolve() for r in roots]
    indexes: dict[Path, SuiteIndex] = {}

    def relabel(fn: MinedFunction, labels: list[LabelRecord]) -> tuple[list[LabelRecord], str]:
        root = next((r for r in resolved if Path(fn.path).is_relative_to(r)), resolved[0])
        if root not in indexes:
            indexes[root] = SuiteIndex.of(root)
            if not quiet:
                print(f"tests: {len(indexes[root].files)} test files under {root}", file=sys.stderr)
        return label_by_tests(fn, labels, indexes[root], timeout_s)

    return relabel
