"""A warm sandboxed process that runs one job after another, each in a forked child of it:
the cost every cold run pays at its start (an interpreter, pytest and its plugins, the
packages a project's tests import) is paid once.

Only under bubblewrap: there the worker sits in a PID namespace of its own, so it can see
everything a job left behind and, when anything is, it says so and exits (its side:
``evidence.drivers.driver_worker``); the namespace takes whatever is still running with it.
Under Seatbelt or a weak backend there is no such view and every run stays a fresh process
tree (the worker raises ``NoWorkerHere``; callers run cold).

Each answer must carry its request's random id; anything else on the channel (a stray line,
an answer to another request, a late one) ends the worker. A request that takes longer than
its time limit kills the worker's whole sandbox.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from winnow.judge.sandbox.backends import BWRAP, sandbox_python, wrap
from winnow.judge.sandbox.choice import require
from winnow.judge.sandbox.limits import SandboxLimits

#: A request's and an answer's JSON objects.
Json = dict[str, Any]
#: A worker's own CPU time (its jobs each get their own limit, set in their child).
WORKER_CPU_S = 24 * 3600
#: The largest answer read back (a job's output tail is capped at 8 MB before JSON escaping).
MAX_ANSWER_BYTES = 64_000_000


class WorkerUnavailable(Exception):
    """The worker ended or could not answer: run cold."""


class NoWorkerHere(WorkerUnavailable):
    """No warm worker can run on this machine (no bubblewrap): every run is cold."""


@dataclass(frozen=True)
class WorkerAnswer:
    """What one job printed (its tail), and how it ended."""

    output: str
    timed_out: bool
    restart: str  # what the job left behind ("" when nothing): then the worker has exited


class SandboxWorker:
    """One warm worker: ``program`` (Python text that serves requests on stdin) under bubblewrap."""

    def __init__(self, program: str, limits: SandboxLimits, visible: Sequence[str] = ()) -> None:
        backend = require(False)
        if backend is not BWRAP:
            raise NoWorkerHere(f"a warm worker needs bubblewrap's PID namespace, not {backend.name}")
        self.host = Path(tempfile.mkdtemp(prefix=f"winnow-sandbox-{os.getpid()}-worker-"))
        (self.host / "in").mkdir()
        (self.host / "in" / "main.py").write_text(program, encoding="utf-8")
        limits = replace(limits, cpu_s=WORKER_CPU_S)
        argv = [sandbox_python(backend), "-I", "-B", "main.py"]
        wrapped = wrap(backend, argv, ["main.py"], self.host, limits, WORKER_CPU_S, visible)
        self.proc = subprocess.Popen(
            wrapped.argv, cwd=wrapped.cwd, env=wrapped.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, bufsize=0,
        )  # fmt: skip
        self.started = time.monotonic()
        self.jobs = 0

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, request: Json, timeout_s: float) -> WorkerAnswer:
        """Run one job; ``WorkerUnavailable`` (and the worker closed) when it cannot answer in
        ``timeout_s`` or answers anything but this request."""
        out = self.proc.stdout
        if not self.alive or out is None or self.proc.stdin is None:
            self.close()
            raise WorkerUnavailable("the worker has ended")
        if select.select([out], [], [], 0)[0]:  # nothing may be waiting before we ask
            self.close()
            raise WorkerUnavailable("the worker wrote something unasked")
        ident = secrets.token_hex(16)
        deadline = time.monotonic() + timeout_s
        try:
            self._write_all((json.dumps(request | {"id": ident}) + "\n").encode(), deadline)
            answer = json.loads(self._read_line(deadline))
        except (OSError, ValueError, WorkerUnavailable) as exc:
            self.close()
            raise WorkerUnavailable(f"the worker did not answer: {exc}") from exc
        if not isinstance(answer, dict) or answer.get("id") != ident:
            self.close()
            raise WorkerUnavailable("the worker answered another request")
        self.jobs += 1
        result = WorkerAnswer(str(answer.get("output", "")), bool(answer.get("timed_out")),
                              str(answer.get("restart") or ""))  # fmt: skip
        if result.restart:
            self.close()
        return result

    def _write_all(self, data: bytes, deadline: float) -> None:
        """The request, written without blocking past the deadline (a worker still importing
        what it learned reads it when done)."""
        assert self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        while data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise WorkerUnavailable("the worker took no request")
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                continue

    def _read_line(self, deadline: float) -> bytes:
        """One line from the worker, read without blocking past the deadline."""
        assert self.proc.stdout is not None
        fd, data = self.proc.stdout.fileno(), bytearray()
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerUnavailable("no answer in time")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerUnavailable("the worker exited")
            data += chunk
            if len(data) > MAX_ANSWER_BYTES:
                raise WorkerUnavailable("the answer is too long")
        if data.count(b"\n") != 1:
            raise WorkerUnavailable("more than one answer")
        return bytes(data)

    def close(self) -> None:
        """End the worker's sandbox and everything in it (its PID namespace dies with it)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        shutil.rmtree(self.host, ignore_errors=True)
