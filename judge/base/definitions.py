"""What a Python module offers to the code that imports it: its top-level definitions.

A definition is kept as a *stub*, the way a model or the judge should see a helper it
cannot see in full: the signature, the first line of the docstring and ``...``; a class
brings its header and its methods' signatures. Also here: which names a module imports
(and from where), and which names a piece of code calls, so that the judge's task can
carry the signatures of the helpers a candidate uses.
"""

from __future__ import annotations

import ast
import copy
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_VALUE_CHARS = 60  # a module constant's value shown in its stub (longer ones become "...")
MAX_METHODS = 12  # method signatures shown per class
HELPER_CHARS = 800  # helper stubs added to a judge task (its budget is 512 tokens in all)


@dataclass(frozen=True)
class Definition:
    """One top-level name of a module, as a stub."""

    name: str
    kind: str  # "function" | "class" | "variable"
    line: int  # 1-based line of the definition
    stub: str  # signature + first docstring line + "...", as Python source


@dataclass(frozen=True)
class ImportedName:
    """``from .paths import normalize as norm`` → module "paths", level 1, name "normalize",
    bound "norm"; ``import pkg.util as u`` → module "pkg.util", name None, bound "u"."""

    module: str
    name: str | None
    bound: str
    level: int = 0


def first_doc_line(node: ast.AST) -> str | None:
    try:
        doc = ast.get_docstring(node, clean=True)  # type: ignore[arg-type]
    except TypeError:
        return None
    if not doc:
        return None
    line = doc.strip().splitlines()[0].strip()
    return line.replace('"""', "'''") or None


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """``def name(args) -> ret:`` as ``ast.unparse`` prints it (decorators dropped)."""
    bare = copy.copy(node)
    bare.decorator_list = []
    bare.body = [ast.Expr(ast.Constant(Ellipsis))]
    text = ast.unparse(bare)
    return text.rsplit("\n", 1)[0]


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(keepends=True))


def function_stub(node: ast.FunctionDef | ast.AsyncFunctionDef, indent: str = "") -> str:
    doc = first_doc_line(node)
    body = f'    """{doc}"""\n    ...\n' if doc else "    ...\n"
    return _indent(_signature(node) + "\n" + body, indent)


def _decorated(node: ast.FunctionDef | ast.AsyncFunctionDef, names: tuple[str, ...]) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        label = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if label in names:
            return True
    return False


def class_stub(node: ast.ClassDef) -> str:
    bare = copy.copy(node)
    bare.decorator_list = []
    bare.body = [ast.Expr(ast.Constant(Ellipsis))]
    header = ast.unparse(bare).rsplit("\n", 1)[0]
    lines = [header]
    doc = first_doc_line(node)
    if doc:
        lines.append(f'    """{doc}"""')
    fields: list[str] = []
    methods: list[str] = []
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            fields.append("    " + ast.unparse(ast.AnnAssign(item.target, item.annotation, None, 1)))
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if item.name.startswith("_") and item.name != "__init__":
                continue
            prefix = "    @property\n" if _decorated(item, ("property",)) else ""
            methods.append(prefix + "    " + _signature(item) + " ...")
    lines.extend(fields[:MAX_METHODS])
    lines.extend(methods[:MAX_METHODS])
    if len(lines) == 1:
        lines.append("    ...")
    return "\n".join(lines) + "\n"


def _assignment_stub(node: ast.Assign | ast.AnnAssign) -> list[Definition]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    if not names:
        return []
    value = ast.unparse(node.value) if node.value is not None else ""
    if len(value) > MAX_VALUE_CHARS or "\n" in value:
        value = "..."
    out = []
    for name in names:
        if isinstance(node, ast.AnnAssign):
            text = f"{name}: {ast.unparse(node.annotation)}" + (f" = {value}" if value else "")
        else:
            text = f"{name} = {value}"
        out.append(Definition(name, "variable", node.lineno, text + "\n"))
    return out


def parse_module(source: str) -> ast.Module | None:
    """The module's AST, or None when it does not parse (the caller logs and skips it)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def module_definitions(source: str | ast.Module) -> list[Definition]:
    """Top-level functions, classes and simple assignments, in source order.
    Raises SyntaxError (or ValueError) when ``source`` does not parse."""
    tree = source if isinstance(source, ast.Module) else ast.parse(source)
    out: list[Definition] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(Definition(node.name, "function", node.lineno, function_stub(node)))
        elif isinstance(node, ast.ClassDef):
            out.append(Definition(node.name, "class", node.lineno, class_stub(node)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            out.extend(_assignment_stub(node))
    return out


def imported_names(source: str | ast.Module) -> list[ImportedName]:
    """Every import at the top level of the module (also inside ``if``/``try`` blocks)."""
    if isinstance(source, ast.Module):
        tree = source
    else:
        tree = parse_module(source)
        if tree is None:
            return []
    out: list[ImportedName] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(ImportedName(alias.name, None, alias.asname or alias.name.split(".")[0], 0))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    out.append(ImportedName(node.module or "", alias.name, alias.asname or alias.name, node.level))
        elif isinstance(node, (ast.If, ast.Try)):
            stack.extend(node.body)
            stack.extend(getattr(node, "orelse", []))
            for handler in getattr(node, "handlers", []):
                stack.extend(handler.body)
    return out


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def called_names(code: str) -> list[str]:
    """Names ``code`` calls (``f``, ``mod.f``, ``Class``), first call first; [] when it does not parse."""
    tree = parse_module(textwrap.dedent(code))
    if tree is None:
        return []
    seen: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is not None and name not in seen:
                seen[name] = (node.lineno, node.col_offset)
    return sorted(seen, key=lambda n: seen[n])


def helper_stubs(codes: Iterable[str], known: Mapping[str, str], limit: int = HELPER_CHARS) -> str:
    """The stubs (from ``known``: name as the code spells it → stub) of what ``codes`` call,
    in order of first call, up to ``limit`` characters; "" when they call none of them.
    ``obj.method(...)`` on an imported class counts as using that class."""
    out: list[str] = []
    taken: set[str] = set()
    size = 0
    for code in codes:
        for name in called_names(code):
            key = name if name in known else name.split(".")[0] if name.split(".")[0] in known else None
            if key is None or key in taken:
                continue
            stub = known[key].rstrip("\n") + "\n"
            if size + len(stub) > limit:
                continue
            taken.add(key)
            out.append(stub)
            size += len(stub)
    return "\n".join(out)
