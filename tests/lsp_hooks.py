"""The test suite's observer of the real server's model jobs, so that tests wait on the
server's own events instead of on the model being slow or fast. ``hooked_server.py``
starts the real server with it installed (``ModelHost.observer``) and these commands
registered; the product itself has no test code.

- ``winnow.test.holdNextJob [kind]``: the next model job of ``kind`` ("inline",
  "implement") that starts is held inside the job (at its first poll from the engine)
  until it is cancelled, and the client gets ``winnow/test/jobHeld`` when it is:
  a test can then supersede, cancel or close and know the job was running.
- ``WINNOW_TEST_HOLD_LOAD=1``: the first model load waits for
  ``winnow.test.releaseLoad``: a test can send requests while the models load.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from winnow.server.app import WinnowServer

log = logging.getLogger(__name__)

ENV_HOLD_LOAD = "WINNOW_TEST_HOLD_LOAD"
CMD_HOLD_NEXT_JOB = "winnow.test.holdNextJob"
CMD_RELEASE_LOAD = "winnow.test.releaseLoad"
JOB_HELD = "winnow/test/jobHeld"
HOLD_LIMIT_S = 120.0  # a held job goes on after this even if nothing cancels it
LOAD_HOLD_LIMIT_S = 300.0


class HoldingObserver:
    """A ``JobObserver`` (server/models/calls.py) that holds armed jobs and the first load."""

    def __init__(self, ls: WinnowServer, hold_load: bool) -> None:
        self.ls = ls
        self._lock = threading.Lock()
        self._armed: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._load_released: asyncio.Event | None = None
        self._hold_load = hold_load

    # --- holding a running job (worker thread) ------------------------------------------

    def arm(self, kind: str) -> None:
        self._loop = asyncio.get_running_loop()
        with self._lock:
            self._armed.add(kind)

    def job_running(self, kind: str, cancelled: Callable[[], bool]) -> bool:
        """Called on the model worker inside a running job: hold it until it is cancelled
        (or HOLD_LIMIT_S passes) when a hold is armed for ``kind``; return the cancel check."""
        with self._lock:
            if kind not in self._armed:
                return cancelled()
            self._armed.discard(kind)
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._notify_held, kind)
        deadline = time.monotonic() + HOLD_LIMIT_S
        while not cancelled() and time.monotonic() < deadline:
            time.sleep(0.005)
        return cancelled()

    def _notify_held(self, kind: str) -> None:
        try:
            self.ls.protocol.notify(JOB_HELD, {"kind": kind})
        except Exception:
            log.debug("could not send %s", JOB_HELD, exc_info=True)

    # --- holding the first model load (event loop) -----------------------------------------

    def release_load(self) -> None:
        self._hold_load = False
        if self._load_released is not None:
            self._load_released.set()

    async def before_load(self) -> None:
        """Wait for ``winnow.test.releaseLoad`` when the first load is held."""
        if not self._hold_load:
            return
        self._load_released = asyncio.Event()
        try:
            await asyncio.wait_for(self._load_released.wait(), LOAD_HOLD_LIMIT_S)
        except asyncio.TimeoutError:
            log.warning("the held model load was never released; loading now")
        self._hold_load = False


def install(server: WinnowServer) -> HoldingObserver:
    """Observe ``server``'s model jobs and register the test commands on it."""
    hooks = HoldingObserver(server, hold_load=os.environ.get(ENV_HOLD_LOAD) == "1")
    server.models.observer = hooks

    @server.command(CMD_HOLD_NEXT_JOB)
    async def hold_next_job(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        kind = args[0] if args and isinstance(args[0], str) else "inline"
        hooks.arm(kind)
        return {"armed": kind}

    @server.command(CMD_RELEASE_LOAD)
    async def release_load(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        hooks.release_load()
        return {"released": True}

    return hooks
