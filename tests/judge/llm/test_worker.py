"""The one model worker (judge.llm.worker): priorities, stale jobs, surviving a failure."""

from __future__ import annotations

import threading
import time

import pytest

from winnow.judge.base.errors import Cancelled
from winnow.judge.llm.worker import PRIORITY_BACKGROUND, PRIORITY_INTERACTIVE, ModelWorker


def test_worker_runs_by_priority_and_drops_stale_jobs() -> None:
    worker = ModelWorker()
    order: list[str] = []
    gate = threading.Event()
    first = worker.submit(lambda: gate.wait(5))
    time.sleep(0.05)
    low = worker.submit(lambda: order.append("background"), PRIORITY_BACKGROUND)
    high = worker.submit(lambda: order.append("interactive"), PRIORITY_INTERACTIVE)
    stale = worker.submit(lambda: order.append("stale"), cancelled=lambda: True)
    gate.set()
    for f in (first, low, high):
        f.result(5)
    with pytest.raises(Cancelled):
        stale.result(5)
    assert order == ["interactive", "background"]
    boom = worker.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        boom.result(5)
    assert worker.call(lambda: 42) == 42  # the worker survives an exception
    worker.close()
