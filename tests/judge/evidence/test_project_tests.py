"""A project's own tests as evidence, in the real sandbox: discovery from the project's files,
the coverage map of a module (CPython's own test_heapq on heapq, whose C accelerator the tests
block), an edit that breaks a function failing the tests that reach it, and best of N by the
user's tests (the candidate that passes them first)."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

from winnow.judge.evidence.drivers.project_tests_driver import next_round
from winnow.judge.evidence.project_tests.candidates import check_candidates, stub_cases
from winnow.judge.evidence.project_tests.maps import module_map
from winnow.judge.evidence.project_tests.project import ProjectSuite, discover
from winnow.judge.evidence.project_tests.runs import Document, run_tests
from winnow.judge.evidence.project_tests.selection import by_name, case_id, files_for_module
from winnow.judge.evidence.project_tests.verdicts import by_test, function_tests
from winnow.judge.scoring.ranking import RankedCandidate, by_tests_first
from winnow.judge.sites import function_at, functions

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (.ci/setup.sh installs it)")

STDLIB = sysconfig.get_paths()["stdlib"]

SLUG = '''"""Text helpers."""


def slugify(text):
    """Lower case, words joined by dashes."""
    ...
'''
SLUG_TESTS = '''from textutil import slugify


def test_words():
    assert slugify("Hello World") == "hello-world"


def test_spaces():
    assert slugify("  a  b ") == "a-b"
'''


def slug_project(tmp_path: Path, config: str = "[tool.pytest.ini_options]\n") -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    if config:
        (root / "pyproject.toml").write_text(config)
    (root / "textutil.py").write_text(SLUG)
    (root / "tests" / "test_textutil.py").write_text(SLUG_TESTS)
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "test_vendored.py").write_text("def test_not_ours(): pass\n")
    return root


def test_discovery_reads_the_project_files_and_skips_environments(tmp_path: Path) -> None:
    root = slug_project(tmp_path)
    project = discover(str(root))
    assert project is not None and project.runner == "pytest" and "pyproject.toml" in project.why
    assert project.test_files == (str(root / "tests" / "test_textutil.py"),)
    plain = discover(str(slug_project(tmp_path / "plain", config="")))
    assert plain is not None and plain.runner == "unittest"
    (tmp_path / "empty").mkdir()
    assert discover(str(tmp_path / "empty")) is None


def test_tests_are_chosen_by_import_and_by_name() -> None:
    files = [str(p) for p in sorted(Path(STDLIB, "test").glob("test_*.py"))]
    chosen = files_for_module(files, "heapq", ["heappush", "heappop", "nsmallest"])
    assert os.path.basename(chosen[0]) == "test_heapq.py"
    calls = by_name([str(Path(STDLIB, "test", "test_heapq.py"))], "heappop")
    assert any(q.endswith("test_heappop_max") or "heappop" in q for _f, q, _line in calls)


def test_the_map_and_a_breaking_edit_of_heapq_with_its_accelerator_blocked() -> None:
    path = str(Path(STDLIB, "heapq.py"))
    text = Path(path).read_text()
    sites = functions(text)
    project = ProjectSuite(STDLIB, "unittest", (str(Path(STDLIB, "test", "test_heapq.py")),), (STDLIB,))
    mapped = module_map(project, path, text, sites)
    assert mapped.error == "" and mapped.by_function["heappop"], mapped.error
    assert all(outcome in ("passed", "skipped") for outcome in mapped.outcomes.values())
    reaching = mapped.by_function["heappop"]
    assert any(".TestHeapPython." in t for t in reaching)  # the pure-Python heapq: the text we serve

    broken = text.replace("returnitem = heap[0]", "returnitem = heap[-1]")
    outcomes, error = run_tests(project, reaching, [Document(path, broken)], repeat=2)
    assert error == ""
    passed_before = {t for t, o in mapped.outcomes.items() if o == "passed"}
    verdict = function_tests("heappop", reaching, "coverage", by_test(outcomes), passed_before)
    assert verdict.broken and all(".TestHeapPython." in f.id for f in verdict.broken)
    failure = verdict.broken[0]
    assert failure.file.endswith("test_heapq.py") and failure.line > 0 and failure.message

    same, _ = run_tests(project, reaching, [Document(path, text)], repeat=2)
    assert not function_tests("heappop", reaching, "coverage", by_test(same), passed_before).broken


def test_best_of_n_puts_the_body_that_passes_the_user_tests_first(tmp_path: Path) -> None:
    root = slug_project(tmp_path)
    project = discover(str(root))
    assert project is not None
    path = str(root / "textutil.py")
    site = function_at(SLUG, None)
    assert site is not None and site.is_stub
    tests = stub_cases(project, path, SLUG, site)
    assert tests is not None and set(tests.ids) == {
        case_id("pytest", str(root), str(root / "tests" / "test_textutil.py"), "test_words"),
        case_id("pytest", str(root), str(root / "tests" / "test_textutil.py"), "test_spaces"),
    }
    header = site.header
    codes = [
        header + '    return text.lower().replace(" ", "-")\n',  # passes one of two
        header + '    return "-".join(text.lower().split())\n',  # passes both
        header + "    return text.\n",  # does not parse
    ]
    results = check_candidates(tests, codes)
    assert [(r.passed, r.total) for r in results] == [(1, 2), (2, 2), (0, 2)]
    ranked = [RankedCandidate(i, c, 0.5, -1.0, 0.5) for i, c in enumerate(codes)]
    best = by_tests_first(ranked, [(r.passed, r.total) for r in results])
    assert [r.index for r in best] == [1, 0, 2] and best[0].reason.startswith("passes 2/2 of your tests")


def test_a_second_round_runs_only_the_tests_that_failed(tmp_path: Path) -> None:
    root = slug_project(tmp_path)
    project = discover(str(root))
    assert project is not None
    path = str(root / "textutil.py")
    half = SLUG.replace("    ...\n", '    return text.lower().replace(" ", "-")\n')  # passes test_words only
    test_file = str(root / "tests" / "test_textutil.py")
    ids = [case_id("pytest", str(root), test_file, name) for name in ("test_words", "test_spaces")]
    outcomes, error = run_tests(project, ids, [Document(path, half)], repeat=2)
    assert error == ""
    rounds = {t: [(o.round, o.outcome) for o in runs] for t, runs in by_test(outcomes).items()}
    assert rounds == {ids[0]: [(0, "passed")], ids[1]: [(0, "failed"), (1, "failed")]}
    verdict = function_tests("slugify", ids, "by-name", by_test(outcomes), set(ids))
    assert verdict.passed == 1 and [f.id for f in verdict.broken] == [ids[1]]


def test_which_tests_a_next_round_runs() -> None:
    root = "/p"
    tests = ["/p/tests/test_a.py::test_x", "/p/tests/test_a.py::test_y[1]", "pkg.test_b.Case.test_z"]

    def rec(test_id: str, outcome: str) -> dict[str, str]:
        return {"id": test_id, "outcome": outcome}

    assert next_round(tests, [rec("tests/test_a.py::test_x", "passed"), rec("tests/test_a.py::test_y[1]", "failed"),
                              rec("pkg.test_b.Case.test_z", "error")], root) == tests[1:]  # fmt: skip
    assert next_round(tests, [rec("tests/test_a.py::test_x", "passed")], root) == []
    # a failure that is none of the ids asked for (a file that did not collect): all again
    assert next_round(tests, [rec("tests/test_a.py", "error")], root) == tests


def test_a_plugin_the_run_blocks_is_never_imported(tmp_path: Path) -> None:
    """pytest-randomly imports numpy at import; loaded before pytest starts, it picked another
    copy of numpy than the project's own, and every numpy test failed to collect."""
    import importlib.util

    assert importlib.util.find_spec("pytest_randomly") is not None  # a [dev] dependency: the case is real here
    root = slug_project(tmp_path)
    test_file = root / "tests" / "test_plugins.py"
    test_file.write_text('import sys\n\n\ndef test_blocked():\n    assert "pytest_randomly" not in sys.modules\n')
    project = discover(str(root))
    assert project is not None
    test_id = case_id("pytest", str(root), str(test_file), "test_blocked")
    outcomes, error = run_tests(project, [test_id], [], repeat=1)
    assert error == "" and [(o.id, o.outcome) for o in outcomes] == [(test_id, "passed")]
