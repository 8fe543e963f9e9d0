"""Python's backend of the function sites: ``ast``, tolerant of a file mid-edit.

Works on files that do not parse as a whole (a user mid-edit): the source is cut
before the first syntax error and parsed again. Docstrings are read as Python reads
them; pyflakes names what a candidate leaves undefined.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

from winnow.judge.sites.site import FunctionSite, source_lines


def _is_stub_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis:
        return True
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def parse_tolerant(source: str) -> ast.Module | None:
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


def python_functions(source: str) -> list[FunctionSite]:
    """Every function and method, in source order."""
    tree = parse_tolerant(source)
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


def first_documented_stub(sites: list[FunctionSite]) -> FunctionSite | None:
    """The first stub with a docstring, else the first function."""
    documented = [s for s in sites if s.is_stub and s.docstring]
    return (documented or sites or [None])[0]


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
    tree = parse_tolerant(head)
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


def python_judge_task(site: FunctionSite, imports: list[tuple[frozenset[str], str]], helpers: str = "") -> str:
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


def python_body(code: str, name: str) -> str | None:
    """The body (the lines after signature and docstring) of the last top-level
    function ``name`` in ``code``, or None when there is none or the code does not parse."""
    if not python_parses(code):
        return None
    sites = [s for s in python_functions(code) if s.name == name and s.indent == 0]
    if not sites:
        return None
    site = sites[-1]
    return "".join(source_lines(code)[site.header_end_line : site.end_line])


def python_parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def python_syntax_error(code: str) -> str | None:
    """The first line of the ``SyntaxError`` that ``code`` raises, or None."""
    try:
        ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        return str(exc).splitlines()[0][:120]
    return None


def pyflakes_undefined(code: str) -> list[str]:
    """Names pyflakes reports as undefined (a strong sign of a broken candidate)."""
    from pyflakes import api as pyflakes_api
    from pyflakes import messages

    class Collect:
        def __init__(self) -> None:
            self.names: list[str] = []

        def unexpectedError(self, filename: str, msg: str) -> None:  # noqa: N802 - pyflakes API
            pass

        def syntaxError(self, *args: Any) -> None:  # noqa: N802
            pass

        def flake(self, message: Any) -> None:
            if isinstance(message, messages.UndefinedName):
                self.names.append(str(message.message_args[0]))

    reporter = Collect()
    pyflakes_api.check(code, "candidate.py", reporter)  # type: ignore[arg-type]
    return reporter.names


def takes_body(site: FunctionSite) -> bool:
    """A body can go after this header: not a one-line ``def f(): pass``."""
    header = textwrap.dedent(site.header).rstrip("\n")
    lines = header.split("\n")
    indent = "    "
    if len(lines) > 1:
        second = lines[1]
        indent = second[: len(second) - len(second.lstrip())] or indent
    return python_parses(header + "\n" + indent + "pass\n")


class Python:
    """The ``Language`` backend for Python (``sites.site.Language``)."""

    name = "python"
    suffixes = (".py", ".pyi", ".pyw")
    doc_comment = "docstring"
    noun = "Python function"
    line_comment = "#"
    definition_keyword = "def"
    rewrites_whole_function = False  # an edit replaces the body after the header

    def functions(self, source: str) -> list[FunctionSite]:
        return python_functions(source)

    def first_to_implement(self, sites: list[FunctionSite]) -> FunctionSite | None:
        return first_documented_stub(sites)

    def parses(self, code: str) -> bool:
        return python_parses(code)

    def syntax_error(self, code: str) -> str | None:
        return python_syntax_error(code)

    def undefined_names(self, code: str) -> list[str]:
        return pyflakes_undefined(code)

    def judge_task(self, source: str, site: FunctionSite, helpers: str = "") -> str:
        return python_judge_task(site, module_imports(source), helpers)

    def function_body(self, code: str, name: str) -> str | None:
        return python_body(code, name)

    def outline(self, source: str) -> str:
        return ""  # workspace context shows Python files by their definitions' stubs

    def takes_body(self, site: FunctionSite) -> bool:
        return takes_body(site)
