"""Sandbox side of ``winnow mine --tests``: for each candidate, import the module with one
function replaced by it, run the repository's test files that name it under pytest, and
report pytest's exit code and how often the tests called the function.

Sent to the sandbox after the module driver's program (``repo_tests``), which holds
``driver_loading``: its ``load`` serves the edited module text under the module's own name,
so every ``import`` of it (the tests' included) gets the candidate. pytest is imported once;
each candidate then runs in a forked child (a fresh module state, its own wall-clock limit,
its output discarded), so a batch pays for the interpreter and pytest once. Prints one line
per candidate: the payload's marker, a space, then
``{"index": i, "exit": N | null, "calls": N, "timeout": bool}``.
"""

import json
import os
import signal
import sys
import time
import types
from collections.abc import Callable
from typing import Any

try:  # in the sandbox, the module driver's program holds it; as a script, it lies beside this file
    import driver_loading
except ImportError:  # imported as part of the package (tests)
    from winnow.judge.evidence.drivers import driver_loading

#: The JSON objects this driver reads and writes: its payload, a candidate, a record.
Json = dict[str, Any]
#: A ``sys.setprofile`` hook.
ProfileHook = Callable[[types.FrameType, str, object], None]


def call_counter(path: str, name: str, first: int, last: int) -> tuple[ProfileHook, list[int]]:
    """A profile hook that counts calls of the function ``name`` defined in ``path`` between
    lines ``first`` and ``last``: a test file that never calls it cannot label it."""
    count = [0]

    def hook(frame: types.FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        if event == "call" and code.co_name == name and code.co_filename == path and first <= code.co_firstlineno <= last:
            count[0] += 1

    return hook, count


def run_one(payload: Json, candidate: Json) -> Json:
    """One candidate, in this process: load the edited module, run the tests, count calls."""
    import threading

    import pytest

    hook, count = call_counter(payload["path"], payload["function"], candidate["first_line"], candidate["last_line"])
    record: Json = {"exit": None, "calls": 0}
    try:
        driver_loading.load({**payload, "source": candidate["source"]})
        sys.setprofile(hook)
        threading.setprofile(hook)
        try:
            record["exit"] = int(pytest.main([
                *payload["tests"], "-q", "-x", "--no-header", "-p", "no:cacheprovider", "-p", "no:randomly",
                "--rootdir", payload["rootdir"], "-o", "addopts=",
            ]))  # fmt: skip
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
    except BaseException as exc:  # a candidate that does not even import fails its tests
        record["error"] = f"{type(exc).__name__}: {exc}"[:300]
    record["calls"] = count[0]
    return record


def _in_child(payload: Json, candidate: Json, out: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        record = run_one(payload, candidate)
    except BaseException as exc:
        record = {"exit": None, "calls": 0, "error": f"{type(exc).__name__}: {exc}"[:300]}
    os.write(out, json.dumps(record).encode())
    os._exit(0)


def run_forked(payload: Json, candidate: Json, timeout_s: float) -> Json:
    """``run_one`` in a forked child, killed after ``timeout_s``."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _in_child(payload, candidate, write_end)
    os.close(write_end)
    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(0.02)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    try:
        record = json.loads(data) if data else {"exit": None, "calls": 0, "error": "the run died"}
    except json.JSONDecodeError:
        record = {"exit": None, "calls": 0, "error": "unreadable result"}
    record["timeout"] = timed_out
    return record


def run_mined_tests(payload: Json) -> None:
    driver_loading.add_paths(payload)  # once, in the parent: the children inherit them
    import pytest  # noqa: F401  # once, before the forks

    shared = {**payload, "sys_path": [], "site_dirs": []}
    for index, candidate in enumerate(payload["candidates"]):
        record = run_forked(shared, candidate, payload["timeout_s"])
        print("\n" + payload["marker"] + " " + json.dumps({"index": index, **record}), flush=True)


if __name__ == "__main__" and len(sys.argv) > 1:
    run_mined_tests(json.loads(open(sys.argv[1], encoding="utf-8").read()))
