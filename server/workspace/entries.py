"""One indexed file of the workspace: what it defines, imports and calls (Python), or its
line chunks headed by its declarations (other languages)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from winnow.judge.base.definitions import (
    Definition,
    ImportedName,
    imported_names,
    module_definitions,
    parse_module,
)
from winnow.judge.base.snippets import CHUNK_CHARS, Chunk, line_chunks, words
from winnow.judge.sites import language_of, outline
from winnow.judge.sites.call_sites import literal_calls
from winnow.server.workspace.file_walk import PYTHON_EXTENSIONS, Counters, is_python

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One indexed file."""

    path: str  # resolved absolute path (the key)
    rel: str  # path shown in prompts: relative to its root, "/"-separated
    size: int  # characters
    definitions: tuple[Definition, ...] = ()
    chunks: tuple[Chunk, ...] = ()  # other languages (Python files keep definitions)
    source: str = "disk"  # "disk" | "client"
    imports: tuple[ImportedName, ...] = ()  # Python files: what they import
    calls: tuple[tuple[str, tuple[str, ...]], ...] = ()  # Python files: called name → literal argument texts


def make_entry(path: str, rel: str, text: str, source: str, counters: Counters) -> Entry | None:
    """The entry of the file at ``path``; None for a Python file that does not parse (counted)."""
    if is_python(path):
        tree = parse_module(text)
        if tree is None:
            counters.skipped_broken += 1
            counters.last_broken = rel
            log.info("workspace index: skipping %s (it does not parse)", rel)
            return None
        try:
            defs = tuple(module_definitions(tree))
            imports = tuple(imported_names(tree))
        except (RecursionError, ValueError) as exc:
            counters.skipped_broken += 1
            counters.last_broken = rel
            log.info("workspace index: skipping %s (%s)", rel, exc)
            return None
        calls = tuple(literal_calls(tree, text).items())
        return Entry(path, rel, len(text), definitions=defs, source=source, imports=imports, calls=calls)
    chunks = line_chunks(rel, text)
    language = language_of(path)
    if language is not None:  # its declarations first (Java: signatures; Python has its stubs above)
        try:
            stub = outline(text, language)
        except (RecursionError, ValueError):
            stub = ""
        if stub:
            chunks.insert(0, Chunk(rel, 0, stub[:CHUNK_CHARS], words(stub)))
    return Entry(path, rel, len(text), chunks=tuple(chunks), source=source)


def module_names(rel: str) -> list[str]:
    """Dotted module names a root-relative Python path can be imported as
    (``src/pkg/util.py`` → ``src.pkg.util`` and ``pkg.util``)."""
    parts = rel.split("/")
    last = parts[-1]
    for ext in PYTHON_EXTENSIONS:
        if last.endswith(ext):
            last = last[: -len(ext)]
            break
    parts = parts[:-1] + ([] if last == "__init__" else [last])
    if not parts or not all(p.isidentifier() for p in parts):
        return []
    names = [".".join(parts)]
    if parts[0] in ("src", "lib") and len(parts) > 1:
        names.append(".".join(parts[1:]))
    return names
