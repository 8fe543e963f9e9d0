"""The sandbox against hostile candidates: each run ends within its limits, the host is untouched,
and the verdict is right."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from winnow.judge.sandbox.backends import BACKENDS
from winnow.judge.sandbox.choice import isolation
from winnow.judge.sandbox.limits import SANDBOX_UID_RANGE, SandboxLimits
from winnow.judge.sandbox.results import python_exception
from winnow.judge.sandbox.run import run_python


def sandbox_backend() -> str:
    return isolation().backend.name

TIMEOUT = 3.0
SLACK = 4.0  # start-up and clean-up on a busy 2-core machine


def _sandbox_uid_processes() -> list[tuple[int, int]]:
    """Live processes under a throw-away sandbox uid, as (pid, uid) (only used when Winnow
    runs as root; the test reads Linux's /proc, the product does not)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if SANDBOX_UID_RANGE[0] <= uid < SANDBOX_UID_RANGE[1] and state not in (b"Z", b"X"):
                pids.append((int(entry), uid))
    return pids


def _busiest_run() -> tuple[int, int]:
    """(processes, uid) of the run with the most processes (each run has its own uid): other
    runs on the machine at the same time (a server's hints, another test process) are not
    the bomb's."""
    per_uid = Counter(uid for _pid, uid in _sandbox_uid_processes())
    return max(((n, uid) for uid, n in per_uid.items()), default=(0, -1))


def _no_processes_of(uid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(u == uid for _pid, u in _sandbox_uid_processes()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_backend_is_known() -> None:
    assert sandbox_backend() in {b.name for b in BACKENDS}


def test_plain_verdicts() -> None:
    ok = run_python("def f(x):\n    return x + 1\n\nassert f(1) == 2\n", TIMEOUT)
    assert ok.status == "passed", ok
    wrong = run_python("def f(x):\n    return x\n\nassert f(1) == 2\n", TIMEOUT)
    assert (wrong.status, wrong.reason) == ("failed", "AssertionError at line 4")
    crash = run_python("def f(x):\n    return x + 'a'\n\nf(1)\n", TIMEOUT)
    assert (
        crash.status == "error" and crash.reason.startswith("TypeError") and crash.reason.endswith("line 2")
    )
    syntax = run_python("def f(x) return x\n", TIMEOUT)
    assert syntax.status == "error" and syntax.reason.startswith("SyntaxError")


def test_environment_is_scrubbed_and_stdin_closed() -> None:
    os.environ["WINNOW_TEST_SECRET"] = "leak"
    try:
        r = run_python(
            "import os, sys\nprint(sorted(os.environ))\nprint(sys.flags.isolated)\ninput()\n", TIMEOUT
        )
    finally:
        del os.environ["WINNOW_TEST_SECRET"]
    assert "WINNOW_TEST_SECRET" not in r.stdout_tail and "PYTHONPATH" not in r.stdout_tail
    assert "\n1\n" in r.stdout_tail  # python -I
    assert r.status == "error" and r.reason.startswith("EOFError")


def test_infinite_loop_times_out() -> None:
    r = run_python("while True:\n    pass\n", TIMEOUT)
    assert r.status == "timeout"
    assert TIMEOUT <= r.duration_s < TIMEOUT + SLACK


def test_fork_bomb_is_contained() -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    peak = [(0, -1)]  # (processes, uid) of the bomb's run at its largest
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _busiest_run())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.monotonic()
    try:
        r = run_python(bomb, TIMEOUT)
    finally:
        done.set()
        watcher.join()
    assert r.status in ("timeout", "error"), r
    assert time.monotonic() - start < TIMEOUT + SLACK
    if os.geteuid() == 0:
        count, uid = peak[0]
        assert count <= SandboxLimits().nproc + 2, "RLIMIT_NPROC was not enforced"
        assert _no_processes_of(uid, 2.0), "the fork bomb left processes behind"
    # the host still works
    assert run_python("assert 1 + 1 == 2\n", TIMEOUT).status == "passed"


def test_memory_hog_hits_the_memory_limit() -> None:
    # Filling 1 GiB takes a while on a loaded machine: give it more time than the other cases.
    r = run_python("hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))\n", 15.0)
    assert r.status == "error" and r.reason.startswith("MemoryError"), r
    huge = run_python("x = bytearray(64 * 2**30)\n", TIMEOUT)
    assert huge.status == "error" and huge.reason.startswith("MemoryError"), huge


def test_printing_100_mb_is_capped() -> None:
    r = run_python("import sys\nsys.stdout.write('x' * 100_000_000)\n", 10.0)
    assert r.status == "error" and "file size limit" in r.reason, r
    assert len(r.stdout_tail) <= SandboxLimits().output_tail_bytes
    assert r.duration_s < 10.0


def test_early_exit_is_not_a_pass() -> None:
    r = run_python("import os\nos._exit(0)\n\nassert False\n", TIMEOUT)
    assert (r.status, r.reason) == ("failed", "exited with status 0 before the tests finished")
    r = run_python("import sys\nsys.exit(0)\nassert False\n", TIMEOUT)
    assert r.status == "failed"


def test_killing_its_parent_leaves_the_host_alive() -> None:
    code = (
        "import os, signal\n"
        "try:\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n"
        "except OSError:\n"
        "    pass\n"
        "assert True\n"
    )
    r = run_python(code, TIMEOUT)
    assert r.status in ("passed", "error"), r  # error: it took its own sandbox down, nothing else
    if sandbox_backend() == "bwrap":
        assert r.status == "passed"  # the PID namespace's init ignores signals from inside
    os.kill(os.getpid(), 0)
    os.kill(os.getppid(), 0)
    assert run_python("assert True\n", TIMEOUT).status == "passed"


def test_no_writes_outside_its_directory(tmp_path: Path) -> None:
    if sandbox_backend() != "bwrap":
        pytest.skip(f"only the bwrap backend keeps writes inside the sandbox (backend: {sandbox_backend()})")
    host_tmp = Path("/tmp") / f"winnow-escape-{uuid.uuid4().hex}"
    private = tmp_path / "escape"
    code = (
        "import os\n"
        f"for path in ({str(host_tmp)!r}, {str(private)!r}, os.path.expanduser('~/escape'), 'local.txt'):\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write('x')\n"
        "    except OSError as e:\n"
        "        print('refused', path, e)\n"
        "assert open('local.txt').read() == 'x'\n"
    )
    r = run_python(code, TIMEOUT)
    assert r.status == "passed", r
    assert not host_tmp.exists() and not private.exists()
    assert f"refused {private}" in r.stdout_tail


def test_no_network() -> None:
    if sandbox_backend() == "none":
        pytest.skip("the 'none' backend does not isolate the network")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                pass

    t = threading.Thread(target=serve)
    t.start()
    code = (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        "try:\n"
        f"    s.connect(('127.0.0.1', {port}))\n"
        "except OSError as e:\n"
        "    print('no network:', e)\n"
        "else:\n"
        "    raise AssertionError('connected to the host')\n"
    )
    try:
        r = run_python(code, TIMEOUT)
    finally:
        stop.set()
        t.join()
        server.close()
    assert r.status == "passed", r
    assert not accepted


def test_python_exception_parsing() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "/tmp/w/main.py", line 7, in <module>\n'
        "    check(f)\n"
        '  File "/tmp/w/main.py", line 3, in check\n'
        "    assert candidate(1) == 2, 'bad'\n"
        "           ^^^^^^^^^^^^^^^^^\n"
        "AssertionError: bad\n"
    )
    assert python_exception(tb) == ("AssertionError", "AssertionError: bad", 3)
    assert python_exception("no traceback here\n") is None
