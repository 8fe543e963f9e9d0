"""What a docstring example is, and how docstring text is read into one.

An ``Example`` is a call and the value it should equal. Reading one out of prose takes care:
brackets and quotes decide where a call ends (``outside_quotes``, ``balanced_end``), an
``ExampleScope`` says which names a call or an expected value may use (the function, the
task's own names, builtins), and ``clean_expected`` keeps the longest valid expression at
the start of a text ("should return 16." means ``16``). The readers of each form build on
these: ``doctest_examples`` (``>>>`` sessions) and ``prose_examples`` (``f(x) ➞ y``,
"Input: … Output: …"); ``examples`` puts them together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["value", "assert", "raises", "text"]


@dataclass(frozen=True)
class Example:
    """One example: ``call`` is a Python expression; ``expected`` the text it should equal.

    value: ``call`` == ``expected`` (a literal, else an expression evaluated in the sandbox);
    assert: ``call`` is an assertion (``f(x) is True``), ``expected`` is None;
    raises: ``expected`` is the name of the exception ``call`` raises;
    text: ``expected`` is what ``call`` prints (or its repr), compared as whitespace-normalised text.
    """

    call: str
    expected: str | None
    kind: Kind = "value"
    line: int = 0  # 0-based line in the cleaned docstring


# --------------------------------------------------------------------------- scanning text

_OPEN, _CLOSE = "([{", ")]}"


def balanced_end(text: str, start: int) -> int | None:
    """Index after the bracket group opening at ``text[start]`` (quotes respected), or None."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote or (ch == "\n" and quote in "'\""):
                quote = "" if ch == quote else quote
                if ch == "\n":
                    return None  # an unterminated string: prose, not code
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
            if depth < 0:
                return None
        i += 1
    return None


def outside_quotes(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth before it) of every character outside string
    quotes (a backslash escapes the next character inside quotes)."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        else:
            yield i, ch, depth
            if ch in _OPEN:
                depth += 1
            elif ch in _CLOSE:
                depth -= 1
        i += 1


def depth_at_end(text: str) -> int:
    """Open brackets left at the end of ``text`` (quotes respected); negative when over-closed."""
    return sum(1 if ch in _OPEN else -1 for _, ch, _ in outside_quotes(text) if ch in _OPEN or ch in _CLOSE)


def top_level_split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets and quotes (``=`` never matches inside ``==``, ``<=``…)."""
    parts, last = [], 0
    for i, _, depth in outside_quotes(text):
        if depth != 0 or i < last or not text.startswith(sep, i):
            continue
        prev, nxt = text[i - 1 : i], text[i + len(sep) : i + len(sep) + 1]
        if sep != "=" or (prev not in "=!<>" and nxt != "=" and prev + nxt != ""):
            parts.append(text[last:i])
            last = i + len(sep)
    parts.append(text[last:])
    return parts


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ExampleScope:
    """The names an example may use: the function, the task's own names, builtins."""

    fn: str  # the function whose docstring this is
    targets: frozenset[str]  # callables whose calls count as examples
    known: frozenset[str]  # names an argument or expected value may mention
    params: tuple[str, ...]  # the function's positional parameters


_WORDS = {"true": "True", "false": "False", "none": "None", "null": "None"}


def names_in(node: ast.AST) -> set[str]:
    """The bare names ``node`` mentions (what a scope must know)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def parse_expr(text: str) -> ast.expr | None:
    """``text`` as one Python expression, or None: prose is no expression."""
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None


def is_call_of(node: ast.AST, scope: ExampleScope) -> bool:
    """Whether ``node`` calls one of the scope's targets by its bare name."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in scope.targets


def valid_call(text: str, scope: ExampleScope) -> bool:
    """A call of the function (or a task name) whose arguments use only known names."""
    node = parse_expr(text)
    if node is None or not is_call_of(node, scope):
        return False
    args = [*node.args, *(k.value for k in node.keywords)]  # type: ignore[attr-defined]
    return all(names_in(a) <= scope.known for a in args)


def valid_expected(text: str, scope: ExampleScope) -> bool:
    """An expression that does not mention the function itself (``tri(n - 1) + …`` is a definition)."""
    node = parse_expr(text)
    return node is not None and names_in(node) <= scope.known - {scope.fn}


def clean_expected(text: str, scope: ExampleScope) -> str | None:
    """The expected value at the start of ``text``: the longest prefix that is a valid expression.

    ``1 + 9 + 0 = 10`` and ``19 - 5 - 6 = 8`` mean their last part; a trailing period,
    comment or explanation is cut off; ``true``/``false`` are read as Python's.
    """
    text = text.strip()
    if text.startswith("="):  # "return = ['One']"
        text = text[1:].strip()
    parts = [p.strip() for p in top_level_split(text, "=")]
    if len(parts) > 1 and parts[-1]:
        text = parts[-1]
    if text.lower().rstrip(".") in _WORDS:
        return _WORDS[text.lower().rstrip(".")]
    for end in range(len(text), 0 if len(text) <= 2000 else len(text) - 1, -1):  # bounded work
        if end < len(text) and not (text[end].isspace() or text[end] in ".,;:(#"):
            continue
        head = text[:end].strip()
        if head and valid_expected(head, scope):
            bare = top_level_split(head, "#")[0].strip()  # "24 # sum of 21 + 3"
            head = bare if bare != head and valid_expected(bare, scope) else head
            if head.endswith(".") and valid_expected(head[:-1], scope):  # "should return 16."
                head = head[:-1]
            return head
    return None

