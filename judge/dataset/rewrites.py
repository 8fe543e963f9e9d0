"""Behaviour-keeping rewrites: likely-right variants of a reference that differ from it.

Renamed locals, mirrored comparisons, ``x += 1`` / ``x = x + 1``, loop / comprehension,
reordered independent statements, ...: each idea has its own site finder, listed in
:data:`REWRITERS`. The finders that rewrite within one expression are here; those that
rewrite across statements (renames, loops, reordering) are
:mod:`~winnow.judge.dataset.statement_rewrites`. A rewrite can still break code that
inspects itself, so every one is labelled by execution, never assumed right.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator

from winnow.judge.dataset.source_edits import (
    ATOMIC,
    CMP_SYMBOL,
    OP_SYMBOL,
    Finder,
    Program,
    Site,
    int_value,
    is_range,
    paren,
    value_type,
)
from winnow.judge.dataset.statement_rewrites import comprehension_sites, rename_sites, reorder_sites

_CMP_MIRROR: dict[type, type] = {
    ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq,
}  # fmt: skip
_CMP_NEGATION: dict[type, type] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip

def _mirror_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``a < b`` -> ``b > a``."""
    for node in p.of_type(ast.Compare):
        if len(node.ops) == 1 and type(node.ops[0]) in _CMP_MIRROR:
            left, right = node.left, node.comparators[0]
            mirrored = CMP_SYMBOL[_CMP_MIRROR[type(node.ops[0])]]
            new = f"{paren(p.seg(right), right)} {mirrored} {paren(p.seg(left), left)}"
            start, end = p.src.span(node)
            desc = f"`a {CMP_SYMBOL[type(node.ops[0])]} b` -> `b {mirrored} a` {p.where(node)}"
            yield Site("mirror", desc, ((start, end, new),))


def _negation_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
        old = CMP_SYMBOL[type(cmp.ops[0])]
        neg = CMP_SYMBOL[_CMP_NEGATION[type(cmp.ops[0])]]
        left, right = cmp.left, cmp.comparators[0]
        new = f"{paren(p.seg(left), left)} {neg} {paren(p.seg(right), right)}"
        start, end = p.src.span(node)
        yield Site("negation", f"`not (a {old} b)` -> `a {neg} b` {p.where(node)}", ((start, end, new),))


def _ternary_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``x if c else y`` -> ``y if not c else x``."""
    for node in p.of_type(ast.IfExp):
        start, end = p.src.span(node)
        body, test, orelse = (paren(p.seg(n), n) for n in (node.body, node.test, node.orelse))
        new = f"{orelse} if not {test} else {body}"
        yield Site(
            "ternary", f"swap the branches of a conditional expression {p.where(node)}", ((start, end, new),)
        )


def _range_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``range(n)`` <-> ``range(0, n)``."""
    for node in p.of_type(ast.Call):
        if not is_range(node):
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


def _augassign_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``x += y`` <-> ``x = x + y`` (plain names only)."""
    for node in p.of_type(ast.AugAssign, ast.Assign):
        start, end = p.src.span(node)
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and type(node.op) in OP_SYMBOL
        ):
            sym = OP_SYMBOL[type(node.op)]
            value = p.seg(node.value)
            value = value if isinstance(node.value, ATOMIC) else f"({value})"
            new = f"{node.target.id} = {node.target.id} {sym} {value}"
            yield Site("augassign", f"`x {sym}= y` -> `x = x {sym} y` {p.where(node)}", ((start, end, new),))
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.BinOp)
            and type(node.value.op) in OP_SYMBOL
            and isinstance(node.value.left, ast.Name)
            and node.value.left.id == node.targets[0].id
            and value_type(node.value.right) not in ("list", "?")  # ``+=`` on a list changes it in place
        ):
            sym = OP_SYMBOL[type(node.value.op)]
            new = f"{node.targets[0].id} {sym}= {p.seg(node.value.right)}"
            yield Site("augassign", f"`x = x {sym} y` -> `x {sym}= y` {p.where(node)}", ((start, end, new),))


def _commute_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``a * b`` -> ``b * a``; ``x ** 2`` -> ``x * x``."""
    for node in p.of_type(ast.BinOp):
        start, end = p.src.span(node)
        if isinstance(node.op, ast.Mult):
            ta, tb = p.seg(node.left), p.seg(node.right)
            if ta != tb and isinstance(node.left, ATOMIC) and isinstance(node.right, ATOMIC):
                yield Site("commute", f"`a * b` -> `b * a` {p.where(node)}", ((start, end, f"{tb} * {ta}"),))
        elif isinstance(node.op, ast.Pow) and isinstance(node.left, ast.Name) and int_value(node.right) == 2:
            name = node.left.id
            parent = p.parents.get(node)
            text = f"{name} * {name}"
            if isinstance(parent, (ast.BinOp, ast.UnaryOp)):
                text = f"({text})"
            yield Site("commute", f"`x ** 2` -> `x * x` {p.where(node)}", ((start, end, text),))


_ITERABLE_CONSUMERS = {"sum", "any", "all", "min", "max", "sorted", "set", "tuple", "list"}


def _generator_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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


def _truthiness_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
        text = paren(p.seg(inner), inner) if is_len else p.seg(inner)  # `%` binds tighter than `not`
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


def _de_morgan_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """In a condition: ``not (a and b)`` -> ``not a or not b``."""
    for node in p.of_type(ast.UnaryOp):
        if p.in_test_context(node) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.BoolOp):
            inner = node.operand
            joiner = " or " if isinstance(inner.op, ast.And) else " and "
            new = joiner.join(f"not {paren(p.seg(v), v)}" for v in inner.values)
            start, end = p.src.span(node)
            yield Site("de-morgan", f"De Morgan on a condition {p.where(node)}", ((start, end, new),))


#: Rewrite site finders (behaviour-keeping), in the order they are tried: the order is part
#: of what a seed draws, so a new finder goes at the end.
REWRITERS: list[Finder] = [
    rename_sites,
    _mirror_sites,
    _negation_sites,
    _ternary_sites,
    _range_sites,
    _augassign_sites,
    _commute_sites,
    _generator_sites,
    comprehension_sites,
    _truthiness_sites,
    _de_morgan_sites,
    reorder_sites,
]


def rewrite_sites_in(p: Program, rng: random.Random) -> Iterator[Site]:
    """Every rewrite site of ``p``, finder by finder (``rng`` picks the renames)."""
    for finder in REWRITERS:
        yield from finder(p, rng)
