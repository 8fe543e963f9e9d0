"""Evaluation metrics on hand-made predictions, against values worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.numeric import expected_calibration_error
from winnow.judge.evaluation.metrics import Ranked, classification_metrics, ranking_metrics
from winnow.judge.evaluation.report import evaluate, join

# TP = 3 (0, 1, 6), FN = 1 (2), FP = 1 (4), TN = 3 (3, 5, 7) at threshold 0.5
Y = [1, 1, 1, 0, 0, 0, 1, 0]
P = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1, 0.7, 0.2]


def test_classification_by_hand() -> None:
    m = classification_metrics(Y, P, 0.5)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(3 / 4)
    # p_o = 0.75, p_e = 0.5 * 0.5 + 0.5 * 0.5 = 0.5 -> (0.75 - 0.5) / (1 - 0.5)
    assert m["kappa"] == pytest.approx(0.5)
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (9 - 1) / 16
    assert m["mcc"] == pytest.approx(0.5)
    # 15 of the 16 (positive, negative) pairs are ordered right: only 0.4 < 0.6
    assert m["auc"] == pytest.approx(15 / 16)
    # one prediction per bin: mean |y - p| = (0.1+0.2+0.6+0.3+0.6+0.1+0.3+0.2) / 8
    assert m["ece"] == pytest.approx(2.4 / 8)
    # squared errors sum to 0.01+0.04+0.36+0.09+0.36+0.01+0.09+0.04 = 1.0
    assert m["brier"] == pytest.approx(1.0 / 8)
    assert (m["n"], m["n_positive"]) == (8, 4)


def test_threshold_moves_the_confusion_matrix() -> None:
    m = classification_metrics(Y, P, 0.35)  # now 0.4 counts as positive: TP 4, FP 1, TN 3
    assert m["accuracy"] == pytest.approx(7 / 8)
    assert m["recall"] == pytest.approx(1.0)
    assert m["precision"] == pytest.approx(4 / 5)


def test_ece_with_shared_bins() -> None:
    # bin 9: p 0.95, 0.91 (mean 0.93), 1 of 2 passed; bin 1: p 0.15, 0.12 (mean 0.135), 2 of 2
    ece = expected_calibration_error([1, 0, 1, 1], [0.95, 0.91, 0.15, 0.12])
    assert ece == pytest.approx(0.5 * abs(0.5 - 0.93) + 0.5 * abs(1.0 - 0.135))
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)


def test_undefined_metrics_are_none() -> None:
    m = classification_metrics([1, 1, 1], [0.9, 0.8, 0.7])
    assert m["auc"] is None and m["kappa"] is None
    assert m["accuracy"] == 1.0


def test_ranking_by_hand() -> None:
    groups = {
        # judge picks a (fails); random 2/3; log-prob picks c (passes)
        "p1": [Ranked("a", 0.9, False, -2.0), Ranked("b", 0.5, True, -1.5), Ranked("c", 0.1, True, -0.5)],
        # judge picks b (passes); random 1/2; log-prob picks a (fails)
        "p2": [Ranked("a", 0.2, False, -0.1), Ranked("b", 0.8, True, -0.9)],
        # a single candidate: not ranked
        "p3": [Ranked("a", 0.9, True)],
        # a tie at the top counts as a random pick among the tied: 1/2 (not the smaller
        # candidate_id, which would favour "canonical" over "mut-…"); no log-probs
        "p4": [Ranked("b", 0.5, True), Ranked("a", 0.5, False)],
    }
    r = ranking_metrics(groups)
    assert r["n_problems_ranked"] == 3
    assert r["pass1_judge"] == pytest.approx((0 + 1 + 1 / 2) / 3)
    assert r["pass1_random"] == pytest.approx((2 / 3 + 1 / 2 + 1 / 2) / 3)
    assert r["passk_oracle"] == pytest.approx(1.0)
    assert r["pass1_logprob"] == pytest.approx(1 / 2) and r["n_problems_logprob"] == 2
    assert ranking_metrics({"p3": groups["p3"]})["pass1_judge"] is None


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    labels, scores, flat = [], [], []
    for i, (y, p) in enumerate(zip(Y, P, strict=True)):
        key = {"problem_id": f"p{i // 2}", "candidate_id": f"c{i}"}
        labels.append(
            {**key, "code": "", "status": "passed" if y else ("failed" if i % 2 else "error"), "reason": ""}
        )
        scores.append({**key, "p_correct": p})
        flat.append({**key, "p_correct": 0.5})
    return (
        _write(tmp_path / "labels.jsonl", labels),
        _write(tmp_path / "scores.jsonl", scores),
        _write(tmp_path / "flat.jsonl", flat),
    )


def test_join_and_evaluate(tmp_path: Path) -> None:
    labels = [{"problem_id": "p", "candidate_id": "a", "status": "passed"}]
    with pytest.raises(WinnowError, match="p_correct"):
        join(labels, [{"problem_id": "p", "candidate_id": "a", "p_correct": 1.5}])
    with pytest.raises(WinnowError, match="no candidate appears in both"):
        join(labels, [{"problem_id": "p", "candidate_id": "zzz", "p_correct": 0.5}])
    l_path, s_path, _ = _files(tmp_path)
    from winnow.judge.base.jsonl import read_jsonl

    m = evaluate(list(read_jsonl(l_path)), list(read_jsonl(s_path)))
    assert m["accuracy"] == pytest.approx(6 / 8) and m["n_joined"] == 8
    # pairs (0.9 T, 0.8 T), (0.4 T, 0.3 F), (0.6 F, 0.1 F), (0.7 T, 0.2 F): judge top passes in 3 of 4
    assert m["pass1_judge"] == pytest.approx(3 / 4)
    assert m["pass1_random"] == pytest.approx((1 + 0.5 + 0 + 0.5) / 4)
    assert m["passk_oracle"] == pytest.approx(3 / 4)
    assert m["pass1_logprob"] is None and m["pick_by"] == "p_correct"


def test_the_pick_follows_a_rankers_score_where_the_scores_carry_one() -> None:
    labels = [{"problem_id": "p", "candidate_id": c, "status": s} for c, s in (("a", "passed"), ("b", "failed"))]
    scores = [{"problem_id": "p", "candidate_id": "a", "p_correct": 0.6, "rank_score": 0.9},
              {"problem_id": "p", "candidate_id": "b", "p_correct": 0.7, "rank_score": 0.2}]  # fmt: skip
    m = evaluate(labels, scores)
    assert m["pick_by"] == "rank_score" and m["pass1_judge"] == 1.0
    assert m["auc"] == 0.0  # P(correct) still scores classification: it ranked b above a
    plain = evaluate(labels, [{k: v for k, v in r.items() if k != "rank_score"} for r in scores])
    assert plain["pass1_judge"] == 0.0


def test_eval_cli_json_compare_and_report(tmp_path: Path) -> None:
    l_path, s_path, flat = _files(tmp_path)
    report = tmp_path / "report"
    cmd = [
        sys.executable,
        "-m",
        "winnow.cli",
        "eval",
        "--labels",
        str(l_path),
        "--scores",
        str(s_path),
        "--scores-b",
        str(flat),
        "--name-a",
        "fine-tuned",
        "--name-b",
        "zero-shot",
        "--json",
        "--report-dir",
        str(report),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for key in (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "kappa",
        "mcc",
        "auc",
        "ece",
        "pass1_judge",
        "pass1_random",
        "pass1_logprob",
        "passk_oracle",
    ):
        assert key in out
    assert out["name"] == "fine-tuned" and out["auc"] == pytest.approx(15 / 16)
    assert out["compare"]["name"] == "zero-shot" and out["compare"]["auc"] == pytest.approx(0.5)
    for name in ("report.md", "metrics.json", "roc.png", "reliability.png"):
        assert (report / name).stat().st_size > 0
    assert (report / "roc.png").read_bytes()[:4] == b"\x89PNG"
    table = subprocess.run(cmd[:-3], capture_output=True, text=True, timeout=120)
    assert "| accuracy | 0.750 | 0.500 |" in table.stdout


def test_figures_are_also_reported_per_regime() -> None:
    labels = [
        {"problem_id": p, "candidate_id": c, "status": s}
        for p in ("a", "b", "c")
        for c, s in (("good", "passed"), ("bad", "failed"))
    ]
    scores = [
        {"problem_id": p, "candidate_id": c, "p_correct": v}
        for p, good, bad in (("a", 0.9, 0.1), ("b", 0.8, 0.3), ("c", 0.2, 0.7))
        for c, v in (("good", good), ("bad", bad))
    ]
    out = evaluate(labels, scores, regimes={"a": "with_examples", "b": "with_examples", "c": "without_examples"})
    assert out["auc"] == pytest.approx(7 / 9)
    assert out["by_regime"]["with_examples"]["auc"] == 1.0 and out["by_regime"]["with_examples"]["n"] == 4
    assert out["by_regime"]["without_examples"]["auc"] == 0.0
    assert out["by_regime"]["without_examples"]["n_problems_in_regime"] == 1
