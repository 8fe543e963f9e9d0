"""The workspace index: what the files of the user's workspace define, kept off the request path.

Fed from three sources: a scan of the workspace roots (``workspaceFolders`` / ``rootUri``),
the text of documents the client opened or edits, and ``workspace/didChangeWatchedFiles``.
For Python files it keeps the module-level definitions as stubs (judge.base.definitions);
for other languages, line chunks (judge.base.snippets). Recently opened or edited files
also keep their chunks, for the similarity-ranked part of the prompt's context block.
Every read from disk goes through ``FileWalker`` (file_walk.py: inside the roots, not
ignored, within the limits); all of it runs on one background thread, and requests only
read the finished tables.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from winnow.judge.base.definitions import (
    Definition,
    ImportedName,
)
from winnow.judge.base.snippets import Chunk, line_chunks
from winnow.judge.sites.call_sites import merge_calls
from winnow.server.workspace.entries import Entry, make_entry, module_names
from winnow.server.workspace.file_walk import (
    SOURCE_EXTENSIONS,
    Counters,
    FileWalker,
    Limits,
    ScanReport,
    is_python,
    safe_resolve,
)

__all__ = ["SOURCE_EXTENSIONS", "Entry", "Limits", "WorkspaceIndex", "is_python", "module_names"]

log = logging.getLogger(__name__)

RECENT_FILES = 8  # recently opened/edited files whose chunks the context block ranks
DOC_SETTLE_S = 0.3  # edits of an open document are re-indexed once they pause this long


class WorkspaceIndex:
    """Definitions and chunks of the workspace's files; one background thread writes them."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.walker = FileWalker(limits or Limits())
        self._files: dict[str, Entry] = {}  # from disk
        self._documents: dict[str, Entry] = {}  # from the client (open documents win)
        self._modules: dict[str, str] = {}  # dotted name → path
        self._recent: OrderedDict[str, tuple[Chunk, ...]] = OrderedDict()
        self._lock = threading.RLock()
        self.generation = 0  # bumped on every change a context block may depend on
        self._by_path: dict[str, int] = {}  # the part of ``generation`` each file caused
        self.scan = ScanReport()
        self.scans = 0
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._pending_docs: dict[str, str] = {}
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def roots(self) -> list[Path]:
        return self.walker.roots

    @property
    def limits(self) -> Limits:
        return self.walker.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self.walker.limits = limits

    @property
    def counters(self) -> Counters:
        return self.walker.counters

    # --- the background thread ---------------------------------------------------------

    def _submit(self, job: Callable[[], None]) -> None:
        if self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="winnow-index", daemon=True)
            self._thread.start()
        self._queue.put(job)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                job()
            except Exception:  # one bad job must not stop the index
                log.exception("workspace index job failed")
            finally:
                self._queue.task_done()

    @property
    def pending(self) -> int:
        """Jobs queued or running (scans, documents, watched files): 0 once the index is current."""
        return self._queue.unfinished_tasks

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)

    # --- inputs ------------------------------------------------------------------------

    def set_roots(self, roots: Iterable[str | os.PathLike[str]], limits: Limits | None = None) -> None:
        """Index these folders (a scan in the background)."""
        resolved: list[Path] = []
        for root in roots:
            try:
                path = Path(root).resolve(strict=True)
            except OSError:
                log.info("workspace root %s does not exist; not indexed", root)
                continue
            if path.is_dir() and path not in resolved:
                resolved.append(path)
        with self._lock:
            self.walker.roots = resolved
            if limits is not None:
                self.limits = limits
        self._submit(self._scan)

    def update_document(self, path: str, text: str) -> None:
        """An open document's text (the client's version wins over the file on disk)."""
        with self._pending_lock:
            queued = path in self._pending_docs
            self._pending_docs[path] = text
        if not queued:
            self._submit(lambda: self._apply_document(path))

    def close_document(self, path: str) -> None:
        """The client closed it: the file on disk (if inside a root) takes over again."""
        self._submit(lambda: self._close_document(path))

    def file_changed(self, path: str, deleted: bool = False) -> None:
        """A watched file was created, changed or deleted on disk."""
        self._submit(lambda: self._file_changed(path, deleted))

    # --- reads (any thread) --------------------------------------------------------------

    def entry(self, path: str) -> Entry | None:
        with self._lock:
            return self._documents.get(path) or self._files.get(path)

    def other_generation(self, path: str) -> int:
        """Changes caused by files other than ``path``: what a block for ``path`` depends on."""
        with self._lock:
            return self.generation - self._by_path.get(path, 0)

    def recent_chunks(self, exclude: str) -> list[Chunk]:
        with self._lock:
            return [c for p, chunks in self._recent.items() if p != exclude for c in chunks]

    def rel_path(self, path: str) -> str:
        entry = self.entry(path)
        if entry is not None:
            return entry.rel
        return self.walker.rel(Path(path))

    def resolve_module(self, importer: str | None, module: str, level: int) -> Entry | None:
        """The indexed file an import names (relative imports from ``importer``'s folder).
        Only the index is consulted: resolving never touches the disk."""
        with self._lock:
            if level == 0:
                path = self._modules.get(module)
                return self.entry(path) if path else None
            if not importer:
                return None
            base = Path(importer).parent
            for _ in range(level - 1):
                base = base.parent
            target = base.joinpath(*module.split(".")) if module else base
            for candidate in [str(target) + ext for ext in (".py", ".pyi")] + [str(target / "__init__.py")]:
                entry = self.entry(candidate)
                if entry is not None:
                    return entry
            return None

    def call_sites(self, path: str, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Literal calls of ``names`` in the files that import the module at ``path`` (its
        tests among them): called name → argument source texts."""
        wanted = set(names)
        with self._lock:
            entries = list({**self._files, **self._documents}.values())
        tables = []
        for entry in entries:
            if entry.path == path or not entry.calls or not any(n in wanted for n, _ in entry.calls):
                continue
            if any(self._imports_path(entry.path, imp, path) for imp in entry.imports):
                tables.append({n: t for n, t in entry.calls if n in wanted})
        return merge_calls(*tables)

    def _imports_path(self, importer: str, imp: ImportedName, path: str) -> bool:
        """Whether ``imp`` (in ``importer``) brings in the module at ``path``."""
        candidates = [imp.module]
        if imp.name is not None:
            candidates.append(f"{imp.module}.{imp.name}" if imp.module else imp.name)
        for module in candidates:
            entry = self.resolve_module(importer, module, imp.level)
            if entry is not None and entry.path == path:
                return True
        return False

    def imported_definitions(
        self, importer: str | None, imports: Sequence[ImportedName]
    ) -> list[tuple[Entry, list[tuple[str, Definition]]]]:
        """For each import that names workspace code: its file and the definitions it
        brings, each with the name the importing file spells it by (``norm``, ``util.f``)."""
        out: dict[str, tuple[Entry, list[tuple[str, Definition]]]] = {}

        def add(entry: Entry, items: list[tuple[str, Definition]]) -> None:
            if not items or entry.path == importer:
                return
            slot = out.setdefault(entry.path, (entry, []))
            known = {s for s, _ in slot[1]}
            slot[1].extend((s, d) for s, d in items if s not in known)

        for imp in imports:
            if imp.name is None:  # import pkg.mod [as m]
                entry = self.resolve_module(importer, imp.module, imp.level)
                if entry is not None:
                    prefix = imp.bound if imp.bound != imp.module.split(".")[0] else imp.module
                    add(entry, [(f"{prefix}.{d.name}", d) for d in entry.definitions])
                continue
            entry = self.resolve_module(importer, imp.module, imp.level)
            found = [d for d in entry.definitions if d.name == imp.name] if entry is not None else []
            if entry is not None and found:
                add(entry, [(imp.bound, found[0])])
                continue
            sub = f"{imp.module}.{imp.name}" if imp.module else imp.name
            module = self.resolve_module(importer, sub, imp.level)
            if module is not None:  # from pkg import util: a module
                add(module, [(f"{imp.bound}.{d.name}", d) for d in module.definitions])
        return list(out.values())

    def describe(self) -> dict[str, Any]:
        with self._lock:
            entries = {**self._files, **self._documents}
            c, s = self.counters, self.scan
            return {
                "roots": [str(r) for r in self.roots],
                "files": len(entries),
                "python_files": sum(1 for e in entries.values() if is_python(e.path)),
                "open_documents": len(self._documents),
                "definitions": sum(len(e.definitions) for e in entries.values()),
                "chunks": sum(len(e.chunks) for e in entries.values()),
                "bytes": sum(e.size for e in entries.values()),
                "modules": len(self._modules),
                "recent_files": [self.rel_path(p) for p in self._recent],
                "scans": self.scans,
                "pending": self.pending,
                "last_scan_s": round(s.seconds, 3),
                "last_scan_at": s.finished_at,
                "last_scan_files": s.files,
                "truncated": s.truncated,
                "limits": {
                    "max_files": self.limits.max_files,
                    "max_file_bytes": self.limits.max_file_bytes,
                    "max_total_bytes": self.limits.max_total_bytes,
                    "scan_seconds": self.limits.scan_seconds,
                },
                "skipped_outside": c.skipped_outside,
                "skipped_large": c.skipped_large,
                "skipped_broken": c.skipped_broken,
                "skipped_ignored": c.skipped_ignored,
                "last_broken": c.last_broken,
                "generation": self.generation,
            }

    # --- internals (background thread) ---------------------------------------------------

    def _bump(self, path: str) -> None:
        with self._lock:
            self.generation += 1
            self._by_path[path] = self._by_path.get(path, 0) + 1

    def _make_entry(self, path: str, rel: str, text: str, source: str) -> Entry | None:
        return make_entry(path, rel, text, source, self.counters)

    def _reindex_modules(self) -> None:
        modules: dict[str, str] = {}
        for entries in (self._files, self._documents):  # documents last: they win
            for entry in entries.values():
                if is_python(entry.path):
                    for name in module_names(entry.rel):
                        if entries is self._documents or name not in modules:
                            modules[name] = entry.path
        self._modules = modules

    def _scan(self) -> None:
        """Walk every root within the limits, then swap the new file table in at once."""
        files: dict[str, Entry] = {}

        def accept(path: Path, rel: str, text: str) -> bool:
            entry = self._make_entry(str(path), rel, text, "disk")
            if entry is not None:
                files[entry.path] = entry
            return entry is not None

        report = self.walker.walk(accept)
        with self._lock:
            self._files = files
            self._reindex_modules()
            self.scan = report
            self.scans += 1
            self.generation += 1  # everyone's inputs changed
        log.info(
            "workspace index: %d files, %d bytes in %.2f s%s",
            report.files, report.bytes, report.seconds, f" (stopped: {report.truncated})" if report.truncated else "",
        )

    def _remember(self, path: str, rel: str, text: str) -> None:
        chunks = tuple(line_chunks(rel, text))
        with self._lock:
            self._recent.pop(path, None)
            self._recent[path] = chunks
            while len(self._recent) > RECENT_FILES:
                self._recent.popitem(last=False)

    def _apply_document(self, path: str) -> None:
        time.sleep(DOC_SETTLE_S)  # let a burst of keystrokes settle: index the last text
        with self._pending_lock:
            text = self._pending_docs.pop(path, None)
        if text is None:
            return
        rel = self.walker.rel(Path(path))
        entry = self._make_entry(path, rel, text, "client")
        old = self.entry(path)
        if entry is None:  # mid-edit and broken: keep what it defined before
            self._remember(path, rel, text)
            self._bump(path)
            return
        with self._lock:
            self._documents[path] = entry
            if old is None or old.rel != entry.rel:
                self._reindex_modules()
        self._remember(path, rel, text)
        self._bump(path)

    def _close_document(self, path: str) -> None:
        with self._lock:
            if self._documents.pop(path, None) is None:
                return
            self._reindex_modules()
        self._bump(path)

    def _file_changed(self, raw_path: str, deleted: bool) -> None:
        raw = Path(raw_path)
        if deleted:
            with self._lock:
                key = next((k for k in (raw_path, str(safe_resolve(raw))) if k in self._files), None)
                if key is None:
                    return
                del self._files[key]
                self._recent.pop(key, None)
                self._reindex_modules()
            self._bump(key)
            return
        if not raw.name.lower().endswith(tuple(SOURCE_EXTENSIONS)):
            return
        path = self.walker.allowed(raw)
        if path is None:
            return
        with self._lock:
            full = len(self._files) >= self.limits.max_files and str(path) not in self._files
        if full:
            return
        text = self.walker.read(path)
        if text is None:
            return
        rel = self.walker.rel(path)
        entry = self._make_entry(str(path), rel, text, "disk")
        with self._lock:
            if entry is not None:
                self._files[entry.path] = entry
            else:
                self._files.pop(str(path), None)
            self._reindex_modules()
        self._remember(str(path), rel, text)
        self._bump(str(path))
