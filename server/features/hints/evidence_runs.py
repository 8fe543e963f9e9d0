"""What a document's functions do in the sandbox, run once per document text and inputs.

The core gathers the evidence (``winnow.judge.evidence.documents``, per language); this unit
decides when it may run (the sandbox takes a core: inline requests go first), what it
runs on (the settings, the literal calls of the document's functions in the workspace),
and keeps the results by the text and inputs they were computed for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence

from lsprotocol import types

from winnow.judge.evidence.documents import EvidenceRequest, document_evidence
from winnow.judge.evidence.module_evidence import TYPED_INPUTS, ModuleEvidence
from winnow.judge.sites import FunctionSite
from winnow.judge.sites.call_sites import merge_calls, own_calls
from winnow.server.features.ports import DiagnosticsHost
from winnow.server.workspace.context import uri_path
from winnow.server.workspace.documents import Snapshot
from winnow.server.workspace.trust import RunVerdict, is_trusted, may_run

log = logging.getLogger(__name__)

YIELD_WAIT_S = 5.0  # the longest a sandbox run waits for inline requests to finish
EVIDENCE_CACHE = 64


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class EvidenceRuns:
    """The sandbox runs of the hints, cached by document text, call sites and settings."""

    def __init__(self, host: DiagnosticsHost, sandbox: asyncio.Lock) -> None:
        self.host = host
        self.sandbox = sandbox  # one sandboxed run at a time
        self.cache: OrderedDict[str, ModuleEvidence] = OrderedDict()
        self.runs = 0

    async def gather(
        self, snap: Snapshot, sites: Sequence[FunctionSite], reported: set[str], text: str | None = None
    ) -> ModuleEvidence:
        """What ``sites`` of ``snap`` (of ``text``, when given: the version the document started
        from) do in the sandbox. The functions edited since the last report (content hashes not
        in ``reported``) run first: a run cut short by its time budget still reports on what
        the user just changed."""
        text = snap.text if text is None else text
        settings = self.host.settings.diagnostics
        way = document_evidence(snap.language)
        if not sites or way is None:
            return ModuleEvidence("off")
        path = uri_path(snap.uri)
        verdict = may_run(path, settings.run_code, self.host.settings.trusted_folders)
        if not verdict.runs:
            self._refused(verdict, path)
            return ModuleEvidence("off", error=verdict.why)
        calls = (
            self._call_sites(text, path, sites)
            if way.takes_call_sites and settings.call_sites and settings.probes
            else {}
        )
        # Another file's new call of a function here is a new input: part of the key.
        key = text_hash(text + repr(sorted(calls.items())))
        key += f":{settings.examples}:{settings.probes}:{settings.typed_inputs}"
        cached = self.cache.get(key)
        if cached is not None:
            self.cache.move_to_end(key)
            return cached
        why_not = way.unavailable()
        if why_not is not None:
            self.host.messages.once(f"diagnostics:unavailable:{snap.language}", f"Winnow: {why_not}.", types.MessageType.Info)
            return ModuleEvidence("off", error=why_not)
        await self._yield_to_inline()
        trusted = self.host.settings.trusted_folders
        request = EvidenceRequest(
            examples=settings.examples, probes=settings.probes, typed=TYPED_INPUTS if settings.typed_inputs else 0,
            calls=calls, extra_paths=tuple(r for r in self.host.workspace_context.roots if is_trusted(r, trusted)),
        )  # fmt: skip
        ordered = sorted(sites, key=lambda s: s.content_hash in reported)
        async with self.sandbox:
            result = await asyncio.to_thread(way.collect, text, path, ordered, request)
        self.runs += 1
        if result.status == "error":
            log.info("evidence run of %s failed: %s", snap.uri, result.error)
        self.cache[key] = result
        while len(self.cache) > EVIDENCE_CACHE:
            self.cache.popitem(last=False)
        return result

    def _refused(self, verdict: RunVerdict, path: str | None) -> None:
        """Say once (per reason and folder) that nothing of this document runs, and why."""
        if verdict.reason == "off":
            return  # the user's own setting: nothing to tell them
        folder = os.path.dirname(path) if path and verdict.reason == "untrusted" else ""
        self.host.messages.once(
            f"diagnostics:refused:{verdict.reason}:{folder}",
            f"Winnow runs no code of your workspace here: {verdict.why}. Hints that run code are off; "
            "completion, the judge and implement (ranked without running) keep working.",
            types.MessageType.Warning,
            show=True,
        )

    async def _yield_to_inline(self) -> None:
        """The sandbox takes a core: let waiting inline requests finish first (for a while)."""
        for _ in range(int(YIELD_WAIT_S / 0.1)):
            if not self.host.interactive_waiting():
                return
            await asyncio.sleep(0.1)

    def _call_sites(self, text: str, path: str | None, sites: Sequence[FunctionSite]) -> dict[str, tuple[str, ...]]:
        """Literal calls of the document's top-level functions, in the document itself and
        in the workspace files that import it: qualname → argument source texts."""
        names = {s.qualname for s in sites if "." not in s.qualname}
        if not names:
            return {}
        own = own_calls(text, names)
        others = self.host.workspace_context.call_sites(path, names) if path else {}
        return {k: v for k, v in merge_calls(own, others).items() if k in names}
