"""Find the examples in a task's docstring: each one a call and the value it should equal.

A docstring's examples are a cheap, strong signal: a candidate that gets one wrong is almost
surely wrong. Real docstrings write them in many ways (``>>>`` doctests, ``f(x) == y``,
``f(x) ➞ y``, ``f(x) should return y``, "Input: … Output: …", "For x = …, the result should
be …"), and as doctest text they rarely compare right (``["a"]`` never equals ``['a']``), so
each example is parsed into a call and an expected value, to be compared with ``==`` (floats
with a tolerance) when ``example_runs`` runs them in the sandbox.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import inspect
import re
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


def _balanced_end(text: str, start: int) -> int | None:
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


def _depth_at_end(text: str) -> int:
    """Open brackets left at the end of ``text`` (quotes respected); negative when over-closed."""
    return sum(1 if ch in _OPEN else -1 for _, ch, _ in outside_quotes(text) if ch in _OPEN or ch in _CLOSE)


def _top_level_split(text: str, sep: str) -> list[str]:
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
class _Scope:
    """The names an example may use: the function, the task's own names, builtins."""

    fn: str  # the function whose docstring this is
    targets: frozenset[str]  # callables whose calls count as examples
    known: frozenset[str]  # names an argument or expected value may mention
    params: tuple[str, ...]  # the function's positional parameters


_WORDS = {"true": "True", "false": "False", "none": "None", "null": "None"}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _parse_expr(text: str) -> ast.expr | None:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None


def _is_call_of(node: ast.AST, scope: _Scope) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in scope.targets


def _valid_call(text: str, scope: _Scope) -> bool:
    """A call of the function (or a task name) whose arguments use only known names."""
    node = _parse_expr(text)
    if node is None or not _is_call_of(node, scope):
        return False
    args = [*node.args, *(k.value for k in node.keywords)]  # type: ignore[attr-defined]
    return all(_names(a) <= scope.known for a in args)


def _valid_expected(text: str, scope: _Scope) -> bool:
    """An expression that does not mention the function itself (``tri(n - 1) + …`` is a definition)."""
    node = _parse_expr(text)
    return node is not None and _names(node) <= scope.known - {scope.fn}


def _clean_expected(text: str, scope: _Scope) -> str | None:
    """The expected value at the start of ``text``: the longest prefix that is a valid expression.

    ``1 + 9 + 0 = 10`` and ``19 - 5 - 6 = 8`` mean their last part; a trailing period,
    comment or explanation is cut off; ``true``/``false`` are read as Python's.
    """
    text = text.strip()
    if text.startswith("="):  # "return = ['One']"
        text = text[1:].strip()
    parts = [p.strip() for p in _top_level_split(text, "=")]
    if len(parts) > 1 and parts[-1]:
        text = parts[-1]
    if text.lower().rstrip(".") in _WORDS:
        return _WORDS[text.lower().rstrip(".")]
    for end in range(len(text), 0 if len(text) <= 2000 else len(text) - 1, -1):  # bounded work
        if end < len(text) and not (text[end].isspace() or text[end] in ".,;:(#"):
            continue
        head = text[:end].strip()
        if head and _valid_expected(head, scope):
            bare = _top_level_split(head, "#")[0].strip()  # "24 # sum of 21 + 3"
            head = bare if bare != head and _valid_expected(bare, scope) else head
            if head.endswith(".") and _valid_expected(head[:-1], scope):  # "should return 16."
                head = head[:-1]
            return head
    return None


# --------------------------------------------------------------------------- extraction

_SEPARATORS = re.compile(
    r"""\s*(?:
        \#\s*(?:==>|=>|->|➞|→|returns?:?)   # file_name_check("a.txt") # => 'Yes'
      | ==>|==|=>|->|➞|→|=(?!=)
      | should\s+return|should\s+be|returns?|gives|is
    )\s*""",
    re.VERBOSE | re.IGNORECASE,
)


def _call_at(text: str, start: int, scope: _Scope) -> tuple[str, int] | None:
    """The call starting at ``text[start]`` (a target name then ``(``) and the index after it."""
    m = re.match(r"[A-Za-z_]\w*\s*\(", text[start:])
    if not m:
        return None
    end = _balanced_end(text, start + m.end() - 1)
    if end is None:
        return None
    call = text[start:end]
    if "\n" in call:
        call = " ".join(ln.strip() for ln in call.splitlines())
    return (call, end) if _valid_call(call, scope) else None


def _expected_after(text: str, pos: int, scope: _Scope) -> str | None:
    """The expected value written after a call that ends at ``text[pos]``: separator, then value."""
    line_end = text.find("\n", pos)
    rest = text[pos : len(text) if line_end < 0 else line_end]
    m = _SEPARATORS.match(rest)
    if not m:
        return None
    value = rest[m.end() :]
    # A value that opens brackets continues on the next lines.
    following = text[len(text) if line_end < 0 else line_end + 1 :].splitlines()
    taken = 0
    while _depth_at_end(value) > 0 and taken < len(following) and taken < 40:
        value += "\n" + following[taken]
        taken += 1
    return _clean_expected(value, scope)


def _line_examples(doc: str, scope: _Scope, skip: set[int]) -> list[Example]:
    """``f(x) == y``, ``f(x) ➞ y``, ``f(x) should return y``… anywhere on a line not in ``skip``."""
    out: list[Example] = []
    offsets, total = [], 0
    for ln in doc.splitlines(keepends=True):
        offsets.append(total)
        total += len(ln)
    pattern = re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(t) for t in sorted(scope.targets)) + r")\s*\(")
    for lineno, start in enumerate(offsets):
        if lineno in skip:
            continue
        end = offsets[lineno + 1] if lineno + 1 < len(offsets) else len(doc)
        for m in pattern.finditer(doc, start, end):
            found = _call_at(doc, m.start(), scope)
            if found is None:
                continue
            call, after = found
            expected = _expected_after(doc, after, scope)
            if expected is not None:
                out.append(Example(call, expected, "value", lineno))
    return out


_INPUT = re.compile(r"^\s*(?:[-*]\s*)?input\s*:\s*(?P<rest>.*)$", re.IGNORECASE)
_OUTPUT = re.compile(r"^\s*(?:[-*]\s*)?output\s*:\s*(?P<rest>.*)$", re.IGNORECASE)
_RETURN = re.compile(r"^\s*return\b\s*(?P<rest>.*)$")
_FOR_RESULT = re.compile(
    r"^\s*for\s+(?P<inp>.+?),?\s+the\s+(?:result|output|answer)\s+should\s+be\s+(?P<out>.+)$", re.IGNORECASE
)


def _call_from_inputs(name: str, text: str, scope: _Scope) -> str | None:
    """``arr = [1, 2], k = 3`` / ``grid : [[0]]`` lines / ``3`` -> ``name(...)`` (by keyword when the
    names are the parameters', else by position)."""
    pieces = [re.sub(r"^(\w+)\s*:\s*", r"\1 = ", ln.strip()) for ln in text.splitlines() if ln.strip()]
    joined = ", ".join(p.rstrip(",") for p in pieces)
    if not joined:
        return None
    source = f"_f({joined})"
    node = _parse_expr(source)
    if not isinstance(node, ast.Call):
        return None
    values = [ast.get_source_segment(source, a) for a in node.args]
    kws = [(k.arg, ast.get_source_segment(source, k.value)) for k in node.keywords]
    if any(k is None for k, _ in kws) or any(v is None for v in values):
        return None
    named = [k for k, _ in kws if k in scope.params]
    if kws and len(named) == len(kws):
        args = [*values, *(f"{k}={v}" for k, v in kws)]
    elif (named and len(values) + len(kws) == len(scope.params)) if kws else 0 < len(values) <= len(scope.params):
        args = [*values, *(v for _, v in kws)]  # names differ from the parameters': by position
    else:
        return None
    call = f"{name}({', '.join(a for a in args if a is not None)})"
    return call if _valid_call(call, scope) else None


def _continued(lines: list[str], i: int, first: str) -> str:
    """``first`` plus the following lines while its brackets are open."""
    value, j = first, i + 1
    while _depth_at_end(value) > 0 and j < len(lines) and j - i < 40:
        value += "\n" + lines[j]
        j += 1
    return value


def _io_examples(doc: str, name: str, scope: _Scope, skip: set[int]) -> list[Example]:
    """"Input: … Output: …", "For x = 1, the result should be y", "arr = [...] … return [...]"."""
    lines = doc.splitlines()
    out: list[Example] = []
    pending: tuple[str, int] | None = None  # input text, line
    collecting = False
    for i, line in enumerate(lines):
        if i in skip:
            continue
        if m := _FOR_RESULT.match(line):
            # "For N = 150, the sum of digits will be 6 the output should be ..." : the inputs come first
            parts = _top_level_split(m.group("inp"), ",")
            call = next(
                (c for k in range(len(parts), 0, -1) if (c := _call_from_inputs(name, ",".join(parts[:k]), scope))),
                None,
            )
            expected = _clean_expected(m.group("out"), scope)
            if call and expected is not None:
                out.append(Example(call, expected, "value", i))
            collecting, pending = False, None
            continue
        if m := _INPUT.match(line):
            pending, collecting = (m.group("rest"), i), True
            continue
        out_m = _OUTPUT.match(line) or (_RETURN.match(line) if pending else None)
        if out_m and pending is not None:
            rest = out_m.group("rest")
            if not rest.strip() and i + 1 < len(lines):
                rest = lines[i + 1]
            call = _call_from_inputs(name, pending[0], scope)
            expected = _clean_expected(_continued(lines, i, rest), scope)
            if call and expected is not None:
                out.append(Example(call, expected, "value", pending[1]))
            pending, collecting = None, False
            continue
        if collecting and pending is not None:
            if line.strip():
                pending = (pending[0] + "\n" + line, pending[1])
            continue
        assign = re.match(r"^\s*(?P<param>\w+)\s*=\s*(?P<value>.+)$", line)
        if assign and assign.group("param") in scope.params and "==" not in line:
            pending = (_continued(lines, i, line.strip()), i)
        elif pending is not None and line.strip() and not line.strip().startswith("->"):
            if not _RETURN.match(line):
                pending = None
    return out


def _is_equality(node: ast.expr) -> bool:
    return isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)


def _sides(source: str, node: ast.expr) -> tuple[str, str]:
    """``f(x)`` and ``y`` of ``f(x) == y``."""
    assert isinstance(node, ast.Compare)
    return ast.get_source_segment(source, node.left) or "", ast.get_source_segment(source, node.comparators[0]) or ""


def _doctest_examples(doc: str, scope: _Scope) -> tuple[list[Example], set[int], list[str]]:
    """``>>>`` examples: (examples, lines they cover, sources that are setup statements)."""
    parsed: list[doctest.Example] = []
    try:
        parsed = doctest.DocTestParser().get_examples(doc)
    except ValueError:  # inconsistent indentation somewhere: read each ``>>>`` block on its own
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
    out: list[Example] = []
    covered: set[int] = set()
    setup: list[str] = []
    for ex in parsed:
        source, want = ex.source.strip(), ex.want.strip()
        if "\n" not in source and "#" in source:  # ``>>> round(find_zero([1, 2]), 2) # f(x) = 1 + 2x``
            bare = _top_level_split(source, "#")[0].strip()
            source = bare if _parse_expr(bare) is not None else source
        n_lines = ex.source.count("\n") + ex.want.count("\n")
        lines = set(range(ex.lineno, ex.lineno + max(n_lines, 1)))
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue  # left to the line scanner
        node0 = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
        if node0 is not None and _is_equality(node0) and want not in ("", "True", "False"):
            # ``>>> f(x) == y`` is an assertion: the lines under it are not its output (doctest
            # would read them so) but the docstring's next lines
            want = ""
            lines = set(range(ex.lineno, ex.lineno + max(ex.source.count("\n"), 1)))
        elif want and _parse_expr(want) is None:
            # Output lines run to a blank line in doctest; docstrings often go straight on with
            # prose or other examples: keep the longest first lines that are a value.
            wl = want.splitlines()
            k = next((k for k in range(len(wl) - 1, 0, -1) if _parse_expr("\n".join(wl[:k])) is not None), 0)
            if k:
                want = "\n".join(wl[:k])
                lines = set(range(ex.lineno, ex.lineno + ex.source.count("\n") + k))
        covered |= lines
        uses = _names(tree) & scope.targets
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            if uses or not want:
                setup.append(source)  # ``>>> x = f(3)``: runs before the examples after it
            continue
        if not uses:
            continue
        node = tree.body[0].value
        if want.startswith("Traceback (most recent call last)"):
            exc = want.splitlines()[-1].split(":", 1)[0].strip().rsplit(".", 1)[-1]
            out.append(Example(source, exc, "raises", ex.lineno))
        elif want:
            expected = want if _parse_expr(want) is not None else None
            kind: Kind = "value" if expected is not None else "text"
            if _is_equality(node) and want == "True":  # ``>>> f(x) == y`` / ``True``: compare f(x) with y
                out.append(Example(*_sides(source, node), "value", ex.lineno))  # type: ignore[arg-type]
            else:
                out.append(Example(source, expected if expected is not None else want, kind, ex.lineno))
        elif _is_equality(node):  # ``>>> f(x) == y`` with no output line: an assertion, judged by value
            out.append(Example(*_sides(source, node), "value", ex.lineno))  # type: ignore[arg-type]
        elif isinstance(node, ast.Subscript) and _is_call_of(node.value, scope) and re.search(
            r"\)\s+\[", source
        ):  # ``>>> f([1, 0]) [0, 1]``: the expected value written on the call's line
            call = ast.get_source_segment(source, node.value) or ""
            out.append(Example(call, source[len(call) :].strip(), "value", ex.lineno))
        elif isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
            out.append(Example(source, None, "assert", ex.lineno))  # ``>>> f(x) is True``
        else:
            out.append(Example(source, "None", "value", ex.lineno))  # doctest: no output means None
    return out, covered, setup


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _parse_module(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        from winnow.judge.sites import functions

        sites = functions(source)
        if not sites:
            return None
        try:  # the header and docstring of each function are enough to find examples
            return ast.parse("\n".join(_stubbed(s.header) for s in sites if s.indent == 0))
        except (SyntaxError, ValueError):
            return None


def _stubbed(header: str) -> str:
    return header.rstrip() + "\n    ...\n"


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _examples_of(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, module: set[str], callables: set[str]
) -> tuple[list[Example], list[str]]:
    doc = _docstring(fn)
    if not doc:
        return [], []
    # Only calls of the function itself and of the task's own functions and classes are examples.
    scope = _Scope(
        fn=fn.name,
        targets=frozenset({fn.name} | callables),
        known=frozenset(set(dir(builtins)) | module | {fn.name}),
        params=tuple(a.arg for a in [*fn.args.posonlyargs, *fn.args.args]),
    )
    examples, covered, setup = _doctest_examples(doc, scope)
    examples += _line_examples(doc, scope, covered)
    examples += _io_examples(doc, fn.name, scope, covered)
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for ex in sorted(examples, key=lambda e: e.line):
        key = (" ".join(ex.call.split()), ex.expected)
        if key not in seen:
            seen.add(key)
            unique.append(ex)
    return unique, setup


def _docstring(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The docstring, or the string right after the body's first imports (``import math`` then
    the text, as in HumanEval/115: Python sees no docstring there, a reader does)."""
    for node in fn.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return inspect.cleandoc(node.value.value)
        return None
    return None


def find_examples(source: str, name: str | None = None) -> list[Example]:
    """The examples in the docstring of function ``name`` of ``source`` (a task or a whole candidate).

    Without ``name``: the last top-level function whose docstring has examples (the function
    a task asks for comes after its helpers).
    """
    return find_examples_and_setup(source, name)[0]


def find_examples_and_setup(source: str, name: str | None = None) -> tuple[list[Example], list[str], str | None]:
    """:func:`find_examples`, with the ``>>>`` setup statements that run before them (``>>> x = f(3)``)
    and the name of the function they were read from (None when there was none to read)."""
    tree = _parse_module(source)
    if tree is None:
        return [], [], None
    module = _module_names(tree)
    fns = _functions(tree)
    callables = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    chosen = [f for f in fns if f.name == name] if name else list(reversed(fns))
    for fn in chosen:
        examples, setup = _examples_of(fn, module, callables)
        if examples or name:
            return examples, setup, fn.name
    return [], [], None
