"""pytest's assertion rewriting paid once per test file in a warm worker: the worker compiles
the test modules its jobs rewrote (reads and compiles them, never runs them), and a job takes
that code when the file's bytes are still the same (their hash), else pytest rewrites the
file as it always does.

Why: the sandbox's files are read-only, so pytest cannot keep its rewritten ``.pyc`` and
parses, rewrites and compiles every test module and ``conftest.py`` on every run — 0.45 s of
a 2 s run of four of scikit-learn's test files.

Runs inside the sandbox as a registered module: standard library and pytest only, nothing
of Winnow. Where pytest has no ``_rewrite_test`` of its own (another version), nothing changes.
"""

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The most test files one job reports, and the largest compiled.
MAX_FILES, MAX_BYTES = 200, 2_000_000
#: The most test files a worker keeps compiled.
MAX_KEPT = 2000
#: path → (sha256 of its bytes, what pytest's ``_rewrite_test`` returned for them).
_compiled: dict[str, tuple[str, Any]] = {}
#: The files a job rewrote itself (none compiled, or changed since).
_missed: list[str] = []
_original: Callable[[Path, Any], Any] | None = None


def _digest(path: str) -> str | None:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return None
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _pass_hook(config: Any) -> bool:
    """Whether the project asks for ``pytest_assertion_pass`` (rewritten differently)."""
    try:
        return bool(config.getini("enable_assertion_pass_hook"))
    except Exception:
        return True


def install() -> None:
    """Serve rewrites from what the worker compiled (in the worker, pytest imported)."""
    global _original
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    original = getattr(rewrite, "_rewrite_test", None)
    if original is None or _original is not None:
        return
    _original = original

    def cached(fn: Path, config: Any) -> Any:
        path = str(fn)
        hit = _compiled.get(path)
        if hit is not None and not _pass_hook(config) and _digest(path) == hit[0]:
            return hit[1]
        _missed.append(path)
        return original(fn, config)

    rewrite._rewrite_test = cached


def rewritten_files() -> dict[str, list[str]]:
    """In a job's child, after the job: the files it rewrote itself."""
    return {"rewritten": sorted(set(_missed))[:MAX_FILES]}


def compile_rewritten(record: dict[str, Any]) -> None:
    """In the worker: compile (never run) the test modules a job rewrote; a file that changed
    while it was compiled is left to the next job."""
    if _original is None:
        return
    for path in [str(p) for p in record.get("rewritten", [])][:MAX_FILES]:
        if len(_compiled) >= MAX_KEPT:
            break
        before = _digest(path) if path.endswith(".py") else None
        if before is None or (path in _compiled and _compiled[path][0] == before):
            continue
        try:
            compiled = _original(Path(path), None)
        except Exception:  # a syntax error: the job reports it as pytest does
            continue
        if _digest(path) == before:
            _compiled[path] = (before, compiled)
