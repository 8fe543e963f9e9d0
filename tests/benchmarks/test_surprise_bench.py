"""The surprise bench (benchmarks/surprise.py): pairs split by origin, the fitted ranker,
and the hints' setting through the real embedded generator."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import winnow

from winnow.benchmarks.quality.surprise import (
    Candidate,
    FunctionSurprise,
    fit_ranker,
    module_figures,
    pairwise,
)
from winnow.judge.scoring.surprise import SURPRISE_FEATURES


def _features(mean: float, length: float = 3.0) -> dict[str, float]:
    return dict.fromkeys(SURPRISE_FEATURES, 0.0) | {"mean_logprob": mean, "log_tokens": length}


def _task(pid: str, original: float, rewrite: float, bug: float) -> list[Candidate]:
    return [Candidate(pid, "canonical", 1, _features(original)), Candidate(pid, "rewrite", 1, _features(rewrite)),
            Candidate(pid, "mutant", 0, _features(bug))]


def test_pairs_split_by_origin_show_edit_detection() -> None:
    # the original reads best, the rewrite worst: a signal that sees edits, not bugs
    cands = _task("t1", -0.1, -0.9, -0.5) + _task("t2", -0.2, -0.8, -0.4)
    scores = [c.features["mean_logprob"] for c in cands]
    assert pairwise(cands, scores) == 0.5
    assert pairwise(cands, scores, "canonical") == 1.0
    assert pairwise(cands, scores, "rewrite") == 0.0


def test_fitted_ranker_learns_the_direction_of_a_feature() -> None:
    cands = [c for k in range(6) for c in _task(f"t{k}", -0.1 * k, -0.2 - 0.1 * k, -1.0 - 0.1 * k)]
    score = fit_ranker(cands, ["mean_logprob"])
    assert pairwise(cands, score(cands)) == 1.0


def test_module_figures_count_bugs_beyond_every_original() -> None:
    rows = [FunctionSurprise("g", "m", f"f{k}", _features(-0.1 * k), _features(-0.1 * k - d), "operator")
            for k, d in enumerate([0.05, 0.5, -0.05])]
    figures = module_figures(rows)["mean_logprob"]
    assert figures["bug_reads_worse"] == round(2 / 3, 3)
    assert figures["flagged_without_false_alarm"] == 1 and figures["functions"] == 3  # only -0.1-0.5 < -0.2


def test_the_bench_on_scored_sets_and_in_a_module(tmp_path: Path) -> None:
    labels, scores = tmp_path / "labels.jsonl", tmp_path / "scores.jsonl"
    cands = _task("t1", -0.1, -0.3, -0.5) + _task("t2", -0.2, -0.4, -0.6)
    labels.write_text("".join(json.dumps({"problem_id": c.problem_id, "candidate_id": f"c{i}", "origin": c.origin,
                                          "status": "passed" if c.passed else "failed"}) + "\n"
                              for i, c in enumerate(cands)))
    judged = tmp_path / "judge.jsonl"  # a learned judge's scores: p_correct only
    for path, extra in ((scores, lambda c: {"surprise": c.features}), (judged, lambda c: {})):
        path.write_text("".join(json.dumps({"problem_id": c.problem_id, "candidate_id": f"c{i}",
                                            "p_correct": 0.9 if c.origin == "canonical" else 0.1} | extra(c)) + "\n"
                                for i, c in enumerate(cands)))
    proc = winnow("bench", "surprise", "--set", f"s={labels}:{scores}", "--set", f"j={labels}:{judged}", "--fit", "s",
                  "--modules", "bisect", "--per-module", "2", "--group", "stdlib", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["sets"] == {"s": 6, "j": 6}
    assert report["pairwise"]["mean_logprob"]["s"] == {"all": 1.0, "original-bug": 1.0, "rewrite-bug": 1.0}
    assert report["pairwise"]["mean_logprob"]["j"] == {"all": None, "original-bug": None, "rewrite-bug": None}
    assert report["pairwise"]["p_correct"]["j"] == {"all": 0.75, "original-bug": 1.0, "rewrite-bug": 0.5}
    assert "ranker fitted on s, without length" in report["pairwise"]
    figures = report["modules"]["figures"]
    assert set(figures) == set(SURPRISE_FEATURES) and report["modules"]["group"] == "stdlib"
    counts = {row["functions"] for row in figures.values()}
    assert len(counts) == 1 and 1 <= counts.pop() <= 2  # bisect's first two documented functions (a bug each)
    assert all(0.0 <= row["bug_reads_worse"] <= 1.0 for row in figures.values())
    bad = winnow("bench", "surprise", "--set", f"s={labels}", "--json")
    assert bad.returncode != 0 and "NAME=LABELS:SCORES" in bad.stderr
