"""Pieces of other files for a prompt: line chunks, similarity ranking, a character budget.

The shape follows llama.vscode's "extra context": chunks of a few dozen lines from files
the user opened or edited recently, ranked by the Jaccard similarity of their identifier
sets to the text around the cursor. Ahead of them go the definitions of the names the
current file imports (judge.base.definitions). Everything here is pure and deterministic,
so the same inputs give the same block, byte for byte: the engine's prompt cache then
keeps it across keystrokes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CHUNK_LINES = 16  # lines per chunk of a recently used file
CHUNK_CHARS = 800  # and at most this many characters
MIN_SIMILARITY = 0.05  # chunks less similar to the cursor's text than this are left out

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ContextFile:
    """One piece of another file shown ahead of the prompt: its workspace-relative path and text."""

    path: str
    text: str
    kind: str = "chunk"  # "definitions" | "chunk"


@dataclass(frozen=True)
class Chunk:
    path: str
    start_line: int  # 0-based
    text: str
    words: frozenset[str]


def words(text: str) -> frozenset[str]:
    """The identifiers in ``text`` (the token set the similarity compares)."""
    return frozenset(_WORD.findall(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def line_chunks(path: str, text: str, lines: int = CHUNK_LINES, max_chars: int = CHUNK_CHARS) -> list[Chunk]:
    """``text`` cut into chunks of ``lines`` lines (at most ``max_chars`` each), blank chunks dropped."""
    all_lines = text.splitlines()
    out: list[Chunk] = []
    for start in range(0, len(all_lines), lines):
        body = "\n".join(all_lines[start : start + lines]).strip("\n")
        if not body.strip():
            continue
        if len(body) > max_chars:
            body = body[:max_chars].rsplit("\n", 1)[0] if "\n" in body[:max_chars] else body[:max_chars]
        out.append(Chunk(path, start, body, words(body)))
    return out


def rank_chunks(query: str, chunks: Iterable[Chunk], min_similarity: float = MIN_SIMILARITY) -> list[Chunk]:
    """Chunks most similar to ``query`` first (ties: path, then line), the dissimilar left out."""
    q = words(query)
    scored = [(jaccard(q, c.words), c) for c in chunks]
    kept = [(s, c) for s, c in scored if s >= min_similarity]
    kept.sort(key=lambda sc: (-sc[0], sc[1].path, sc[1].start_line))
    return [c for _, c in kept]


def pack(
    definitions: Sequence[tuple[str, Sequence[str]]],
    chunks: Sequence[Chunk],
    budget_chars: int,
    skip_text: str = "",
) -> list[ContextFile]:
    """The block: definition stubs grouped by file (in the order given), then chunks,
    within ``budget_chars``. A stub or chunk that does not fit is skipped (a smaller one
    after it may still fit); a chunk whose text already appears in ``skip_text`` (the
    current window) or in the block is left out."""
    out: list[ContextFile] = []
    used = 0
    shown: set[str] = set()
    for path, stubs in definitions:
        taken: list[str] = []
        for stub in stubs:
            stub = stub.rstrip("\n")
            cost = len(stub) + 1 + (0 if taken else len(path) + 2)
            if stub in shown or used + cost > budget_chars:
                continue
            taken.append(stub)
            shown.add(stub)
            used += cost
        if taken:
            out.append(ContextFile(path, "\n".join(taken) + "\n", "definitions"))
    for chunk in chunks:
        body = chunk.text.strip("\n")
        cost = len(body) + 1 + len(chunk.path) + 2
        if used + cost > budget_chars or body in skip_text or any(body in s for s in shown):
            continue
        out.append(ContextFile(chunk.path, body + "\n", "chunk"))
        shown.add(body)
        used += cost
    return out
