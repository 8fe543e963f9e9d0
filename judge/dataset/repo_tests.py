"""Labels from a repository's own tests (``winnow mine --tests``).

Self-supervised labels say "as released = correct, mutated = incorrect"; where a tree has
tests, they can say it instead. Each mined function's candidates replace it in its module
(the module's text with the function's lines swapped, served under the module's own name
so that every import gets it), and the test files that name the function run under pytest
in the sandbox. A function is labelled by its tests only when they pass as released and
call it; then every candidate gets the tests' verdict (``label_source: "tests"``), and a
mutant that passes them is counted: that is the self-supervised label noise of this tree
(or a gap in its tests), measured rather than estimated. Functions without such tests keep
their self-supervised labels.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import secrets
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from winnow.judge.dataset.mining import MinedFunction
from winnow.judge.dataset.records import LabelRecord
from winnow.judge.evidence.drivers import driver_path
from winnow.judge.evidence.module_evidence import driver_source, module_identity, site_dirs
from winnow.judge.evidence.project_tests.project import find_test_files
from winnow.judge.sandbox.limits import SandboxLimits
from winnow.judge.sandbox.results import marked_records
from winnow.judge.sandbox.run import run_python

DRIVER_PATH = driver_path("tests_driver")
MAX_TEST_FILES = 2  # per function: the test files that name it most
DEFAULT_TIMEOUT_S = 60.0
LIMITS = SandboxLimits(memory_mb=4096, nofile=512, nproc=64, output_tail_bytes=200_000, tmpfs_mb=128)


@dataclass
class SuiteIndex:
    """A tree's test files, read once, for finding the ones that name a function."""

    root: Path  # the tree's folder (a single file's folder, when the tree is a file)
    files: list[tuple[Path, str]] = field(default_factory=list)

    @classmethod
    def of(cls, root: str | os.PathLike[str]) -> SuiteIndex:
        base = Path(root).resolve()
        folder = base if base.is_dir() else base.parent
        files = []
        for path in map(Path, find_test_files(str(folder))):
            try:
                files.append((path, path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
        return cls(folder, files)

    def covering(self, fn: MinedFunction, limit: int = MAX_TEST_FILES) -> list[str]:
        """The test files that name ``fn`` and its module, most mentions first."""
        word = re.compile(rf"\b{re.escape(fn.name)}\b")
        module = Path(fn.path).stem
        module_word = re.compile(rf"\b{re.escape(module)}\b") if module != "__init__" else None
        scored = []
        for path, text in self.files:
            hits = len(word.findall(text))
            if hits and (module_word is None or module_word.search(text)):
                scored.append((-hits, str(path)))
        return [p for _, p in sorted(scored)[:limit]]


def module_with(fn: MinedFunction, code: str, text: str) -> tuple[str, int]:
    """The text of ``fn``'s module with ``fn`` replaced by ``code`` (indented as ``fn`` was),
    and the number of lines ``code`` takes there."""
    lines = text.splitlines(keepends=True)
    start = fn.line - 1
    span = len(fn.code.rstrip("\n").splitlines())
    indent = re.match(r"[ \t]*", lines[start]).group(0) if start < len(lines) else ""
    body = textwrap.indent(code.rstrip("\n") + "\n", indent, lambda _line: True)
    replaced = "".join(lines[:start]) + body + "".join(lines[start + span :])
    return replaced, len(body.splitlines())


def first_line(source: str, fn: MinedFunction) -> int:
    """The line a call of ``fn`` reports as its code's first (``co_firstlineno``): its first
    decorator's, when it has any (mined code starts at ``def``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return fn.line
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno == fn.line and node.name == fn.name:
            return min([fn.line, *(d.lineno for d in node.decorator_list)])
    return fn.line


@dataclass(frozen=True)
class SuiteRun:
    status: str  # passed | failed | timeout | error (pytest's verdict on the candidate)
    calls: int  # how often the tests called the function
    exit: int | None  # pytest's exit code (5: no tests collected)
    reason: str = ""


@functools.cache
def _program_head() -> str:
    return driver_source() + "\n" + DRIVER_PATH.read_text(encoding="utf-8")


def suite_runs(
    fn: MinedFunction, codes: Sequence[str], tests: Sequence[str], root: Path, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[SuiteRun]:
    """Run ``tests`` against ``fn``'s module with ``fn`` replaced by each of ``codes``: one
    sandbox process for the batch, a forked child with ``timeout_s`` per candidate. ``root``
    is the tree's folder (pytest's rootdir)."""
    text = Path(fn.path).read_text(encoding="utf-8")
    candidates = []
    for code in codes:
        source, n_lines = module_with(fn, code, text)
        candidates.append({"source": source, "first_line": first_line(source, fn), "last_line": fn.line + n_lines - 1})
    ident = module_identity(fn.path)
    marker = "WINNOW-TESTS-" + secrets.token_hex(8)
    rootdir = str(root)
    # A repository's root goes on sys.path (its tests import its packages from there); a
    # package's own folder never does (numpy/typing would stand in for typing).
    paths = [p for p in [ident.root, *([] if (root / "__init__.py").exists() else [rootdir])] if p]
    payload = {
        "marker": marker, "name": ident.name, "path": fn.path, "is_package": ident.is_package, "sys_path": paths,
        "site_dirs": site_dirs(), "tests": list(tests), "rootdir": rootdir, "function": fn.name,
        "timeout_s": timeout_s, "candidates": candidates,
    }  # fmt: skip
    program = _program_head() + f"\nrun_mined_tests(json.loads({json.dumps(json.dumps(payload))}))\n"
    budget = 30.0 + (timeout_s + 2.0) * len(candidates)
    result = run_python(program, timeout_s=budget, limits=LIMITS, read_only=[rootdir, *paths])
    records = {int(r.get("index", -1)): r for r in marked_records(result.stdout_tail, marker)}
    runs = []
    for i in range(len(candidates)):
        record = records.get(i)
        if record is None:  # the batch died before this one: the sandbox's own verdict
            runs.append(SuiteRun("timeout" if result.status == "timeout" else "error", 0, None, result.reason))
        elif record.get("timeout"):
            runs.append(SuiteRun("timeout", int(record.get("calls", 0)), None, f"over {timeout_s:g} s"))
        elif record.get("exit") is None:
            runs.append(SuiteRun("error", int(record.get("calls", 0)), None, str(record.get("error", ""))))
        else:
            status = "passed" if record["exit"] == 0 else "failed"
            runs.append(SuiteRun(status, int(record["calls"]), int(record["exit"])))
    return runs


def run_suite(fn: MinedFunction, code: str, tests: Sequence[str], root: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> SuiteRun:
    """``suite_runs`` for one candidate."""
    return suite_runs(fn, [code], tests, root, timeout_s)[0]


def label_by_tests(
    fn: MinedFunction, records: list[LabelRecord], index: SuiteIndex, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[list[LabelRecord], str]:
    """``records`` (``fn``'s candidates) labelled by the tests that name ``fn``, and what
    happened: ``labelled``, ``no tests`` (none name it), ``not called`` (they pass without
    calling it) or ``fails as released``. Records not labelled keep their labels."""
    tests = index.covering(fn)
    if not tests:
        return records, "no tests"
    canonical = next((r for r in records if r.get("origin") == "canonical"), None)
    if canonical is None:
        return records, "no tests"
    base = run_suite(fn, canonical["code"], tests, index.root, timeout_s)
    if base.status != "passed":
        return records, "fails as released"
    if base.calls == 0:
        return records, "not called"
    rel = [os.path.relpath(t, index.root) for t in tests]
    others = [r for r in records if r is not canonical]
    verdicts = dict(zip(map(id, others), suite_runs(fn, [r["code"] for r in others], tests, index.root, timeout_s), strict=True))
    out: list[LabelRecord] = []
    for r in records:
        run = base if r is canonical else verdicts[id(r)]
        out.append({**r, "status": run.status, "label_source": "tests", "self_supervised_status": r["status"],
                    "tests": rel, "test_calls": run.calls})  # fmt: skip
    return out, "labelled"


class NoiseSummary(TypedDict):
    """How ``winnow mine --tests`` went: functions per outcome of ``label_by_tests``, and per
    origin the statuses the tests gave."""

    functions: dict[str, int]
    labelled_by_origin: dict[str, dict[str, int]]


def noise_summary(records: Sequence[LabelRecord], outcomes: Counter[str]) -> NoiseSummary:
    """What the tests said about the self-supervised labels: per origin, how often they agree."""
    by_origin: dict[str, Counter[str]] = {}
    for r in records:
        if r.get("label_source") == "tests":
            by_origin.setdefault(r.get("origin") or "?", Counter())[r["status"]] += 1
    return {"functions": dict(outcomes), "labelled_by_origin": {k: dict(v) for k, v in sorted(by_origin.items())}}
