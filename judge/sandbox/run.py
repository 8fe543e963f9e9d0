"""Run untrusted code in a throw-away, resource-limited process tree without network.

Labels come from executing code that a model or a mutator wrote, and hints run the code of
whatever repository a user opened, so every run gets a fresh process tree that cannot hurt
the host, reach the network or outlive its time:

- one process tree per run, the leader of its own session and process group; a wall-clock
  timeout, then the whole group is killed, exactly (``sandbox.processes``);
- ``setrlimit`` inside the sandbox: CPU time, address space, file size (which also caps
  stdout/stderr), processes, open files, no core dumps; as root, a throw-away user id
  (``sandbox.limits``);
- a fresh working directory, a scrubbed environment, stdin closed, output read back as a
  capped tail;
- an isolation backend that keeps the user's files read-only and the network unreachable
  (bubblewrap on Linux, Seatbelt on macOS: ``sandbox.backends``), or no run at all unless
  weak isolation was explicitly allowed (``sandbox.choice``).

This module is the API (``run_python``, ``run_java``, ``module_prelude``); outcomes are
classified in ``sandbox.results``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

from winnow.judge.sandbox.backends import sandbox_python
from winnow.judge.sandbox.choice import require
from winnow.judge.sandbox.limits import SandboxLimits
from winnow.judge.sandbox.processes import execute
from winnow.judge.sandbox.results import JAVAC_FAILED, RunResult, classify_java, classify_python

#: The JVM reserves a lot of address space and starts ~20 threads; javac runs in the JVM too.
JAVA_LIMITS = SandboxLimits(memory_mb=2048, nproc=128, nofile=256)


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
    program: str, timeout_s: float = 10.0, limits: SandboxLimits | None = None, read_only: Sequence[str] = (),
    allow_weak: bool | None = None,
) -> RunResult:
    """Run a complete Python program (candidate + tests) in the sandbox and classify the outcome.
    ``read_only``: folders it may read although a hidden home directory holds them.
    ``SandboxUnavailable`` when no isolation strong enough works here (``allow_weak``: the
    batch commands' say-so; None: the process's setting, ``choice.allow_weak_isolation``).

    passed: exit 0 after the tests ran to their end; failed: an ``AssertionError`` or an exit
    before the tests finished; timeout: wall-clock or CPU limit; error: any other exception,
    a signal or a resource limit.
    """
    backend = require(allow_weak)
    limits = limits or SandboxLimits()
    token = "WINNOW-DONE-" + secrets.token_hex(16)
    source = program + _PY_SENTINEL.format(token=token)
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
    allow_weak: bool | None = None,
) -> RunResult:
    """Compile Java sources with ``javac`` and run ``main_class`` in the sandbox (one run, one timeout).

    ``main_class.main`` is called from a generated driver that prints a sentinel afterwards,
    so ``System.exit(0)`` before the tests end is not a pass. Statuses as in :func:`run_python`;
    a compile error is ``error``.
    """
    backend = require(allow_weak)
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
    raw = execute(["/bin/sh", "-c", script], files, timeout_s, limits, backend)
    return classify_java(raw, token, timeout_s)
