"""How many model jobs the server ran, by kind and outcome, and the cancel check that
sees a job start.

The runtime's ``latency_ms`` keeps the last 50 timings of each kind; these counts
never roll over, so "exactly one more generation than before" stays checkable
(``winnow.showStats`` → ``models.calls``) however long the server has run.

Outcomes of one job: ``submitted`` (queued on the model worker), then ``started``
(the worker ran it) and one of ``completed``, ``stopped`` (cancelled while it ran),
``dropped`` (went stale before it ran) or ``failed``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from winnow.judge.base.errors import Cancelled

OUTCOMES = ("submitted", "started", "completed", "stopped", "dropped", "failed")


class JobObserver(Protocol):
    """Sees model work from inside: a job once it runs, and each model load before it
    starts. Nothing in the product installs one; a test does (``ModelHost.observer``) to
    hold a job while it runs, or a load while it sends requests."""

    def job_running(self, kind: str, cancelled: Callable[[], bool]) -> bool:
        """Called on the model worker inside a running job of ``kind`` (it may block
        there); returns whether the job should stop, like ``cancelled``."""
        ...

    async def before_load(self) -> None:
        """Awaited on the event loop before a model load starts."""
        ...


class ModelCalls:
    """Thread-safe counters: the worker thread reports starts and outcomes."""

    def __init__(self) -> None:
        self.observer: JobObserver | None = None
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def count(self, kind: str, outcome: str) -> None:
        with self._lock:
            per_kind = self._counts.setdefault(kind, dict.fromkeys(OUTCOMES, 0))
            per_kind[outcome] += 1

    def track(self, kind: str, cancelled: Callable[[], bool]) -> TrackedJob:
        """A cancel check to hand to the runtime for one job of ``kind``."""
        return TrackedJob(self, kind, cancelled)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: dict(counts) for kind, counts in self._counts.items()}


class TrackedJob:
    """One job's cancel check, as the model worker and the engine poll it.

    The worker polls it once right before the job runs (the job starts unless that
    poll says stop; see ``ModelWorker._run``); the engine polls it between prompt
    chunks and tokens. The second poll is therefore inside the running job: that is
    where a ``JobObserver`` sees it running."""

    def __init__(self, calls: ModelCalls, kind: str, cancelled: Callable[[], bool]) -> None:
        self.calls = calls
        self.kind = kind
        self._cancelled = cancelled
        self._polls = 0
        self.started = False

    def __call__(self) -> bool:
        self._polls += 1
        stop = self._cancelled()
        if self._polls == 1 and not stop:
            self.started = True
            self.calls.count(self.kind, "started")
        elif self._polls == 2 and not stop and self.calls.observer is not None:
            stop = self.calls.observer.job_running(self.kind, self._cancelled)
        return stop

    def watch(self, future: Future[Any]) -> None:
        """Count the job as submitted, and its outcome once its future settles."""
        self.calls.count(self.kind, "submitted")
        future.add_done_callback(self._settled)

    def _settled(self, future: Future[Any]) -> None:
        if future.cancelled():
            outcome = "dropped"
        else:
            exc = future.exception()
            if exc is None:
                outcome = "completed"
            elif isinstance(exc, Cancelled):
                outcome = "stopped" if self.started else "dropped"
            else:
                outcome = "failed"
        self.calls.count(self.kind, outcome)
