"""Where Winnow keeps its own files on the user's machine.

``WINNOW_CACHE`` overrides; otherwise the platform's user cache folder (platformdirs:
``~/.cache/winnow`` on Linux, honouring ``XDG_CACHE_HOME``; ``~/Library/Caches/winnow`` on
macOS).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir(*parts: str) -> Path:
    """Winnow's cache folder (or a folder below it), created when missing."""
    root = os.environ.get("WINNOW_CACHE") or platformdirs.user_cache_dir("winnow", appauthor=False)
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
