"""Function sites of any language: the one face the editor features, the judge's task, the
generator's prompts and the miners read.

Each language has a backend (``sites.python``: Python's ``ast``; ``sites.java``:
tree-sitter) registered in ``LANGUAGES``; the functions here take a ``language`` name and
dispatch to it, so no caller branches on a language. A new language is a module here with
a ``Language`` (``sites.site``) and one line in ``LANGUAGES``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from winnow.judge.sites.java import Java
from winnow.judge.sites.python import Python
from winnow.judge.sites.site import FunctionSite, Language, innermost_or_next, source_lines

__all__ = [
    "LANGUAGES", "FunctionSite", "Language", "backend", "function_at", "function_body", "function_code",
    "functions", "judge_task", "language_of", "outline", "parses", "replace_function", "source_lines", "source_suffixes",
    "syntax_error", "undefined_names",
]  # fmt: skip

#: Every language Winnow finds functions in, by the name editors give it (LSP language ids).
LANGUAGES: dict[str, Language] = {lang.name: lang for lang in (Python(), Java())}


def backend(language: str) -> Language | None:
    """The backend of ``language``, or None for a language Winnow has none for."""
    return LANGUAGES.get(language)


def language_of(path_or_uri: str, language_id: str | None = None) -> str | None:
    """The language of a document: the editor's id when Winnow has a backend for it, else the
    one its file name says (``.py`` → python), else None."""
    lang = (language_id or "").lower()
    if lang in LANGUAGES:
        return lang
    suffix = PurePosixPath(path_or_uri.lower()).suffix
    return next((b.name for b in LANGUAGES.values() if suffix in b.suffixes), None)


def source_suffixes() -> frozenset[str]:
    """The file name endings of every language Winnow reads (``.py``, ``.java``…)."""
    return frozenset(suffix for b in LANGUAGES.values() for suffix in b.suffixes)


def functions(source: str, language: str = "python") -> list[FunctionSite]:
    """Every function and method of ``source`` in ``language``, in source order ([] for a
    language without a backend)."""
    lang = backend(language)
    return lang.functions(source) if lang is not None else []


def function_at(source: str, line: int | None = None, language: str = "python") -> FunctionSite | None:
    """The function containing ``line`` (0-based; the innermost), else the first one starting
    after it; without a line, the one to implement first (the first documented stub)."""
    lang = backend(language)
    if lang is None:
        return None
    sites = lang.functions(source)
    if line is None:
        return lang.first_to_implement(sites)
    return innermost_or_next(sites, line)


def function_body(code: str, name: str, language: str = "python") -> str | None:
    """The body (after the header, before a Java footer) of the last function ``name`` of
    ``code``, or None when there is none (or, for Python, the code does not parse)."""
    lang = backend(language)
    return lang.function_body(code, name) if lang is not None else None


def parses(code: str, language: str = "python") -> bool:
    """Whether ``code`` parses cleanly (Python by ``ast``, others with no tree-sitter ERROR node)."""
    lang = backend(language)
    return lang is not None and lang.parses(code)


def syntax_error(code: str, language: str = "python") -> str | None:
    """Where ``code`` first fails to parse, or None (a Java method alone parses inside a class)."""
    lang = backend(language)
    return lang.syntax_error(code) if lang is not None else None


def undefined_names(code: str, language: str = "python") -> list[str]:
    """Names a linter says ``code`` uses without defining (Python: pyflakes)."""
    lang = backend(language)
    return lang.undefined_names(code) if lang is not None else []


def judge_task(source: str, site: FunctionSite, helpers: str = "") -> str:
    """The judge's task for ``site`` of ``source``, shaped like the problems a judge learns
    from: Python's imports its header names, ``helpers`` (stubs of the workspace functions
    the code calls), then the dedented signature and docstring; Java's imports, the classes
    around the method, then its header."""
    lang = backend(site.language)
    return lang.judge_task(source, site, helpers) if lang is not None else site.header


def outline(source: str, language: str) -> str:
    """What workspace context shows of a file ("" for Python, shown by its definitions' stubs)."""
    lang = backend(language)
    return lang.outline(source) if lang is not None else ""


def function_code(site: FunctionSite, body: str) -> str:
    """The whole function with ``body`` after its header: what a candidate is, and what an
    edit of its site puts in place (Python: header + body; Java: + the closing brace)."""
    body = body if body.endswith("\n") or not body else body + "\n"
    return site.header.rstrip("\n") + "\n" + body + site.footer


def replace_function(source: str, site: FunctionSite, code: str) -> str:
    """``source`` with the lines of ``site`` replaced by ``code`` (a whole function)."""
    lines = source_lines(source)
    code = code if code.endswith("\n") else code + "\n"
    return "".join(lines[: site.start_line]) + code + "".join(lines[site.end_line :])
