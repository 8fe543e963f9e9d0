"""Behaviour-keeping rewrites across statements: locals renamed consistently through the
function, an append loop <-> a list comprehension, two independent assignments swapped.

The rewrites within one expression, and the order all of them are tried in
(:data:`~winnow.judge.dataset.rewrites.REWRITERS`), are :mod:`~winnow.judge.dataset.rewrites`.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator

from winnow.judge.dataset.source_edits import Program, Site, assigned_names, stmt_lists

_PURE_CALLS = {
    "abs", "bool", "chr", "dict", "divmod", "enumerate", "float", "frozenset", "int", "len", "list", "max",
    "min", "ord", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
}  # fmt: skip
_NEW_NAMES = (
    "acc", "answer", "buf", "counter", "cur", "current", "elem", "entry", "holder", "idx", "index", "item",
    "node", "out", "part", "piece", "pos", "res", "store", "temp", "tmp", "token", "total", "val", "value",
)  # fmt: skip


def rename_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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


def comprehension_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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


def reorder_sites(p: Program, rng: random.Random) -> Iterator[Site]:
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
