"""Ranking candidates: one calibrated verdict, or any of its signals alone.

Strategies:

- ``combined`` (default, what serving uses): the judge manifest's fitted verdict — a
  logistic regression over the judge's z, the docstring examples run in the sandbox and
  pyflakes (see ``verdict``) — and, where the manifest has one, its pairwise ranker for the
  order, which also reads how much each candidate agrees with the others on shared inputs
  (``output_agreement``); a manifest without a verdict falls back to ``judge+exec``;
- ``judge``: calibrated P(correct) from the learned judge alone;
- ``judge+exec``: the judge with a fixed rule for examples (a failing example caps P at
  0.05, all passing lifts it toward 1);
- ``examples``: the share of docstring examples passed (0.5 where there are none);
- ``logprob``: the generator's mean token log-prob (a latency fallback, not a
  correctness signal: AUC ≈ 0.52 on HumanEval mutants with SmolLM2);
- ``static``: cheap signals only (parses, no undefined names);
- ``random``: a seeded shuffle, the baseline.

A candidate that does not parse gets P(correct) = 0 and never reaches the model.
Ties are broken by the generator's log-prob, then by candidate index.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from winnow.judge.evidence.example_runs import ExampleRunner, ExampleSignal
from winnow.judge.scoring.verdict import Signals, VerdictModel
from winnow.judge.sites import functions, syntax_error, undefined_names

STRATEGIES = ("combined", "judge", "judge+exec", "examples", "logprob", "static", "random")
#: Strategies that need a judge model.
JUDGE_STRATEGIES = ("combined", "judge", "judge+exec")
#: Runs a candidate's docstring examples: (code, task) -> the examples signal.
ExamplesRunner = Callable[[str, str], ExampleSignal]


class CandidateLike(Protocol):
    index: int
    code: str
    mean_logprob: float


class JudgeLike(Protocol):
    def score(
        self, task: str, codes: Sequence[str], cancel: Callable[[], bool] | None = None
    ) -> list[float]: ...


class VerdictJudge(JudgeLike, Protocol):
    """A judge that also gives its raw z (the combined verdict's main input)."""

    verdict_model: VerdictModel | None

    def verdicts(
        self, task: str, codes: Sequence[str], cancel: Callable[[], bool] | None = None
    ) -> Sequence[HasZ]: ...


class HasZ(Protocol):
    """What the verdict reads of one judge verdict: its raw z (logit Yes − logit No)."""

    z: float


@dataclass
class StaticSignals:
    """What a candidate shows without a model. ``parses`` defaults to True: a candidate
    is offered unless it is known not to parse."""

    parses: bool = True
    syntax_error: str | None = None  # the parser's message, when it does not parse
    undefined_names: list[str] = field(default_factory=list)  # pyflakes' undefined names
    examples: ExampleSignal | None = None  # its docstring examples' run
    judge_z: float | None = None  # the judge's raw score (combined)
    agreement: float | None = None  # share of the other candidates with its outputs (best of N)
    stub: bool = False  # its body is empty, ``pass`` or a TODO: never offered before a real body

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"parses": self.parses}
        if self.stub:
            out["stub"] = True
        if self.parses:
            out["undefined_names"] = self.undefined_names
        else:
            out["syntax_error"] = self.syntax_error
        if self.examples is not None:
            out["examples"] = self.examples.as_dict()
        if self.judge_z is not None:
            out["judge_z"] = round(self.judge_z, 4)
        if self.agreement is not None:
            out["agreement"] = round(self.agreement, 4)
        return out


@dataclass
class RankedCandidate:
    index: int
    code: str
    p_correct: float | None
    mean_logprob: float
    score: float
    signals: StaticSignals = field(default_factory=StaticSignals)
    reason: str = ""
    #: (passed, total) on the user's own tests, where they reach the function (best of N by tests)
    tests: tuple[int, int] | None = None

    @property
    def parses(self) -> bool:
        return self.signals.parses

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "code": self.code,
            "p_correct": None if self.p_correct is None else round(self.p_correct, 4),
            "mean_logprob": round(self.mean_logprob, 4),
            "score": round(self.score, 4),
            "signals": self.signals.to_dict(),
            "reason": self.reason,
        } | ({"tests": {"passed": self.tests[0], "total": self.tests[1]}} if self.tests is not None else {})


def by_tests_first(ranked: Sequence[RankedCandidate], results: Sequence[tuple[int, int]]) -> list[RankedCandidate]:
    """``ranked`` (best first) reordered by the user's tests passed, most first; the verdict
    orders those that pass as many (``results``: (passed, total) by candidate index)."""
    for r in ranked:
        r.tests = results[r.index]
        passed, total = r.tests
        r.reason = f"passes {passed}/{total} of your tests; {r.reason}"
    return sorted(ranked, key=lambda r: (r.signals.stub, -(r.tests[0] if r.tests is not None and r.parses else -1)))


def static_signals(code: str, language: str = "python") -> StaticSignals:
    """Parses, and the names a linter says it leaves undefined (Python: pyflakes). A Java
    candidate is a method: it parses inside a class, with no tree-sitter ERROR node."""
    error = syntax_error(code, language)
    if error is not None:
        return StaticSignals(parses=False, syntax_error=error)
    stub = any(site.is_stub for site in functions(code, language)[:1])
    return StaticSignals(parses=True, undefined_names=undefined_names(code, language), stub=stub)


def _static_score(signals: StaticSignals) -> float:
    if not signals.parses:
        return 0.0
    return 0.25 if signals.undefined_names else 0.5


def rank(
    task: str,
    candidates: Sequence[CandidateLike],
    strategy: str = "combined",
    judge: JudgeLike | None = None,
    cancel: Callable[[], bool] | None = None,
    seed: int = 0,
    run_examples: ExamplesRunner | None = None,
    language: str = "python",
) -> list[RankedCandidate]:
    """Order candidates best first, each with its probability, signals and reason."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy in JUDGE_STRATEGIES and judge is None:
        raise ValueError(f"strategy {strategy!r} needs a judge")
    if strategy == "examples" and run_examples is None:
        raise ValueError("strategy 'examples' needs an examples runner")
    # Methods arrive indented as written in their class: dedent to parse and to judge.
    codes = [textwrap.dedent(c.code) for c in candidates]
    task = textwrap.dedent(task)
    signals = [static_signals(code, language) for code in codes]
    out = [
        RankedCandidate(c.index, c.code, None, c.mean_logprob, 0.0, s) for c, s in zip(candidates, signals, strict=True)
    ]
    model = getattr(judge, "verdict_model", None)
    if strategy == "combined" and model is not None and run_examples is not None:
        _rank_combined(task, codes, out, judge, model, run_examples, cancel)  # type: ignore[arg-type]
    elif strategy in JUDGE_STRATEGIES:
        _rank_by_judge(task, codes, out, judge, cancel)  # type: ignore[arg-type]
        if strategy != "judge" and run_examples is not None:
            _apply_examples_rule(task, codes, out, run_examples)
    elif strategy == "examples":
        _rank_by_examples(task, codes, out, run_examples)  # type: ignore[arg-type]
    elif strategy == "logprob":
        for r in out:
            r.score = r.mean_logprob if r.parses else float("-inf")
            r.reason = f"mean log-prob {r.mean_logprob:.3f}" if r.parses else "does not parse"
            if not r.parses:
                r.p_correct = 0.0
    elif strategy == "static":
        for r in out:
            r.score = _static_score(r.signals)
            r.p_correct = 0.0 if not r.parses else None
            r.reason = "does not parse" if not r.parses else (
                "undefined names" if r.signals.undefined_names else "parses"
            )
    else:  # random
        rng = random.Random(seed)
        for r in out:
            r.score = rng.random()
            r.reason = "random order (baseline)"
        return sorted(out, key=lambda r: (-r.score, -r.mean_logprob, r.index))
    for r in out:
        if r.signals.stub:
            r.reason = f"an empty body; {r.reason}"
    # A small model sometimes closes the body at once: an empty body is no implementation.
    return sorted(out, key=lambda r: (r.signals.stub, -r.score, -r.mean_logprob, r.index))


def _rank_by_judge(
    task: str, codes: list[str], out: list[RankedCandidate], judge: JudgeLike, cancel: Callable[[], bool] | None
) -> None:
    to_score = [i for i, r in enumerate(out) if r.parses]
    probs = judge.score(task, [codes[i] for i in to_score], cancel) if to_score else []
    for i, p in zip(to_score, probs, strict=True):
        out[i].p_correct = float(p)
    for r in out:
        if not r.parses:
            r.p_correct = 0.0
            r.reason = "does not parse"
        elif r.signals.undefined_names:
            r.reason = f"judge {r.p_correct:.0%}; undefined: {', '.join(r.signals.undefined_names[:3])}"
        else:
            r.reason = f"judge {r.p_correct:.0%}"
        r.score = float(r.p_correct or 0.0)


def _examples_note(ex: ExampleSignal | None) -> str:
    total, passed = (ex.total, ex.passed) if ex is not None else (0, 0)
    if not total:
        return "no docstring examples"
    return f"{total} docstring examples pass" if passed == total else f"docstring examples {passed}/{total}"


def _apply_examples_rule(
    task: str, codes: list[str], out: list[RankedCandidate], run_examples: ExamplesRunner
) -> None:
    """``judge+exec``: the fixed rule, and the fallback of ``combined`` without a fitted verdict."""
    for r, code in zip(out, codes, strict=True):
        if not r.parses:
            continue
        ex = r.signals.examples = run_examples(code, task)
        if ex.total:
            if ex.passed == ex.total:
                r.score = 1.0 - (1.0 - r.score) * 0.5
            else:
                r.score = min(r.score, 0.05)
            r.reason += "; " + _examples_note(ex)
        r.p_correct = r.score


def _rank_by_examples(
    task: str, codes: list[str], out: list[RankedCandidate], run_examples: ExamplesRunner
) -> None:
    for r, code in zip(out, codes, strict=True):
        if not r.parses:
            r.p_correct, r.score, r.reason = 0.0, 0.0, "does not parse"
            continue
        ex = r.signals.examples = run_examples(code, task)
        r.score = r.p_correct = ex.passed / ex.total if ex.total else 0.5
        r.reason = _examples_note(ex)


def gather_signals(
    task: str,
    codes: Sequence[str],
    judge: VerdictJudge,
    run_examples: ExamplesRunner,
    cancel: Callable[[], bool] | None = None,
    static: Sequence[StaticSignals] | None = None,
    agree: bool = False,
) -> list[Signals | None]:
    """The verdict's inputs for every candidate (None where it does not parse): the judge's
    z over all parsing candidates in one batch, then each one's examples in the sandbox (and,
    with ``agree``, the batch on shared inputs: the same process). Serving and ``winnow
    combine`` both call this, so the fit sees what serving computes."""
    codes = [textwrap.dedent(c) for c in codes]
    task = textwrap.dedent(task)
    static = list(static) if static is not None else [static_signals(c) for c in codes]
    todo = [i for i, s in enumerate(static) if s.parses]
    verdicts = judge.verdicts(task, [codes[i] for i in todo], cancel) if todo else []
    for i, v in zip(todo, verdicts, strict=True):
        static[i].judge_z = float(v.z)
    out: list[Signals | None] = [None] * len(codes)
    runner = run_examples if isinstance(run_examples, ExampleRunner) else None
    if runner is not None:  # one sandboxed process for the batch
        runner.prefetch(task, [codes[i] for i in todo], agree=agree)
    for i in todo:
        ex = static[i].examples = run_examples(codes[i], task)
        share = static[i].agreement = runner.agreement(codes[i], task) if runner is not None and agree else None
        out[i] = Signals(
            judge_z=float(static[i].judge_z or 0.0),
            n_examples=ex.total,
            examples_passed=ex.passed,
            undefined_names=len(static[i].undefined_names),
            agreement=share,
        )
    return out


def _rank_combined(
    task: str,
    codes: list[str],
    out: list[RankedCandidate],
    judge: VerdictJudge,
    model: VerdictModel,
    run_examples: ExamplesRunner,
    cancel: Callable[[], bool] | None,
) -> None:
    gathered = gather_signals(task, codes, judge, run_examples, cancel, [r.signals for r in out], agree=model.uses_agreement)
    for r, sig in zip(out, gathered, strict=True):
        if sig is None:
            r.p_correct, r.score, r.reason = 0.0, 0.0, "does not parse"
            continue
        r.p_correct = model.p(sig)
        r.score = model.rank_score(sig)
        notes = [f"judge z {sig.judge_z:+.1f}", _examples_note(r.signals.examples)]
        if sig.agreement is not None:
            notes.append(f"agrees with {sig.agreement:.0%} of the others")
        if r.signals.undefined_names:
            notes.append(f"undefined: {', '.join(r.signals.undefined_names[:3])}")
        r.reason = f"verdict {r.p_correct:.0%} ({'; '.join(notes)})"
