"""One run's process tree: started in a fresh folder, timed out, and cleaned up exactly.

Clean-up kills only what the run itself started, never a process that merely reuses a
number: the run's command is the leader of its own session and process group, and the
leader is waited for *without being reaped* (a ``pidfd`` on Linux, ``kqueue`` on macOS,
``waitid(WNOWAIT)`` elsewhere). While it is a zombie its number stays taken, so the group
it leads is still the run's when the whole group is killed; only then is it reaped. Under a
PID namespace (bwrap, unshare) everything the code started dies with the namespace's first
process anyway, even what left the group; under Seatbelt or no isolation, a process that
made itself a session of its own may outlive the run (docs/sandbox.md).

There is no ``/proc`` here: this runs on Linux and macOS alike.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from winnow.judge.sandbox.backends import Backend, wrap
from winnow.judge.sandbox.limits import RawRun, SandboxLimits

_TMP_PREFIX = "winnow-sandbox-"


def remove_stale_dirs() -> None:
    """Delete sandbox directories left by a killed process (a SIGKILL skips our clean-up)."""
    for d in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*-*"):
        pid = d.name[len(_TMP_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _tail(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _exited(pid: int) -> bool:
    """Whether ``pid`` (our child) has exited, without reaping it (False where this cannot be
    asked: macOS before Python 3.13 has no ``waitid``; its kqueue said it already)."""
    if not hasattr(os, "waitid"):
        return False
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def wait_unreaped(pid: int, timeout_s: float) -> bool:
    """Wait until our child ``pid`` exits, leaving it a zombie; False when ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    if hasattr(os, "pidfd_open"):  # Linux >= 5.3
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
                return bool(ready) or _exited(pid)
            finally:
                os.close(fd)
    if hasattr(select, "kqueue"):  # macOS, BSD
        kq = select.kqueue()
        try:
            event = select.kevent(pid, filter=select.KQ_FILTER_PROC, flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT,
                                  fflags=select.KQ_NOTE_EXIT)  # fmt: skip
            try:
                events = kq.control([event], 1, max(0.0, deadline - time.monotonic()))
            except ProcessLookupError:
                return True
            return bool(events) or _exited(pid)
        finally:
            kq.close()
    delay = 0.001
    while not _exited(pid):  # no event to wait on: poll, backing off as Popen.wait does
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_and_wait(wrapped_argv: list[str], cwd: str, env: dict[str, str] | None, out: Path, err: Path,
                   timeout_s: float) -> tuple[int | None, bool, float]:  # fmt: skip
    """Run to its end or its timeout; then kill what is left of its group and reap it:
    (return code, timed out, seconds)."""
    with out.open("wb") as out_f, err.open("wb") as err_f:
        start = time.monotonic()
        proc = subprocess.Popen(
            wrapped_argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        try:
            timed_out = not wait_unreaped(proc.pid, timeout_s)
        finally:
            _kill_group(proc.pid)  # its leader not yet reaped: the group is still this run's
            rc = proc.wait()
        return rc, timed_out, time.monotonic() - start


def execute(
    argv: list[str], files: dict[str, str], timeout_s: float, limits: SandboxLimits, backend: Backend,
    visible: Sequence[str] = (),
) -> RawRun:
    """Run ``argv`` with ``files`` in its working directory under ``backend``; never raises on
    failure of the code. ``visible``: folders the code may read even inside a hidden home
    directory (a project's sources, its installed packages), read-only."""
    host = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
    try:
        (host / "in").mkdir()
        for name, text in files.items():
            (host / "in" / name).write_text(text, encoding="utf-8")
        wrapped = wrap(backend, argv, list(files), host, limits, timeout_s, visible)
        out_path, err_path = host / "stdout", host / "stderr"
        rc, timed_out, duration = start_and_wait(wrapped.argv, wrapped.cwd, wrapped.env, out_path, err_path, timeout_s)
        return RawRun(
            rc, timed_out, _tail(out_path, limits.output_tail_bytes), _tail(err_path, limits.output_tail_bytes),
            duration, backend.name,
        )  # fmt: skip
    finally:
        shutil.rmtree(host, ignore_errors=True)
