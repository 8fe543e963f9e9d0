"""Single-point bugs of Java code: the Java counterpart of :mod:`~winnow.judge.dataset.mutations`.

Java problems need failing candidates as much as Python ones, and a judge must see the same
kinds of bugs in both languages, so the classes are those of ``mutations.BUG_CLASSES``
(comparison, operator, constant, off-by-one, condition, return, arguments, builtin,
variable, edge-case, statement). Each class has its own site finders here, registered in
:data:`JAVA_MUTATORS`; they read the entry method's tree-sitter tree through
:class:`~winnow.judge.dataset.java.program.JavaProgram`, and every edit is made at the byte
range of a node inside its body, so a mutant keeps the reference's layout and comments.
Each mutant must parse without ERROR/MISSING nodes and keep the method's signature; many
still compile and pass (equivalent mutants) or do not compile, so every one is labelled by
execution, never assumed wrong.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from winnow.judge.dataset.java.program import (
    COMMENTS,
    INDEX_METHODS,
    JavaProgram,
    Node,
    for_bounds,
    int_literal,
    is_guard,
    is_index_like,
    is_loop_condition,
    is_read,
    java_normalized,
    method_signature,
    negated,
    node_text,
    operator_of,
    parenthesized,
    plus_text,
    statements,
    wrong_value,
)
from winnow.judge.dataset.mutations import BUG_CLASSES
from winnow.judge.dataset.source_edits import Site, apply_edits

JavaFinder = Callable[[JavaProgram, random.Random], Iterator[Site]]

_CMP_SWAPS: dict[str, tuple[str, ...]] = {
    "<": ("<=", ">"), "<=": ("<", ">="), ">": (">=", "<"), ">=": (">", "<="), "==": ("!=",), "!=": ("==",),
}  # fmt: skip
_OP_SWAPS: dict[str, tuple[str, ...]] = {
    "+": ("-",), "-": ("+",), "*": ("+", "/"), "/": ("*",), "%": ("/",), "&": ("|",), "|": ("&",),
    "^": ("|",), "<<": (">>",), ">>": ("<<",), ">>>": (">>",),
}  # fmt: skip
_AUG_SWAPS: dict[str, tuple[str, ...]] = {
    "+=": ("-=",), "-=": ("+=",), "*=": ("+=", "/="), "/=": ("*=",), "%=": ("/=",),
}  # fmt: skip
_METHOD_SWAPS: dict[str, tuple[str, ...]] = {
    "max": ("min",), "min": ("max",), "floor": ("ceil",), "ceil": ("floor",),
    "toLowerCase": ("toUpperCase",), "toUpperCase": ("toLowerCase",),
    "startsWith": ("endsWith",), "endsWith": ("startsWith",), "indexOf": ("lastIndexOf",),
    "lastIndexOf": ("indexOf",), "isDigit": ("isLetter",), "isLetter": ("isDigit",),
    "isLetterOrDigit": ("isLetter",), "isUpperCase": ("isLowerCase",), "isLowerCase": ("isUpperCase",),
    "equals": ("equalsIgnoreCase",), "equalsIgnoreCase": ("equals",),
}  # fmt: skip
_STRING_LITERAL = re.compile(r'^"(?P<body>[^"\\\n]*)"$')


#: Mutation site finders: (bug class, finder), in report order of registration.
JAVA_MUTATORS: list[tuple[str, JavaFinder]] = []


def _mutator(bug_class: str) -> Callable[[JavaFinder], JavaFinder]:
    assert bug_class in BUG_CLASSES, bug_class

    def register(finder: JavaFinder) -> JavaFinder:
        JAVA_MUTATORS.append((bug_class, finder))
        return finder

    return register


@_mutator("off-by-one")
def _off_by_one_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """Array indices, position arguments and counting-loop bounds moved by one."""
    targets: list[tuple[str, Node]] = []
    for node in p.of_type("array_access", "method_invocation", "for_statement"):
        name = node_text(node.child_by_field_name("name"))
        if node.type == "array_access":
            targets.append(("index", node.child_by_field_name("index")))
        elif node.type == "method_invocation" and name in INDEX_METHODS:
            targets += [
                (f"`{name}` argument", a) for a in node.child_by_field_name("arguments").named_children
            ]
        elif node.type == "for_statement":
            targets += [("loop bound", b) for b in for_bounds(node)]
    for label, target in targets:
        if target is None or target.type in COMMENTS:
            continue
        for delta in (1, -1):
            desc = f"{label} {delta:+d} {p.where(target)}"
            yield Site("off-by-one", desc, (p.edit(target, plus_text(target, delta)),))


@_mutator("constant")
def _constant_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A flipped boolean, an int +-1 (outside indices and loop bounds), a changed short string."""
    for node in p.of_type("decimal_integer_literal", "true", "false", "string_literal"):
        where, old = p.where(node), node_text(node)
        value = int_literal(node)
        if node.type in ("true", "false"):
            if not is_loop_condition(node):
                new = "false" if node.type == "true" else "true"
                yield Site("constant", f"`{old}` -> `{new}` {where}", (p.edit(node, new),))
        elif value is not None:
            if is_index_like(node):
                continue
            suffix = old[len(old.rstrip("lL")) :]
            for delta in (1, -1):
                if value + delta >= 0:  # "-1" would change how `a - 0` parses
                    new = f"{value + delta}{suffix}"
                    yield Site("constant", f"`{old}` -> `{new}` {where}", (p.edit(node, new),))
        elif m := _STRING_LITERAL.match(old):
            body = m["body"]
            new = '"' + (" " if body == "" else body + body if len(body) == 1 else "") + '"'
            yield Site("constant", f"`{old}` -> `{new}` {where}", (p.edit(node, new),))


@_mutator("comparison")
def _comparison_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """``<`` -> ``<=`` / ``>``, ``==`` -> ``!=``, ..."""
    for node in p.of_type("binary_expression"):
        op = operator_of(node)
        for new in _CMP_SWAPS.get(node_text(op), ()):
            desc = f"`{node_text(op)}` -> `{new}` {p.where(node)}"
            yield Site("comparison", desc, (p.edit(op, new),))


@_mutator("operator")
def _arithmetic_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A wrong arithmetic or bitwise operator, in an expression or a compound assignment."""
    for node in p.of_type("binary_expression", "assignment_expression"):
        op = operator_of(node)
        table = _OP_SWAPS if node.type == "binary_expression" else _AUG_SWAPS
        if node_text(op) not in table:
            continue
        plus = node_text(op) in ("+", "+=")
        if plus and p.may_be_string(node.child_by_field_name("left") if "=" in node_text(op) else node):
            continue
        for new in table[node_text(op)]:
            yield Site("arithmetic", f"`{node_text(op)}` -> `{new}` {p.where(node)}", (p.edit(op, new),))


@_mutator("operator")
def _update_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """``i++`` <-> ``i--``."""
    for node in p.of_type("update_expression"):
        for child in node.children:
            if child.type in ("++", "--"):
                new = "--" if child.type == "++" else "++"
                yield Site("arithmetic", f"`{child.type}` -> `{new}` {p.where(node)}", (p.edit(child, new),))


@_mutator("operator")
def _boolean_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """``&&`` <-> ``||``."""
    for node in p.of_type("binary_expression"):
        op = operator_of(node)
        if node_text(op) in ("&&", "||"):
            new = "||" if node_text(op) == "&&" else "&&"
            yield Site("boolean", f"`{node_text(op)}` -> `{new}` {p.where(node)}", (p.edit(op, new),))


@_mutator("condition")
def _condition_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A negated ``if``/``while``/ternary condition, or a dropped ``!``."""
    for node in p.of_type("if_statement", "while_statement", "do_statement", "ternary_expression"):
        cond = node.child_by_field_name("condition")
        if cond is None:
            continue
        wrapped = cond.type == "parenthesized_expression" and bool(cond.named_children)
        inner = cond.named_children[0] if wrapped else cond
        if inner.type in ("true", "false") or inner.type in COMMENTS:
            continue  # `while (!(true))` does not compile (unreachable code)
        new = f"!({node_text(inner)})" if wrapped else negated(inner)
        yield Site("condition", f"negate the condition {p.where(node)}", (p.edit(inner, new),))
    for node in p.of_type("unary_expression"):
        if node_text(operator_of(node)) == "!":
            operand = node.child_by_field_name("operand")
            yield Site("negation", f"drop `!` {p.where(node)}", (p.edit(node, node_text(operand)),))


@_mutator("return")
def _return_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A wrong return value: 0 / null / the negation by the declared type, or another local."""
    for node in p.of_type("return_statement"):
        value = next((c for c in node.named_children if c.type not in COMMENTS), None)
        if value is None:
            continue
        where = p.where(node)
        wrong = wrong_value(p.return_type, value)
        if wrong is not None:
            yield Site("return", f"return `{wrong}` instead {where}", (p.edit(value, wrong),))
        if value.type == "identifier":
            visible = p.visible(value)
            others = sorted({v.name for v in visible if v.type == p.return_type and v.name != node_text(value)})
            for other in others[:2]:
                desc = f"return `{other}` instead of `{node_text(value)}` {where}"
                yield Site("return", desc, (p.edit(value, other),))


@_mutator("arguments")
def _argument_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """Two adjacent arguments of a call swapped."""
    for node in p.of_type("argument_list"):
        args = [a for a in node.named_children if a.type not in COMMENTS]
        for i, (a, b) in enumerate(zip(args, args[1:], strict=False)):
            if node_text(a) != node_text(b):
                desc = f"swap arguments {i + 1} and {i + 2} {p.where(node)}"
                yield Site("arguments", desc, (p.edit(a, node_text(b)), p.edit(b, node_text(a))))


@_mutator("arguments")
def _operand_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """The operands of ``-``, ``/`` or ``%`` swapped."""
    for node in p.of_type("binary_expression"):
        op = node_text(operator_of(node))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op in ("-", "/", "%") and node_text(left) != node_text(right):
            desc = f"swap the operands of `{op}` {p.where(node)}"
            yield Site("operands", desc, (p.edit(left, parenthesized(right)), p.edit(right, parenthesized(left))))


@_mutator("builtin")
def _builtin_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """The wrong library method (max/min, floor/ceil, toLowerCase/toUpperCase, indexOf, ...)."""
    for node in p.of_type("method_invocation"):
        name = node.child_by_field_name("name")
        for other in _METHOD_SWAPS.get(node_text(name), ()):
            desc = f"`{node_text(name)}` -> `{other}` {p.where(node)}"
            yield Site("builtin", desc, (p.edit(name, other),))


@_mutator("variable")
def _variable_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A read of a local replaced by another visible local of the same declared type."""
    names = {v.name for v in p.locals}
    for node in p.of_type("identifier"):
        if node_text(node) not in names or not is_read(node):
            continue
        visible = p.visible(node)
        mine = [v.type for v in visible if v.name == node_text(node)]
        others = sorted({v.name for v in visible if mine and v.type == mine[-1] and v.name != node_text(node)})
        if others:
            other = rng.choice(others)
            desc = f"`{node_text(node)}` -> `{other}` {p.where(node)}"
            yield Site("variable", desc, (p.edit(node, other),))


@_mutator("edge-case")
def _edge_case_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A dropped guard (``if (xs.length == 0) return 0;``) or a dropped ``else if`` branch."""
    for block in p.of_type("block"):
        body = statements(block)
        for stmt in body:
            edit = p.drop(stmt) if is_guard(stmt) and len(body) >= 2 else None
            if edit:
                yield Site("edge-case", f"drop the guard {p.where(stmt)}", (edit,))
    for node in p.of_type("if_statement"):
        branch = node.child_by_field_name("alternative")
        then = node.child_by_field_name("consequence")
        if branch is None or branch.type != "if_statement" or then is None:
            continue
        inner = branch.child_by_field_name("consequence")
        if inner is not None:
            edit = (p.offset(then.end_byte), p.offset(inner.end_byte), "")
            yield Site("edge-case", f"drop an else-if branch {p.where(branch)}", (edit,))


@_mutator("statement")
def _drop_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A dropped expression statement (an assignment, an update, a call)."""
    for block in p.of_type("block"):
        body = statements(block)
        for stmt in body if len(body) >= 2 else []:
            edit = p.drop(stmt) if stmt.type == "expression_statement" else None
            if edit:
                yield Site("drop", f"drop the statement {p.where(stmt)}", (edit,))


def java_mutation_sites(code: str, entry_point: str, rng: random.Random | None = None) -> list[Site]:
    """Every single-point mutation of the entry method's body (ValueError when it is not there)."""
    p, rng = JavaProgram(code, entry_point), rng or random.Random(0)
    return [
        replace(site, bug_class=bug_class) for bug_class, finder in JAVA_MUTATORS for site in finder(p, rng)
    ]


def java_mutants(code: str, entry_point: str, k: int, rng: random.Random) -> list[tuple[str, Site]]:
    """Up to ``k`` distinct mutants of ``code`` that parse and keep the entry method's signature.

    The mutants are spread over bug classes (classes, and sites within each, in an ``rng``
    order, then taken in turn), so the frequent classes (constants, variable uses) do not
    crowd out the rest. No two differ only in layout, and none equals the reference.
    """
    signature = method_signature(code, entry_point)
    if signature is None:
        return []
    seen = {java_normalized(code)}
    groups: dict[str, list[tuple[str, Site]]] = {}
    for site in java_mutation_sites(code, entry_point, rng):
        try:
            new = apply_edits(code, site.edits)
        except ValueError:
            continue
        key = java_normalized(new)
        if key is None or key in seen or method_signature(new, entry_point) != signature:
            continue
        seen.add(key)
        groups.setdefault(site.bug_class, []).append((new, site))
    order = sorted(groups)
    rng.shuffle(order)
    for name in order:
        rng.shuffle(groups[name])
    picked: list[tuple[str, Site]] = []
    while len(picked) < k and any(groups.values()):
        for name in order:
            if groups[name] and len(picked) < k:
                picked.append(groups[name].pop())
    return picked
