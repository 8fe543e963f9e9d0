"""The server starts, advertises its capabilities, reports its state, and survives bad
settings (end to end, real server, real embedded model)."""

from __future__ import annotations

import time

import pytest
import pytest_lsp
from lsp_support import (
    CONFIG,
    FAST,
    LOAD_TITLE,
    progress_kinds,
    set_settings,
    start,
    stats,
    wait_for,
    watch_status,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.winnow_status = watch_status(lsp_client)  # type: ignore[attr-defined]
    lsp_client.init_result = await start(lsp_client, FAST, wait_ready=False)  # type: ignore[attr-defined]
    lsp_client.init_done = time.monotonic()  # type: ignore[attr-defined]
    # Every status since initialize is recorded; the tests (in any order) start once ready.
    await wait_for(lambda: any(s["state"] == "ready" for s in lsp_client.winnow_status), timeout=120)  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def test_capabilities_are_advertised(client: LanguageClient):
    caps = client.init_result.capabilities  # type: ignore[attr-defined]
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    action = caps.code_action_provider
    assert isinstance(action, types.CodeActionOptions) and action.resolve_provider
    assert types.CodeActionKind.RefactorRewrite in (action.code_action_kinds or [])
    commands = set(caps.execute_command_provider.commands)
    assert {"winnow.showStats", "winnow.reloadModels", "winnow.implementFunction"} <= commands
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions) and sync.open_close and sync.save
    assert client.init_result.server_info.name == "winnow"  # type: ignore[attr-defined]


async def test_models_load_in_the_background_with_progress(client: LanguageClient):
    status = client.winnow_status  # type: ignore[attr-defined]
    ready = await wait_for(lambda: [s for s in status if s["state"] == "ready"], timeout=120)
    # Guaranteed by the server however fast the model loads (server/models/host.py): the
    # ready status waits for the load's $/progress to end, and the progress waits for the
    # client's `initialized`, when the server sends its first status: "loading".
    assert status[0]["state"] == "loading"  # initialize answered before the models were ready
    assert ready[0]["judge"] is False  # judge "none"
    assert ready[0]["t"] >= client.init_done  # type: ignore[attr-defined]
    assert ready[0]["load_progress"][0] == "begin" and ready[0]["load_progress"][-1] == "end"  # ended first
    kinds = progress_kinds(client, LOAD_TITLE)
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("end") == 1


async def test_show_stats_describes_model_and_latencies(client: LanguageClient):
    shown = len(client.messages)
    result = await stats(client)
    assert result["models"]["generator"]["source"] == "embedded"
    assert result["models"]["judge"] is None
    assert result["server"]["settings"]["candidates"] == FAST["candidates"]
    assert "p50_ms" in result["inline"]
    await wait_for(lambda: len(client.messages) > shown, timeout=10)
    assert "Winnow:" in client.messages[-1].message


async def test_invalid_settings_change_is_reported_and_defaulted(client: LanguageClient):
    shown = len(client.messages)
    await set_settings(
        client,
        {"winnow": FAST | {"candidates": 99, "temperature": "hot", "diagnostics": {"severity": "loud"}, "unknownKey": 1}},
    )
    await wait_for(lambda: len(client.messages) > shown, timeout=10)
    text = " ".join(m.message for m in client.messages[shown:])
    assert "candidates" in text and "temperature" in text and "diagnostics.severity" in text
    settings = (await stats(client))["server"]["settings"]
    assert settings["candidates"] == 5 and settings["temperature"] == 0.8
    assert settings["diagnostics"]["severity"] == "warning"  # the default
    assert settings["maxTokens"] == FAST["maxTokens"]  # the valid values were kept
    assert any("unknownKey" in m.message for m in client.log_messages)
    await set_settings(client, FAST)


async def test_unknown_command_is_an_error(client: LanguageClient):
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.noSuchThing"))
    assert (await stats(client))["server"]["state"] == "ready"


async def test_tcp_transport_and_pull_settings():
    """``winnow lsp --tcp HOST:PORT`` serves the same protocol; a client that answers
    workspace/configuration gets its "winnow" section pulled on didChangeConfiguration."""
    import asyncio
    import socket
    import sys

    from pygls.lsp.client import LanguageClient as PlainClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "winnow.cli", "lsp", "--tcp", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    plain = PlainClient("tcp-test", "1")
    pulled: list[types.ConfigurationParams] = []

    @plain.feature(types.WORKSPACE_CONFIGURATION)
    def configuration(ls, params: types.ConfigurationParams):
        pulled.append(params)
        return [FAST | {"candidates": 3}]

    try:
        for _ in range(100):
            try:
                await plain.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        result = await plain.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    workspace=types.WorkspaceClientCapabilities(configuration=True)
                ),
                initialization_options=FAST,
            )
        )
        assert result.capabilities.inline_completion_provider is not None
        plain.initialized(types.InitializedParams())
        plain.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await wait_for(lambda: pulled, timeout=10)
        assert pulled[0].items[0].section == "winnow"
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:  # applied once the pulled answer arrives
            stats = await plain.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.showStats"))
            if stats["server"]["settings"]["candidates"] == 3:
                break
            await asyncio.sleep(0.05)
        assert stats["server"]["settings"]["candidates"] == 3
        await plain.shutdown_async(None)
        plain.exit(None)
    finally:
        await plain.stop()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
