"""Single-point bugs of Java code: the Java counterpart of :mod:`~winnow.judge.dataset.mutations`.

Java problems need failing candidates as much as Python ones, and a judge must see the same
kinds of bugs in both languages, so the classes are those of ``mutations.BUG_CLASSES``
(comparison, operator, constant, off-by-one, condition, return, arguments, builtin,
variable, edge-case, statement). The source is parsed with tree-sitter and every edit is
made at the byte range of a node inside the entry method's body, so a mutant keeps the
reference's layout and comments. Each mutant must parse without ERROR/MISSING nodes and
keep the method's signature; many still compile and pass (equivalent mutants) or do not
compile, so every one is labelled by execution, never assumed wrong.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from winnow.judge.base import grammars
from winnow.judge.dataset.mutations import BUG_CLASSES
from winnow.judge.dataset.source_edits import Edit, Site, apply_edits

Node = Any  # tree_sitter.Node (an untyped C extension)
JavaFinder = Callable[["JavaProgram", random.Random], Iterator[Site]]

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
#: Calls whose arguments are positions (off-by-one territory, like an array index).
_INDEX_METHODS = frozenset({"charAt", "substring", "subList", "get", "codePointAt"})
#: Nodes that bind tighter than any operator put beside them (no parentheses needed).
_ATOMIC = frozenset({
    "identifier", "decimal_integer_literal", "hex_integer_literal", "decimal_floating_point_literal",
    "string_literal", "character_literal", "true", "false", "null_literal", "this", "field_access",
    "array_access", "method_invocation", "parenthesized_expression", "object_creation_expression",
    "unary_expression", "update_expression", "cast_expression",
})  # fmt: skip
_EXITS = frozenset({"return_statement", "throw_statement", "break_statement", "continue_statement"})
_COMMENTS = frozenset({"line_comment", "block_comment"})
_NUMERIC = frozenset({"int", "long", "short", "byte", "char", "float", "double"})
_STRING_LITERAL = re.compile(r'^"(?P<body>[^"\\\n]*)"$')
_STRING_METHODS = frozenset({"toString", "substring", "valueOf", "repeat", "trim"})
#: Parents of an identifier that is not a read of a local (updates, lambda parameters, labels).
_NOT_READS = frozenset({"update_expression", "lambda_expression", "inferred_parameters", "labeled_statement"})


@dataclass(frozen=True)
class _Local:
    """A parameter or initialized local: where it is visible, and its declared type."""

    name: str
    type: str
    scope: Node
    visible_from: int  # byte offset after its declarator


def parse(code: str) -> Node:
    """The tree-sitter tree of ``code``."""
    return grammars.parser("java").parse(code.encode("utf-8"))


def walk(node: Node) -> Iterator[Node]:
    """``node`` and its descendants, in source order."""
    yield node
    for child in node.children:
        yield from walk(child)


def find_method(root: Node, name: str) -> Node | None:
    """The first method named ``name`` (in any class of the file)."""
    for node in walk(root):
        if node.type == "method_declaration" and _text(node.child_by_field_name("name")) == name:
            return node
    return None


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8") if node is not None else ""


def method_signature(code: str, entry_point: str) -> str | None:
    """Return type and parameters of the entry method; None when the code has a syntax error or lacks it."""
    tree = parse(code)
    method = None if tree.root_node.has_error else find_method(tree.root_node, entry_point)
    if method is None or method.child_by_field_name("body") is None:
        return None
    return f"{_text(method.child_by_field_name('type'))} {_text(method.child_by_field_name('parameters'))}"


def normalized(code: str) -> str | None:
    """A layout- and comment-independent key of ``code`` (None when it does not parse)."""
    root = parse(code).root_node
    if root.has_error:
        return None
    leaves = [_text(n) for n in walk(root) if n.child_count == 0 and n.type not in _COMMENTS]
    return "\x00".join(leaves)


class JavaProgram:
    """The parsed source and its entry method: what the site finders read."""

    def __init__(self, code: str, entry_point: str) -> None:
        self.code = code
        self.data = code.encode("utf-8")
        self.tree = parse(code)
        self.method = find_method(self.tree.root_node, entry_point)
        self.body = self.method.child_by_field_name("body") if self.method is not None else None
        if self.tree.root_node.has_error or self.body is None:
            raise ValueError(f"no well-formed Java method {entry_point!r} with a body")

    @cached_property
    def nodes(self) -> list[Node]:
        """The body's nodes, annotations and their insides excluded."""
        out, stack = [], [self.body]
        while stack:
            node = stack.pop()
            if node.type in ("annotation", "marker_annotation"):
                continue
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def of_type(self, *types: str) -> Iterator[Node]:
        return (n for n in self.nodes if n.type in types)

    def offset(self, byte: int) -> int:
        """The character offset of a byte offset (tree-sitter counts bytes)."""
        return byte if len(self.data) == len(self.code) else len(self.data[:byte].decode("utf-8"))

    def edit(self, node: Node, text: str) -> Edit:
        return (self.offset(node.start_byte), self.offset(node.end_byte), text)

    def where(self, node: Node) -> str:
        return f"(line {node.start_point[0] + 1})"

    @cached_property
    def return_type(self) -> str:
        return _text(self.method.child_by_field_name("type"))

    @cached_property
    def locals(self) -> list[_Local]:
        return _locals_of(self.method, self.body)

    def visible(self, use: Node) -> list[_Local]:
        """The locals (with a value) that may be read at ``use``."""
        start, end = use.start_byte, use.end_byte
        return [
            v
            for v in self.locals
            if v.scope.start_byte <= start and end <= v.scope.end_byte and start >= v.visible_from
        ]

    def drop(self, node: Node) -> Edit | None:
        """Delete the full lines ``node`` occupies alone (None when it shares a line)."""
        start = self.data.rfind(b"\n", 0, node.start_byte) + 1
        end = self.data.find(b"\n", node.end_byte)
        end = len(self.data) if end < 0 else end + 1
        if self.data[start : node.start_byte].strip() or self.data[node.end_byte : end].strip():
            return None
        return (self.offset(start), self.offset(end), "")


def _locals_of(method: Node, body: Node) -> list[_Local]:
    """Parameters, initialized locals and for-each variables, with their scopes."""
    found: list[_Local] = []
    params = method.child_by_field_name("parameters")
    for p in params.named_children if params is not None else []:
        if p.type == "formal_parameter":
            found.append(_Local(_text(p.child_by_field_name("name")), _type_of(p), method, 0))
    for node in walk(body):
        if node.type == "local_variable_declaration":
            for d in node.children_by_field_name("declarator"):
                if d.child_by_field_name("value") is not None:
                    name = _text(d.child_by_field_name("name"))
                    found.append(_Local(name, _type_of(node, d), node.parent, d.end_byte))
        elif node.type == "enhanced_for_statement":
            name = node.child_by_field_name("name")
            scope = node.child_by_field_name("body")
            if name is not None and scope is not None:
                found.append(_Local(_text(name), _type_of(node), scope, scope.start_byte))
    return [v for v in found if v.type and v.type != "var"]


def _type_of(decl: Node, declarator: Node | None = None) -> str:
    dims = declarator.child_by_field_name("dimensions") if declarator is not None else None
    return _text(decl.child_by_field_name("type")) + _text(dims)


def _operator(node: Node) -> Node | None:
    return node.child_by_field_name("operator")


def paren(node: Node) -> str:
    """The text of ``node``, parenthesized unless it binds tighter than its new neighbours."""
    return _text(node) if node.type in _ATOMIC else f"({_text(node)})"


#: Mutation site finders: (bug class, finder), in report order of registration.
JAVA_MUTATORS: list[tuple[str, JavaFinder]] = []


def _mutator(bug_class: str) -> Callable[[JavaFinder], JavaFinder]:
    assert bug_class in BUG_CLASSES, bug_class

    def register(finder: JavaFinder) -> JavaFinder:
        JAVA_MUTATORS.append((bug_class, finder))
        return finder

    return register


def _int_value(node: Node) -> int | None:
    if node.type != "decimal_integer_literal":
        return None
    digits = _text(node).rstrip("lL").replace("_", "")
    return int(digits) if digits.isdigit() else None


def _index_like(node: Node) -> bool:
    """An array index, a position argument, or the bound or start of a counting ``for``."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "array_access":
        return parent.child_by_field_name("index") == node
    if parent.type == "argument_list" and parent.parent is not None:
        call = parent.parent
        return call.type == "method_invocation" and _text(call.child_by_field_name("name")) in _INDEX_METHODS
    return any(node == b for b in _for_bounds(parent.parent)) if parent.parent is not None else False


def _for_bounds(node: Node) -> list[Node]:
    """The start values and the compared bound of a ``for (int i = a; i < b; ...)``."""
    if node is None or node.type != "for_statement":
        return []
    bounds = []
    for init in node.children_by_field_name("init"):
        if init.type == "local_variable_declaration":
            bounds += [d.child_by_field_name("value") for d in init.children_by_field_name("declarator")]
    cond = node.child_by_field_name("condition")
    if cond is not None and cond.type == "binary_expression" and _text(_operator(cond)) in _CMP_SWAPS:
        bounds.append(cond.child_by_field_name("right"))
    return [b for b in bounds if b is not None]


def _plus(node: Node, delta: int) -> str:
    """The text of ``node + delta`` as a person would write it (``i - 1`` + 1 is ``i``)."""
    value = _int_value(node)
    if value is not None:
        return str(value + delta)
    if node.type == "binary_expression" and _text(_operator(node)) in ("+", "-"):
        left, right, op = node.child_by_field_name("left"), node.child_by_field_name("right"), _operator(node)
        const = _int_value(right)
        if const is not None:
            signed = (const if _text(op) == "+" else -const) + delta
            if signed == 0:
                return _text(left)
            gap = node.text[left.end_byte - node.start_byte : right.start_byte - node.start_byte].decode()
            return _text(left) + gap.replace(_text(op), "+" if signed > 0 else "-", 1) + str(abs(signed))
    arithmetic = node.type == "binary_expression" and _text(_operator(node)) in ("+", "-", "*", "/", "%")
    text = _text(node) if node.type in _ATOMIC or arithmetic else f"({_text(node)})"
    return f"{text} {'+' if delta > 0 else '-'} {abs(delta)}"


@_mutator("off-by-one")
def _off_by_one_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """Array indices, position arguments and counting-loop bounds moved by one."""
    targets: list[tuple[str, Node]] = []
    for node in p.of_type("array_access", "method_invocation", "for_statement"):
        name = _text(node.child_by_field_name("name"))
        if node.type == "array_access":
            targets.append(("index", node.child_by_field_name("index")))
        elif node.type == "method_invocation" and name in _INDEX_METHODS:
            targets += [
                (f"`{name}` argument", a) for a in node.child_by_field_name("arguments").named_children
            ]
        elif node.type == "for_statement":
            targets += [("loop bound", b) for b in _for_bounds(node)]
    for label, target in targets:
        if target is None or target.type in _COMMENTS:
            continue
        for delta in (1, -1):
            desc = f"{label} {delta:+d} {p.where(target)}"
            yield Site("off-by-one", desc, (p.edit(target, _plus(target, delta)),))


def _is_loop_condition(node: Node) -> bool:
    """A literal that is a loop's whole condition: flipping ``while (true)`` does not compile."""
    parent = node.parent
    if parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return parent is not None and parent.type in ("while_statement", "do_statement", "for_statement")


@_mutator("constant")
def _constant_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A flipped boolean, an int +-1 (outside indices and loop bounds), a changed short string."""
    for node in p.of_type("decimal_integer_literal", "true", "false", "string_literal"):
        where, old = p.where(node), _text(node)
        value = _int_value(node)
        if node.type in ("true", "false"):
            if not _is_loop_condition(node):
                new = "false" if node.type == "true" else "true"
                yield Site("constant", f"`{old}` -> `{new}` {where}", (p.edit(node, new),))
        elif value is not None:
            if _index_like(node):
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
        op = _operator(node)
        for new in _CMP_SWAPS.get(_text(op), ()):
            desc = f"`{_text(op)}` -> `{new}` {p.where(node)}"
            yield Site("comparison", desc, (p.edit(op, new),))


def _looks_string(p: JavaProgram, node: Node | None) -> bool:
    """Whether ``node`` may be a String (so ``+`` concatenates and ``-`` would not compile)."""
    if node is None:
        return False
    if node.type == "string_literal":
        return True
    if node.type == "identifier":
        return any(v.name == _text(node) and v.type == "String" for v in p.locals)
    if node.type == "method_invocation":
        return _text(node.child_by_field_name("name")) in _STRING_METHODS
    if node.type == "binary_expression" and _text(_operator(node)) == "+":
        return any(_looks_string(p, node.child_by_field_name(side)) for side in ("left", "right"))
    if node.type == "parenthesized_expression":
        return _looks_string(p, node.named_children[0] if node.named_children else None)
    return False


@_mutator("operator")
def _arithmetic_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A wrong arithmetic or bitwise operator, in an expression or a compound assignment."""
    for node in p.of_type("binary_expression", "assignment_expression"):
        op = _operator(node)
        table = _OP_SWAPS if node.type == "binary_expression" else _AUG_SWAPS
        if _text(op) not in table:
            continue
        if _text(op) in ("+", "+=") and _looks_string(
            p, node.child_by_field_name("left") if "=" in _text(op) else node
        ):
            continue
        for new in table[_text(op)]:
            yield Site("arithmetic", f"`{_text(op)}` -> `{new}` {p.where(node)}", (p.edit(op, new),))


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
        op = _operator(node)
        if _text(op) in ("&&", "||"):
            new = "||" if _text(op) == "&&" else "&&"
            yield Site("boolean", f"`{_text(op)}` -> `{new}` {p.where(node)}", (p.edit(op, new),))


def _negated(node: Node) -> str:
    return "!" + paren(node)


@_mutator("condition")
def _condition_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A negated ``if``/``while``/ternary condition, or a dropped ``!``."""
    for node in p.of_type("if_statement", "while_statement", "do_statement", "ternary_expression"):
        cond = node.child_by_field_name("condition")
        if cond is None:
            continue
        wrapped = cond.type == "parenthesized_expression" and bool(cond.named_children)
        inner = cond.named_children[0] if wrapped else cond
        if inner.type in ("true", "false") or inner.type in _COMMENTS:
            continue  # `while (!(true))` does not compile (unreachable code)
        new = f"!({_text(inner)})" if wrapped else _negated(inner)
        yield Site("condition", f"negate the condition {p.where(node)}", (p.edit(inner, new),))
    for node in p.of_type("unary_expression"):
        if _text(_operator(node)) == "!":
            operand = node.child_by_field_name("operand")
            yield Site("negation", f"drop `!` {p.where(node)}", (p.edit(node, _text(operand)),))


def _wrong_value(return_type: str, value: Node) -> str | None:
    """A value of the declared type that differs from ``value`` (0, null or the negation)."""
    if return_type == "boolean":
        return None if value.type in ("true", "false") else _negated(value)
    if return_type in _NUMERIC:
        return None if _int_value(value) == 0 else "0"
    if return_type in ("void", ""):
        return None
    return None if value.type == "null_literal" else "null"


@_mutator("return")
def _return_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A wrong return value: 0 / null / the negation by the declared type, or another local."""
    for node in p.of_type("return_statement"):
        value = next((c for c in node.named_children if c.type not in _COMMENTS), None)
        if value is None:
            continue
        where = p.where(node)
        wrong = _wrong_value(p.return_type, value)
        if wrong is not None:
            yield Site("return", f"return `{wrong}` instead {where}", (p.edit(value, wrong),))
        if value.type == "identifier":
            visible = p.visible(value)
            others = sorted({v.name for v in visible if v.type == p.return_type and v.name != _text(value)})
            for other in others[:2]:
                desc = f"return `{other}` instead of `{_text(value)}` {where}"
                yield Site("return", desc, (p.edit(value, other),))


@_mutator("arguments")
def _argument_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """Two adjacent arguments of a call swapped."""
    for node in p.of_type("argument_list"):
        args = [a for a in node.named_children if a.type not in _COMMENTS]
        for i, (a, b) in enumerate(zip(args, args[1:], strict=False)):
            if _text(a) != _text(b):
                desc = f"swap arguments {i + 1} and {i + 2} {p.where(node)}"
                yield Site("arguments", desc, (p.edit(a, _text(b)), p.edit(b, _text(a))))


@_mutator("arguments")
def _operand_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """The operands of ``-``, ``/`` or ``%`` swapped."""
    for node in p.of_type("binary_expression"):
        op = _text(_operator(node))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op in ("-", "/", "%") and _text(left) != _text(right):
            desc = f"swap the operands of `{op}` {p.where(node)}"
            yield Site("operands", desc, (p.edit(left, paren(right)), p.edit(right, paren(left))))


@_mutator("builtin")
def _builtin_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """The wrong library method (max/min, floor/ceil, toLowerCase/toUpperCase, indexOf, ...)."""
    for node in p.of_type("method_invocation"):
        name = node.child_by_field_name("name")
        for other in _METHOD_SWAPS.get(_text(name), ()):
            desc = f"`{_text(name)}` -> `{other}` {p.where(node)}"
            yield Site("builtin", desc, (p.edit(name, other),))


def _is_read(node: Node) -> bool:
    """Whether an identifier is read (not declared, assigned, a field or a method name)."""
    parent = node.parent
    if parent.type in ("variable_declarator", "enhanced_for_statement", "formal_parameter"):
        return parent.child_by_field_name("name") != node
    if parent.type == "assignment_expression":
        return parent.child_by_field_name("left") != node
    if parent.type in ("field_access", "method_invocation"):
        return not (parent.child_by_field_name("field") == node or parent.child_by_field_name("name") == node)
    return parent.type not in _NOT_READS


@_mutator("variable")
def _variable_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A read of a local replaced by another visible local of the same declared type."""
    names = {v.name for v in p.locals}
    for node in p.of_type("identifier"):
        if _text(node) not in names or not _is_read(node):
            continue
        visible = p.visible(node)
        mine = [v.type for v in visible if v.name == _text(node)]
        others = sorted({v.name for v in visible if mine and v.type == mine[-1] and v.name != _text(node)})
        if others:
            other = rng.choice(others)
            desc = f"`{_text(node)}` -> `{other}` {p.where(node)}"
            yield Site("variable", desc, (p.edit(node, other),))


def _statements(block: Node) -> list[Node]:
    return [c for c in block.named_children if c.type not in _COMMENTS]


def _is_guard(stmt: Node) -> bool:
    """An ``if`` without ``else`` whose body leaves: an edge case handled early."""
    if stmt.type != "if_statement" or stmt.child_by_field_name("alternative") is not None:
        return False
    body = stmt.child_by_field_name("consequence")
    last = _statements(body)[-1:] if body is not None and body.type == "block" else [body]
    return bool(last) and last[0] is not None and last[0].type in _EXITS


@_mutator("edge-case")
def _edge_case_sites(p: JavaProgram, rng: random.Random) -> Iterator[Site]:
    """A dropped guard (``if (xs.length == 0) return 0;``) or a dropped ``else if`` branch."""
    for block in p.of_type("block"):
        body = _statements(block)
        for stmt in body:
            edit = p.drop(stmt) if _is_guard(stmt) and len(body) >= 2 else None
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
        body = _statements(block)
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
    seen = {normalized(code)}
    groups: dict[str, list[tuple[str, Site]]] = {}
    for site in java_mutation_sites(code, entry_point, rng):
        try:
            new = apply_edits(code, site.edits)
        except ValueError:
            continue
        key = normalized(new)
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
