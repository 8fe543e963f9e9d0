"""A Java method as the mutators read it: the tree-sitter tree, and where a bug can go in it.

The Java counterpart of :mod:`~winnow.judge.dataset.source_edits`. ``JavaProgram`` holds
the parsed source and its entry method: the body's nodes, the locals visible at a node
and their declared types, and edits at a node's byte range (so a mutant keeps the
reference's layout and comments). The functions below it read nodes the way the
mutators (:mod:`~winnow.judge.dataset.java.mutations`) need: which number is an index or
a loop bound, which identifier is a read, which ``if`` is a guard, and how a changed node
is written back (``i - 1`` plus one is ``i``; parentheses only where precedence needs them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from winnow.judge.base import grammars
from winnow.judge.dataset.source_edits import Edit

Node = Any  # tree_sitter.Node (an untyped C extension)

COMMENTS = frozenset({"line_comment", "block_comment"})
#: Calls whose arguments are positions (off-by-one territory, like an array index).
INDEX_METHODS = frozenset({"charAt", "substring", "subList", "get", "codePointAt"})
#: Nodes that bind tighter than any operator put beside them (no parentheses needed).
_ATOMIC = frozenset({
    "identifier", "decimal_integer_literal", "hex_integer_literal", "decimal_floating_point_literal",
    "string_literal", "character_literal", "true", "false", "null_literal", "this", "field_access",
    "array_access", "method_invocation", "parenthesized_expression", "object_creation_expression",
    "unary_expression", "update_expression", "cast_expression",
})  # fmt: skip
_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
_EXITS = frozenset({"return_statement", "throw_statement", "break_statement", "continue_statement"})
_NUMERIC = frozenset({"int", "long", "short", "byte", "char", "float", "double"})
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
        if node.type == "method_declaration" and node_text(node.child_by_field_name("name")) == name:
            return node
    return None


def node_text(node: Node | None) -> str:
    """The source text of a node ("" for a missing one)."""
    return node.text.decode("utf-8") if node is not None else ""


def method_signature(code: str, entry_point: str) -> str | None:
    """Return type and parameters of the entry method; None when the code has a syntax error or lacks it."""
    tree = parse(code)
    method = None if tree.root_node.has_error else find_method(tree.root_node, entry_point)
    if method is None or method.child_by_field_name("body") is None:
        return None
    return f"{node_text(method.child_by_field_name('type'))} {node_text(method.child_by_field_name('parameters'))}"


def java_normalized(code: str) -> str | None:
    """A layout- and comment-independent key of ``code`` (None when it does not parse)."""
    root = parse(code).root_node
    if root.has_error:
        return None
    leaves = [node_text(n) for n in walk(root) if n.child_count == 0 and n.type not in COMMENTS]
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
        """The body's nodes of the given tree-sitter types, in source order."""
        return (n for n in self.nodes if n.type in types)

    def offset(self, byte: int) -> int:
        """The character offset of a byte offset (tree-sitter counts bytes)."""
        return byte if len(self.data) == len(self.code) else len(self.data[:byte].decode("utf-8"))

    def edit(self, node: Node, text: str) -> Edit:
        """Replace ``node``'s text (as character offsets, which the edits are made in)."""
        return (self.offset(node.start_byte), self.offset(node.end_byte), text)

    def where(self, node: Node) -> str:
        """The line of ``node``, for a site's description."""
        return f"(line {node.start_point[0] + 1})"

    @cached_property
    def return_type(self) -> str:
        """The entry method's declared return type (what a wrong return value must keep)."""
        return node_text(self.method.child_by_field_name("type"))

    @cached_property
    def locals(self) -> list[_Local]:
        """The method's parameters and locals that have a value and a declared type."""
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

    def may_be_string(self, node: Node | None) -> bool:
        """Whether ``node`` may be a String (so ``+`` concatenates and ``-`` would not compile)."""
        if node is None:
            return False
        if node.type == "string_literal":
            return True
        if node.type == "identifier":
            return any(v.name == node_text(node) and v.type == "String" for v in self.locals)
        if node.type == "method_invocation":
            return node_text(node.child_by_field_name("name")) in _STRING_METHODS
        if node.type == "binary_expression" and node_text(operator_of(node)) == "+":
            return any(self.may_be_string(node.child_by_field_name(side)) for side in ("left", "right"))
        if node.type == "parenthesized_expression":
            return self.may_be_string(node.named_children[0] if node.named_children else None)
        return False


def _locals_of(method: Node, body: Node) -> list[_Local]:
    """Parameters, initialized locals and for-each variables, with their scopes."""
    found: list[_Local] = []
    params = method.child_by_field_name("parameters")
    for p in params.named_children if params is not None else []:
        if p.type == "formal_parameter":
            found.append(_Local(node_text(p.child_by_field_name("name")), _type_of(p), method, 0))
    for node in walk(body):
        if node.type == "local_variable_declaration":
            for d in node.children_by_field_name("declarator"):
                if d.child_by_field_name("value") is not None:
                    name = node_text(d.child_by_field_name("name"))
                    found.append(_Local(name, _type_of(node, d), node.parent, d.end_byte))
        elif node.type == "enhanced_for_statement":
            name = node.child_by_field_name("name")
            scope = node.child_by_field_name("body")
            if name is not None and scope is not None:
                found.append(_Local(node_text(name), _type_of(node), scope, scope.start_byte))
    return [v for v in found if v.type and v.type != "var"]


def _type_of(decl: Node, declarator: Node | None = None) -> str:
    dims = declarator.child_by_field_name("dimensions") if declarator is not None else None
    return node_text(decl.child_by_field_name("type")) + node_text(dims)


# --------------------------------------------------------------------------- reading nodes


def operator_of(node: Node) -> Node | None:
    """The operator token of a binary, unary or assignment expression."""
    return node.child_by_field_name("operator")


def int_literal(node: Node) -> int | None:
    """The value of a decimal int literal (None for any other node)."""
    if node.type != "decimal_integer_literal":
        return None
    digits = node_text(node).rstrip("lL").replace("_", "")
    return int(digits) if digits.isdigit() else None


def is_index_like(node: Node) -> bool:
    """An array index, a position argument, or the bound or start of a counting ``for``."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "array_access":
        return parent.child_by_field_name("index") == node
    if parent.type == "argument_list" and parent.parent is not None:
        call = parent.parent
        return call.type == "method_invocation" and node_text(call.child_by_field_name("name")) in INDEX_METHODS
    return any(node == b for b in for_bounds(parent.parent)) if parent.parent is not None else False


def for_bounds(node: Node) -> list[Node]:
    """The start values and the compared bound of a ``for (int i = a; i < b; ...)``."""
    if node is None or node.type != "for_statement":
        return []
    bounds = []
    for init in node.children_by_field_name("init"):
        if init.type == "local_variable_declaration":
            bounds += [d.child_by_field_name("value") for d in init.children_by_field_name("declarator")]
    cond = node.child_by_field_name("condition")
    if cond is not None and cond.type == "binary_expression" and node_text(operator_of(cond)) in _COMPARISONS:
        bounds.append(cond.child_by_field_name("right"))
    return [b for b in bounds if b is not None]


def is_loop_condition(node: Node) -> bool:
    """A literal that is a loop's whole condition: flipping ``while (true)`` does not compile."""
    parent = node.parent
    if parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return parent is not None and parent.type in ("while_statement", "do_statement", "for_statement")


def is_read(node: Node) -> bool:
    """Whether an identifier is read (not declared, assigned, a field or a method name)."""
    parent = node.parent
    if parent.type in ("variable_declarator", "enhanced_for_statement", "formal_parameter"):
        return parent.child_by_field_name("name") != node
    if parent.type == "assignment_expression":
        return parent.child_by_field_name("left") != node
    if parent.type in ("field_access", "method_invocation"):
        return not (parent.child_by_field_name("field") == node or parent.child_by_field_name("name") == node)
    return parent.type not in _NOT_READS


def statements(block: Node) -> list[Node]:
    """The statements of a block, comments left out."""
    return [c for c in block.named_children if c.type not in COMMENTS]


def is_guard(stmt: Node) -> bool:
    """An ``if`` without ``else`` whose body leaves: an edge case handled early."""
    if stmt.type != "if_statement" or stmt.child_by_field_name("alternative") is not None:
        return False
    body = stmt.child_by_field_name("consequence")
    last = statements(body)[-1:] if body is not None and body.type == "block" else [body]
    return bool(last) and last[0] is not None and last[0].type in _EXITS


# --------------------------------------------------------------------------- writing nodes


def parenthesized(node: Node) -> str:
    """The text of ``node``, parenthesized unless it binds tighter than its new neighbours."""
    return node_text(node) if node.type in _ATOMIC else f"({node_text(node)})"


def negated(node: Node) -> str:
    """``!node``, parenthesized where ``!`` would bind to part of it only."""
    return "!" + parenthesized(node)


def plus_text(node: Node, delta: int) -> str:
    """The text of ``node + delta`` as a person would write it (``i - 1`` + 1 is ``i``)."""
    value = int_literal(node)
    if value is not None:
        return str(value + delta)
    if node.type == "binary_expression" and node_text(operator_of(node)) in ("+", "-"):
        left, right, op = node.child_by_field_name("left"), node.child_by_field_name("right"), operator_of(node)
        const = int_literal(right)
        if const is not None:
            signed = (const if node_text(op) == "+" else -const) + delta
            if signed == 0:
                return node_text(left)
            gap = node.text[left.end_byte - node.start_byte : right.start_byte - node.start_byte].decode()
            return node_text(left) + gap.replace(node_text(op), "+" if signed > 0 else "-", 1) + str(abs(signed))
    arithmetic = node.type == "binary_expression" and node_text(operator_of(node)) in ("+", "-", "*", "/", "%")
    text = node_text(node) if node.type in _ATOMIC or arithmetic else f"({node_text(node)})"
    return f"{text} {'+' if delta > 0 else '-'} {abs(delta)}"


def wrong_value(return_type: str, value: Node) -> str | None:
    """A value of the declared type that differs from ``value`` (0, null or the negation)."""
    if return_type == "boolean":
        return None if value.type in ("true", "false") else negated(value)
    if return_type in _NUMERIC:
        return None if int_literal(value) == 0 else "0"
    if return_type in ("void", ""):
        return None
    return None if value.type == "null_literal" else "null"
