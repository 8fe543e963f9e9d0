"""Bugs in real modules and the choice of what speaks (judge.dataset.module_bugs,
judge.dataset.hint_calibration)."""

from __future__ import annotations

import ast
import random

from winnow.judge.dataset.module_bugs import mutate_function
from winnow.judge.evaluation.hint_calibration import (
    FunctionOutcome,
    choose_policy,
    measure_module,
    rates,
)
from winnow.judge.hints.policy import judged_functions

MODULE = '''"""A module."""

import math


class Circle:
    def area(self, r):
        """Area of a circle of radius r."""
        if r < 0:
            return 0.0
        return math.pi * r * r


def clamp(x, lo, hi):
    """x limited to [lo, hi]."""
    return max(lo, min(x, hi))


def undocumented(x):
    return x + 1
'''


def test_one_function_changes_and_the_rest_stays_byte_for_byte() -> None:
    sites = judged_functions(MODULE)
    assert [s.qualname for s in sites] == ["Circle.area", "clamp"]
    method = sites[0]
    bug = mutate_function(MODULE, method, random.Random(0))
    assert bug is not None and bug.qualname == "Circle.area" and bug.source != MODULE
    ast.parse(bug.source)
    before, after = MODULE.splitlines(), bug.source.splitlines()
    assert before[: method.start_line] == after[: method.start_line]  # everything above is untouched
    tail = MODULE.split("def clamp", 1)[1]
    assert bug.source.endswith(tail)  # and everything below
    assert after[method.start_line].startswith("    def area(")  # still a method, at its indentation


def test_a_change_that_leaves_only_the_docstring_is_drawn_again() -> None:
    """Dropping a one-statement body makes a stub (the server offers to implement it, it
    judges nothing there), not a bug: every seed gives a function that still has a body."""
    from winnow.judge.sites import functions

    site = judged_functions(MODULE)[1]  # clamp: one return statement
    for seed in range(40):
        bug = mutate_function(MODULE, site, random.Random(seed))
        if bug is not None:
            changed = next(s for s in functions(bug.source) if s.name == "clamp")
            assert not changed.is_stub, (seed, bug.description)
    only_return = '"""M."""\n\n\ndef one():\n    """The one."""\n    return 1\n'
    assert all(
        (b := mutate_function(only_return, judged_functions(only_return)[0], random.Random(seed))) is None
        or "return" in b.source.split('"""The one."""')[1]
        for seed in range(20)
    )


def outcome(changed: bool, *classes: str, examples: bool = True) -> FunctionOutcome:
    return FunctionOutcome("m", "f", changed, classes, examples)


def test_classes_are_admitted_while_false_alarms_stay_within_the_limit() -> None:
    correct = [outcome(False) for _ in range(198)] + [outcome(False, "example:text"), outcome(False, "crash:ValueError")]
    changed = [outcome(True, "example:value")] * 50 + [outcome(True, "example:text")] * 30
    changed += [outcome(True, "crash:ValueError")] * 20 + [outcome(True, "crash:NameError")] * 5
    policy = choose_policy(correct + changed, ["m"], max_rate=0.005)
    # example:value and NameError crashes never fired on correct code; one of the two noisy
    # classes fits in 0.5% of 200 functions, the better detector first.
    assert policy.speaks == {"example:value", "example:text", "crash"}
    assert policy.crash_types == {"NameError"}
    r = rates(correct + changed, policy)
    assert r["false_alarms"] == 1 and r["false_alarm_rate"] == 0.005
    assert r["detected"] == 85 and r["changed"] == 105


def test_a_class_that_flags_correct_code_about_as_often_as_broken_code_stays_out() -> None:
    correct = [outcome(False) for _ in range(199)] + [outcome(False, "crash-callee:TypeError")]
    changed = [outcome(True, "crash-callee:TypeError")] * 2 + [outcome(True, "crash-callee:ZeroDivisionError")]
    policy = choose_policy(correct + changed, ["m"], max_rate=0.01)
    assert policy.speaks == {"crash-callee"} and policy.callee_crash_types == {"ZeroDivisionError"}
    assert policy.crash_types == frozenset()  # own-frame crashes are admitted apart


def test_a_class_that_detects_nothing_stays_silent() -> None:
    policy = choose_policy([outcome(False)] * 100 + [outcome(True)] * 10, ["m"])
    assert policy.speaks == frozenset() and policy.crash_types == frozenset()


def test_a_real_module_is_measured_as_released_and_with_a_bug_per_function() -> None:
    outcomes = measure_module("fnmatch", probes=8, max_functions=4)
    correct = [o for o in outcomes if not o.changed]
    changed = [o for o in outcomes if o.changed]
    assert correct and len(changed) <= len(correct)
    assert {o.qualname for o in changed} <= {o.qualname for o in correct}
    assert all(o.module == "fnmatch" for o in outcomes)


def scored(changed: bool, p: float) -> FunctionOutcome:
    return FunctionOutcome("m", "f", changed, (), False, "", 0.0, p)


def test_the_judge_gets_a_threshold_only_if_it_catches_something_at_the_allowed_rate() -> None:
    from winnow.judge.evaluation.hint_calibration import judge_threshold

    correct = [scored(False, 0.5 + i / 400) for i in range(200)]  # 0.5 … 0.9975
    useless = [scored(True, 0.5 + i / 400) for i in range(200)]  # bugs score like correct code
    threshold, figures = judge_threshold(correct + useless, max_rate=0.01)
    assert threshold is None and figures is not None and figures.flagged_correct <= 2
    useful = [scored(True, 0.1)] * 30 + [scored(True, 0.9)] * 70
    threshold, figures = judge_threshold(correct + useful, max_rate=0.01)
    assert threshold == 0.5 + 2 / 400 and figures.detected == 30 and figures.flagged_correct == 2
