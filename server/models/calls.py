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
from typing import Any

from winnow.judge.base.errors import Cancelled

OUTCOMES = ("submitted", "started", "completed", "stopped", "dropped", "failed")


class ModelCalls:
    """Thread-safe counters: the worker thread reports starts and outcomes."""

    def __init__(self) -> None:
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
    chunks and tokens."""

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
