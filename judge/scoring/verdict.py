"""One calibrated verdict from every signal a candidate has: the judge, its examples, lint.

The learned judge's z (logit Yes − logit No), the docstring examples the candidate passes
or fails in the sandbox, and the static checks each say something different; a small
logistic regression fitted on validation problems (never on held-out ones) weighs them
into one P(correct) that means what it says. Serving evaluates it with a dot product —
no scikit-learn at run time; fitting (``fit_verdict``) uses scikit-learn.

A candidate that does not parse is not scored here: ranking gives it P = 0 first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.numeric import sigmoid

VERDICT_FORMAT = "winnow-verdict/1"
FEATURES = (
    "judge_z",  # the judge's raw score (0 when there is no judge)
    "examples_failed",  # 1 when at least one docstring example fails or errors
    "examples_all_pass",  # 1 when the docstring has examples and all pass
    "examples_pass_fraction",  # passed / examples (0.5 when there are none)
    "undefined_names",  # 1 when pyflakes reports an undefined name
    "agreement",  # best of N: the share of the other candidates with the same outputs (0.5: unknown)
)
#: What ``fit_verdict`` weighs by default: agreement is left out of P(correct) (measured: it
#: moved no held-out figure there, docs/training.md) and kept for the pick (``fit_ranker``).
VERDICT_FEATURES = FEATURES[:5]


@dataclass(frozen=True)
class Signals:
    """What is known of one parsing candidate before the verdict."""

    judge_z: float = 0.0
    n_examples: int = 0
    examples_passed: int = 0
    undefined_names: int = 0
    agreement: float | None = None  # see output_agreement (None: one candidate, or no shared inputs)

    def vector(self, names: Sequence[str] = FEATURES) -> list[float]:
        n = self.n_examples
        values = {
            "judge_z": float(self.judge_z),
            "examples_failed": float(n > 0 and self.examples_passed < n),
            "examples_all_pass": float(n > 0 and self.examples_passed == n),
            "examples_pass_fraction": self.examples_passed / n if n else 0.5,
            "undefined_names": float(self.undefined_names > 0),
            "agreement": 0.5 if self.agreement is None else float(self.agreement),
        }
        try:
            return [values[name] for name in names]
        except KeyError as exc:
            raise WinnowError(f"unknown verdict feature {exc.args[0]!r}; known: {', '.join(FEATURES)}") from None


@dataclass
class VerdictModel:
    """P(correct) = sigmoid(intercept + Σ coef_i · feature_i), fitted on validation data.

    ``rank_coef`` (optional, over ``rank_features``) orders the candidates of one batch: a
    pairwise ranker fitted on the pairs (passing, failing) of each validation task, which
    can weigh what only tells candidates of a batch apart (their agreement). P(correct)
    stays what the hint and the action's title say; without a ranker P orders too."""

    features: list[str] = field(default_factory=lambda: list(VERDICT_FEATURES))
    coef: list[float] = field(default_factory=lambda: [0.0] * len(VERDICT_FEATURES))
    intercept: float = 0.0
    n: int = 0  # candidates it was fitted on
    n_problems: int = 0
    fitted_on: str = ""  # what data (e.g. "validation split of humaneval:train")
    format: str = VERDICT_FORMAT
    rank_features: list[str] = field(default_factory=list)
    rank_coef: list[float] = field(default_factory=list)

    def p(self, signals: Signals) -> float:
        x = signals.vector(self.features)
        return float(sigmoid(self.intercept + sum(c * v for c, v in zip(self.coef, x, strict=True))))

    def rank_score(self, signals: Signals) -> float:
        """Where this candidate goes in its batch (higher first; in (0, 1)): the ranker's
        score where one is fitted, else P(correct)."""
        if not self.rank_coef:
            return self.p(signals)
        x = signals.vector(self.rank_features)
        return float(sigmoid(sum(c * v for c, v in zip(self.rank_coef, x, strict=True))))

    @property
    def uses_agreement(self) -> bool:
        return "agreement" in self.features or "agreement" in self.rank_features

    def explain(self, signals: Signals) -> str:
        """The two features that moved this verdict most, for a hint's text."""
        x = signals.vector(self.features)
        parts = sorted(zip(self.features, self.coef, x, strict=True), key=lambda t: -abs(t[1] * t[2]))
        return ", ".join(f"{name} {c * v:+.1f}" for name, c, v in parts[:2] if c * v)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> VerdictModel | None:
        if not data:
            return None
        if data.get("format") != VERDICT_FORMAT:
            raise WinnowError(f"verdict model format {data.get('format')!r}; expected {VERDICT_FORMAT!r}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        model = cls(**known)
        if len(model.coef) != len(model.features) or not all(map(math.isfinite, [*model.coef, model.intercept])):
            raise WinnowError("verdict model: one finite coefficient per feature is needed")
        if len(model.rank_coef) != len(model.rank_features) or not all(map(math.isfinite, model.rank_coef)):
            raise WinnowError("verdict model: one finite ranker coefficient per rank feature is needed")
        Signals().vector(model.features)  # unknown feature names fail here, not at serving time
        Signals().vector(model.rank_features)
        return model


def fit_verdict(
    signals: Sequence[Signals],
    labels: Sequence[int],
    problem_ids: Sequence[str],
    fitted_on: str,
    features: Sequence[str] = VERDICT_FEATURES,
    c: float = 1.0,
) -> VerdictModel:
    """Logistic regression (L2, ``C=c``) of the labels on the features; needs both labels."""
    from sklearn.linear_model import LogisticRegression

    if len(signals) != len(labels) or len(labels) != len(problem_ids):
        raise WinnowError("signals, labels and problem ids differ in length")
    if len(set(labels)) < 2:
        raise WinnowError("fitting a verdict needs passing and failing candidates")
    x = [s.vector(features) for s in signals]
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(x, list(labels))
    return VerdictModel(
        features=list(features),
        coef=[float(v) for v in model.coef_[0]],
        intercept=float(model.intercept_[0]),
        n=len(labels),
        n_problems=len(set(problem_ids)),
        fitted_on=fitted_on,
    )


def fit_ranker(
    signals: Sequence[Signals],
    labels: Sequence[int],
    problem_ids: Sequence[str],
    features: Sequence[str] = FEATURES,
    c: float = 1.0,
) -> list[float]:
    """The pairwise ranker (``fit_pairwise``) on these signals' features."""
    return fit_pairwise([s.vector(features) for s in signals], labels, problem_ids, c)


def fit_pairwise(
    vectors: Sequence[Sequence[float]], labels: Sequence[int], problem_ids: Sequence[str], c: float = 1.0
) -> list[float]:
    """A linear pairwise ranker (RankNet/RankSVM-style): logistic regression, without an
    intercept, on the feature differences of every (passing, failing) pair of one task, each
    task weighing the same. What it learns is which of two candidates of a batch to put
    first, not how likely either is."""
    from sklearn.linear_model import LogisticRegression

    by_task: dict[str, tuple[list[Sequence[float]], list[Sequence[float]]]] = {}
    for vector, label, pid in zip(vectors, labels, problem_ids, strict=True):
        good, bad = by_task.setdefault(pid, ([], []))
        (good if label else bad).append(vector)
    x: list[list[float]] = []
    y: list[int] = []
    weight: list[float] = []
    for good, bad in by_task.values():
        pairs = [(g, b) for g in good for b in bad]
        for g, b in pairs:
            diff = [float(gv - bv) for gv, bv in zip(g, b, strict=True)]
            x += [diff, [-v for v in diff]]
            y += [1, 0]
            weight += [1.0 / len(pairs)] * 2
    if not x:
        raise WinnowError("fitting a ranker needs a task with passing and failing candidates")
    model = LogisticRegression(C=c, max_iter=1000, fit_intercept=False)
    model.fit(x, y, sample_weight=weight)
    return [float(v) for v in model.coef_[0]]
