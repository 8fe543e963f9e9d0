"""Docstring examples: the forms real docstrings use, judged by value in the real sandbox."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from winnow.judge.evidence.drivers import example_driver
from winnow.judge.evidence.example_runs import (
    ExampleRecord,
    ExampleResults,
    ExampleSignal,
    run_docstring_examples,
    run_examples,
)
from winnow.judge.evidence.example_runs import (
    example_program as driver_source,
)
from winnow.judge.evidence.examples import Example, find_examples


def pairs(source: str, name: str | None = None) -> list[tuple[str, str | None]]:
    return [(e.call, e.expected) for e in find_examples(source, name)]


def doc(body: str, header: str = "def f(x):") -> str:
    """A function whose docstring is ``body`` (indented as written in a file) and a stub body."""
    lines = "\n".join("    " + ln if ln.strip() else "" for ln in body.strip("\n").splitlines())
    return f'{header}\n    """\n{lines}\n    """\n'


# --------------------------------------------------------------------------- forms


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (">>> f(3)\n[3, 5, 7]", [("f(3)", "[3, 5, 7]")]),
        (">>> f([]) == 0\n>>> f([1, 1]) == 2", [("f([])", "0"), ("f([1, 1])", "2")]),
        (">>> f(2) == 'b'\nTrue", [("f(2)", "'b'")]),
        ("f(1) == [\"a\"]", [("f(1)", '["a"]')]),
        ("f('a b') ➞ ['a', 'b']", [("f('a b')", "['a', 'b']")]),
        ("f(1) -> [11, 4]", [("f(1)", "[11, 4]")]),
        ("f(1) => \"0b11\"", [("f(1)", '"0b11"')]),
        ("f(1) ==> True", [("f(1)", "True")]),
        ("f(12, 15) = 14", [("f(12, 15)", "14")]),
        ("f(148) should return 16.", [("f(148)", "16")]),
        ("f('aBCdEf') returns 1", [("f('aBCdEf')", "1")]),
        ("f(15)   # returns \"db1111db\"", [("f(15)", '"db1111db"')]),
        ("f(\"a.txt\") # => 'Yes'", [('f("a.txt")', "'Yes'")]),
        ("f(2, 2) => true", [("f(2, 2)", "True")]),
        ("For example: f(5) == [1, 2]", [("f(5)", "[1, 2]")]),
        ("Example: f(4) = 8", [("f(4)", "8")]),
        ("* f(5, 6) -> [11, 4]", [("f(5, 6)", "[11, 4]")]),
        ("for f(7, 34) == 34", [("f(7, 34)", "34")]),
        ("f([1, 3, 2, 0]) == 1 + 9 + 0 + 0 = 10", [("f([1, 3, 2, 0])", "10")]),
        ("f('5 apples', 19) ->19 - 5 - 6 = 8", [("f('5 apples', 19)", "8")]),
        ("f(5) returns [1, 5] # the odd ones are 1 and 5", [("f(5)", "[1, 5]")]),
        ("f('x.dll') # => 'No' (it should start with a letter)", [("f('x.dll')", "'No'")]),
        (
            ">>> f(['3', '11'])\n[\"the number 1\",\n \"the number 8\"]",
            [("f(['3', '11'])", '["the number 1",\n "the number 8"]')],
        ),
        ("f([\n  [1, 2],\n  [3, 4]\n], 1) == [(0, 0)]", [("f([ [1, 2], [3, 4] ], 1)", "[(0, 0)]")]),
    ],
)
def test_each_docstring_form(body: str, expected: list[tuple[str, str]]) -> None:
    header = "def f(x, y=0):"
    assert pairs(doc(body, header), "f") == expected


def test_input_output_blocks_map_names_to_parameters() -> None:
    body = """
Example 1:
    Input: arr = [-3, -4, 5], k = 3
    Output: [-4, -3, 5]

Example 2:
    Input:
        grid : [[0, 1], [1, 1]]
        bucket_capacity : 2
    Output: 2

Example 3:
    Input: 3
    Output: (1, 2)
"""
    assert pairs(doc(body, "def f(arr, k=1):"), "f") == [("f(arr=[-3, -4, 5], k=3)", "[-4, -3, 5]"), ("f(3)", "(1, 2)")]
    # One name is not the parameter's (HumanEval/115: bucket_capacity for capacity): by position.
    assert pairs(doc(body, "def f(grid, capacity=1):"), "f") == [("f([[0, 1], [1, 1]], 2)", "2"), ("f(3)", "(1, 2)")]
    single = pairs(doc("Input: 3\nOutput: (1, 2)\nExplanation: ...", "def f(n):"), "f")
    assert single == [("f(3)", "(1, 2)")]


def test_for_input_the_result_should_be() -> None:
    body = """
For s = "abcde", c = "ae", the result should be ('bcd',False)
For lst = [1,2,3] the output should be 14
For N = 150, the sum of digits will be 6 the output should be "110".
"""
    assert pairs(doc(body, "def f(s, c):"), "f") == [('f(s="abcde", c="ae")', "('bcd',False)")]
    assert pairs(doc(body, "def f(lst):"), "f") == [("f(lst=[1,2,3])", "14")]
    assert pairs(doc(body, "def f(N):"), "f") == [("f(N=150)", '"110"')]


def test_assignment_then_return() -> None:
    body = """
arr = [2, 1, 1]
      -> sort arr -> [1, 1, 2]
return ["Two", "One", "One"]

If the array is empty, return an empty array:
arr = []
return []
"""
    assert pairs(doc(body, "def f(arr):"), "f") == [("f(arr=[2, 1, 1])", '["Two", "One", "One"]'), ("f(arr=[])", "[]")]


def test_doctest_forms_that_are_not_values() -> None:
    body = """
>>> f(0) is None
>>> f(-1)
Traceback (most recent call last):
ValueError: negative
>>> f(5)
>>> f(1) [1, 2]
"""
    found = find_examples(doc(body), "f")
    assert [(e.call, e.expected, e.kind) for e in found] == [
        ("f(0) is None", None, "assert"),
        ("f(-1)", "ValueError", "raises"),
        ("f(5)", "None", "value"),  # doctest: no output line means the call returns None
        ("f(1)", "[1, 2]", "value"),  # the expected value written on the call's own line
    ]


def test_prose_that_looks_like_an_example_is_skipped() -> None:
    body = """
Write a function f() that returns the smallest element.
f(n) = f(n - 1) + f(n - 2), if n is odd.
f(3) = f(2) + f(1)
other(3) == 4
assert g([1]) => [1]
f(a) => False
f(1) is the first value
the call f(2) == "two
"""
    assert pairs(doc(body), "f") == []


def test_examples_come_from_the_named_function_and_may_call_task_helpers() -> None:
    task = '''
def helper(x):
    """Not the task.

    >>> helper(1)
    99
    """
    return x


def f(xs):
    """Sum after the helper.

    >>> round(f([1.0, 2.0]), 2)
    3.0
    >>> helper(2) == 2
    """
'''
    assert pairs(task) == [("round(f([1.0, 2.0]), 2)", "3.0"), ("helper(2)", "2")]
    assert pairs(task, "helper") == [("helper(1)", "99")]


def test_text_after_imports_counts_as_the_docstring() -> None:
    task = 'def f(grid):\n    import math\n    """\n    Input: grid : [[1]]\n    Output: 1\n    """\n'
    assert pairs(task, "f") == [("f(grid=[[1]])", "1")]


# --------------------------------------------------------------------------- running


TASK = '''def below(xs: list, limit: int) -> bool:
    """True when every element is at most the limit.

    >>> below([1, 2, 4], 4)
    True
    below([5], 4) == False
    below([], 0) ➞ True
    """
'''


def test_a_reference_passes_and_a_one_token_bug_fails() -> None:
    right = run_examples(TASK + "    return all(x <= limit for x in xs)\n")
    assert (right.n_examples, right.passed, right.failed, right.errors, right.status) == (3, 3, 0, 0, "passed")
    assert right.score == 1.0
    wrong = run_examples(TASK + "    return all(x < limit for x in xs)\n")  # `<` for `<=`
    assert (wrong.passed, wrong.failed, wrong.status) == (2, 1, "failed")
    bad = [r for r in wrong.records if r.status != "passed"]
    assert [(r.call, r.expected, r.got) for r in bad] == [("below([1, 2, 4], 4)", "True", "False")]


def test_judged_by_value_not_by_text() -> None:
    task = '''def f(n):
    """
    >>> f(2)
    ["a",
     "b"]
    >>> f(1) == ["a"]
    f(3) == 0.30000001
    f(0) -> {"k": (1, 2.0)}
    f(4) => 1 + 2
    """
'''
    body = (
        "    if n == 3:\n        return 0.1 + 0.2\n    if n == 0:\n        return {'k': (1, 2)}\n"
        "    if n == 4:\n        return 3\n    return ['a', 'b'][:n]\n"
    )
    res = run_examples(task + body)
    assert [r.status for r in res.records] == ["passed"] * 5, res.records
    assert res.records[4].expected == "1 + 2"  # not a literal: evaluated inside the sandbox
    tuple_not_list = run_examples(task + "    return ('a', 'b')[:n]\n", [Example("f(2)", "['a', 'b']")])
    assert tuple_not_list.failed == 1


def test_examples_run_with_the_tasks_docstring_and_the_candidates_body() -> None:
    header = 'def double(x):\n    """\n    >>> double(2)\n    4\n    """\n'
    candidate = "def double(x):\n    return x * 2\n"  # no docstring: its examples come from the task
    assert run_examples(candidate).status == "no-examples"
    res = run_examples(candidate, task=header)
    assert (res.n_examples, res.passed) == (1, 1)


def test_one_exception_does_not_hide_the_others() -> None:
    task = 'def inv(x):\n    """\n    >>> inv(1)\n    1.0\n    >>> inv(0)\n    0\n    >>> inv(4)\n    0.25\n    """\n'
    res = run_examples(task + "    return 1 / x\n")
    assert [r.status for r in res.records] == ["passed", "error", "passed"]
    assert res.records[1].got.startswith("ZeroDivisionError")
    assert (res.passed, res.failed, res.errors, res.status) == (2, 0, 1, "error")
    assert res.score == pytest.approx(2 / 3)


def test_a_loop_uses_up_its_own_budget_only() -> None:
    task = 'def f(n):\n    """\n    >>> f(1)\n    1\n    >>> f(0)\n    0\n    >>> f(2)\n    2\n    """\n'
    res = run_examples(task + "    while n == 0:\n        pass\n    return n\n", example_timeout_s=0.5)
    assert [r.status for r in res.records] == ["passed", "timeout", "passed"]


def test_hostile_candidates_are_reported_not_raised() -> None:
    task = 'def f(n):\n    """\n    >>> f(1)\n    1\n    >>> f(2)\n    2\n    """\n'
    # A loop that ignores the per-example alarm (it swallows every exception) ends with the run's timeout.
    stuck = run_examples(
        task + "    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n"
        "            pass\n",
        timeout_s=3.0,
        example_timeout_s=0.5,
    )
    assert stuck.status == "timeout" and stuck.passed == 0 and stuck.errors == 2
    assert all(r.status == "timeout" for r in stuck.records)
    # Huge output on stdout, on the raw file descriptors and from a shell: the records still come back.
    noisy = run_examples(
        "import os, sys\n" + task + "    print('x' * 10_000_000)\n    os.write(1, b'y' * 1_000_000)\n"
        "    os.write(2, b'z' * 1_000_000)\n    os.system('echo from-a-shell')\n    return n\n",
        timeout_s=20.0,
    )
    assert noisy.status == "passed" and noisy.passed == 2
    # An exit in the middle: what ran is kept, what did not is an error.
    exits = run_examples("import os\n" + task + "    if n == 2:\n        os._exit(0)\n    return n\n")
    assert [r.status for r in exits.records] == ["passed", "error"]
    # SystemExit and a candidate that does not even load.
    assert run_examples(task + "    raise SystemExit(3)\n").errors == 2
    broken = run_examples(task + "    return n\nraise RuntimeError('at import')\n")
    assert broken.errors == 2 and "RuntimeError" in (broken.records[0].got or "")


def test_the_ranking_signal_keeps_its_keys() -> None:
    task = 'def add(a, b):\n    """\n    >>> add(2, 3)\n    5\n    """\n'
    assert run_docstring_examples(task + "    return a + b\n").as_dict() == {"total": 1, "passed": 1, "status": "passed"}
    typed = run_docstring_examples(task + "    return a - b\n")
    assert typed.first_failure == ExampleRecord("add(2, 3)", "5", "-1", "failed")
    wrong = typed.as_dict()
    assert (wrong["total"], wrong["passed"], wrong["status"], wrong["failed"]) == (1, 0, "failed", 1)
    assert wrong["first_failure"] == {"call": "add(2, 3)", "expected": "5", "got": "-1", "status": "failed"}
    assert run_docstring_examples("def g():\n    return 1\n").as_dict() == {"total": 0, "passed": 0, "status": "no-examples"}
    assert ExampleResults(0, 0, 0, 0).score == 0.5


def test_the_signals_json_form_keeps_its_key_order() -> None:
    bad = ExampleRecord("f(1)", "1", "ValueError: x", "error")
    signal = ExampleResults(2, 1, 0, 1, (ExampleRecord("f(0)", "0", "0", "passed"), bad), "error", "ValueError: x")
    assert signal.as_signal() == ExampleSignal(2, 1, "error", 0, 1, bad, "ValueError: x")
    assert list(signal.as_signal().as_dict()) == ["total", "passed", "status", "failed", "errors", "first_failure", "reason"]
    assert ExampleSignal().as_dict() == {"total": 0, "passed": 0, "status": "no-examples"}


# --------------------------------------------------------------------------- the sandbox driver


def test_the_driver_compares_values_and_imports_only_the_stdlib() -> None:
    equal = example_driver.equal
    assert equal(0.1 + 0.2, 0.3) and equal({"k": (1, 2.0)}, {"k": (1, 2)}) and equal(["a"], ["a"])
    assert not equal(("a", "b"), ["a", "b"]) and not equal([1, 2], [1]) and not equal(1.0, 1.1)
    assert equal(True, 1) and not equal(False, None)
    assert example_driver.expected_value("[1, 'a']", {}) == [1, "a"]
    assert example_driver.expected_value("k + 1", {"k": 2}) == 3  # not a literal: evaluated
    assert example_driver.short_repr("x" * 50, 10) == "'xxxxxxxx…" and example_driver.short_repr(3, 10) == "3"
    assert example_driver.normalise(" a\n  b ") == "a b"
    source = driver_source()
    assert source.endswith(Path(example_driver.__file__).read_text(encoding="utf-8"))

    def imports(text: str) -> set[str]:
        return {
            (a.name if isinstance(n, ast.Import) else n.module or "").split(".")[0]
            for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.Import, ast.ImportFrom))
            for a in n.names
        }

    # the program registers driver_inputs first (shared inputs for best of N); that module
    # reaches beyond the stdlib only for Hypothesis, optional and imported where it is used
    assert imports(source) <= set(sys.stdlib_module_names) | {"driver_inputs"}, imports(source)
    inputs = Path(example_driver.__file__).with_name("driver_inputs.py").read_text(encoding="utf-8")
    assert imports(inputs) <= set(sys.stdlib_module_names) | {"hypothesis"}, imports(inputs)


def test_the_driver_runs_as_a_script() -> None:
    payload = {
        "marker": "M", "budget": 2.0, "limit": 200, "setup": ["k = 1"],
        "source": "def f(x):\n    print('noise')\n    return x + k\n",
        "cases": [{"call": "f(1)", "expected": "2", "kind": "value"}, {"call": "f(0)", "expected": "5", "kind": "value"},
                  {"call": "f('a')", "expected": "TypeError", "kind": "raises"}],
    }  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-I", example_driver.__file__, "-"], input=json.dumps(payload), capture_output=True,
        text=True, timeout=60, check=True,
    )  # fmt: skip
    assert [json.loads(ln[2:]) for ln in proc.stdout.splitlines()] == [
        {"status": "passed", "got": "2"}, {"status": "failed", "got": "1"}, {"status": "passed", "got": "TypeError"},
    ]  # fmt: skip


# --------------------------------------------------------------------------- HumanEval

#: HumanEval problems whose docstring examples contradict their own reference solution.
KNOWN_WRONG = {
    "HumanEval/47": "median([-10, 4, 6, 1000, 10, 20]) is 8.0, the docstring says 15.0",
    "HumanEval/116": "examples sort by value, not by the count of ones the reference (and the tests) sort by",
    "HumanEval/130": "tri(1) = 3, tri(2) = 2 describe the sequence's values; the function returns a list",
    "HumanEval/148": '("Venus") is a string; the reference returns the 1-tuple ("Venus",)',
}


@pytest.fixture(scope="module")
def humaneval() -> list:
    from winnow.judge.dataset.problems import load_problems

    return load_problems("humaneval")


def test_every_humaneval_reference_passes_its_own_examples(humaneval: list) -> None:
    found, failing = {}, {}
    for p in humaneval:
        examples = find_examples(p.prompt, p.entry_point)
        if not examples:
            continue
        found[p.id] = len(examples)
        res = run_examples(p.reference, examples, timeout_s=20.0)
        assert res.n_examples == len(examples)
        if res.status != "passed":
            failing[p.id] = [(r.call, r.expected, r.got) for r in res.records if r.status != "passed"]
    assert set(failing) == set(KNOWN_WRONG), failing
    heldout = [i for i in found if int(i.split("/")[1]) >= 100]
    # Reached: 156 of 164 problems, 62 of the 64 held-out ones (HumanEval/149 calls another
    # name, 160 has no call at all); the old doctest-text runner found 10 of 64.
    assert len(found) >= 150 and len(heldout) >= 60, (len(found), len(heldout))
    assert sum(found.values()) >= 440  # 452 reached


def test_a_batch_of_candidates_in_one_process_gives_what_each_alone_gives() -> None:
    from winnow.judge.evidence.example_runs import ExampleRunner, run_examples, run_examples_many

    task = 'def add(a, b):\n    """Add.\n    >>> add(1, 2)\n    3\n    >>> add(2, 2)\n    4\n    """\n'
    bodies = ["return a + b", "return a - b", "import os; os._exit(0)", "return a * b", "return undefined_name"]
    codes = [task + f"    {b}\n" for b in bodies]
    batch = [r.as_signal() for r in run_examples_many(codes, task)]
    alone = [run_examples(c, task=task).as_signal() for c in codes]
    assert batch == alone
    runner = ExampleRunner()
    runner.prefetch(task, codes)
    assert [runner(c, task) for c in codes] == alone
