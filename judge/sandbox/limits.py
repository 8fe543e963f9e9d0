"""What every sandboxed run gets whatever isolates it: resource limits applied inside it by a
bootstrap, a scrubbed environment, and the interpreter that runs candidates.

Inside the sandbox the bootstrap applies the ``setrlimit`` limits (and, as root, drops to a
throw-away user id: Linux never enforces ``RLIMIT_NPROC`` for root, which is what stops a
fork bomb) before it becomes the real command.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

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
    """What a run's process tree left behind, before ``sandbox.results`` classifies it."""

    returncode: int | None
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    backend: str


# Runs first inside the sandbox, after the namespaces exist (so that a user namespace counts
# RLIMIT_NPROC from zero), then becomes the real command. As root it also drops to the
# throw-away uid. Started with -I -S, so nothing from the host's environment runs here.
BOOTSTRAP = r"""
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


def rlimits(limits: SandboxLimits, timeout_s: float, own_user_namespace: bool, uid: int | None) -> list[list[object]]:
    """The ``setrlimit`` triples the bootstrap applies."""
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
    if uid is not None or own_user_namespace:
        out.append(["RLIMIT_NPROC", limits.nproc, limits.nproc])
    return out


def scrubbed_env(home: str, tmp: str) -> dict[str, str]:
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


def python_binary() -> str:
    """The real interpreter behind ``sys.executable`` (a venv's symlink resolved): stdlib only."""
    return os.path.realpath(sys.executable)


def python_prefix() -> str:
    return os.path.realpath(sys.base_prefix)


def reachable_by_others(path: str) -> bool:
    """Whether a user other than the owner may reach ``path`` (o+x on every directory above)."""
    for parent in reversed(Path(path).parents):
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def as_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def throwaway_uid() -> int:
    return SANDBOX_UID_RANGE[0] + secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0])


def home_dirs() -> list[str]:
    """Home directories hidden from sandboxed code (they hold credentials): all of them as
    root, else the user's own."""
    if as_root():
        dirs = ["/var/root", "/Users"] if sys.platform == "darwin" else ["/root", "/home"]
    else:
        dirs = [os.path.expanduser("~")]
    return [d for d in dirs if d not in ("", "/") and os.path.isdir(d)]


def under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
