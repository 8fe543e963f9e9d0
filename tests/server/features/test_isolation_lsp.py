"""Safe to open any repository, through the real server: a module whose import writes into
``/tmp`` and into ``$HOME`` and connects to a socket on the host.

- With bubblewrap: its failing docstring example still gives its hint, and nothing of it
  reaches the host (no file, no connection).
- With bubblewrap unusable (a failing ``bwrap`` first on PATH, as on a machine without it):
  nothing of it runs (no file, no connection, no hint that rests on running it), and the
  user is told once, with what to install.
- In a folder that is not trusted (``trustedFolders``): nothing runs and the user is told
  once; trusting the folder (a settings change, as VS Code's extension sends when the user
  grants trust) gives the hint without a restart.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_lsp
from lsp_support import FAST, SERVER_CMD, TEST_ENV, open_doc, start, stats
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (.ci/setup.sh installs it)"),
    pytest.mark.asyncio,
]

# A folder with a `bwrap` that fails the way a blocked one does, first on the server's PATH.
_FAKE_BIN = Path(tempfile.mkdtemp(prefix="winnow-fake-bwrap-"))
(_FAKE_BIN / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
(_FAKE_BIN / "bwrap").chmod(0o755)
NO_BWRAP = ClientServerConfig(server_command=SERVER_CMD, server_env=TEST_ENV | {"PATH": f"{_FAKE_BIN}:{os.environ['PATH']}"})
WITH_BWRAP = ClientServerConfig(server_command=SERVER_CMD, server_env=TEST_ENV)
SETTINGS = FAST | {"diagnostics": {"judge": "off"}}


class Listener:
    """A socket on the host's loopback that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def hostile_module(marker: str, port: int) -> tuple[str, list[Path]]:
    """The module, and the host paths its import tries to write."""
    targets = [Path("/tmp") / f"winnow-escape-{marker}", Path.home() / f"winnow-escape-{marker}"]
    source = (
        '"""Writes to the host and phones home when imported."""\n\n'
        "import socket\n\n"
        f"for _path in {[str(t) for t in targets]!r}:\n"
        "    try:\n"
        "        with open(_path, 'w') as _f:\n"
        "            _f.write('escaped')\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n"
        "except OSError:\n"
        "    pass\n\n\n"
        "def double(x):\n"
        '    """Twice x.\n\n'
        "    >>> double(2)\n"
        "    5\n"
        '    """\n'
        "    return 2 * x\n"
    )
    return source, targets


async def finished(client: LanguageClient, uri: str, version: int) -> dict:
    """Until the server says every hint of ``version`` of ``uri`` is published; its stats."""
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        now = await stats(client)
        if now["diagnostics"]["done"].get(uri) == version:
            return now
        assert asyncio.get_running_loop().time() < deadline, f"no hints for {uri} v{version}"
        await asyncio.sleep(0.1)


def shown(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type in (types.MessageType.Warning, types.MessageType.Error)]


def module_uri(tmp_path: Path, text: str) -> str:
    path = tmp_path / "proj" / "hostile.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path.as_uri()


@pytest_lsp.fixture(config=WITH_BWRAP)
async def sandboxed(lsp_client: LanguageClient):
    await start(lsp_client, SETTINGS, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.timeout(300)
async def test_with_bubblewrap_the_example_hint_comes_and_nothing_reaches_the_host(
    sandboxed: LanguageClient, tmp_path: Path, listener: Listener
) -> None:
    client = sandboxed
    source, targets = hostile_module(uuid.uuid4().hex, listener.port)
    uri = module_uri(tmp_path, source)
    open_doc(client, uri, source)
    now = await finished(client, uri, 1)
    [hint] = client.diagnostics.get(uri, [])
    assert hint.data["kind"] == "example:value" and "`double(2)` returned 4" in hint.message
    assert not any(t.exists() for t in targets) and listener.accepted == 0
    assert now["code"]["sandbox"] == "bwrap" and now["code"]["sandbox_strong"] is True


@pytest_lsp.fixture(config=NO_BWRAP)
async def unsandboxed(lsp_client: LanguageClient):
    await start(lsp_client, SETTINGS, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.timeout(300)
async def test_without_a_strong_sandbox_nothing_runs_and_the_user_is_told_once(
    unsandboxed: LanguageClient, tmp_path: Path, listener: Listener
) -> None:
    client = unsandboxed
    source, targets = hostile_module(uuid.uuid4().hex, listener.port)
    uri = module_uri(tmp_path, source)
    open_doc(client, uri, source)
    now = await finished(client, uri, 1)
    assert client.diagnostics.get(uri, []) == []
    assert not any(t.exists() for t in targets) and listener.accepted == 0
    told = [m for m in shown(client) if "runs no code" in m]
    assert len(told) == 1 and "bubblewrap" in told[0] and "No permissions to create new namespace" in told[0]
    assert now["code"]["runs"] is False and now["code"]["sandbox_strong"] is False
    assert now["diagnostics"]["sandbox_runs"] == 0

    # A second module, an edit: still nothing runs, and nothing more is said.
    other = tmp_path / "proj" / "other.py"
    other.write_text(source)
    open_doc(client, other.as_uri(), source)
    await finished(client, other.as_uri(), 1)
    assert not any(t.exists() for t in targets) and listener.accepted == 0
    assert len([m for m in shown(client) if "runs no code" in m]) == 1


@pytest_lsp.fixture(config=WITH_BWRAP)
async def untrusting(lsp_client: LanguageClient):
    await start(lsp_client, SETTINGS | {"trustedFolders": []}, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.timeout(300)
async def test_an_untrusted_folder_runs_nothing_until_it_is_trusted(
    untrusting: LanguageClient, tmp_path: Path, listener: Listener
) -> None:
    client = untrusting
    source, targets = hostile_module(uuid.uuid4().hex, listener.port)
    uri = module_uri(tmp_path, source)
    open_doc(client, uri, source)
    await finished(client, uri, 1)
    assert client.diagnostics.get(uri, []) == [] and listener.accepted == 0
    told = [m for m in shown(client) if "runs no code" in m]
    assert len(told) == 1 and "trusted folder" in told[0]
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                          position=types.Position(source.split("\n").index("def double(x):"), 5))
    )  # fmt: skip
    assert hover is not None and "not in a trusted folder" in hover.contents.value

    # Trusting the folder (what VS Code's extension sends once the user grants trust): the hint
    # comes without a restart, and what the import tried still never reaches the host.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=SETTINGS | {"trustedFolders": [str(tmp_path / "proj")]})
    )
    deadline = asyncio.get_running_loop().time() + 120
    while not client.diagnostics.get(uri):
        assert asyncio.get_running_loop().time() < deadline, "no hint after the folder was trusted"
        await asyncio.sleep(0.1)
    [hint] = client.diagnostics[uri]
    assert "`double(2)` returned 4" in hint.message
    assert not any(t.exists() for t in targets) and listener.accepted == 0
