"""Shared helpers for the language-server tests (tests/test_lsp_*.py).

Every test drives the real server (``python -m winnow.server.cli lsp``) in a
subprocess with pytest-lsp's client, on the real embedded model. Settings keep the
model work small (2 candidates, 16 tokens, one thread) so that the suite stays fast
on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER_CMD = [sys.executable, "-m", "winnow.server.cli", "lsp"]
CONFIG = ClientServerConfig(server_command=SERVER_CMD)

FAST = {
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


def watch_status(client: LanguageClient) -> list[dict[str, Any]]:
    """Record every winnow/status notification the server sends."""
    seen: list[dict[str, Any]] = []

    @client.feature("winnow/status")
    def on_status(ls: Any, params: Any) -> None:
        if not isinstance(params, dict):
            params = {k: getattr(params, k, None) for k in ("state", "message", "lastLatencyMs", "judge")}
        seen.append(params | {"t": time.monotonic()})

    return seen


def capture_apply_edit(client: LanguageClient, applied: bool = True) -> list[types.ApplyWorkspaceEditParams]:
    edits: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(ls: Any, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=applied)

    return edits


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
    client: LanguageClient, settings: dict[str, Any] | None = None, wait_ready: bool = True
) -> types.InitializeResult:
    status = getattr(client, "winnow_status", None)
    if status is None:
        status = client.winnow_status = watch_status(client)  # type: ignore[attr-defined]
    result = await client.initialize_session(
        types.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings if settings is not None else FAST)
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
