"""Loading llama-cpp-python: the shared library, its backend, its log lines, the cores it uses.

``load_llama`` imports ``llama_cpp`` on first use (it loads a shared library) and inits
its backend once; llama.cpp's own logging goes to Python's, and its last error lines
are kept for our errors to quote (``recent_llama_errors``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import Any

from winnow.judge.base.errors import ModelError

log = logging.getLogger(__name__)

_backend_lock = threading.Lock()
_backend_ready = False


def load_llama() -> Any:
    """Import llama_cpp lazily (it loads a shared library) and init the backend once."""
    global _backend_ready
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ModelError(
            f"llama-cpp-python is not importable ({exc}); reinstall Winnow with the README's set-up command"
        ) from exc
    with _backend_lock:
        if not _backend_ready:
            _silence_llama_logs(llama_cpp)
            llama_cpp.llama_backend_init()
            _backend_ready = True
    return llama_cpp


_log_callback_ref: Any = None
_recent_errors: list[str] = []  # llama.cpp's last error lines, quoted in our own errors


def recent_llama_errors(clear: bool = True) -> str:
    text = "; ".join(_recent_errors[-3:])
    if clear:
        _recent_errors.clear()
    return text


def _silence_llama_logs(llama_cpp: Any) -> None:
    """Route llama.cpp's own logging to Python's (at debug level) instead of stderr."""
    global _log_callback_ref

    @llama_cpp.llama_log_callback
    def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level == 3:  # GGML_LOG_LEVEL_ERROR
            _recent_errors.append(text.decode("utf-8", errors="replace").strip())
            del _recent_errors[:-10]
        if log.isEnabledFor(logging.DEBUG):
            log.debug("llama.cpp: %s", text.decode("utf-8", errors="replace").rstrip())

    _log_callback_ref = _callback  # keep a reference: ctypes must not free it
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def physical_cores() -> int:
    """Physical cores (hyper-threads share an FPU, and llama.cpp gains nothing from them)."""
    try:
        cores: set[tuple[str, str]] = set()
        physical = core = None
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("physical id"):
                    physical = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                elif not line.strip() and core is not None:
                    cores.add((physical or "0", core))
                    physical = core = None
        if core is not None:
            cores.add((physical or "0", core))
        if cores:
            return min(len(cores), len(os.sched_getaffinity(0)))
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)
