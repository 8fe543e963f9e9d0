"""The server process a benchmark drives: its pid (as the server reports it) and a
last-resort kill, without reaching into the LSP client's internals."""

from __future__ import annotations

import os
import signal
from typing import Any

from lsprotocol import types


async def server_pid(client: Any) -> int | None:
    """The server's process id, from ``winnow.showStats`` (``server.pid``)."""
    stats = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.showStats"))
    pid = (stats or {}).get("server", {}).get("pid") if isinstance(stats, dict) else None
    return pid if isinstance(pid, int) else None


def kill_server(pid: int | None) -> None:
    """Kill a server that did not exit when asked (no-op when it is gone)."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


#: The benchmarks open code they trust (the standard library, installed packages, the
#: project's examples), as a user who trusted the workspace: its code may run in the sandbox.
TRUST_ALL: dict[str, list[str]] = {"trustedFolders": ["/"]}
