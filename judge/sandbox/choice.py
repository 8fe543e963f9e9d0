"""Which isolation this machine gives, and whether a run may go under it.

The backends are probed once per process, best first (bubblewrap, Seatbelt, then the weak
``unshare`` and ``none``), each with a trivial program; ``WINNOW_SANDBOX`` forces one. Code
runs only under a *strong* backend (the user's files read-only, the network unreachable)
unless weak isolation was explicitly allowed: ``--allow-weak-sandbox`` on the batch
commands (``label``, ``mine``, ``augment``), which run generated code, never the editor's
runs of a workspace's code. Where none is strong enough the sandbox refuses
(``SandboxUnavailable``) and says what to install, instead of weakening silently.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass

from winnow.judge.base.errors import WinnowError
from winnow.judge.sandbox.backends import BACKENDS, NONE, Backend, sandbox_python, warn_once
from winnow.judge.sandbox.limits import SandboxLimits
from winnow.judge.sandbox.processes import execute, remove_stale_dirs

log = logging.getLogger(__name__)

ENV_FORCE = "WINNOW_SANDBOX"


class SandboxUnavailable(WinnowError):
    """No isolation strong enough for this run: nothing ran."""


@dataclass(frozen=True)
class Isolation:
    """The backend this process uses, and why the better ones did not work here."""

    backend: Backend
    tried: tuple[tuple[str, str], ...] = ()  # (backend, why it does not work here)
    forced: bool = False

    @property
    def strong(self) -> bool:
        return self.backend.strong

    def describe(self) -> str:
        """One line for a status bar, ``winnow hints check`` and the stats."""
        if self.strong:
            return f"{self.backend.name} (your files read-only, no network)"
        weak = "no network, your files writable" if self.backend.offline else "network and your files reachable"
        return f"{self.backend.name} ({weak}: only for generated code, with --allow-weak-sandbox)"

    def why_not_strong(self) -> str:
        """Why no strong backend works here, and what to install."""
        tried = "; ".join(f"{name}: {why}" for name, why in self.tried) or "none tried"
        return f"no sandbox here keeps your files read-only and the network unreachable ({tried}). {install_hint()}"


def install_hint() -> str:
    if sys.platform == "darwin":
        return "On macOS Winnow uses /usr/bin/sandbox-exec, which is part of the system: see docs/sandbox.md."
    if sys.platform.startswith("linux"):
        return (
            "Install bubblewrap: sudo apt-get install bubblewrap (Debian, Ubuntu), sudo dnf install bubblewrap "
            "(Fedora), sudo pacman -S bubblewrap (Arch); where it is installed but fails, unprivileged user "
            "namespaces may be off (docs/sandbox.md)."
        )
    return f"Winnow has no sandbox for {sys.platform}: no code runs here (docs/sandbox.md)."


def _works(backend: Backend) -> str | None:
    """None when ``backend`` runs a trivial program here, else why not."""
    if not backend.exists_here():
        return f"{backend.tool} not found" if backend.tool else "not on this platform"
    try:
        argv = [sandbox_python(backend), "-I", "-c", "print('winnow-ok')"]
        raw = execute(argv, {}, 30.0, SandboxLimits(), backend)
    except OSError as exc:
        return str(exc)
    if raw.returncode == 0 and "winnow-ok" in raw.stdout_tail:
        return None
    detail = raw.stderr_tail.strip().splitlines()[-1:] or [f"exit status {raw.returncode}"]
    return detail[0][:200]


_isolation: Isolation | None = None
_lock = threading.Lock()
_allow_weak = False


def isolation() -> Isolation:
    """The isolation of every run of this process (probed once, then cached)."""
    global _isolation
    with _lock:
        if _isolation is None:
            remove_stale_dirs()
            _isolation = _probe()
            log.info("sandbox: %s", _isolation.describe())
        return _isolation


def _probe() -> Isolation:
    forced = os.environ.get(ENV_FORCE, "").strip().lower()
    if forced:
        named = {b.name: b for b in BACKENDS}
        if forced not in named:
            raise WinnowError(f"{ENV_FORCE}={forced!r}: expected one of {', '.join(named)}")
        return Isolation(named[forced], forced=True)
    tried: list[tuple[str, str]] = []
    for backend in BACKENDS:
        if backend is NONE:
            break
        if backend.platform and not sys.platform.startswith(backend.platform):
            continue
        why = _works(backend)
        if why is None:
            return Isolation(backend, tuple(tried))
        tried.append((backend.name, why))
    return Isolation(NONE, tuple(tried))


def known_isolation() -> Isolation | None:
    """The isolation if it was probed already (for a report that must not wait on a probe)."""
    return _isolation


def allow_weak_isolation(allowed: bool = True) -> None:
    """Let this process's runs go under a weak backend where no strong one works (the batch
    commands' ``--allow-weak-sandbox``: generated code, labelled on the user's say-so)."""
    global _allow_weak
    _allow_weak = allowed


def require(allow_weak: bool | None = None) -> Backend:
    """The backend a run goes under; ``SandboxUnavailable`` when only a weak one works and
    weak isolation is not allowed (``allow_weak``, else the process's setting)."""
    iso = isolation()
    if iso.strong:
        return iso.backend
    permitted = _allow_weak if allow_weak is None else allow_weak
    if not permitted:
        if iso.forced:
            raise SandboxUnavailable(
                f"{ENV_FORCE}={iso.backend.name} asks for a weak sandbox ({iso.describe()}); "
                "pass --allow-weak-sandbox to a batch command to use it"
            )
        raise SandboxUnavailable("Winnow runs no code: " + iso.why_not_strong())
    if iso.backend is NONE:
        warn_once("sandbox: candidate code runs with the host's network and file system (--allow-weak-sandbox)")
    else:
        warn_once(f"sandbox: {iso.describe()}")
    return iso.backend


def strong_isolation() -> bool:
    """Whether code of a workspace may run here at all (a strong backend works)."""
    return isolation().strong
