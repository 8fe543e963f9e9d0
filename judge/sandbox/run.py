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

This module is the API (``run_python``, ``run_java``, ``sandbox_backend``); the process tree
and its limits are built in ``sandbox_isolation``, and outcomes classified in ``sandbox_results``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

from winnow.judge.base.errors import WinnowError
from winnow.judge.sandbox.isolation import (
    SandboxLimits,
    execute,
    remove_stale_dirs,
    sandbox_python,
    warn_once,
)
from winnow.judge.sandbox.results import (
    JAVAC_FAILED,
    STATUSES,
    RunResult,
    Status,
    classify_java,
    classify_python,
)

__all__ = [
    "BACKENDS", "JAVA_LIMITS", "STATUSES", "RunResult", "SandboxLimits", "Status",
    "java_class_name", "run_java", "run_python", "sandbox_backend", "sandbox_python",
]

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("bwrap", "unshare", "none")

#: The JVM reserves a lot of address space and starts ~20 threads; javac runs in the JVM too.
JAVA_LIMITS = SandboxLimits(memory_mb=2048, nproc=128, nofile=256)


# --------------------------------------------------------------------------- backend choice

_backend: str | None = None
_backend_lock = threading.Lock()


def _backend_works(backend: str) -> bool:
    needs = {"bwrap": "bwrap", "unshare": "unshare"}.get(backend)
    if needs and not shutil.which(needs):
        return False
    try:
        argv = [sandbox_python(backend), "-I", "-c", "print('winnow-ok')"]
        raw = execute(argv, {}, 30.0, SandboxLimits(), backend)
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
            remove_stale_dirs()
            forced = os.environ.get("WINNOW_SANDBOX", "").strip().lower()
            if forced:
                if forced not in BACKENDS:
                    raise WinnowError(f"WINNOW_SANDBOX={forced!r}: expected one of {', '.join(BACKENDS)}")
                _backend = forced
            else:
                _backend = next((b for b in ("bwrap", "unshare") if _backend_works(b)), "none")
            if _backend == "none":
                warn_once(
                    "sandbox: no bubblewrap or unshare isolation (WINNOW_SANDBOX=none or neither works "
                    "here); candidate code runs with the host's network and file system (install bubblewrap)"
                )
            log.info("sandbox backend: %s", _backend)
        return _backend


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


def module_prelude(name: str, path: Path) -> str:
    """Program text that registers the source file at ``path`` as the module ``name``, so a
    driver sent to the sandbox as one program can ``import name``."""
    source = path.read_text(encoding="utf-8")
    return (
        "import sys as _sys, types as _types\n"
        f"_module = _types.ModuleType({name!r})\n"
        f"exec(compile({source!r}, {path.name!r}, 'exec'), _module.__dict__)\n"
        f"_sys.modules[{name!r}] = _module\n"
    )


def run_python(
    program: str, timeout_s: float = 10.0, limits: SandboxLimits | None = None, read_only: Sequence[str] = ()
) -> RunResult:
    """Run a complete Python program (candidate + tests) in the sandbox and classify the outcome.
    ``read_only``: folders it may read although a hidden home directory holds them.

    passed: exit 0 after the tests ran to their end; failed: an ``AssertionError`` or an exit
    before the tests finished; timeout: wall-clock or CPU limit; error: any other exception,
    a signal or a resource limit.
    """
    limits = limits or SandboxLimits()
    token = "WINNOW-DONE-" + secrets.token_hex(16)
    source = program + _PY_SENTINEL.format(token=token)
    backend = sandbox_backend()
    argv = [sandbox_python(backend), "-I", "-B", "main.py"]
    raw = execute(argv, {"main.py": source}, timeout_s, limits, backend, visible=read_only)
    return classify_python(raw, token, timeout_s)


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
    raw = execute(["/bin/sh", "-c", script], files, timeout_s, limits, sandbox_backend())
    return classify_java(raw, token, timeout_s)
