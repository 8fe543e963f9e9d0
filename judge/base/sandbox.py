"""Run untrusted candidate code in a throw-away, resource-limited process tree without network.

Labels come from executing code that a model or a mutator wrote, so every run gets a
fresh process tree that cannot hurt the host, reach the network or outlive its time:

- one process tree per run, started in its own session; a wall-clock timeout kills the
  whole process group, and leftovers are swept by session id (and by user id as root);
- ``setrlimit`` inside the sandbox: CPU time, address space, file size (which also caps
  stdout/stderr), processes, open files, no core dumps;
- a fresh working directory, a scrubbed environment, stdin closed, output read back as
  a capped tail;
- as root, the code runs under a throw-away user id (random per run), because Linux
  never enforces ``RLIMIT_NPROC`` for root: that is what stops a fork bomb.

Isolation backends, probed once per process (best first; ``WINNOW_SANDBOX`` forces one):

``bwrap``
    bubblewrap: read-only view of ``/``, a private size-capped tmpfs ``/tmp`` holding the
    working directory, home directories hidden, new network/PID/IPC/UTS namespaces, killed
    with its parent. Writes outside the sandbox and network access are impossible; the whole
    tree dies with the PID namespace.
``unshare``
    util-linux ``unshare`` (network + PID namespaces; a user namespace when not root). No
    network, the tree dies with its PID namespace, but the file system is the host's: the
    code can write wherever its user may (as root: only world-writable places, since it
    runs under a throw-away uid when the interpreter is reachable for it).
``none``
    a plain child process with the limits above and a logged warning: network and file
    system are the host's. Use only for code you trust.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from winnow.judge.base.errors import WinnowError

log = logging.getLogger(__name__)

Status = Literal["passed", "failed", "timeout", "error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "timeout", "error")
BACKENDS: tuple[str, ...] = ("bwrap", "unshare", "none")

#: Where the working directory appears inside a bwrap sandbox (on its private tmpfs).
INSIDE_DIR = "/tmp/w"
#: Throw-away user ids for sandboxed code when Winnow runs as root (random per run).
SANDBOX_UID_RANGE = (2_000_000, 3_000_000)
#: Exit status of the Java driver script when ``javac`` rejects the sources.
JAVAC_FAILED = 97


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


#: The JVM reserves a lot of address space and starts ~20 threads; javac runs in the JVM too.
JAVA_LIMITS = SandboxLimits(memory_mb=2048, nproc=128, nofile=256)


@dataclass
class RunResult:
    """What one sandboxed run came to."""

    status: Status
    reason: str
    returncode: int | None
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    backend: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class _Raw:
    returncode: int | None
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    backend: str


# --------------------------------------------------------------------------- processes


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


def _bwrap_command(host: Path, files: list[str], uid: int | None, limits: SandboxLimits) -> list[str]:
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
    needed = sorted({d for d in _needed_dirs() if os.path.isdir(d)})
    needed = [d for d in needed if not any(d != o and _under(d, o) for o in needed)]
    for d in needed:
        top = next((h for h in hidden if _under(d, h)), None)
        if top is None:
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


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def _wrap(
    backend: str, argv: list[str], files: list[str], host: Path, limits: SandboxLimits, timeout_s: float
) -> tuple[list[str], str, dict[str, str] | None, int | None]:
    """Build (command, cwd, env, sandbox uid) that runs ``argv`` under ``backend``."""
    uid: int | None = None
    if os.geteuid() == 0:
        uid = SANDBOX_UID_RANGE[0] + secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0])
        if backend != "bwrap" and not _reachable_by_others(argv[0]):
            _warn_once(
                f"sandbox: {argv[0]} is not reachable for an unprivileged user, so candidates run as "
                "root: the process-count limit is not enforced (install bubblewrap to fix this)"
            )
            uid = None
    boot = [sandbox_python(backend), "-I", "-S", "-B", "-c", _BOOTSTRAP]
    cfg = json.dumps({"rlimits": _rlimits(limits, timeout_s, backend, uid), "uid": uid})
    if backend == "bwrap":
        return [*_bwrap_command(host, files, uid, limits), "--", *boot, cfg, *argv], "/", None, uid
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


def _remove_stale_dirs() -> None:
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


def _execute(
    argv: list[str], files: dict[str, str], timeout_s: float, limits: SandboxLimits, backend: str
) -> _Raw:
    """Run ``argv`` with ``files`` in its working directory under ``backend``; never raises on failure of the code."""
    host = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
    try:
        (host / "in").mkdir()
        for name, text in files.items():
            (host / "in" / name).write_text(text, encoding="utf-8")
        cmd, cwd, env, uid = _wrap(backend, argv, list(files), host, limits, timeout_s)
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
        return _Raw(
            rc,
            timed_out,
            _tail(out_path, limits.output_tail_bytes),
            _tail(err_path, limits.output_tail_bytes),
            duration,
            backend,
        )
    finally:
        shutil.rmtree(host, ignore_errors=True)


# --------------------------------------------------------------------------- backend choice

_backend: str | None = None
_backend_lock = threading.Lock()


def _backend_works(backend: str) -> bool:
    needs = {"bwrap": "bwrap", "unshare": "unshare"}.get(backend)
    if needs and not shutil.which(needs):
        return False
    try:
        argv = [sandbox_python(backend), "-I", "-c", "print('winnow-ok')"]
        raw = _execute(argv, {}, 30.0, SandboxLimits(), backend)
    except OSError as exc:
        log.debug("sandbox backend %s: %s", backend, exc)
        return False
    ok = raw.returncode == 0 and "winnow-ok" in raw.stdout_tail
    if not ok:
        log.debug("sandbox backend %s failed: rc=%s %s", backend, raw.returncode, raw.stderr_tail[-300:])
    return ok


def sandbox_backend() -> str:
    """The isolation backend used for every run of this process (probed once, then cached)."""
    global _backend
    with _backend_lock:
        if _backend is None:
            _remove_stale_dirs()
            forced = os.environ.get("WINNOW_SANDBOX", "").strip().lower()
            if forced:
                if forced not in BACKENDS:
                    raise WinnowError(f"WINNOW_SANDBOX={forced!r}: expected one of {', '.join(BACKENDS)}")
                _backend = forced
            else:
                _backend = next((b for b in ("bwrap", "unshare") if _backend_works(b)), "none")
            if _backend == "none":
                _warn_once(
                    "sandbox: no bubblewrap or unshare isolation (WINNOW_SANDBOX=none or neither works "
                    "here); candidate code runs with the host's network and file system (install bubblewrap)"
                )
            log.info("sandbox backend: %s", _backend)
        return _backend


# --------------------------------------------------------------------------- verdicts

_SIGNAL_REASONS = {
    signal.SIGKILL: "killed by SIGKILL (memory or process limit)",
    signal.SIGXCPU: "CPU time limit exceeded (SIGXCPU)",
    signal.SIGXFSZ: "file size limit exceeded (SIGXFSZ)",
    signal.SIGSEGV: "crashed (SIGSEGV)",
    signal.SIGABRT: "aborted (SIGABRT)",
}


def _signal_of(rc: int | None) -> int | None:
    """The signal that ended the code: negative for a direct child, 128+n as relayed by bwrap."""
    if rc is None:
        return None
    if rc < 0:
        return -rc
    if 128 < rc < 128 + 65 and rc - 128 in _SIGNAL_REASONS:
        return rc - 128
    return None


def _signal_result(raw: _Raw, sig: int) -> RunResult:
    if sig == signal.SIGXCPU:
        return _result(raw, "timeout", _SIGNAL_REASONS[sig])
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    return _result(raw, "error", _SIGNAL_REASONS.get(sig, f"killed by {name}"))


def _result(raw: _Raw, status: Status, reason: str) -> RunResult:
    return RunResult(
        status,
        reason,
        raw.returncode,
        raw.stdout_tail,
        raw.stderr_tail,
        round(raw.duration_s, 3),
        raw.backend,
    )


_FILE_LINE = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)')


def python_exception(stderr: str, filename: str = "main.py") -> tuple[str, str, int | None] | None:
    """(type, first line of the message, line in ``filename``) of the traceback at the end of stderr."""
    lines = stderr.splitlines()
    last_file = None
    for i in range(len(lines) - 1, -1, -1):
        if _FILE_LINE.match(lines[i]):
            last_file = i
            break
    if last_file is None:
        return None
    exc_line = next((ln for ln in lines[last_file + 1 :] if ln and not ln[0].isspace()), None)
    if exc_line is None:
        return None
    head = exc_line.split(":", 1)[0].strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*", head):
        return None
    lineno = None
    for ln in reversed(lines[: last_file + 1]):
        m = _FILE_LINE.match(ln)
        if m and m.group("file").endswith(filename):
            lineno = int(m.group("line"))
            break
    return head.rsplit(".", 1)[-1], exc_line.strip(), lineno


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _classify_python(raw: _Raw, token: str, timeout_s: float) -> RunResult:
    if raw.timed_out:
        return _result(raw, "timeout", f"wall-clock limit of {timeout_s:g} s")
    sig = _signal_of(raw.returncode)
    if sig is not None:
        return _signal_result(raw, sig)
    if raw.returncode == 0:
        if token in raw.stdout_tail:
            return _result(raw, "passed", "all tests ran to the end")
        return _result(raw, "failed", "exited with status 0 before the tests finished")
    exc = python_exception(raw.stderr_tail)
    if exc is None:
        return _result(raw, "failed", f"exited with status {raw.returncode} before the tests finished")
    kind, text, lineno = exc
    where = f" at line {lineno}" if lineno else ""
    if kind == "AssertionError":
        return _result(raw, "failed", f"AssertionError{where}")
    if "[Errno 27]" in text:  # EFBIG: Python ignores SIGXFSZ and raises instead
        return _result(raw, "error", f"output exceeded the file size limit{where}")
    return _result(raw, "error", _short(text) + where)


# The last lines of every Python program: flush what the code printed, then print a token
# that the code cannot know in advance. Exit status 0 without it (``os._exit(0)`` or
# ``sys.exit()`` before the tests end) is not a pass. (A candidate that reads its own source
# could forge it; the sentinel guards against early exits, not against deliberate cheating.)
_PY_SENTINEL = """

import os as _winnow_os, sys as _winnow_sys
try:
    _winnow_sys.stdout.flush()
except Exception:
    pass
_winnow_os.write(1, b"\\n{token}\\n")
"""


def run_python(program: str, timeout_s: float = 10.0, limits: SandboxLimits | None = None) -> RunResult:
    """Run a complete Python program (candidate + tests) in the sandbox and classify the outcome.

    passed: exit 0 after the tests ran to their end; failed: an ``AssertionError`` or an exit
    before the tests finished; timeout: wall-clock or CPU limit; error: any other exception,
    a signal or a resource limit.
    """
    limits = limits or SandboxLimits()
    token = "WINNOW-DONE-" + secrets.token_hex(16)
    source = program + _PY_SENTINEL.format(token=token)
    backend = sandbox_backend()
    argv = [sandbox_python(backend), "-I", "-B", "main.py"]
    raw = _execute(argv, {"main.py": source}, timeout_s, limits, backend)
    return _classify_python(raw, token, timeout_s)


_JAVA_EXCEPTION = re.compile(r'Exception in thread "[^"]*" (?P<type>[\w.$]+)(?::\s*(?P<msg>.*))?')
_JVM_FLAGS = [
    "-Xmx256m",
    "-Xss8m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
    "-XX:MaxMetaspaceSize=128m",
    "-XX:ActiveProcessorCount=1",
    "-Xshare:auto",
]


def java_class_name(source: str, default: str) -> str:
    """The public top-level class a Java source declares (it decides the file name)."""
    m = re.search(r"\bpublic\s+(?:final\s+|abstract\s+)*(?:class|interface|enum|record)\s+(\w+)", source)
    return m.group(1) if m else default


def run_java(
    source_files: dict[str, str],
    main_class: str,
    timeout_s: float = 30.0,
    limits: SandboxLimits | None = None,
) -> RunResult:
    """Compile Java sources with ``javac`` and run ``main_class`` in the sandbox (one run, one timeout).

    ``main_class.main`` is called from a generated driver that prints a sentinel afterwards,
    so ``System.exit(0)`` before the tests end is not a pass. Statuses as in :func:`run_python`;
    a compile error is ``error``.
    """
    limits = limits or JAVA_LIMITS
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        return RunResult("error", "javac/java not found on PATH (install a JDK)", None, "", "", 0.0, "")
    token = "WINNOW-DONE-" + secrets.token_hex(16)
    driver = (
        "public class WinnowDriver {\n"
        "    public static void main(String[] args) throws Throwable {\n"
        f"        {main_class}.main(args);\n"
        "        System.out.flush();\n"
        f'        System.out.println("\\n{token}");\n'
        "        System.out.flush();\n"
        "    }\n"
        "}\n"
    )
    files = {**source_files, "WinnowDriver.java": driver}
    names = " ".join(f"'{n}'" for n in files)
    jflags = " ".join(_JVM_FLAGS)
    javac_j = " ".join("-J" + f for f in _JVM_FLAGS)
    script = (
        f"'{os.path.realpath(javac)}' {javac_j} -encoding UTF-8 -nowarn -d . {names} "
        f"|| {{ echo 'winnow: javac failed' >&2; exit {JAVAC_FAILED}; }}\n"
        f"exec '{os.path.realpath(java)}' {jflags} -cp . WinnowDriver\n"
    )
    raw = _execute(["/bin/sh", "-c", script], files, timeout_s, limits, sandbox_backend())
    return _classify_java(raw, token, timeout_s)


def _classify_java(raw: _Raw, token: str, timeout_s: float) -> RunResult:
    if raw.timed_out:
        return _result(raw, "timeout", f"wall-clock limit of {timeout_s:g} s")
    if raw.returncode == JAVAC_FAILED and "winnow: javac failed" in raw.stderr_tail:
        first = next((ln for ln in raw.stderr_tail.splitlines() if "error:" in ln), "javac failed")
        return _result(raw, "error", "compile error: " + _short(first))
    sig = _signal_of(raw.returncode)
    if sig is not None:
        return _signal_result(raw, sig)
    if raw.returncode == 0:
        if token in raw.stdout_tail:
            return _result(raw, "passed", "all tests ran to the end")
        return _result(raw, "failed", "exited with status 0 before the tests finished")
    matches = list(_JAVA_EXCEPTION.finditer(raw.stderr_tail))
    if matches:
        m = matches[-1]
        kind = m.group("type").rsplit(".", 1)[-1]
        if kind == "AssertionError":
            return _result(
                raw,
                "failed",
                "AssertionError" + (f": {_short(m.group('msg'), 80)}" if m.group("msg") else ""),
            )
        message = f"{m.group('type')}: {m.group('msg')}" if m.group("msg") else m.group("type")
        return _result(raw, "error", _short(message))
    if "OutOfMemoryError" in raw.stderr_tail or "Could not reserve" in raw.stderr_tail:
        return _result(raw, "error", "out of memory")
    return _result(raw, "failed", f"exited with status {raw.returncode} before the tests finished")
