"""Trivial baselines rank candidates by what they look like, within each problem."""

from __future__ import annotations

from winnow.judge.evaluation.baselines import baseline_scores


def test_length_and_layout_rank_within_a_problem() -> None:
    labels = [
        {"problem_id": "a", "candidate_id": "short", "code": "def f():\n    return 1\n"},
        {"problem_id": "a", "candidate_id": "long", "code": "def f():\n    # one\n\n    return 1 + 0\n"},
        {"problem_id": "a", "candidate_id": "same", "code": "def f():\n    return 2\n"},
        {"problem_id": "b", "candidate_id": "only", "code": "x"},
    ]
    length = {r["candidate_id"]: r["p_correct"] for r in baseline_scores(labels, "length")}
    assert length["long"] > length["short"] == length["same"]  # ties share a rank
    assert length["only"] == 0.5 and all(0 < p < 1 for p in length.values())
    layout = {r["candidate_id"]: r["p_correct"] for r in baseline_scores(labels, "layout")}
    assert layout["long"] > layout["short"] == layout["same"]  # a comment and a blank line
