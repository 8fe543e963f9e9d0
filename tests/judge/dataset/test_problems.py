"""Problem loaders: the HumanEval split, the shipped Java problems and JSONL files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.dataset.problems import Problem, humaneval_number, load_problems


def test_humaneval_split_is_fixed_and_disjoint() -> None:
    everything = load_problems("humaneval")
    train = load_problems("humaneval:train")
    heldout = load_problems("humaneval:heldout")
    assert (len(everything), len(train), len(heldout)) == (164, 100, 64)
    assert [humaneval_number(p.id) for p in train] == list(range(100))
    assert [humaneval_number(p.id) for p in heldout] == list(range(100, 164))
    assert {p.id for p in train} | {p.id for p in heldout} == {p.id for p in everything}


def test_humaneval_problem_shape() -> None:
    p = load_problems("humaneval:train")[0]
    assert p.language == "python" and p.entry_point == "has_close_elements"
    assert p.tests.rstrip().endswith("check(has_close_elements)")
    assert p.reference is not None and p.reference.startswith(p.prompt)


def test_java_sample() -> None:
    problems = load_problems("java:sample")
    assert 4 <= len(problems) <= 6
    for p in problems:
        assert p.language == "java" and p.reference
        assert p.reference.startswith(p.prompt), p.id
        assert "public class Solution" in p.prompt and "public class Tests" in p.tests
        assert f" {p.entry_point}(" in p.prompt


def test_jsonl_file_round_trip(tmp_path: Path) -> None:
    problem = Problem("demo/1", "python", "def f():\n", "assert f() == 1\n", "f", "def f():\n    return 1\n")
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps(problem.to_record()) + "\n")
    assert load_problems(str(path)) == [problem]


def test_bad_problem_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "x", "prompt": "p", "tests": "t"}) + "\n")
    with pytest.raises(WinnowError, match="entry_point"):
        load_problems(str(path))
    record = {"id": "x", "prompt": "p", "tests": "t", "entry_point": "f"}
    path.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(WinnowError, match="twice"):
        load_problems(str(path))
    path.write_text(json.dumps({**record, "language": "cobol"}) + "\n")
    with pytest.raises(WinnowError, match="language"):
        load_problems(str(path))
    with pytest.raises(WinnowError, match="named sets"):
        load_problems("humaneval:everything")
