"""The server answers (an LSP error or an empty result) and keeps running through
malformed params, broken JSON, non-UTF-8 text, a 10 MB document, a document closed
mid-request, a flood of edits and a model file that disappears."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from concurrent.futures import Future
from pathlib import Path

import pytest
import pytest_lsp
from lsp_support import (
    CONFIG,
    FAST,
    SAMPLE,
    SERVER_CMD,
    edit_line,
    hold_next_job,
    inline,
    inline_params,
    no_new_problems,
    open_doc,
    problems,
    served_inline,
    set_settings,
    settled_calls,
    start,
    stats,
    wait_for,
    wait_held,
    well_formed,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from winnow.judge.llm.model_files import default_model_path

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

CACHE_DIR = str(Path(tempfile.gettempdir()) / f"winnow-test-vanishing-{os.getpid()}")  # made by the fixture
MODEL_COPY = Path(CACHE_DIR) / "vanishing.gguf"


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, FAST)
    yield
    await lsp_client.shutdown_session()


async def alive(client: LanguageClient) -> None:
    result = await asyncio.wait_for(stats(client), timeout=30)
    assert result["server"]["state"] in ("ready", "generating")


def raw_send(client: LanguageClient, body: bytes) -> None:
    client._server.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # type: ignore[union-attr]


async def raw_request(client: LanguageClient, msg_id: str, method: str, params: object) -> object:
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    raw_send(client, json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode())
    return await asyncio.wait_for(asyncio.wrap_future(future), timeout=30)


async def test_malformed_params_get_an_invalid_params_error(client: LanguageClient):
    bad = [
        ("textDocument/inlineCompletion", {"textDocument": 5, "position": "here"}),
        ("textDocument/codeAction", {"textDocument": {"uri": "file:///x.py"}}),
        ("textDocument/completion", None),
        ("codeAction/resolve", {"kind": "quickfix"}),
    ]
    for k, (method, params) in enumerate(bad):
        with pytest.raises(JsonRpcException) as info:
            await raw_request(client, f"bad-{k}", method, params)
        assert info.value.code == -32602, method
    # A malformed notification is ignored (and logged once).
    raw_send(client, json.dumps({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"x": 1}}).encode())
    await alive(client)
    assert any("malformed" in m.message for m in client.log_messages)


async def test_broken_json_and_unknown_methods_do_not_stop_the_server(client: LanguageClient):
    raw_send(client, b"{this is not json")
    raw_send(client, b'{"jsonrpc": "2.0", "id": "x-1"')
    with pytest.raises(JsonRpcException) as info:
        await raw_request(client, "unknown-1", "winnow/noSuchMethod", {})
    assert info.value.code == -32601  # MethodNotFound
    # didChange / didClose for documents that were never opened.
    edit_line(client, "file:///never-opened.py", 2, 0, 0, "x")
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri="file:///never-opened.py"))
    )
    await alive(client)


async def test_non_utf8_text_is_served(client: LanguageClient):
    # Raw bytes that are not UTF-8 inside a didOpen: decoded with replacement characters.
    uri = "file:///winnow-tests/latin1.py"
    text = SAMPLE.replace("A small module", "Gr\u00fc\u00dfe")
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        },
        ensure_ascii=False,
    ).encode("utf-8").replace("Grüße".encode(), "Grüße".encode("latin-1"))
    raw_send(client, body)
    lines = text.split("\n")
    line = lines.index("    total = 0")
    await served_inline(client, uri, line, 12)
    assert any("not valid UTF-8" in m.message for m in client.log_messages)
    # Lone surrogates (text a client could not encode) inside a document.
    uri2 = "file:///winnow-tests/surrogates.py"
    open_doc(client, uri2, SAMPLE.replace("import math", "import math  # \udcff\ud800 broken"))
    await served_inline(client, uri2, 2, 11)
    clamp = SAMPLE.split("\n").index("def clamp(x, lo, hi):")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri2),
            range=types.Range(start=types.Position(clamp, 0), end=types.Position(clamp, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions and actions[0].title.startswith("Implement with Winnow")
    await alive(client)


async def test_a_10_mb_document_is_served_with_bounded_work(client: LanguageClient):
    uri = "file:///winnow-tests/huge.py"
    unit = SAMPLE.replace("def mean(", "def mean_{k}(").replace("def clamp(", "def clamp_{k}(")
    parts, size, k = [], 0, 0
    while size < 10_000_000:
        chunk = unit.replace("{k}", str(k))
        parts.append(chunk)
        size += len(chunk)
        k += 1
    text = "".join(parts)
    lines = text.split("\n")
    open_doc(client, uri, text)
    last = len(lines) - 2
    completed = (await settled_calls(client)).get("completed", 0)
    await served_inline(client, uri, last, len(lines[last]))
    middle = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].startswith("def clamp_"))
    edit_line(client, uri, 2, middle + 2, len(lines[middle + 2]), "    return ")
    await served_inline(client, uri, middle + 2, 11)
    # Bounded work, not time: each request made one generation, on a prompt window of
    # the text around the cursor (PREFIX_TOKENS + SUFFIX_TOKENS ≈ 416 tokens estimated from
    # characters; 1024 leaves room for the estimate and the FIM markers), never the file.
    assert (await settled_calls(client)).get("completed", 0) == completed + 2
    generations = (await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="winnow.showStats", arguments=[{"generations": True}])
    ))["inline"]["generations"]
    assert all(g["prompt_tokens"] < 1024 for g in generations[-2:]), generations[-2:]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(middle, 0), end=types.Position(middle, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await alive(client)


async def test_document_closed_mid_request_answers_empty(client: LanguageClient):
    uri = "file:///winnow-tests/closing.py"
    text = SAMPLE * 4 + "\n\ndef closing():\n    value = "
    open_doc(client, uri, text)
    lines = text.split("\n")
    held = await hold_next_job(client)
    pending = asyncio.ensure_future(inline(client, uri, len(lines) - 1, len(lines[-1])))
    await wait_held(client, held)  # the request's job is running on the model
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert await asyncio.wait_for(pending, timeout=60) == []
    assert await inline(client, uri, len(lines) - 1, len(lines[-1])) == []  # closed: nothing to complete
    await alive(client)


async def test_a_flood_of_edits_and_requests(client: LanguageClient):
    uri = "file:///winnow-tests/flood.py"
    open_doc(client, uri, SAMPLE)
    lines = SAMPLE.split("\n")
    line = lines.index("    total = 0")
    before = await settled_calls(client)
    seen = await problems(client)
    head = "    total = "
    tasks = []
    typed = "sum(value for value in values if value is not None)"
    for i, ch in enumerate(typed * 3):
        new = head + ch
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(line, len(head)), end=types.Position(line, len(head))),
                        text=ch,
                    )
                ],
            )
        )
        head = new
        tasks.append(
            asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, line, len(head))))
        )
    results = await asyncio.gather(*tasks)
    for k, result in enumerate(results):
        well_formed(result, line, len("    total = ") + k + 1)
    await no_new_problems(client, seen, types.TEXT_DOCUMENT_INLINE_COMPLETION)
    after = await settled_calls(client)
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert calls["failed"] == 0, calls
    assert calls["completed"] < len(tasks) / 4, calls  # stale requests were dropped, not computed
    await alive(client)


@pytest.fixture(scope="module")
def vanishing_model():
    source = default_model_path()
    Path(CACHE_DIR).mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, MODEL_COPY)
    except OSError:
        shutil.copyfile(source, MODEL_COPY)
    yield MODEL_COPY
    shutil.rmtree(CACHE_DIR, ignore_errors=True)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_CMD, server_env=dict(os.environ, WINNOW_CACHE=CACHE_DIR)),
    scope="module",
)
async def model_client(lsp_client: LanguageClient, vanishing_model: Path):
    await start(lsp_client, FAST | {"generatorModel": str(vanishing_model)})
    yield
    await lsp_client.shutdown_session()


async def test_a_model_file_that_disappears(model_client: LanguageClient, vanishing_model: Path):
    client = model_client
    uri = "file:///winnow-tests/vanish.py"
    open_doc(client, uri, SAMPLE)
    assert (await stats(client))["models"]["generator"]["path"] == str(vanishing_model.resolve())
    vanishing_model.unlink()
    shown = len(client.messages)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.reloadModels"))
    assert result["ok"] is False and "does not exist" in result["error"]
    await wait_for(lambda: len(client.messages) > shown, timeout=10)
    assert any(m.type == types.MessageType.Error and "does not exist" in m.message for m in client.messages[shown:])
    assert client.winnow_status[-1]["state"] == "error"  # type: ignore[attr-defined]
    # Still serving: empty completions, an actionable error for the code action, stats.
    assert await inline(client, uri, 7, 4) == []
    clamp = SAMPLE.split("\n").index("def clamp(x, lo, hi):")
    action = (
        await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=types.Position(clamp, 0), end=types.Position(clamp, 0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    )[0]
    with pytest.raises(JsonRpcException) as info:
        await client.code_action_resolve_async(action)
    assert "generatorModel" in info.value.message or "reloadModels" in info.value.message
    assert (await stats(client))["models"]["load_error"]
    # Pointing the setting at a model that exists recovers.
    await set_settings(client, FAST)
    await wait_for(lambda: client.winnow_status[-1]["state"] == "ready", timeout=60)  # type: ignore[attr-defined]
    await served_inline(client, uri, 7, 4)
