"""Single-point bugs of the classes code models make: likely-wrong variants of a reference.

:data:`BUG_CLASSES` lists the classes (off-by-one, comparisons, operators, constants, wrong
variable, edge cases, swapped arguments, wrong builtin or method, wrong return value, dropped
statement); each class has its own site finders, registered in :data:`MUTATORS`. Many
mutants are equivalent, so every one is labelled by execution, never assumed wrong.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from winnow.judge.dataset.source_edits import (
    ATOMIC,
    CMP_SYMBOL,
    OP_SYMBOL,
    Edit,
    Finder,
    Program,
    Site,
    int_value,
    is_range,
    paren,
    stmt_lists,
    value_type,
)

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

_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)
_OP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Add, ast.FloorDiv), ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div, ast.Mult), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.BitXor: (ast.BitOr,),
    ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,),
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

#: Mutation site finders: (bug class, finder). Each finder yields the sites of one idea.
MUTATORS: list[tuple[str, Finder]] = []


def _mutator(bug_class: str) -> Callable[[Finder], Finder]:
    assert bug_class in BUG_CLASSES, bug_class

    def register(finder: Finder) -> Finder:
        MUTATORS.append((bug_class, finder))
        return finder

    return register


def mutation_sites_in(p: Program, rng: random.Random) -> Iterator[Site]:
    """Every mutation site of ``p``, finder by finder, each marked with its bug class."""
    for bug_class, finder in MUTATORS:
        for site in finder(p, rng):
            yield replace(site, bug_class=bug_class)


def _paren_for_add(text: str, node: ast.AST) -> str:
    """``text`` safe to put on the left of ``+ 1`` / ``- 1``."""
    if isinstance(node, ATOMIC) or (isinstance(node, ast.BinOp) and isinstance(node.op, _ARITH)):
        return text
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        return text
    return f"({text})"


def _index_like(p: Program, node: ast.AST) -> bool:
    """Whether ``node`` is a range argument, a slice bound or an index (off-by-one territory)."""
    parent = p.parents.get(node)
    if isinstance(parent, ast.Slice):
        return node is not parent.step
    if isinstance(parent, ast.Subscript):
        return parent.slice is node
    return is_range(parent) and node in parent.args  # type: ignore[union-attr]


def _plus(p: Program, node: ast.AST, delta: int) -> str:
    """The text of ``node + delta`` as a person would write it (``i - 1`` + 1 is ``i``, not ``i - 1 + 1``)."""
    value = int_value(node)
    if value is not None:
        return str(value + delta)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        const = int_value(node.right)
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
def _off_by_one_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """Range bounds, slice bounds and indices moved by one."""
    for node in p.of_type(ast.Call, ast.Subscript):
        if isinstance(node, ast.Call) and is_range(node) and node.args:
            bounds = [("stop", node.args[0] if len(node.args) == 1 else node.args[1])]
            if len(node.args) >= 2:
                bounds.append(("start", node.args[0]))
            bounds = [(f"range {label}", arg) for label, arg in bounds]
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            s = node.slice
            bounds = [(f"slice {k} bound", b) for k, b in (("lower", s.lower), ("upper", s.upper)) if b]
        elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Tuple):
            is_int = int_value(node.slice) is not None
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
def _comparison_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``<`` -> ``<=`` / ``>``, ``==`` -> ``!=``, ``in`` -> ``not in``, ..."""
    for node in p.of_type(ast.Compare):
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            for new in _CMP_SWAPS.get(type(op), ()):
                edit = p.gap_edit(operands[i], operands[i + 1], _CMP_PATTERN[type(op)], CMP_SYMBOL[new])
                if edit:
                    desc = f"`{CMP_SYMBOL[type(op)]}` -> `{CMP_SYMBOL[new]}` {p.where(node)}"
                    yield Site("comparison", desc, (edit,))


@_mutator("operator")
def _arithmetic_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """A wrong arithmetic operator, in an expression or an augmented assignment."""
    for node in p.of_type(ast.BinOp, ast.AugAssign):
        if type(node.op) not in _OP_SWAPS:
            continue
        aug = "=" if isinstance(node, ast.AugAssign) else ""
        left, right = (node.target, node.value) if aug else (node.left, node.right)
        for new in _OP_SWAPS[type(node.op)]:
            old_s, new_s = OP_SYMBOL[type(node.op)] + aug, OP_SYMBOL[new] + aug
            edit = p.gap_edit(left, right, re.escape(old_s), new_s)
            if edit:
                yield Site("arithmetic", f"`{old_s}` -> `{new_s}` {p.where(node)}", (edit,))


@_mutator("operator")
def _boolean_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``and`` <-> ``or``."""
    for node in p.of_type(ast.BoolOp):
        old_s, new_s = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in zip(node.values, node.values[1:], strict=False):
            edit = p.gap_edit(left, right, rf"\b{old_s}\b", new_s)
            if edit:
                yield Site("boolean", f"`{old_s}` -> `{new_s}` {p.where(node)}", (edit,))


_STRING_LITERAL = re.compile(r"""^(?P<q>['"])(?P<body>[^'"\\\n]*)(?P=q)$""")


@_mutator("constant")
def _constant_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
def _variable_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """A use of a local replaced by another local of the same guessed type."""
    for node in p.of_type(ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in p.local_names:
            others = p.same_type(node.id)
            if others:
                other = rng.choice(others)
                start, end = p.src.span(node)
                yield Site("variable", f"`{node.id}` -> `{other}` {p.where(node)}", ((start, end, other),))


@_mutator("condition")
def _condition_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """A negated ``if``/``while``/ternary condition, or a dropped ``not``."""
    for node in p.of_type(ast.If, ast.While, ast.IfExp, ast.UnaryOp):
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                start, end = p.src.span(node)
                new = paren(p.seg(node.operand), node.operand)
                yield Site("negation", f"drop `not` {p.where(node)}", ((start, end, new),))
            continue
        start, end = p.src.span(node.test)
        new = "not " + paren(p.seg(node.test), node.test)
        yield Site("condition", f"negate the condition {p.where(node)}", ((start, end, new),))


def _is_guard(stmt: ast.stmt) -> bool:
    """An ``if`` without ``else`` whose body leaves: an edge case handled early."""
    exits = (ast.Return, ast.Raise, ast.Continue, ast.Break)
    return isinstance(stmt, ast.If) and not stmt.orelse and isinstance(stmt.body[-1], exits)


@_mutator("edge-case")
def _edge_case_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """A dropped guard (``if not xs: return []``) or a dropped ``elif`` branch."""
    for body in stmt_lists(p.func):
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
def _argument_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
def _operand_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """The operands of ``-``, ``/``, ``//``, ``%``, ``**`` swapped."""
    for node in p.of_type(ast.BinOp):
        if not isinstance(node.op, (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)):
            continue
        ta, tb = p.seg(node.left), p.seg(node.right)
        if ta != tb:
            (sa, ea), (sb, eb) = p.src.span(node.left), p.src.span(node.right)
            new_a, new_b = paren(tb, node.right), paren(ta, node.left)
            sym = OP_SYMBOL[type(node.op)]
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


def _insert_argument(p: Program, node: ast.Call, text: str) -> Edit | None:
    """An edit adding ``text`` as the call's last argument (None when the call is unusual)."""
    start, end = p.src.span(node)
    if p.code[end - 1] != ")":
        return None
    last = [*node.args, *node.keywords]
    if not last:
        return (end - 1, end - 1, text)
    return (p.src.span(last[-1])[1], p.src.span(last[-1])[1], ", " + text)


@_mutator("builtin")
def _builtin_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
def _return_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
        if value_type(value) == "bool" and not isinstance(value, ast.Constant):
            new = "not " + paren(p.seg(value), value)
            yield Site("return", f"return the negation {where}", ((start, end, new),))


@_mutator("statement")
def _drop_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """A dropped statement (guards are edge cases, see above)."""
    for body in stmt_lists(p.func):
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
