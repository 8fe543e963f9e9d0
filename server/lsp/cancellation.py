"""Cancellation the model worker can see: a flag it polls between tokens.

Inline completion, code actions and diagnostics each make one per model call, out of
their own reasons to stop (a newer request, a closed document, an inline request
waiting) and the server's shutdown flag, which is a ``CancelFlag`` too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class CancelFlag:
    """A thread-safe flag: set by ``set()``, or by any of the checks it was made with."""

    def __init__(self, *others: Callable[[], bool]) -> None:
        self._event = threading.Event()
        self._others = others

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set() or any(check() for check in self._others)
