"""The test suite's hooks on the real server's model jobs, so that tests wait on the server's
own events instead of on the model being slow or fast. ``hooked_server.py`` builds the real
server, installs these from outside (the product has no test hook: they wrap the job's
cancel check and the runtime's load), and serves it.

- ``winnow.test.holdNextJob [kind]``: the next model job of ``kind`` ("inline",
  "implement") that starts is held inside the job (at its second poll of the cancel check:
  the worker polls once before the job runs, the engine polls inside it) until it is
  cancelled, and the client gets ``winnow/test/jobHeld`` when it is: a test can then
  supersede, cancel or close and know the job was running.
- ``WINNOW_TEST_HOLD_LOAD=1``: the first model load waits on the model worker for
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

from winnow.judge.runtime import Runtime
from winnow.server.app import WinnowServer
from winnow.server.models.calls import ModelCalls, TrackedJob

log = logging.getLogger(__name__)

ENV_HOLD_LOAD = "WINNOW_TEST_HOLD_LOAD"
CMD_HOLD_NEXT_JOB = "winnow.test.holdNextJob"
CMD_RELEASE_LOAD = "winnow.test.releaseLoad"
JOB_HELD = "winnow/test/jobHeld"
HOLD_LIMIT_S = 120.0  # a held job goes on after this even if nothing cancels it
LOAD_HOLD_LIMIT_S = 300.0


class Hooks:
    """Holds armed jobs while they run, and the first model load until released."""

    def __init__(self, ls: WinnowServer, hold_load: bool) -> None:
        self.ls = ls
        self._lock = threading.Lock()
        self._armed: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.load_released = threading.Event()
        if not hold_load:
            self.load_released.set()

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

    # --- holding the first model load (model worker) ----------------------------------------

    def wait_for_load_release(self) -> None:
        if not self.load_released.wait(LOAD_HOLD_LIMIT_S):
            log.warning("the held model load was never released; loading now")
        self.load_released.set()  # later loads go at once


class HeldJob(TrackedJob):
    """A job's cancel check that lets the hooks hold the job once it runs."""

    def __init__(self, calls: ModelCalls, kind: str, cancelled: Callable[[], bool], hooks: Hooks) -> None:
        super().__init__(calls, kind, cancelled)
        self.hooks = hooks
        self.cancelled = cancelled
        self.polls = 0

    def __call__(self) -> bool:
        self.polls += 1
        stop = super().__call__()
        if self.polls == 2 and not stop:  # the engine's first poll: inside the running job
            stop = self.hooks.job_running(self.kind, self.cancelled)
        return stop


def install(server: WinnowServer) -> Hooks:
    """Wrap ``server``'s job tracking and its runtime's load, and register the test commands."""
    hooks = Hooks(server, hold_load=os.environ.get(ENV_HOLD_LOAD) == "1")
    calls = server.models.calls
    calls.track = lambda kind, cancelled: HeldJob(calls, kind, cancelled, hooks)  # type: ignore[method-assign]
    load = Runtime._load

    def held_load(runtime: Runtime, progress: Any) -> None:  # on the model worker
        hooks.wait_for_load_release()
        load(runtime, progress)

    Runtime._load = held_load  # type: ignore[method-assign]

    @server.command(CMD_HOLD_NEXT_JOB)
    async def hold_next_job(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        kind = args[0] if args and isinstance(args[0], str) else "inline"
        hooks.arm(kind)
        return {"armed": kind}

    @server.command(CMD_RELEASE_LOAD)
    async def release_load(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        hooks.load_released.set()
        return {"released": True}

    return hooks
