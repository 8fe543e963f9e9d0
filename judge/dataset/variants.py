"""Training candidates from reference solutions: likely-wrong mutants and likely-right rewrites.

Small generators rarely pass, so a judge would see few correct candidates. Variants of the
reference solution fill the gap: single-point bugs of the classes code models make
(:data:`BUG_CLASSES`: off-by-one, comparisons, operators, constants, wrong variable, edge
cases, swapped arguments, wrong builtin or method, wrong return value, dropped statement) and
behaviour-keeping rewrites (renamed locals, mirrored comparisons, ``x += 1`` / ``x = x + 1``,
loop / comprehension, reordered independent statements, ...). Each class has its own site
finders, registered in :data:`MUTATORS` and :data:`REWRITERS`.

A variant's origin is only a hint: many mutants are equivalent and a rewrite can break
code that inspects itself, so every variant is labelled by execution (``winnow label`` or
``winnow augment --label``), never assumed; :func:`balance` then picks, per problem, as many
failing mutants as there are passing candidates (selection after labelling, since an
equivalent mutant passes).

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from winnow.judge.dataset.problems import Problem

Edit = tuple[int, int, str]  # (start, end, replacement) as character offsets into the source


@dataclass(frozen=True)
class Site:
    """One possible change to a program: what it does, and the text edits that do it."""

    kind: str
    description: str
    edits: tuple[Edit, ...]
    bug_class: str = "rewrite"  # a key of BUG_CLASSES for mutations


@dataclass(frozen=True)
class Variant:
    code: str
    origin: str  # "canonical" | "mutant" | "rewrite"
    transform: str
    bug_class: str  # "canonical" | "rewrite" | a key of BUG_CLASSES


#: The classes of single-point bugs (the ``bug_class`` of a mutant record), in report order.
BUG_CLASSES: dict[str, str] = {
    "off-by-one": "a range bound, slice bound or index moved by one",
    "comparison": "a comparison flipped, loosened or tightened (`<` -> `<=`, `<` -> `>`, `==` -> `!=`)",
    "operator": "a wrong arithmetic, augmented or boolean operator (`+` -> `-`, `and` -> `or`)",
    "constant": "a wrong constant or initial value (an int +-1, a flipped bool, a changed string)",
    "variable": "a wrong variable: another local of the same guessed type",
    "condition": "a negated condition or a dropped `not`",
    "edge-case": "a dropped guard (an `if` that returns, raises, breaks or continues) or `elif` branch",
    "arguments": "swapped arguments of a call or operands of a non-commutative operator",
    "builtin": "the wrong builtin or method (min/max, any/all, sort order, append/extend, strip, split, lower/upper, ...)",
    "return": "a wrong return value (None, another local, the negation)",
    "statement": "a dropped statement",
}


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

    @cached_property
    def local_names(self) -> set[str]:
        return self.params | _assigned_names(self.func)

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


def _stmt_lists(func: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(func):
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield handler.body


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


def _value_type(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return type(node.value).__name__ if type(node.value).__name__ in _TYPE_NAMES else "?"
    if type(node) in _NODE_TYPES:
        return _NODE_TYPES[type(node)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _CALL_TYPES.get(node.func.id, "?")
    if isinstance(node, ast.BinOp):
        left = _value_type(node.left)
        return left if left != "?" else _value_type(node.right)
    if isinstance(node, ast.UnaryOp):
        return "bool" if isinstance(node.op, ast.Not) else _value_type(node.operand)
    return "?"


def _type_guesses(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    """name -> guessed type, from annotations, assigned values and ``for i in range(...)``."""
    seen: dict[str, set[str]] = {}
    for a in ast.walk(func.args):
        if isinstance(a, ast.arg):
            seen.setdefault(a.arg, set()).add(_annotation_type(a.annotation))
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            seen.setdefault(node.targets[0].id, set()).add(_value_type(node.value))
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            it = node.iter
            is_range = isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            seen.setdefault(node.target.id, set()).add("int" if is_range else "?")
    return {name: kinds.pop() if len(kinds) == 1 else "?" for name, kinds in seen.items()}


# --------------------------------------------------------------------------- mutations

Finder = Callable[["_Program", random.Random], Iterator[Site]]

#: Mutation site finders: (bug class, finder). Each finder yields the sites of one idea.
MUTATORS: list[tuple[str, Finder]] = []
#: Rewrite site finders (behaviour-keeping), in the order they are tried.
REWRITERS: list[Finder] = []


def _mutator(bug_class: str) -> Callable[[Finder], Finder]:
    assert bug_class in BUG_CLASSES, bug_class

    def register(finder: Finder) -> Finder:
        MUTATORS.append((bug_class, finder))
        return finder

    return register


def _rewriter(finder: Finder) -> Finder:
    REWRITERS.append(finder)
    return finder


def _mutation_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    for bug_class, finder in MUTATORS:
        for site in finder(p, rng):
            yield replace(site, bug_class=bug_class)


def _is_range(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def _index_like(p: _Program, node: ast.AST) -> bool:
    """Whether ``node`` is a range argument, a slice bound or an index (off-by-one territory)."""
    parent = p.parents.get(node)
    if isinstance(parent, ast.Slice):
        return node is not parent.step
    if isinstance(parent, ast.Subscript):
        return parent.slice is node
    return _is_range(parent) and node in parent.args  # type: ignore[union-attr]


def _int_value(node: ast.AST) -> int | None:
    """The value of an int literal, ``-3`` included."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_value(node.operand)
        return None if inner is None else -inner
    return None


def _plus(p: _Program, node: ast.AST, delta: int) -> str:
    """The text of ``node + delta`` as a person would write it (``i - 1`` + 1 is ``i``, not ``i - 1 + 1``)."""
    value = _int_value(node)
    if value is not None:
        return str(value + delta)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        const = _int_value(node.right)
        if const is not None and isinstance(node.right, ast.Constant):
            signed = (const if isinstance(node.op, ast.Add) else -const) + delta
            gap = p.src.text[p.src.span(node.left)[1] : p.src.span(node.right)[0]]
            left = p.seg(node.left)
            if signed == 0:
                return left
            sym = "+" if signed > 0 else "-"
            return left + re.sub(r"[+-]", sym, gap, count=1) + str(abs(signed))
    return f"{_paren_for_add(p.seg(node), node)} {'+' if delta > 0 else '-'} {abs(delta)}"


@_mutator("off-by-one")
def _off_by_one_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """Range bounds, slice bounds and indices moved by one."""
    for node in p.of_type(ast.Call, ast.Subscript):
        if isinstance(node, ast.Call) and _is_range(node) and node.args:
            bounds = [("stop", node.args[0] if len(node.args) == 1 else node.args[1])]
            if len(node.args) >= 2:
                bounds.append(("start", node.args[0]))
            bounds = [(f"range {label}", arg) for label, arg in bounds]
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            s = node.slice
            bounds = [(f"slice {k} bound", b) for k, b in (("lower", s.lower), ("upper", s.upper)) if b]
        elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Tuple):
            is_int = _int_value(node.slice) is not None
            keep = is_int or not isinstance(node.slice, ast.Constant)
            bounds = [("index", node.slice)] if keep and hasattr(node.slice, "lineno") else []
        else:
            continue
        for label, arg in bounds:
            start, end = p.src.span(arg)
            for delta in (1, -1):
                desc = f"{label} {delta:+d} {p.where(node)}"
                yield Site("off-by-one", desc, ((start, end, _plus(p, arg, delta)),))


@_mutator("comparison")
def _comparison_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``<`` -> ``<=`` / ``>``, ``==`` -> ``!=``, ``in`` -> ``not in``, ..."""
    for node in p.of_type(ast.Compare):
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            for new in _CMP_SWAPS.get(type(op), ()):
                edit = p.gap_edit(operands[i], operands[i + 1], _CMP_PATTERN[type(op)], _CMP_SYMBOL[new])
                if edit:
                    desc = f"`{_CMP_SYMBOL[type(op)]}` -> `{_CMP_SYMBOL[new]}` {p.where(node)}"
                    yield Site("comparison", desc, (edit,))


@_mutator("operator")
def _arithmetic_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A wrong arithmetic operator, in an expression or an augmented assignment."""
    for node in p.of_type(ast.BinOp, ast.AugAssign):
        if type(node.op) not in _OP_SWAPS:
            continue
        aug = "=" if isinstance(node, ast.AugAssign) else ""
        left, right = (node.target, node.value) if aug else (node.left, node.right)
        for new in _OP_SWAPS[type(node.op)]:
            old_s, new_s = _OP_SYMBOL[type(node.op)] + aug, _OP_SYMBOL[new] + aug
            edit = p.gap_edit(left, right, re.escape(old_s), new_s)
            if edit:
                yield Site("arithmetic", f"`{old_s}` -> `{new_s}` {p.where(node)}", (edit,))


@_mutator("operator")
def _boolean_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``and`` <-> ``or``."""
    for node in p.of_type(ast.BoolOp):
        old_s, new_s = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in zip(node.values, node.values[1:], strict=False):
            edit = p.gap_edit(left, right, rf"\b{old_s}\b", new_s)
            if edit:
                yield Site("boolean", f"`{old_s}` -> `{new_s}` {p.where(node)}", (edit,))


_STRING_LITERAL = re.compile(r"""^(?P<q>['"])(?P<body>[^'"\\\n]*)(?P=q)$""")


@_mutator("constant")
def _constant_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A flipped bool, an int +-1 (outside ranges and indices), a changed short string."""
    for node in p.of_type(ast.Constant):
        start, end = p.src.span(node)
        where = p.where(node)
        if isinstance(node.value, bool):
            yield Site(
                "constant",
                f"`{node.value}` -> `{not node.value}` {where}",
                ((start, end, str(not node.value)),),
            )
        elif type(node.value) in (int, float) and not _index_like(p, node):
            for delta in (1, -1):
                new_value = node.value + delta
                if new_value >= 0:  # "-1" would change how the expression around it parses
                    yield Site(
                        "constant",
                        f"`{node.value}` -> `{new_value}` {where}",
                        ((start, end, str(new_value)),),
                    )
        elif isinstance(node.value, str) and (m := _STRING_LITERAL.match(p.seg(node))):
            body = m["body"]
            new_body = {"": " ", "inf": "-inf", "-inf": "inf"}.get(
                body, "" if len(body) != 1 else body + body
            )
            new = m["q"] + new_body + m["q"]
            yield Site("constant", f"`{p.seg(node)}` -> `{new}` {where}", ((start, end, new),))


@_mutator("variable")
def _variable_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A use of a local replaced by another local of the same guessed type."""
    for node in p.of_type(ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in p.local_names:
            others = p.same_type(node.id)
            if others:
                other = rng.choice(others)
                start, end = p.src.span(node)
                yield Site("variable", f"`{node.id}` -> `{other}` {p.where(node)}", ((start, end, other),))


@_mutator("condition")
def _condition_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A negated ``if``/``while``/ternary condition, or a dropped ``not``."""
    for node in p.of_type(ast.If, ast.While, ast.IfExp, ast.UnaryOp):
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                start, end = p.src.span(node)
                new = _paren(p.seg(node.operand), node.operand)
                yield Site("negation", f"drop `not` {p.where(node)}", ((start, end, new),))
            continue
        start, end = p.src.span(node.test)
        new = "not " + _paren(p.seg(node.test), node.test)
        yield Site("condition", f"negate the condition {p.where(node)}", ((start, end, new),))


def _is_guard(stmt: ast.stmt) -> bool:
    """An ``if`` without ``else`` whose body leaves: an edge case handled early."""
    exits = (ast.Return, ast.Raise, ast.Continue, ast.Break)
    return isinstance(stmt, ast.If) and not stmt.orelse and isinstance(stmt.body[-1], exits)


@_mutator("edge-case")
def _edge_case_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A dropped guard (``if not xs: return []``) or a dropped ``elif`` branch."""
    for body in _stmt_lists(p.func):
        for stmt in body:
            span = p.src.whole_lines(stmt)
            if _is_guard(stmt) and len(body) >= 2 and span:
                yield Site("edge-case", f"drop the guard (line {stmt.lineno})", ((span[0], span[1], ""),))
    for node in p.of_type(ast.If):
        if len(node.orelse) != 1 or not isinstance(node.orelse[0], ast.If):
            continue
        branch = node.orelse[0]
        start = p.src.offset(branch.lineno, branch.col_offset)
        if (
            not p.code.startswith("elif", start)
            or p.src.text[p.src.starts[branch.lineno - 1] : start].strip()
        ):
            continue
        last = branch.body[-1]
        end_line = last.end_lineno or last.lineno
        end = min(p.src.starts[end_line - 1] + len(p.src.lines[end_line - 1]) + 1, len(p.code))
        line_start = p.src.starts[branch.lineno - 1]
        # What follows (an ``elif`` or ``else``) then continues the ``if`` above.
        yield Site("edge-case", f"drop an elif branch (line {branch.lineno})", ((line_start, end, ""),))


@_mutator("arguments")
def _argument_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """Two adjacent positional arguments swapped."""
    for node in p.of_type(ast.Call):
        if len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        for i, (a, b) in enumerate(zip(node.args, node.args[1:], strict=False)):
            ta, tb = p.seg(a), p.seg(b)
            if ta != tb:
                (sa, ea), (sb, eb) = p.src.span(a), p.src.span(b)
                desc = f"swap arguments {i + 1} and {i + 2} {p.where(node)}"
                yield Site("arguments", desc, ((sa, ea, tb), (sb, eb, ta)))


@_mutator("arguments")
def _operand_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """The operands of ``-``, ``/``, ``//``, ``%``, ``**`` swapped."""
    for node in p.of_type(ast.BinOp):
        if not isinstance(node.op, (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)):
            continue
        ta, tb = p.seg(node.left), p.seg(node.right)
        if ta != tb:
            (sa, ea), (sb, eb) = p.src.span(node.left), p.src.span(node.right)
            new_a, new_b = _paren(tb, node.right), _paren(ta, node.left)
            sym = _OP_SYMBOL[type(node.op)]
            yield Site(
                "operands",
                f"swap the operands of `{sym}` {p.where(node)}",
                ((sa, ea, new_a), (sb, eb, new_b)),
            )


_BUILTIN_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any", "int": "round", "round": "int"}
_METHOD_SWAPS: dict[str, tuple[str, ...]] = {
    "append": ("extend",), "extend": ("append",), "strip": ("lstrip", "rstrip"), "lstrip": ("rstrip",),
    "rstrip": ("lstrip",), "lower": ("upper",), "upper": ("lower",), "islower": ("isupper",),
    "isupper": ("islower",), "isdigit": ("isalpha",), "isalpha": ("isalnum",), "isalnum": ("isalpha",),
    "startswith": ("endswith",), "endswith": ("startswith",), "find": ("rfind",), "rfind": ("find",),
    "index": ("rindex",), "keys": ("values",), "values": ("keys",), "split": ("rsplit",),
    "capitalize": ("title",), "title": ("capitalize",), "remove": ("pop",), "count": ("index",),
}  # fmt: skip


def _insert_argument(p: _Program, node: ast.Call, text: str) -> Edit | None:
    """An edit adding ``text`` as the call's last argument (None when the call is unusual)."""
    start, end = p.src.span(node)
    if p.code[end - 1] != ")":
        return None
    last = [*node.args, *node.keywords]
    if not last:
        return (end - 1, end - 1, text)
    return (p.src.span(last[-1])[1], p.src.span(last[-1])[1], ", " + text)


@_mutator("builtin")
def _builtin_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """The wrong builtin (min/max, any/all, int/round) or method (append/extend, strip, lower/upper, ...)."""
    for node in p.of_type(ast.Call):
        func, where = node.func, p.where(node)
        if isinstance(func, ast.Name) and func.id in _BUILTIN_SWAPS:
            start, end = p.src.span(func)
            other = _BUILTIN_SWAPS[func.id]
            yield Site("builtin", f"`{func.id}` -> `{other}` {where}", ((start, end, other),))
        elif isinstance(func, ast.Attribute) and func.attr in _METHOD_SWAPS:
            end = p.src.span(func)[1]
            for other in _METHOD_SWAPS[func.attr]:
                desc = f"`.{func.attr}` -> `.{other}` {where}"
                yield Site("builtin", desc, ((end - len(func.attr), end, other),))
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        keywords = {k.arg for k in node.keywords}
        if (
            name == "sorted" or (name == "sort" and isinstance(func, ast.Attribute))
        ) and "reverse" not in keywords:
            edit = _insert_argument(p, node, "reverse=True")
            if edit:
                yield Site("builtin", f"sort in reverse {where}", (edit,))
        if name == "split" and isinstance(func, ast.Attribute) and not node.args and not node.keywords:
            quote = "'" if p.code.count("'") > p.code.count('"') else '"'
            edit = _insert_argument(p, node, f"{quote} {quote}")
            if edit:
                yield Site("builtin", f"`.split()` -> `.split(' ')` {where}", (edit,))


@_mutator("return")
def _return_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A wrong return value: None, another local of the same type, or the negated condition."""
    for node in p.of_type(ast.Return):
        value = node.value
        if value is None or (isinstance(value, ast.Constant) and value.value is None):
            continue
        start, end = p.src.span(value)
        where = p.where(node)
        yield Site("return", f"return None instead {where}", ((start, end, "None"),))
        if isinstance(value, ast.Name) and value.id in p.local_names:
            for other in p.same_type(value.id)[:2]:
                yield Site(
                    "return", f"return `{other}` instead of `{value.id}` {where}", ((start, end, other),)
                )
        if _value_type(value) == "bool" and not isinstance(value, ast.Constant):
            new = "not " + _paren(p.seg(value), value)
            yield Site("return", f"return the negation {where}", ((start, end, new),))


@_mutator("statement")
def _drop_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """A dropped statement (guards are edge cases, see above)."""
    for body in _stmt_lists(p.func):
        if len(body) < 2:
            continue
        for stmt in body:
            if stmt is p.docstring or _is_guard(stmt):
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            span = p.src.whole_lines(stmt)
            if span:
                desc = f"drop the {type(stmt).__name__.lower()} statement (line {stmt.lineno})"
                yield Site("drop", desc, ((span[0], span[1], ""),))


def _assigned_names(func: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


# --------------------------------------------------------------------------- rewrites


def _rewrite_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    for finder in REWRITERS:
        yield from finder(p, rng)


@_rewriter
def _rename_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
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
    free = [n for n in _NEW_NAMES if n not in p.taken]
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


@_rewriter
def _mirror_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``a < b`` -> ``b > a``."""
    for node in p.of_type(ast.Compare):
        if len(node.ops) == 1 and type(node.ops[0]) in _CMP_MIRROR:
            left, right = node.left, node.comparators[0]
            mirrored = _CMP_SYMBOL[_CMP_MIRROR[type(node.ops[0])]]
            new = f"{_paren(p.seg(right), right)} {mirrored} {_paren(p.seg(left), left)}"
            start, end = p.src.span(node)
            desc = f"`a {_CMP_SYMBOL[type(node.ops[0])]} b` -> `b {mirrored} a` {p.where(node)}"
            yield Site("mirror", desc, ((start, end, new),))


@_rewriter
def _negation_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``not (a == b)`` -> ``a != b`` (and ``in``/``is``; the other way round reads like no one writes)."""
    for node in p.of_type(ast.UnaryOp):
        cmp = node.operand
        if not (
            isinstance(node.op, ast.Not)
            and isinstance(cmp, ast.Compare)
            and len(cmp.ops) == 1
            and type(cmp.ops[0]) in _CMP_NEGATION
        ):
            continue
        old = _CMP_SYMBOL[type(cmp.ops[0])]
        neg = _CMP_SYMBOL[_CMP_NEGATION[type(cmp.ops[0])]]
        left, right = cmp.left, cmp.comparators[0]
        new = f"{_paren(p.seg(left), left)} {neg} {_paren(p.seg(right), right)}"
        start, end = p.src.span(node)
        yield Site("negation", f"`not (a {old} b)` -> `a {neg} b` {p.where(node)}", ((start, end, new),))


@_rewriter
def _ternary_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``x if c else y`` -> ``y if not c else x``."""
    for node in p.of_type(ast.IfExp):
        start, end = p.src.span(node)
        body, test, orelse = (_paren(p.seg(n), n) for n in (node.body, node.test, node.orelse))
        new = f"{orelse} if not {test} else {body}"
        yield Site(
            "ternary", f"swap the branches of a conditional expression {p.where(node)}", ((start, end, new),)
        )


@_rewriter
def _range_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``range(n)`` <-> ``range(0, n)``."""
    for node in p.of_type(ast.Call):
        if not _is_range(node):
            continue
        args = node.args
        if len(args) == 1:
            start, _ = p.src.span(args[0])
            yield Site("range", f"`range(n)` -> `range(0, n)` {p.where(node)}", ((start, start, "0, "),))
        elif (
            len(args) == 2
            and isinstance(args[0], ast.Constant)
            and type(args[0].value) is int
            and args[0].value == 0
        ):
            start, _ = p.src.span(args[0])
            end = p.src.span(args[1])[0]
            yield Site("range", f"`range(0, n)` -> `range(n)` {p.where(node)}", ((start, end, ""),))


@_rewriter
def _augassign_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``x += y`` <-> ``x = x + y`` (plain names only)."""
    for node in p.of_type(ast.AugAssign, ast.Assign):
        start, end = p.src.span(node)
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and type(node.op) in _OP_SYMBOL
        ):
            sym = _OP_SYMBOL[type(node.op)]
            value = p.seg(node.value)
            value = value if isinstance(node.value, _ATOMIC) else f"({value})"
            new = f"{node.target.id} = {node.target.id} {sym} {value}"
            yield Site("augassign", f"`x {sym}= y` -> `x = x {sym} y` {p.where(node)}", ((start, end, new),))
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.BinOp)
            and type(node.value.op) in _OP_SYMBOL
            and isinstance(node.value.left, ast.Name)
            and node.value.left.id == node.targets[0].id
            and _value_type(node.value.right) not in ("list", "?")  # ``+=`` on a list changes it in place
        ):
            sym = _OP_SYMBOL[type(node.value.op)]
            new = f"{node.targets[0].id} {sym}= {p.seg(node.value.right)}"
            yield Site("augassign", f"`x = x {sym} y` -> `x {sym}= y` {p.where(node)}", ((start, end, new),))


@_rewriter
def _commute_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``a * b`` -> ``b * a``; ``x ** 2`` -> ``x * x``."""
    for node in p.of_type(ast.BinOp):
        start, end = p.src.span(node)
        if isinstance(node.op, ast.Mult):
            ta, tb = p.seg(node.left), p.seg(node.right)
            if ta != tb and isinstance(node.left, _ATOMIC) and isinstance(node.right, _ATOMIC):
                yield Site("commute", f"`a * b` -> `b * a` {p.where(node)}", ((start, end, f"{tb} * {ta}"),))
        elif isinstance(node.op, ast.Pow) and isinstance(node.left, ast.Name) and _int_value(node.right) == 2:
            name = node.left.id
            parent = p.parents.get(node)
            text = f"{name} * {name}"
            if isinstance(parent, (ast.BinOp, ast.UnaryOp)):
                text = f"({text})"
            yield Site("commute", f"`x ** 2` -> `x * x` {p.where(node)}", ((start, end, text),))


_ITERABLE_CONSUMERS = {"sum", "any", "all", "min", "max", "sorted", "set", "tuple", "list"}


@_rewriter
def _generator_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """``sum([x for x in y])`` <-> ``sum(x for x in y)`` (and any/all/min/max/sorted/...)."""
    for node in p.of_type(ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        is_join = isinstance(node.func, ast.Attribute) and node.func.attr == "join"
        if not (name in _ITERABLE_CONSUMERS or is_join) or len(node.args) != 1 or node.keywords:
            continue
        arg = node.args[0]
        start, end = p.src.span(arg)
        text = p.seg(arg)
        if isinstance(arg, ast.ListComp):
            yield Site(
                "generator", f"list comprehension -> generator {p.where(node)}", ((start, end, text[1:-1]),)
            )
        elif isinstance(arg, ast.GeneratorExp) and text.startswith("(") and text.endswith(")"):
            new = f"([{text[1:-1]}])"
            yield Site("generator", f"generator -> list comprehension {p.where(node)}", ((start, end, new),))


def _append_loop(
    p: _Program, first: ast.stmt, second: ast.stmt
) -> tuple[str, ast.For, ast.expr, ast.expr | None] | None:
    """(name, loop, element, condition) of ``name = []`` + ``for t in it: [if c:] name.append(e)``."""
    if not (
        isinstance(first, ast.Assign)
        and len(first.targets) == 1
        and isinstance(first.targets[0], ast.Name)
        and isinstance(first.value, ast.List)
        and not first.value.elts
        and isinstance(second, ast.For)
        and not second.orelse
        and len(second.body) == 1
    ):
        return None
    name, inner, cond = first.targets[0].id, second.body[0], None
    if isinstance(inner, ast.If) and not inner.orelse and len(inner.body) == 1:
        inner, cond = inner.body[0], inner.test
    if not (
        isinstance(inner, ast.Expr)
        and isinstance(inner.value, ast.Call)
        and isinstance(inner.value.func, ast.Attribute)
        and inner.value.func.attr == "append"
        and isinstance(inner.value.func.value, ast.Name)
        and inner.value.func.value.id == name
        and len(inner.value.args) == 1
        and not inner.value.keywords
    ):
        return None
    return name, second, inner.value.args[0], cond


def _loop_variables_stay_inside(p: _Program, loop: ast.For | ast.comprehension, scope: ast.AST) -> bool:
    """Whether the loop's target names are used nowhere in the function but inside ``scope``."""
    targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    inside = {id(n) for n in ast.walk(scope)}
    return not any(
        isinstance(n, ast.Name) and n.id in targets and id(n) not in inside for n in ast.walk(p.func)
    )


@_rewriter
def _comprehension_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """An append loop <-> a list comprehension, where both sit on whole lines of their own."""
    unit = " " * max(1, p.func.body[-1].col_offset - p.func.col_offset)
    for body in _stmt_lists(p.func):
        for first, second in zip(body, body[1:], strict=False):
            found = _append_loop(p, first, second)
            sa, sb = p.src.whole_lines(first), p.src.whole_lines(second)
            if found is None or sa is None or sb is None or sa[1] != sb[0]:
                continue
            name, loop, elt, cond = found
            uses = sum(1 for n in ast.walk(loop) if isinstance(n, ast.Name) and n.id == name)
            if uses != 1 or not _loop_variables_stay_inside(p, loop, loop):
                continue
            indent = p.src.lines[first.lineno - 1][: first.col_offset]
            ifs = f" if {p.seg(cond)}" if cond is not None else ""
            new = f"{indent}{name} = [{p.seg(elt)} for {p.seg(loop.target)} in {p.seg(loop.iter)}{ifs}]\n"
            desc = f"append loop -> list comprehension (lines {first.lineno}-{second.end_lineno})"
            yield Site("comprehension", desc, ((sa[0], sb[1], new),))
    for stmt in p.of_type(ast.Assign):
        comp = stmt.value
        span = p.src.whole_lines(stmt)
        if not (
            isinstance(comp, ast.ListComp)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and len(comp.generators) == 1
            and not comp.generators[0].is_async
            and len(comp.generators[0].ifs) <= 1
            and stmt.lineno == stmt.end_lineno
            and span is not None
        ):
            continue
        gen, name = comp.generators[0], stmt.targets[0].id
        if name in _names_read(comp) or not _loop_variables_stay_inside(p, gen, comp):
            continue
        indent = p.src.lines[stmt.lineno - 1][: stmt.col_offset]
        lines = [f"{indent}{name} = []", f"{indent}for {p.seg(gen.target)} in {p.seg(gen.iter)}:"]
        inner = indent + unit
        if gen.ifs:
            lines.append(f"{inner}if {p.seg(gen.ifs[0])}:")
            inner += unit
        lines.append(f"{inner}{name}.append({p.seg(comp.elt)})")
        desc = f"list comprehension -> append loop (line {stmt.lineno})"
        yield Site("comprehension", desc, ((span[0], span[1], "\n".join(lines) + "\n"),))


@_rewriter
def _truthiness_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """In a condition: ``len(x) == 0`` -> ``not x``, ``len(x) > 0`` -> ``x``, ``n % 2 == 0`` -> ``not n % 2``."""
    for node in p.of_type(ast.Compare):
        if not (p.in_test_context(node) and len(node.ops) == 1):
            continue
        if not (isinstance(node.comparators[0], ast.Constant) and node.comparators[0].value == 0):
            continue
        left, op = node.left, node.ops[0]
        is_len = (
            isinstance(left, ast.Call)
            and isinstance(left.func, ast.Name)
            and left.func.id == "len"
            and len(left.args) == 1
        )
        is_mod = isinstance(left, ast.BinOp) and isinstance(left.op, ast.Mod)
        if not (is_len or is_mod):
            continue
        inner = left.args[0] if is_len else left  # type: ignore[union-attr]
        text = _paren(p.seg(inner), inner) if is_len else p.seg(inner)  # `%` binds tighter than `not`
        start, end = p.src.span(node)
        what = "len(x)" if is_len else "a % b"
        short = "x" if is_len else "a % b"
        if isinstance(op, ast.Eq):
            yield Site(
                "truthiness",
                f"`{what} == 0` -> `not {short}` {p.where(node)}",
                ((start, end, f"not {text}"),),
            )
        elif isinstance(op, ast.NotEq) or (is_len and isinstance(op, ast.Gt)):
            yield Site("truthiness", f"`{what} != 0` -> `{short}` {p.where(node)}", ((start, end, text),))


@_rewriter
def _de_morgan_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """In a condition: ``not (a and b)`` -> ``not a or not b``."""
    for node in p.of_type(ast.UnaryOp):
        if p.in_test_context(node) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.BoolOp):
            inner = node.operand
            joiner = " or " if isinstance(inner.op, ast.And) else " and "
            new = joiner.join(f"not {_paren(p.seg(v), v)}" for v in inner.values)
            start, end = p.src.span(node)
            yield Site("de-morgan", f"De Morgan on a condition {p.where(node)}", ((start, end, new),))


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


@_rewriter
def _reorder_sites(p: _Program, rng: random.Random) -> Iterator[Site]:
    """Two adjacent independent one-line assignments swapped."""
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
    return list(_rewrite_sites(_Program(code, entry_point), rng or random.Random(0)))


def _apply(code: str, site: Site, entry_point: str, signature: str | None) -> str | None:
    try:
        new = apply_edits(code, site.edits)
    except ValueError:
        return None
    if _signature(new, entry_point) != signature or signature is None:
        return None  # does not parse, lost the entry point, or changed its signature
    return new


def _pick(code: str, entry_point: str, rng: random.Random, sites_of: str) -> tuple[str, Site] | None:
    """Apply one randomly chosen site (``sites_of``: mutation | rewrite) to ``code``.

    A bug class (a rewrite kind) is chosen first, then a site of it: otherwise the most
    frequent ones (variable uses, constants) would crowd out the rest.
    """
    p = _Program(code, entry_point)
    sites = list(_mutation_sites(p, rng) if sites_of == "mutation" else _rewrite_sites(p, rng))
    signature = _signature(code, entry_point)
    groups: dict[str, list[Site]] = {}
    for site in sites:
        groups.setdefault(site.bug_class if sites_of == "mutation" else site.kind, []).append(site)
    names = sorted(groups)
    rng.shuffle(names)
    for name in names:
        group = groups[name]
        rng.shuffle(group)
        for site in group:
            new = _apply(code, site, entry_point, signature)
            if new is not None and normalized(new) != normalized(code):
                return new, site
    return None


def _rewrites(
    reference: str, entry_point: str, n: int, rng: random.Random, seen: set[str | None]
) -> list[Variant]:
    """Up to ``n`` distinct rewrites of the reference, half of them two rewrites stacked."""
    found: list[Variant] = []
    for _ in range(4 * n):
        if len(found) >= n:
            break
        picked = _pick(reference, entry_point, rng, "rewrite")
        if picked is None:
            break
        code, desc = picked[0], picked[1].description
        if rng.random() < 0.5:
            again = _pick(code, entry_point, rng, "rewrite")
            if again is not None:
                code, desc = again[0], f"{desc}; {again[1].description}"
        key = normalized(code)
        if key not in seen:
            seen.add(key)
            found.append(Variant(code, "rewrite", desc, "rewrite"))
    return found


def _mutants(
    reference: str, entry_point: str, n: int, rng: random.Random, seen: set[str | None], bases: list[Variant]
) -> list[Variant]:
    """Up to ``n`` distinct single-point mutants, half of them made on top of a rewrite."""
    found: list[Variant] = []
    for _ in range(6 * n):
        if len(found) >= n:
            break
        base, base_desc = reference, ""
        if bases and rng.random() < 0.5:
            chosen = rng.choice(bases)
            base, base_desc = chosen.code, chosen.transform + "; then "
        picked = _pick(base, entry_point, rng, "mutation")
        if picked is None:
            continue
        code, site = picked
        key = normalized(code)
        if key not in seen:
            seen.add(key)
            found.append(Variant(code, "mutant", base_desc + site.description, site.bug_class))
    return found


def variants(
    reference: str, entry_point: str, k: int, rng: random.Random, rewrite_share: float = 1 / 2
) -> list[Variant]:
    """The reference itself, then up to ``k`` distinct rewrites and mutants of it.

    About ``rewrite_share`` of the ``k`` are rewrites; the mutants fill the rest (and the
    share rewrites could not fill), half of them made on top of a rewrite, so that "differs
    from the reference" does not mean "wrong".
    """
    seen = {normalized(reference)}
    rewrites = _rewrites(reference, entry_point, round(k * rewrite_share), rng, seen)
    mutants = _mutants(reference, entry_point, k - len(rewrites), rng, seen, rewrites)
    return [Variant(reference, "canonical", "reference solution", "canonical"), *rewrites, *mutants]


def augment_problem(
    problem: Problem, k: int = 8, seed: int = 0, rewrite_share: float = 1 / 2
) -> list[dict[str, Any]]:
    """Candidate records for one problem; the same ``seed`` always gives the same records."""
    if problem.reference is None:
        return []
    rng = random.Random(f"{seed}:{problem.id}")
    found = [Variant(problem.reference, "canonical", "reference solution", "canonical")]
    if problem.language == "python":
        try:
            found = variants(problem.reference, problem.entry_point, k, rng, rewrite_share)
        except (SyntaxError, ValueError):
            pass
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
                "bug_class": v.bug_class,
                "seed": seed,
            }
        )
    return records


# --------------------------------------------------------------------------- balance


def balance(labels: Iterable[dict[str, Any]], ratio: float = 1.0, seed: int = 0) -> list[dict[str, Any]]:
    """Per problem, every passing label and at most ``ratio`` x as many failing mutants.

    Failing candidates that are not mutants (a rewrite that broke, a generator sample) are
    all kept. The failing mutants kept are spread over bug classes (round robin, classes and
    mutants in a seeded order), so rare classes are not crowded out. Order is kept.
    """
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for record in labels:
        by_problem.setdefault(record["problem_id"], []).append(record)
    kept: list[dict[str, Any]] = []
    for problem_id, records in by_problem.items():
        passing = sum(1 for r in records if r.get("status") == "passed")
        failing = [r for r in records if r.get("status") != "passed" and r.get("origin") == "mutant"]
        chosen = {
            id(r)
            for r in _spread(failing, int(ratio * max(passing, 1)), random.Random(f"{seed}:{problem_id}"))
        }
        kept += [
            r
            for r in records
            if r.get("status") == "passed" or r.get("origin") != "mutant" or id(r) in chosen
        ]
    return kept


def _spread(records: list[dict[str, Any]], n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` of ``records``, taken from each ``bug_class`` in turn."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get("bug_class", "?")), []).append(r)
    order = sorted(groups)
    rng.shuffle(order)
    for name in order:
        rng.shuffle(groups[name])
    out: list[dict[str, Any]] = []
    while len(out) < n and any(groups.values()):
        for name in order:
            if groups[name] and len(out) < n:
                out.append(groups[name].pop())
    return out
