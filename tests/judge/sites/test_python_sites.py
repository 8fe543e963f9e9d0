"""Python function sites (winnow.judge.sites.python): function sites, stubs, body edits, the judge's task."""

from __future__ import annotations

from winnow.judge.sites import function_at, functions, judge_task, parses
from winnow.judge.sites.python import module_imports, replace_body

SOURCE = '''import math


def area(r: float) -> float:
    """Area of a circle of radius r."""


class Shape:
    def perimeter(self) -> float:
        """Perimeter."""
        raise NotImplementedError

    def name(self) -> str:
        return "shape"


def done(x):
    """Already written."""
    return x * 2
'''


def test_functions_and_stubs() -> None:
    sites = {s.name: s for s in functions(SOURCE)}
    assert set(sites) == {"area", "perimeter", "name", "done"}
    assert sites["area"].is_stub and sites["perimeter"].is_stub
    assert not sites["name"].is_stub and not sites["done"].is_stub
    assert sites["perimeter"].indent == 4
    assert sites["area"].header.startswith("def area") and sites["area"].header.rstrip().endswith('r."""')


def test_function_at_line() -> None:
    assert function_at(SOURCE).name == "area"  # first stub with a docstring
    assert function_at(SOURCE, 9).name == "perimeter"  # inside
    assert function_at(SOURCE, 15).name == "done"  # after
    assert function_at(SOURCE, 100) is None


def test_tolerates_a_file_being_edited() -> None:
    broken = SOURCE + "\ndef half(x):\n    return (x /\n"
    assert function_at(broken, 3).name == "area"
    assert function_at("def f(:\n", 0) is None


def test_replace_body_keeps_the_rest() -> None:
    site = function_at(SOURCE, 3)
    new = replace_body(SOURCE, site, "    return math.pi * r * r\n")
    assert parses(new)
    assert "return math.pi * r * r" in new and "class Shape" in new
    assert function_at(new, 3).is_stub is False


def test_judge_task_looks_like_a_training_problem() -> None:
    """The serving task carries the imports its header names, like a HumanEval prompt."""
    src = (
        "import os\n"
        "from typing import (List,\n    Dict)\n"
        "import numpy as np\n\n"
        "class Counter:\n"
        "    def count(self, xs: List[int]) -> Dict[str, int]:\n"
        '        """Count them."""\n'
        "        pass\n\n"
        "def total(a):\n"
        '    """Add up."""\n'
        "    return sum(a)\n\n"
        "import late_import_ignored\n"
    )
    imports = module_imports(src)
    assert [sorted(names) for names, _ in imports] == [["os"], ["Dict", "List"], ["np"]]
    count, total = functions(src)
    assert judge_task(src, count) == (
        "from typing import (List,\n    Dict)\n\n\n"
        'def count(self, xs: List[int]) -> Dict[str, int]:\n    """Count them."""\n'
    )
    assert judge_task(src, total) == 'def total(a):\n    """Add up."""\n'
    assert module_imports("def broken(:\n") == []


def test_lines_split_where_python_splits_them_not_at_form_feeds() -> None:
    """A ``^L`` page break (old sources have them) is no line break for ``ast`` or an editor:
    every site after one keeps its own lines."""
    from winnow.judge.sites import functions, source_lines

    assert source_lines("a\r\nb\x0cc\rd\ne") == ["a\r\n", "b\x0cc\r", "d\n", "e"]
    source = 'def f():\n    return 1\n\x0c\n\ndef g(x):\n    """Twice."""\n    return 2 * x\n'
    g = next(s for s in functions(source) if s.name == "g")
    assert g.code == 'def g(x):\n    """Twice."""\n    return 2 * x\n' and g.start_line == 4
