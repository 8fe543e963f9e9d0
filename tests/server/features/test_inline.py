"""Inline completion end to end: ranked items, the completion fallback, the cache,
typed-through suggestions, debounce, supersession and $/cancelRequest.

Each test stands alone (any order): it makes the suggestions it needs. Model calls are
the server's own unbounded counts; supersession and cancellation hold the older job on
the model (a test hook) until the newer request or the cancel arrives."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_lsp
from lsp_support import (
    CAPABILITIES_WITHOUT_INLINE,
    CONFIG,
    FAST,
    SAMPLE,
    edit_line,
    hold_next_job,
    inline,
    inline_params,
    model_calls,
    open_doc,
    served_inline,
    set_settings,
    start,
    stats,
    wait_calls,
    wait_held,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

URI = "file:///winnow-tests/inline.py"
LINES = SAMPLE.split("\n")
TOTAL_LINE = LINES.index("    total = 0")
RETURN_LINE = LINES.index("    return total / len(values)")


def big_module(tag: str, functions: int = 24) -> str:
    """A fresh ~3,000-character module (new text: no cache, a cold prompt window)."""
    parts = [f'"""Module {tag}."""\n\nimport os\n']
    for i in range(functions):
        parts.append(f"\n\ndef {tag}_step_{i}(items, limit={i}):\n    kept = [x for x in items if x < limit]\n    return kept\n")
    parts.append(f"\n\ndef {tag}_main(paths):\n    result = ")
    return "".join(parts)


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    """A client without inline completion of its own (as Neovim 0.11 and Emacs are): the server
    answers its inline requests and offers it the completion fallback too."""
    await start(lsp_client, FAST, capabilities=CAPABILITIES_WITHOUT_INLINE)
    open_doc(lsp_client, URI, SAMPLE)
    lsp_client.version = 1  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def next_version(client: LanguageClient) -> int:
    client.version += 1  # type: ignore[attr-defined]
    return client.version  # type: ignore[attr-defined]


async def suggestions_at_total(client: LanguageClient) -> list[str]:
    """Ranked suggestions after ``total = ``-like heads on the ``total = 0`` line (the
    first head that gets any; the line keeps that head)."""
    items: list[str] = []
    for head in ["    total = ", "    total = sum(", "    count = len("]:
        edit_line(client, URI, next_version(client), TOTAL_LINE, len(LINES[TOTAL_LINE]), head)
        LINES[TOTAL_LINE] = head
        items = await served_inline(client, URI, TOTAL_LINE, len(head), FAST["inlineCompletion"]["candidates"])
        if items:
            break
    assert items, "the model produced no usable suggestion at three cursors"
    return items


async def inline_empty(request: asyncio.Future) -> bool:
    """The request was answered with an empty list (what a superseded or stopped request
    gets), not None (what a failure gets)."""
    result = await request
    return isinstance(result, types.InlineCompletionList) and len(result.items) == 0


async def test_inline_completion_returns_ranked_items(client: LanguageClient):
    items = await suggestions_at_total(client)
    assert all(isinstance(t, str) and t.strip() for t in items)
    assert len(items) <= FAST["inlineCompletion"]["candidates"]
    assert len(set(items)) == len(items)  # duplicates are merged

    # The completion fallback serves the same ranked candidates (from the cache) with details.
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(line=TOTAL_LINE, character=len(LINES[TOTAL_LINE])),
        )
    )
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    assert [i.text_edit.new_text for i in result.items] == items
    assert [i.sort_text for i in result.items] == sorted(i.sort_text for i in result.items)
    assert result.items[0].detail.startswith(f"Winnow #1/{len(items)}")


async def test_repeated_request_is_answered_from_the_cache(client: LanguageClient):
    items = await suggestions_at_total(client)
    before = (await stats(client))["inline"]["cache_hits"]
    calls = await model_calls(client, outcome="submitted")
    again = await served_inline(client, URI, TOTAL_LINE, len(LINES[TOTAL_LINE]))
    assert again == items
    after = await stats(client)
    assert after["inline"]["cache_hits"] == before + 1
    assert await model_calls(client, outcome="submitted") == calls  # no model job at all


async def test_typing_the_start_of_a_suggestion_gets_the_rest(client: LanguageClient):
    # Greedy sampling (temperature 0): the same prompt gets the same suggestion, so one of
    # these heads yields a suggestion of two characters or more on its line; none is a failure.
    await set_settings(client, FAST | {"temperature": 0.0})
    line = RETURN_LINE
    items: list[str] = []
    for head in ("    return ", "    return sum(", "    result = [", "    values = sorted(", "    x = 1 + "):
        edit_line(client, URI, next_version(client), line, len(LINES[line]), head)
        LINES[line] = head
        items = [t for t in await served_inline(client, URI, line, len(head)) if len(t) >= 2 and t[0] != "\n"]
        if items:
            break
    assert items, "greedy decoding gave no suggestion of two characters or more at five cursors"
    top = items[0]
    typed = top[0]
    head = LINES[line] + typed
    edit_line(client, URI, next_version(client), line, len(LINES[line]), head)
    LINES[line] = head
    calls = await model_calls(client, outcome="submitted")
    typed_through = (await stats(client))["inline"]["typed_through_hits"]
    rest = await served_inline(client, URI, line, len(head))
    assert top[1:] in rest
    assert (await stats(client))["inline"]["typed_through_hits"] == typed_through + 1
    assert await model_calls(client, outcome="submitted") == calls  # no model call
    await set_settings(client, FAST)


async def test_debounce_lets_only_the_last_of_quick_requests_reach_the_model(client: LanguageClient):
    # 1.5 s of debounce against edits 50 ms apart: each newer request arrives while the
    # older still waits, unless the server stalls for over a second.
    await set_settings(client, FAST | {"debounceMs": 1500})
    calls = await model_calls(client, outcome="submitted")
    tasks = []
    t0 = time.perf_counter()
    for head in ["    total = fl", "    total = flo", "    total = floa"]:
        edit_line(client, URI, next_version(client), TOTAL_LINE, len(LINES[TOTAL_LINE]), head)
        LINES[TOTAL_LINE] = head
        tasks.append(asyncio.ensure_future(inline(client, URI, TOTAL_LINE, len(head))))
        await asyncio.sleep(0.05)
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    assert results[0] == [] and results[1] == []  # superseded while they waited
    assert elapsed >= 1.5  # a lower bound: the debounce waits at least this long, on any machine
    assert await model_calls(client, outcome="submitted") == calls + 1  # only the last reached the model
    await set_settings(client, FAST)


async def test_newer_request_cancels_the_older_between_tokens(client: LanguageClient):
    uri = "file:///winnow-tests/supersede.py"
    text = big_module("sup")
    open_doc(client, uri, text)
    lines = text.split("\n")
    completed = await model_calls(client)
    stopped = await model_calls(client, outcome="stopped")
    held = await hold_next_job(client)
    older = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, len(lines) - 1, len(lines[-1])))
    )
    # The older request's job is running on the model (held inside it by the test hook) ...
    await wait_held(client, held)
    # ... when the user types on: a newer request for the same document.
    head = lines[-1] + "["
    edit_line(client, uri, 2, len(lines) - 1, len(lines[-1]), head)
    await served_inline(client, uri, len(lines) - 1, len(head))
    assert await inline_empty(older)  # stopped while it ran: no suggestions for a stale cursor
    assert await wait_calls(client, stopped + 1, outcome="stopped") == stopped + 1
    assert await model_calls(client) == completed + 1  # only the newer generation completed


async def test_cancel_request_stops_the_generation(client: LanguageClient):
    uri = "file:///winnow-tests/cancel.py"
    text = big_module("can")
    open_doc(client, uri, text)
    lines = text.split("\n")
    completed = await model_calls(client)
    stopped = await model_calls(client, outcome="stopped")
    held = await hold_next_job(client)
    request = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, len(lines) - 1, len(lines[-1])), msg_id="cancel-me"
        )
    )
    await wait_held(client, held)  # the job is running on the model
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(request, timeout=60)
    assert info.value.code == -32800  # RequestCancelled
    await wait_calls(client, stopped + 1, outcome="stopped")  # the job stopped ...
    assert await model_calls(client) == completed  # ... instead of finishing
    await served_inline(client, uri, len(lines) - 1, len(lines[-1]))  # still serving


async def test_inline_off_and_unknown_documents_answer_empty(client: LanguageClient):
    assert await inline(client, "file:///winnow-tests/not-open.py", 0, 0) == []
    await set_settings(client, FAST | {"inlineCompletion": {"enabled": False}})
    assert await inline(client, URI, TOTAL_LINE, 4) == []
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(TOTAL_LINE, 4))
    )
    assert result is None or not getattr(result, "items", result)
    await set_settings(client, FAST)
