"""Pure logic of the core: source parsing, body trimming, the worker queue, JSONL."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from winnow.judge.base.errors import Cancelled
from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl
from winnow.judge.base.pysource import (
    function_at,
    functions,
    judge_task,
    module_imports,
    parses,
    replace_body,
)
from winnow.judge.llm.prompts import BodyEnd, trim_body
from winnow.judge.llm.worker import PRIORITY_BACKGROUND, PRIORITY_INTERACTIVE, ModelWorker

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
    assert judge_task(count, imports) == (
        "from typing import (List,\n    Dict)\n\n\n"
        'def count(self, xs: List[int]) -> Dict[str, int]:\n    """Count them."""\n'
    )
    assert judge_task(total, imports) == 'def total(a):\n    """Add up."""\n'
    assert module_imports("def broken(:\n") == []


def test_body_end_and_trim() -> None:
    stop = BodyEnd(0)
    assert stop("\n    x = 1\n") is None
    assert stop("\n    x = 1\ndef g():\n") == len("\n    x = 1\n")
    assert stop("\n    return 1\n```\n") == len("\n    return 1\n")
    assert trim_body("\n    return 1\n\n\nprint(f())\n", 0) == "    return 1\n"
    assert trim_body("\n    return 1```", 0) == "    return 1\n"
    assert trim_body("\n", 0) == ""


def test_worker_runs_by_priority_and_drops_stale_jobs() -> None:
    worker = ModelWorker()
    order: list[str] = []
    gate = threading.Event()
    first = worker.submit(lambda: gate.wait(5))
    time.sleep(0.05)
    low = worker.submit(lambda: order.append("background"), PRIORITY_BACKGROUND)
    high = worker.submit(lambda: order.append("interactive"), PRIORITY_INTERACTIVE)
    stale = worker.submit(lambda: order.append("stale"), cancelled=lambda: True)
    gate.set()
    for f in (first, low, high):
        f.result(5)
    with pytest.raises(Cancelled):
        stale.result(5)
    assert order == ["interactive", "background"]
    boom = worker.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        boom.result(5)
    assert worker.call(lambda: 42) == 42  # the worker survives an exception
    worker.close()


def test_jsonl_append_resume_and_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path, candidate_key) as out:
        assert out.write({"problem_id": "p", "candidate_id": "1", "x": 1})
        assert not out.write({"problem_id": "p", "candidate_id": "1", "x": 2})
    with path.open("a") as f:
        f.write('{"problem_id": "p", "candidate_id": "2", "x"')  # a kill mid-write
    assert [r["candidate_id"] for r in read_jsonl(path)] == ["1"]
    with JsonlAppender(path, candidate_key) as out:
        assert ("p", "1") in out and ("p", "2") not in out
        assert out.write({"problem_id": "p", "candidate_id": "2", "x": 3})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["candidate_id"] for r in records] == ["1", "2"]
