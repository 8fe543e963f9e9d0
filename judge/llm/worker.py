"""One model worker: every llama.cpp call runs on this single thread, in order.

Generator and judge share the machine's cores; two evaluations that each take every
core at once slow each other down by two orders of magnitude (OpenMP spin-waiting),
so they never overlap. Jobs carry a cancel check: a job that went stale while it
waited is dropped before it runs, and a running job sees the same check between
tokens (the engine raises ``Cancelled``).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from winnow.judge.base.errors import Cancelled

log = logging.getLogger(__name__)
T = TypeVar("T")

# Lower runs first: interactive requests jump ahead of background judging.
PRIORITY_INTERACTIVE = 0
PRIORITY_NORMAL = 5
PRIORITY_BACKGROUND = 10


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    fn: Callable[[], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)
    cancelled: Callable[[], bool] | None = field(compare=False, default=None)


class ModelWorker:
    """A single thread that runs model jobs one at a time, highest priority first."""

    def __init__(self, name: str = "winnow-model") -> None:
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(
        self,
        fn: Callable[[], T],
        priority: int = PRIORITY_NORMAL,
        cancelled: Callable[[], bool] | None = None,
    ) -> Future[T]:
        """Queue ``fn``; its Future raises ``Cancelled`` if the job went stale first."""
        if self._closed:
            raise RuntimeError("model worker is closed")
        future: Future[T] = Future()
        self._queue.put(_Job(priority, next(self._seq), fn, future, cancelled))
        return future

    def call(self, fn: Callable[[], T], priority: int = PRIORITY_NORMAL, timeout: float | None = None) -> T:
        """Run ``fn`` on the worker and wait for its result (for scripts and the CLI)."""
        if threading.current_thread() is self._thread:
            return fn()  # already on the worker: run inline rather than deadlock
        return self.submit(fn, priority).result(timeout)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job.fn is _STOP:
                job.future.set_result(None)
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            if job.cancelled is not None and job.cancelled():
                job.future.set_exception(Cancelled("dropped: the request went stale before it ran"))
                continue
            try:
                job.future.set_result(job.fn())
            except BaseException as exc:  # delivered to the caller, never kills the worker
                job.future.set_exception(exc)

    def close(self, timeout: float | None = 5.0) -> None:
        """Finish queued jobs, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        done: Future[None] = Future()
        self._queue.put(_Job(1 << 30, next(self._seq), _STOP, done))
        self._thread.join(timeout)


def _STOP() -> None:  # sentinel job
    return None
