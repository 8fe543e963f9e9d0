"""Evidence from running real modules in the real sandbox (judge.scoring.evidence): docstring
sessions as doctest runs them, in the module's own namespace, and inputs nobody wrote down."""

from __future__ import annotations

import textwrap
from pathlib import Path

from winnow.judge.scoring import evidence_driver
from winnow.judge.scoring.evidence import Target, collect, module_identity

SESSIONS = '''"""Helpers with doctest sessions."""

import collections


def gcd(a, b):
    """Greatest common divisor.

    >>> gcd(35, 21)
    7
    """
    while b:
        a, b = b, a % b
    return a + 1


def counts(words):
    """Occurrences of each word, as a session with state across lines.

    >>> words = "a b a".split()
    >>> c = counts(words)
    >>> sorted(c.items())
    [('a', 2), ('b', 1)]
    >>> print(c["a"])
    2
    >>> mod.counts([]) == {}
    True
    """
    return dict(collections.Counter(words))


def noisy():
    """Random output is no evidence either way.

    >>> import random
    >>> random.random()
    0.5
    """
    return 1


def divide(a, b):
    """a / b for two numbers.

    >>> divide(6, 3)
    2.0
    """
    return a / b


def checked(x):
    """x, which must be positive.

    >>> checked(3)
    3
    """
    if x <= 0:
        raise ValueError("x must be positive")
    return x
'''


def targets(source: str) -> list[Target]:
    import ast

    return [Target(n.name, n.lineno) for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def test_a_failing_example_gives_its_call_and_both_values(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(SESSIONS)
    ev = collect(SESSIONS, str(path), targets(SESSIONS), probes=24)
    assert ev.status == "loaded", ev.error
    [failure] = [e for e in ev.functions["gcd"].examples if e.failed]
    assert (failure.source, failure.want, failure.got, failure.outcome) == ("gcd(35, 21)", "7", "8", "value")
    assert failure.line == 2  # 0-based within the docstring (its first line holds the opening quotes)


def test_sessions_keep_state_take_qualified_calls_and_printed_output(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(SESSIONS)
    counts = collect(SESSIONS, str(path), targets(SESSIONS), probes=0).functions["counts"]
    assert [e.outcome for e in counts.examples] == ["passed"] * 5
    assert counts.examples_run == 5 and counts.examples_passed == 5


def test_output_that_changes_between_runs_is_no_evidence(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(SESSIONS)
    noisy = collect(SESSIONS, str(path), targets(SESSIONS), probes=0).functions["noisy"]
    assert noisy.examples[-1].outcome == "unstable" and not noisy.examples[-1].failed


def test_inputs_next_to_the_examples_find_crashes_and_respect_raises_on_purpose(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(SESSIONS)
    ev = collect(SESSIONS, str(path), targets(SESSIONS), probes=24)
    divide = ev.functions["divide"]
    zero = [p for p in divide.probes if p.exception == "ZeroDivisionError"]
    assert divide.inputs > 1 and zero and zero[0].own_frame and not zero[0].on_purpose
    assert "divide(" in zero[0].call and ", 0)" in zero[0].call
    assert all(p.on_purpose for p in ev.functions["checked"].probes if p.exception == "ValueError")


def test_the_document_text_runs_not_the_file_on_disk_even_through_its_package(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # as root the sandbox runs as a throw-away user, who must be able to read it
    pkg = tmp_path / "shapes"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from shapes.core import area\n")
    (pkg / "core.py").write_text('def area(r):\n    """>>> shapes.area(2)\n    12\n    """\n    return 3 * r * r\n')
    edited = 'def area(r):\n    """>>> shapes.area(2)\n    12\n    """\n    return 3 * r + r\n'
    ev = collect(edited, str(pkg / "core.py"), [Target("area", 1)], probes=0)
    assert module_identity(str(pkg / "core.py")).name == "shapes.core"
    [check] = ev.functions["area"].examples
    assert (check.outcome, check.got) == ("value", "8")  # the package's ``area`` is the edited one


def test_a_module_that_cannot_load_is_no_evidence(tmp_path: Path) -> None:
    source = "import no_such_module_here\n\n\ndef f():\n    '''>>> f()\n    1\n    '''\n    return 2\n"
    ev = collect(source, str(tmp_path / "broken.py"), [Target("f", 4)])
    assert ev.status == "failed" and "no_such_module_here" in ev.error and ev.functions == {}


def test_literal_outputs_compare_by_value() -> None:
    checker = evidence_driver.ValueChecker()
    assert checker.check_output("{1, 2}\n", "{2, 1}\n", 0)
    assert checker.check_output("0.3\n", "0.30000000000000004\n", 0)
    assert not checker.check_output("[1, 2]\n", "[2, 1]\n", 0)
    assert checker.check_output("array([ 0.645,  0.39])\n", "array([0.64493407, 0.39493407])\n", 0)
    assert checker.check_output("2.5\n", "np.float64(2.5)\n", 0) and checker.check_output("True\n", "np.True_\n", 0)
    assert evidence_driver.outcome_of("7\n", "8\n") == "value"
    assert evidence_driver.outcome_of("array([1.5])\n", "array([2.5])\n") == "value"  # same text, other numbers
    assert evidence_driver.outcome_of("<Point a>\n", "<Point b>\n") == "text"
    assert evidence_driver.outcome_of("", "(-0.6, 0.6)\n") == "output"


def test_nudges_stay_near_the_examples_arguments() -> None:
    doc = textwrap.dedent('''
        >>> f(3, "ab", [1, 2])
        0
    ''')
    inputs = evidence_driver.probe_inputs(doc, "f", 100, __import__("random").Random(0))
    assert inputs[0] == ([3, "ab", [1, 2]], {})  # the example's own arguments first
    assert ([0, "ab", [1, 2]], {}) in inputs and ([3, "", [1, 2]], {}) in inputs and ([3, "ab", []], {}) in inputs
    assert len({repr(i) for i in inputs}) == len(inputs)
