"""``winnow bench agreement``'s comparison on hand-made signals (the scoring that feeds it
is the real sandbox's, tested in tests/judge/scoring/test_output_agreement.py)."""

from __future__ import annotations

from pathlib import Path

from winnow.benchmarks.quality.agreement import Row, _load_rows, _save_rows, compare
from winnow.judge.scoring.verdict import Signals


def _task(pid: str, has_examples: bool = True, misleading: bool = False) -> list[Row]:
    """Four candidates that all pass their one example: the two right ones agree, the two
    wrong ones stand alone; the judge's z says nothing (or, ``misleading``, the wrong thing)."""
    rows = []
    for i in range(4):
        good = i < 2
        z = (-0.5 if good else 0.5) if misleading else (0.5 if i % 2 else -0.5)
        sig = Signals(judge_z=z, n_examples=1, examples_passed=1, agreement=1 / 3 if good else 0.0)
        rows.append(Row(pid, good, sig, has_examples))
    # and one that fails its example, so P(correct) has something to fit
    rows.append(Row(pid, False, Signals(judge_z=0.0, n_examples=1, examples_passed=0, agreement=0.0), has_examples))
    return rows


def test_the_ranker_with_agreement_picks_what_the_verdict_alone_cannot(tmp_path: Path) -> None:
    train = [r for t in range(5) for r in _task(f"v{t}")]
    heldout = {"set": [r for t in range(3) for r in _task(f"h{t}", misleading=True)] + _task("h-no-ex", has_examples=False)}
    report, model = compare(train, heldout)
    figures = report["sets"]["set"]["all"]
    assert figures["ranker+agreement"]["top_pick_passes"] == 1.0
    assert figures["verdict"]["top_pick_passes"] < 1.0  # P cannot tell the four apart but by z
    assert figures["agreement alone"]["top_pick_passes"] == 1.0
    assert report["sets"]["set"]["without_examples"]["verdict"]["n"] == 5
    assert report["fitted"]["ranker+agreement"]["agreement"] > 0 and "agreement" in model.rank_features
    assert "agreement" not in model.features  # P(correct) keeps the shipped features

    path = tmp_path / "signals.jsonl"
    _save_rows(str(path), {"train": train, **heldout})
    again = _load_rows(str(path))
    assert again["train"] == train and again["set"] == heldout["set"]
