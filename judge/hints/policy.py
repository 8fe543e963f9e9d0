"""When a correctness hint speaks, what it says, and how loud.

A hint is a claim about a user's code, which is mostly correct, so each kind of evidence
speaks only where it was measured to be right: ``HintPolicy`` lists the evidence classes
that may publish (chosen on a calibration corpus of real, correct code so that at most 1%
of its functions are flagged; ``calibrate_hints`` in ``winnow.judge.cli.hints_verbs``), and
the manifest carries that choice with its measured rates. Severity follows the evidence: a
failing example or a crash may be a warning; the learned judge alone, with no execution
behind it, is never more than a hint.

Evidence classes (``FunctionEvidence`` → class):

- ``example:value``: a docstring example printed a literal whose value differs from the one
  the docstring shows (``gcd(35, 21)`` returned 35; the docstring says 7);
- ``example:text``: printed output that differs and is not a literal (reprs, prints);
  ``example:output``: something printed where the docstring shows no output;
- ``example:raised`` / ``example:no-raise`` / ``example:timeout``: the called code raised
  what the session did not expect, did not raise what it expects, or hung;
- ``crash``: an input nobody wrote down (the examples' own arguments nudged, the literal
  arguments of a call in the workspace, values drawn from the type hints) raised, in the
  function's own body, an exception the function never raises on purpose; ``hang``: such an
  input (not one drawn from type hints) ran past its budget;
- ``crash-callee``: the same, raised in a function it called (``Fraction(0, 0)`` under a
  ``variance`` whose guard is gone); admitted per exception class like ``crash``;
- ``annotation``: such an input made the function return a value its own return
  annotation rules out (``-> int`` returned ``'7'``);
- ``judge``: the learned judge's P(correct) below ``judge_threshold``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.evidence.module_evidence import ExampleCheck, FunctionEvidence, ProbeFailure
from winnow.judge.evidence.project_tests.verdicts import FunctionTests
from winnow.judge.sites import FunctionSite, functions

HINTS_FORMAT = "winnow-hints/1"
EXAMPLE_CLASSES = (
    "example:value", "example:text", "example:output", "example:raised", "example:no-raise", "example:timeout",
)  # fmt: skip
#: ``test``: a test of the project that reaches the function passed before the edit and fails
#: now, in every round (judge.evidence.project_tests.verdicts).
CLASSES = ("test", *EXAMPLE_CLASSES, "crash", "crash-callee", "hang", "annotation", "judge")
#: The classes admitted per exception class (``crash:ZeroDivisionError``).
PER_EXCEPTION = ("crash", "crash-callee")
#: Where a probe's input came from, as a hint says it.
ORIGINS = {
    "example": "the docstring's own call",
    "nudge": "an input next to the docstring's examples",
    "call-site": "arguments from a call in the workspace",
    "typed": "an input drawn from its type hints",
}
#: The largest share of a calibration corpus's (correct) functions a class may flag.
MAX_FALSE_ALARM_RATE = 0.01
#: The standard-library modules the shipped policy is calibrated on (never the ones it is
#: reported on as held out: see ``HELD_OUT_MODULES``).
CALIBRATION_MODULES = (
    "textwrap", "heapq", "bisect", "fractions", "fnmatch", "shlex", "statistics", "calendar", "posixpath", "base64",
)  # fmt: skip
HELD_OUT_MODULES = ("colorsys", "difflib", "ipaddress", "string", "quopri", "gettext", "datetime", "decimal")
THIRD_PARTY_MODULES = (
    "networkx.algorithms.dag", "networkx.algorithms.cycles", "sympy.utilities.iterables", "sympy.ntheory.factor_",
    "numpy.lib._function_base_impl", "numpy.lib._arraysetops_impl", "scipy.special._basic", "sklearn.utils.extmath",
    "jinja2.filters", "packaging.version",
)  # fmt: skip


#: The longest function a hint speaks about (a long one runs past its time budget).
MAX_FUNCTION_LINES = 200


def may_speak_of(site: FunctionSite, max_lines: int = MAX_FUNCTION_LINES) -> bool:
    """Whether a hint may speak about ``site``: documented, not a stub (that one is to be
    implemented), not nested in another function, not huge."""
    return (
        bool(site.docstring) and not site.is_stub and "<locals>" not in site.qualname
        and site.end_line - site.start_line <= max_lines
    )  # fmt: skip


def judged_functions(source: str, language: str = "python", max_lines: int = MAX_FUNCTION_LINES) -> list[FunctionSite]:
    """The functions of ``source`` a hint may speak about (``may_speak_of``), in source order."""
    return [s for s in functions(source, language) if may_speak_of(s, max_lines)]


@dataclass(frozen=True)
class ClassFigures:
    """How one evidence class measured on the calibration corpus."""

    flagged_correct: int = 0  # correct functions it flagged (false alarms)
    functions: int = 0  # correct functions looked at
    detected: int = 0  # changed functions it flagged
    changed: int = 0  # functions with one injected bug

    @property
    def false_alarm_rate(self) -> float | None:
        return self.flagged_correct / self.functions if self.functions else None

    @property
    def detection_rate(self) -> float | None:
        return self.detected / self.changed if self.changed else None


@dataclass(frozen=True)
class HintPolicy:
    """Which evidence classes publish a hint, and what they measured."""

    speaks: frozenset[str] = frozenset(
        {"test", "example:value", "example:raised", "example:no-raise", "example:timeout"}
    )
    crash_types: frozenset[str] = frozenset()  # exception classes a crash hint may name
    callee_crash_types: frozenset[str] = frozenset()  # the same, raised in a callee
    judge_threshold: float | None = None  # None: the learned judge alone stays silent
    corpus: tuple[str, ...] = CALIBRATION_MODULES
    python: str = ""
    max_false_alarm_rate: float = MAX_FALSE_ALARM_RATE
    figures: Mapping[str, ClassFigures] = field(default_factory=dict)
    format: str = HINTS_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "speaks": sorted(self.speaks),
            "crash_types": sorted(self.crash_types),
            "callee_crash_types": sorted(self.callee_crash_types),
            "judge_threshold": self.judge_threshold,
            "corpus": list(self.corpus),
            "python": self.python,
            "max_false_alarm_rate": self.max_false_alarm_rate,
            "figures": {
                k: asdict(v) | {"false_alarm_rate": v.false_alarm_rate, "detection_rate": v.detection_rate}
                for k, v in self.figures.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> HintPolicy | None:
        if not data:
            return None
        if data.get("format") != HINTS_FORMAT:
            raise WinnowError(f"hints section format {data.get('format')!r}; expected {HINTS_FORMAT!r}")
        unknown = set(data.get("speaks", [])) - set(CLASSES)
        if unknown:
            raise WinnowError(f"hints section: unknown evidence classes {sorted(unknown)}; known: {', '.join(CLASSES)}")
        known = ClassFigures.__dataclass_fields__
        figures = {
            k: ClassFigures(**{f: int(v.get(f, 0)) for f in known}) for k, v in (data.get("figures") or {}).items()
        }
        threshold = data.get("judge_threshold")
        return cls(
            speaks=frozenset(data.get("speaks", [])),
            crash_types=frozenset(data.get("crash_types", [])),
            callee_crash_types=frozenset(data.get("callee_crash_types", [])),
            judge_threshold=None if threshold is None else float(threshold),
            corpus=tuple(data.get("corpus", CALIBRATION_MODULES)),
            python=str(data.get("python", "")),
            max_false_alarm_rate=float(data.get("max_false_alarm_rate", MAX_FALSE_ALARM_RATE)),
            figures=figures,
        )


    def admits(self, kind: str, exception: str = "") -> bool:
        """Whether evidence of ``kind`` (with ``exception``, for the per-exception classes) speaks."""
        if kind not in self.speaks:
            return False
        if kind == "crash":
            return exception in self.crash_types
        if kind == "crash-callee":
            return exception in self.callee_crash_types
        return True

    def admits_class(self, fine: str) -> bool:
        """``admits`` for a calibration class name (``example:value``, ``crash:KeyError``)."""
        kind, _, exception = fine.partition(":")
        return self.admits(kind, exception) if kind in PER_EXCEPTION else self.admits(fine)


@dataclass(frozen=True)
class Hint:
    """One published claim: what it rests on (``kind``, ``evidence``) and how to show it."""

    function: str
    kind: str  # an evidence class
    message: str
    severity: str  # "warning" | "information" | "hint"
    evidence: dict[str, Any]
    example_line: int | None = None  # 0-based line within the docstring of the example it names
    related: tuple[str, int] | None = None  # (file, 1-based line) it points at: a failing test's line


def failing_case_hint(qualname: str, tests: FunctionTests, severity: str) -> Hint:
    """``test_heappop_max`` failed: its assertion and values, where in the test file."""
    first = tests.broken[0]
    where = f"{os.path.basename(first.file)}:{first.line}" if first.file else ""
    message = first.message.splitlines()[0] if first.message else "failed"
    more = f" (and {len(tests.broken) - 1} more test(s))" if len(tests.broken) > 1 else ""
    text = f"Winnow: `{first.name}` failed: {message}" + (f" ({where})" if where else "") + more
    evidence = {
        "test": {"id": first.id, "outcome": "failed", "message": first.message, "file": first.file,
                 "line": first.line, "frames": list(first.frames)},
        "tests": {"reaching": len(tests.reaching), "how": tests.how, "broken": [t.id for t in tests.broken],
                  "failing_before": list(tests.failing_before), "flaky": list(tests.flaky)},
    }  # fmt: skip
    related = (first.file, first.line) if first.file and first.line else None
    return Hint(qualname, "test", text, severity, evidence, related=related)


def example_class(check: ExampleCheck) -> str:
    return f"example:{check.outcome}"


def crash_class(probe: ProbeFailure) -> str | None:
    """``crash`` / ``hang`` for a probe failure that counts, None for one that never does
    (raised in a callee, or an exception the function raises on purpose)."""
    if probe.exception == "timeout":
        return "hang"
    if probe.kind == "annotation":
        return "annotation"
    if probe.on_purpose:
        return None
    return "crash" if probe.own_frame else "crash-callee"


def _example_message(name: str, e: ExampleCheck, doc: str = "docstring") -> str:
    call = e.source.strip().splitlines()[0] if e.source.strip() else name
    if e.outcome == "value":
        return f"`{call}` returned {e.got}; the {doc} says {e.want}"
    if e.outcome == "text":
        return f"`{call}` printed {e.got!r}; the {doc} shows {e.want!r}"
    if e.outcome == "output":
        return f"`{call}` printed {e.got!r}; the {doc} shows no output"
    if e.outcome == "raised":
        return f"`{call}` raised {e.got}; the {doc} expects {e.want or 'no output'}"
    if e.outcome == "no-raise":
        return f"`{call}` did not raise; the {doc} expects {e.want.splitlines()[-1] if e.want else 'an exception'}"
    return f"`{call}` ran past its time budget"


def hint_for(
    evidence: FunctionEvidence,
    policy: HintPolicy,
    judge_p: float | None = None,
    judge_figures: str = "",
    example_severity: str = "warning",
    doc: str = "docstring",
    tests: FunctionTests | None = None,
) -> Hint | None:
    """The hint this function gets under ``policy``, strongest evidence first (the project's
    own tests, then the docstring's examples, then inputs nobody wrote down, then the learned
    judge); None: silence. ``doc``: what the language calls the comment the examples come
    from ("Javadoc")."""
    name = evidence.qualname.rsplit(".", 1)[-1]
    ran = f"{evidence.examples_run} example(s) run, {evidence.examples_passed} passed; {evidence.inputs} input(s) tried"
    if tests is not None and tests.broken and "test" in policy.speaks:
        return failing_case_hint(evidence.qualname, tests, example_severity)
    for check in evidence.examples:
        if check.failed and example_class(check) in policy.speaks:
            return Hint(
                evidence.qualname, example_class(check), f"Winnow: {_example_message(name, check, doc)}",
                example_severity, {"example": asdict(check), "summary": ran}, check.line,
            )  # fmt: skip
    for probe in evidence.probes:
        kind = crash_class(probe)
        if kind is None or not policy.admits(kind, probe.exception):
            continue
        origin = ORIGINS.get(probe.origin, ORIGINS["nudge"])
        if kind in PER_EXCEPTION:
            where = "" if kind == "crash" else " in a function it calls"
            text = (
                f"Winnow: `{probe.call}` raised {probe.exception}{where}: {probe.message} "
                f"({origin}; {name} never raises {probe.exception} on purpose)"
            )
        else:
            text = f"Winnow: `{probe.call}` {probe.message} ({origin})"
        return Hint(evidence.qualname, kind, text, example_severity, {"probe": asdict(probe), "summary": ran})
    if judge_p is not None and policy.judge_threshold is not None and judge_p < policy.judge_threshold:
        text = f"Winnow judge: {judge_p:.0%} likely correct; no execution behind it"
        if judge_figures:
            text += f" ({judge_figures})"
        return Hint(evidence.qualname, "judge", text, "hint", {"p_correct": round(judge_p, 4), "summary": ran})
    return None
