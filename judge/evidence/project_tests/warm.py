"""Warm workers for the runs after an edit: one sandboxed worker per project keeps pytest, its
plugins and the packages the tests import from outside the project loaded, and runs each
edit's tests in a forked child (``sandbox.workers``, ``drivers/driver_worker``).

A run goes cold (a fresh sandbox, ``runs._run``) where no worker can run (no bubblewrap), and
for a project whose worker failed twice in a row. A worker is replaced when the project's
installed packages change (a ``site-packages`` folder's time stamp), when a job left
something behind, and after it sat idle (it exits by itself).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from winnow.judge.sandbox.choice import SandboxUnavailable
from winnow.judge.sandbox.limits import SandboxLimits
from winnow.judge.sandbox.workers import NoWorkerHere, SandboxWorker, WorkerUnavailable

log = logging.getLogger(__name__)

#: A driver's JSON record.
Record = dict[str, Any]
#: Projects with a warm worker at once (the least recently used one goes first).
MAX_WORKERS = 2
#: Seconds a worker may take beyond a job's own limit (importing what it learned, its start).
SLACK_S = 20.0
#: Failures in a row after which a project's runs stay cold.
MAX_FAILURES = 2

_lock = threading.Lock()
_workers: dict[tuple[object, ...], SandboxWorker] = {}
_failures: dict[tuple[object, ...], int] = {}
_off = ""  # why no worker can run here (asked once)


def _key(payload: Record) -> tuple[object, ...]:
    stamps = []
    for folder in payload["site_dirs"]:
        try:
            stamps.append(os.stat(folder).st_mtime_ns)
        except OSError:
            stamps.append(0)
    return (payload["runner"], payload["rootdir"], tuple(payload["sys_path"]), tuple(payload["site_dirs"]), *stamps)


def _config(payload: Record) -> Record:
    return {k: payload[k] for k in ("runner", "rootdir", "sys_path", "site_dirs")}


def warm_output(payload: Record, program: Callable[[Record], str], limits: SandboxLimits, visible: Sequence[str],
                timeout_s: float) -> tuple[str, bool] | None:  # fmt: skip
    """The output and the timed-out flag of ``payload``'s run in the project's warm worker
    (started with ``program(config)`` when there is none); None: run it cold."""
    global _off
    key = _key(payload)
    with _lock:
        if _off or _failures.get(key, 0) >= MAX_FAILURES:
            return None
        try:
            worker = _worker(key, payload, program, limits, visible)
            answer = worker.ask(payload | {"timeout_s": timeout_s}, timeout_s + SLACK_S)
        except (WorkerUnavailable, SandboxUnavailable, OSError) as exc:
            if not isinstance(exc, WorkerUnavailable) or isinstance(exc, NoWorkerHere):
                _off = str(exc)
            else:
                _failures[key] = _failures.get(key, 0) + 1
            _workers.pop(key, None)
            log.info("tests run cold: %s", exc)
            return None
        _failures[key] = 0
        if answer.restart:
            log.info("a fresh worker for the next run: the last one left %s", answer.restart)
            _workers.pop(key, None)
        return answer.output, answer.timed_out


def _worker(key: tuple[object, ...], payload: Record, program: Callable[[Record], str], limits: SandboxLimits,
            visible: Sequence[str]) -> SandboxWorker:  # fmt: skip
    worker = _workers.pop(key, None)
    if worker is not None and not worker.alive:
        worker.close()
        worker = None
    for old_key in [k for k in _workers if k[:4] == key[:4]]:  # the same project before an install
        _workers.pop(old_key).close()
    if worker is None:
        while len(_workers) >= MAX_WORKERS:
            _workers.pop(next(iter(_workers))).close()
        worker = SandboxWorker(program(_config(payload)), limits, visible)
    _workers[key] = worker  # the most recently used last
    return worker


def close_all() -> None:
    """End every warm worker (tests, shutdown)."""
    with _lock:
        while _workers:
            _workers.popitem()[1].close()
        _failures.clear()


atexit.register(close_all)  # their host folders too (the sandboxes would die with us anyway)


def worker_program(parts: str, config: Record) -> str:
    """A project-tests driver (``parts``: its program text with the worker's parts registered,
    ``driver_worker`` and ``driver_rewrites``) serving requests as a warm worker."""
    return (
        parts + "\nimport json as _json, driver_worker as _worker, driver_rewrites as _rewrites\n"
        "import project_tests_driver as _driver\n"
        f"_worker.serve(_json.loads({json.dumps(json.dumps(config))}),\n"
        "              lambda config: (_driver.set_up(config), _rewrites.install()),\n"
        "              lambda request: _driver.main(request, prepared=True),\n"
        "              report=_rewrites.rewritten_files, prepare=_rewrites.compile_rewritten)\n"
    )
