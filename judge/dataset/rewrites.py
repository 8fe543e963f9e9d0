"""Behaviour-keeping rewrites: likely-right variants of a reference that differ from it.

Renamed locals, mirrored comparisons, ``x += 1`` / ``x = x + 1``, loop / comprehension,
reordered independent statements, ...: each idea has its own site finder, registered in
:data:`REWRITERS`. A rewrite can still break code that inspects itself, so every one is
labelled by execution, never assumed right.
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
    assigned_names,
    int_value,
    is_range,
    paren,
    stmt_lists,
    value_type,
)

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

#: Rewrite site finders (behaviour-keeping), in the order they are tried.
REWRITERS: list[Finder] = []


def _rewriter(finder: Finder) -> Finder:
    REWRITERS.append(finder)
    return finder


def rewrite_sites_in(p: Program, rng: random.Random) -> Iterator[Site]:
    for finder in REWRITERS:
        yield from finder(p, rng)


@_rewriter
def _rename_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
    eligible = sorted(assigned_names(func) - declared - blocked - in_fstring)
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


@_rewriter
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


@_rewriter
def _ternary_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """``x if c else y`` -> ``y if not c else x``."""
    for node in p.of_type(ast.IfExp):
        start, end = p.src.span(node)
        body, test, orelse = (paren(p.seg(n), n) for n in (node.body, node.test, node.orelse))
        new = f"{orelse} if not {test} else {body}"
        yield Site(
            "ternary", f"swap the branches of a conditional expression {p.where(node)}", ((start, end, new),)
        )


@_rewriter
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


@_rewriter
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


@_rewriter
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


@_rewriter
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


def _append_loop(
    p: Program, first: ast.stmt, second: ast.stmt
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


def _loop_variables_stay_inside(p: Program, loop: ast.For | ast.comprehension, scope: ast.AST) -> bool:
    """Whether the loop's target names are used nowhere in the function but inside ``scope``."""
    targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    inside = {id(n) for n in ast.walk(scope)}
    return not any(
        isinstance(n, ast.Name) and n.id in targets and id(n) not in inside for n in ast.walk(p.func)
    )


@_rewriter
def _comprehension_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """An append loop <-> a list comprehension, where both sit on whole lines of their own."""
    unit = " " * max(1, p.func.body[-1].col_offset - p.func.col_offset)
    for body in stmt_lists(p.func):
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


@_rewriter
def _de_morgan_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """In a condition: ``not (a and b)`` -> ``not a or not b``."""
    for node in p.of_type(ast.UnaryOp):
        if p.in_test_context(node) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.BoolOp):
            inner = node.operand
            joiner = " or " if isinstance(inner.op, ast.And) else " and "
            new = joiner.join(f"not {paren(p.seg(v), v)}" for v in inner.values)
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
def _reorder_sites(p: Program, rng: random.Random) -> Iterator[Site]:
    """Two adjacent independent one-line assignments swapped."""
    for body in stmt_lists(p.func):
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
