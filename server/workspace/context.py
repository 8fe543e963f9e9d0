"""Context from the rest of the workspace: the index's feeds and the prompt's context block.

``WorkspaceContext`` owns the ``WorkspaceIndex`` (workspace_index.py), feeds it from the
LSP events (initialize's folders, open/change/close, ``workspace/didChangeWatchedFiles``,
registered dynamically when the client supports it) and answers two questions:

- ``prompt_context``: the budgeted block shown ahead of an inline prompt: stubs of the
  names the current file imports from workspace modules, then chunks of recently used
  files ranked by similarity to the text around the cursor. A block is rebuilt only
  when its inputs change (the file's import lines, the prompt window's start, or
  another file's content), never because of a keystroke elsewhere in the file, so the
  engine keeps the prompt's KV cache and evaluates only the tail;
- ``helpers``: name → stub of the workspace definitions a document can call, for the
  judge's task (the implement action and diagnostics).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lsprotocol import types
from pygls import uris

from winnow.judge.base.definitions import ImportedName, imported_names, module_definitions, parse_module
from winnow.judge.base.snippets import pack, rank_chunks
from winnow.judge.llm.prompts import PromptContext
from winnow.server.lsp.settings import Settings
from winnow.server.lsp.status import Messages
from winnow.server.workspace.documents import CHARS_PER_TOKEN, CursorContext, OpenDocuments, Snapshot
from winnow.server.workspace.index import SOURCE_EXTENSIONS, Limits, WorkspaceIndex

log = logging.getLogger(__name__)

QUERY_CHARS = 1200  # text before the cursor that chunks are ranked against
RENDER_OVERHEAD = 0.85  # share of the budget for the pieces' text (comment marks and path lines take the rest)
WATCH_ID = "winnow-watched-files"
_TOP_LEVEL_DEF = re.compile(r"^(?:async\s+def|def|class)\b", re.MULTILINE)


@dataclass(frozen=True)
class _Block:
    key: tuple[Any, ...]
    context: PromptContext | None


def uri_path(uri: str) -> str | None:
    """The resolved file-system path of a ``file:`` URI (None for other schemes)."""
    if not uri.startswith("file:"):
        return None
    path = uris.to_fs_path(uri)
    if not path:
        return None
    try:
        return str(Path(path).resolve(strict=False))
    except (OSError, RuntimeError):
        return path


def _import_head(text: str) -> str:
    """The module's head before its first top-level def/class: where imports live."""
    first = _TOP_LEVEL_DEF.search(text)
    return text[: first.start()] if first else text[:20_000]


class WorkspaceHost(Protocol):
    """What the workspace context uses of the server."""

    @property
    def settings(self) -> Settings: ...

    @property
    def documents(self) -> OpenDocuments: ...

    @property
    def messages(self) -> Messages: ...

    @property
    def client_capabilities(self) -> types.ClientCapabilities: ...

    async def client_register_capability_async(self, params: types.RegistrationParams) -> None: ...


class WorkspaceContext:
    def __init__(self, host: WorkspaceHost) -> None:
        self.host = host
        self.index = WorkspaceIndex()
        self.roots: list[str] = []
        self.repo = "workspace"
        self._blocks: dict[str, _Block] = {}
        self._heads: dict[str, tuple[str, tuple[ImportedName, ...]]] = {}
        self._own: dict[str, tuple[int | None, dict[str, str]]] = {}  # uri → (version, name → stub)
        self.blocks_built = 0
        self.blocks_reused = 0
        self.last: dict[str, Any] | None = None  # what the last inline prompt held
        self.watching = False
        self._scanned = False
        self._started = False

    # --- settings and feeds ----------------------------------------------------------------

    def _limits(self) -> Limits:
        return Limits(max_files=self.host.settings.context.max_files)

    def start(self, params: types.InitializeParams) -> None:
        """Remember the workspace roots and index them (in the background) when enabled."""
        roots: list[str] = []
        for folder in params.workspace_folders or []:
            path = uri_path(folder.uri)
            if path:
                roots.append(path)
        if not roots and params.root_uri:
            path = uri_path(params.root_uri)
            if path:
                roots.append(path)
        if not roots and params.root_path:
            roots.append(params.root_path)
        self.roots = roots
        self._started = True
        if roots:
            self.repo = Path(roots[0]).name or "workspace"
        if self.host.settings.context.enabled:
            self._scan()

    def _scan(self) -> None:
        self._scanned = True
        self.index.set_roots(self.roots, self._limits())

    def settings_changed(self, old: Settings, new: Settings) -> None:
        if old.context == new.context:
            return
        self._blocks.clear()
        if not self._started:
            return  # initialize: start() scans once it knows the roots
        if new.context.enabled and (not self._scanned or old.context.max_files != new.context.max_files):
            self._scan()

    async def register_watchers(self) -> None:
        """Ask the client to report file changes (``workspace/didChangeWatchedFiles``)."""
        try:
            caps = self.host.client_capabilities.workspace
            dynamic = caps.did_change_watched_files.dynamic_registration if caps and caps.did_change_watched_files else False
        except AttributeError:
            dynamic = False
        if not dynamic or not self.roots:
            return
        pattern = "**/*.{" + ",".join(sorted(ext[1:] for ext in SOURCE_EXTENSIONS)) + "}"
        try:
            await asyncio.wait_for(self._register(pattern), timeout=10)
            self.watching = True
        except Exception as exc:
            self.host.messages.log(f"Winnow: could not watch the workspace's files ({exc}); edits on disk are not indexed")

    async def _register(self, pattern: str) -> None:
        """Dynamic registration of ``workspace/didChangeWatchedFiles`` for the source files."""
        await self.host.client_register_capability_async(
            types.RegistrationParams(
                registrations=[
                    types.Registration(
                        id=WATCH_ID,
                        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=types.DidChangeWatchedFilesRegistrationOptions(
                            watchers=[types.FileSystemWatcher(glob_pattern=pattern)]
                        ),
                    )
                ]
            )
        )

    def opened(self, uri: str) -> None:
        self._document(uri)

    def changed(self, uri: str) -> None:
        self._document(uri)

    def _document(self, uri: str) -> None:
        if not self.host.settings.context.enabled:
            return
        path = uri_path(uri)
        snap = self.host.documents.snapshot(uri)
        if path is None or snap is None:
            return
        self.index.update_document(path, snap.text)

    def closed(self, uri: str) -> None:
        self._blocks.pop(uri, None)
        self._heads.pop(uri, None)
        self._own.pop(uri, None)
        path = uri_path(uri)
        if path is not None:
            self.index.close_document(path)

    def watched(self, params: types.DidChangeWatchedFilesParams) -> None:
        if not self.host.settings.context.enabled:
            return
        for change in params.changes:
            path = uri_path(change.uri)
            if path is not None:
                self.index.file_changed(path, deleted=change.type == types.FileChangeType.Deleted)

    # --- the prompt's block ----------------------------------------------------------------

    def _imports(self, snap: Snapshot) -> tuple[ImportedName, ...]:
        """The document's imports, parsed again only when its head (before the first
        def/class) changed; a head that does not parse mid-edit keeps the last ones."""
        head = _import_head(snap.text)
        cached = self._heads.get(snap.uri)
        if cached is not None and cached[0] == head:
            return cached[1]
        tree = parse_module(head)
        if tree is None:
            return cached[1] if cached is not None else ()
        found = tuple(imported_names(tree))
        self._heads[snap.uri] = (head, found)
        return found

    def prompt_context(self, uri: str, ctx: CursorContext) -> PromptContext | None:
        """The block for an inline prompt at ``ctx`` in ``uri`` (None when off or empty)."""
        settings = self.host.settings.context
        snap = self.host.documents.snapshot(uri)
        if not settings.enabled or snap is None:
            self.last = None
            return None
        path = uri_path(uri) or uri
        imports = self._imports(snap)
        key = (settings.max_tokens, imports, ctx.start, self.index.other_generation(path))
        block = self._blocks.get(uri)
        rebuilt = block is None or block.key != key
        if not rebuilt:
            self.blocks_reused += 1
        else:
            block = _Block(key, self._build(path, imports, ctx, settings.max_tokens))
            self._blocks[uri] = block
            self.blocks_built += 1
            if len(self._blocks) > 64:
                self._blocks.pop(next(iter(self._blocks)))
        files = block.context.files if block.context is not None else ()
        self.last = {
            "uri": uri,
            "rebuilt": rebuilt,
            "files": [{"path": f.path, "kind": f.kind, "chars": len(f.text)} for f in files],
            "text": "".join(f.text for f in files),
            "chars": sum(len(f.text) for f in files),
        }
        return block.context

    def _build(
        self, path: str, imports: tuple[ImportedName, ...], ctx: CursorContext, max_tokens: int
    ) -> PromptContext | None:
        budget = int(max_tokens * CHARS_PER_TOKEN * RENDER_OVERHEAD)
        found = self.index.imported_definitions(path, imports)
        definitions = [(entry.rel, list(dict.fromkeys(d.stub for _, d in items))) for entry, items in found]
        query = ctx.prefix[-QUERY_CHARS:]
        chunks = rank_chunks(query, self.index.recent_chunks(exclude=path))
        files = pack(definitions, chunks, budget, skip_text=ctx.prefix + ctx.suffix)
        if not files:
            return None
        return PromptContext(tuple(files), self.index.rel_path(path), self.repo)

    # --- the judge's helpers ---------------------------------------------------------------

    def call_sites(self, path: str, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Literal calls of ``names`` in the indexed files that import the module at ``path``."""
        return self.index.call_sites(path, names)

    def helpers(self, snap: Snapshot, exclude: str | None = None) -> dict[str, str]:
        """Name as ``snap`` spells it → stub, for the workspace definitions it can call:
        what it imports from workspace modules and its own top-level definitions."""
        if not self.host.settings.context.enabled or not snap.is_python:
            return {}
        path = uri_path(snap.uri) or snap.uri
        out: dict[str, str] = {}
        for _entry, items in self.index.imported_definitions(path, self._imports(snap)):
            for spelled, definition in items:
                out.setdefault(spelled, definition.stub)
        cached = self._own.get(snap.uri)
        if cached is None or cached[0] != snap.version:
            own: dict[str, str] = {}
            tree = parse_module(snap.text) if len(snap.text) <= 1_000_000 else None
            if tree is not None:
                own = {d.name: d.stub for d in module_definitions(tree) if d.kind != "variable"}
            cached = (snap.version, own)
            self._own[snap.uri] = cached
        for name, stub in cached[1].items():
            if name != exclude:
                out.setdefault(name, stub)
        return out

    # --- stats -------------------------------------------------------------------------------

    def summary(self) -> str:
        """One line for winnow.showStats: what the index holds."""
        if not self.host.settings.context.enabled:
            return "workspace context off"
        ix = self.index.describe()
        scan = f"last scan {ix['last_scan_s']} s" if ix["scans"] else "not scanned"
        cut = f", stopped at {ix['truncated']}" if ix["truncated"] else ""
        return (
            f"workspace index: {ix['files']} files, {ix['definitions']} definitions, "
            f"{ix['bytes'] / 1e6:.1f} MB, {scan}{cut}"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.host.settings.context.enabled,
            "watching": self.watching,
            "index": self.index.describe(),
            "blocks_built": self.blocks_built,
            "blocks_reused": self.blocks_reused,
            "last_prompt": self.last,
        }

    def close(self) -> None:
        self.index.close()
