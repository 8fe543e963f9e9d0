"""Run a Java method's Javadoc examples in the sandbox with the JDK, compared by value.

The file as the editor has it (its ``package`` line blanked) gets a probe class nested in its
top-level class, so private and package-private methods can be called; the probe evaluates
each example's call and expected value, compares them by value (numbers across boxed types,
arrays and collections by content) and prints one record per example. Many versions of the
same file (the candidates of a best-of-N) compile together in one ``javac`` and run in one JVM,
each under its own renamed top-level classes. A file that does not compile alone is no
evidence, never a failure; a candidate that does not compile where the original did is.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from winnow.judge.base import grammars
from winnow.judge.evidence.example_runs import (
    REPR_LIMIT,
    ExampleRecord,
    ExampleResults,
    ExampleSignal,
    collect_results,
)
from winnow.judge.evidence.examples import Example
from winnow.judge.evidence.java.examples import find_java_examples
from winnow.judge.evidence.module_evidence import ExampleCheck, FunctionEvidence, ModuleEvidence
from winnow.judge.sandbox.run import JAVA_LIMITS, RunResult, SandboxLimits, run_java
from winnow.judge.sites import FunctionSite, function_code, functions, replace_function

if TYPE_CHECKING:
    from tree_sitter import Tree

#: Per-example time budget in the JVM; the whole run has its own timeout.
EXAMPLE_TIMEOUT_MS = 2000
RUN_TIMEOUT_S = 40.0
_TOP_TYPES = ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration")
_COMPILE_ERROR = re.compile(r"^(?P<file>[\w$]+)\.java:\d+: error:", re.MULTILINE)

#: The probe's helpers: a timed call, comparison by value, a short printable form.
_PROBE_HELPERS = r"""
    static final class WinnowBox { Object value; Throwable error; boolean done; }
    static void winnowCheck(int k, int j, java.util.concurrent.Callable<Object> got,
            java.util.concurrent.Callable<Object> want) {
        WinnowBox box = new WinnowBox();
        Thread t = new Thread(() -> {
            try { box.value = got.call(); } catch (Throwable e) { box.error = e; }
            box.done = true;
        });
        t.setDaemon(true);
        t.start();
        try { t.join(%(timeout)d); } catch (InterruptedException e) { }
        if (!box.done) { winnowEmit(k, j, "timeout", "ran past %(timeout)d ms"); return; }
        if (box.error != null) {
            Throwable e = box.error;
            winnowEmit(k, j, "error", e.getClass().getName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
            return;
        }
        Object w;
        try { w = want.call(); } catch (Throwable e) { winnowEmit(k, j, "bad-example", String.valueOf(e)); return; }
        winnowEmit(k, j, winnowSame(box.value, w) ? "passed" : "failed", winnowShow(box.value));
    }
    static boolean winnowIntegral(Object o) {
        return o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte;
    }
    static boolean winnowSame(Object a, Object b) {
        if (a instanceof Number && b instanceof Number) {
            if (winnowIntegral(a) && winnowIntegral(b)) return ((Number) a).longValue() == ((Number) b).longValue();
            double x = ((Number) a).doubleValue(), y = ((Number) b).doubleValue();
            return x == y || Math.abs(x - y) <= 1e-9 * Math.max(1.0, Math.max(Math.abs(x), Math.abs(y)));
        }
        if (a instanceof Character && b instanceof String) return a.toString().equals(b);
        return java.util.Objects.deepEquals(a, b);
    }
    static String winnowShow(Object o) {
        String s;
        if (o == null) s = "null";
        else if (o instanceof String) s = "\"" + o + "\"";
        else if (o instanceof Character) s = "'" + o + "'";
        else if (o.getClass().isArray()) {
            String d = java.util.Arrays.deepToString(new Object[] {o});
            s = d.substring(1, d.length() - 1);
        } else s = String.valueOf(o);
        s = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t");
        return s.length() > %(limit)d ? s.substring(0, %(limit)d) + "..." : s;
    }
    static void winnowEmit(int k, int j, String status, String got) {
        System.out.println("%(marker)s\t" + k + "\t" + j + "\t" + status + "\t" + winnowShow(got).replaceAll("^\"|\"$", ""));
    }
"""


NO_JDK = "no JDK here (javac and java on PATH): Javadoc examples cannot run; install a headless JDK"


def jdk_available() -> bool:
    """Whether Javadoc examples can run on this machine."""
    return shutil.which("javac") is not None and shutil.which("java") is not None


@dataclass(frozen=True)
class JavaExampleTarget:
    """The method the examples call and how the probe reaches it."""

    site: FunctionSite
    examples: tuple[Example, ...]
    receiver: str | None  # "" static in the top-level class, "Inner." static nested, "new C()." instance


def parameter_count(site: FunctionSite) -> int:
    """How many parameters the signature declares (for reading prose examples)."""
    sig = site.header[site.header.rfind(site.name + "(") :] if site.name + "(" in site.header else ""
    inner = sig[len(site.name) + 1 : sig.rfind(")")].strip()
    if not inner:
        return 0
    depth, count = 0, 1
    for ch in inner:
        depth += ch in "<([" and 1 or (ch in ">)]" and -1 or 0)
        count += ch == "," and depth == 0
    return count


def target_of(source: str, site: FunctionSite) -> JavaExampleTarget | None:
    """The examples of ``site`` and the probe's way to call it, or None when it has no
    by-value examples or cannot be called from a probe (an inner class's instance method,
    a class without a no-argument constructor)."""
    examples = tuple(find_java_examples(site.docstring, site.name, parameter_count(site)))
    if not examples or _is_constructor(site):
        return None
    classes = site.qualname.split(".")[:-1]
    if not classes:
        return None
    nested = ".".join(classes[1:])
    signature = site.header[site.header.rfind("\n", 0, site.header.rfind(site.name + "(")) + 1 :]
    if re.search(r"\bstatic\b", signature):
        return JavaExampleTarget(site, examples, nested + "." if nested else "")
    if not _constructible(source, classes):
        return None
    return JavaExampleTarget(site, examples, f"new {'.'.join(classes[1:] or classes[:1])}().")


def _is_constructor(site: FunctionSite) -> bool:
    return site.qualname.split(".")[-2:-1] == [site.name]


def _constructible(source: str, classes: list[str]) -> bool:
    """A class the probe can ``new`` with no arguments: concrete, static if nested, and
    declaring either no constructor or one without parameters."""
    ctors = [s for s in functions(source, "java") if s.qualname == ".".join(classes + [classes[-1]])]
    if ctors and not any(parameter_count(c) == 0 and "private" not in c.header.split("(")[0] for c in ctors):
        return False
    decl = re.search(rf"((?:\w+\s+)*)(?:class)\s+{re.escape(classes[-1])}\b", source)
    if decl is None or "abstract" in decl.group(1):
        return False
    return len(classes) == 1 or "static" in decl.group(1)


def _top_level_names(tree: Tree) -> list[str]:
    out = []
    for node in tree.root_node.named_children:
        if node.type in _TOP_TYPES:
            name = node.child_by_field_name("name")
            if name is not None:
                out.append(name.text.decode("utf-8", "replace"))
    return out


def _renamed(source: str, names: Sequence[str], suffix: str) -> str:
    """``source`` with every identifier naming one of its top-level types renamed."""
    data = source.encode("utf-8")
    tree = grammars.parser("java").parse(data)
    wanted = {n.encode() for n in names}
    spans: list[tuple[int, int]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "type_identifier") and node.text in wanted:
            spans.append((node.start_byte, node.end_byte))
        stack.extend(node.children)
    for _start, end in sorted(spans, reverse=True):
        data = data[:end] + suffix.encode() + data[end:]
    return data.decode("utf-8", "replace")


def _without_package(source: str) -> str:
    return re.sub(r"^\s*package\s+[\w.]+\s*;", lambda m: " " * len(m.group(0)), source, count=1, flags=re.MULTILINE)


def _rewrite_call(call: str, target: JavaExampleTarget, top: str, names: Sequence[str], suffix: str) -> str:
    """The example's call as the probe writes it: qualified where written bare, top-level
    types renamed for this version of the file."""
    for name in names:
        call = re.sub(rf"(?<![\w$.]){re.escape(name)}(?=\s*[.(])", name + suffix, call)
    bare = re.compile(rf"(?<![\w$.]){re.escape(target.site.name)}\s*\(")
    receiver = target.receiver or ""
    if receiver.startswith("new "):
        receiver = "new " + (receiver[4:] if "." in receiver[4:-3] else receiver[4:].replace(top, top + suffix, 1))
    return bare.sub(lambda m: receiver + m.group(0), call)


def _probe(
    k: int, targets: Sequence[JavaExampleTarget], suffix: str, names: Sequence[str], marker: str
) -> str:
    """The probe class of version ``k``, nested in its top-level class: every example of
    ``targets``, numbered in order across them."""
    lines = ["    static final class WinnowProbe {"]
    lines.append(_PROBE_HELPERS % {"timeout": EXAMPLE_TIMEOUT_MS, "limit": REPR_LIMIT, "marker": marker})
    lines.append("        public static void main(String[] args) {")
    j = 0
    for target in targets:
        top = target.site.qualname.split(".")[0]
        for ex in target.examples:
            call = _rewrite_call(ex.call, target, top, names, suffix)
            want = _rewrite_call(ex.expected or "null", target, top, names, suffix)
            lines.append(f"            winnowCheck({k}, {j}, () -> (Object) ({call}), () -> (Object) ({want}));")
            j += 1
    lines += ["        }", "    }"]
    return "\n".join(lines) + "\n"


def _with_probe(source: str, top: str, probe: str) -> str | None:
    """``source`` with ``probe`` inserted before the closing brace of its top-level type ``top``."""
    data = source.encode("utf-8")
    tree = grammars.parser("java").parse(data)
    for node in tree.root_node.named_children:
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if node.type in _TOP_TYPES and name is not None and body is not None and name.text == top.encode():
            at = body.end_byte - 1
            return (data[:at] + b"\n" + probe.encode() + data[at:]).decode("utf-8", "replace")
    return None


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
    base, site, names = _prepared(source, site)
    versions = [base] + [replace_function(base, site, code) for code in candidates]
    marker = "WINNOW-EX-" + secrets.token_hex(8)
    files: dict[int, tuple[str, str]] = {}
    for k, text in enumerate(versions):
        suffix = f"__w{k}"
        probed = _with_probe(_renamed(text, names, suffix), top + suffix, _probe(k, [target], suffix, names, marker))
        if probed is not None:
            files[k] = (f"{top}{suffix}", probed)
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


def _prepared(source: str, site: FunctionSite) -> tuple[str, FunctionSite, list[str]]:
    """The file as the probe compiles it (``package`` blanked, stubs thrown), ``site`` in it,
    and its top-level type names (renamed per version)."""
    base, site = _stubs_thrown(_without_package(source), site)
    return base, site, _top_level_names(grammars.parser("java").parse(base.encode("utf-8")))


def _stubs_thrown(source: str, site: FunctionSite) -> tuple[str, FunctionSite]:
    """``source`` with every stub's body a ``throw`` (``int f() {}`` does not compile; the
    stub means "not written yet"), and ``site`` found again in it."""
    stubs = sorted((s for s in functions(source, "java") if s.is_stub), key=lambda s: -s.start_line)
    if not stubs:
        return source, site
    for stub in stubs:
        body = " " * (stub.indent + 4) + "throw new UnsupportedOperationException();\n"
        source = replace_function(source, stub, function_code(stub, body))
    again = [s for s in functions(source, "java") if s.qualname == site.qualname and s.header == site.header]
    return source, (again[0] if again else site)


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


def _parse(stdout: str, marker: str) -> dict[int, dict[int, dict[str, str]]]:
    """Records by version, then by example number (a version that stopped early has fewer)."""
    out: dict[int, dict[int, dict[str, str]]] = {}
    for line in stdout.splitlines():
        parts = line.split("\t", 4)
        if len(parts) != 5 or parts[0] != marker or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        status = parts[3] if parts[3] in ("passed", "failed", "timeout") else "error"
        if parts[3] == "bad-example":
            status = "error"
        out.setdefault(int(parts[1]), {})[int(parts[2])] = {"status": status, "got": parts[4]}
    return out


def _in_order(records: dict[int, dict[str, str]], start: int, count: int) -> list[dict[str, str]]:
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
    stubbed, _, names = _prepared(source, group[0].site)
    again = {(s.qualname, s.header): s for s in functions(stubbed, "java")}
    group = [
        JavaExampleTarget(again.get((t.site.qualname, t.site.header), t.site), t.examples, t.receiver) for t in group
    ]
    marker = "WINNOW-EX-" + secrets.token_hex(8)
    suffix = "__w0"
    probed = _with_probe(_renamed(stubbed, names, suffix), top + suffix, _probe(0, group, suffix, names, marker))
    if probed is None:
        return {}
    result = _run({0: (top + suffix, probed)}, timeout_s, replace(JAVA_LIMITS, output_tail_bytes=1 << 16))
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
