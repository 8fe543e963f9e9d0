"""How surprised the generator is by a body it did not write: token-level naturalness.

Code as its authors wrote it is predictable to a language model; a single-point bug puts
one token where the model expected another (``<`` where every similar loop has ``<=``),
and buggy lines read as less natural than fixed ones (Ray et al., "On the naturalness of
buggy code", ICSE 2016). The mean log-prob of a whole body dilutes that one token among a
hundred; these features keep it: the largest gap between what was written and what the
model liked best at a position, and how many positions have a large gap. They need one
forward pass of the generator over the body (teacher forcing), no training.

Measured (docs/training.md, "The generator's surprise"; ``winnow bench surprise``): with
SmolLM2-135M they tell an original from an edit of it (bugs and behaviour-keeping
rewrites alike), not right from wrong, so nothing in serving reads them yet; ``winnow
judge score --strategy logprob`` records them for that measure and for a stronger model.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Mapping, Sequence

import numpy as np

#: A position is "surprising" when the written token is this many nats below the favourite.
SURPRISING_GAP = 4.0

SURPRISE_FEATURES = (
    "mean_logprob",  # mean log-prob of the body's tokens (the ``logprob`` strategy)
    "min_logprob",  # the least likely token
    "max_gap",  # the largest gap between the favourite's log-prob and the written token's
    "second_gap",  # the second largest gap (one odd token vs two)
    "mean_gap",  # the mean gap over the body
    "surprising_share",  # share of positions with a gap above SURPRISING_GAP
    "max_gap_code",  # the largest gap at an operator, number, keyword or builtin (not a fresh name)
    "log_tokens",  # log(1 + tokens): longer bodies have more chances of a large gap
)


_BUILTINS = frozenset(dir(builtins))


def is_code_token(piece: str) -> bool:
    """An operator, number, keyword or builtin name: where single-point bugs live, and where
    a correct author rarely surprises a model (a new variable's name always does)."""
    text = piece.strip()
    if not text:
        return False
    return not text.isidentifier() or keyword.iskeyword(text) or text in _BUILTINS


def surprise_features(scores: np.ndarray, pieces: Sequence[str] | None = None) -> dict[str, float]:
    """The features of one body from its (2, tokens) array (``Engine.continuation_scores``:
    row 0 the written tokens' log-probs, row 1 the favourites') and the tokens' text
    (``max_gap_code`` is 0 without it). An empty body is all 0."""
    if scores.ndim != 2 or scores.shape[0] != 2:
        raise ValueError(f"expected a (2, tokens) array, got shape {scores.shape}")
    if pieces is not None and len(pieces) != scores.shape[1]:
        raise ValueError(f"{len(pieces)} token texts for {scores.shape[1]} tokens")
    n = scores.shape[1]
    if n == 0:
        return dict.fromkeys(SURPRISE_FEATURES, 0.0)
    written, best = scores[0], scores[1]
    raw = np.maximum(best - written, 0.0)
    gaps = np.sort(raw)[::-1]
    code = [g for g, piece in zip(raw, pieces or (), strict=False) if is_code_token(piece)]
    return {
        "mean_logprob": float(written.mean()),
        "min_logprob": float(written.min()),
        "max_gap": float(gaps[0]),
        "second_gap": float(gaps[1]) if n > 1 else 0.0,
        "mean_gap": float(gaps.mean()),
        "surprising_share": float((gaps > SURPRISING_GAP).mean()),
        "max_gap_code": float(max(code, default=0.0)),
        "log_tokens": float(np.log1p(n)),
    }


def feature_vector(features: Mapping[str, float], names: Sequence[str] = SURPRISE_FEATURES) -> list[float]:
    """The named features in order (a missing one is an error: a stale scores file)."""
    try:
        return [float(features[name]) for name in names]
    except KeyError as exc:
        raise ValueError(f"no surprise feature {exc.args[0]!r} (known: {', '.join(SURPRISE_FEATURES)})") from None
