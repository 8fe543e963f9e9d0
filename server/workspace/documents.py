"""Open documents as the server reads them: snapshots, positions, cursor context.

pygls keeps each open document's text in sync; this module turns it into what the
handlers need, with bounded work on any document size:

- ``OpenDocuments``: the server's snapshots of pygls' open documents, one per version;
- ``Snapshot``: one version of a document (text, lines index built lazily, at most
  once per version) and LSP position ↔ offset conversion in the client's encoding
  (pygls' position codec, one line at a time);
- ``cursor_context``: the prefix/suffix windows around a cursor, sized in tokens by a
  character estimate (a 10 MB file is never tokenized), with a window start that
  only moves in steps so that the engine's KV cache survives typing;
- ``function_sites``: the functions of a document version (pysource), cached on
  its snapshot, on a window of lines around the cursor for very large files.

Lone surrogates (text a client could not encode as UTF-8) become U+FFFD, which has
the same length in code points and in UTF-16 units, so positions stay valid.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import Workspace
from pygls.workspace.position_codec import PositionCodec

from winnow.judge.sites import FunctionSite, functions, language_of

CHARS_PER_TOKEN = 3.5  # measured on Python source with SmolLM2's tokenizer (6246 chars → 1791 tokens)
PREFIX_TOKENS = 320  # prompt budget before the cursor
SUFFIX_TOKENS = 96  # text after the cursor (FIM models; dedup and stop rules otherwise)
MAX_ANALYSED_CHARS = 1_000_000  # parse whole documents up to this size
ANALYSIS_WINDOW_LINES = 600  # lines parsed around the cursor in larger documents
FUNCTION_WINDOWS = 8  # parsed windows of lines kept per document version

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Replace lone surrogates (undecodable input) by U+FFFD; other text is unchanged."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


class Snapshot:
    """One version of an open document."""

    def __init__(self, uri: str, text: str, version: int | None, language_id: str | None, encoding: str) -> None:
        self.uri = uri
        self.text = text
        self.version = version
        self.language_id = language_id
        self.encoding = encoding  # "utf-16" | "utf-8" | "utf-32"
        self.codec = PositionCodec(types.PositionEncodingKind(encoding))
        self._starts: list[int] | None = None
        # (first line, end line) of a parsed window → its functions (function_sites)
        self.function_windows: OrderedDict[tuple[int, int], list[FunctionSite]] = OrderedDict()

    @property
    def language(self) -> str | None:
        """The language whose functions Winnow finds here ("python", "java"), else None."""
        return language_of(self.uri, self.language_id)

    @property
    def is_python(self) -> bool:
        """Whether Python-only help applies (the workspace's definitions in prompts)."""
        return self.language == "python"

    @property
    def line_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in _LINE_BREAK.finditer(self.text)]
        return self._starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_text(self, line: int) -> str:
        """The text of ``line`` without its line break ("" past the end)."""
        starts = self.line_starts
        if line < 0 or line >= len(starts):
            return ""
        start = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset_at(self, position: types.Position) -> int:
        """Code-point offset of an LSP position (clamped into the document)."""
        starts = self.line_starts
        line = max(0, position.line)
        if line >= len(starts):
            return len(self.text)
        text = self.line_text(line)
        # Past the line's end means its end (the codec would step one character back).
        units = min(max(0, position.character), self.codec.client_num_units(text))
        column = self.codec.position_from_client_units([text], types.Position(line=0, character=units))
        return starts[line] + column.character

    def position_at(self, offset: int) -> types.Position:
        """LSP position of a code-point offset."""
        offset = max(0, min(offset, len(self.text)))
        starts = self.line_starts
        line = bisect.bisect_right(starts, offset) - 1
        return types.Position(line=line, character=self.client_column(line, offset - starts[line]))

    def end_position(self) -> types.Position:
        return self.position_at(len(self.text))

    def client_column(self, line: int, column: int) -> int:
        """A code-point column of ``line`` in the client's units."""
        return self.codec.client_num_units(self.line_text(line)[:column])


def encoding_name(position_encoding: Any) -> str:
    value = str(getattr(position_encoding, "value", position_encoding) or "utf-16").lower()
    return value if value in ("utf-8", "utf-16", "utf-32") else "utf-16"


class HasWorkspace(Protocol):
    @property
    def workspace(self) -> Workspace: ...


class OpenDocuments:
    """Snapshots of the documents open in the editor (pygls keeps their text), one per
    document version: the same version gives the same Snapshot, with what was cached on it."""

    def __init__(self, ls: HasWorkspace) -> None:
        self.ls = ls
        self._snapshots: dict[str, tuple[str, Snapshot]] = {}

    def snapshot(self, uri: str) -> Snapshot | None:
        """The open document at ``uri``, or None when it is not open. Only documents the
        client opened are read (their text came with didOpen), so this never reads disk."""
        try:
            workspace = self.ls.workspace
            docs = workspace.text_documents
        except Exception:  # not initialized yet
            return None
        doc = docs.get(uri)
        if doc is None:
            doc = docs.get(unquote(uri))
        if doc is None:
            return None
        encoding = encoding_name(getattr(workspace, "position_encoding", None))
        raw = doc.source
        cached = self._snapshots.get(uri)
        if cached is not None and cached[0] is raw and cached[1].version == doc.version and cached[1].encoding == encoding:
            return cached[1]
        snap = Snapshot(uri, clean_text(raw), doc.version, doc.language_id, encoding)
        self._snapshots[uri] = (raw, snap)  # holding ``raw`` keeps the identity check sound
        return snap

    def forget(self, uri: str) -> None:
        """Drop what is cached for a closed document."""
        self._snapshots.pop(uri, None)

    def open_uris(self) -> list[str]:
        """The URIs of the documents open in the editor (none before initialize)."""
        try:
            return list(self.ls.workspace.text_documents.keys())
        except Exception:
            return []


# --- cursor context --------------------------------------------------------------------


@dataclass(frozen=True)
class CursorContext:
    """What the model sees around a cursor, and what the stop rules need."""

    prefix: str  # window before the cursor (starts at a line start where possible)
    suffix: str  # window after the cursor (ends at a line end where possible)
    line_before: str  # current line up to the cursor
    line_after: str  # current line after the cursor
    line: int
    character: int  # client units
    offset: int  # code-point offset of the cursor
    start: int = 0  # code-point offset where the prefix window starts
    before: str = ""  # the last CACHE_PREFIX_CHARS before the cursor, whatever the window

    @property
    def indent(self) -> str:
        return self.line_before[: len(self.line_before) - len(self.line_before.lstrip(" \t"))]

    def key(self) -> str:
        """Cache key: the text around the cursor (window-independent)."""
        return self.before + "\x00" + self.suffix[:CACHE_SUFFIX_CHARS]


CACHE_PREFIX_CHARS = 1024
CACHE_SUFFIX_CHARS = 256


def window_start(text: str, offset: int, max_prefix: int, previous: int | None = None) -> int:
    """Where the prefix window starts.

    The prompt's start must not move while the user types, or the engine re-evaluates
    the whole window on every keystroke instead of the few tokens that changed. So a
    start is kept while the cursor stays between a quarter and a full window after it
    (hysteresis); a new start is placed 60% of a window before the cursor, on a line
    start.
    """
    if offset <= max_prefix:
        return 0
    if previous is not None and 0 <= previous <= offset and max_prefix // 4 <= offset - previous <= max_prefix:
        if previous == 0 or text[previous - 1 : previous] in ("\n", "\r"):
            return previous
    start = offset - (max_prefix * 3) // 5
    nl = text.find("\n", start, offset)
    if nl != -1 and offset - (nl + 1) >= max_prefix // 4:
        return nl + 1
    return start


def cursor_context(
    snap: Snapshot,
    position: types.Position,
    prefix_tokens: int = PREFIX_TOKENS,
    suffix_tokens: int = SUFFIX_TOKENS,
    previous_start: int | None = None,
) -> CursorContext:
    offset = snap.offset_at(position)
    text = snap.text
    line = min(max(0, position.line), snap.line_count - 1)
    line_start = snap.line_starts[line]
    max_prefix = int(prefix_tokens * CHARS_PER_TOKEN)
    max_suffix = int(suffix_tokens * CHARS_PER_TOKEN)
    start = window_start(text, offset, max_prefix, previous_start)
    prefix = text[start:offset]
    end = min(len(text), offset + max_suffix)
    if end < len(text):
        nl = text.rfind("\n", offset, end)
        if nl != -1:
            end = nl + 1
    suffix = text[offset:end]
    line_before = text[max(line_start, start, offset - 4 * max_prefix) : offset]
    nl = _LINE_BREAK.search(text, offset, min(len(text), offset + 4 * max_suffix + 1))
    line_after = text[offset : nl.start() if nl else min(len(text), offset + 4 * max_suffix)]
    return CursorContext(
        prefix=prefix,
        suffix=suffix,
        line_before=line_before,
        line_after=line_after,
        line=line,
        character=snap.client_column(line, offset - line_start),
        offset=offset,
        start=start,
        before=text[max(0, offset - CACHE_PREFIX_CHARS) : offset],
    )


# --- Python functions ------------------------------------------------------------------


def function_sites(snap: Snapshot, around_line: int | None = None) -> list[FunctionSite]:
    """Functions of this document version, line numbers in document coordinates (Python
    by ``ast``, other languages by tree-sitter: code_sites).

    Documents larger than MAX_ANALYSED_CHARS are parsed only in a window of lines
    around ``around_line`` (and not at all without one). Each window is parsed once
    per version: the result is kept on the snapshot.
    """
    if len(snap.text) <= MAX_ANALYSED_CHARS:
        lo, hi = 0, snap.line_count
    elif around_line is None:
        return []
    else:
        lo = max(0, around_line - ANALYSIS_WINDOW_LINES // 2)
        while lo > 0 and not _top_level(snap.line_text(lo)):
            lo -= 1
            if around_line - lo > ANALYSIS_WINDOW_LINES:
                break
        hi = min(snap.line_count, around_line + ANALYSIS_WINDOW_LINES // 2)
    key = (lo, hi)
    cached = snap.function_windows.get(key)
    if cached is not None:
        snap.function_windows.move_to_end(key)
        return cached
    if lo == 0 and hi == snap.line_count:
        chunk = snap.text
    else:
        starts = snap.line_starts
        chunk = snap.text[starts[lo] : starts[hi] if hi < len(starts) else len(snap.text)]
        if len(chunk) > MAX_ANALYSED_CHARS:  # a few giant lines: give up rather than stall
            return []
    language = snap.language
    if language is None:
        return []
    try:
        sites = functions(chunk, language)
    except (RecursionError, MemoryError, ValueError):
        sites = []
    sites = [s.shifted(lo) for s in sites]
    snap.function_windows[key] = sites
    while len(snap.function_windows) > FUNCTION_WINDOWS:
        snap.function_windows.popitem(last=False)
    return sites


def _top_level(line: str) -> bool:
    return bool(line) and not line[0].isspace() and not line.startswith("#")


def function_containing(sites: list[FunctionSite], line: int) -> FunctionSite | None:
    """The innermost function whose lines contain ``line``."""
    containing = [s for s in sites if s.start_line <= line < max(s.end_line, s.header_end_line, s.start_line + 1)]
    return max(containing, key=lambda s: s.start_line) if containing else None
