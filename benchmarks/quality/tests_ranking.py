"""``winnow bench tests_ranking``: best of N by the user's tests, on problems no judge saw.

Each task's tests (HumanEval's ``check(candidate)``) are split into their top-level
``assert`` statements, alternately into a *visible* half (the user's test file: one pytest
test per assert, calling the entry point imported from the module being implemented) and a
*hidden* half, kept to label the pick; the other statements of ``check`` (setup) stay in
both halves, before the asserts that follow them. Asserts of a constant (``assert True``)
test nothing and are dropped; a task left with fewer than 2 asserts is skipped (counted).
Every candidate of a task runs against the visible tests with the product's machinery (a
``ProjectSuite`` discovered in a temporary project folder, the tests chosen as the implement
action chooses them, ``run_candidates``: one sandboxed process, one forked child per
candidate, the candidate served as the module the tests import), and separately against the
hidden half. The batch is ranked as the action ranks it (``by_tests_first``: visible tests
passed, most first, then the verdict's ``rank_score`` from ``--scores``, ties in a seeded
random order), and the top pick passes when it passes every hidden assert.

Figures, over the tasks ranked: the share whose top pick passes the hidden half for (a)
tests first, then the verdict; (b) the verdict alone; (c) a random pick; (d) the oracle (some
candidate passes). Each pick is given two ways: ``expected`` counts a tie at the top as the
expected pass rate of a random pick among the tied (``winnow eval``'s convention, so (b) is
comparable with the held-out figures of docs/training.md), ``seeded`` as the one candidate
the seeded order puts first; ``full`` labels the ``expected`` pick by the full tests, visible
half included (the labels' ``status``, ``winnow eval``'s label: the verdict's row there is
the shipped figure). Also the seconds per task of the visible runs and, with
``--action-task``, what the implement action adds: ``check_candidates`` for N candidates on
up to 20 of one task's asserts (all of them visible). ``--json`` prints one object.

    winnow bench tests_ranking --labels heldout-labels.jsonl --scores s-combined.jsonl \\
        --problems humaneval:heldout --seed 0
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import statistics
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl

#: The module the tests import (the file being implemented) and the user's test file.
MODULE = "task"
TEST_FILE = "test_task.py"
PYPROJECT = "[tool.pytest.ini_options]\n"
#: Labels of candidates that ran (an unlabelled candidate record has no ``status``).
RAN = ("passed", "failed", "timeout", "error")


@dataclass(frozen=True)
class Split:
    """A task's tests split in two: the module-level statements (imports, helpers) of the tests,
    ``check``'s setup statements with their positions, and each half's asserts with theirs,
    every statement as source with ``check``'s parameter renamed to the entry point."""

    header: tuple[str, ...]
    setup: tuple[tuple[int, str], ...]
    visible: tuple[tuple[int, str], ...]
    hidden: tuple[tuple[int, str], ...]
    dropped: int = 0  # asserts of a constant

    @property
    def asserts(self) -> int:
        return len(self.visible) + len(self.hidden)


class _Rename(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:  # noqa: N802 - ast's API
        return ast.copy_location(ast.Name(self.new, node.ctx), node) if node.id == self.old else node


def split_tests(tests: str, entry_point: str) -> Split | None:
    """``tests``' ``check`` function split into setup and alternate halves of its top-level
    asserts (the first to the visible half); None when there is no ``check(candidate)``."""
    tree = ast.parse(tests)
    check = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check" and n.args.args), None
    )
    if check is None:
        return None
    renamed = _Rename(check.args.args[0].arg, entry_point)
    header = tuple(ast.unparse(n) for n in tree.body if n is not check and not _calls_check(n))
    setup: list[tuple[int, str]] = []
    asserts: list[tuple[int, str]] = []
    dropped = 0
    for pos, stmt in enumerate(check.body):
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Constant, ast.Name)):
            continue  # a docstring, a bare ``print``: does nothing
        if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Constant):
            dropped += 1
            continue
        source = ast.unparse(renamed.visit(stmt))
        (asserts if isinstance(stmt, ast.Assert) else setup).append((pos, source))
    return Split(header, tuple(setup), tuple(asserts[0::2]), tuple(asserts[1::2]), dropped)


def _calls_check(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(
        node.value.func, ast.Name) and node.value.func.id == "check"  # fmt: skip


def user_test_file(split: Split, half: Sequence[tuple[int, str]], entry_point: str) -> str:
    """A pytest file: the entry point imported from ``MODULE``, the tests' own module-level
    statements, then one test per assert of ``half`` with the setup that comes before it."""
    lines = [f"from {MODULE} import {entry_point}", *split.header]
    for number, (pos, stmt) in enumerate(half):
        body = [s for p, s in split.setup if p < pos] + [stmt]
        lines += ["", "", f"def test_{number:02d}():"]
        lines += ["    " + line for s in body for line in s.splitlines()]
    return "\n".join(lines) + "\n"


def write_project(root: Path, module_text: str, user_test_file: str) -> Any:
    """A project folder (pytest config, the module, its test file), as discovery finds it."""
    from winnow.judge.evidence.project_tests.project import discover

    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (root / f"{MODULE}.py").write_text(module_text, encoding="utf-8")
    (root / TEST_FILE).write_text(user_test_file, encoding="utf-8")
    project = discover(str(root))
    if project is None or project.runner != "pytest":
        raise WinnowError(f"{root}: discovery did not find the pytest project written there")
    return project


def chosen_tests(project: Any, entry_point: str, limit: int | None) -> list[str]:
    """The tests the implement action runs for a stub of ``entry_point``: those that call it
    by name (``stub_cases``' choice), at most ``limit`` (the action's ``MAX_TESTS``)."""
    from winnow.judge.evidence.project_tests.selection import by_name, case_id

    found = by_name(project.test_files, entry_point)
    ids = list(dict.fromkeys(case_id(project.runner, project.root, f, q) for f, q, _line in found))
    return ids[:limit] if limit is not None else ids


@dataclass
class Candidate:
    candidate_id: str
    code: str
    label: str  # the full tests' label (``status``)
    score: float | None  # the verdict's rank_score (else p_correct); None: not scored
    visible: int = 0
    visible_total: int = 0
    hidden_pass: bool = False
    visible_error: str = ""


@dataclass
class Task:
    problem_id: str
    candidates: list[Candidate]
    n_visible: int
    n_hidden: int
    visible_s: float = 0.0
    hidden_s: float = 0.0
    picks: dict[str, Any] = field(default_factory=dict)


def run_task(problem: Any, split: Split, records: list[dict[str, Any]], scores: dict[tuple[str, str], float],
             timeout_s: float, folder: Path) -> Task:  # fmt: skip
    """Every candidate of one task against the visible half, then the hidden half."""
    from winnow.judge.evidence.project_tests.candidates import MAX_TESTS
    from winnow.judge.evidence.project_tests.runs import Document, run_candidates

    entry = problem.entry_point
    cands = [Candidate(str(r["candidate_id"]), str(r["code"]), str(r["status"]),
                       scores.get((problem.id, str(r["candidate_id"])))) for r in records]  # fmt: skip
    total_s = max(30.0, timeout_s * len(cands) + 15)
    halves = {}
    for name, half, limit in (("visible", split.visible, MAX_TESTS), ("hidden", split.hidden, None)):
        project = write_project(folder / name, problem.prompt, user_test_file(split, half, entry))
        ids = chosen_tests(project, entry, limit)
        documents = [Document(str(Path(project.root) / f"{MODULE}.py"), c.code) for c in cands]
        t0 = time.perf_counter()
        results = run_candidates(project, ids, documents, timeout_s=timeout_s, total_s=total_s)
        halves[name] = (ids, results, time.perf_counter() - t0)
    (v_ids, visible, v_s), (h_ids, hidden, h_s) = halves["visible"], halves["hidden"]
    for c, v, h in zip(cands, visible, hidden, strict=True):
        c.visible, c.visible_total, c.visible_error = (
            v.passed,
            v.total,
            v.error or ("timeout" if v.timeout else ""),
        )
        c.hidden_pass = bool(h_ids) and h.passed == len(h_ids) and not h.timeout and not h.error
    return Task(problem.id, cands, len(v_ids), len(h_ids), v_s, h_s)


def _expected(cands: Sequence[Candidate], key: Any, full: bool = False) -> float:
    """The hidden pass rate (``full``: the full tests' label) of a random pick among the
    candidates tied at the top by ``key``."""
    best = max(key(c) for c in cands)
    tied = [c for c in cands if key(c) == best]
    return sum((c.label == "passed") if full else c.hidden_pass for c in tied) / len(tied)


def pick(task: Task, seed: int) -> dict[str, Any]:
    """Each way of picking, on one task: whether the pick passes the hidden half (``seeded``:
    the candidate the order puts first; ``expected``: a tie at the top counted as a random
    pick among the tied; ``full``: as ``expected``, the pick labelled by the full tests, visible
    half included, as ``winnow eval`` labels it)."""
    from winnow.judge.scoring.ranking import RankedCandidate, StaticSignals, by_tests_first
    from winnow.judge.sites import parses

    cands = task.candidates
    rng = random.Random(zlib.crc32(f"{seed}:{task.problem_id}".encode()))
    tiebreak = list(range(len(cands)))
    rng.shuffle(tiebreak)
    verdict = [float("-inf") if c.score is None else c.score for c in cands]
    order = sorted(range(len(cands)), key=lambda i: (-verdict[i], tiebreak[i]))  # the verdict's ranking
    ranked = [RankedCandidate(i, cands[i].code, None, 0.0, verdict[i], StaticSignals(parses=parses(cands[i].code)))
              for i in order]  # fmt: skip
    by_tests = by_tests_first(ranked, [(c.visible, c.visible_total) for c in cands])
    random_index = rng.randrange(len(cands))
    tests_key = lambda c: (c.visible if parses(c.code) else -1, -1e300 if c.score is None else c.score)  # noqa: E731
    verdict_key = lambda c: -1e300 if c.score is None else c.score  # noqa: E731
    return {
        "tests_first": {"seeded": cands[by_tests[0].index].hidden_pass, "expected": _expected(cands, tests_key),
                        "full": _expected(cands, tests_key, full=True), "pick": cands[by_tests[0].index].candidate_id},
        "verdict": {"seeded": cands[order[0]].hidden_pass, "expected": _expected(cands, verdict_key),
                    "full": _expected(cands, verdict_key, full=True), "pick": cands[order[0]].candidate_id},
        "random": {"seeded": cands[random_index].hidden_pass,
                   "expected": sum(c.hidden_pass for c in cands) / len(cands),
                   "full": sum(c.label == "passed" for c in cands) / len(cands)},
        "oracle": {"seeded": any(c.hidden_pass for c in cands), "expected": float(any(c.hidden_pass for c in cands)),
                   "full": float(any(c.label == "passed" for c in cands))},
    }  # fmt: skip


ROWS = (
    ("tests_first", "(a) tests first, then the verdict"),
    ("verdict", "(b) the verdict alone"),
    ("random", "(c) a random pick"),
    ("oracle", "(d) the oracle (some candidate passes)"),
)


def summarize(tasks: Sequence[Task], skipped: Sequence[str], dropped_asserts: int, seed: int,
              scored: bool) -> dict[str, Any]:  # fmt: skip
    """The report: each row's share of tasks whose pick passes the hidden half, and counts."""
    n = len(tasks)
    rows: dict[str, Any] = {}
    for key, title in ROWS:
        rows[key] = {"title": title}
        for how in ("expected", "seeded", "full"):
            rows[key][how] = sum(float(t.picks[key][how]) for t in tasks) / n if n else None
    cands = [c for t in tasks for c in t.candidates]
    seconds = [t.visible_s for t in tasks]
    disagree_pass = sum(c.label == "passed" and not c.hidden_pass for c in cands)
    return {
        "rows": rows,
        "tasks": n,
        "candidates": len(cands),
        "skipped_tasks": len(skipped),
        "skipped": list(skipped),
        "dropped_constant_asserts": dropped_asserts,
        "visible_tests": sum(t.n_visible for t in tasks),
        "hidden_tests": sum(t.n_hidden for t in tasks),
        "pick_changed_by_tests": sum(t.picks["tests_first"]["pick"] != t.picks["verdict"]["pick"] for t in tasks),
        "candidates_passing_hidden": sum(c.hidden_pass for c in cands),
        "candidates_passing_full": sum(c.label == "passed" for c in cands),
        # a candidate that passes the full tests but not its hidden half: the harness, not the code
        "passed_full_failed_hidden": disagree_pass,
        "failed_full_passed_both_halves": sum(c.label != "passed" and c.hidden_pass and c.visible_total > 0
                                              and c.visible == c.visible_total for c in cands),
        "visible_errors": sum(bool(c.visible_error) for c in cands),
        "visible_s_per_task": {"median": statistics.median(seconds) if seconds else None,
                               "max": max(seconds) if seconds else None, "total": sum(seconds)},
        "hidden_s_total": sum(t.hidden_s for t in tasks),
        "seed": seed,
        "scored": scored,
        "per_task": [{"problem_id": t.problem_id, "candidates": len(t.candidates), "visible_tests": t.n_visible,
                      "hidden_tests": t.n_hidden, "visible_s": round(t.visible_s, 3), "picks": t.picks,
                      "results": [{"candidate_id": c.candidate_id, "visible": c.visible, "hidden_pass": c.hidden_pass,
                                   "label": c.label} for c in t.candidates]} for t in tasks],
    }  # fmt: skip


def time_action(problem: Any, records: list[dict[str, Any]], n: int, n_tests: int, repeat: int,
                folder: Path) -> dict[str, Any]:  # fmt: skip
    """What the implement action adds: ``check_candidates`` for ``n`` candidates of one task
    on up to ``n_tests`` of its asserts (all visible), the module being the task's stub."""
    from winnow.judge.evidence.project_tests.candidates import check_candidates, stub_cases
    from winnow.judge.sites import functions

    split = split_tests(problem.tests, problem.entry_point)
    if split is None:
        raise WinnowError(f"{problem.id}: its tests have no check(candidate)")
    every = sorted(split.visible + split.hidden)[:n_tests]
    project = write_project(
        folder / "action", problem.prompt, user_test_file(split, every, problem.entry_point)
    )
    path = str(Path(project.root) / f"{MODULE}.py")
    site = next((s for s in functions(problem.prompt) if s.name == problem.entry_point), None)
    tests = stub_cases(project, path, problem.prompt, site) if site is not None else None
    if tests is None:
        raise WinnowError(f"{problem.id}: the action finds no test of {problem.entry_point}")
    codes = [str(r["code"]) for r in records[:n]]
    seconds, passed = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = check_candidates(tests, codes)
        seconds.append(time.perf_counter() - t0)
        passed = [r.passed for r in results]
    return {"problem_id": problem.id, "candidates": len(codes), "tests": len(tests.ids), "repeat": repeat,
            "seconds": [round(s, 3) for s in seconds], "median_s": statistics.median(seconds),
            "max_s": max(seconds), "passed": passed}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", required=True, help="labelled candidates JSONL (winnow augment --label)")
    parser.add_argument("--scores", help="winnow judge score --strategy combined output on the same candidates "
                                         "(rank_score, else p_correct); without it the verdict is a seeded random order")  # fmt: skip
    parser.add_argument("--problems", default="humaneval:heldout", help="problem set of the labels")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the tie-breaking order and the random pick"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per candidate run (the action's: 10)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks (a quick look)")
    parser.add_argument("--action-task", default=None, metavar="ID",
                        help="also time the implement action's check on this task ('auto': the one with most asserts)")  # fmt: skip
    parser.add_argument("--action-n", type=int, default=5, help="candidates of the action timing (default 5)")
    parser.add_argument("--action-repeat", type=int, default=3, help="repeats of the action timing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def load_scores(path: str | None) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    if path:
        for r in read_jsonl(path):
            value = r.get("rank_score", r.get("p_correct"))
            if value is not None:
                out[(str(r["problem_id"]), str(r["candidate_id"]))] = float(value)
    return out


def evaluate(problems: dict[str, Any], labels: list[dict[str, Any]], scores: dict[tuple[str, str], float],
             seed: int, timeout_s: float, limit: int | None = None, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Every task of ``labels`` run, ranked and summarized (see the module doc)."""
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in labels:
        if r.get("status") in RAN:
            by_problem[str(r["problem_id"])].append(r)
    unknown = sorted(set(by_problem) - set(problems))
    if unknown:
        raise WinnowError(f"the labels name problems not in the problem set: {', '.join(unknown[:5])}")
    ids = sorted(by_problem, key=lambda p: (len(p), p))[:limit]
    tasks: list[Task] = []
    skipped: list[str] = []
    dropped = 0
    with tempfile.TemporaryDirectory(prefix="winnow-tests-ranking-") as tmp:
        for number, pid in enumerate(ids):
            problem = problems[pid]
            split = split_tests(problem.tests, problem.entry_point)
            dropped += split.dropped if split else 0
            if split is None or split.asserts < 2 or len(by_problem[pid]) < 2:
                skipped.append(pid)
                continue
            task = run_task(problem, split, by_problem[pid], scores, timeout_s, Path(tmp) / f"t{number}")
            task.picks = pick(task, seed)
            tasks.append(task)
            if progress:
                print(f"{pid}: {len(task.candidates)} candidates, {task.n_visible} visible / {task.n_hidden} hidden "
                      f"tests, {task.visible_s:.2f} s", file=sys.stderr)  # fmt: skip
    return summarize(tasks, skipped, dropped, seed, bool(scores))


def _print(report: dict[str, Any]) -> None:
    print(f"{report['tasks']} tasks, {report['candidates']} candidates; {report['visible_tests']} visible and "
          f"{report['hidden_tests']} hidden tests; skipped {report['skipped_tasks']} task(s) with fewer than 2 "
          f"asserts or candidates; {report['dropped_constant_asserts']} constant asserts dropped")  # fmt: skip
    print(f"\n{'top pick passes':42} {'hidden half':>12} {'seeded':>7} {'full tests':>11}")
    for row in report["rows"].values():
        cells = [f"{row[h]:.3f}" if row[h] is not None else "–" for h in ("expected", "seeded", "full")]
        print(f"{row['title']:42} {cells[0]:>12} {cells[1]:>7} {cells[2]:>11}")
    print("(hidden half and full tests: ties at the top count as a random pick among the tied, as winnow eval counts "
          "them;\n seeded: the one the seeded order puts first; full tests: the visible half too, winnow eval's label)")  # fmt: skip
    print(f"tests changed the pick in {report['pick_changed_by_tests']} task(s); "
          f"{report['passed_full_failed_hidden']} candidate(s) pass the full tests but not their hidden half")  # fmt: skip
    s = report["visible_s_per_task"]
    if s["median"] is not None:
        print(
            f"visible runs: {s['median']:.2f} s per task (median), {s['max']:.2f} s max, {s['total']:.0f} s in all"
        )
    action = report.get("action")
    if action:
        print(f"implement action's check: {action['candidates']} candidates x {action['tests']} tests on "
              f"{action['problem_id']}: {action['median_s']:.2f} s median, {action['max_s']:.2f} s max "
              f"({action['repeat']} runs)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from winnow.judge.dataset.problems import problems_by_id
    from winnow.judge.evidence.project_tests.candidates import MAX_TESTS
    from winnow.judge.sandbox.choice import strong_isolation

    if not strong_isolation():
        raise WinnowError("the user's tests run only in a sandbox that isolates them (bubblewrap): none here")
    problems = problems_by_id(args.problems)
    labels = list(read_jsonl(args.labels))
    report = evaluate(problems, labels, load_scores(args.scores), args.seed, args.timeout, args.limit)
    if args.action_task:
        pid = args.action_task
        if pid == "auto":
            counts = {p: s.asserts for p in {str(r["problem_id"]) for r in labels} if p in problems
                      for s in [split_tests(problems[p].tests, problems[p].entry_point)] if s is not None}  # fmt: skip
            pid = max(sorted(counts), key=lambda p: counts[p])
        records = [r for r in labels if r.get("problem_id") == pid]
        if pid not in problems or not records:
            raise WinnowError(f"--action-task {pid}: not a task of the labels")
        with tempfile.TemporaryDirectory(prefix="winnow-tests-action-") as tmp:
            report["action"] = time_action(problems[pid], records, args.action_n, MAX_TESTS, args.action_repeat,
                                           Path(tmp))  # fmt: skip
    if args.json:
        print(json.dumps(report))
    else:
        _print(report)
    return 0
