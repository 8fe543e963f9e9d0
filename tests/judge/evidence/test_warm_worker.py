"""The warm test worker, in the real sandbox: it runs an edit's tests as a fresh run does, on
the editor's text each time, and nothing a job does reaches the next one: a process that left
its group ends the worker (and dies with it), a file in /tmp is gone, the request channel is
out of reach, and a job past its time is killed without taking the worker down."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from winnow.judge.evidence.project_tests import warm
from winnow.judge.evidence.project_tests.project import ProjectSuite, discover
from winnow.judge.evidence.project_tests.runs import CaseOutcome, Document, run_tests
from winnow.judge.evidence.project_tests.selection import case_id

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (.ci/setup.sh installs it)")

SLUG = '''def slugify(text):
    return "-".join(text.lower().split())
'''
TESTS = '''import os

from textutil import slugify


def test_words():
    assert slugify("Hello World") == "hello-world"


def test_spaces():
    assert slugify("  a  b ") == "a-b"


def test_leaves_a_process():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "3171"])
        os._exit(0)
    os.wait()


def test_writes_tmp():
    with open("/tmp/winnow-left.txt", "w") as f:
        f.write("left")
    assert os.path.exists("/tmp/winnow-left.txt")


def test_tmp_is_clean():
    assert not os.path.exists("/tmp/winnow-left.txt")


def test_channel_out_of_reach():
    assert os.getppid() == 2  # the worker, beside the namespace's init
    for attempt in (lambda: os.listdir("/proc/2/fd"), lambda: open("/proc/2/fd/1", "w"), lambda: open("/proc/2/mem", "rb")):
        try:
            attempt()
        except PermissionError:
            continue
        raise AssertionError("the worker's descriptors or memory are within reach")


def test_loops():
    while True:
        pass


def test_served_as_the_worker_compiled_it():
    import gc
    import hashlib

    import driver_rewrites  # the worker's part: registered in every job

    assert gc.get_freeze_count() > 0  # the worker's objects are out of the job's collections
    with open(__file__, "rb") as f:
        assert driver_rewrites._compiled[__file__][0] == hashlib.sha256(f.read()).hexdigest()
'''


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ProjectSuite]:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (root / "textutil.py").write_text(SLUG)
    (root / "tests" / "test_textutil.py").write_text(TESTS)
    found = discover(str(root))
    assert found is not None
    warm.close_all()
    yield found
    warm.close_all()


def _ids(project: ProjectSuite, *names: str) -> list[str]:
    test_file = str(Path(project.root) / "tests" / "test_textutil.py")
    return [case_id("pytest", project.root, test_file, name) for name in names]


def _run(project: ProjectSuite, names: tuple[str, ...], source: str = SLUG, timeout_s: float = 30.0,
         ) -> tuple[list[CaseOutcome], str]:  # fmt: skip
    path = str(Path(project.root) / "textutil.py")
    return run_tests(project, _ids(project, *names), [Document(path, source)], repeat=1, timeout_s=timeout_s)


def _outcomes(found: tuple[list[CaseOutcome], str]) -> list[tuple[str, str]]:
    return [(o.id.rsplit("::", 1)[1], o.outcome) for o in found[0]]


def _worker() -> object:
    assert len(warm._workers) == 1
    return next(iter(warm._workers.values()))


def test_each_run_gets_the_editors_text_in_the_same_worker(project: ProjectSuite) -> None:
    broken = SLUG.replace('"-".join', '"_".join')
    names = ("test_words", "test_spaces")
    assert _outcomes(_run(project, names, broken)) == [("test_words", "failed"), ("test_spaces", "failed")]
    first = _worker()
    assert _outcomes(_run(project, names)) == [("test_words", "passed"), ("test_spaces", "passed")]
    assert _outcomes(_run(project, names, broken)) == [("test_words", "failed"), ("test_spaces", "failed")]
    assert _worker() is first and first.jobs == 3  # type: ignore[attr-defined]
    cold = run_tests(project, _ids(project, *names), [Document(str(Path(project.root) / "textutil.py"), broken)],
                     repeat=1, warm=False)  # fmt: skip
    assert _outcomes(cold) == [("test_words", "failed"), ("test_spaces", "failed")]


def test_a_process_left_behind_ends_the_worker_and_dies_with_it(project: ProjectSuite) -> None:
    assert _outcomes(_run(project, ("test_words",))) == [("test_words", "passed")]
    first = _worker()
    assert _outcomes(_run(project, ("test_leaves_a_process",))) == [("test_leaves_a_process", "passed")]
    assert not warm._workers and not first.alive  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", "sleep 3171"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the process the job left is still running"
        time.sleep(0.1)
    assert _outcomes(_run(project, ("test_words",))) == [("test_words", "passed")]
    assert _worker() is not first


def test_a_file_in_tmp_is_gone_before_the_next_job(project: ProjectSuite) -> None:
    assert _outcomes(_run(project, ("test_writes_tmp",))) == [("test_writes_tmp", "passed")]
    first = _worker()
    assert _outcomes(_run(project, ("test_tmp_is_clean",))) == [("test_tmp_is_clean", "passed")]
    assert _worker() is first


def test_a_job_cannot_reach_the_request_channel(project: ProjectSuite) -> None:
    assert _outcomes(_run(project, ("test_channel_out_of_reach",))) == [("test_channel_out_of_reach", "passed")]


def test_a_job_past_its_time_is_killed_and_the_worker_goes_on(project: ProjectSuite) -> None:
    assert _outcomes(_run(project, ("test_words",))) == [("test_words", "passed")]
    first = _worker()
    outcomes, error = _run(project, ("test_loops",), timeout_s=3)
    assert outcomes == [] and "timed out" in error
    assert _outcomes(_run(project, ("test_words",))) == [("test_words", "passed")]
    assert _worker() is first


def test_the_worker_never_learns_a_package_of_the_project(capfd: pytest.CaptureFixture[str]) -> None:
    """networkx's tests here import the interpreter's other copy of networkx around the edited
    module: learned by the worker, the served module then ran twice in one process and its
    ``@nx._dispatchable`` refused the second registration. A package is the project's when
    any of its modules lies under the project or is served from the editor."""
    import json
    import sys
    import types

    from winnow.judge.evidence.drivers import driver_worker

    fake = {
        "projpkg": "/site/projpkg/__init__.py",  # another copy of the project's package
        "projpkg.core": "/root/proj/projpkg/core.py",  # the project's own
        "served.mod": "/elsewhere/served/mod.py",  # served as a document
        "thirdparty": "/site/thirdparty/__init__.py",
        "thirdparty.sub": "/site/thirdparty/sub.py",
    }
    before = set(sys.modules)
    try:
        for name, path in fake.items():
            module = types.ModuleType(name)
            module.__file__ = path
            sys.modules[name] = module
        driver_worker._learned(before, "M", ["/site", "/elsewhere"], ["/root/proj"], [{"name": "served.mod"}])
    finally:
        for name in fake:
            sys.modules.pop(name, None)
    line = capfd.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("M ")
    record = json.loads(line[2:])
    assert record == {"learned": ["thirdparty", "thirdparty.sub"], "project": ["projpkg", "served"]}
    # between jobs, the worker refuses the project's packages whatever asks for them
    output = ("\n" + line + "\n").encode()
    driver_worker._project.clear()
    sys.modules.pop("colorsys", None)
    try:
        driver_worker._learn(output.replace(b'"thirdparty", ', b'"projpkg.x", "colorsys", '), "M")
        assert "projpkg.x" not in sys.modules and "colorsys" in sys.modules
        with pytest.raises(ModuleNotFoundError, match="the project's own"):
            driver_worker._ProjectBlocked().find_spec("projpkg.core")
    finally:
        driver_worker._project.clear()


def test_a_test_module_is_rewritten_once_and_again_when_it_changes(project: ProjectSuite) -> None:
    """pytest cannot keep its assertion-rewritten modules in the read-only sandbox: the worker
    compiles them once (never runs them), and a job takes that code only while the file's
    bytes are the same."""
    compiled = "test_served_as_the_worker_compiled_it"
    names = ("test_words", compiled)
    assert _outcomes(_run(project, names)) == [("test_words", "passed"), (compiled, "error")]  # not compiled yet
    assert _outcomes(_run(project, names)) == [("test_words", "passed"), (compiled, "passed")]
    test_file = Path(project.root) / "tests" / "test_textutil.py"
    test_file.write_text(TESTS.replace('== "hello-world"', '== "hello_world"'))
    # the edited test ran, not the code compiled from the file before
    assert _outcomes(_run(project, names)) == [("test_words", "failed"), (compiled, "failed")]
    assert _outcomes(_run(project, names)) == [("test_words", "failed"), (compiled, "passed")]
