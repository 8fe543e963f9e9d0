"""Training candidates from reference solutions: likely-wrong mutants and likely-right rewrites.

Small generators rarely pass, so a judge would see few correct candidates. Variants of the
reference solution fill the gap: single-point program mutations (operators, comparisons,
constants, off-by-one, swapped arguments, dropped statements, ...) and semantics-preserving
rewrites (renamed locals, reordered independent statements, equivalent expressions).

A variant's origin is only a hint: many mutants are equivalent and a rewrite can break
code that inspects itself, so every variant is labelled by execution (``winnow label`` or
``winnow augment --label``), never assumed.

Edits are made on the source text at AST node positions rather than by ``ast.unparse``, so a
variant keeps the reference's formatting, comments and docstring: a judge must not be able
to tell variants from the original by their layout. Only the entry point's body is changed.
Python only: Java problems contribute their reference solution unchanged.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from winnow.judge.dataset.problems import Problem

Edit = tuple[int, int, str]  # (start, end, replacement) as character offsets into the source


@dataclass(frozen=True)
class Site:
    """One possible change to a program: what it does, and the text edits that do it."""

    kind: str
    description: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Variant:
    code: str
    origin: str  # "canonical" | "mutant" | "rewrite"
    transform: str


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

_ATOMIC = (
    ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Dict, ast.Set,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.JoinedStr,
)  # fmt: skip
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)

_OP_SYMBOL: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
    ast.RShift: ">>", ast.MatMult: "@",
}  # fmt: skip
_OP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Add, ast.FloorDiv), ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div, ast.Mult), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.BitXor: (ast.BitOr,),
    ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,),
}  # fmt: skip
_CMP_SYMBOL: dict[type, str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip
_CMP_PATTERN: dict[type, str] = {
    ast.Lt: r"<(?!=)", ast.LtE: r"<=", ast.Gt: r">(?!=)", ast.GtE: r">=", ast.Eq: r"==", ast.NotEq: r"!=",
    ast.In: r"\bin\b", ast.NotIn: r"\bnot\s+in\b", ast.Is: r"\bis\b", ast.IsNot: r"\bis\s+not\b",
}  # fmt: skip
_CMP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}  # fmt: skip
_CMP_MIRROR: dict[type, type] = {
    ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq,
}  # fmt: skip
_CMP_NEGATION: dict[type, type] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
_PURE_CALLS = {
    "abs", "bool", "chr", "dict", "divmod", "enumerate", "float", "frozenset", "int", "len", "list", "max",
    "min", "ord", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
}  # fmt: skip
_NEW_NAMES = (
    "acc", "answer", "buf", "counter", "cur", "current", "elem", "entry", "holder", "idx", "index", "item",
    "node", "out", "part", "piece", "pos", "res", "store", "temp", "tmp", "token", "total", "val", "value",
)  # fmt: skip


def _paren(text: str, node: ast.AST) -> str:
    """``text`` of ``node``, parenthesized unless it binds tighter than the operators it is put beside.

    Callers put it beside comparisons, ``not``, ``and``/``or``, ``if``/``else`` and ``+``-level
    operators (never as the base of ``**``), so a unary minus needs no parentheses.
    """
    if isinstance(node, _ATOMIC):
        return text
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        return text
    return f"({text})"


def _paren_for_add(text: str, node: ast.AST) -> str:
    """``text`` safe to put on the left of ``+ 1`` / ``- 1``."""
    if isinstance(node, _ATOMIC) or (isinstance(node, ast.BinOp) and isinstance(node.op, _ARITH)):
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


class _Program:
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


def _stmt_lists(func: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(func):
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield handler.body


# --------------------------------------------------------------------------- mutations


def _mutation_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    local_names = p.params | _assigned_names(p.func)
    for node in p.nodes:
        where = f"(line {getattr(node, 'lineno', 0)})"
        if isinstance(node, ast.BinOp) and type(node.op) in _OP_SWAPS:
            for new in _OP_SWAPS[type(node.op)]:
                old_s, new_s = _OP_SYMBOL[type(node.op)], _OP_SYMBOL[new]
                edit = p.gap_edit(node.left, node.right, re.escape(old_s), new_s)
                if edit:
                    yield Site("arithmetic", f"`{old_s}` -> `{new_s}` {where}", (edit,))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _OP_SWAPS:
            for new in _OP_SWAPS[type(node.op)]:
                old_s, new_s = _OP_SYMBOL[type(node.op)] + "=", _OP_SYMBOL[new] + "="
                edit = p.gap_edit(node.target, node.value, re.escape(old_s), new_s)
                if edit:
                    yield Site("arithmetic", f"`{old_s}` -> `{new_s}` {where}", (edit,))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, op in enumerate(node.ops):
                for new in _CMP_SWAPS.get(type(op), ()):
                    edit = p.gap_edit(operands[i], operands[i + 1], _CMP_PATTERN[type(op)], _CMP_SYMBOL[new])
                    if edit:
                        desc = f"`{_CMP_SYMBOL[type(op)]}` -> `{_CMP_SYMBOL[new]}` {where}"
                        yield Site("comparison", desc, (edit,))
        elif isinstance(node, ast.BoolOp):
            old_s, new_s = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            for left, right in zip(node.values, node.values[1:], strict=False):
                edit = p.gap_edit(left, right, rf"\b{old_s}\b", new_s)
                if edit:
                    yield Site("boolean", f"`{old_s}` -> `{new_s}` {where}", (edit,))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            start, end = p.src.span(node)
            yield Site(
                "constant",
                f"`{node.value}` -> `{not node.value}` {where}",
                ((start, end, str(not node.value)),),
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, int):
            start, end = p.src.span(node)
            for delta in (1, -1):
                new_value = node.value + delta
                if new_value < 0:
                    continue  # "-1" would change how the expression around it parses
                yield Site(
                    "constant", f"`{node.value}` -> `{new_value}` {where}", ((start, end, str(new_value)),)
                )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            start, end = p.src.span(node)
            yield Site(
                "negation", f"drop `not` {where}", ((start, end, _paren(p.seg(node.operand), node.operand)),)
            )
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                start, end = p.src.span(node.value)
                yield Site("return", f"return None instead {where}", ((start, end, "None"),))
        elif isinstance(node, ast.Call):
            yield from _call_sites(p, node, where)
        elif isinstance(node, ast.Subscript):
            yield from _subscript_sites(p, node, where)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            others = sorted(local_names - {node.id})
            if node.id in local_names and others:
                other = rng.choice(others)
                start, end = p.src.span(node)
                yield Site("variable", f"`{node.id}` -> `{other}` {where}", ((start, end, other),))
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            start, end = p.src.span(node.test)
            new = "not " + _paren(p.seg(node.test), node.test)
            yield Site("condition", f"negate the condition {where}", ((start, end, new),))
    for body in _stmt_lists(p.func):
        if len(body) < 2:
            continue
        for stmt in body:
            if stmt is p.docstring or isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            span = p.src.whole_lines(stmt)
            if span:
                kind = type(stmt).__name__.lower()
                desc = f"drop the {kind} statement (line {stmt.lineno})"
                yield Site("drop", desc, ((span[0], span[1], ""),))


def _plus(p: _Program, node: ast.AST, delta: int) -> str:
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value + delta >= 0:
        return str(node.value + delta)
    return f"{_paren_for_add(p.seg(node), node)} {'+' if delta > 0 else '-'} {abs(delta)}"


def _call_sites(p: _Program, node: ast.Call, where: str) -> Iterator[Site]:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name == "range" and node.args and not any(isinstance(a, ast.Starred) for a in node.args):
        bounds = [("stop", node.args[0] if len(node.args) == 1 else node.args[1])]
        if len(node.args) >= 2:
            bounds.append(("start", node.args[0]))
        for label, arg in bounds:
            if isinstance(arg, ast.Constant):
                continue  # the constant mutation covers it
            start, end = p.src.span(arg)
            for delta in (1, -1):
                new = _plus(p, arg, delta)
                yield Site("off-by-one", f"range {label} {delta:+d} {where}", ((start, end, new),))
    if name in ("min", "max"):
        start, end = p.src.span(node.func)
        other = "max" if name == "min" else "min"
        yield Site("builtin", f"`{name}` -> `{other}` {where}", ((start, end, other),))
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    if len(node.args) >= 2 and len(positional) == len(node.args):
        a, b = node.args[0], node.args[1]
        ta, tb = p.seg(a), p.seg(b)
        if ta != tb:
            (sa, ea), (sb, eb) = p.src.span(a), p.src.span(b)
            yield Site("arguments", f"swap the first two arguments {where}", ((sa, ea, tb), (sb, eb, ta)))


def _subscript_sites(p: _Program, node: ast.Subscript, where: str) -> Iterator[Site]:
    index = node.slice
    if isinstance(index, ast.Slice):
        for label, bound in (("lower", index.lower), ("upper", index.upper)):
            if bound is None or isinstance(bound, ast.Constant):
                continue
            start, end = p.src.span(bound)
            for delta in (1, -1):
                yield Site(
                    "off-by-one",
                    f"slice {label} bound {delta:+d} {where}",
                    ((start, end, _plus(p, bound, delta)),),
                )
    elif not isinstance(index, (ast.Tuple, ast.Constant)) and hasattr(index, "lineno"):
        start, end = p.src.span(index)
        for delta in (1, -1):
            yield Site("off-by-one", f"index {delta:+d} {where}", ((start, end, _plus(p, index, delta)),))


def _assigned_names(func: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


# --------------------------------------------------------------------------- rewrites


def _rewrite_sites(p: _Program, rng: random.Random, taken: set[str]) -> Iterator[Site]:
    yield from _rename_sites(p, rng, taken)
    for node in p.nodes:
        where = f"(line {getattr(node, 'lineno', 0)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_MIRROR:
            left, right = node.left, node.comparators[0]
            mirrored = _CMP_SYMBOL[_CMP_MIRROR[type(node.ops[0])]]
            new = f"{_paren(p.seg(right), right)} {mirrored} {_paren(p.seg(left), left)}"
            start, end = p.src.span(node)
            yield Site(
                "mirror",
                f"`a {_CMP_SYMBOL[type(node.ops[0])]} b` -> `b {mirrored} a` {where}",
                ((start, end, new),),
            )
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.Not)
            and isinstance(node.operand, ast.Compare)
            and len(node.operand.ops) == 1
            and type(node.operand.ops[0]) in _CMP_NEGATION
        ):
            cmp = node.operand
            neg = _CMP_SYMBOL[_CMP_NEGATION[type(cmp.ops[0])]]
            left, right = cmp.left, cmp.comparators[0]
            new = f"{_paren(p.seg(left), left)} {neg} {_paren(p.seg(right), right)}"
            start, end = p.src.span(node)
            yield Site(
                "negation",
                f"`not (a {_CMP_SYMBOL[type(cmp.ops[0])]} b)` -> `a {neg} b` {where}",
                ((start, end, new),),
            )
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_NEGATION:
            neg = _CMP_SYMBOL[_CMP_NEGATION[type(node.ops[0])]]
            left, right = node.left, node.comparators[0]
            new = f"not ({_paren(p.seg(left), left)} {neg} {_paren(p.seg(right), right)})"
            start, end = p.src.span(node)
            parent = p.parents.get(node)
            if isinstance(
                parent, (ast.BoolOp, ast.UnaryOp, ast.If, ast.While, ast.IfExp, ast.Return, ast.Assign)
            ):
                yield Site(
                    "negation",
                    f"`a {_CMP_SYMBOL[type(node.ops[0])]} b` -> `not (a {neg} b)` {where}",
                    ((start, end, new),),
                )
        if isinstance(node, ast.IfExp):
            start, end = p.src.span(node)
            new = f"{_paren(p.seg(node.orelse), node.orelse)} if not {_paren(p.seg(node.test), node.test)} else {_paren(p.seg(node.body), node.body)}"
            yield Site(
                "ternary", f"swap the branches of a conditional expression {where}", ((start, end, new),)
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "range"
            and not node.keywords
        ):
            args = node.args
            if len(args) == 1 and not isinstance(args[0], ast.Starred):
                start, _ = p.src.span(args[0])
                yield Site("range", f"`range(n)` -> `range(0, n)` {where}", ((start, start, "0, "),))
            elif (
                len(args) == 2
                and isinstance(args[0], ast.Constant)
                and args[0].value == 0
                and type(args[0].value) is int
            ):
                start, _ = p.src.span(args[0])
                end = p.src.span(args[1])[0]
                yield Site("range", f"`range(0, n)` -> `range(n)` {where}", ((start, end, ""),))
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and type(node.op) in _OP_SYMBOL
        ):
            start, end = p.src.span(node)
            sym = _OP_SYMBOL[type(node.op)]
            value = p.seg(node.value)
            value = value if isinstance(node.value, _ATOMIC) else f"({value})"
            new = f"{node.target.id} = {node.target.id} {sym} {value}"
            yield Site("augassign", f"`x {sym}= y` -> `x = x {sym} y` {where}", ((start, end, new),))
        if p.in_test_context(node):
            yield from _test_context_sites(p, node, where)
    yield from _reorder_sites(p)


def _test_context_sites(p: _Program, node: ast.AST, where: str) -> Iterator[Site]:
    start, end = p.src.span(node)
    # len(x) == 0 -> not x ; len(x) > 0 / len(x) != 0 -> x
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.left, ast.Call)
        and isinstance(node.left.func, ast.Name)
        and node.left.func.id == "len"
        and len(node.left.args) == 1
        and isinstance(node.comparators[0], ast.Constant)
        and node.comparators[0].value == 0
    ):
        arg = node.left.args[0]
        text = _paren(p.seg(arg), arg)
        if isinstance(node.ops[0], ast.Eq):
            yield Site("truthiness", f"`len(x) == 0` -> `not x` {where}", ((start, end, f"not {text}"),))
        elif isinstance(node.ops[0], (ast.Gt, ast.NotEq)):
            yield Site("truthiness", f"`len(x) > 0` -> `x` {where}", ((start, end, text),))
    # De Morgan: not (a and b) -> not a or not b
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.Not)
        and isinstance(node.operand, ast.BoolOp)
    ):
        inner = node.operand
        joiner = " or " if isinstance(inner.op, ast.And) else " and "
        new = joiner.join(f"not {_paren(p.seg(v), v)}" for v in inner.values)
        yield Site("de-morgan", f"De Morgan on a condition {where}", ((start, end, new),))


def _rename_sites(p: _Program, rng: random.Random, taken: set[str]) -> Iterator[Site]:
    """Rename a random subset of the entry point's local variables, consistently."""
    func = p.func
    declared: set[str] = set()
    blocked: set[str] = set(p.params)
    in_fstring: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            blocked.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            blocked.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            blocked.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            blocked.add(node.name)
        elif isinstance(node, ast.JoinedStr):
            in_fstring.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    eligible = sorted(_assigned_names(func) - declared - blocked - in_fstring)
    if not eligible:
        return
    free = [n for n in _NEW_NAMES if n not in taken]
    chosen = sorted(rng.sample(eligible, rng.randint(1, len(eligible))))
    if len(free) < len(chosen):
        return
    mapping = dict(zip(chosen, rng.sample(free, len(chosen)), strict=True))
    edits = []
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id in mapping:
            start, end = p.src.span(node)
            edits.append((start, end, mapping[node.id]))
    desc = "rename locals " + ", ".join(f"{a}->{b}" for a, b in mapping.items())
    yield Site("rename", desc, tuple(edits))


def _names_read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _simple_assignment(stmt: ast.stmt) -> tuple[set[str], set[str]] | None:
    """(written, read) names of an assignment to plain names with a side-effect-free value."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        targets = [stmt.target]
    else:
        return None
    written: set[str] = set()
    for target in targets:
        elts = target.elts if isinstance(target, ast.Tuple) else [target]
        if not all(isinstance(e, ast.Name) for e in elts):
            return None
        written.update(e.id for e in elts)  # type: ignore[attr-defined]
    assert stmt.value is not None
    for node in ast.walk(stmt.value):
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr, ast.Lambda)):
            return None
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _PURE_CALLS
        ):
            return None
    read = _names_read(stmt.value) | (written if isinstance(stmt, ast.AugAssign) else set())
    return written, read


def _reorder_sites(p: _Program) -> Iterator[Site]:
    for body in _stmt_lists(p.func):
        for first, second in zip(body, body[1:], strict=False):
            a, b = _simple_assignment(first), _simple_assignment(second)
            if (
                a is None
                or b is None
                or first.lineno != first.end_lineno
                or second.lineno != second.end_lineno
            ):
                continue
            (wa, ra), (wb, rb) = a, b
            if wa & (rb | wb) or wb & ra:
                continue
            sa, sb = p.src.whole_lines(first), p.src.whole_lines(second)
            if sa is None or sb is None or sa[1] != sb[0] or first.col_offset != second.col_offset:
                continue
            text_a, text_b = p.code[sa[0] : sa[1]], p.code[sb[0] : sb[1]]
            if not text_a.endswith("\n") or not text_b.endswith("\n"):
                continue
            desc = f"swap two independent assignments (lines {first.lineno}-{second.lineno})"
            yield Site("reorder", desc, ((sa[0], sb[1], text_b + text_a),))


# --------------------------------------------------------------------------- variants


def normalized(code: str) -> str | None:
    """A layout-independent key of a program (None when it does not parse)."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return None


def _signature(code: str, entry_point: str) -> str | None:
    try:
        func = entry_function(ast.parse(code), entry_point)
    except SyntaxError:
        return None
    return ast.dump(func.args) if func else None


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


def mutation_sites(code: str, entry_point: str, rng: random.Random | None = None) -> list[Site]:
    """Every single-point mutation of the entry point's body."""
    return list(_mutation_sites(_Program(code, entry_point), rng or random.Random(0)))


def rewrite_sites(code: str, entry_point: str, rng: random.Random | None = None) -> list[Site]:
    """Every semantics-preserving rewrite of the entry point's body (one rename choice)."""
    p = _Program(code, entry_point)
    return list(_rewrite_sites(p, rng or random.Random(0), _all_names(p.tree)))


def _apply(code: str, site: Site, entry_point: str, signature: str | None) -> str | None:
    try:
        new = apply_edits(code, site.edits)
    except ValueError:
        return None
    if _signature(new, entry_point) != signature or signature is None:
        return None  # does not parse, lost the entry point, or changed its signature
    return new


def _pick(code: str, entry_point: str, rng: random.Random, sites_of: str) -> tuple[str, str] | None:
    """Apply one randomly chosen site of kind ``sites_of`` (mutation | rewrite) to ``code``."""
    p = _Program(code, entry_point)
    if sites_of == "mutation":
        sites = list(_mutation_sites(p, rng))
    else:
        sites = list(_rewrite_sites(p, rng, _all_names(p.tree)))
    signature = _signature(code, entry_point)
    # Pick a kind first, then a site of that kind: otherwise the most frequent kinds
    # (variable uses, constants) would crowd out the rest.
    by_kind: dict[str, list[Site]] = {}
    for site in sites:
        by_kind.setdefault(site.kind, []).append(site)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    for kind in kinds:
        group = by_kind[kind]
        rng.shuffle(group)
        for site in group:
            new = _apply(code, site, entry_point, signature)
            if new is not None and normalized(new) != normalized(code):
                return new, site.description
    return None


def variants(
    reference: str, entry_point: str, k: int, rng: random.Random, rewrite_share: float = 1 / 3
) -> list[Variant]:
    """The reference itself, then up to ``k`` distinct rewrites and mutants of it.

    About ``rewrite_share`` of the ``k`` are rewrites (one or two stacked); half of the mutants
    are made on top of a rewrite, so that "differs from the reference" does not mean "wrong".
    """
    out = [Variant(reference, "canonical", "reference solution")]
    seen = {normalized(reference)}
    n_rewrites = round(k * rewrite_share)
    rewrites: list[Variant] = []
    for _ in range(4 * n_rewrites):
        if len(rewrites) >= n_rewrites:
            break
        picked = _pick(reference, entry_point, rng, "rewrite")
        if picked is None:
            break
        code, desc = picked
        if rng.random() < 0.5:
            again = _pick(code, entry_point, rng, "rewrite")
            if again is not None:
                code, desc = again[0], f"{desc}; {again[1]}"
        key = normalized(code)
        if key not in seen:
            seen.add(key)
            rewrites.append(Variant(code, "rewrite", desc))
    mutants: list[Variant] = []
    n_mutants = k - len(rewrites)
    for _ in range(4 * n_mutants):
        if len(mutants) >= n_mutants:
            break
        base, base_desc = reference, ""
        if rewrites and rng.random() < 0.5:
            chosen = rng.choice(rewrites)
            base, base_desc = chosen.code, chosen.transform + "; then "
        picked = _pick(base, entry_point, rng, "mutation")
        if picked is None:
            continue
        code, desc = picked
        key = normalized(code)
        if key not in seen:
            seen.add(key)
            mutants.append(Variant(code, "mutant", base_desc + desc))
    return out + rewrites + mutants


def augment_problem(
    problem: Problem, k: int = 8, seed: int = 0, rewrite_share: float = 1 / 3
) -> list[dict[str, Any]]:
    """Candidate records for one problem; the same ``seed`` always gives the same records."""
    if problem.reference is None:
        return []
    rng = random.Random(f"{seed}:{problem.id}")
    if problem.language != "python":
        found = [Variant(problem.reference, "canonical", "reference solution")]
    else:
        try:
            found = variants(problem.reference, problem.entry_point, k, rng, rewrite_share)
        except (SyntaxError, ValueError):
            found = [Variant(problem.reference, "canonical", "reference solution")]
    records = []
    counters = {"rewrite": 0, "mutant": 0}
    prefix = {"rewrite": "rw", "mutant": "mut"}
    for v in found:
        if v.origin == "canonical":
            cid = "canonical"
        else:
            counters[v.origin] += 1
            cid = f"{prefix[v.origin]}-{counters[v.origin]}"
        records.append(
            {
                "problem_id": problem.id,
                "candidate_id": cid,
                "code": v.code,
                "origin": v.origin,
                "transform": v.transform,
                "seed": seed,
            }
        )
    return records
