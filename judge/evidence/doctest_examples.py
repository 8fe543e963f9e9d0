"""The ``>>>`` examples of a docstring, read as calls and the values they should equal.

doctest compares printed text, which rarely compares right across candidates (``["a"]`` is
never ``['a']``), so each session line that calls the function becomes an ``Example`` judged
by value: ``>>> f(x)`` with its output, ``>>> f(x) == y`` (an assertion, whatever lines
follow), ``>>> f([1, 0]) [0, 1]`` (the value on the call's own line), a traceback (the
exception it raises). Statements (``>>> x = f(3)``) are setup that runs before the examples
after them. The lines a session covers are left out of the prose readers' way.
"""

from __future__ import annotations

import ast
import doctest
import re

from winnow.judge.evidence.example_syntax import (
    Example,
    ExampleScope,
    Kind,
    is_call_of,
    names_in,
    parse_expr,
    top_level_split,
)


def doctest_examples(doc: str, scope: ExampleScope) -> tuple[list[Example], set[int], list[str]]:
    """``>>>`` examples: (examples, lines they cover, sources that are setup statements)."""
    out: list[Example] = []
    covered: set[int] = set()
    setup: list[str] = []
    for ex in _session(doc):
        source = _without_comment(ex.source.strip())
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue  # left to the line scanner
        want, lines = _output(ex, tree)
        covered |= lines
        uses = names_in(tree) & scope.targets
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            if uses or not want:
                setup.append(source)  # ``>>> x = f(3)``: runs before the examples after it
            continue
        if uses:
            out.append(_example(source, tree.body[0].value, want, ex.lineno, scope))
    return out, covered, setup


def _session(doc: str) -> list[doctest.Example]:
    """doctest's examples of ``doc``; with inconsistent indentation somewhere, each ``>>>``
    block read on its own (the blocks that still do not parse left out)."""
    try:
        return doctest.DocTestParser().get_examples(doc)
    except ValueError:
        pass
    parsed: list[doctest.Example] = []
    lines = doc.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.lstrip().startswith(">>>")]
    for a, b in zip(starts, [*starts[1:], len(lines)], strict=True):
        try:
            block = doctest.DocTestParser().get_examples("\n".join(lines[a:b]))
        except ValueError:
            continue
        for ex in block:
            ex.lineno += a
            parsed.append(ex)
    return parsed


def _without_comment(source: str) -> str:
    """A one-line source without its trailing comment (``>>> round(find_zero([1, 2]), 2) # f(x) = 1 + 2x``)."""
    if "\n" not in source and "#" in source:
        bare = top_level_split(source, "#")[0].strip()
        return bare if parse_expr(bare) is not None else source
    return source


def _output(ex: doctest.Example, tree: ast.Module) -> tuple[str, set[int]]:
    """The output the example shows, and the docstring lines it covers."""
    want = ex.want.strip()
    node = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
    if node is not None and _is_equality(node) and want not in ("", "True", "False"):
        # ``>>> f(x) == y`` is an assertion: the lines under it are not its output (doctest
        # would read them so) but the docstring's next lines
        return "", set(range(ex.lineno, ex.lineno + max(ex.source.count("\n"), 1)))
    if want and parse_expr(want) is None:
        # Output lines run to a blank line in doctest; docstrings often go straight on with
        # prose or other examples: keep the longest first lines that are a value.
        wl = want.splitlines()
        k = next((k for k in range(len(wl) - 1, 0, -1) if parse_expr("\n".join(wl[:k])) is not None), 0)
        if k:
            return "\n".join(wl[:k]), set(range(ex.lineno, ex.lineno + ex.source.count("\n") + k))
    n_lines = ex.source.count("\n") + ex.want.count("\n")
    return want, set(range(ex.lineno, ex.lineno + max(n_lines, 1)))


def _example(source: str, node: ast.expr, want: str, line: int, scope: ExampleScope) -> Example:
    """The example a session line that calls the function makes, by what its output shows."""
    if want.startswith("Traceback (most recent call last)"):
        exc = want.splitlines()[-1].split(":", 1)[0].strip().rsplit(".", 1)[-1]
        return Example(source, exc, "raises", line)
    if want:
        expected = want if parse_expr(want) is not None else None
        kind: Kind = "value" if expected is not None else "text"
        if _is_equality(node) and want == "True":  # ``>>> f(x) == y`` / ``True``: compare f(x) with y
            return Example(*_sides(source, node), "value", line)  # type: ignore[arg-type]
        return Example(source, expected if expected is not None else want, kind, line)
    if _is_equality(node):  # ``>>> f(x) == y`` with no output line: an assertion, judged by value
        return Example(*_sides(source, node), "value", line)  # type: ignore[arg-type]
    if isinstance(node, ast.Subscript) and is_call_of(node.value, scope) and re.search(r"\)\s+\[", source):
        # ``>>> f([1, 0]) [0, 1]``: the expected value written on the call's line
        call = ast.get_source_segment(source, node.value) or ""
        return Example(call, source[len(call) :].strip(), "value", line)
    if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        return Example(source, None, "assert", line)  # ``>>> f(x) is True``
    return Example(source, "None", "value", line)  # doctest: no output means None


def _is_equality(node: ast.expr) -> bool:
    return isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)


def _sides(source: str, node: ast.expr) -> tuple[str, str]:
    """``f(x)`` and ``y`` of ``f(x) == y``."""
    assert isinstance(node, ast.Compare)
    return ast.get_source_segment(source, node.left) or "", ast.get_source_segment(source, node.comparators[0]) or ""
