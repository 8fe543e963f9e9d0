"""`winnow judge show|score` and `winnow complete` ranking by the judge (subprocesses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_support import assert_clean_error, winnow

TASK = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'


def test_judge_show_default() -> None:
    proc = winnow("judge", "show", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == "winnow-judge/1"
    assert data["prompt_template"] == "winnow-judge-v2"
    # The shipped default is the trained LoRA judge with its fitted verdict (what serving
    # uses), carrying the verdict's held-out figures and the higher bar they must clear.
    assert data["adapter"] and data["adapter_exists"] is True
    assert data["verdict"]["format"] == "winnow-verdict/1" and data["verdict"]["n_problems"] > 0
    assert data["evaluation"]["split"] == "humaneval:heldout" and data["evaluation"]["n"] > 0
    assert data["recommended"]["min_auc"] == 0.80
    assert data["recommended"]["diagnostics"] == (data["evaluation"]["auc"] >= data["recommended"]["min_auc"])
    human = winnow("judge", "show")
    assert "base model" in human.stdout and "calibration" in human.stdout


def test_judge_show_missing_manifest(tmp_path: Path) -> None:
    assert_clean_error(winnow("judge", "show", "--judge", str(tmp_path / "nope.json")), "does not exist")


def test_judge_score_one_pair(tmp_path: Path) -> None:
    (tmp_path / "task.py").write_text(TASK)
    (tmp_path / "cand.py").write_text(TASK + "    return a + b\n")
    proc = winnow("judge", "score", "--task", str(tmp_path / "task.py"), "--candidate", str(tmp_path / "cand.py"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert 0.0 <= out["p_correct"] <= 1.0
    (tmp_path / "broken.py").write_text(TASK + "    return (a +\n")
    proc = winnow("judge", "score", "--task", str(tmp_path / "task.py"), "--candidate", str(tmp_path / "broken.py"), "--json")
    assert json.loads(proc.stdout)["p_correct"] == 0.0


def write_problem_and_candidates(tmp_path: Path, codes: list[str]) -> tuple[Path, Path]:
    """One problem (add) and candidates c0, c1, … with the given codes, as JSONL files."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({
        "id": "t/0", "language": "python", "prompt": TASK, "tests": "assert add(1, 2) == 3\n", "entry_point": "add",
    }) + "\n")
    cands = tmp_path / "cands.jsonl"
    with cands.open("w") as f:
        for i, code in enumerate(codes):
            f.write(json.dumps({"problem_id": "t/0", "candidate_id": f"c{i}", "code": code}) + "\n")
    return problems, cands


def test_judge_score_jsonl_resumes(tmp_path: Path) -> None:
    bodies = ["    return a + b\n", "    return a - b\n", "    return (\n"]
    problems, cands = write_problem_and_candidates(tmp_path, [TASK + body for body in bodies])
    out = tmp_path / "scores.jsonl"
    args = ("judge", "score", "--problems", str(problems), "--candidates", str(cands), "--out", str(out), "--quiet")
    proc = winnow(*args)
    assert proc.returncode == 0, proc.stderr
    scores = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(s["candidate_id"] for s in scores) == ["c0", "c1", "c2"]
    assert {s["candidate_id"]: s["p_correct"] for s in scores}["c2"] == 0.0
    again = winnow(*args)
    assert again.returncode == 0
    assert len(out.read_text().splitlines()) == 3  # nothing scored twice


def test_judge_score_logprob_baseline(tmp_path: Path) -> None:
    """--strategy logprob scores candidates the generator did not write, as probabilities."""
    bodies = ["    return a + b\n", "    return a - b  # zq xv wk\n", "    return (\n"]
    codes = [TASK + body for body in bodies] + ["def other():\n    pass\n"]
    problems, cands = write_problem_and_candidates(tmp_path, codes)
    out = tmp_path / "scores.jsonl"
    proc = winnow("judge", "score", "--strategy", "logprob", "--problems", str(problems), "--candidates", str(cands),
                  "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    scores = {s["candidate_id"]: s for s in map(json.loads, out.read_text().splitlines())}
    assert all(0.0 <= s["p_correct"] <= 1.0 for s in scores.values())
    assert scores["c0"]["mean_logprob"] < 0 and scores["c1"]["mean_logprob"] < 0
    assert scores["c0"]["p_correct"] > scores["c1"]["p_correct"]  # gibberish comment: less likely text
    assert scores["c2"]["p_correct"] == 0.0 and scores["c3"]["p_correct"] == 0.0
    assert scores["c3"]["mean_logprob"] is None
    surprise = scores["c1"]["surprise"]  # the token-level features, for fitting (judge.scoring.surprise)
    assert surprise["mean_logprob"] == pytest.approx(scores["c1"]["mean_logprob"], abs=1e-4)
    assert surprise["max_gap"] >= surprise["second_gap"] >= 0 and surprise["max_gap"] > 1.0
    assert "surprise" not in scores["c3"]


def test_complete_ranks_by_the_verdict(repo_root: Path) -> None:
    """With the shipped judge, `complete` ranks by what serving uses: the fitted verdict."""
    proc = winnow("complete", str(repo_root / "docs/examples/stats.py"), "-n", "3", "--max-tokens", "48", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["strategy"] == "combined"
    parsing = [c for c in report["candidates"] if c["signals"]["parses"]]
    assert all(c["reason"].startswith("verdict ") and "judge z" in c["reason"] for c in parsing)
    assert report["judge"]["name"]
    probs = [c["p_correct"] for c in report["candidates"]]
    assert all(p is not None and 0.0 <= p <= 1.0 for p in probs)
    # the batch is ordered by the shipped ranker (which also reads agreement), P is the verdict's
    order = [c["score"] for c in report["candidates"]]
    assert order == sorted(order, reverse=True) and all(0.0 <= x <= 1.0 for x in order)
    if len(parsing) >= 2:  # the examples' sandbox run also ran them on shared inputs
        assert any("agreement" in c["signals"] for c in parsing)


def test_judge_score_takes_a_mined_prompt_without_a_body(tmp_path: Path) -> None:
    """A mined function without a docstring has a bare signature as its task: it scores
    (only the log-prob baseline needs a function to implement in the prompt)."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"id": "m/1", "prompt": "def f(x):\n", "tests": "", "entry_point": "f"}) + "\n")
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps({"problem_id": "m/1", "candidate_id": f"c{i}", "code": code}) + "\n"
                             for i, code in enumerate(["def f(x):\n    return x\n", "def f(x):\n    return (\n"])))
    out = tmp_path / "scores.jsonl"
    for strategy in ("static", "logprob"):
        out = tmp_path / f"{strategy}.jsonl"
        proc = winnow("judge", "score", "--strategy", strategy, "--problems", str(problems), "--candidates", str(cands),
                      "--out", str(out), "--quiet")
        assert proc.returncode == 0, proc.stderr
        scores = {s["candidate_id"]: s["p_correct"] for s in map(json.loads, out.read_text().splitlines())}
        assert scores["c0"] > scores["c1"] == 0.0


@pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac) on PATH")
def test_judge_score_ranks_java_candidates_by_their_javadoc_and_by_log_prob(tmp_path: Path) -> None:
    from winnow.judge.dataset.problems import load_problems

    problem = load_problems("java:sample")[0]  # digitSum: "@return for example 6 for 123, 0 for 0"
    assert problem.reference is not None
    codes = {"ref": problem.reference, "bad": problem.reference.replace("sum += n % 10", "sum += n % 9")}
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps({"problem_id": problem.id, "candidate_id": k, "code": v}) + "\n"
                             for k, v in codes.items()))
    for strategy in ("examples", "logprob"):
        out = tmp_path / f"{strategy}.jsonl"
        proc = winnow("judge", "score", "--strategy", strategy, "--problems", "java:sample", "--candidates", str(cands),
                      "--out", str(out), "--quiet")
        assert proc.returncode == 0, proc.stderr
        scores = {s["candidate_id"]: s for s in map(json.loads, out.read_text().splitlines())}
        assert 0.0 <= scores["bad"]["p_correct"] <= 1.0 and 0.0 <= scores["ref"]["p_correct"] <= 1.0
        if strategy == "examples":  # 6 for 123 fails with % 9; 0 for 0 passes
            assert scores["ref"]["p_correct"] == 1.0 and scores["bad"]["p_correct"] == 0.5
        else:
            assert scores["ref"]["mean_logprob"] < 0 and scores["bad"]["mean_logprob"] < 0
