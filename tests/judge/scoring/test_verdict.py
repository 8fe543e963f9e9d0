"""The combined verdict and the bug-focused figures: pure logic, hand-made data."""

from __future__ import annotations

import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.evaluation.bug_metrics import Judged, auc, bug_metrics, pairwise_accuracy
from winnow.judge.scoring.verdict import FEATURES, Signals, VerdictModel, fit_verdict


def test_pairwise_accuracy_counts_pairs_within_a_task_only() -> None:
    items = [
        Judged("A", 0.9, True), Judged("A", 0.2, False), Judged("A", 0.95, False),
        # task B's passing candidate scores below task A's failing one: across tasks that
        # would be a miss, within its task it wins
        Judged("B", 0.1, True), Judged("B", 0.05, False), Judged("B", 0.1, False),
    ]
    acc, pairs = pairwise_accuracy(items)
    assert pairs == 4
    assert acc == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert pairwise_accuracy([Judged("A", 0.5, True)]) == (None, 0)


def test_auc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    ys = [1, 0, 1, 0, 1, 0, 0]
    ps = [0.9, 0.9, 0.3, 0.1, 0.5, 0.5, 0.2]
    items = [Judged("A", p, bool(y)) for y, p in zip(ys, ps, strict=True)]
    assert auc(items) == pytest.approx(roc_auc_score(ys, ps))
    assert auc([Judged("A", 0.3, True)]) is None


def test_subtle_figures_ignore_generator_samples() -> None:
    items = [
        Judged("A", 0.6, True, "canonical"), Judged("A", 0.4, False, "mutant", "comparison"),
        Judged("A", 0.7, False, "mutant", "off-by-one"), Judged("A", 0.01, False, "sample"),
        Judged("B", 0.8, True, "rewrite"), Judged("B", 0.3, False, "mutant", "comparison"),
    ]
    m = bug_metrics(items)
    assert m["n_subtle"] == 5
    # positives 0.6, 0.8 vs negatives 0.4, 0.7, 0.3: 5 of 6 pairs ordered right
    assert m["subtle_auc"] == pytest.approx(5 / 6)
    assert m["subtle_pairwise"] == pytest.approx(2 / 3)  # A: 1 of 2, B: 1 of 1
    assert m["pairwise"] == pytest.approx(3 / 4)  # the sample is an easy win for task A
    assert m["recall_by_class"] == {
        "comparison": {"n": 2, "recall": 1.0},
        "off-by-one": {"n": 1, "recall": 0.0},
    }
    # per class, references against that class's bugs only: A's 0.6 beats 0.4 not 0.7; B's 0.8 beats 0.3
    assert m["pairwise_by_class"] == {
        "comparison": {"n_pairs": 2, "pairwise": 1.0},
        "off-by-one": {"n_pairs": 1, "pairwise": 0.0},
    }


def test_signals_vector_encodes_examples() -> None:
    none = dict(zip(FEATURES, Signals(judge_z=1.5).vector(), strict=True))
    assert none == {
        "judge_z": 1.5, "examples_failed": 0.0, "examples_all_pass": 0.0,
        "examples_pass_fraction": 0.5, "undefined_names": 0.0, "agreement": 0.5,
    }
    failing = dict(zip(FEATURES, Signals(n_examples=3, examples_passed=2).vector(), strict=True))
    assert failing["examples_failed"] == 1.0 and failing["examples_pass_fraction"] == pytest.approx(2 / 3)
    passing = dict(zip(FEATURES, Signals(n_examples=2, examples_passed=2, undefined_names=1).vector(), strict=True))
    assert passing["examples_all_pass"] == 1.0 and passing["undefined_names"] == 1.0


def test_fit_verdict_learns_that_failing_examples_mean_wrong_and_round_trips() -> None:
    signals, labels, pids = [], [], []
    for i in range(40):
        good = i % 2 == 0
        has_examples = i % 4 < 2
        signals.append(
            Signals(
                judge_z=(0.3 if good else -0.3) + (i % 5) * 0.1,
                n_examples=2 if has_examples else 0,
                examples_passed=(2 if good else 1) if has_examples else 0,
            )
        )
        labels.append(int(good))
        pids.append(f"P{i // 4}")
    model = fit_verdict(signals, labels, pids, fitted_on="hand-made")
    assert model.n == 40 and model.n_problems == 10
    coef = dict(zip(model.features, model.coef, strict=True))
    assert coef["examples_failed"] < 0 < coef["examples_all_pass"]
    assert coef["judge_z"] > 0
    assert model.p(Signals(0.0, 2, 1)) < 0.5 < model.p(Signals(0.0, 2, 2))
    again = VerdictModel.from_dict(model.to_dict())
    assert again is not None and again.p(Signals(0.2, 3, 3)) == pytest.approx(model.p(Signals(0.2, 3, 3)))
    assert "examples_failed" in model.explain(Signals(0.0, 2, 1))


def test_the_ranker_learns_the_order_within_a_task_and_p_stays_the_verdicts() -> None:
    """Two tasks where every candidate passes its examples: only agreement tells the right
    ones (they agree) from the wrong (each alone). The ranker learns that; P(correct) does not move."""
    from winnow.judge.scoring.verdict import fit_ranker

    signals, labels, pids = [], [], []
    for task in range(6):
        for i in range(5):
            good = i < 3
            signals.append(Signals(judge_z=0.1 * ((i + task) % 3), n_examples=1, examples_passed=1,
                                   agreement=(0.5 if good else 0.0) + 0.05 * task))  # fmt: skip
            labels.append(int(good))
            pids.append(f"T{task}")
    coef = dict(zip(FEATURES, fit_ranker(signals, labels, pids), strict=True))
    assert coef["agreement"] > 0 and coef["agreement"] > abs(coef["judge_z"])
    model = VerdictModel(features=["examples_all_pass"], coef=[1.0], rank_features=list(FEATURES), rank_coef=list(coef.values()))
    assert model.uses_agreement
    lone, agreeing = Signals(n_examples=1, examples_passed=1, agreement=0.0), Signals(n_examples=1, examples_passed=1, agreement=0.5)
    assert model.p(lone) == model.p(agreeing) and model.rank_score(agreeing) > model.rank_score(lone)
    again = VerdictModel.from_dict(model.to_dict())
    assert again is not None and again.rank_score(agreeing) == pytest.approx(model.rank_score(agreeing))
    with pytest.raises(WinnowError, match="ranker coefficient"):
        VerdictModel.from_dict(model.to_dict() | {"rank_coef": [1.0]})
    with pytest.raises(WinnowError, match="passing and failing"):
        fit_ranker([Signals()] * 2, [1, 1], ["a", "a"])


def test_verdict_model_rejects_what_it_cannot_serve() -> None:
    assert VerdictModel.from_dict(None) is None
    good = VerdictModel().to_dict()
    with pytest.raises(WinnowError, match="format"):
        VerdictModel.from_dict(good | {"format": "v0"})
    with pytest.raises(WinnowError, match="one finite coefficient"):
        VerdictModel.from_dict(good | {"coef": [1.0]})
    with pytest.raises(WinnowError, match="unknown verdict feature"):
        VerdictModel.from_dict(good | {"features": ["judge_z", "vibes", "a", "b", "c"]})
    with pytest.raises(WinnowError, match="passing and failing"):
        fit_verdict([Signals()] * 3, [1, 1, 1], ["a", "b", "c"], fitted_on="x")


def test_eval_cli_reports_bug_figures_for_every_scores_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from cli_support import winnow

    labels = [
        ("A", "canonical", "passed", "canonical"), ("A", "rw-1", "passed", "rewrite"),
        ("A", "mut-1", "failed", "comparison"), ("A", "s0-0", "failed", None),
        ("B", "canonical", "passed", "canonical"), ("B", "mut-1", "failed", "off-by-one"),
    ]
    origin = {"canonical": "canonical", "rewrite": "rewrite", None: "sample"}
    with (tmp_path / "labels.jsonl").open("w") as f:
        for pid, cid, status, bug in labels:
            f.write(json.dumps({"problem_id": pid, "candidate_id": cid, "status": status,
                                "origin": origin.get(bug, "mutant"), "bug_class": bug}) + "\n")
    scores = {
        "good": [0.9, 0.8, 0.2, 0.1, 0.7, 0.3],
        "layout": [0.9, 0.9, 0.9, 0.1, 0.9, 0.9],  # tells samples apart, not bugs
        "flipped": [0.1, 0.2, 0.8, 0.9, 0.3, 0.7],
    }
    for name, values in scores.items():
        with (tmp_path / f"{name}.jsonl").open("w") as f:
            for (pid, cid, *_), p in zip(labels, values, strict=True):
                f.write(json.dumps({"problem_id": pid, "candidate_id": cid, "p_correct": p}) + "\n")
    proc = winnow(
        "eval", "--labels", str(tmp_path / "labels.jsonl"), "--scores", str(tmp_path / "good.jsonl"),
        "--name-a", "good", "--also", f"layout={tmp_path / 'layout.jsonl'}",
        "--also", f"flipped={tmp_path / 'flipped.jsonl'}", "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    figures = out["all"]
    assert set(figures) == {"good", "layout", "flipped"}
    assert figures["good"]["subtle_auc"] == 1.0 and figures["good"]["pairwise"] == 1.0
    assert figures["flipped"]["subtle_auc"] == 0.0
    # the layout-like score wins every pair against the sample but none against a bug
    assert figures["layout"]["subtle_auc"] == 0.5 and figures["layout"]["pairwise"] == pytest.approx(3.5 / 5)
    assert figures["good"]["recall_by_class"] == {"comparison": {"n": 1, "recall": 1.0},
                                                  "off-by-one": {"n": 1, "recall": 1.0}}
    table = winnow("eval", "--labels", str(tmp_path / "labels.jsonl"), "--scores", str(tmp_path / "good.jsonl"),
                   "--also", f"layout={tmp_path / 'layout.jsonl'}")
    assert "| subtle_auc |" in table.stdout and "| recall: comparison |" in table.stdout
    assert "| pairwise: off-by-one |" in table.stdout
    bad = winnow("eval", "--labels", str(tmp_path / "labels.jsonl"), "--scores", str(tmp_path / "good.jsonl"),
                 "--also", "nonsense")
    assert bad.returncode != 0 and "NAME=PATH" in bad.stderr
