"""Documents (server.workspace.documents): the prompt window while typing, UTF-16 positions."""

from __future__ import annotations

from lsprotocol import types

from winnow.server.workspace.documents import (
    CHARS_PER_TOKEN,
    PREFIX_TOKENS,
    Snapshot,
    cursor_context,
    window_start,
)


def test_prompt_window_start_holds_while_typing():
    max_prefix = int(PREFIX_TOKENS * CHARS_PER_TOKEN)
    text = "".join(f"line_{i} = {i}\n" for i in range(2000))
    offset = len(text) // 2
    start = window_start(text, offset, max_prefix)
    assert start > 0 and text[start - 1] == "\n" and offset - start <= max_prefix
    for step in (1, 40, 200):  # typing on, moving a few lines: the start is kept
        assert window_start(text, offset + step, max_prefix, start) == start
    far = window_start(text, offset + 5 * max_prefix, max_prefix, start)
    assert far != start and offset + 5 * max_prefix - far <= max_prefix
    assert window_start(text, 100, max_prefix, None) == 0


def test_positions_use_utf16_units_and_survive_surrogates():
    text = "a = '😀'\nb = '\udcff'\r\nc = 3"
    snap = Snapshot("file:///u.py", text, 1, "python", "utf-16")
    assert snap.line_count == 3 and snap.line_text(1) == "b = '\udcff'"
    pos = types.Position(line=0, character=7)  # after the emoji (2 UTF-16 units)
    assert snap.offset_at(pos) == 6
    assert snap.position_at(len("a = '😀'")) == types.Position(line=0, character=8)
    assert snap.offset_at(types.Position(line=99, character=0)) == len(text)
    ctx = cursor_context(snap, types.Position(line=2, character=4))
    assert ctx.line_before == "c = " and ctx.prefix.endswith("c = ")
