"""Finding Python functions in source text: which to implement, which to judge.

Works on files that do not parse as a whole (a user mid-edit): the source is cut
before the first syntax error and parsed again.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
from dataclasses import dataclass, replace

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def source_lines(text: str) -> list[str]:
    """``text``'s lines with their ends, split where Python (and an editor) split them: at
    ``\\n``, ``\\r\\n`` and ``\\r`` only. ``str.splitlines`` also splits at form feeds and
    other separators that old sources carry (``^L`` page breaks), which shifts every line
    number after one against ``ast``'s."""
    return _LINE.findall(text)


@dataclass(frozen=True)
class FunctionSite:
    """A function in a file (lines are 0-based, end exclusive)."""

    name: str
    start_line: int  # first line of the def (decorators excluded)
    header_end_line: int  # line after the signature + docstring
    end_line: int  # line after the last line of the function
    indent: int  # columns before ``def``
    docstring: str | None
    is_stub: bool  # body is empty, pass, ..., or raise NotImplementedError
    header: str  # signature + docstring, as written
    code: str  # the whole function, as written
    qualname: str = ""  # ``Class.method``; ``outer.<locals>.inner`` for a nested function
    docstring_line: int | None = None  # 0-based line where the docstring literal starts
    language: str = "python"
    #: What follows the body and stays when it is replaced (Java: the closing brace's line).
    footer: str = ""
    #: The declaration lines of the classes around it (Java: ``public class Solution {``),
    #: which the judge's task starts with; "" for Python, whose tasks are bare functions.
    outer: str = ""
    #: The line of the function's name (Java: after its Javadoc and annotations); -1: start_line.
    name_line: int = -1

    @property
    def def_line(self) -> int:
        """Where the function's name is: the line a hint and a hover belong to."""
        return self.start_line if self.name_line < 0 else self.name_line

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()[:16]

    def shifted(self, lines: int) -> FunctionSite:
        """The same function ``lines`` lines further down (up, when negative): its site in
        a larger or smaller window of the same text."""
        if not lines:
            return self
        return replace(
            self,
            start_line=self.start_line + lines,
            header_end_line=self.header_end_line + lines,
            end_line=self.end_line + lines,
            docstring_line=None if self.docstring_line is None else self.docstring_line + lines,
            name_line=self.name_line + lines if self.name_line >= 0 else -1,
        )


def _is_stub_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis:
        return True
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _parse_tolerant(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        bad = (exc.lineno or 1) - 1
    except ValueError:  # null bytes
        return None
    lines = source_lines(source)
    # A stub with a docstring as its only statement is valid; a def with nothing after
    # it is not: give the last def a body so the header can still be found.
    for cut in (bad, bad - 1):
        if cut <= 0:
            continue
        head = "".join(lines[:cut])
        for extra in ("", "\n    pass\n"):
            try:
                return ast.parse(head + extra)
            except (SyntaxError, ValueError):
                continue
    return None


def functions(source: str) -> list[FunctionSite]:
    """Every function and method, in source order."""
    tree = _parse_tolerant(source)
    if tree is None:
        return []
    lines = source_lines(source)
    sites: list[FunctionSite] = []
    qualnames = _qualnames(tree)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        doc = ast.get_docstring(node, clean=True)
        rest = body[1:] if doc is not None else body
        is_stub = all(_is_stub_statement(s) for s in rest)
        if doc is not None:
            header_end = body[0].end_lineno or body[0].lineno
        else:
            header_end = body[0].lineno - 1 if body else node.lineno
            if body and body[0].lineno == node.lineno:  # def f(): pass on one line
                header_end = node.lineno
        start = node.lineno - 1
        end = min(node.end_lineno or node.lineno, len(lines))
        line0 = lines[start] if start < len(lines) else ""
        indent = len(line0) - len(line0.lstrip(" \t"))
        sites.append(
            FunctionSite(
                name=node.name,
                start_line=start,
                header_end_line=header_end,
                end_line=end,
                indent=indent,
                docstring=doc,
                is_stub=is_stub,
                header="".join(lines[start:header_end]),
                code="".join(lines[start:end]),
                qualname=qualnames.get(node, node.name),
                docstring_line=body[0].lineno - 1 if doc is not None else None,
            )
        )
    sites.sort(key=lambda s: s.start_line)
    return sites


def _qualnames(tree: ast.AST) -> dict[ast.AST, str]:
    """Python's ``__qualname__`` of every function and class, by node."""
    out: dict[ast.AST, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                out[child] = name
                inner = name + (".<locals>." if not isinstance(child, ast.ClassDef) else ".")
                visit(child, inner)
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def function_at(source: str, line: int | None = None, stubs_only: bool = False) -> FunctionSite | None:
    """The function containing ``line`` (0-based), else the first one starting after it;
    without a line, the first stub with a docstring (or the first function)."""
    sites = [s for s in functions(source) if not stubs_only or s.is_stub]
    if not sites:
        return None
    if line is None:
        documented = [s for s in sites if s.is_stub and s.docstring]
        return (documented or sites)[0]
    containing = [s for s in sites if s.start_line <= line < s.end_line]
    if containing:
        return max(containing, key=lambda s: s.start_line)  # innermost
    after = [s for s in sites if s.start_line >= line]
    return after[0] if after else None


def replace_body(source: str, site: FunctionSite, body: str) -> str:
    """The source with ``site``'s body (after its header) replaced by ``body``."""
    lines = source_lines(source)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new_body = body if body.endswith("\n") else body + "\n"
    return "".join(lines[: site.header_end_line]) + new_body + "".join(lines[site.end_line :])


_TOP_LEVEL_DEF = re.compile(r"^(?:async\s+def|def|class|@)\b", re.MULTILINE)


def module_imports(source: str) -> list[tuple[frozenset[str], str]]:
    """The module's top-level imports before its first def/class, each with the names it
    binds. Only the head of the file is parsed, so this stays cheap on large files."""
    first = _TOP_LEVEL_DEF.search(source)
    head = source[: first.start()] if first else source
    tree = _parse_tolerant(head)
    if tree is None:
        return []
    lines = source_lines(head)
    out: list[tuple[frozenset[str], str]] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = frozenset((a.asname or a.name).split(".")[0] for a in node.names)
            text = "".join(lines[node.lineno - 1 : node.end_lineno or node.lineno]).rstrip("\n")
            out.append((names, text + "\n"))
    return out


def judge_task(site: FunctionSite, imports: list[tuple[frozenset[str], str]], helpers: str = "") -> str:
    """The judge's task for ``site``, shaped like the problems it is trained on: the
    imports its header uses (``from typing import List``), two blank lines, then the
    dedented signature and docstring. Imports the header does not name are left out, so
    a long import block cannot push the docstring out of the judge's task budget.
    ``helpers`` (stubs of workspace functions the code calls, judge.base.definitions)
    go between the imports and the header, where HumanEval prompts keep their helpers."""
    header = textwrap.dedent(site.header)
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", header))
    wanted = [text for names, text in imports if used & names]
    head = "".join(wanted)
    if helpers.strip():
        head = (head + "\n\n" if head else "") + helpers.strip("\n") + "\n"
    return head + "\n\n" + header if head else header


def function_body(code: str, name: str) -> str | None:
    """The body (the lines after signature and docstring) of the last top-level
    function ``name`` in ``code``, or None when there is none or the code does not parse."""
    if not parses(code):
        return None
    sites = [s for s in functions(code) if s.name == name and s.indent == 0]
    if not sites:
        return None
    site = sites[-1]
    return "".join(source_lines(code)[site.header_end_line : site.end_line])


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True
