"""The probe a Java file's Javadoc examples run in: a class nested in its top-level class.

The file as the editor has it (its ``package`` line blanked, stub bodies made a ``throw``)
gets a probe class nested in its top-level class, so private and package-private methods can
be called; the probe evaluates each example's call and expected value, compares them by value
(numbers across boxed types, arrays and collections by content) and prints one record per
example, tab-separated: marker, version, example number, status, value. Several versions of
the same file (a best-of-N's candidates) compile together, each with its top-level types
renamed (``Calc__w1``). ``java.runs`` compiles and runs them and reads the records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from winnow.judge.base import grammars
from winnow.judge.evidence.example_runs import REPR_LIMIT
from winnow.judge.evidence.example_syntax import Example
from winnow.judge.evidence.java.examples import find_java_examples
from winnow.judge.sites import FunctionSite, function_code, functions, replace_function

if TYPE_CHECKING:
    from tree_sitter import Tree

#: Per-example time budget in the JVM; the whole run has its own timeout.
EXAMPLE_TIMEOUT_MS = 2000
_TOP_TYPES = ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration")

#: The probe's helpers: a timed call, comparison by value, a short printable form.
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


def prepared(source: str, site: FunctionSite) -> tuple[str, FunctionSite, list[str]]:
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


def version_class(top: str, k: int) -> str:
    """The name of top-level type ``top`` in version ``k`` of the file (``Calc__w0``)."""
    return f"{top}__w{k}"


def probed(
    source: str, top: str, names: Sequence[str], k: int, targets: Sequence[JavaExampleTarget], marker: str
) -> str | None:
    """Version ``k`` of the prepared ``source``: its top-level types ``names`` renamed, and the
    probe of ``targets``' examples nested in ``top``'s class; None when there is no such class."""
    suffix = version_class("", k)
    return _with_probe(_renamed(source, names, suffix), top + suffix, _probe(k, targets, suffix, names, marker))
