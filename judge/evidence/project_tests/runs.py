"""Running a project's tests in the sandbox: the coverage map of a module, the tests that
reach an edit, and a best-of-N batch against the user's tests.

Every run is one sandboxed process (``drivers/project_tests_driver``) on the project's
folders and installed packages, read-only; a module open in the editor is served to every
import of it as the editor has it (saved or not). A test whose environment is missing
something (an import the sandbox cannot satisfy, a fixture that wants the network or a
file it may not write) says so in its outcome: that is no evidence about the code.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from winnow.judge.evidence.drivers import driver_path
from winnow.judge.evidence.drivers.project_tests_driver import dotted_test_module
from winnow.judge.evidence.module_evidence import module_identity, site_dirs
from winnow.judge.evidence.project_tests.project import ProjectSuite
from winnow.judge.evidence.project_tests.warm import warm_output, worker_program
from winnow.judge.sandbox.limits import SandboxLimits
from winnow.judge.sandbox.results import marked_records
from winnow.judge.sandbox.run import module_prelude, run_python
from winnow.judge.sites import FunctionSite

#: A JSON record a driver prints.
Record = dict[str, Any]
TEST_RUN_LIMITS = SandboxLimits(memory_mb=4096, nofile=512, nproc=128, output_tail_bytes=8_000_000, tmpfs_mb=256)


@dataclass(frozen=True)
class CaseOutcome:
    """What one test did in one round: ``passed`` | ``failed`` | ``error`` | ``skipped``, the
    first line of what it raised, where in the test file, and whether the environment is to
    blame (an import, the network, a read-only file)."""

    id: str
    outcome: str
    message: str = ""
    file: str = ""
    line: int = 0
    frames: tuple[str, ...] = ()
    environment: bool = False
    round: int = 0

    @classmethod
    def from_record(cls, record: Record) -> CaseOutcome:
        return cls(
            str(record["id"]), str(record["outcome"]), str(record.get("message", "")), str(record.get("file", "")),
            int(record.get("line", 0) or 0), tuple(record.get("frames", ())), bool(record.get("environment")),
            int(record.get("round", 0)),
        )  # fmt: skip


@dataclass(frozen=True)
class Document:
    """A module as the editor has it, served to every import of it."""

    path: str
    source: str

    def payload(self) -> Record:
        ident = module_identity(self.path)
        return {"name": ident.name, "path": self.path, "source": self.source, "is_package": ident.is_package}


@dataclass
class ModuleTests:
    """Which tests of the project run each function of one module (its coverage map, by
    qualified name, so that edits moving lines do not move it), and what each test did on the
    text it was mapped on."""

    module_path: str
    by_function: dict[str, list[str]]  # qualname → the tests that ran a line of its body
    outcomes: dict[str, str]  # test id → its outcome when mapped
    files: list[str]  # the test files mapped
    seconds: float = 0.0
    fingerprint: str = ""
    error: str = ""

    def to_dict(self) -> Record:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Record) -> ModuleTests:
        return cls(
            str(data["module_path"]), {k: list(v) for k, v in data["by_function"].items()}, dict(data["outcomes"]),
            list(data["files"]), float(data.get("seconds", 0.0)), str(data.get("fingerprint", "")),
            str(data.get("error", "")),
        )  # fmt: skip


@dataclass
class CandidateTests:
    """How one candidate of a batch fared on the user's tests."""

    passed: int = 0
    total: int = 0
    failed: list[str] = field(default_factory=list)
    timeout: bool = False
    error: str = ""


_PARTS = ("driver_loading", "driver_forks", "driver_outcomes")


def _preludes(parts: Sequence[str]) -> str:
    return "".join(module_prelude(part, driver_path(part)) for part in parts)


def _program() -> str:
    return _preludes(_PARTS) + driver_path("project_tests_driver").read_text(encoding="utf-8")


def _worker_program(config: Record) -> str:
    return worker_program(_preludes((*_PARTS, "driver_worker", "driver_rewrites", "project_tests_driver")), config)


def _visible(project: ProjectSuite, payload: Record) -> list[str]:
    """The folders a run reads: the project, its import folders, the installed packages."""
    return [project.root, *payload["sys_path"], *payload["site_dirs"]]


def _payload(project: ProjectSuite, mode: str, tests: Sequence[str], documents: Sequence[Document]) -> Record:
    return {
        "marker": "WINNOW-TESTS-" + secrets.token_hex(8), "mode": mode, "runner": project.runner,
        "rootdir": project.root, "tests": list(tests), "sys_path": list(project.sys_path) + _test_roots(project),
        "site_dirs": site_dirs(), "documents": [d.payload() for d in documents],
    }  # fmt: skip


def _test_roots(project: ProjectSuite) -> list[str]:
    """For unittest's dotted ids: the folders above the test files' packages (one per folder
    that holds test files)."""
    if project.runner != "unittest":
        return []
    folders = {str(Path(f).parent) for f in project.test_files}
    roots = {dotted_test_module(str(Path(folder) / "test_x.py"))[1] for folder in folders}
    return sorted(roots - set(project.sys_path))


def _run(project: ProjectSuite, payload: Record, timeout_s: float, warm: bool = False) -> tuple[list[Record], str]:
    """A run's records, and why it did not finish ("" when it did). ``warm``: in the project's
    warm worker where one can run (``warm``), else in a fresh sandbox."""
    visible = _visible(project, payload)
    found = warm_output(payload, _worker_program, TEST_RUN_LIMITS, visible, timeout_s) if warm else None
    if found is not None:
        output, reason = found[0], f"timed out after {timeout_s:.0f} s" if found[1] else ""
    else:
        program = _program() + f"\nmain(json.loads({json.dumps(json.dumps(payload))}))\n"
        program = "import json\n" + program
        result = run_python(program, timeout_s=timeout_s, limits=TEST_RUN_LIMITS, read_only=visible)
        output, reason = result.stdout_tail, result.reason
    records = list(marked_records(output, payload["marker"]))
    complete = any(r.get("done") for r in records)
    return records, "" if complete else (reason or "the test run did not finish")


def map_module(project: ProjectSuite, module_path: str, sites: Sequence[FunctionSite], files: Sequence[str],
               timeout_s: float = 120.0) -> ModuleTests:  # fmt: skip
    """Run ``files`` under coverage: which of their tests run a line of each of ``sites``'
    bodies (the functions of ``module_path`` as it is on disk; the def line and docstring
    run at import, so they say nothing)."""
    t0 = time.perf_counter()
    payload = _payload(project, "map", files, [])
    payload["measure"] = [module_path, str(Path(module_path).resolve())]
    records, error = _run(project, payload, timeout_s)
    outcomes = {r["test"]["id"]: r["test"]["outcome"] for r in records if "test" in r}
    found = next((r for r in records if "lines" in r), None)
    lines = {int(k): v for k, v in (found["lines"].get(str(Path(module_path).resolve()), {}) if found else {}).items()}
    ids = list(found["ids"]) if found else []
    by_function: dict[str, list[str]] = {}
    for site in sites:
        hit: set[int] = set()
        for line in range(site.header_end_line + 1, site.end_line + 1):  # the body, 1-based
            hit.update(lines.get(line, ()))
        if hit:
            by_function[site.qualname] = [ids[i] for i in sorted(hit)]
    return ModuleTests(module_path, by_function, outcomes, list(files), time.perf_counter() - t0, error=error)


def run_tests(project: ProjectSuite, ids: Sequence[str], documents: Sequence[Document], repeat: int = 2,
              timeout_s: float = 30.0, warm: bool = True) -> tuple[list[CaseOutcome], str]:  # fmt: skip
    """``ids`` run against ``documents`` as the editor has them, in up to ``repeat`` rounds
    (after the first, only the tests that failed run again): every round's outcomes, and why
    the run did not finish ("" when it did). ``warm``: a pytest suite's run goes to the
    project's warm worker, where one can run (``project_tests.warm``); unittest's start in
    a fresh sandbox costs little, and stays there."""
    payload = _payload(project, "run", [_runnable(project, i) for i in ids], documents) | {"repeat": repeat}
    records, error = _run(project, payload, timeout_s, warm and project.runner == "pytest")
    return [CaseOutcome.from_record(r["test"]) for r in records if "test" in r], error


def warm_up(project: ProjectSuite) -> bool:
    """Start a pytest project's warm worker before the first edit needs it (pytest and its
    plugins loaded): whether one runs (none where runs are cold)."""
    if project.runner != "pytest":
        return False
    payload = _payload(project, "run", [], [])
    return warm_output(payload, _worker_program, TEST_RUN_LIMITS, _visible(project, payload), 30.0) is not None


def run_candidates(project: ProjectSuite, ids: Sequence[str], candidates: Sequence[Document],
                   timeout_s: float = 10.0, total_s: float = 60.0) -> list[CandidateTests]:  # fmt: skip
    """Each candidate (the module with one body in place) against the same tests, one forked
    child each: how many it passes."""
    payload = _payload(project, "candidates", [_runnable(project, i) for i in ids], []) | {
        "candidates": [c.payload() for c in candidates], "timeout_s": timeout_s,
    }  # fmt: skip
    records, _error = _run(project, payload, total_s, warm=project.runner == "pytest")
    out = [CandidateTests(total=len(ids), failed=list(ids), error="did not run") for _ in candidates]
    for r in records:
        if "candidate" in r:
            out[int(r["candidate"])] = CandidateTests(int(r.get("passed", 0)), int(r.get("total", len(ids))),
                                                      list(r.get("failed", [])), bool(r.get("timeout")),
                                                      str(r.get("error", "")))  # fmt: skip
    return out


def _runnable(project: ProjectSuite, case_id: str) -> str:
    """A test id as the runner takes it: pytest's node ids from the root; unittest's dotted."""
    if project.runner == "pytest" and not case_id.startswith("/"):
        return str(Path(project.root) / case_id)
    return case_id
