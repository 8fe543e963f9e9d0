"""What mutations and rewrites share: sites and text edits, source positions, AST helpers, the program.

A :class:`Site` is one possible change to a program, made of text edits at AST node
positions (so a variant keeps the reference's formatting, comments and docstring). The
mutation finders (:mod:`~winnow.judge.dataset.mutations`) and rewrite finders
(:mod:`~winnow.judge.dataset.rewrites`, :mod:`~winnow.judge.dataset.statement_rewrites`)
read a :class:`Program`; :mod:`~winnow.judge.dataset.variants` applies what they find.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

Edit = tuple[int, int, str]  # (start, end, replacement) as character offsets into the source


@dataclass(frozen=True)
class Site:
    """One possible change to a program: what it does, and the text edits that do it."""

    kind: str
    description: str
    edits: tuple[Edit, ...]
    bug_class: str = "rewrite"  # a key of mutations.BUG_CLASSES for mutations


# --------------------------------------------------------------------------- source positions


class _Source:
    """Map AST positions (1-based lines, UTF-8 byte columns) to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def whole_lines(self, node: ast.stmt) -> tuple[int, int] | None:
        """The span of the full lines a statement occupies alone (None when it shares a line)."""
        start, end = self.span(node)
        line_start = self.starts[node.lineno - 1]
        end_line = node.end_lineno or node.lineno
        line_end = self.starts[end_line - 1] + len(self.lines[end_line - 1])
        before = self.text[line_start:start]
        after = self.text[end:line_end]
        if before.strip() or (after.strip() and not after.strip().startswith("#")):
            return None
        return line_start, min(line_end + 1, len(self.text))


def apply_edits(text: str, edits: tuple[Edit, ...] | list[Edit]) -> str:
    """Splice non-overlapping edits into ``text`` (applied from the end so offsets stay valid)."""
    out = text
    last = len(text) + 1
    for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        if end > last:
            raise ValueError("overlapping edits")
        out = out[:start] + replacement + out[end:]
        last = start
    return out


# --------------------------------------------------------------------------- AST helpers

ATOMIC = (
    ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Dict, ast.Set,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.JoinedStr,
)  # fmt: skip
OP_SYMBOL: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
    ast.RShift: ">>", ast.MatMult: "@",
}  # fmt: skip
CMP_SYMBOL: dict[type, str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip


def paren(text: str, node: ast.AST) -> str:
    """``text`` of ``node``, parenthesized unless it binds tighter than the operators it is put beside.

    Callers put it beside comparisons, ``not``, ``and``/``or``, ``if``/``else`` and ``+``-level
    operators (never as the base of ``**``), so a unary minus needs no parentheses.
    """
    if isinstance(node, ATOMIC):
        return text
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        return text
    return f"({text})"


def entry_function(tree: ast.Module, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The last top-level definition of ``entry_point`` (the one the tests call)."""
    found = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            found = node
    return found


def _docstring_node(func: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt | None:
    first = func.body[0] if func.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


class Program:
    """A parsed program and the parts of its entry point that transforms may touch."""

    def __init__(self, code: str, entry_point: str) -> None:
        self.code = code
        self.src = _Source(code)
        self.tree = ast.parse(code)
        func = entry_function(self.tree, entry_point)
        if func is None:
            raise ValueError(f"no top-level function {entry_point!r}")
        self.func = func
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        doc = _docstring_node(func)
        excluded: set[ast.AST] = set()
        for node in ast.walk(func):
            if isinstance(node, ast.JoinedStr):  # positions inside f-strings are unreliable before 3.12
                excluded.update(ast.walk(node))
        if doc is not None:
            excluded.update(ast.walk(doc))
        self.nodes: list[ast.AST] = []
        for stmt in func.body:
            for node in ast.walk(stmt):
                if node not in excluded and hasattr(node, "lineno"):
                    self.nodes.append(node)
        self.docstring = doc
        self.params = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}

    def seg(self, node: ast.AST) -> str:
        return self.src.segment(node)

    @cached_property
    def local_names(self) -> set[str]:
        return self.params | assigned_names(self.func)

    @cached_property
    def taken(self) -> set[str]:
        """Every name the program uses (and builtins, keywords): renames must avoid them."""
        return _all_names(self.tree)

    @cached_property
    def types(self) -> dict[str, str]:
        """A guessed type of each local ("?" when unknown or mixed): wrong-variable bugs keep it."""
        return _type_guesses(self.func)

    def same_type(self, name: str) -> list[str]:
        """The other locals whose guessed type does not contradict ``name``'s."""
        mine = self.types.get(name, "?")
        others = sorted(self.local_names - {name})
        return [o for o in others if "?" in (mine, self.types.get(o, "?")) or self.types.get(o) == mine]

    def where(self, node: ast.AST) -> str:
        return f"(line {getattr(node, 'lineno', 0)})"

    def of_type(self, *types: type) -> Iterator[Any]:
        """The entry point's nodes (docstring and f-strings excluded) of the given AST types."""
        return (n for n in self.nodes if isinstance(n, types))

    def gap_edit(self, left: ast.AST, right: ast.AST, pattern: str, replacement: str) -> Edit | None:
        """Replace the operator text between two operands."""
        start = self.src.span(left)[1]
        end = self.src.span(right)[0]
        m = re.search(pattern, self.src.text[start:end])
        if m is None:
            return None
        return (start + m.start(), start + m.end(), replacement)

    def in_test_context(self, node: ast.AST) -> bool:
        """Whether only the truth value of ``node`` matters (an if/while/assert/ternary test)."""
        parent = self.parents.get(node)
        if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is node:
            return True
        return isinstance(parent, ast.comprehension) and node in parent.ifs


def stmt_lists(func: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(func):
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield handler.body


def _all_names(tree: ast.AST) -> set[str]:
    names = set(dir(builtins)) | set(keyword.kwlist)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def assigned_names(func: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def is_range(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def int_value(node: ast.AST) -> int | None:
    """The value of an int literal, ``-3`` included."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_value(node.operand)
        return None if inner is None else -inner
    return None


# --------------------------------------------------------------------------- type guesses

_TYPE_NAMES = {"int", "float", "str", "bool", "list", "dict", "set", "tuple"}
_CALL_TYPES = {
    "len": "int", "int": "int", "ord": "int", "sum": "int", "abs": "int", "round": "int", "float": "float",
    "str": "str", "chr": "str", "list": "list", "sorted": "list", "dict": "dict", "set": "set",
    "tuple": "tuple", "bool": "bool",
}  # fmt: skip
_NODE_TYPES: dict[type, str] = {
    ast.List: "list", ast.ListComp: "list", ast.Dict: "dict", ast.DictComp: "dict", ast.Set: "set",
    ast.SetComp: "set", ast.Tuple: "tuple", ast.JoinedStr: "str", ast.Compare: "bool", ast.BoolOp: "bool",
}  # fmt: skip


def _annotation_type(node: ast.AST | None) -> str:
    if isinstance(node, ast.Subscript):
        node = node.value
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    name = name.lower()
    return name if name in _TYPE_NAMES else "?"


def value_type(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return type(node.value).__name__ if type(node.value).__name__ in _TYPE_NAMES else "?"
    if type(node) in _NODE_TYPES:
        return _NODE_TYPES[type(node)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _CALL_TYPES.get(node.func.id, "?")
    if isinstance(node, ast.BinOp):
        left = value_type(node.left)
        return left if left != "?" else value_type(node.right)
    if isinstance(node, ast.UnaryOp):
        return "bool" if isinstance(node.op, ast.Not) else value_type(node.operand)
    return "?"


def _type_guesses(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    """name -> guessed type, from annotations, assigned values and ``for i in range(...)``."""
    seen: dict[str, set[str]] = {}
    for a in ast.walk(func.args):
        if isinstance(a, ast.arg):
            seen.setdefault(a.arg, set()).add(_annotation_type(a.annotation))
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            seen.setdefault(node.targets[0].id, set()).add(value_type(node.value))
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            it = node.iter
            is_range = isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            seen.setdefault(node.target.id, set()).add("int" if is_range else "?")
    return {name: kinds.pop() if len(kinds) == 1 else "?" for name, kinds in seen.items()}


#: A site finder: yields the sites of one idea (a kind of mutation or rewrite) in a program.
Finder = Callable[[Program, random.Random], Iterator[Site]]
