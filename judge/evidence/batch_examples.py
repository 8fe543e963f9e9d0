"""The examples a best-of-N batch is ranked by, per language.

A ranking reads each candidate's examples through one callable, ``(code, task) →
ExampleSignal`` (``scoring.ranking.ExamplesRunner``). How they run differs by language:
Python's docstring examples run lazily, all candidates in one sandboxed process once the
ranking asks (``example_runs.ExampleRunner``, which also measures their agreement); Java's
Javadoc examples compile with every candidate in one ``javac`` + JVM up front
(``java.runs``). ``BATCH_EXAMPLES`` names the way of each language; a language without one
is ranked without examples.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from winnow.judge.evidence.example_runs import ExampleSignal, examples_runner
from winnow.judge.evidence.java.runs import JavaExamplesRunner, run_java_examples
from winnow.judge.sites import FunctionSite


@dataclass(frozen=True)
class BatchExamples:
    """How a batch's candidates are checked against their examples."""

    #: ``(code, task) → ExampleSignal`` for each candidate.
    run: Callable[[str, str], ExampleSignal]
    #: Whether the function has examples at all; None where that is known only once they run.
    has_examples: bool | None


def _python(source: str, site: FunctionSite, codes: Sequence[str]) -> BatchExamples:
    return BatchExamples(examples_runner(), None)


def _java(source: str, site: FunctionSite, codes: Sequence[str]) -> BatchExamples:
    run = run_java_examples(source, site, list(codes))
    signals = {textwrap.dedent(c): r.as_signal() for c, r in zip(codes, run.candidates, strict=True)}
    return BatchExamples(lambda code, _task: signals[code], run.original.n_examples > 0)


#: By language: the examples of a batch of candidates for ``site`` of ``source``.
BATCH_EXAMPLES: dict[str, Callable[[str, FunctionSite, Sequence[str]], BatchExamples]] = {
    "python": _python,
    "java": _java,
}


def batch_examples(source: str, site: FunctionSite, codes: Sequence[str]) -> BatchExamples | None:
    """The examples of ``site``'s candidates ``codes``; None for a language without examples."""
    make = BATCH_EXAMPLES.get(site.language)
    return make(source, site, codes) if make is not None else None


#: A JVM's start-up on top of a run's own time budget (javac and the JVM, on 2 cores).
JAVA_STARTUP_S = 10.0

#: By language: the examples runner of a problem's candidates, each a whole program whose
#: function ``entry_point`` is checked (``winnow judge score``), with a time budget per run.
PROBLEM_EXAMPLES: dict[str, Callable[[str, float], Callable[[str, str], ExampleSignal]]] = {
    "python": lambda _entry_point, timeout_s: examples_runner(timeout_s),
    "java": lambda entry_point, timeout_s: JavaExamplesRunner(entry_point, timeout_s + JAVA_STARTUP_S),
}


def problem_examples(language: str, entry_point: str, timeout_s: float) -> Callable[[str, str], ExampleSignal] | None:
    """The examples runner of a problem's candidates in ``language`` (None: no examples)."""
    make = PROBLEM_EXAMPLES.get(language)
    return make(entry_point, timeout_s) if make is not None else None
