"""Labels from a tree's own tests (judge.dataset.repo_tests, ``winnow mine --tests``):
real pytest runs in the real sandbox on a small package with tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from winnow.judge.dataset.mining import mine
from winnow.judge.dataset.mining import python_records_for as records_for
from winnow.judge.dataset.repo_tests import SuiteIndex, label_by_tests, module_with, suite_runs
from winnow.judge.dataset.repo_tests import run_suite as run_tests

OPS = '''"""Small helpers."""

import functools


def clamp(x, lo, hi):
    """x limited to [lo, hi]."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def scale(values, k):
    """Each value times k."""
    out = []
    for v in values:
        out.append(v * k)
    return out


@functools.lru_cache(maxsize=None)
def square(n):
    """n times n."""
    result = n * n
    return result


class Box:
    def __init__(self, w, h):
        self.w = w
        self.h = h

    def area(self):
        """Width times height."""
        total = self.w * self.h
        if total < 0:
            return 0
        return total
'''

TESTS = '''from calc.ops import Box, clamp, square


def test_square():
    assert square(3) == 9
    assert square(-2) == 4


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_box():
    assert Box(2, 3).area() == 6
    assert Box(-2, 3).area() == 0

# scale is checked elsewhere (it is named here, never called)
'''


def tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # as root, the sandbox's throw-away user must be able to read the tree
    (root / "calc").mkdir()
    (root / "calc" / "__init__.py").write_text("from calc.ops import clamp\n")
    (root / "calc" / "ops.py").write_text(OPS)
    (root / "tests").mkdir()
    (root / "tests" / "test_ops.py").write_text(TESTS)
    return root


def by_name(root: Path) -> dict[str, object]:
    return {fn.name: fn for fn in mine([root])}


def test_module_with_replaces_exactly_the_function_and_keeps_its_indent(tmp_path: Path) -> None:
    root = tree(tmp_path)
    area = by_name(root)["area"]
    text = (root / "calc" / "ops.py").read_text()
    new, n = module_with(area, "def area(self):\n    return 7\n", text)  # type: ignore[arg-type]
    assert n == 2
    assert "    def area(self):\n        return 7\n" in new
    assert "total = self.w" not in new and "def __init__" in new and "return out\n" in new and new.endswith("return 7\n")
    compile(new, "ops.py", "exec")


def test_the_tests_pass_as_released_fail_a_bug_and_count_calls(tmp_path: Path) -> None:
    root = tree(tmp_path)
    index = SuiteIndex.of(root)
    found = by_name(root)
    clamp = found["clamp"]
    tests = index.covering(clamp)  # type: ignore[arg-type]
    assert tests == [str(root / "tests" / "test_ops.py")]
    ok = run_tests(clamp, clamp.code, tests, root)  # type: ignore[attr-defined,arg-type]
    assert ok.status == "passed" and ok.exit == 0 and ok.calls >= 3, ok
    bug = clamp.code.replace("if x > hi", "if x >= hi").replace("return hi", "return lo")  # type: ignore[attr-defined]
    bad = run_tests(clamp, bug, tests, root)  # type: ignore[arg-type]
    assert bad.status == "failed" and bad.exit == 1, bad
    broken = run_tests(clamp, "def clamp(x, lo, hi:\n    return x\n", tests, root)  # type: ignore[arg-type]
    assert broken.status in ("failed", "error") and broken.status != "passed", broken
    # A decorated function's calls count too (its code starts at the decorator).
    square = found["square"]
    assert run_tests(square, square.code, tests, root).calls >= 1  # type: ignore[attr-defined,arg-type]
    # A method is replaced inside its class: the tests see the candidate through Box.
    area = found["area"]
    assert run_tests(area, area.code, tests, root).status == "passed"  # type: ignore[attr-defined,arg-type]
    assert run_tests(area, "def area(self):\n    return self.w + self.h\n", tests, root).status == "failed"  # type: ignore[arg-type]


def test_a_candidate_that_never_returns_times_out_alone(tmp_path: Path) -> None:
    """One batch, one sandbox process: the hanging candidate's child is killed at its limit,
    and the candidates after it still get their verdicts."""
    root = tree(tmp_path)
    clamp = by_name(root)["clamp"]
    tests = SuiteIndex.of(root).covering(clamp)  # type: ignore[arg-type]
    hang = "def clamp(x, lo, hi):\n    while True:\n        pass\n"
    exits = "def clamp(x, lo, hi):\n    import os\n    os._exit(0)\n"
    runs = suite_runs(clamp, [hang, exits, clamp.code], tests, root, timeout_s=5.0)  # type: ignore[arg-type,attr-defined]
    assert [r.status for r in runs] == ["timeout", "error", "passed"], runs


def test_only_functions_the_tests_call_are_relabelled(tmp_path: Path) -> None:
    root = tree(tmp_path)
    index = SuiteIndex.of(root)
    found = by_name(root)
    scale = found["scale"]
    _, scale_labels = records_for(scale, 3, 0)  # type: ignore[arg-type]
    same, outcome = label_by_tests(scale, scale_labels, index)  # type: ignore[arg-type]
    assert outcome == "not called" and same == scale_labels
    init = found["__init__"]
    _, init_labels = records_for(init, 3, 0)  # type: ignore[arg-type]
    assert label_by_tests(init, init_labels, index)[1] == "no tests"  # type: ignore[arg-type]
    clamp = found["clamp"]
    _, labels = records_for(clamp, 4, 0)  # type: ignore[arg-type]
    relabelled, outcome = label_by_tests(clamp, labels, index)  # type: ignore[arg-type]
    assert outcome == "labelled" and len(relabelled) == len(labels)
    assert {r["label_source"] for r in relabelled} == {"tests"}
    canonical = next(r for r in relabelled if r["origin"] == "canonical")
    assert canonical["status"] == "passed" and canonical["tests"] == ["tests/test_ops.py"]
    assert all(r["self_supervised_status"] == old["status"] for r, old in zip(relabelled, labels, strict=True))


def test_mine_with_tests_writes_repo_tests_and_their_summary(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    root = tree(tmp_path / "repo")
    out = tmp_path / "mined"
    done = subprocess.run(
        [sys.executable, "-m", "winnow.cli", "mine", str(root), "--out", str(out), "--tests", "--heldout-share", "0",
         "--variants", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    split = json.loads((out / "split.json").read_text())
    functions = split["tests"]["functions"]
    assert functions.get("labelled", 0) >= 3 and functions.get("not called", 0) >= 1, split
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    tested = [r for r in rows if r["label_source"] == "tests"]
    assert {r["problem_id"].split(":")[2].split("@")[0] for r in tested} >= {"clamp", "square", "Box.area"}
    assert any(r["origin"] == "mutant" and r["status"] != "passed" for r in tested)
    assert all(r["status"] == "passed" for r in tested if r["origin"] == "canonical")
    assert any(r["label_source"] == "self-supervised" for r in rows)  # scale and __init__ keep theirs
    assert sum(split["tests"]["labelled_by_origin"]["canonical"].values()) == functions["labelled"]
