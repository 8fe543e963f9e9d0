"""What a function's tests say now, against what they said before the edit.

A test is evidence against a function only when it reaches the function (its coverage, or a
call by name where no coverage exists yet), failed in every round of this run (a failure
that does not repeat is flaky), failed on the code itself (not on an import the sandbox
cannot satisfy, a network it may not reach, a file it may not write), and **passed before**:
on the code as it was when the module was mapped, or in any run since. A test that was
failing already is reported as failing, never pinned on the function being edited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from winnow.judge.evidence.project_tests.runs import CaseOutcome


@dataclass(frozen=True)
class CaseFailure:
    """One test that fails now and passed before: the hint's evidence."""

    id: str
    message: str
    file: str
    line: int
    frames: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The test's own name (``test_heappop_max``)."""
        return self.id.replace("::", ".").rsplit(".", 1)[-1]


@dataclass(frozen=True)
class FunctionTests:
    """The tests of one function and what they did in the last run."""

    qualname: str
    reaching: tuple[str, ...] = ()  # the tests that reach it
    how: str = "coverage"  # "coverage" | "by-name": how they were found
    broken: tuple[CaseFailure, ...] = ()  # fail now in every round, passed before: evidence
    failing_before: tuple[str, ...] = ()  # failing on the code before the edit too: never pinned
    flaky: tuple[str, ...] = ()  # failed in some rounds only: no evidence
    environment: tuple[str, ...] = ()  # failed on the environment: no evidence
    passed: int = 0
    ran: bool = False  # whether they ran on this version at all


def by_test(outcomes: Iterable[CaseOutcome]) -> dict[str, list[CaseOutcome]]:
    rounds: dict[str, list[CaseOutcome]] = defaultdict(list)
    for outcome in outcomes:
        rounds[outcome.id].append(outcome)
    return rounds


def function_tests(
    qualname: str, reaching: Sequence[str], how: str, rounds: Mapping[str, Sequence[CaseOutcome]],
    passed_before: set[str],
) -> FunctionTests:
    """The verdict of ``reaching``'s runs (``rounds``, by test id) on one function."""
    broken: list[CaseFailure] = []
    failing_before: list[str] = []
    flaky: list[str] = []
    environment: list[str] = []
    passed = 0
    for test in reaching:
        runs = rounds.get(test, [])
        bad = [r for r in runs if r.outcome in ("failed", "error")]
        if not runs or all(r.outcome == "skipped" for r in runs):
            continue
        if not bad:
            passed += 1
        elif any(r.environment for r in bad):
            environment.append(test)
        elif len(bad) < len(runs):
            flaky.append(test)
        elif test not in passed_before:
            failing_before.append(test)
        else:
            last = bad[-1]
            broken.append(CaseFailure(test, last.message, last.file, last.line, last.frames))
    return FunctionTests(
        qualname, tuple(reaching), how, tuple(broken), tuple(failing_before), tuple(flaky), tuple(environment),
        passed, ran=bool(rounds),
    )  # fmt: skip
