"""The Java translations of HumanEval: java:humaneval and its train / held-out split."""

from __future__ import annotations

import re
import shutil
from importlib import resources

import pytest

from winnow.judge.dataset.labelling import run_against_tests as run_candidate
from winnow.judge.dataset.problems import (
    HUMANEVAL_HELDOUT,
    HUMANEVAL_TRAIN,
    NAMED_SETS,
    humaneval_number,
    load_problems,
)

STUB_BODY = "        throw new UnsupportedOperationException();\n    }\n}\n"


def _shipped_file() -> str:
    return str(resources.files("winnow.judge.data").joinpath("java_humaneval.jsonl"))


def test_java_split_is_disjoint_and_covers_the_file() -> None:
    everything = load_problems("java:humaneval")
    train = load_problems("java:train")
    heldout = load_problems("java:heldout")
    assert {"java:humaneval", "java:train", "java:heldout"} <= set(NAMED_SETS)
    assert len(everything) >= 48 and len(train) >= 25 and len(heldout) >= 18
    train_ids, heldout_ids = {p.id for p in train}, {p.id for p in heldout}
    assert not train_ids & heldout_ids
    assert train_ids | heldout_ids == {p.id for p in everything}
    assert {p.id for p in load_problems(_shipped_file())} == {p.id for p in everything}
    assert all(humaneval_number(p.id) in HUMANEVAL_TRAIN for p in train)
    assert all(humaneval_number(p.id) in HUMANEVAL_HELDOUT for p in heldout)
    numbers = [humaneval_number(p.id) for p in everything]
    assert numbers == sorted(numbers)


def test_java_ids_count_for_the_held_out_guard() -> None:
    assert humaneval_number("java/HumanEval/117") == 117
    assert humaneval_number("java/HumanEval/3") == 3
    assert humaneval_number("java/digit_sum") is None
    assert humaneval_number("java/HumanEval/") is None


def test_java_humaneval_problem_shape() -> None:
    for p in load_problems("java:humaneval"):
        assert re.fullmatch(r"java/HumanEval/\d+", p.id), p.id
        assert p.language == "java" and p.reference, p.id
        assert p.reference.startswith(p.prompt), p.id
        assert p.reference.endswith("    }\n}\n"), p.id
        assert "public class Solution {" in p.prompt and "/**" in p.prompt, p.id
        assert "public class Tests" in p.tests and "public static void main(String[] args)" in p.tests, p.id
        signature = p.prompt.splitlines()[-1]
        assert signature.startswith("    public static ") and signature.endswith(") {"), p.id
        assert f" {p.entry_point}(" in signature, p.id
        assert p.prompt.endswith("{\n"), p.id
        assert f"Solution.{p.entry_point}(" in p.tests, p.id


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("javac") is None, reason="javac not installed (a JDK is needed for Java problems)"
)
def test_references_pass_and_a_stub_does_not() -> None:
    train = load_problems("java:train")
    heldout = load_problems("java:heldout")
    for p in (train[0], heldout[0], heldout[-1]):
        assert p.reference is not None
        result = run_candidate(p, p.reference, timeout_s=30.0)
        assert result.status == "passed", (p.id, result.status, result.reason)
    stub = train[0]
    result = run_candidate(stub, stub.prompt + STUB_BODY, timeout_s=30.0)
    assert result.status != "passed", (stub.id, result.reason)
    assert "compile error" not in result.reason, (stub.id, result.reason)
