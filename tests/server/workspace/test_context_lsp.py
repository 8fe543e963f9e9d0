"""Workspace context end to end: the real server on a multi-file workspace in tmp_path.

Each test starts its own server on its own workspace (any order). What the prompt held
comes from the server itself: ``winnow.showStats`` returns the context block it passed
to the model with the last inline request (``context.last_prompt``) and the engine's
prefill counts (``inline.last_generation``)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_support import CONFIG, FAST, inline, open_doc, replace_all, stats, wait_for, watch_status
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.timeout(300)]

HELPERS = '''"""Helpers for invoices."""


def quantize_invoice_total(amount: float, *, cents: int = 2) -> float:
    """Round an invoice amount to whole cents."""
    return round(amount, cents)


def other_helper(x):
    return x
'''

APP = '''"""The billing entry point."""

from .money import quantize_invoice_total


def bill(amount):
    total = '''

CAPABILITIES = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(
        did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True),
    ),
    text_document=types.TextDocumentClientCapabilities(inline_completion=types.InlineCompletionClientCapabilities()),
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def project(root: Path) -> tuple[Path, Path]:
    write(root / "billing" / "__init__.py", "")
    helpers = write(root / "billing" / "money.py", HELPERS)
    app = write(root / "billing" / "app.py", APP + "0\n    return total\n")  # the editor holds the cut version
    return helpers, app


async def start_in(client: LanguageClient, root: Path, settings: dict[str, Any] | None = None) -> list[Any]:
    """Initialize with ``root`` as the workspace folder; wait for the models and the first scan."""
    status = watch_status(client)
    registrations: list[types.RegistrationParams] = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(ls: Any, params: types.RegistrationParams) -> None:
        registrations.append(params)

    await client.initialize_session(
        types.InitializeParams(
            capabilities=CAPABILITIES,
            initialization_options={**FAST, **(settings or {})},
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            root_uri=root.as_uri(),
        )
    )
    await wait_for(lambda: any(s["state"] in ("ready", "error") for s in status), timeout=120)
    await wait_stats(client, lambda s: s["context"]["index"]["scans"] >= 1)
    return registrations


async def wait_stats(client: LanguageClient, predicate: Any, timeout: float = 120.0) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def poll() -> bool:
        found.update(await stats(client))
        return bool(predicate(found))

    deadline = time.monotonic() + timeout
    while not await poll():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met; last stats: {found.get('context')}")
        await asyncio.sleep(0.1)
    return found


def variant(tag: str) -> str:
    """APP with a new function name: new text near the cursor, so no cached answer applies."""
    return APP.replace("def bill(", f"def bill_{tag}(")


async def prompt_after_inline(client: LanguageClient, uri: str, text: str) -> dict[str, Any]:
    """Request an inline completion at the end of ``text``; the stats of that request."""
    lines = text.split("\n")
    await inline(client, uri, len(lines) - 1, len(lines[-1]))
    return await stats(client)


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_the_imported_definition_reaches_the_prompt_and_follows_edits(client: LanguageClient, tmp_path: Path):
    helpers, app = project(tmp_path)
    registrations = await start_in(client, tmp_path)
    watched = [r for p in registrations for r in p.registrations]
    assert [r.method for r in watched] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    index = (await stats(client))["context"]["index"]
    assert index["files"] == 3 and index["definitions"] == 3  # two helpers and bill()

    uri = app.as_uri()
    open_doc(client, uri, APP)
    s = await prompt_after_inline(client, uri, APP)
    last = s["context"]["last_prompt"]
    assert last["files"][0] == {"path": "billing/money.py", "kind": "definitions", "chars": last["files"][0]["chars"]}
    assert "def quantize_invoice_total(amount: float, *, cents: int=2) -> float:" in last["text"]
    assert "Round an invoice amount to whole cents." in last["text"]
    assert "other_helper" not in last["text"]  # not imported: not in the block
    with_context = s["inline"]["last_generation"]["prompt_tokens"]

    # The helper file changes on disk: the watched-files notification updates the block.
    on_disk = HELPERS.replace("cents: int = 2", "cents: int = 2, currency: str = 'EUR'") + "\n\ndef watched_extra():\n    pass\n"
    write(helpers, on_disk)
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(changes=[types.FileEvent(uri=helpers.as_uri(), type=types.FileChangeType.Changed)])
    )
    await wait_stats(client, lambda st: st["context"]["index"]["definitions"] == 4)  # the new function is in
    text2 = variant("watched")
    replace_all(client, uri, text2, 2)
    s = await prompt_after_inline(client, uri, text2)
    assert "currency: str='EUR'" in s["context"]["last_prompt"]["text"]
    assert s["context"]["last_prompt"]["rebuilt"] is True

    # An open document's edit (didChange) updates it too, without touching the disk.
    open_doc(client, helpers.as_uri(), on_disk)
    edited = on_disk.replace("(amount: float", "(amount: Decimal") + "\n\ndef editor_extra():\n    pass\n"
    replace_all(client, helpers.as_uri(), edited, 2)
    await wait_stats(client, lambda st: st["context"]["index"]["definitions"] == 5)
    text3 = variant("did_change")
    replace_all(client, uri, text3, 3)
    s = await prompt_after_inline(client, uri, text3)
    assert "def quantize_invoice_total(amount: Decimal" in s["context"]["last_prompt"]["text"]

    # Off: the same request carries no block, and the prompt is shorter.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={**FAST, "context": {"enabled": False}}))
    text4 = variant("off")
    replace_all(client, uri, text4, 4)
    s = await prompt_after_inline(client, uri, text4)
    assert s["context"]["last_prompt"] is None
    assert s["inline"]["last_generation"]["prompt_tokens"] < with_context


async def test_the_block_stays_put_while_typing_so_the_prompt_cache_holds(client: LanguageClient, tmp_path: Path):
    _, app = project(tmp_path)
    await start_in(client, tmp_path)
    uri = app.as_uri()
    open_doc(client, uri, APP)
    first = await prompt_after_inline(client, uri, APP)
    assert first["context"]["last_prompt"]["chars"] > 0
    text = APP + "qu"
    replace_all(client, uri, text, 2)
    second = await prompt_after_inline(client, uri, text)
    assert second["context"]["last_prompt"]["rebuilt"] is False
    assert second["context"]["last_prompt"]["text"] == first["context"]["last_prompt"]["text"]
    gen1, gen2 = first["inline"]["last_generation"], second["inline"]["last_generation"]
    # Only the tail (the typed characters) is evaluated again: the block and the window are reused.
    assert gen2["reused_tokens"] >= gen1["prompt_tokens"] - 4
    assert gen2["prompt_tokens"] - gen2["reused_tokens"] <= 6


async def test_files_outside_the_root_are_never_read(client: LanguageClient, tmp_path: Path):
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    write(outside / "vault.py", "def vault_secret_token(key):\n    return 'hunter2'\n")
    write(outside / "more" / "deep.py", "def deep_secret(): pass\n")
    _, app = project(root)
    os.symlink(outside / "vault.py", root / "billing" / "vault.py")
    os.symlink(outside / "more", root / "billing" / "more")
    await start_in(client, root)
    text = APP.replace("from .money import", "from .vault import vault_secret_token\nfrom .more.deep import deep_secret\nfrom .money import")
    uri = app.as_uri()
    open_doc(client, uri, text)
    s = await prompt_after_inline(client, uri, text)
    index = s["context"]["index"]
    assert index["skipped_outside"] == 2 and index["files"] == 3
    assert "vault_secret_token(key)" not in s["context"]["last_prompt"]["text"]
    assert "deep_secret" not in s["context"]["last_prompt"]["text"]
    assert "quantize_invoice_total" in s["context"]["last_prompt"]["text"]
    # A watched-files event naming the outside file (or the link to it) is refused too.
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=(outside / "vault.py").as_uri(), type=types.FileChangeType.Changed),
                types.FileEvent(uri=(root / "billing" / "vault.py").as_uri(), type=types.FileChangeType.Changed),
            ]
        )
    )
    s = await wait_stats(client, lambda st: st["context"]["index"]["skipped_outside"] == 4)
    assert s["context"]["index"]["files"] == 3


async def test_a_huge_tree_stays_within_its_bounds(client: LanguageClient, tmp_path: Path):
    _, app = project(tmp_path)
    write(tmp_path / "huge.py", "x = 1\n" * 60_000)  # over the per-file limit
    for d in range(10):
        for f in range(30):
            write(tmp_path / f"gen{d:02d}" / f"mod{f:02d}.py", f"def generated_{d}_{f}(x):\n    return x\n")
    await start_in(client, tmp_path, {"context": {"maxFiles": 40}})
    s = await stats(client)
    index = s["context"]["index"]
    assert index["files"] == 40 and index["truncated"] == "max_files"
    assert index["skipped_large"] == 1
    assert index["limits"]["max_files"] == 40
    # Raising the bound rescans the tree.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={**FAST, "context": {"maxFiles": 1000}})
    )
    s = await wait_stats(client, lambda st: st["context"]["index"]["scans"] >= 2)
    assert s["context"]["index"]["files"] == 303 and s["context"]["index"]["truncated"] is None
