"""Evidence from running real modules in the real sandbox (judge.scoring.evidence): docstring
sessions as doctest runs them, in the module's own namespace, and inputs nobody wrote down."""

from __future__ import annotations

import textwrap
from pathlib import Path

from winnow.judge.evidence.drivers import driver_inputs
from winnow.judge.evidence.drivers import driver_values as evidence_driver
from winnow.judge.evidence.module_evidence import Target, collect, module_identity

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
    tagged = driver_inputs.probe_inputs(doc, "f", 100, __import__("random").Random(0))
    assert tagged[0] == ("example", ([3, "ab", [1, 2]], {}))  # the example's own arguments first
    inputs = [call for _, call in tagged]
    assert ([0, "ab", [1, 2]], {}) in inputs and ([3, "", [1, 2]], {}) in inputs and ([3, "ab", []], {}) in inputs
    assert {origin for origin, _ in tagged} == {"example", "nudge"}
    assert len({repr(i) for i in inputs}) == len(inputs)
    # A private helper gets only what real calls passed it.
    assert [o for o, _ in driver_inputs.probe_inputs(doc.replace("f(", "_f("), "_f", 100, __import__("random").Random(0))] == ["example"]


# --- inputs beyond the written examples (driver_inputs) ----------------------------------------

BEYOND = '''"""Functions whose bugs only inputs nobody wrote down reach."""


def spread(data):
    """Sample variance of a list the session builds first.

    >>> data = [2.0, 4.0, 6.0]
    >>> spread(data)
    4.0
    """
    n = len(data)
    mean = sum(data) / n
    return sum((x - mean) ** 2 for x in data) / (n - 1)


def port(text: str) -> int:
    """The port of ``host:port``."""
    head, _, tail = text.rpartition(":")
    return tail


def ratio(a, b):
    """a over b."""
    return a / b


def _helper(items):
    """A private helper: its callers keep its preconditions.

    >>> _helper([1, 2])
    1
    """
    return items[0]


class Stack:
    def __init__(self, items):
        self.items = list(items)

    def top(self, depth):
        """The item ``depth`` below the top.

        >>> Stack([1, 2, 3]).top(1)
        2
        """
        return self.items[-1 - depth] if depth else self.items[len(self.items)]


RESULT = ratio(1, 2)
'''


def beyond(tmp_path: Path, **kwargs: object) -> dict[str, object]:
    path = tmp_path / "beyond.py"
    path.write_text(BEYOND)
    import ast

    tree = ast.parse(BEYOND)
    found = [Target(n.name, n.lineno) for n in tree.body if isinstance(n, ast.FunctionDef)]
    stack = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    found += [Target(f"Stack.{n.name}", n.lineno) for n in stack.body if isinstance(n, ast.FunctionDef) and n.name == "top"]
    ev = collect(BEYOND, str(path), found, **kwargs)  # type: ignore[arg-type]
    assert ev.status == "loaded", ev.error
    return ev.functions  # type: ignore[return-value]


def test_the_sessions_own_arguments_are_nudged_even_when_bound_to_names(tmp_path: Path) -> None:
    spread = beyond(tmp_path, probes=24)["spread"]
    assert [p for p in spread.probes if p.origin == "example"] == []  # the session's own call is fine
    crashes = {p.call: p for p in spread.probes if p.exception == "ZeroDivisionError"}
    assert "spread([2.0])" in crashes and crashes["spread([2.0])"].origin == "nudge" and crashes["spread([2.0])"].own_frame


def test_a_method_is_probed_on_the_instance_its_session_built(tmp_path: Path) -> None:
    top = beyond(tmp_path, probes=24)["Stack.top"]
    [crash] = [p for p in top.probes if p.call == "<Stack>.top(0)"]
    assert (crash.exception, crash.origin, crash.own_frame) == ("IndexError", "nudge", True)


def test_inputs_drawn_from_type_hints_catch_a_return_off_its_annotation(tmp_path: Path) -> None:
    port = beyond(tmp_path, probes=24)["port"]
    wrong = [p for p in port.probes if p.kind == "annotation"]
    assert wrong and all(p.origin == "typed" for p in wrong)
    assert "annotated -> int" in wrong[0].message and "(str)" in wrong[0].message
    assert beyond(tmp_path, probes=24, typed=0)["port"].probes == ()  # no hints drawn from: nothing tried


def test_call_site_arguments_are_tried_and_private_helpers_get_no_invented_inputs(tmp_path: Path) -> None:
    functions = beyond(tmp_path, probes=24, calls={"ratio": ["3, 0", "x, 1"]})
    [crash] = functions["ratio"].probes
    assert (crash.call, crash.origin, crash.exception) == ("ratio(3, 0)", "call-site", "ZeroDivisionError")
    assert functions["_helper"].inputs == 1 and functions["_helper"].probes == ()  # its own call only


def test_values_compare_by_value_inside_containers_and_displays_by_their_parts() -> None:
    assert evidence_driver.same_value((1.6449340668482264, 2), (1.6449340668482266, 2))
    assert evidence_driver.same_value(8.9e-16 + 1.4e-15j, 0j) and not evidence_driver.same_value(0.1 + 0j, 0j)
    checker = evidence_driver.ValueChecker()
    assert checker.check_output("{E: [exp(x)], x: [sqrt(x)]}\n", "{x: [sqrt(x)], E: [exp(x)]}\n", 0)
    assert checker.check_output("{0: [0, 2], 1: [1]}\n", "defaultdict(<class 'list'>, {0: [0, 2], 1: [1]})\n", 0)
    assert not checker.check_output("{E: [exp(x)]}\n", "{E: [exp(y)]}\n", 0)
    assert checker.check_output("array(2.782144009188397)\n", "array(2.78214401)\n", 0)  # printed to 8 places
    assert not checker.check_output("array(2.782144009188397)\n", "array(2.78214402)\n", 0)
