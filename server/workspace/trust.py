"""Whose code may run: a document's code runs (its hints' examples and inputs, ranking by
examples, its tests) only when all three say yes:

1. the document lies in a trusted folder (``trustedFolders``: VS Code's extension sends the
   workspace's folders there once the workspace is trusted, and nothing in Restricted Mode;
   Neovim and Emacs users list their folders; docs/sandbox.md, "Workspace trust");
2. the user did not turn running code off (``diagnostics.runCode``);
3. a sandbox keeps the user's files read-only and the network unreachable here
   (``winnow.judge.sandbox``): never a weaker one.

The answer says which of them said no, for the one message the user gets and the status bar.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from winnow.judge.sandbox.choice import isolation


@dataclass(frozen=True)
class RunVerdict:
    """Whether a document's code may run, and if not, why (one of "off", "untrusted",
    "no-sandbox") in ``reason`` with the sentence the user reads in ``why``."""

    runs: bool
    reason: str = ""
    why: str = ""


def _resolved(path: str) -> str:
    try:
        return str(Path(os.path.expanduser(path)).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(os.path.expanduser(path))


def trusted_roots(folders: Iterable[str]) -> list[str]:
    """The trusted folders as real absolute paths."""
    return [_resolved(f) for f in folders if f.strip()]


def is_trusted(path: str | None, folders: Iterable[str]) -> bool:
    """Whether ``path`` (a document's file) lies in one of ``folders``; a document without a
    file on disk is trusted only where every folder is (``/``)."""
    roots = trusted_roots(folders)
    if path is None:
        return "/" in roots
    real = _resolved(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def may_run(path: str | None, run_code: bool, folders: Iterable[str]) -> RunVerdict:
    """The verdict on a document at ``path`` under the settings ``run_code`` and ``folders``."""
    if not is_trusted(path, folders):
        where = os.path.dirname(path) if path else "this document"
        return RunVerdict(
            False, "untrusted",
            f"{where} is not in a trusted folder (VS Code: trust the workspace; other editors: "
            "add it to winnow.trustedFolders)",
        )  # fmt: skip
    if not run_code:
        return RunVerdict(False, "off", "running your code is off (winnow.diagnostics.runCode)")
    iso = isolation()
    if not iso.strong:
        return RunVerdict(False, "no-sandbox", iso.why_not_strong())
    return RunVerdict(True)


def excluded(path: str | None, patterns: Iterable[str], roots: Iterable[str]) -> bool:
    """Whether ``path`` matches one of ``patterns`` (``diagnostics.exclude``): gitignore-style
    globs, relative to a workspace folder holding it, or absolute."""
    patterns = [p for p in patterns if p.strip()]
    if path is None or not patterns:
        return False
    spec = pathspec.PathSpec.from_lines("gitwildmatch", patterns)
    real = _resolved(path)
    candidates = [real.lstrip(os.sep)]
    for root in trusted_roots(roots):
        if real.startswith(root.rstrip(os.sep) + os.sep):
            candidates.append(os.path.relpath(real, root))
    return any(spec.match_file(c) for c in candidates)
