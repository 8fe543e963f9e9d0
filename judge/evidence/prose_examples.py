"""Examples written in prose around a docstring's text, not as ``>>>`` sessions.

Two readers: ``line_examples`` finds a call of the function anywhere on a line followed by
what it gives (``f(x) == y``, ``f(x) ➞ y``, ``f(x) should return y``, ``f(x) # => y``), and
``io_examples`` pairs inputs with outputs written apart ("Input: … Output: …", "For x = 1,
the result should be y", ``arr = [...]`` … ``return [...]``), building the call from the
inputs (by keyword when the names are the parameters', else by position). Lines a ``>>>``
session already covers are skipped.
"""

from __future__ import annotations

import ast
import re

from winnow.judge.evidence.example_syntax import (
    Example,
    ExampleScope,
    balanced_end,
    clean_expected,
    depth_at_end,
    parse_expr,
    top_level_split,
    valid_call,
)

_SEPARATORS = re.compile(
    r"""\s*(?:
        \#\s*(?:==>|=>|->|➞|→|returns?:?)   # file_name_check("a.txt") # => 'Yes'
      | ==>|==|=>|->|➞|→|=(?!=)
      | should\s+return|should\s+be|returns?|gives|is
    )\s*""",
    re.VERBOSE | re.IGNORECASE,
)


def _call_at(text: str, start: int, scope: ExampleScope) -> tuple[str, int] | None:
    """The call starting at ``text[start]`` (a target name then ``(``) and the index after it."""
    m = re.match(r"[A-Za-z_]\w*\s*\(", text[start:])
    if not m:
        return None
    end = balanced_end(text, start + m.end() - 1)
    if end is None:
        return None
    call = text[start:end]
    if "\n" in call:
        call = " ".join(ln.strip() for ln in call.splitlines())
    return (call, end) if valid_call(call, scope) else None


def _expected_after(text: str, pos: int, scope: ExampleScope) -> str | None:
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
    while depth_at_end(value) > 0 and taken < len(following) and taken < 40:
        value += "\n" + following[taken]
        taken += 1
    return clean_expected(value, scope)


def line_examples(doc: str, scope: ExampleScope, skip: set[int]) -> list[Example]:
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


def _call_from_inputs(name: str, text: str, scope: ExampleScope) -> str | None:
    """``arr = [1, 2], k = 3`` / ``grid : [[0]]`` lines / ``3`` -> ``name(...)`` (by keyword when the
    names are the parameters', else by position)."""
    pieces = [re.sub(r"^(\w+)\s*:\s*", r"\1 = ", ln.strip()) for ln in text.splitlines() if ln.strip()]
    joined = ", ".join(p.rstrip(",") for p in pieces)
    if not joined:
        return None
    source = f"_f({joined})"
    node = parse_expr(source)
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
    return call if valid_call(call, scope) else None


def _continued(lines: list[str], i: int, first: str) -> str:
    """``first`` plus the following lines while its brackets are open."""
    value, j = first, i + 1
    while depth_at_end(value) > 0 and j < len(lines) and j - i < 40:
        value += "\n" + lines[j]
        j += 1
    return value


def io_examples(doc: str, name: str, scope: ExampleScope, skip: set[int]) -> list[Example]:
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
            parts = top_level_split(m.group("inp"), ",")
            call = next(
                (c for k in range(len(parts), 0, -1) if (c := _call_from_inputs(name, ",".join(parts[:k]), scope))),
                None,
            )
            expected = clean_expected(m.group("out"), scope)
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
            expected = clean_expected(_continued(lines, i, rest), scope)
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
