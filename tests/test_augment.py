"""Augmentation: mutants and rewrites of reference solutions, labelled by execution."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from winnow.judge.base.jsonl import candidate_key, read_jsonl
from winnow.judge.dataset.labelling import label_candidates
from winnow.judge.dataset.problems import Problem, load_problems
from winnow.judge.dataset.variants import (
    apply_edits,
    augment_problem,
    mutation_sites,
    normalized,
    rewrite_sites,
)

REFERENCE = '''def helper(x):
    return x


def best_run(xs: list, limit: int) -> int:
    """Length of the longest run of increasing values below limit."""
    # a comment the variants must keep
    best = 0
    run = 0
    for i in range(len(xs)):
        if i > 0 and xs[i] > xs[i - 1] and xs[i] < limit:
            run += 1
        else:
            run = 1 if xs[i] < limit else 0
        best = max(best, run)
    total = len(xs)
    count = total * 2
    return best if count >= 0 else -1
'''
TESTS = """
assert best_run([], 10) == 0
assert best_run([1, 2, 3, 1, 2], 10) == 3
assert best_run([1, 2, 3, 1, 2], 3) == 2
assert best_run([5, 4, 3], 10) == 1
assert best_run([20, 30], 10) == 0
"""
PROBLEM = Problem("demo/best_run", "python", "", TESTS, "best_run", REFERENCE)


def _applied(code: str, sites: list) -> list[str]:
    return [apply_edits(code, s.edits) for s in sites]


def test_mutation_kinds() -> None:
    sites = mutation_sites(REFERENCE, "best_run")
    kinds = {s.kind for s in sites}
    assert {
        "arithmetic",
        "comparison",
        "constant",
        "off-by-one",
        "arguments",
        "drop",
        "boolean",
        "return",
        "condition",
        "builtin",
        "variable",
    } <= kinds
    variants = _applied(REFERENCE, sites)
    assert any("xs[i] >= xs[i - 1]" in v for v in variants)  # comparison swap
    assert any("xs[i] > xs[i - 1 + 1]" in v or "xs[i + 1]" in v for v in variants)  # off-by-one index
    assert any("max(run, best)" in v for v in variants)  # swapped arguments
    assert any("run -= 1" in v for v in variants)  # augmented operator swap
    assert any("range(len(xs) - 1)" in v for v in variants)  # off-by-one in range
    assert any("min(best, run)" in v for v in variants)
    for v in variants:
        assert "def helper(x):\n    return x\n" in v, "only the entry point changes"
        assert "# a comment the variants must keep" in v


def test_rewrites_keep_layout_and_signature() -> None:
    sites = rewrite_sites(REFERENCE, "best_run")
    kinds = {s.kind for s in sites}
    assert {"rename", "mirror", "range", "augassign", "reorder", "ternary"} <= kinds
    sig = ast.dump(ast.parse(REFERENCE).body[1].args)
    for v in _applied(REFERENCE, sites):
        func = ast.parse(v).body[1]
        assert ast.dump(func.args) == sig
        assert "# a comment the variants must keep" in v
    rename = next(s for s in sites if s.kind == "rename")
    renamed = apply_edits(REFERENCE, rename.edits)
    assert "def best_run(xs: list, limit: int) -> int:" in renamed


def test_augment_records_are_deterministic_and_distinct() -> None:
    a = augment_problem(PROBLEM, k=10, seed=3)
    assert a == augment_problem(PROBLEM, k=10, seed=3)
    assert a != augment_problem(PROBLEM, k=10, seed=4)
    assert a[0]["candidate_id"] == "canonical" and a[0]["code"] == REFERENCE
    assert {r["origin"] for r in a} == {"canonical", "mutant", "rewrite"}
    assert len({r["candidate_id"] for r in a}) == len(a) == 11
    assert len({normalized(r["code"]) for r in a}) == len(a)
    for r in a:
        assert set(r) >= {"problem_id", "candidate_id", "code", "origin", "transform"}
        ast.parse(r["code"])


def test_variants_are_labelled_by_execution(tmp_path: Path) -> None:
    records = augment_problem(PROBLEM, k=12, seed=0)
    out = tmp_path / "labels.jsonl"
    label_candidates({PROBLEM.id: PROBLEM}, records, out, progress=False)
    labels = {r["candidate_id"]: r for r in read_jsonl(out)}
    assert labels["canonical"]["status"] == "passed"
    assert all(r["status"] == "passed" for r in labels.values() if r["origin"] == "rewrite")
    assert any(r["status"] != "passed" for r in labels.values() if r["origin"] == "mutant")


def test_humaneval_rewrites_pass(tmp_path: Path) -> None:
    problems = {p.id: p for p in load_problems("humaneval:heldout")[::8]}
    records = [
        r for p in problems.values() for r in augment_problem(p, k=6, seed=0) if r["origin"] != "mutant"
    ]
    out = tmp_path / "labels.jsonl"
    label_candidates(problems, records, out, progress=False)
    bad = [(r["problem_id"], r["transform"], r["reason"]) for r in read_jsonl(out) if r["status"] != "passed"]
    assert not bad


def test_java_problems_contribute_the_reference_only() -> None:
    problem = load_problems("java:sample")[0]
    records = augment_problem(problem, k=8)
    assert [r["candidate_id"] for r in records] == ["canonical"]


def test_augment_cli_with_label_is_resumable(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(PROBLEM.to_record()) + "\n")
    out = tmp_path / "labels.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "winnow.server.cli",
        "augment",
        "--problems",
        str(problems),
        "--out",
        str(out),
        "--per-problem",
        "6",
        "--seed",
        "2",
        "--label",
        "--quiet",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    labels = list(read_jsonl(out))
    assert len(labels) == 7 and all(r["status"] in ("passed", "failed", "timeout", "error") for r in labels)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "7 already labelled" in second.stderr
    assert len({candidate_key(r) for r in read_jsonl(out)}) == 7
