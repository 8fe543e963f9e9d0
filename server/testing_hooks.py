"""Hooks that let the test suite wait on the server's own events instead of on the
model being slow or fast. Off unless the server runs with ``WINNOW_TEST_HOOKS=1``;
users never see them.

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

log = logging.getLogger(__name__)

ENV_HOOKS = "WINNOW_TEST_HOOKS"
ENV_HOLD_LOAD = "WINNOW_TEST_HOLD_LOAD"
CMD_HOLD_NEXT_JOB = "winnow.test.holdNextJob"
CMD_RELEASE_LOAD = "winnow.test.releaseLoad"
JOB_HELD = "winnow/test/jobHeld"
HOLD_LIMIT_S = 120.0  # a held job goes on after this even if nothing cancels it
LOAD_HOLD_LIMIT_S = 300.0


class TestHooks:
    __test__ = False  # not a pytest test class

    def __init__(self, ls: Any, hold_load: bool) -> None:
        self.ls = ls
        self._lock = threading.Lock()
        self._armed: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._load_released: asyncio.Event | None = None
        self._hold_load = hold_load

    @classmethod
    def from_env(cls, ls: Any) -> TestHooks | None:
        if os.environ.get(ENV_HOOKS) != "1":
            return None
        return cls(ls, hold_load=os.environ.get(ENV_HOLD_LOAD) == "1")

    # --- holding a running job (worker thread) ------------------------------------------

    def arm(self, kind: str) -> None:
        self._loop = asyncio.get_running_loop()
        with self._lock:
            self._armed.add(kind)

    def hold_if_armed(self, kind: str, cancelled: Callable[[], bool]) -> bool:
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
