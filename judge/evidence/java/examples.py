"""Find the examples in a Java method's Javadoc: each a call and the value it should equal.

Javadoc writes examples as ``{@code gcd(35, 21) == 7}``, ``{@code f(3)} returns {@code 5}``,
``{@code s.equals(...)}`` forms, lines of a ``<pre>`` block (``f(3) == 5``, ``f(3) // 5``,
``f(3) -> 5``), or prose in ``@return`` and the summary: "returns 5 for 3", "for example 6 for
123, 0 for 0", "true for "", "a"; false for "ab"". Each becomes an ``Example`` whose ``call``
and ``expected`` are Java expressions, compared by value when ``java.runs`` runs them.
Prose is read only for one-parameter methods and literal values: a sentence is never guessed
into a call.
"""

from __future__ import annotations

import html
import re

from winnow.judge.evidence.example_syntax import Example, outside_quotes

#: Java literals: strings, chars, numbers, booleans, null.
_LITERAL = r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)\'|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[LlFfDd]?|true|false|null'
_LITERAL_RE = re.compile(_LITERAL)
_CODE_TAG = re.compile(r"\{@code\s+")
_PRE = re.compile(r"<pre>(.*?)</pre>", re.DOTALL | re.IGNORECASE)
_ARROWS = (" -> ", " → ", " ⇒ ", " => ")
_PROSE_TOKEN = re.compile(rf"(?P<lit>{_LITERAL})|(?P<word>[A-Za-z]+)|(?P<sep>[,;.:()])|\s+|(?P<other>\S)")
_SEPARATORS = frozenset({",", "and", "or"})


def find_java_examples(doc: str | None, name: str, n_params: int) -> list[Example]:
    """The by-value examples of method ``name`` in its cleaned Javadoc ``doc``."""
    if not doc:
        return []
    out: list[Example] = []
    for line_no, snippet in _code_snippets(doc):
        ex = _example_from_code(snippet, name, line_no)
        if ex is not None:
            out.append(ex)
    for line_no, text in _code_then_value(doc):
        out.append(Example(text[0], text[1], "value", line_no))
    for match in _PRE.finditer(doc):
        first = doc[: match.start()].count("\n")
        for offset, line in enumerate(html.unescape(match.group(1)).splitlines()):
            ex = _example_from_code(line.strip().rstrip(";"), name, first + offset)
            if ex is not None:
                out.append(ex)
    if n_params == 1 and not out:
        out.extend(_prose_examples(doc, name))
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for ex in out:
        if (ex.call, ex.expected) not in seen:
            seen.add((ex.call, ex.expected))
            unique.append(ex)
    return unique


def _code_snippets(doc: str) -> list[tuple[int, str]]:
    """The contents of every ``{@code …}`` (braces balanced), with its line."""
    out = []
    for m in _CODE_TAG.finditer(doc):
        depth, i = 1, m.end()
        while i < len(doc) and depth:
            depth += {"{": 1, "}": -1}.get(doc[i], 0)
            i += 1
        if depth == 0:
            out.append((doc[: m.start()].count("\n"), " ".join(doc[m.end() : i - 1].split())))
    return out


def _code_then_value(doc: str) -> list[tuple[int, tuple[str, str]]]:
    """``{@code f(3)} returns {@code 5}`` / ``… is {@code 5}`` / ``… gives 5``."""
    pattern = re.compile(
        r"\{@code\s+(?P<call>[^{}]+\([^{}]*\))\s*\}\s*(?:returns|is|gives|yields|==|=|→|->)\s*"
        rf"(?:\{{@code\s+(?P<code>[^{{}}]+)\}}|(?P<lit>{_LITERAL}))"
    )
    out = []
    for m in pattern.finditer(doc):
        want = (m.group("code") or m.group("lit") or "").strip()
        if want:
            out.append((doc[: m.start()].count("\n"), (" ".join(m.group("call").split()), want)))
    return out


def _calls_method(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w$]){re.escape(name)}\s*\(", text) is not None


def _split_top(text: str, sep: str) -> tuple[str, str] | None:
    """``text`` split at its first ``sep`` outside brackets and quotes."""
    for i, _, depth in outside_quotes(text):
        if depth == 0 and text.startswith(sep, i):
            return text[:i].strip(), text[i + len(sep) :].strip()
    return None


def _example_from_code(code: str, name: str, line: int) -> Example | None:
    """``f(3) == 5``, ``f(3).equals(x)``, ``f(3) // 5``, ``f(3) -> 5``: the call, the value."""
    code = code.strip()
    if not code or not _calls_method(code, name):
        return None
    parts = _split_top(code, "==")
    if parts is None:
        for sep in ("//",) + _ARROWS:
            parts = _split_top(code, sep)
            if parts is not None:
                want = parts[1].removeprefix("returns ").removeprefix("→").strip().rstrip(".")
                parts = (parts[0].rstrip(";").strip(), want)
                break
    if parts is None:
        m = re.fullmatch(r"(?P<call>.+\))\.equals\((?P<want>.+)\)", code)
        parts = (m.group("call"), m.group("want")) if m else None
    if parts is None:
        return None
    call, want = parts
    if not call or not want or not _calls_method(call, name) or _calls_method(want, name):
        return None
    if "==" in want or want.endswith(("&&", "||")):
        return None
    return Example(call, want, "value", line)


def _prose_examples(doc: str, name: str) -> list[Example]:
    """"V for A" in sentences: "returns 6 for 123, 0 for 0", "true for "", "a"; false for "ab"."""
    out: list[Example] = []
    for line_no, line in enumerate(doc.splitlines()):
        for clause in line.split(";"):
            out.extend(_prose_clause(clause, name, line_no))
    return out


def _prose_clause(clause: str, name: str, line: int) -> list[Example]:
    tokens = [
        (kind, m.group(kind))
        for m in _PROSE_TOKEN.finditer(clause)
        for kind in ("lit", "word", "sep", "other")
        if m.group(kind) is not None
    ]
    out: list[Example] = []
    value: str | None = None
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        if kind == "lit" and nxt == ("word", "for") and after is not None and after[0] == "lit":
            if _ends_argument(tokens, i + 3):
                value = text
                out.append(Example(f"{name}({after[1]})", value, "value", line))
            i += 3
            continue
        if value is not None and kind == "sep" and text == "," or (kind == "word" and text in _SEPARATORS):
            if nxt is not None and nxt[0] == "lit" and _ends_argument(tokens, i + 2) and value is not None:
                out.append(Example(f"{name}({nxt[1]})", value, "value", line))
                i += 2
                continue
        elif kind not in ("sep", "lit"):
            value = None if kind == "other" else value
        i += 1
    return out


def _ends_argument(tokens: list[tuple[str, str]], at: int) -> bool:
    """An argument ends the clause or is followed by a separator (``, 0 for 0``), never by
    more words ("0 for 5 digits")."""
    if at >= len(tokens):
        return True
    kind, text = tokens[at]
    return (kind == "sep" and text in ",;.)") or (kind == "word" and text in _SEPARATORS)


def literal(text: str) -> bool:
    """Whether ``text`` is one Java literal."""
    return _LITERAL_RE.fullmatch(text.strip()) is not None
