"""Token-level surprise features (judge.scoring.surprise): pure arithmetic on (2, n) arrays."""

from __future__ import annotations

import numpy as np
import pytest

from winnow.judge.scoring.surprise import SURPRISE_FEATURES, feature_vector, surprise_features


def test_one_odd_token_shows_in_the_gaps_not_much_in_the_mean() -> None:
    written = np.array([-0.1, -0.2, -6.5, -0.1])
    best = np.array([-0.1, -0.1, -0.3, -0.1])
    f = surprise_features(np.stack([written, best]))
    assert f["mean_logprob"] == pytest.approx(written.mean())
    assert f["min_logprob"] == pytest.approx(-6.5)
    assert f["max_gap"] == pytest.approx(6.2)
    assert f["second_gap"] == pytest.approx(0.1)
    assert f["mean_gap"] == pytest.approx(6.3 / 4)
    assert f["surprising_share"] == pytest.approx(0.25)
    assert f["log_tokens"] == pytest.approx(np.log(5))
    assert list(f) == list(SURPRISE_FEATURES)


def test_empty_and_single_token_bodies_and_bad_shapes() -> None:
    assert set(surprise_features(np.zeros((2, 0))).values()) == {0.0}
    one = surprise_features(np.array([[-2.0], [-1.0]]))
    assert one["max_gap"] == pytest.approx(1.0) and one["second_gap"] == 0.0
    # rounding can put the written token a hair above the favourite: a gap is never negative
    assert surprise_features(np.array([[-1.0], [-1.0000001]]))["max_gap"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        surprise_features(np.zeros(3))


def test_feature_vector_orders_and_refuses_missing_names() -> None:
    f = surprise_features(np.array([[-2.0, -1.0], [-1.0, -1.0]]))
    assert feature_vector(f, ["max_gap", "log_tokens"]) == [pytest.approx(1.0), pytest.approx(np.log(3))]
    with pytest.raises(ValueError, match="no surprise feature 'nope'"):
        feature_vector(f, ["nope"])


def test_code_gap_skips_fresh_names_and_needs_token_texts() -> None:
    scores = np.array([[-9.0, -0.5, -5.0], [-0.1, -0.1, -0.1]])
    f = surprise_features(scores, ["    total", " <=", " 10"])
    assert f["max_gap"] == pytest.approx(8.9)  # the new variable's name
    assert f["max_gap_code"] == pytest.approx(4.9)  # the number, not the name
    assert surprise_features(scores)["max_gap_code"] == 0.0
    with pytest.raises(ValueError, match="2 token texts for 3 tokens"):
        surprise_features(scores, ["a", "b"])


@pytest.mark.parametrize(("piece", "code"), [(" <=", True), ("1", True), (" and", True), (" len", True),
                                             (" total", False), ("\n    ", False), ("", False)])
def test_code_tokens(piece: str, code: bool) -> None:
    from winnow.judge.scoring.surprise import is_code_token

    assert is_code_token(piece) is code
