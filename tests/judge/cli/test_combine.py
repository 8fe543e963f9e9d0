"""`winnow combine` fits the verdict serving uses; `winnow judge score` applies it by default
(subprocesses, the real embedded judge and the real sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import assert_clean_error, winnow

TASK = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n\n    >>> add(2, 3)\n    5\n    """\n'
BODIES = {  # body -> passes add's tests
    "    return a + b\n": True, "    return b + a\n": True, "    return a - b\n": False,
    "    return a * b\n": False, "    return 0\n": False, "    return (a + b)\n": True,
}


def _write(tmp_path: Path) -> tuple[Path, Path, Path]:
    problems = tmp_path / "problems.jsonl"
    rows = []
    for pid in ("t/0", "t/1"):
        rows.append(json.dumps({
            "id": pid, "language": "python", "prompt": TASK, "tests": "assert add(1, 2) == 3\n", "entry_point": "add",
        }))
    problems.write_text("\n".join(rows) + "\n")
    labels = tmp_path / "labels.jsonl"
    with labels.open("w") as f:
        for pid in ("t/0", "t/1"):
            for i, (body, ok) in enumerate(BODIES.items()):
                f.write(json.dumps({
                    "problem_id": pid, "candidate_id": f"c{i}", "code": TASK + body,
                    "status": "passed" if ok else "failed", "origin": "canonical" if i == 0 else "mutant",
                }) + "\n")
    judge = tmp_path / "judge" / "judge.json"
    proc = winnow("judge", "show", "--json")
    manifest = json.loads(proc.stdout)
    # the zero-shot base: no adapter, so the test does not depend on the shipped one
    zero_shot = {k: v for k, v in manifest.items() if k not in ("adapter", "adapter_sha256", "adapter_exists", "verdict", "training")}
    judge.parent.mkdir()
    judge.write_text(json.dumps(zero_shot | {"name": "test", "prompt_template": "winnow-judge-v2"}))
    return problems, labels, judge


def test_combine_fits_a_verdict_that_score_applies(tmp_path: Path) -> None:
    problems, labels, judge = _write(tmp_path)
    proc = winnow(
        "combine", "--judge", str(judge), "--problems", str(problems), "--labels", str(labels),
        "--only", "t/0", "t/1", "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(judge.read_text())["verdict"]
    assert verdict["n"] == 12 and verdict["n_problems"] == 2 and len(verdict["coef"]) == len(verdict["features"])
    coef = dict(zip(verdict["features"], verdict["coef"], strict=True))
    # here the docstring example separates the labels exactly: the fit must lean on it
    assert coef["examples_failed"] < 0 < coef["examples_all_pass"]
    # and the ranker for the batch's order, which also reads the candidates' agreement
    assert len(verdict["rank_coef"]) == len(verdict["rank_features"]) and "agreement" in verdict["rank_features"]

    cands = tmp_path / "cands.jsonl"
    with cands.open("w") as f:
        for i, body in enumerate(BODIES):
            f.write(json.dumps({"problem_id": "t/0", "candidate_id": f"c{i}", "code": TASK + body}) + "\n")
    out = tmp_path / "scores.jsonl"
    proc = winnow("judge", "score", "--judge", str(judge), "--problems", str(problems), "--candidates", str(cands),
                  "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    scores = {r["candidate_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert {r["strategy"] for r in scores.values()} == {"combined"}
    passing = [scores[f"c{i}"]["p_correct"] for i, ok in enumerate(BODIES.values()) if ok]
    failing = [scores[f"c{i}"]["p_correct"] for i, ok in enumerate(BODIES.values()) if not ok]
    assert min(passing) > max(failing)
    assert all(r["reason"].startswith("verdict ") for r in scores.values())

    out_judge = tmp_path / "judge-only.jsonl"
    proc = winnow("judge", "score", "--judge", str(judge), "--problems", str(problems), "--candidates", str(cands),
                  "--out", str(out_judge), "--strategy", "judge", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert all(r["reason"].startswith("judge ") for r in map(json.loads, out_judge.read_text().splitlines()))


def test_combine_refuses_heldout_and_missing_problems(tmp_path: Path) -> None:
    problems, labels, judge = _write(tmp_path)
    assert_clean_error(
        winnow("combine", "--judge", str(judge), "--problems", str(problems), "--labels", str(labels),
               "--only", "HumanEval/120"),
        "held-out",
    )
    assert_clean_error(
        winnow("combine", "--judge", str(judge), "--problems", str(problems), "--labels", str(labels)),
        "names no validation problems",
    )
