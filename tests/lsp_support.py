"""Shared helpers for the language-server tests (tests/server/).

Every test drives the real server (``winnow lsp``, started by hooked_server.py) in a
subprocess with pytest-lsp's client, on the real embedded model. Settings keep the
model work small (2 candidates, 16 tokens, one thread) so that the suite stays fast
on a shared 2-core machine.

Tests wait on events the server sends, never on the model being slow or fast: the
server runs with the suite's observer installed (lsp_hooks.py), so a test can hold a
model job while it runs (``hold_next_job`` + ``wait_held``) or hold the first model
load (``HOLD_LOAD_CONFIG``), and it counts model jobs without a window
(``model_calls``). No assertion here bounds wall-clock time: speed is benchmarks/'.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER_CMD = [sys.executable, str(Path(__file__).with_name("hooked_server.py"))]
TEST_ENV = dict(os.environ)
CONFIG = ClientServerConfig(server_command=SERVER_CMD, server_env=TEST_ENV)
# The first model load waits for ``release_load``: requests sent before it are "early".
HOLD_LOAD_CONFIG = ClientServerConfig(server_command=SERVER_CMD, server_env=TEST_ENV | {"WINNOW_TEST_HOLD_LOAD": "1"})
LOAD_TITLE = "Winnow: loading models"

# The suite's servers may run the code they open (every folder trusted, as a user who trusts
# the workspace): tests of trust itself pass their own ``trustedFolders``.
TRUST_ALL = {"trustedFolders": ["/"]}
FAST = {
    **TRUST_ALL,
    "judge": "none",
    "candidates": 2,
    "inlineCompletion": {"candidates": 2},
    "maxTokens": 16,
    "debounceMs": 0,
    "threads": 1,
}

CAPABILITIES = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(apply_edit=True),
    text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities(),
        code_action=types.CodeActionClientCapabilities(
            resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
            data_support=True,
        ),
    ),
)

# A client without inline completion (Neovim 0.11, Emacs): it gets the completion fallback.
CAPABILITIES_WITHOUT_INLINE = types.ClientCapabilities(
    window=CAPABILITIES.window,
    workspace=CAPABILITIES.workspace,
    text_document=types.TextDocumentClientCapabilities(code_action=CAPABILITIES.text_document.code_action),
)

SAMPLE = '''"""A small module for the tests."""

import math


def mean(values):
    """Return the arithmetic mean of values."""
    total = 0
    for v in values:
        total += v
    return total / len(values)


def clamp(x, lo, hi):
    """Return x limited to the range [lo, hi]."""
    pass


class Shapes:
    def area(self, radius):
        """Area of a circle of the given radius."""
        ...
'''


def progress_kinds(client: LanguageClient, title: str) -> list[str]:
    """The kinds ("begin", "report", "end") received so far for the progress titled ``title``."""
    for reports in client.progress_reports.values():
        if reports and getattr(reports[0], "title", None) == title:
            return [r.kind for r in reports]
    return []


def watch_status(client: LanguageClient) -> list[dict[str, Any]]:
    """Record every winnow/status notification the server sends, with the kinds of the
    load progress received before it (the client handles messages in arrival order)."""
    seen: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    client.winnow_held = held  # type: ignore[attr-defined]

    @client.feature("winnow/status")
    def on_status(ls: Any, params: Any) -> None:
        if not isinstance(params, dict):
            params = {k: getattr(params, k, None) for k in ("state", "message", "lastLatencyMs", "judge", "model")}
        seen.append(params | {"t": time.monotonic(), "load_progress": progress_kinds(client, LOAD_TITLE)})

    @client.feature("winnow/test/jobHeld")
    def on_held(ls: Any, params: Any) -> None:
        held.append(params if isinstance(params, dict) else {"kind": getattr(params, "kind", None)})

    return seen


async def hold_next_job(client: LanguageClient, kind: str = "inline") -> int:
    """Arm the server's hook: the next ``kind`` job that starts on the model is held
    inside the job until it is cancelled. Returns the count to pass to ``wait_held``."""
    held = client.winnow_held  # type: ignore[attr-defined]
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.test.holdNextJob", arguments=[kind]))
    return len(held)


async def wait_held(client: LanguageClient, seen: int) -> None:
    """Wait until the server says the armed job is running (held inside the job)."""
    held = client.winnow_held  # type: ignore[attr-defined]
    await wait_for(lambda: len(held) > seen, timeout=120)


async def release_load(client: LanguageClient) -> None:
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.test.releaseLoad"))


async def model_calls(client: LanguageClient, kind: str = "inline", outcome: str = "completed") -> int:
    """How many model jobs of ``kind`` had ``outcome`` (server/models/calls.py: submitted,
    started, completed, stopped, dropped, failed); an unbounded count."""
    calls = (await stats(client))["models"].get("calls", {})
    return int(calls.get(kind, {}).get(outcome, 0))


async def settled_calls(client: LanguageClient, kind: str = "inline") -> dict[str, int]:
    """The counts of ``kind`` once every submitted job has an outcome."""
    deadline = time.monotonic() + 120
    while True:
        calls = (await stats(client))["models"].get("calls", {}).get(kind, {})
        if sum(calls.get(k, 0) for k in ("completed", "stopped", "dropped", "failed")) == calls.get("submitted", 0):
            return calls
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} jobs did not settle: {calls}")
        await asyncio.sleep(0.05)


async def wait_calls(client: LanguageClient, at_least: int, kind: str = "inline", outcome: str = "completed") -> int:
    """Wait until ``model_calls(kind, outcome)`` reaches ``at_least`` (a job settles on the
    worker after its request was answered, e.g. a cancelled one)."""
    deadline = time.monotonic() + 120
    while (n := await model_calls(client, kind, outcome)) < at_least:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} jobs {outcome}: {n} < {at_least}")
        await asyncio.sleep(0.05)
    return n


async def problems(client: LanguageClient) -> dict[str, int]:
    """The server's failures so far by kind, each counted (also those logged only once)."""
    return dict((await stats(client))["server"]["problems"])


def capture_apply_edit(client: LanguageClient, applied: bool = True) -> list[types.ApplyWorkspaceEditParams]:
    edits: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(ls: Any, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=applied)

    return edits


def progress_sequences(client: LanguageClient, title: str) -> list[list[str]]:
    """The kinds received for every progress titled ``title``, one list per token."""
    return [
        [r.kind for r in reports]
        for reports in client.progress_reports.values()
        if reports and getattr(reports[0], "title", None) == title
    ]


async def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def start(
    client: LanguageClient, settings: dict[str, Any] | None = None, wait_ready: bool = True,
    capabilities: types.ClientCapabilities = CAPABILITIES,
) -> types.InitializeResult:
    status = getattr(client, "winnow_status", None)
    if status is None:
        status = client.winnow_status = watch_status(client)  # type: ignore[attr-defined]
    options = TRUST_ALL | settings if settings is not None else FAST
    result = await client.initialize_session(
        types.InitializeParams(capabilities=capabilities, initialization_options=options)
    )
    if wait_ready:
        await wait_for(lambda: any(s["state"] in ("ready", "error") for s in status), timeout=120)
    return result


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1, language: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def replace_all(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def edit_line(client: LanguageClient, uri: str, version: int, line: int, old_len: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line, 0), end=types.Position(line, old_len)), text=text
                )
            ],
        )
    )


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
    )


async def inline(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    if result is None:
        return []
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    return [i.insert_text if isinstance(i.insert_text, str) else i.insert_text.value for i in items]


async def served_inline(client: LanguageClient, uri: str, line: int, character: int, max_items: int = 16) -> list[str]:
    """An inline request on an open document, checked: it answered a list (the handler
    answers None only on a failure or for a document it does not know), no failure was
    counted for it, and every item is a non-empty, distinct insertion at the cursor."""
    before = await problems(client)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    await no_new_problems(client, before, types.TEXT_DOCUMENT_INLINE_COMPLETION)
    return well_formed(result, line, character, max_items)


async def no_new_problems(client: LanguageClient, before: dict[str, int], prefix: str) -> None:
    """No failure whose kind starts with ``prefix`` was counted since ``before``."""
    new = {k: n for k, n in (await problems(client)).items() if n > before.get(k, 0) and k.startswith(prefix)}
    assert not new, new


def well_formed(result: Any, line: int, character: int, max_items: int = 16) -> list[str]:
    """The texts of an inline answer that must be a list of non-empty, distinct
    insertions at the cursor."""
    assert isinstance(result, types.InlineCompletionList), result
    at = types.Position(line=line, character=character)
    texts = []
    for item in result.items:
        text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
        assert isinstance(text, str) and text.strip(), item
        assert item.range is not None and item.range.start == at and item.range.end == at, item
        texts.append(text)
    assert len(set(texts)) == len(texts) and len(texts) <= max_items, texts
    return texts


async def stats(client: LanguageClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.showStats"))


async def set_settings(client: LanguageClient, settings: dict[str, Any]) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    await stats(client)  # a round trip: the notification has been handled


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (UTF-16 positions; ASCII text in these tests)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(p: types.Position) -> int:
        if p.line >= len(lines):
            return len(text)
        return starts[p.line] + min(p.character, len(lines[p.line].rstrip("\r\n")))

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end) :]
    return text


def edits_of(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    out: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            out.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    if edit.changes:
        out.extend(edit.changes.get(uri, []))
    return out
