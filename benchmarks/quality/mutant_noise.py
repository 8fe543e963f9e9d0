"""``winnow bench mutant_noise LABELS…``: how often the self-supervised labels of mined
data would be wrong, measured where tests decide.

``winnow mine`` labels a function as released "correct", its behaviour-keeping rewrites
"correct" and its single-point mutants "incorrect", without running anything. The same
mutators and rewrites applied to problems that have tests (``winnow augment --problems
humaneval:heldout --label --all-labels LABELS``) say how often that is false: a mutant
that still passes every test (it kept behaviour, or the tests miss it) and a rewrite that
fails. Prints the disagreement per origin and per bug class; ``--json`` one object.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from winnow.judge.base.jsonl import read_jsonl

#: What ``winnow mine`` assumes of each origin.
ASSUMED = {"canonical": "passed", "rewrite": "passed", "mutant": "failed"}


def noise(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per origin and per ``mutant:<bug class>``: candidates labelled by their tests, and
    how many the self-supervised rule gets wrong (status "error"/"timeout" counts as failed)."""
    seen: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for r in records:
        origin = r.get("origin")
        if origin not in ASSUMED or not r.get("status"):
            continue
        keys = [origin] + ([f"mutant:{r.get('bug_class') or '?'}"] if origin == "mutant" else [])
        disagrees = (r["status"] == "passed") != (ASSUMED[origin] == "passed")
        for key in keys:
            seen[key] += 1
            wrong[key] += disagrees
    return {k: {"labelled": seen[k], "wrong": wrong[k], "rate": round(wrong[k] / seen[k], 4)} for k in sorted(seen)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", nargs="+", help="labels JSONL (winnow augment --label --all-labels / winnow label)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    table = noise(r for path in args.labels for r in read_jsonl(path))
    if args.json:
        print(json.dumps(table))
        return 0
    print(f"{'origin':22} {'labelled':>9} {'label wrong':>12}")
    for key, row in table.items():
        print(f"{key:22} {row['labelled']:>9} {row['wrong']:>5} ({row['rate']:.1%})")
    return 0
