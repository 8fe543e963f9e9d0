"""Hints a user answered: ``# winnow: ignore`` on a function's ``def`` line silences its hints,
``# winnow: ignore[crash, example:value]`` only those kinds (``example`` all the example ones).

The comment is the language's own line comment (``//`` in Java), anywhere on the line that
names the function, so it survives reformatting of the rest of the body.
"""

from __future__ import annotations

import re

#: Every kind, as an ignore comment without brackets says.
ALL = "*"
_IGNORE = re.compile(r"winnow:\s*ignore(?:\[(?P<kinds>[^\]]*)\])?", re.IGNORECASE)


def ignored_kinds(line: str, comment: str) -> frozenset[str]:
    """What the ignore comment on ``line`` silences: nothing, ``{ALL}``, or the kinds it lists."""
    at = line.find(comment)
    while at >= 0:
        rest = line[at + len(comment) :]
        m = _IGNORE.match(rest.lstrip())
        if m is not None:
            kinds = m.group("kinds")
            return frozenset({ALL}) if kinds is None else frozenset(k.strip() for k in kinds.split(",") if k.strip())
        at = line.find(comment, at + len(comment))
    return frozenset()


def silences(ignored: frozenset[str], kind: str) -> bool:
    """Whether ``ignored`` (from ``ignored_kinds``) silences a hint of ``kind``."""
    return ALL in ignored or any(kind == k or kind.startswith(k + ":") for k in ignored)


def with_ignore(line: str, comment: str, kind: str | None) -> str:
    """``line`` with its ignore comment extended by ``kind`` (None: every kind), or one added."""
    current = ignored_kinds(line, comment)
    body = line.rstrip("\r\n")
    end = line[len(body) :]
    if current:
        m = _IGNORE.search(body)
        assert m is not None
        kinds = ALL if kind is None or ALL in current else ", ".join(sorted(current | {kind}))
        new = "winnow: ignore" if kinds == ALL else f"winnow: ignore[{kinds}]"
        return body[: m.start()] + new + body[m.end() :] + end
    tag = "winnow: ignore" if kind is None else f"winnow: ignore[{kind}]"
    return f"{body}  {comment} {tag}{end}"
