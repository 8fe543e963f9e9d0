"""Process isolation for the sandbox: one throw-away, resource-limited process tree per run.

``execute`` writes a run's files into a fresh directory, wraps the command for an isolation
backend (``bwrap`` / ``unshare`` / ``none``, see sandbox.py), starts it in its own session
with a scrubbed environment and stdin closed, kills its process group at the wall-clock
timeout, sweeps what it left behind (by session id, and by user id as root), and reads its
output back as capped tails. Inside the sandbox a bootstrap applies the ``setrlimit`` limits
(and, as root, drops to a throw-away user id) before it becomes the real command.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Where the working directory appears inside a bwrap sandbox (on its private tmpfs).
INSIDE_DIR = "/tmp/w"
#: Throw-away user ids for sandboxed code when Winnow runs as root (random per run).
SANDBOX_UID_RANGE = (2_000_000, 3_000_000)


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run resource limits, applied with ``setrlimit`` inside the sandbox."""

    memory_mb: int = 1024  # RLIMIT_AS, per process
    file_size_mb: int = 16  # RLIMIT_FSIZE: every file, stdout and stderr included
    nproc: int = 32  # RLIMIT_NPROC: processes and threads of the sandbox's user
    nofile: int = 64  # RLIMIT_NOFILE
    cpu_s: int | None = None  # RLIMIT_CPU; None means the wall-clock timeout + 1 s
    tmpfs_mb: int = 64  # size of the private /tmp holding the working directory (bwrap)
    output_tail_bytes: int = 4096  # how much of stdout/stderr is kept


@dataclass
class RawRun:
    """What a run's process tree left behind, before ``sandbox_results`` classifies it."""

    returncode: int | None
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    backend: str


def _python_binary() -> str:
    """The real interpreter behind ``sys.executable`` (a venv's symlink resolved): stdlib only."""
    return os.path.realpath(sys.executable)


def _python_prefix() -> str:
    return os.path.realpath(sys.base_prefix)


def sandbox_python(backend: str) -> str:
    """The interpreter that runs candidates: ours, with a venv resolved to its base (stdlib only).

    As root without bubblewrap, code runs under a throw-away uid, which must be able to reach
    the interpreter; when ours sits in a private directory (``/root/.pyenv``) the system's
    ``python3`` stands in.
    """
    ours = _python_binary()
    if os.geteuid() != 0 or backend == "bwrap" or _reachable_by_others(ours):
        return ours
    for candidate in ("/usr/local/bin/python3", "/usr/bin/python3"):
        real = os.path.realpath(candidate)
        if os.path.isfile(real) and _reachable_by_others(real):
            return real
    return ours


# Runs first inside the sandbox, after the namespaces exist (so that a user namespace counts
# RLIMIT_NPROC from zero), then becomes the real command. As root it also drops to the
# throw-away uid. Started with -I -S, so nothing from the host's environment runs here.
_BOOTSTRAP = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
for name, soft, hard in cfg["rlimits"]:
    resource.setrlimit(getattr(resource, name), (soft, hard))
if cfg["uid"] is not None:
    os.setgroups([])
    os.setgid(cfg["uid"])
    os.setuid(cfg["uid"])
os.execv(sys.argv[2], sys.argv[2:])
"""


def _rlimits(limits: SandboxLimits, timeout_s: float, backend: str, uid: int | None) -> list[list[object]]:
    cpu = limits.cpu_s if limits.cpu_s is not None else int(timeout_s) + 1
    mb = 1024 * 1024
    out: list[list[object]] = [
        ["RLIMIT_CPU", cpu, cpu + 1],
        ["RLIMIT_AS", limits.memory_mb * mb, limits.memory_mb * mb],
        ["RLIMIT_FSIZE", limits.file_size_mb * mb, limits.file_size_mb * mb],
        ["RLIMIT_NOFILE", limits.nofile, limits.nofile],
        ["RLIMIT_CORE", 0, 0],
    ]
    # RLIMIT_NPROC counts every process of the user. It is meaningful in a user namespace of
    # our own (counted from zero there), or under the throw-away uid; without either it would
    # count the user's whole desktop, and for root it is never enforced.
    if uid is not None or backend in ("bwrap", "unshare"):
        out.append(["RLIMIT_NPROC", limits.nproc, limits.nproc])
    return out


def _env(home: str, tmp: str) -> dict[str, str]:
    """The complete environment of sandboxed code: nothing inherited from the host."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }


def _hidden_dirs() -> list[str]:
    """Home directories hidden from sandboxed code (they hold credentials)."""
    if os.geteuid() == 0:
        dirs = ["/root", "/home"]
    else:
        dirs = [os.path.expanduser("~")]
    return [d for d in dirs if d not in ("", "/") and os.path.isdir(d)]


def _java_home() -> str | None:
    java = shutil.which("java")
    if not java:
        return None
    return str(Path(os.path.realpath(java)).parent.parent)


def _needed_dirs() -> list[str]:
    """Directories sandboxed code must still see when a hidden directory contains them."""
    needed = [_python_prefix(), str(Path(_python_binary()).parent)]
    java_home = _java_home()
    if java_home:
        needed.append(java_home)
    return needed


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _reachable_by_others(path: str) -> bool:
    """Whether a user other than the owner may reach ``path`` (o+x on every directory above)."""
    p = Path(path)
    for parent in [*reversed(p.parents)]:
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


@functools.cache
def _bwrap_help() -> str:
    try:
        done = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def _bwrap_has(option: str) -> bool:
    return option in _bwrap_help()


def _bwrap_command(
    host: Path, files: list[str], uid: int | None, limits: SandboxLimits, visible: Sequence[str] = ()
) -> list[str]:
    cmd = ["bwrap", "--die-with-parent", "--new-session"]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if uid is None:
        cmd += ["--unshare-user"]  # unprivileged: a user namespace is what allows the rest
    cmd += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if _bwrap_has("--size"):  # bubblewrap >= 0.8
        cmd += ["--perms", "1777", "--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    else:  # older bubblewrap: an uncapped tmpfs (memory-backed; RLIMIT_FSIZE still caps each file)
        cmd += ["--tmpfs", "/tmp", "--chmod", "1777", "/tmp"]
    hidden = _hidden_dirs()
    for d in hidden:
        cmd += ["--tmpfs", d]
    needed = sorted({d for d in [*_needed_dirs(), *visible] if os.path.isdir(d)})
    needed = [d for d in needed if not any(d != o and _under(d, o) for o in needed)]
    covered = [*hidden, "/tmp"]  # folders a private mount hides; ``visible`` ones below them come back
    for d in needed:
        top = next((h for h in covered if _under(d, h)), None)
        if top is None or (top == "/tmp" and d not in visible):
            continue
        # bwrap would create the directories in between with mode 0700: make them passable.
        for parent in reversed(Path(d).parents):
            if _under(str(parent), top) and str(parent) != top:
                cmd += ["--perms", "0755", "--dir", str(parent)]
        cmd += ["--ro-bind", d, d]
    cmd += ["--perms", "1777", "--dir", INSIDE_DIR]
    for name in files:
        cmd += ["--ro-bind", str(host / "in" / name), f"{INSIDE_DIR}/{name}"]
    cmd += ["--chdir", INSIDE_DIR, "--clearenv"]
    for key, value in _env(INSIDE_DIR, "/tmp").items():
        cmd += ["--setenv", key, value]
    return cmd


_warned: set[str] = set()


def warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def _wrap(
    backend: str, argv: list[str], files: list[str], host: Path, limits: SandboxLimits, timeout_s: float,
    visible: Sequence[str] = (),
) -> tuple[list[str], str, dict[str, str] | None, int | None]:
    """Build (command, cwd, env, sandbox uid) that runs ``argv`` under ``backend``."""
    uid: int | None = None
    if os.geteuid() == 0:
        uid = SANDBOX_UID_RANGE[0] + secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0])
        if backend != "bwrap" and not _reachable_by_others(argv[0]):
            warn_once(
                f"sandbox: {argv[0]} is not reachable for an unprivileged user, so candidates run as "
                "root: the process-count limit is not enforced (install bubblewrap to fix this)"
            )
            uid = None
    boot = [sandbox_python(backend), "-I", "-S", "-B", "-c", _BOOTSTRAP]
    cfg = json.dumps({"rlimits": _rlimits(limits, timeout_s, backend, uid), "uid": uid})
    if backend == "bwrap":
        return [*_bwrap_command(host, files, uid, limits, visible), "--", *boot, cfg, *argv], "/", None, uid
    work = host / "work"
    work.mkdir()
    for name in files:
        shutil.copyfile(host / "in" / name, work / name)
    if uid is not None:
        os.chmod(host, 0o711)  # the throw-away uid may pass through, not list
        os.chown(work, uid, uid)
        for name in files:
            os.chown(work / name, uid, uid)
    env = _env(str(work), str(work))
    if backend == "unshare":
        ns = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
        if os.geteuid() != 0:
            ns[1:1] = ["--user", "--map-root-user"]
        return [*ns, "--", *boot, cfg, *argv], str(work), env, uid
    return [*boot, cfg, *argv], str(work), env, uid


def _proc_session_and_uid(pid: int) -> tuple[int, int] | None:
    """(session id, owner) of a live process; None for zombies and vanished ones."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        fields = data[data.rindex(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X"):
            return None
        return int(fields[3]), os.stat(f"/proc/{pid}").st_uid
    except (OSError, ValueError, IndexError):
        return None


def _sweep(session: int, uid: int | None) -> int:
    """Kill what a run left behind: its session, and (as root) everything of its throw-away uid."""
    me = os.getpid()
    killed = 0
    for _ in range(50):  # a fork bomb may still be forking while we sweep
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            info = _proc_session_and_uid(int(entry))
            if info is None:
                continue
            sid, owner = info
            if sid == session or (uid is not None and owner == uid):
                found += 1
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        killed += found
        if not found:
            break
        time.sleep(0.01)
    return killed


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


def execute(
    argv: list[str], files: dict[str, str], timeout_s: float, limits: SandboxLimits, backend: str,
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
        cmd, cwd, env, uid = _wrap(backend, argv, list(files), host, limits, timeout_s, visible)
        out_path, err_path = host / "stdout", host / "stderr"
        timed_out = False
        with out_path.open("wb") as out, err_path.open("wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
            try:
                rc: int | None = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                rc = proc.wait()
            duration = time.monotonic() - start
        _sweep(proc.pid, uid)
        return RawRun(
            rc,
            timed_out,
            _tail(out_path, limits.output_tail_bytes),
            _tail(err_path, limits.output_tail_bytes),
            duration,
            backend,
        )
    finally:
        shutil.rmtree(host, ignore_errors=True)
