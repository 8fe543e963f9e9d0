"""Reading the user's workspace from disk, safely and within bounds.

The server reads files the client never sent, so:

- a file is read only when its resolved path (symlinks followed) lies inside a
  workspace root; a symlink that points out is counted and skipped, never opened;
- version-control, virtual-environment (``pyvenv.cfg``), ``node_modules`` and hidden
  folders and ``.gitignore``d paths are skipped (``pathspec`` reads the patterns);
- a walk stops at ``max_files`` files, ``max_total_bytes`` read or ``scan_seconds``;
  a file over ``max_file_bytes`` is skipped, and so is one that is binary or not UTF-8.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from winnow.judge.sites import LANGUAGES

log = logging.getLogger(__name__)

PYTHON_EXTENSIONS = LANGUAGES["python"].suffixes
SOURCE_EXTENSIONS = frozenset(
    PYTHON_EXTENSIONS
    + (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java", ".kt", ".scala", ".c", ".h")
    + (".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".lua", ".sh", ".sql")
)
SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "site-packages", "dist-packages", "venv", "env", "target", "bower_components"}
)


@dataclass(frozen=True)
class Limits:
    """Bounds of one scan (docs/settings.md: ``context.maxFiles``)."""

    max_files: int = 5000
    max_file_bytes: int = 256_000
    max_total_bytes: int = 32_000_000
    scan_seconds: float = 20.0


@dataclass
class Counters:
    skipped_outside: int = 0  # symlinks or events pointing out of the roots: never opened
    skipped_large: int = 0
    skipped_broken: int = 0  # does not decode or parse
    skipped_ignored: int = 0  # .gitignore'd, venv, node_modules, hidden folders
    last_broken: str | None = None


@dataclass
class ScanReport:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    finished_at: float | None = None  # time.time()
    truncated: str | None = None  # "max_files" | "max_total_bytes" | "scan_seconds"


def is_python(path: str) -> bool:
    return path.lower().endswith(PYTHON_EXTENSIONS)


class Ignores:
    """``.gitignore`` files of one root, loaded as the walk meets them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.specs: dict[str, pathspec.PathSpec | None] = {}

    def _spec(self, rel_dir: str) -> pathspec.PathSpec | None:
        if rel_dir not in self.specs:
            spec = None
            path = self.root / rel_dir / ".gitignore" if rel_dir else self.root / ".gitignore"
            try:
                if path.is_file() and not path.is_symlink():
                    with open(path, encoding="utf-8", errors="replace") as f:
                        spec = pathspec.GitIgnoreSpec.from_lines(f.read(200_000).splitlines())
            except OSError as exc:
                log.info("cannot read %s: %s", path, exc)
            self.specs[rel_dir] = spec
        return self.specs[rel_dir]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether root-relative ``rel`` is ignored by a .gitignore in one of its parents."""
        parts = rel.split("/")
        for depth in range(len(parts)):
            base = "/".join(parts[:depth])
            spec = self._spec(base)
            if spec is None:
                continue
            tail = "/".join(parts[depth:]) + ("/" if is_dir else "")
            if spec.match_file(tail):
                return True
        return False


def skipped_dir(path: Path, name: str) -> bool:
    if name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    return (path / name / "pyvenv.cfg").exists()


def safe_resolve(path: Path) -> Path:
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):
        return path


class FileWalker:
    """The roots, the limits and what was skipped; every disk read of the index goes here."""

    def __init__(self, limits: Limits) -> None:
        self.roots: list[Path] = []
        self.limits = limits
        self.counters = Counters()

    def walk(self, accept: Callable[[Path, str, str], bool]) -> ScanReport:
        """Read every source file of every root within the limits, handing each to
        ``accept(path, rel, text)``, which says whether it was indexed."""
        t0 = time.perf_counter()
        deadline = time.monotonic() + self.limits.scan_seconds
        report = ScanReport()
        for root in list(self.roots):
            ignores = Ignores(root)
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
                if report.truncated:
                    dirnames[:] = []
                    break
                here = Path(dirpath)
                rel_dir = here.relative_to(root).as_posix()
                rel_dir = "" if rel_dir == "." else rel_dir
                dirnames[:] = self.folders_to_walk(here, rel_dir, dirnames, ignores)
                for name in sorted(filenames):
                    if name.lower().endswith(tuple(SOURCE_EXTENSIONS)):
                        self._scan_file(here, rel_dir, name, ignores, report, deadline, accept)
                        if report.truncated:
                            break
            if report.truncated:
                break
        report.seconds = time.perf_counter() - t0
        report.finished_at = time.time()
        return report

    def root_of(self, path: Path) -> Path | None:
        for root in self.roots:
            if path == root or path.is_relative_to(root):
                return root
        return None

    def rel(self, path: Path) -> str:
        root = self.root_of(path)
        return path.relative_to(root).as_posix() if root is not None else path.name

    def allowed(self, raw: Path) -> Path | None:
        """The resolved path when it is a readable source file inside a root and not
        ignored, else None (counted). Symlinks are resolved first and checked."""
        try:
            resolved = raw.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        root = self.root_of(resolved)
        if root is None:
            self.counters.skipped_outside += 1
            log.info("workspace index: not reading %s (it resolves outside the workspace roots)", raw)
            return None
        rel = resolved.relative_to(root)
        parts = rel.parts
        here = root
        for name in parts[:-1]:
            if skipped_dir(here, name):
                self.counters.skipped_ignored += 1
                return None
            here = here / name
        if Ignores(root).ignored(rel.as_posix(), is_dir=False):
            self.counters.skipped_ignored += 1
            return None
        return resolved

    def read(self, path: Path) -> str | None:
        """Text of a file already checked by ``allowed`` or the walk (None: skipped)."""
        try:
            size = path.stat().st_size
            if size > self.limits.max_file_bytes:
                self.counters.skipped_large += 1
                return None
            data = path.read_bytes()[: self.limits.max_file_bytes]
        except OSError as exc:
            log.info("workspace index: cannot read %s: %s", path, exc)
            return None
        if b"\x00" in data:
            self.counters.skipped_broken += 1
            self.counters.last_broken = path.name
            log.info("workspace index: skipping %s (binary)", path)
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.counters.skipped_broken += 1
            self.counters.last_broken = path.name
            log.info("workspace index: skipping %s (not UTF-8)", path)
            return None

    def folders_to_walk(self, here: Path, rel_dir: str, dirnames: list[str], ignores: Ignores) -> list[str]:
        """The subfolders worth walking: not ignored, not a link (a linked folder inside a
        root is walked there; one that leads out is counted and left alone)."""
        keep = []
        for name in sorted(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if (here / name).is_symlink():
                if self.root_of(safe_resolve(here / name)) is None:
                    self.counters.skipped_outside += 1
                    log.info("workspace index: not following %s (a link out of the workspace)", rel)
                continue
            if skipped_dir(here, name) or ignores.ignored(rel, is_dir=True):
                self.counters.skipped_ignored += 1
                continue
            keep.append(name)
        return keep

    def _scan_file(
        self, here: Path, rel_dir: str, name: str, ignores: Ignores, report: ScanReport, deadline: float,
        accept: Callable[[Path, str, str], bool],
    ) -> None:
        """Read one file and hand it to ``accept`` (True: indexed), or set
        ``report.truncated`` when a limit is reached."""
        lim = self.limits
        if time.monotonic() > deadline:
            report.truncated = "scan_seconds"
            return
        if report.files >= lim.max_files:
            report.truncated = "max_files"
            return
        rel = f"{rel_dir}/{name}" if rel_dir else name
        if ignores.ignored(rel, is_dir=False):
            self.counters.skipped_ignored += 1
            return
        path = here / name
        if path.is_symlink():
            resolved = safe_resolve(path)
            if self.root_of(resolved) is None:
                self.counters.skipped_outside += 1
                log.info("workspace index: not reading %s (a link out of the workspace)", rel)
                return
            path = resolved
        try:
            size = path.stat().st_size
        except OSError:
            return
        if size > lim.max_file_bytes:
            self.counters.skipped_large += 1
            return
        if report.bytes + size > lim.max_total_bytes:
            report.truncated = "max_total_bytes"
            return
        text = self.read(path)
        if text is None:
            return
        report.bytes += len(text)
        if accept(path, rel, text):
            report.files += 1
