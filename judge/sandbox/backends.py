"""The isolation backends a run can go under, what each guarantees, and how each wraps a command.

``bwrap`` (Linux, bubblewrap)
    read-only view of ``/``, a private size-capped tmpfs ``/tmp`` holding the working
    directory, home directories hidden, new network/PID/IPC/UTS namespaces, killed with its
    parent. No writes outside the sandbox, no network; the whole tree dies with the PID
    namespace.
``seatbelt`` (macOS, ``sandbox-exec``)
    a per-run Seatbelt profile (``seatbelt``): writes only in the run's folder, the home
    hidden but for what the run needs, no network. No PID namespace: the run's process group
    is killed at its end.
``unshare`` (Linux, util-linux)
    network + PID namespaces, but the file system is the host's: the code can write wherever
    its user may. Weak: never for code of a workspace.
``none``
    a plain child process with the limits: network and file system are the host's. Weak.

A backend is *strong* when it keeps the user's files read-only and the network
unreachable; only a strong one runs code in the editor (``sandbox.choice``).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from winnow.judge.sandbox import seatbelt
from winnow.judge.sandbox.limits import (
    BOOTSTRAP,
    SandboxLimits,
    as_root,
    home_dirs,
    python_binary,
    python_prefix,
    reachable_by_others,
    rlimits,
    scrubbed_env,
    throwaway_uid,
    under,
)

log = logging.getLogger(__name__)

#: Where the working directory appears inside a bwrap sandbox (on its private tmpfs).
INSIDE_DIR = "/tmp/w"

_warned: set[str] = set()


def warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


@dataclass(frozen=True)
class Backend:
    """An isolation backend and what it guarantees."""

    name: str
    read_only: bool  # the user's files cannot be written (the run's own folder aside)
    offline: bool  # no network, not even the host's loopback
    namespaces: bool  # its process tree dies with a PID namespace
    tool: str  # the program it needs ("" for none)
    platform: str  # the sys.platform it exists on ("" for any)

    @property
    def strong(self) -> bool:
        """Strong enough for code of a workspace: the user's files read-only, no network."""
        return self.read_only and self.offline

    def exists_here(self) -> bool:
        if self.platform and not sys.platform.startswith(self.platform):
            return False
        return not self.tool or shutil.which(self.tool) is not None or os.path.exists(self.tool)


BWRAP = Backend("bwrap", read_only=True, offline=True, namespaces=True, tool="bwrap", platform="linux")
SEATBELT = Backend("seatbelt", read_only=True, offline=True, namespaces=False, tool=seatbelt.SANDBOX_EXEC,
                   platform="darwin")  # fmt: skip
UNSHARE = Backend("unshare", read_only=False, offline=True, namespaces=True, tool="unshare", platform="linux")
NONE = Backend("none", read_only=False, offline=False, namespaces=False, tool="", platform="")
#: Best first.
BACKENDS: tuple[Backend, ...] = (BWRAP, SEATBELT, UNSHARE, NONE)


@dataclass(frozen=True)
class Wrapped:
    """A command ready to start: argv, working directory, environment (None: bwrap sets it)."""

    argv: list[str]
    cwd: str
    env: dict[str, str] | None


def sandbox_python(backend: Backend) -> str:
    """The interpreter that runs candidates: ours, with a venv resolved to its base (stdlib only).

    As root outside bubblewrap, code runs under a throw-away uid, which must be able to reach
    the interpreter; when ours sits in a private directory (``/root/.pyenv``) the system's
    ``python3`` stands in."""
    ours = python_binary()
    if not as_root() or backend is BWRAP or reachable_by_others(ours):
        return ours
    for candidate in ("/usr/local/bin/python3", "/usr/bin/python3"):
        real = os.path.realpath(candidate)
        if os.path.isfile(real) and reachable_by_others(real):
            return real
    return ours


def _java_home() -> str | None:
    java = shutil.which("java")
    return str(Path(os.path.realpath(java)).parent.parent) if java else None


def needed_dirs() -> list[str]:
    """Directories sandboxed code must still see when a hidden directory contains them."""
    needed = [python_prefix(), str(Path(python_binary()).parent)]
    java_home = _java_home()
    if java_home:
        needed.append(java_home)
    return needed


@functools.cache
def _bwrap_help() -> str:
    try:
        done = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def _bwrap_command(host: Path, files: Sequence[str], uid: int | None, limits: SandboxLimits,
                   visible: Sequence[str]) -> list[str]:  # fmt: skip
    cmd = ["bwrap", "--die-with-parent", "--new-session"]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if uid is None:
        cmd += ["--unshare-user"]  # unprivileged: a user namespace is what allows the rest
    cmd += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if "--size" in _bwrap_help():  # bubblewrap >= 0.8
        cmd += ["--perms", "1777", "--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    else:  # older bubblewrap: an uncapped tmpfs (memory-backed; RLIMIT_FSIZE still caps each file)
        cmd += ["--tmpfs", "/tmp", "--chmod", "1777", "/tmp"]
    hidden = home_dirs()
    for d in hidden:
        cmd += ["--tmpfs", d]
    cmd += _bound_back(hidden, visible)
    cmd += ["--perms", "1777", "--dir", INSIDE_DIR]
    for name in files:
        cmd += ["--ro-bind", str(host / "in" / name), f"{INSIDE_DIR}/{name}"]
    cmd += ["--chdir", INSIDE_DIR, "--clearenv"]
    for key, value in scrubbed_env(INSIDE_DIR, "/tmp").items():
        cmd += ["--setenv", key, value]
    return cmd


def _bound_back(hidden: Sequence[str], visible: Sequence[str]) -> list[str]:
    """Read-only binds of the folders a run needs below a hidden one (or below ``/tmp``)."""
    needed = sorted({d for d in [*needed_dirs(), *visible] if os.path.isdir(d)})
    needed = [d for d in needed if not any(d != o and under(d, o) for o in needed)]
    covered = [*hidden, "/tmp"]  # folders a private mount hides; ``visible`` ones below them come back
    cmd: list[str] = []
    for d in needed:
        top = next((h for h in covered if under(d, h)), None)
        if top is None or (top == "/tmp" and d not in visible):
            continue
        # bwrap would create the directories in between with mode 0700: make them passable.
        for parent in reversed(Path(d).parents):
            if under(str(parent), top) and str(parent) != top:
                cmd += ["--perms", "0755", "--dir", str(parent)]
        cmd += ["--ro-bind", d, d]
    return cmd


def _run_as(backend: Backend, program: str) -> int | None:
    """The throw-away uid the code runs under as root; None when not root (or when the
    interpreter is out of its reach outside bubblewrap: then it runs as root, said once)."""
    if not as_root():
        return None
    if backend is not BWRAP and not reachable_by_others(program):
        warn_once(
            f"sandbox: {program} is not reachable for an unprivileged user, so candidates run as "
            "root: the process-count limit is not enforced (install bubblewrap to fix this)"
        )
        return None
    return throwaway_uid()


def _work_dir(host: Path, files: Sequence[str], uid: int | None) -> Path:
    """The run's working folder on the host (outside bubblewrap): its files, owned by its uid."""
    work = host / "work"
    work.mkdir()
    for name in files:
        shutil.copyfile(host / "in" / name, work / name)
    if uid is not None:
        os.chmod(host, 0o711)  # the throw-away uid may pass through, not list
        os.chown(work, uid, uid)
        for name in files:
            os.chown(work / name, uid, uid)
    return work


def wrap(
    backend: Backend, argv: list[str], files: Sequence[str], host: Path, limits: SandboxLimits, timeout_s: float,
    visible: Sequence[str] = (),
) -> Wrapped:
    """The command that runs ``argv`` under ``backend``, its limits applied by the bootstrap."""
    uid = _run_as(backend, argv[0])
    own_userns = backend.namespaces and not as_root()
    boot = [sandbox_python(backend), "-I", "-S", "-B", "-c", BOOTSTRAP]
    cfg = json.dumps({"rlimits": rlimits(limits, timeout_s, own_userns, uid), "uid": uid})
    inner = [*boot, cfg, *argv]
    if backend is BWRAP:
        return Wrapped([*_bwrap_command(host, files, uid, limits, visible), "--", *inner], "/", None)
    work = _work_dir(host, files, uid)
    env = scrubbed_env(str(work), str(work))
    if backend is SEATBELT:
        readable = [*needed_dirs(), *visible]
        return Wrapped(seatbelt.command(str(work), inner, readable, home_dirs()), str(work), env)
    if backend is UNSHARE:
        ns = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
        if not as_root():
            ns[1:1] = ["--user", "--map-root-user"]
        return Wrapped([*ns, "--", *inner], str(work), env)
    return Wrapped(inner, str(work), env)
