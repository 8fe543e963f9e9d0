"""Best of N's agreement (MBR-exec): every candidate on the same inputs in one sandboxed
process, and the share of the others each one agrees with."""

from __future__ import annotations

import pytest

from winnow.judge.evidence.agreement import agreement
from winnow.judge.evidence.drivers import driver_inputs as di
from winnow.judge.evidence.example_runs import AgreeSpec, ExampleRunner, run_examples_many
from winnow.judge.scoring.verdict import FEATURES, Signals, VerdictModel

TASK = '''from typing import List


def add(xs: List[int], k: int) -> List[int]:
    """Add k to each item.
    >>> add([1, 2], 3)
    [4, 5]
    """
'''
GOOD = "def add(xs, k):\n    return [x + k for x in xs]\n"
GOOD_TOO = "def add(xs, k):\n    out = []\n    for x in xs:\n        out.append(k + x)\n    return out\n"
# passes the example, breaks on the nudged inputs (an empty list, k = 0, ...)
EDGE_BUG = "def add(xs, k):\n    return [xs[0] + k] + [x + k for x in xs[1:]] if k else []\n"
LOOPS = "def add(xs, k):\n    while not xs:\n        pass\n    return [x + k for x in xs]\n"
NO_LOAD = "def add(xs, k):\n    return [x + k for x in xs]\nraise SystemExit('not today')\n"


def test_agreement_is_the_share_of_the_others_with_the_same_output() -> None:
    assert agreement([["a", "b"], ["a", "b"], ["a", "c"]]) == [0.75, 0.75, 0.5]
    assert agreement([["a"], [None], ["a"]]) == [0.5, None, 0.5]  # one that did not run agrees with no one
    assert agreement([["x"]]) == [None] and agreement([[], []]) == [None, None] and agreement([]) == []
    assert agreement([["a", "b"], ["a"]]) == [0.5, 1.0]  # a short row is padded with "did not run"


def test_fingerprints_match_equal_values_and_only_those() -> None:
    fp = di.fingerprint
    assert fp(0.1 + 0.2) == fp(0.3) and fp(1.0) != fp(1.1)
    assert fp({3, 1, 2}) == fp({1, 2, 3}) and fp({"b": 1, "a": 2}) == fp({"a": 2, "b": 1})
    assert fp([1, 2]) != fp((1, 2)) and fp(True) != fp(1) and fp(None) != fp("None")
    assert fp(x for x in [1, 2]) == fp(iter([1, 2])) != fp([1, 2])

    class Thing:
        pass

    assert fp(Thing()) == fp(Thing())  # the address is left out


def test_shared_inputs_start_with_the_examples_then_nudge_then_draw_from_hints() -> None:
    calls = ["add([1, 2], 3)", "sorted(add([5], 0))"]
    inputs = di.shared_inputs(calls, "add", None, 6, seed=0)
    assert inputs[:2] == [([[1, 2], 3], {}), ([[5], 0], {})] and len(inputs) == 6
    assert inputs == di.shared_inputs(calls, "add", None, 6, seed=0)  # seeded
    assert all(isinstance(a[0], list) and isinstance(a[1], int) for a, _ in inputs)

    def typed(x: int, flag: bool) -> int:
        return x

    drawn = di.shared_inputs([], "typed", typed, 5, seed=1)
    assert 1 <= len(drawn) <= 5 and all(isinstance(a[0], int) and isinstance(a[1], bool) for a, _ in drawn)
    assert di.shared_inputs([], "typed", None, 5, seed=1) == []  # nothing to go on


def test_one_process_runs_every_candidate_on_the_same_inputs() -> None:
    codes = [GOOD, GOOD_TOO, EDGE_BUG, LOOPS, NO_LOAD]
    spec = AgreeSpec(count=8, per_call_s=0.2, per_candidate_s=1.0)
    results = run_examples_many(codes, TASK, agree=spec)
    assert [r.passed for r in results] == [1, 1, 1, 1, 0]
    good, good_too, edge, loops, no_load = (r.outputs for r in results)
    assert len(good) == 8 and good == good_too
    assert edge[0] == good[0] and edge != good  # the example's own call agrees, an edge does not
    assert loops != good and all(o is not None for o in loops[:1])  # a hang is an output ("timeout") within budget
    assert no_load == (None,) * 8
    shares = agreement([r.outputs for r in results])
    assert shares[0] == shares[1] and shares[0] > shares[2] and shares[0] > shares[3] and shares[4] is None


def test_without_examples_the_type_hints_give_the_inputs() -> None:
    task = 'def mul(a: int, b: int) -> int:\n    """The product."""\n'
    codes = ["def mul(a, b):\n    return a * b\n", "def mul(a, b):\n    return b * a\n", "def mul(a, b):\n    return a + b\n"]
    runner = ExampleRunner(agree=AgreeSpec(count=6))
    runner.prefetch(task, codes, agree=True)
    shares = [runner.agreement(c, task) for c in codes]
    assert [runner(c, task).total for c in codes] == [0, 0, 0]
    assert shares[0] == shares[1] and shares[0] is not None and shares[0] > shares[2]
    assert runner.agreement(codes[0], task) is None  # read once


def test_the_verdict_reads_agreement_as_one_more_feature() -> None:
    assert "agreement" in FEATURES
    model = VerdictModel(features=["agreement"], coef=[4.0], intercept=-2.0)
    assert model.p(Signals(agreement=1.0)) == pytest.approx(0.8808, abs=1e-4)
    assert model.p(Signals()) == pytest.approx(0.5)  # unknown counts as 0.5: no push either way
    old = VerdictModel.from_dict({"format": "winnow-verdict/1", "features": list(FEATURES[:5]), "coef": [0.1] * 5})
    assert old is not None and "agreement" not in old.features  # manifests fitted before it still load
