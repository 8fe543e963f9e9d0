"""A warm worker in the sandbox: a driver whose set-up (pytest, its plugins, the packages the
project's tests import from outside the project) is paid once, then one forked child per job.

Why it is safe to reuse: it runs only under bubblewrap, in a PID namespace of its own, where
it is the only process beside the namespace's init. A job runs in a forked child, so nothing
it does reaches the worker's memory; the worker is not dumpable, so a job cannot open its
``/proc`` files (the request channel among them), and the child closes the channel's
descriptors at once. After each job the worker removes what it added to ``/tmp`` and
``/dev/shm``; when anything is left behind (a process that left the job's group, System V
IPC, a file it could not remove) its answer says what (``restart``) and it exits: the host
starts a fresh one.

Protocol: one JSON request per line on stdin (``id``, ``marker``, ``timeout_s``, and the
job's payload), one JSON answer per line on stdout: ``id``, ``output`` (what the child
printed, its tail), ``timed_out``, ``status``, ``restart``. The child reports the modules it
imported from outside ``config["rootdir"]`` (``{"learned": [...]}`` after its marker), and
whatever else the driver's ``report`` adds; between jobs the worker imports them and hands
the record to the driver's ``prepare`` (pytest's assertion-rewritten test modules, compiled
once), so the next job finds them loaded. Before each fork the worker's objects are frozen
out of the garbage collector (``gc.freeze``): a job's collections (pytest runs five at the
end of a session) then walk only what the job made, and leave the worker's pages shared.

Runs inside the sandbox as a registered module: standard library only, nothing of Winnow.
"""

import ctypes
import gc
import importlib.abc
import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

#: Requests, answers and the job's payload.
Json = dict[str, Any]
#: How much of a child's output an answer keeps (the tail).
OUTPUT_CAP = 8_000_000
#: Writable folders a job may leave files in; the worker's own program stays.
SCRATCH = ("/tmp", "/dev/shm")
#: The most modules learned from one job, and the seconds their imports may take.
MAX_LEARNED, LEARN_S = 2000, 10
_PR_SET_DUMPABLE = 4
#: The top-level names of the project's own modules, as the jobs found them.
_project: set[str] = set()


def _channel() -> tuple[int, int]:
    """The request channel on descriptors of its own; 0, 1 and 2 go to /dev/null, so what an
    import prints cannot be taken for an answer."""
    ins, outs = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    return ins, outs


def _under(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _learned(before: set[str], marker: str, outside: list[str], never: list[str], documents: list[Json],
             extra: Json | None = None) -> None:  # fmt: skip
    """Print which modules the job imported from ``outside`` folders, and the top-level names
    of the project's own (a module under ``never``, or one the editor serves): a package of
    the project is never learned, whatever copy of it an import found. ``extra``: what the
    driver's ``report`` adds."""
    tops = {str(doc.get("name", "")).split(".")[0] for doc in documents}
    names = []
    for name in set(sys.modules) - before:
        path = os.path.realpath(getattr(sys.modules.get(name), "__file__", None) or "/")
        if _under(path, never):
            tops.add(name.split(".")[0])
        elif _under(path, outside):
            names.append(name)
    names = sorted(n for n in names if n.split(".")[0] not in tops | _project)[:MAX_LEARNED]
    record: Json = {**(extra or {}), "learned": names, "project": sorted(tops - {""})}
    sys.__stdout__.write("\n" + marker + " " + json.dumps(record) + "\n")


def _child(
    job: Callable[[Json], None], request: Json, out: int, channel: tuple[int, int], config: Json,
    report: Callable[[], Json],
) -> None:
    os.setpgid(0, 0)
    for fd in channel:
        os.close(fd)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    cpu = int(float(request.get("timeout_s", 30))) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    before = set(sys.modules)
    try:
        job(request)
        outside = [os.path.realpath(d) for d in [*config.get("site_dirs", []), sys.base_prefix]]
        never = [os.path.realpath(config["rootdir"]), "/tmp"]
        _learned(before, str(request["marker"]), outside, never, list(request.get("documents", [])), report())
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
                stream.flush()
        finally:
            os._exit(0)


def _collect(pid: int, read_end: int, timeout_s: float) -> tuple[bytes, bool, int]:
    """What the child printed, until it exited and its pipe is drained (or a moment after, when
    something else holds the pipe open): (output, timed out, wait status)."""
    data, timed_out, status, eof, exited = bytearray(), False, -1, False, 0.0
    deadline = time.monotonic() + timeout_s
    while True:
        if not eof and select.select([read_end], [], [], 0.02)[0]:
            chunk = os.read(read_end, 1 << 16)
            eof = not chunk
            data += chunk
            del data[:-OUTPUT_CAP]
        elif eof:
            time.sleep(0.02)
        if not exited:
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done and time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                timed_out = True
                done, status = os.waitpid(pid, 0)
            exited = time.monotonic() if done else 0.0
        if exited and (eof or time.monotonic() > exited + 0.3):
            break
    try:
        os.killpg(pid, signal.SIGKILL)  # what stayed in the job's group
    except (ProcessLookupError, PermissionError):
        pass
    return bytes(data), timed_out, status


def _scratch() -> list[str]:
    """Every path in the scratch folders, deepest first, on their own file systems (the
    project's folders bound read-only below ``/tmp`` are not entered); an unreadable folder
    is named with a trailing "?"."""
    paths: list[str] = []
    unreadable = paths.append
    for top in SCRATCH:
        device = os.lstat(top).st_dev
        for folder, dirs, files in os.walk(top, onerror=lambda e: unreadable(f"{e.filename}?")):
            dirs[:] = [d for d in dirs if os.lstat(os.path.join(folder, d)).st_dev == device]
            paths += [os.path.join(folder, name) for name in files + dirs]
    return sorted(paths, key=lambda p: -p.count("/"))


def _wipe(baseline: set[str]) -> str:
    """Remove what a job added to the scratch folders: "" when all went, else what stayed."""
    stayed = []
    for path in _scratch():
        if path in baseline:
            continue
        try:
            os.rmdir(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
        except OSError:
            stayed.append(path)
    return f"files it could not remove: {stayed[:3]}" if stayed else ""


def _left_behind() -> str:
    """What a job left that could reach the next ("" when nothing): a process, System V IPC."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if not pid:
            break
    others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
    if others:
        return f"processes {others[:5]}"
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                if len(f.read().strip().splitlines()) > 1:
                    return f"System V {kind}"
        except OSError:
            continue
    return ""


class _ProjectBlocked(importlib.abc.MetaPathFinder):
    """While the worker learns: an import of the project's own modules fails (each job imports
    them itself, the edited one as the editor has it)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.split(".")[0] in _project:
            raise ModuleNotFoundError(f"{fullname} is the project's own: the worker never imports it")
        return None


def _learned_record(output: bytes, marker: str) -> Json:
    """The last record after ``marker`` that says what the job learned ({} when none)."""
    prefix = (marker + " ").encode()
    for line in reversed(output.splitlines()):
        if line.startswith(prefix):
            try:
                record = json.loads(line[len(prefix) :])
            except ValueError:
                continue
            if isinstance(record, dict) and "learned" in record:
                return record
    return {}


def _learn(output: bytes, marker: str, prepare: Callable[[Json], None] = lambda record: None) -> None:
    """Import the modules the job named and let the driver ``prepare`` what else it reported
    (between jobs, time-boxed; a failure is skipped)."""
    record = _learned_record(output, marker)
    try:
        names, project = list(record.get("learned", [])), list(record.get("project", []))
    except TypeError:
        return
    _project.update(str(top) for top in project)
    blocker = _ProjectBlocked()
    sys.meta_path.insert(0, blocker)
    signal.signal(signal.SIGALRM, _too_slow)
    signal.alarm(LEARN_S)
    try:
        for name in sorted(str(n) for n in names[:MAX_LEARNED]):
            if name not in sys.modules and name.split(".")[0] not in _project:
                try:
                    __import__(name)
                except Exception:
                    continue
        prepare(record)
    except TimeoutError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        sys.meta_path.remove(blocker)


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError


def _answer(channel: int, answer: Json) -> None:
    data = (json.dumps(answer) + "\n").encode()
    while data:
        data = data[os.write(channel, data) :]


def _nothing() -> Json:
    return {}


def serve(
    config: Json, set_up: Callable[[Json], None], job: Callable[[Json], None], idle_s: float = 600.0,
    report: Callable[[], Json] = _nothing, prepare: Callable[[Json], None] = lambda record: None,
) -> None:
    """Set up once, then run each request's job in a forked child until stdin closes, the
    worker sat idle ``idle_s``, or a job left something behind. ``report`` (in the child,
    after its job) adds to what the job learned; ``prepare`` (in the worker) gets it."""
    ins, outs = _channel()
    ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    set_up(config)
    baseline = set(_scratch())  # the sandbox's own folders (and mount points) stay
    requests = os.fdopen(ins, "rb")
    while select.select([ins], [], [], idle_s)[0]:
        line = requests.readline()
        if not line:
            return
        request = json.loads(line)
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        gc.freeze()  # what the worker holds is never collected in a job (nor copied by its collections)
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _child(job, request, write_end, (ins, outs), config, report)
        os.close(write_end)
        output, timed_out, status = _collect(pid, read_end, float(request.get("timeout_s", 30)))
        os.close(read_end)
        dirty = _wipe(baseline) or _left_behind()
        _answer(outs, {"id": request.get("id"), "output": output.decode("utf-8", "replace"), "timed_out": timed_out,
                       "status": status, "restart": dirty})  # fmt: skip
        if dirty:
            return
        _learn(output, str(request["marker"]), prepare)
