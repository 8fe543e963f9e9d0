"""Sandbox side of the evidence from a project's own tests: run its tests (pytest or unittest)
and say, per test, what it did, which lines of the modules of interest it ran, and, for a
best-of-N batch, how each candidate fared.

Sent to the sandbox after ``driver_loading`` (registered as a module of that name), followed
by one ``main(<payload>)`` line. The payload (a JSON object):

- ``marker`` (the prefix of every record line), ``mode``: ``map`` | ``run`` | ``candidates``;
  ``runner``: ``pytest`` | ``unittest``; ``rootdir``; ``sys_path``, ``site_dirs``
  (``driver_loading.add_paths``); ``tests``: test files (``map``) or ids (the others);
- ``documents``: modules served as the editor has them (``name``, ``path``, ``source``,
  ``is_package``): every import of one, a fresh import included (CPython's tests import
  ``heapq`` again with its C accelerator blocked), gets that text;
- ``measure``: files whose lines ``map`` records per test (coverage.py, a context per test);
- ``repeat``: how many rounds ``run`` makes (a failure that does not repeat is flaky); a
  round after the first runs only the tests that failed in the one before;
- ``candidates``: the edited module texts of a best-of-N batch, each in a forked child against
  the same tests (as many at once as cores, at most 4); ``timeout_s``: each child's limit.

Records: ``{"test": {...}}`` per test outcome (id, outcome, message, file, line, frames,
environment, round), ``{"lines": {file: {line: [test index]}}, "ids": [...]}`` after a map,
``{"candidate": i, "passed": n, "total": n, "failed": [ids], "timeout": bool}`` per candidate,
and ``{"done": true}`` last (a run cut short by its time limit has no ``done``).
"""

import importlib
import importlib.util
import json
import os
import sys
import traceback
import types
import unittest
from typing import Any, Protocol

try:  # in the sandbox, the program registers them as modules; imported as a package (tests), beside it
    import driver_forks
    import driver_loading
    import driver_outcomes
except ImportError:
    from winnow.judge.evidence.drivers import driver_forks, driver_loading, driver_outcomes

#: pytest plugins a run blocks: nothing may write a cache, and the tests run in the project's order.
BLOCKED_PLUGINS = ("cacheprovider", "randomly")
#: The JSON objects this driver reads and writes.
Json = dict[str, Any]
#: What a failing test raised, as unittest hands it over.
ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType]


class Contexts(Protocol):
    """coverage.py's ``Coverage``, as far as a run switches its per-test context."""

    def switch_context(self, new_context: str) -> None: ...


class Item(Protocol):
    """A pytest test item, as far as the recorder reads one."""

    nodeid: str


class Report(Protocol):
    """A pytest report, as far as the recorder reads one."""

    nodeid: str
    when: str
    outcome: str
    passed: bool
    skipped: bool
    failed: bool
    longrepr: object
    location: tuple[str, int | None, str]

_marker = ""


def _emit(record: Json) -> None:
    sys.__stdout__.write("\n" + _marker + " " + json.dumps(record) + "\n")
    sys.__stdout__.flush()


def _serve(documents: list[Json]) -> None:
    """Every import of a document's module, a fresh one included, gets the editor's text."""
    for doc in documents:
        loader = driver_loading.DocumentLoader(doc["name"], doc["path"], doc["source"], bool(doc.get("is_package")))
        sys.meta_path.insert(0, loader)
        if doc["name"] in sys.modules:  # imported before we stepped in: run again and rebind
            original = sys.modules[doc["name"]]
            spec = loader.find_spec(doc["name"])
            module = importlib.util.module_from_spec(spec)
            sys.modules[doc["name"]] = module
            loader.exec_module(module)
            driver_loading.rebind(original, module)


# --- unittest -------------------------------------------------------------------------------


def dotted_test_module(path: str) -> tuple[str, str]:
    """(dotted name, the folder to import it from) of a test file inside its packages
    (``.../Lib/test/test_heapq.py`` → ``test.test_heapq``, ``.../Lib``). The host asks it too
    (``project_tests.selection``), to name unittest's test ids."""
    folder, name = os.path.split(os.path.abspath(path))
    parts = [name[:-3]]
    while os.path.exists(os.path.join(folder, "__init__.py")):
        folder, pkg = os.path.split(folder)
        parts.insert(0, pkg)
    return ".".join(parts), folder


def _unittest_suite(tests: list[str], by_file: bool) -> unittest.TestSuite:
    """The tests of ``tests`` (files, or ids ``pkg.module.Class.method``), loaded as unittest does."""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for item in tests:
        if by_file:
            name, folder = dotted_test_module(item)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            suite.addTests(loader.loadTestsFromModule(importlib.import_module(name)))
        else:
            suite.addTests(loader.loadTestsFromName(item))
    return suite


class Recorder(unittest.TestResult):
    """A TestResult that records each test's outcome, and switches coverage's context."""

    def __init__(self, cov: Contexts | None, test_files: set[str]) -> None:
        super().__init__()
        self.cov, self.test_files = cov, test_files
        self.records: list[Json] = []

    def startTest(self, test: unittest.TestCase) -> None:  # noqa: N802 - unittest's API
        super().startTest(test)
        if self.cov is not None:
            self.cov.switch_context(test.id())
        self._current = test.id()
        self._ok = True

    def _fail(self, test: unittest.TestCase, err: ExcInfo, outcome: str) -> None:
        self._ok = False
        exc_type, exc, tb = err
        frames = list(traceback.extract_tb(tb))
        own = getattr(sys.modules.get(type(test).__module__), "__file__", None)
        file, line = driver_outcomes.where_in(frames, self.test_files | ({os.path.realpath(own)} if own else set()))
        name = exc_type.__name__ if exc_type is not None else ""
        message = f"{name}: {exc}" if str(exc) else name
        self.records.append(driver_outcomes.outcome_record(test.id(), outcome, message, file, line, driver_outcomes.frames_of(frames), name))

    def addFailure(self, test: unittest.TestCase, err: ExcInfo) -> None:  # noqa: N802
        self._fail(test, err, "failed")

    def addError(self, test: unittest.TestCase, err: ExcInfo) -> None:  # noqa: N802
        self._fail(test, err, "failed" if err[0] is AssertionError else "error")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: ExcInfo | None) -> None:  # noqa: N802
        if err is not None and self._ok:
            self._fail(test, err, "failed" if issubclass(err[0], AssertionError) else "error")

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:  # noqa: N802
        self._ok = False
        self.records.append(driver_outcomes.outcome_record(test.id(), "skipped", reason))

    def stopTest(self, test: unittest.TestCase) -> None:  # noqa: N802
        if self._ok:
            self.records.append(driver_outcomes.outcome_record(test.id(), "passed"))
        if self.cov is not None:
            self.cov.switch_context("")
        super().stopTest(test)


def _run_unittest(tests: list[str], by_file: bool, cov: Contexts | None, test_files: set[str]) -> list[Json]:
    try:
        suite = _unittest_suite(tests, by_file)
    except Exception as exc:  # a test module that does not import: no evidence, said so
        name = type(exc).__name__
        return [driver_outcomes.outcome_record(t, "error", f"{name}: {exc}", exc=name) | {"environment": True} for t in tests]
    result = Recorder(cov, test_files)
    suite.run(result)
    return result.records


# --- pytest -----------------------------------------------------------------------------------


class PytestRecorder:
    """A pytest plugin that records each test's outcome and switches coverage's context."""

    def __init__(self, cov: Contexts | None, rootdir: str) -> None:
        self.cov, self.rootdir = cov, rootdir
        self.records: dict[str, Json] = {}

    def pytest_runtest_setup(self, item: Item) -> None:
        if self.cov is not None:
            self.cov.switch_context(item.nodeid)

    def pytest_runtest_teardown(self, item: Item) -> None:
        if self.cov is not None:
            self.cov.switch_context("")

    def pytest_runtest_logreport(self, report: Report) -> None:
        known = self.records.get(report.nodeid)
        if report.when == "call" or (report.outcome != "passed" and (known is None or known["outcome"] == "passed")):
            self.records[report.nodeid] = self._record(report)

    def pytest_collectreport(self, report: Report) -> None:
        if report.failed:  # a test file that does not import: its tests give no evidence
            self.records[report.nodeid] = driver_outcomes.outcome_record(report.nodeid, "error", str(report.longrepr)[-300:],
                                                                         exc="ImportError")  # fmt: skip

    def _record(self, report: Report) -> Json:
        if report.passed:
            return driver_outcomes.outcome_record(report.nodeid, "passed")
        if report.skipped:
            return driver_outcomes.outcome_record(report.nodeid, "skipped")
        crash = getattr(report.longrepr, "reprcrash", None)
        message = getattr(crash, "message", "") or str(report.longrepr)[-300:]
        file, line = os.path.join(self.rootdir, report.location[0]), (report.location[1] or 0) + 1
        frames: list[str] = []
        entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", []) or []
        for entry in entries[-4:]:
            loc = getattr(entry, "reprfileloc", None)
            if loc is not None:
                frames.append(f"{loc.path}:{loc.lineno}")
        for entry in reversed(entries):  # the failing line in the test file itself
            loc = getattr(entry, "reprfileloc", None)
            if loc is not None and os.path.basename(str(loc.path)) == os.path.basename(file):
                line = loc.lineno
                break
        outcome = "failed" if report.when == "call" and message.startswith(("AssertionError", "assert")) else "error"
        if report.when == "call" and outcome == "error" and "Error" not in message.split(":", 1)[0]:
            outcome = "failed"
        return driver_outcomes.outcome_record(report.nodeid, outcome, message, file, line, frames, driver_outcomes.exception_name(message))


def _run_pytest(tests: list[str], rootdir: str, cov: Contexts | None) -> list[Json]:
    import pytest

    recorder = PytestRecorder(cov, rootdir)
    args = [*tests, "-q", "--no-header", *(a for name in BLOCKED_PLUGINS for a in ("-p", f"no:{name}")),
            "--rootdir", rootdir, "-o", "addopts=",
            "-W", "ignore::DeprecationWarning", "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip
    pytest.main(args, plugins=[recorder])
    return list(recorder.records.values())


def _run_suite(payload: Json, tests: list[str], by_file: bool, cov: Contexts | None = None) -> list[Json]:
    test_files = {os.path.realpath(t.split("::")[0]) for t in tests if t.endswith(".py") or "::" in t}
    if payload["runner"] == "pytest":
        return _run_pytest(tests, payload["rootdir"], cov)
    return _run_unittest(tests, by_file, cov, test_files)


# --- the modes ----------------------------------------------------------------------------------


def _run_map(payload: Json) -> None:
    """The test files under coverage, one context per test: which lines each test ran."""
    import coverage

    cov = coverage.Coverage(data_file=None, config_file=False, include=payload["measure"], branch=False)
    cov.start()
    try:
        records = _run_suite(payload, payload["tests"], by_file=True, cov=cov)
    finally:
        cov.stop()
    for record in records:
        _emit({"test": record | {"round": 0}})
    ids = sorted({r["id"] for r in records})
    index = {test_id: i for i, test_id in enumerate(ids)}
    data = cov.get_data()
    lines: dict[str, dict[str, list[int]]] = {}
    for file in data.measured_files():
        by_line = data.contexts_by_lineno(file)
        lines[os.path.realpath(file)] = {
            str(n): sorted({index[c] for c in contexts if c in index}) for n, contexts in by_line.items()
        }
    _emit({"lines": lines, "ids": ids})


def _record_id(test: str, rootdir: str) -> str:
    """The id a record of ``test`` carries: pytest's node id is relative to the root."""
    path, sep, rest = test.partition("::")
    return os.path.relpath(path, rootdir) + sep + rest if sep and os.path.isabs(path) else test


def next_round(tests: list[str], records: list[Json], rootdir: str) -> list[str]:
    """The tests a next round runs: those that failed (a failure must repeat to count; a pass
    needs no second look); all, where a failure is none of the ids (a file did not collect)."""
    bad = {r["id"] for r in records if r["outcome"] in ("failed", "error")}
    again = [t for t in tests if _record_id(t, rootdir) in bad]
    return again if {_record_id(t, rootdir) for t in again} == bad else list(tests)


def _run_tests(payload: Json) -> None:
    """The test ids against the documents as the editor has them, ``repeat`` rounds at most."""
    tests, round_no = list(payload["tests"]), 0
    while tests and round_no < int(payload.get("repeat", 1)):
        records = _run_suite(payload, tests, by_file=False)
        for record in records:
            _emit({"test": record | {"round": round_no}})
        tests, round_no = next_round(tests, records, payload["rootdir"]), round_no + 1


def _candidate_child(payload: Json, candidate: Json, out: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        _serve([candidate])
        records = _run_suite(payload, payload["tests"], by_file=False)
        failed = [r["id"] for r in records if r["outcome"] != "passed"]
        result: Json = {"passed": sum(r["outcome"] == "passed" for r in records), "total": len(records), "failed": failed}
    except BaseException as exc:  # a candidate that does not even import fails every test
        result = {"passed": 0, "total": len(payload["tests"]), "failed": list(payload["tests"]),
                  "error": f"{type(exc).__name__}: {exc}"[:300]}  # fmt: skip
    os.write(out, json.dumps(result).encode())
    os._exit(0)


def _preload_pytest() -> None:
    """Import pytest and its plugins before it starts (before a batch's forks: once for all):
    imported by pytest, a plugin's package is assertion-rewritten from source on every run
    (no .pyc in the sandbox); hypothesis's plugin imports all of hypothesis at the end of
    every session: over a second that way, a fifth of it here. Tests are still rewritten."""
    import importlib.metadata

    import pytest  # noqa: F401

    for entry in importlib.metadata.entry_points(group="pytest11"):
        if entry.name in BLOCKED_PLUGINS:  # pytest will not load it: neither may we (randomly imports numpy)
            continue
        try:
            entry.load()
            if entry.module == "_hypothesis_pytestplugin":
                import hypothesis  # noqa: F401
        except Exception:  # a broken plugin fails in the child as it would under pytest
            continue


def _run_candidates(payload: Json) -> None:
    """Each candidate (an edited module text) in a forked child against the same tests,
    several at once (``driver_forks``); the records in candidate order."""
    candidates = payload["candidates"]
    failed = {"passed": 0, "total": len(payload["tests"])}
    answers = driver_forks.fork_each(
        len(candidates), lambda i, out: _candidate_child(payload, candidates[i], out), float(payload["timeout_s"]), failed
    )
    for index, answer in enumerate(answers):
        _emit({"candidate": index, **answer})


def set_up(payload: Json) -> None:
    """What a run sets up before its tests; a warm worker (``driver_worker``) does it once."""
    driver_loading.add_paths(payload)  # the working folder stays the sandbox's own: writable
    if payload["runner"] == "pytest":
        _preload_pytest()


def main(payload: Json, prepared: bool = False) -> None:
    """One run (``prepared``: in a warm worker's child, where ``set_up`` ran already)."""
    global _marker
    _marker = payload["marker"]
    if not prepared:
        driver_loading.add_paths(payload)
    _serve(payload.get("documents", []))  # over what ``set_up`` imported too
    if not prepared and payload["runner"] == "pytest":
        _preload_pytest()
    mode = payload["mode"]
    if mode == "map":
        _run_map(payload)
    elif mode == "run":
        _run_tests(payload)
    else:
        _run_candidates(payload)
    _emit({"done": True})
