"""A function in a file, in any language, and what a language backend must say about one.

``FunctionSite`` is the one shape every feature reads (the implement action, hints, the
judge's task, mining, workspace context); ``Language`` is what a language's backend
implements (``sites.python``: Python's ``ast``; ``sites.java``: tree-sitter), and
``winnow.judge.sites`` dispatches to it by name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def source_lines(text: str) -> list[str]:
    """``text``'s lines with their ends, split where Python (and an editor) split them: at
    ``\\n``, ``\\r\\n`` and ``\\r`` only. ``str.splitlines`` also splits at form feeds and
    other separators that old sources carry (``^L`` page breaks), which shifts every line
    number after one against ``ast``'s."""
    return _LINE.findall(text)


@dataclass(frozen=True)
class FunctionSite:
    """A function in a file (lines are 0-based, end exclusive)."""

    name: str
    start_line: int  # first line of the def (decorators excluded)
    header_end_line: int  # line after the signature + docstring
    end_line: int  # line after the last line of the function
    indent: int  # columns before ``def``
    docstring: str | None
    is_stub: bool  # body is empty, pass, ..., or raise NotImplementedError
    header: str  # signature + docstring, as written
    code: str  # the whole function, as written
    qualname: str = ""  # ``Class.method``; ``outer.<locals>.inner`` for a nested function
    docstring_line: int | None = None  # 0-based line where the docstring literal starts
    language: str = "python"
    #: What follows the body and stays when it is replaced (Java: the closing brace's line).
    footer: str = ""
    #: The declaration lines of the classes around it (Java: ``public class Solution {``),
    #: which the judge's task starts with; "" for Python, whose tasks are bare functions.
    outer: str = ""
    #: The line of the function's name (Java: after its Javadoc and annotations); -1: start_line.
    name_line: int = -1

    @property
    def def_line(self) -> int:
        """Where the function's name is: the line a hint and a hover belong to."""
        return self.start_line if self.name_line < 0 else self.name_line

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()[:16]

    def shifted(self, lines: int) -> FunctionSite:
        """The same function ``lines`` lines further down (up, when negative): its site in
        a larger or smaller window of the same text."""
        if not lines:
            return self
        return replace(
            self,
            start_line=self.start_line + lines,
            header_end_line=self.header_end_line + lines,
            end_line=self.end_line + lines,
            docstring_line=None if self.docstring_line is None else self.docstring_line + lines,
            name_line=self.name_line + lines if self.name_line >= 0 else -1,
        )


def innermost_or_next(sites: Sequence[FunctionSite], line: int) -> FunctionSite | None:
    """The innermost site containing ``line`` (0-based), else the first one starting after it."""
    containing = [s for s in sites if s.start_line <= line < s.end_line]
    if containing:
        return max(containing, key=lambda s: s.start_line)
    after = [s for s in sites if s.start_line >= line]
    return after[0] if after else None


class Language(Protocol):
    """What one language's backend knows: where its functions are and how a judge reads one.

    Registered by name in ``winnow.judge.sites.LANGUAGES``; the features never branch on a
    language's name, they ask its backend."""

    name: str
    #: File name endings of its sources (``.py``).
    suffixes: tuple[str, ...]
    #: What it calls the comment its examples come from, as a hint says it ("docstring").
    doc_comment: str
    #: What a function is called in its messages ("Python function", "Java method").
    noun: str
    #: How a line comment starts (``#``), for the ``winnow: ignore`` comments.
    line_comment: str
    #: The keyword a definition starts with, where a hint's range begins (``def``; "": the name).
    definition_keyword: str
    #: Whether an edit of a body rewrites the whole function (header and footer as written).
    rewrites_whole_function: bool

    def functions(self, source: str) -> list[FunctionSite]:
        """Every function of ``source``, in source order (tolerant of a file mid-edit)."""
        ...

    def first_to_implement(self, sites: list[FunctionSite]) -> FunctionSite | None:
        """The site ``function_at`` picks without a line: the first documented stub, or the like."""
        ...

    def parses(self, code: str) -> bool: ...

    def syntax_error(self, code: str) -> str | None:
        """Where ``code`` first fails to parse, or None."""
        ...

    def undefined_names(self, code: str) -> list[str]:
        """Names a linter says ``code`` uses without defining."""
        ...

    def judge_task(self, source: str, site: FunctionSite, helpers: str = "") -> str:
        """The judge's task for ``site`` of ``source``, shaped like the problems it learns from."""
        ...

    def function_body(self, code: str, name: str) -> str | None:
        """The body of the last function ``name`` of ``code`` (after its header, before a footer)."""
        ...

    def takes_body(self, site: FunctionSite) -> bool:
        """Whether a body can go after ``site``'s header (not a one-line ``def f(): pass``)."""
        ...

    def outline(self, source: str) -> str:
        """What workspace context shows of a file of this language ("" where the caller has its own)."""
        ...
