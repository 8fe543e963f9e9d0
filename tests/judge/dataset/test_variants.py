"""Augmentation: mutants and rewrites of reference solutions, labelled by execution."""

from __future__ import annotations

import ast
import difflib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from winnow.judge.base.jsonl import candidate_key, read_jsonl
from winnow.judge.dataset.labelling import balance, label_candidates
from winnow.judge.dataset.mutations import BUG_CLASSES
from winnow.judge.dataset.problems import Problem, load_problems
from winnow.judge.dataset.source_edits import Site, apply_edits
from winnow.judge.dataset.variants import augment_problem, mutation_sites, normalized, rewrite_sites

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

# One function with a site of every bug class (a guard, an elif, builtins and methods, ...).
SNIPPET = '''def pick(words: list, limit: int) -> list:
    """Words of at most limit letters, lower-cased, sorted; cut after the best index."""
    if not words:
        return []
    out = []
    best = 0
    for i in range(1, len(words)):
        w = words[i].strip().lower()
        if len(w) > limit:
            continue
        elif w.startswith("x"):
            best = max(best, i - 1)
        elif w == "":
            best += 2
        out.append(w)
    found = any(c.isdigit() for c in out)
    parts = " ".join(sorted(out)).split()
    return parts[:best] if found and limit > 0 else parts
'''

# Sites of the rewrites the reference above lacks.
LOOPS = """def f(xs: list, n: int) -> int:
    out = []
    for x in xs:
        if x % 2 == 0:
            out.append(x * 3)
    sq = [y ** 2 for y in out]
    if not (n in out) and len(sq) == 0:
        return 0
    return sum([v for v in sq]) + any(s > n for s in sq)
"""


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


def test_every_bug_class_has_a_site() -> None:
    sites = mutation_sites(SNIPPET, "pick")
    by_class = Counter(s.bug_class for s in sites)
    assert set(by_class) == set(BUG_CLASSES), set(BUG_CLASSES) - set(by_class)
    texts = _applied(SNIPPET, sites)
    for v in texts:
        ast.parse(v)
    assert any("if not words:\n        return []\n" not in v and "out = []" in v for v in texts)  # guard
    assert any('elif w.startswith("x")' not in v and "max(best" not in v for v in texts)  # elif branch
    for old, new in [
        ("range(1, len(words))", "range(2, len(words))"),  # off-by-one: range start
        ("range(1, len(words))", "range(1, len(words) - 1)"),  # range stop
        ("parts[:best]", "parts[:best + 1]"),  # slice bound
        ("words[i]", "words[i - 1]"),  # index
        ("len(w) > limit", "len(w) >= limit"),  # loosened comparison
        ("best += 2", "best -= 2"),  # augmented operator
        ("found and limit", "found or limit"),  # boolean operator
        ("best = 0", "best = 1"),  # initial value
        ('startswith("x")', 'startswith("xx")'),  # string constant
        ('w == ""', 'w == " "'),
        ("max(best, i - 1)", "max(i - 1, best)"),  # swapped arguments
        ("i - 1", "1 - i"),  # swapped operands
        ("max(best", "min(best"),
        ("any(", "all("),
        (".lower()", ".upper()"),
        (".strip()", ".rstrip()"),
        ("out.append(w)", "out.extend(w)"),
        ("sorted(out)", "sorted(out, reverse=True)"),
        (".split()", '.split(" ")'),
        ("if not words:", "if words:"),  # dropped `not`
        ("return parts[:best] if found and limit > 0 else parts", "return None"),  # return value
    ]:
        assert any(new in v and old not in v for v in texts), (old, new)
    dropped = [v for v in texts if v.count("\n") == SNIPPET.count("\n") - 1]
    assert any("out.append" not in v for v in dropped)  # a dropped statement


@pytest.mark.parametrize(("code", "entry"), [(REFERENCE, "best_run"), (SNIPPET, "pick"), (LOOPS, "f")])
def test_variants_differ_only_inside_the_edited_span(code: str, entry: str) -> None:
    sites: list[Site] = mutation_sites(code, entry) + rewrite_sites(code, entry)
    assert len(sites) > 20
    for site in sites:
        new = apply_edits(code, site.edits)
        start = min(e[0] for e in site.edits)
        end = max(e[1] for e in site.edits)
        tail = len(code) - end
        assert new[:start] == code[:start] and new[len(new) - tail :] == code[end:], site
        # The lines that differ: one contiguous block per edited stretch of lines, where the edits are.
        first, last = code.count("\n", 0, start), code.count("\n", 0, end)
        matcher = difflib.SequenceMatcher(None, code.splitlines(), new.splitlines(), autojunk=False)
        blocks = [op for op in matcher.get_opcodes() if op[0] != "equal"]
        edited_lines = {code.count("\n", 0, e[0]) for e in site.edits}
        assert 1 <= len(blocks) <= max(2, len(edited_lines)), site
        assert all(first - 1 <= i1 and i2 <= last + 2 for _, i1, i2, _, _ in blocks), site
        if len(site.edits) == 1 and site.kind != "reorder":  # a swap of two lines reads as delete + insert
            assert len(blocks) == 1, site


def test_rewrites_keep_layout_and_signature() -> None:
    sites = rewrite_sites(REFERENCE, "best_run")
    kinds = {s.kind for s in sites}
    assert {"rename", "mirror", "range", "augassign", "reorder", "ternary"} <= kinds
    sig = ast.dump(ast.parse(REFERENCE).body[1].args)
    for v in _applied(REFERENCE, sites):
        func = ast.parse(v).body[1]
        assert ast.dump(func.args) == sig
        assert "# a comment the variants must keep" in v
    loops = _applied(LOOPS, rewrite_sites(LOOPS, "f"))
    assert {"comprehension", "generator", "truthiness", "negation", "commute"} <= {
        s.kind for s in rewrite_sites(LOOPS, "f")
    }
    assert any("    out = [x * 3 for x in xs if x % 2 == 0]\n    sq = " in v for v in loops)
    assert any("    sq = []\n    for y in out:\n        sq.append(y ** 2)\n" in v for v in loops)
    assert any("sum(v for v in sq)" in v for v in loops) and any("any([s > n" in v for v in loops)
    assert any("if not x % 2:" in v for v in loops) and any("n not in out" in v for v in loops)
    rename = next(s for s in sites if s.kind == "rename")
    renamed = apply_edits(REFERENCE, rename.edits)
    assert "def best_run(xs: list, limit: int) -> int:" in renamed


def test_many_distinct_mutants_for_humaneval_references() -> None:
    problems = {p.id: p for p in load_problems("humaneval:train")}
    for pid in ("HumanEval/0", "HumanEval/10", "HumanEval/12", "HumanEval/26"):
        p = problems[pid]
        assert p.reference is not None
        sites = mutation_sites(p.reference, p.entry_point)
        distinct = {normalized(apply_edits(p.reference, s.edits)) for s in sites} - {None}
        assert len(distinct) >= 15, (pid, len(distinct))
        mutants = [r for r in augment_problem(p, k=32, seed=0) if r["origin"] == "mutant"]
        assert len(mutants) >= 15, (pid, len(mutants))
        assert len({r["bug_class"] for r in mutants}) >= 5, pid


def _label(cid: str, origin: str, status: str, bug_class: str, problem: str = "p") -> dict[str, Any]:
    return {
        "problem_id": problem,
        "candidate_id": cid,
        "origin": origin,
        "status": status,
        "bug_class": bug_class,
    }


def test_balance_keeps_passing_and_spreads_failing_mutants_over_classes() -> None:
    classes = ["comparison", "constant", "variable"]
    labels = [
        _label("canonical", "canonical", "passed", "canonical"),
        _label("rw-1", "rewrite", "passed", "rewrite"),
    ]
    labels += [
        _label("rw-2", "rewrite", "failed", "rewrite"),
        _label("mut-0", "mutant", "passed", "constant"),
    ]
    labels += [_label(f"mut-{i}", "mutant", "failed", classes[i % 3]) for i in range(1, 13)]
    labels += [
        _label("canonical", "canonical", "passed", "canonical", "q"),
        _label("m", "mutant", "error", "return", "q"),
    ]
    kept = balance(labels, ratio=1.0, seed=0)
    assert kept == balance(list(labels), ratio=1.0, seed=0)
    mine = [r for r in kept if r["problem_id"] == "p"]
    failing_mutants = [r for r in mine if r["status"] != "passed" and r["origin"] == "mutant"]
    assert len(failing_mutants) == 3  # three pass: the reference, a rewrite and an equivalent mutant
    assert {r["bug_class"] for r in failing_mutants} == set(classes)
    assert {"canonical", "rw-1", "rw-2", "mut-0"} <= {r["candidate_id"] for r in mine}
    assert [r["candidate_id"] for r in kept if r["problem_id"] == "q"] == ["canonical", "m"]
    twice = balance(labels, ratio=2.0)
    assert (
        len(
            [
                r
                for r in twice
                if r["problem_id"] == "p" and r["status"] == "failed" and r["origin"] == "mutant"
            ]
        )
        == 6
    )
    assert len(balance(labels, ratio=0.0)) == len(labels) - 12 - 1
    kept_ids = {r["candidate_id"] for r in mine}
    assert [r["candidate_id"] for r in mine] == [
        r["candidate_id"] for r in labels[:16] if r["candidate_id"] in kept_ids
    ]


def test_augment_records_are_deterministic_and_distinct() -> None:
    a = augment_problem(PROBLEM, k=10, seed=3)
    assert a == augment_problem(PROBLEM, k=10, seed=3)
    assert a != augment_problem(PROBLEM, k=10, seed=4)
    assert a[0]["candidate_id"] == "canonical" and a[0]["code"] == REFERENCE
    assert {r["origin"] for r in a} == {"canonical", "mutant", "rewrite"}
    assert len({r["candidate_id"] for r in a}) == len(a) == 11
    assert len({normalized(r["code"]) for r in a}) == len(a)
    for r in a:
        assert set(r) >= {"problem_id", "candidate_id", "code", "origin", "transform", "bug_class"}
        assert (r["bug_class"] in BUG_CLASSES) == (r["origin"] == "mutant")
        assert r["origin"] == "mutant" or r["bug_class"] == r["origin"]
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
    chosen = load_problems("humaneval:heldout")[::8] + load_problems("humaneval:train")[::20]
    problems = {p.id: p for p in chosen}
    records = [
        r for p in problems.values() for r in augment_problem(p, k=16, seed=0) if r["origin"] != "mutant"
    ]
    assert len(records) >= 3 * len(problems)
    out = tmp_path / "labels.jsonl"
    label_candidates(problems, records, out, progress=False)
    bad = [(r["problem_id"], r["transform"], r["reason"]) for r in read_jsonl(out) if r["status"] != "passed"]
    assert not bad


def test_java_problems_contribute_the_reference_and_mutants() -> None:
    problem = load_problems("java:sample")[0]
    records = augment_problem(problem, k=8)
    assert records[0]["candidate_id"] == "canonical" and records[0]["code"] == problem.reference
    mutants = records[1:]
    assert [r["candidate_id"] for r in mutants] == [f"mut-{i}" for i in range(1, len(mutants) + 1)]
    assert 1 <= len(mutants) <= 8
    assert all(r["origin"] == "mutant" and r["bug_class"] in BUG_CLASSES for r in mutants)
    assert len({r["code"] for r in records}) == len(records)
    assert records == augment_problem(problem, k=8)
    assert len(augment_problem(problem, k=2)) == 3


def _augment_cmd(problems: Path, out: Path, *flags: str) -> list[str]:
    base = [
        sys.executable,
        "-m",
        "winnow.cli",
        "augment",
        "--problems",
        str(problems),
        "--out",
        str(out),
    ]
    return [*base, *flags, "--label", "--quiet"]


def test_augment_cli_with_label_is_resumable(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(PROBLEM.to_record()) + "\n")
    out = tmp_path / "labels.jsonl"
    cmd = _augment_cmd(problems, out, "--per-problem", "6", "--seed", "2", "--balance", "0")
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    labels = list(read_jsonl(out))
    assert len(labels) == 7 and all(r["status"] in ("passed", "failed", "timeout", "error") for r in labels)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "7 already labelled" in second.stderr
    assert len({candidate_key(r) for r in read_jsonl(out)}) == 7


def test_augment_cli_balances_after_labelling(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(PROBLEM.to_record()) + "\n")
    out = tmp_path / "labels.jsonl"
    cmd = _augment_cmd(problems, out, "--per-problem", "14", "--rewrite-share", "0.2", "--seed", "1")
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    every = list(read_jsonl(tmp_path / "labels.all.jsonl"))
    kept = list(read_jsonl(out))
    assert len(every) == 15
    passing = [r for r in every if r["status"] == "passed"]
    failing_mutants = [r for r in every if r["status"] != "passed" and r["origin"] == "mutant"]
    assert len(failing_mutants) > len(passing), "this test needs more failing mutants than passing variants"
    kept_keys = {candidate_key(r) for r in kept}
    assert {candidate_key(r) for r in passing} <= kept_keys
    assert len([r for r in kept if r["status"] != "passed"]) == len(passing)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0 and "15 already labelled" in second.stderr
    assert list(read_jsonl(out)) == kept
