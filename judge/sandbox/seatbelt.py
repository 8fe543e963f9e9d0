"""The macOS sandbox: a Seatbelt profile (SBPL) for ``sandbox-exec``, built per run.

What macOS tools that run untrusted code use (``sandbox-exec -p PROFILE``): everything is
denied unless the profile allows it. The profile allows what an interpreter needs to run
(start processes and signal them inside the same sandbox, read system files, a few system
services: user and group lookup, logging), writes only to the run's own folder and
``/dev/null``, reads of the user's home only where a run needs them (the interpreter, the
project's folders, installed packages), and no network of any kind: no socket leaves the
sandbox, not even to localhost. Launch Services is not reachable, so code cannot open an
application outside the sandbox.

Built and tested here as text (Linux has no Seatbelt); what was verified where is in
docs/sandbox.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

SANDBOX_EXEC = "/usr/bin/sandbox-exec"

#: System services an interpreter asks for by name: user/group lookup (``getpwuid``: Python's
#: ``os.path.expanduser``, ``getpass``), logging, time zones.
MACH_SERVICES = (
    "com.apple.system.opendirectoryd.libinfo",
    "com.apple.system.opendirectoryd.membership",
    "com.apple.system.logger",
    "com.apple.logd",
    "com.apple.system.notification_center",
    "com.apple.timed",
)


def quoted(path: str) -> str:
    """A path as an SBPL string literal."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _subpaths(paths: Sequence[str]) -> str:
    return " ".join(f"(subpath {quoted(p)})" for p in paths)


def profile(run_dir: str, readable: Sequence[str] = (), hidden: Sequence[str] = ()) -> str:
    """The SBPL profile of one run: ``run_dir`` writable (its working folder, holding its
    temporary files), ``hidden`` folders unreadable (the user's home) except ``readable``
    ones below them, the rest of the file system read-only, no network."""
    real = [os.path.realpath(p) for p in (run_dir,)]
    readable = sorted({os.path.realpath(p) for p in readable})
    hidden = sorted({os.path.realpath(p) for p in hidden})
    lines = [
        "(version 1)",
        "(deny default)",
        "; processes: start them, and signal or inspect only those of this sandbox",
        "(allow process-exec)",
        "(allow process-fork)",
        "(allow signal (target same-sandbox))",
        "(allow process-info* (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow ipc-posix-shm)",
        "(allow ipc-posix-sem)",
        "(allow mach-lookup " + " ".join(f"(global-name {quoted(s)})" for s in MACH_SERVICES) + ")",
        "; files: read the system, write only the run's own folder",
        "(allow file-read*)",
        "(allow file-read-metadata)",
        "(allow file-write* " + _subpaths(real) + ' (literal "/dev/null") (literal "/dev/zero") (subpath "/dev/fd"))',
        '(allow file-ioctl (literal "/dev/null") (subpath "/dev/fd"))',
    ]
    if hidden:
        lines.append("; the user's home is not the code's to read, but for what the run needs there")
        lines.append("(deny file-read* " + _subpaths(hidden) + ")")
        lines.append("(allow file-read* " + _subpaths([*readable, *real]) + ")" if readable or real else "")
    lines.append("; no network: nothing is allowed, and this says it where a reader looks for it")
    lines.append("(deny network*)")
    return "\n".join(line for line in lines if line) + "\n"


def command(run_dir: str, argv: Sequence[str], readable: Sequence[str] = (), hidden: Sequence[str] = ()) -> list[str]:
    """``argv`` under ``sandbox-exec`` with the run's profile."""
    return [SANDBOX_EXEC, "-p", profile(run_dir, readable, hidden), "--", *argv]
