"""``winnow bench tests_ranking`` on small hand-made problems (no model): the split of a task's
asserts into the user's test file and a hidden half, the ranking (tests first, then the
verdict), and the report's fields, with the candidates run in the real sandbox."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from winnow.benchmarks.quality import tests_ranking
from winnow.benchmarks.quality.tests_ranking import Candidate, Task, pick, split_tests, user_test_file

INC_TESTS = '''def check(candidate):
    """Checks."""
    assert candidate(1) == 2
    assert candidate(2) == 3
    assert True, "nothing"
    assert candidate(-1) == 0
    assert candidate(0) == 1


check(inc)
'''
HEAD_TESTS = """import math


def check(candidate):
    xs = [3, 4]
    assert candidate(xs) == 3
    assert candidate([]) is None
    assert candidate([7]) == 7


check(head)
"""
ONE_TESTS = "def check(candidate):\n    assert candidate() == 1\n\n\ncheck(one)\n"
PROBLEMS = [
    {"id": "toy/inc", "prompt": 'def inc(x):\n    """x + 1"""\n', "tests": INC_TESTS, "entry_point": "inc"},
    {"id": "toy/head", "prompt": 'def head(xs):\n    """The first item, None when empty."""\n', "tests": HEAD_TESTS,
     "entry_point": "head"},
    {"id": "toy/one", "prompt": "def one():\n    ...\n", "tests": ONE_TESTS, "entry_point": "one"},
]  # fmt: skip
# (problem, candidate id, code, label by the full tests, the verdict's rank_score or None)
CANDIDATES = [
    ("toy/inc", "ref", "def inc(x):\n    return x + 1\n", "passed", 0.6),
    ("toy/inc", "plus2", "def inc(x):\n    return x + 2\n", "failed", 0.9),  # the verdict's pick: fails all
    ("toy/inc", "odd-only", "def inc(x):\n    return x + 1 if x % 2 else x\n", "failed", 0.5),  # passes the visible half
    ("toy/inc", "broken", "def inc(x):\n    return x +\n", "error", None),
    ("toy/inc", "raises", "raise ValueError('at import')\ndef inc(x):\n    return x + 1\n", "error", 0.1),
    ("toy/head", "ref", "def head(xs):\n    return xs[0] if xs else None\n", "passed", 0.2),
    ("toy/head", "no-guard", "def head(xs):\n    return xs[0]\n", "error", 0.8),  # same visible tests, higher verdict
    ("toy/one", "ref", "def one():\n    return 1\n", "passed", 0.5),
    ("toy/one", "two", "def one():\n    return 2\n", "failed", 0.5),
]  # fmt: skip


def test_the_split_alternates_asserts_and_keeps_setup_in_both_halves() -> None:
    split = split_tests(INC_TESTS, "inc")
    assert split is not None and split.dropped == 1  # ``assert True`` tests nothing
    assert [s for _, s in split.visible] == ["assert inc(1) == 2", "assert inc(-1) == 0"]
    assert [s for _, s in split.hidden] == ["assert inc(2) == 3", "assert inc(0) == 1"]
    head = split_tests(HEAD_TESTS, "head")
    assert head is not None and head.header == ("import math",) and head.setup == ((0, "xs = [3, 4]"),)
    visible = user_test_file(head, head.visible, "head")
    assert visible.startswith("from task import head\n") and "import math" in visible
    assert visible.count("def test_") == 2 and "    xs = [3, 4]\n    assert head(xs) == 3\n" in visible
    hidden = user_test_file(head, head.hidden, "head")
    assert hidden.count("def test_") == 1 and "xs = [3, 4]\n    assert head([]) is None" in hidden
    compile(visible, "test_task.py", "exec")
    assert split_tests(ONE_TESTS, "one").asserts == 1  # type: ignore[union-attr]
    assert split_tests("x = 1\n", "f") is None


def _cand(
    cid: str, visible: int, hidden: bool, score: float | None, code: str = "def f():\n    pass\n"
) -> Candidate:
    return Candidate(cid, code, "passed" if hidden else "failed", score, visible, 2, hidden)


def test_the_pick_puts_tests_first_then_the_verdict_and_counts_ties() -> None:
    task = Task("t", [_cand("a", 2, True, 0.3), _cand("b", 1, False, 0.9), _cand("c", 2, False, 0.3),
                      _cand("d", 2, False, None), _cand("e", 2, False, 0.99, code="def f(:\n")], 2, 1)  # fmt: skip
    picks = pick(task, seed=0)
    assert picks["tests_first"]["expected"] == 0.5  # a and c tie on tests and verdict; e does not parse
    assert picks["tests_first"]["pick"] in ("a", "c")
    assert picks["verdict"]["pick"] == "e" and picks["verdict"]["expected"] == 0.0
    assert picks["random"]["expected"] == 0.2 and picks["oracle"]["expected"] == 1.0
    assert picks["verdict"]["full"] == 0.0 and picks["tests_first"]["full"] == 0.5
    again = pick(task, seed=0)
    assert again == picks  # the seeded order is the same every run
    unscored = Task("u", [_cand(x, 2, x == "a", None) for x in "abcd"], 2, 1)
    seeded = {pick(unscored, seed)["tests_first"]["pick"] for seed in range(20)}
    assert (
        len(seeded) > 1 and pick(unscored, 0)["tests_first"]["expected"] == 0.25
    )  # no verdict: seeded random


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (.ci/setup.sh installs it)")
def test_the_bench_runs_every_candidate_on_both_halves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems, labels, scores = (
        tmp_path / "problems.jsonl",
        tmp_path / "labels.jsonl",
        tmp_path / "scores.jsonl",
    )
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    labels.write_text("".join(json.dumps({"problem_id": p, "candidate_id": c, "code": code, "status": status}) + "\n"
                              for p, c, code, status, _ in CANDIDATES))  # fmt: skip
    scores.write_text("".join(json.dumps({"problem_id": p, "candidate_id": c, "p_correct": 0.5, "rank_score": s}) + "\n"
                              for p, c, _, _, s in CANDIDATES if s is not None))  # fmt: skip
    parser = argparse.ArgumentParser()
    tests_ranking.add_arguments(parser)
    args = parser.parse_args(["--labels", str(labels), "--scores", str(scores), "--problems", str(problems),
                              "--timeout", "5", "--action-task", "toy/inc", "--action-n", "3",
                              "--action-repeat", "1", "--json"])  # fmt: skip
    assert tests_ranking.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tasks"] == 2 and report["candidates"] == 7 and report["skipped"] == ["toy/one"]
    assert report["dropped_constant_asserts"] == 1 and report["scored"] is True
    assert (report["visible_tests"], report["hidden_tests"]) == (4, 3)
    rows = report["rows"]
    assert rows["tests_first"]["expected"] == 0.5  # inc: the reference; head: the unguarded one (verdict)
    assert rows["verdict"]["expected"] == 0.0  # inc: x + 2; head: the unguarded one
    assert rows["random"]["expected"] == pytest.approx((1 / 5 + 1 / 2) / 2)
    assert (
        rows["oracle"]["expected"] == 1.0
        and rows["verdict"]["full"] == 0.0
        and rows["tests_first"]["full"] == 0.5
    )
    assert rows["tests_first"]["seeded"] == 0.5 and set(rows) == {
        "tests_first",
        "verdict",
        "random",
        "oracle",
    }
    assert report["pick_changed_by_tests"] == 1 and report["passed_full_failed_hidden"] == 0
    assert report["candidates_passing_hidden"] == report["candidates_passing_full"] == 2
    inc = report["per_task"][0]
    assert inc["problem_id"] == "toy/inc" and inc["picks"]["tests_first"]["pick"] == "ref"
    assert inc["picks"]["verdict"]["pick"] == "plus2"
    assert set(report["visible_s_per_task"]) == {"median", "max", "total"}
    assert 0 < report["visible_s_per_task"]["median"] <= report["visible_s_per_task"]["max"]
    action = report["action"]
    assert action["problem_id"] == "toy/inc" and action["candidates"] == 3 and action["tests"] == 4
    assert action["passed"] == [4, 0, 2] and action["median_s"] > 0
    visible = {r["candidate_id"]: (r["visible"], r["hidden_pass"]) for r in inc["results"]}
    assert visible == {"ref": (2, True), "plus2": (0, False), "odd-only": (2, False), "broken": (0, False),
                       "raises": (0, False)}  # fmt: skip
