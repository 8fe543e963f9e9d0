"""When a hint speaks and what it says (judge.scoring.hints), on evidence records."""

from __future__ import annotations

import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.evidence.module_evidence import ExampleCheck, FunctionEvidence, ProbeFailure
from winnow.judge.hints.policy import ClassFigures, HintPolicy, hint_for
from winnow.judge.scoring.manifest import JudgeManifest

FAILED = ExampleCheck("gcd(35, 21)", "7", "35", 2, "value")
PASSED = ExampleCheck("gcd(4, 2)", "2", "2", 4, "passed")
CRASH = ProbeFailure("gcd(35, 0)", "ZeroDivisionError", "integer division or modulo by zero", True, False)


def test_a_failing_example_names_its_call_and_both_values() -> None:
    ev = FunctionEvidence("gcd", (PASSED, FAILED), (), 6)
    hint = hint_for(ev, HintPolicy())
    assert hint is not None and hint.kind == "example:value" and hint.severity == "warning"
    assert hint.message == "Winnow: `gcd(35, 21)` returned 35; the docstring says 7"
    assert hint.example_line == 2 and hint.evidence["example"]["got"] == "35"
    assert "2 example(s) run, 1 passed; 6 input(s) tried" == hint.evidence["summary"]


def test_silence_without_evidence_and_for_classes_the_policy_does_not_admit() -> None:
    assert hint_for(FunctionEvidence("gcd", (PASSED,), (), 6), HintPolicy()) is None
    text_only = FunctionEvidence("f", (ExampleCheck("f()", "<A>", "<B>", 1, "text"),))
    assert hint_for(text_only, HintPolicy(speaks=frozenset({"example:value"}))) is None
    assert hint_for(text_only, HintPolicy(speaks=frozenset({"example:text"}))) is not None


def test_a_crash_speaks_only_for_admitted_exception_classes_and_never_when_raised_on_purpose() -> None:
    ev = FunctionEvidence("gcd", (PASSED,), (CRASH,), 6)
    assert hint_for(ev, HintPolicy(speaks=frozenset({"crash"}))) is None  # no exception class admitted
    policy = HintPolicy(speaks=frozenset({"crash"}), crash_types=frozenset({"ZeroDivisionError"}))
    hint = hint_for(ev, policy)
    assert hint is not None and hint.kind == "crash" and "`gcd(35, 0)` raised ZeroDivisionError" in hint.message
    on_purpose = ProbeFailure("gcd(35, 0)", "ZeroDivisionError", "no", True, True)
    assert hint_for(FunctionEvidence("gcd", (), (on_purpose,)), policy) is None
    in_callee = ProbeFailure("gcd(35, 0)", "ZeroDivisionError", "Fraction(0, 0)", False, False)
    assert hint_for(FunctionEvidence("gcd", (), (in_callee,)), policy) is None  # crash-callee is its own class
    callee_policy = HintPolicy(speaks=frozenset({"crash-callee"}), callee_crash_types=frozenset({"ZeroDivisionError"}))
    hint = hint_for(FunctionEvidence("gcd", (), (in_callee,)), callee_policy)
    assert hint is not None and hint.kind == "crash-callee"
    assert "raised ZeroDivisionError in a function it calls: Fraction(0, 0)" in hint.message


def test_a_hint_says_where_its_input_came_from_and_an_annotation_can_speak() -> None:
    typed = ProbeFailure("port('')", "", "returned '' (str); annotated -> int", True, False, "annotation", "typed")
    policy = HintPolicy(speaks=frozenset({"annotation", "crash"}), crash_types=frozenset({"ZeroDivisionError"}))
    hint = hint_for(FunctionEvidence("port", (), (typed,)), policy)
    assert hint is not None and hint.kind == "annotation"
    assert hint.message == "Winnow: `port('')` returned '' (str); annotated -> int (an input drawn from its type hints)"
    site = ProbeFailure("ratio(3, 0)", "ZeroDivisionError", "division by zero", True, False, "raised", "call-site")
    hint = hint_for(FunctionEvidence("ratio", (), (site,)), policy)
    assert hint is not None and "(arguments from a call in the workspace;" in hint.message
    assert policy.admits_class("crash:ZeroDivisionError") and not policy.admits_class("crash:KeyError")
    assert policy.admits_class("annotation") and not policy.admits_class("example:value")


def test_the_judge_alone_is_silent_unless_the_policy_gives_it_a_threshold_and_then_only_a_hint() -> None:
    ev = FunctionEvidence("f")
    assert hint_for(ev, HintPolicy(), judge_p=0.01) is None
    hint = hint_for(ev, HintPolicy(judge_threshold=0.3), judge_p=0.2, judge_figures="AUC 0.6 on functions without examples")
    assert hint is not None and hint.kind == "judge" and hint.severity == "hint"
    assert "no execution behind it" in hint.message and "AUC 0.6" in hint.message
    assert hint_for(ev, HintPolicy(judge_threshold=0.3), judge_p=0.4) is None


def test_the_policy_round_trips_through_the_manifest() -> None:
    policy = HintPolicy(
        speaks=frozenset({"example:value", "crash", "crash-callee"}), crash_types=frozenset({"NameError"}),
        callee_crash_types=frozenset({"ZeroDivisionError"}), python="3.11",
        figures={"example:value": ClassFigures(1, 135, 40, 120)},
    )  # fmt: skip
    manifest = JudgeManifest.from_dict({"name": "t", "hints": policy.to_dict()})
    assert manifest.hints == policy
    data = manifest.to_dict()["hints"]
    assert data["figures"]["example:value"]["false_alarm_rate"] == pytest.approx(1 / 135)
    with pytest.raises(ValueError, match="unknown evidence classes"):
        JudgeManifest.from_dict({"hints": {**policy.to_dict(), "speaks": ["vibes"]}})
    with pytest.raises(WinnowError):
        HintPolicy.from_dict({"format": "other"})
    older = {k: v for k, v in policy.to_dict().items() if k != "callee_crash_types"}  # manifests before it
    assert HintPolicy.from_dict(older).callee_crash_types == frozenset()
