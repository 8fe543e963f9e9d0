"""Run a Java method's Javadoc examples in the sandbox with the JDK, compared by value.

Each version of the file gets a probe (``java.probe``: a class nested in its top-level class
that evaluates every example and prints one record each). Many versions of the same file
(the candidates of a best-of-N) compile together in one ``javac`` and run in one JVM, each
under its own renamed top-level classes; this module runs them, reads the records back into
``ExampleResults`` (the ranking) and ``ModuleEvidence`` (the hints). A file that does not
compile alone is no evidence, never a failure; a candidate that does not compile where the
original did is.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from winnow.judge.evidence.example_runs import ExampleRecord, ExampleResults, ExampleSignal, collect_results
from winnow.judge.evidence.example_syntax import Example
from winnow.judge.evidence.java.probe import JavaExampleTarget, prepared, probed, target_of, version_class
from winnow.judge.evidence.module_evidence import ExampleCheck, FunctionEvidence, ModuleEvidence
from winnow.judge.sandbox.run import JAVA_LIMITS, RunResult, SandboxLimits, run_java
from winnow.judge.sites import FunctionSite, functions, replace_function

if TYPE_CHECKING:
    from winnow.judge.evidence.drivers.example_driver import CaseRecord

RUN_TIMEOUT_S = 40.0
_COMPILE_ERROR = re.compile(r"^(?P<file>[\w$]+)\.java:\d+: error:", re.MULTILINE)


NO_JDK = "no JDK here (javac and java on PATH): Javadoc examples cannot run; install a headless JDK"


def jdk_available() -> bool:
    """Whether Javadoc examples can run on this machine."""
    return shutil.which("javac") is not None and shutil.which("java") is not None


@dataclass(frozen=True)
class JavaExampleRun:
    """The original's results, then each candidate's (same order as given)."""

    original: ExampleResults
    candidates: tuple[ExampleResults, ...]
    seconds: float = 0.0


def _no_evidence(target: JavaExampleTarget | None, status: str, reason: str) -> ExampleResults:
    examples = list(target.examples) if target is not None else []
    if not examples:
        return ExampleResults(0, 0, 0, 0)
    records = tuple(ExampleRecord(e.call, e.expected, f"did not run: {reason}", "error") for e in examples)
    return ExampleResults(len(examples), 0, 0, len(examples), records, status, reason, tuple(examples))


def run_java_examples(
    source: str,
    site: FunctionSite,
    candidates: Sequence[str] = (),
    timeout_s: float = RUN_TIMEOUT_S,
    limits: SandboxLimits | None = None,
) -> JavaExampleRun:
    """Run ``site``'s Javadoc examples on the file as it is and with each candidate (a whole
    method) in its place, in one sandboxed ``javac`` + JVM (twice when a candidate does not
    compile: once to find which, once without them)."""
    target = target_of(source, site)
    if target is None:
        empty = ExampleResults(0, 0, 0, 0)
        return JavaExampleRun(empty, tuple(empty for _ in candidates))
    if not jdk_available():
        return _all(_no_evidence(target, "error", NO_JDK), len(candidates))
    top = site.qualname.split(".")[0]
    base, site, names = prepared(source, site)
    versions = [base] + [replace_function(base, site, code) for code in candidates]
    marker = "WINNOW-EX-" + secrets.token_hex(8)
    files: dict[int, tuple[str, str]] = {}
    for k, text in enumerate(versions):
        version = probed(text, top, names, k, [target], marker)
        if version is not None:
            files[k] = (version_class(top, k), version)
    if 0 not in files:
        return _all(_no_evidence(target, "error", f"no top-level type {top} to call from"), len(candidates))
    limits = limits or replace(JAVA_LIMITS, output_tail_bytes=1 << 16)
    broken: dict[int, str] = {}
    seconds = 0.0
    for _attempt in range(2):
        todo = {k: v for k, v in files.items() if k not in broken}
        result = _run(todo, timeout_s, limits)
        seconds += result.duration_s
        failing = {m.group("file") for m in _COMPILE_ERROR.finditer(result.stderr_tail)}
        if not (result.status == "error" and result.reason.startswith("compile error")):
            break
        if files[0][0] in failing or not failing:
            why = "the file does not compile on its own here (" + result.reason.removeprefix("compile error: ") + ")"
            return _all(_no_evidence(target, "error", why), len(candidates), seconds)
        for k, (cls, _) in todo.items():
            if cls in failing:
                broken[k] = "does not compile: " + _first_error(result.stderr_tail, cls)
    records = _parse(result.stdout_tail, marker)
    out = []
    for k in range(len(versions)):
        if k in broken:
            out.append(_compile_failure(target, broken[k]))
        elif k not in files:
            out.append(_no_evidence(target, "error", "the probe could not be placed"))
        else:
            mine = _in_order(records.get(k, {}), 0, len(target.examples))
            out.append(collect_results(list(target.examples), mine, result.status, result.reason))
    return JavaExampleRun(out[0], tuple(out[1:]), seconds)


def _all(results: ExampleResults, n: int, seconds: float = 0.0) -> JavaExampleRun:
    return JavaExampleRun(results, tuple(results for _ in range(n)), seconds)


def _run(files: dict[int, tuple[str, str]], timeout_s: float, limits: SandboxLimits) -> RunResult:
    calls = "".join(f"        {cls}.WinnowProbe.main(args);\n" for cls, _ in files.values())
    runner = "public class WinnowAll {\n    public static void main(String[] args) {\n" + calls + "    }\n}\n"
    sources = {f"{cls}.java": text for cls, text in files.values()}
    sources["WinnowAll.java"] = runner
    return run_java(sources, "WinnowAll", timeout_s=timeout_s, limits=limits)


def _first_error(stderr: str, cls: str) -> str:
    line = next((ln for ln in stderr.splitlines() if ln.startswith(f"{cls}.java:") and "error:" in ln), "")
    return line.split("error:", 1)[-1].strip()[:120] or "javac failed"


def _compile_failure(target: JavaExampleTarget, why: str) -> ExampleResults:
    """A candidate that does not compile where the original did: every example fails."""
    examples = list(target.examples)
    records = tuple(ExampleRecord(e.call, e.expected, why, "failed") for e in examples)
    return ExampleResults(len(examples), 0, len(examples), 0, records, "failed", why, tuple(examples))


def _parse(stdout: str, marker: str) -> dict[int, dict[int, CaseRecord]]:
    """Records by version, then by example number (a version that stopped early has fewer)."""
    out: dict[int, dict[int, CaseRecord]] = {}
    for line in stdout.splitlines():
        parts = line.split("\t", 4)
        if len(parts) != 5 or parts[0] != marker or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        status = parts[3] if parts[3] in ("passed", "failed", "timeout") else "error"
        if parts[3] == "bad-example":
            status = "error"
        out.setdefault(int(parts[1]), {})[int(parts[2])] = {"status": status, "got": parts[4]}
    return out


def _in_order(records: dict[int, CaseRecord], start: int, count: int) -> list[CaseRecord]:
    """Examples ``start`` … ``start + count - 1`` as collect_results reads them: in order, up to
    the first that never reported (the run stopped there)."""
    out = []
    for j in range(start, start + count):
        if j not in records:
            break
        out.append(records[j])
    return out


def _check(record: ExampleRecord, example: Example) -> ExampleCheck:
    """One example's record as the hints read it (the same outcomes as Python's sessions)."""
    outcome = {"passed": "passed", "failed": "value", "timeout": "timeout"}.get(record.status, "raised")
    got = record.got or ""
    exception = got.split(":", 1)[0].rsplit(".", 1)[-1] if outcome == "raised" else None
    if outcome == "raised" and got.startswith("did not run"):
        outcome = "session-error"  # the run itself failed: nothing about the method
    return ExampleCheck(record.call, record.expected or "", got, example.line, outcome, exception)


def java_evidence(source: str, sites: Sequence[FunctionSite], timeout_s: float = RUN_TIMEOUT_S) -> ModuleEvidence:
    """What each Javadoc example of ``sites`` did on the file as it is: the evidence hints
    read, keyed by qualname. All of a class's examples run in one ``javac`` + JVM; when that
    does not compile, each method's alone, so one example that does not compile costs only
    its method. A file that does not compile alone is ``failed`` (no evidence)."""
    t0 = time.perf_counter()
    out = {s.qualname: FunctionEvidence(s.qualname) for s in sites}
    targets = [t for t in (target_of(source, s) for s in sites) if t is not None]
    if not targets:
        return ModuleEvidence("loaded", out, "", time.perf_counter() - t0)
    if not jdk_available():
        return ModuleEvidence("failed", {}, NO_JDK, time.perf_counter() - t0)
    together = _together(source, targets, timeout_s)
    for target in targets:
        run = together.get(target.site.qualname)
        if run is None:
            run = run_java_examples(source, target.site, timeout_s=timeout_s).original
        if run.status == "error" and run.reason.startswith("the file does not compile"):
            return ModuleEvidence("failed", {}, run.reason, time.perf_counter() - t0)
        checks = tuple(
            _check(r, e) for r, e in zip(run.records, target.examples, strict=False) if not _on_purpose(r, target.site)
        )
        out[target.site.qualname] = FunctionEvidence(target.site.qualname, checks)
    return ModuleEvidence("loaded", out, "", time.perf_counter() - t0)


def _together(source: str, targets: Sequence[JavaExampleTarget], timeout_s: float) -> dict[str, ExampleResults]:
    """Every target of the first top-level class in one run; {} when it does not compile."""
    top = targets[0].site.qualname.split(".")[0]
    group = [t for t in targets if t.site.qualname.split(".")[0] == top]
    stubbed, _, names = prepared(source, group[0].site)
    again = {(s.qualname, s.header): s for s in functions(stubbed, "java")}
    group = [
        JavaExampleTarget(again.get((t.site.qualname, t.site.header), t.site), t.examples, t.receiver) for t in group
    ]
    marker = "WINNOW-EX-" + secrets.token_hex(8)
    version = probed(stubbed, top, names, 0, group, marker)
    if version is None:
        return {}
    result = _run({0: (version_class(top, 0), version)}, timeout_s, replace(JAVA_LIMITS, output_tail_bytes=1 << 16))
    if result.status == "error" and result.reason.startswith("compile error"):
        return {}
    records = _parse(result.stdout_tail, marker).get(0, {})
    out: dict[str, ExampleResults] = {}
    at = 0
    for t in group:
        mine = _in_order(records, at, len(t.examples))
        at += len(t.examples)
        out[t.site.qualname] = collect_results(list(t.examples), mine, result.status, result.reason)
    return out


def _on_purpose(record: ExampleRecord, site: FunctionSite) -> bool:
    """An exception the Javadoc names (``@throws X``): the example shows it on purpose."""
    if record.status != "error" or not record.got:
        return False
    name = record.got.split(":", 1)[0].rsplit(".", 1)[-1]
    return bool(site.docstring) and re.search(rf"@(?:throws|exception)\s+(?:[\w.]*\.)?{re.escape(name)}\b",
                                               site.docstring or "") is not None


class JavaExamplesRunner:
    """The ranking's examples runner for a Java problem's candidates (whole classes): the
    Javadoc examples of method ``name`` in each, run on it (one ``javac`` + JVM each)."""

    def __init__(self, name: str, timeout_s: float = RUN_TIMEOUT_S) -> None:
        self.name = name
        self.timeout_s = timeout_s

    def __call__(self, code: str, task: str) -> ExampleSignal:
        sites = [s for s in functions(code, "java") if s.name == self.name]
        if not sites:
            return ExampleSignal(reason=f"no method {self.name} in the candidate")
        return run_java_examples(code, sites[-1], timeout_s=self.timeout_s).original.as_signal()
