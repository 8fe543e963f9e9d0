"""Forked children, several at once, each with a time limit and one JSON answer: how the
project-tests driver runs a best-of-N batch (one child per candidate, the imports made once
in the parent before the forks). Runs in the sandbox: imports nothing of Winnow."""

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

#: The JSON objects a child answers.
Json = dict[str, Any]


def _start(child: Callable[[int, int], None], index: int) -> tuple[int, int]:
    """Fork the child for job ``index`` (it writes its answer to the fd it is given and
    exits): its pid and the read end of its pipe."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        child(index, write_end)
        os._exit(0)
    os.close(write_end)
    return pid, read_end


def _answer(read_end: int, failed: Json) -> Json:
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    try:
        return json.loads(data) if data else failed | {"error": "the run died"}
    except json.JSONDecodeError:
        return failed | {"error": "unreadable result"}


def fork_each(count: int, child: Callable[[int, int], None], timeout_s: float, failed: Json) -> list[Json]:
    """Jobs ``0..count-1`` in forked children, as many at once as there are cores (at most
    4), each killed after ``timeout_s``: their answers in job order, each with ``timeout``.
    A child that dies or answers nothing gets ``failed`` and an ``error``."""
    width = max(1, min(count, os.cpu_count() or 1, 4))
    waiting = list(range(count))
    running: dict[int, tuple[int, int, float]] = {}  # pid -> (job, read end, deadline)
    answers: dict[int, Json] = {}
    while waiting or running:
        while waiting and len(running) < width:
            index = waiting.pop(0)
            pid, read_end = _start(child, index)
            running[pid] = (index, read_end, time.monotonic() + timeout_s)
        for pid, (index, read_end, deadline) in list(running.items()):
            timed_out = False
            if not os.waitpid(pid, os.WNOHANG)[0]:
                if time.monotonic() <= deadline:
                    continue
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                timed_out = True
            del running[pid]
            answers[index] = {"timeout": timed_out, **_answer(read_end, failed)}
        time.sleep(0.01)
    return [answers[index] for index in range(count)]
