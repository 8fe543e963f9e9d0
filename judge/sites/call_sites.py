"""The literal calls of Python source: the arguments real code passes to a function, which
correctness hints try as inputs (``judge.scoring.driver_inputs``, origin "call-site").

Only calls whose every argument is a literal (``parse("a=1", strict=True)``) are kept, keyed
by the called name's last part (``mod.parse`` → ``parse``). Calls inside a block that
expects an exception (``with pytest.raises(...)``, ``with self.assertRaises(...)``) are left
out: whatever they raise is what their author wanted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from winnow.judge.sites import source_lines

MAX_PER_NAME = 8  # calls kept per called name and file
MAX_ARGUMENT_CHARS = 400  # longer argument lists are not worth sending to the sandbox
EXPECTS_RAISE = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertWarns", "assertWarnsRegex", "warns"})


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


class _Finder(ast.NodeVisitor):
    def __init__(self, source: str) -> None:
        self.lines = source_lines(source)
        self._encoded: dict[int, bytes] = {}
        self.found: dict[str, list[str]] = {}

    def _line(self, number: int) -> bytes:
        if number not in self._encoded:
            self._encoded[number] = self.lines[number - 1].encode("utf-8") if 0 < number <= len(self.lines) else b""
        return self._encoded[number]

    def segment(self, node: ast.expr) -> str:
        """The node's source text (``ast.get_source_segment`` splits the whole file each call)."""
        first, last = node.lineno, node.end_lineno or node.lineno
        start, end = node.col_offset, node.end_col_offset or 0
        if first == last:
            return self._line(first)[start:end].decode("utf-8", "replace")
        parts = [self._line(first)[start:], *(self._line(n) for n in range(first + 1, last)), self._line(last)[:end]]
        return b"".join(parts).decode("utf-8", "replace")

    def visit_With(self, node: ast.With) -> None:
        expects = any(isinstance(i.context_expr, ast.Call) and _called(i.context_expr) in EXPECTS_RAISE for i in node.items)
        if not expects:
            self.generic_visit(node)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        name = _called(node)
        if name is None or name in EXPECTS_RAISE or not (node.args or node.keywords):
            return
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return
        if not all(_is_literal(a) for a in node.args) or not all(_is_literal(k.value) for k in node.keywords):
            return
        parts = [self.segment(a) for a in node.args]
        parts += [f"{k.arg}={self.segment(k.value)}" for k in node.keywords]
        text = ", ".join(parts)
        calls = self.found.setdefault(name, [])
        if len(text) <= MAX_ARGUMENT_CHARS and text not in calls and len(calls) < MAX_PER_NAME:
            calls.append(text)


def literal_calls(tree: ast.AST, source: str) -> dict[str, tuple[str, ...]]:
    """Called name → the argument source texts of its all-literal calls in ``tree``."""
    finder = _Finder(source)
    try:
        finder.visit(tree)
    except RecursionError:
        pass
    return {k: tuple(v) for k, v in finder.found.items()}


def merge_calls(*tables: Mapping[str, tuple[str, ...]], limit: int = 2 * MAX_PER_NAME) -> dict[str, tuple[str, ...]]:
    """Several files' tables as one, each name's calls deduplicated, at most ``limit``."""
    out: dict[str, list[str]] = {}
    for table in tables:
        for name, texts in table.items():
            calls = out.setdefault(name, [])
            calls.extend(t for t in texts if t not in calls)
    return {k: tuple(v[:limit]) for k, v in out.items()}


def own_calls(source: str, qualnames: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The literal calls a module makes of its own top-level functions: qualname → texts."""
    names = {q for q in qualnames if "." not in q}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return {}
    return {k: v for k, v in literal_calls(tree, source).items() if k in names}
