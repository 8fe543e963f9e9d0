"""Literal calls in real code (judge.base.call_sites): what hints try as call-site inputs."""

from __future__ import annotations

import ast

from winnow.judge.sites.call_sites import literal_calls, merge_calls, own_calls

TESTS = '''
import pytest
from shapes import geometry

def test_aspect():
    assert geometry.aspect(16, 9) > 1
    assert geometry.aspect(width=4, height=3)
    with pytest.raises(ZeroDivisionError):
        geometry.aspect(1, 0)
    geometry.aspect(w, 1)
    geometry.aspect(*sizes)
'''


def test_only_all_literal_calls_outside_blocks_that_expect_a_raise_are_kept() -> None:
    found = literal_calls(ast.parse(TESTS), TESTS)
    assert found["aspect"] == ("16, 9", "width=4, height=3")
    assert "raises" not in found


def test_a_module_calls_its_own_functions_and_tables_merge_without_repeats() -> None:
    source = "def f(x):\n    '''f.'''\n    return x\n\nclass C:\n    def m(self, y):\n        return f(2)\n\nf(1)\nC().m(3)\n"
    assert own_calls(source, ["f", "C.m"]) == {"f": ("2", "1")}  # methods are not called by call-site inputs
    assert merge_calls({"f": ("1", "2")}, {"f": ("2", "3")}, limit=2) == {"f": ("1", "2")}
