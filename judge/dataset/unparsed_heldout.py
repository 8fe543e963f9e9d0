"""A second held-out set, made another way than ``winnow augment``: a check on its figures.

``winnow augment`` edits the reference's text in place (its layout kept). This set is made
at the AST level instead, and *every* candidate — the reference, a renamed rewrite of it,
and one-token bugs of both — is printed again by ``ast.unparse``, so all of a task's
candidates share one layout and neither layout nor names can tell them apart. Bugs:
a flipped comparison, an integer constant ±1, a swapped arithmetic operator. Labels come
from the problem's own tests run in the sandbox. Deterministic for a given seed.

    python -m winnow.judge.dataset.unparsed_heldout --out runs/unparsed-heldout.jsonl
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import random
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from winnow.judge.dataset.problems import Problem
from winnow.judge.dataset.records import CandidateRecord, LabelRecord

FLIP = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv}


class _Rename(ast.NodeTransformer):
    """Rename the entry point's locals (v0, v1, …): behaviour kept. Parameters keep their
    names: they are the task's signature, which the judge is shown."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:  # noqa: N802 - ast API
        node.id = self.names.get(node.id, node.id)
        return node


def _entry(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return defs[-1] if defs else None


def renamed(tree: ast.Module, name: str) -> ast.Module | None:
    """The tree with the entry point's assigned locals renamed."""
    fn = _entry(tree, name)
    if fn is None:
        return None
    params = {a.arg for a in fn.args.args}
    local: list[str] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in params | set(local):
            local.append(node.id)
    if not local:
        return None
    out = copy.deepcopy(tree)
    _Rename({n: f"v{i}" for i, n in enumerate(local)}).visit(_entry(out, name))  # type: ignore[arg-type]
    return out


def _sites(fn: ast.FunctionDef) -> list[tuple[int, str]]:
    sites: list[tuple[int, str]] = []
    for i, node in enumerate(ast.walk(fn)):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in FLIP:
            sites.append((i, "comparison"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites += [(i, "constant+1"), (i, "constant-1")]
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAP:
            sites.append((i, "operator"))
    return sites


def mutants(tree: ast.Module, name: str, k: int, rng: random.Random) -> Iterator[tuple[str, ast.Module]]:
    """Up to ``k`` one-token bugs of the entry point."""
    fn = _entry(tree, name)
    if fn is None:
        return
    sites = _sites(fn)
    rng.shuffle(sites)
    for index, kind in sites[:k]:
        out = copy.deepcopy(tree)
        node = list(ast.walk(_entry(out, name)))[index]  # type: ignore[arg-type]
        if kind == "comparison":
            node.ops[0] = FLIP[type(node.ops[0])]()  # type: ignore[attr-defined]
        elif kind.startswith("constant"):
            node.value += 1 if kind.endswith("+1") else -1  # type: ignore[attr-defined]
        else:
            node.op = SWAP[type(node.op)]()  # type: ignore[attr-defined]
        yield kind, out


def candidates(problem: Problem, k: int, seed: int) -> list[CandidateRecord]:
    """The reference, its rename and ``k`` bugs of each, all printed by ``ast.unparse``."""
    rng = random.Random(f"{seed}:{problem.id}")
    tree = ast.parse(problem.reference)
    bases = [("canonical", tree)]
    rw = renamed(tree, problem.entry_point)
    if rw is not None:
        bases.append(("rewrite", rw))
    out: list[dict[str, str]] = []  # candidates but for their problem_id
    for origin, base in bases:
        out.append({"candidate_id": f"u-{origin}", "origin": origin, "bug_class": origin, "code": ast.unparse(base)})
        for j, (kind, bug) in enumerate(mutants(base, problem.entry_point, k, rng)):
            out.append({
                "candidate_id": f"u-{origin}-bug{j}", "origin": "mutant", "bug_class": kind.split("+")[0].split("-")[0],
                "code": ast.unparse(bug),
            })
    seen: set[str] = set()
    unique: list[CandidateRecord] = []
    for c in out:
        if c["code"] not in seen:
            seen.add(c["code"])
            unique.append(cast(CandidateRecord, c | {"problem_id": problem.id, "code": c["code"] + "\n"}))
    return unique


def write_unparsed_heldout(argv: list[str] | None = None) -> int:
    """The command line: label every candidate of ``--problems`` in the sandbox into ``--out``."""
    from winnow.judge.dataset.problems import load_problems
    from winnow.judge.sandbox.run import run_python

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="humaneval:heldout", help="problem set (default: humaneval:heldout)")
    parser.add_argument("--out", required=True, help="labels JSONL to write")
    parser.add_argument("--bugs", type=int, default=2, help="one-token bugs per base (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    problems = {p.id: p for p in load_problems(args.problems)}
    items = [c for p in problems.values() for c in candidates(p, args.bugs, args.seed)]

    def label(c: CandidateRecord) -> LabelRecord:
        result = run_python(c["code"] + "\n" + problems[c["problem_id"]].tests, timeout_s=10)
        return {**c, "status": "passed" if result.passed else "failed"}

    with ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(label, items))
    with open(args.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    n_pass = sum(r["status"] == "passed" for r in rows)
    print(f"{len(rows)} candidates of {len(problems)} problems: {n_pass} pass, {len(rows) - n_pass} fail", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(write_unparsed_heldout())
