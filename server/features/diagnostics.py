"""Correctness diagnostics: the judge's verdict on documented functions.

For the Python functions with a docstring in an open document (not stubs, at most
MAX_FUNCTIONS per document, none longer than MAX_FUNCTION_LINES), debounced after
edits and soon after open/save, the judge's P(correct) is computed once per
function content (cache by content hash: an unchanged function is never judged
again) and a diagnostic "Winnow judge: 23% likely correct …" is published for
those below the threshold. A function that changed loses its diagnostic at the
next run, before it is judged again; one whose score is now above the threshold
gets none.

Only with a judge loaded and ``diagnostics.enabled``; a judge whose manifest does
not recommend diagnostics (``recommended.diagnostics`` false, or without it a
held-out ROC-AUC below MIN_AUC) stays quiet unless the user set
``diagnostics.enabled`` explicitly. Methods are judged dedented (as functions).
Judging runs at background priority and yields to inline completion: a judge
call is cancelled between tokens when an inline request is waiting, and the run
resumes later.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap
from collections import OrderedDict

from lsprotocol import types

from winnow.judge.base.definitions import helper_stubs
from winnow.judge.base.errors import Cancelled
from winnow.judge.base.pysource import FunctionSite, judge_task, module_imports
from winnow.server.features import convert
from winnow.server.features.ports import DiagnosticsHost
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.workspace.documents import MAX_ANALYSED_CHARS, Snapshot, python_functions

log = logging.getLogger(__name__)

MAX_FUNCTIONS = 20
MAX_FUNCTION_LINES = 200
EDIT_DELAY_S = 1.0  # after the last edit
OPEN_DELAY_S = 0.05  # after open / save
RETRY_DELAY_S = 1.5  # after yielding to an inline request
MIN_AUC = 0.6
SCORE_CACHE = 4096


class Diagnostics:
    def __init__(self, host: DiagnosticsHost) -> None:
        self.host = host
        self.scores: OrderedDict[str, float] = OrderedDict()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.generation: dict[str, int] = {}
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.inflight: set[str] = set()
        self.judged = 0

    # --- switches ------------------------------------------------------------------------

    def active(self) -> bool:
        """Diagnostics are on when the setting allows them, a judge is loaded, and the
        judge earned its voice: its manifest recommends diagnostics (or, lacking a
        recommendation, it measured ROC-AUC ≥ MIN_AUC), unless the user turned them on
        explicitly."""
        settings = self.host.settings
        if not settings.diagnostics.enabled or not self.host.models.has_judge:
            return False
        if "diagnostics.enabled" in self.host.explicit_settings:
            return True
        judge = self.host.models.judge_info()
        recommended = judge.recommended if judge is not None else None
        verdict = recommended.diagnostics if recommended is not None else None
        auc = convert.judge_auc(judge)
        if verdict is False or (verdict is None and auc is not None and auc < MIN_AUC):
            reason = recommended.reason if recommended is not None else None
            if not reason:
                reason = f"held-out ROC-AUC {auc:.2f} < {MIN_AUC}" if auc is not None else "no held-out evaluation"
            self.host.messages.once(
                f"diagnostics:weak-judge:{judge.name if judge is not None else ''}",
                f"Winnow: correctness diagnostics are off for this judge ({reason}); "
                "set winnow.diagnostics.enabled to true to see its verdicts anyway.",
                types.MessageType.Info,
            )
            return False
        return True

    def low_score(self, digest: str) -> float | None:
        """The judge's score for a function content when it is below the threshold."""
        p = self.scores.get(digest)
        if p is None or not self.active():
            return None
        return p if p < self.host.settings.diagnostics.threshold else None

    # --- scheduling ---------------------------------------------------------------------------

    def schedule(self, uri: str, delay_s: float = EDIT_DELAY_S) -> None:
        if not self.active():
            if self.published.get(uri):
                self._send(uri, None, [])
            return
        gen = self.generation.get(uri, 0) + 1
        self.generation[uri] = gen
        old = self.tasks.get(uri)
        if old is not None and not old.done() and old.get_name() == "sleeping":
            old.cancel()  # still debouncing: nothing is lost
        task = asyncio.ensure_future(self._run(uri, gen, delay_s))
        task.set_name("sleeping")
        self.tasks[uri] = task

    def close(self, uri: str) -> None:
        self.generation[uri] = self.generation.get(uri, 0) + 1
        task = self.tasks.pop(uri, None)
        if task is not None and not task.done():
            task.cancel()
        if self.published.pop(uri, None):
            self._send(uri, None, [])

    def refresh_all(self) -> None:
        """Settings or models changed: re-publish every open document."""
        for uri in set(self.host.documents.open_uris()) | set(self.published):
            self.schedule(uri, OPEN_DELAY_S)

    # --- a run ----------------------------------------------------------------------------------

    def _eligible(self, snap: Snapshot) -> list[FunctionSite]:
        if not snap.is_python:
            return []
        if len(snap.text) > MAX_ANALYSED_CHARS:
            self.host.messages.once(
                f"diagnostics:large:{snap.uri}",
                f"Winnow: {snap.uri} is larger than {MAX_ANALYSED_CHARS // 1_000_000} MB; no judge diagnostics for it.",
                types.MessageType.Info,
            )
            return []
        sites = [
            s
            for s in python_functions(snap)
            if s.docstring and not s.is_stub and s.end_line - s.start_line <= MAX_FUNCTION_LINES
        ]
        return sites[:MAX_FUNCTIONS]

    def _publish_known(self, uri: str) -> None:
        snap = self.host.documents.snapshot(uri)
        if snap is None:
            return
        settings = self.host.settings.diagnostics
        judge = self.host.models.judge_info()
        diags = []
        for site in self._eligible(snap):
            p = self.scores.get(site.content_hash)
            if p is not None and p < settings.threshold:
                diags.append(convert.diagnostic(snap, site, p, settings.severity, settings.threshold, judge))
        self._send(uri, snap.version, diags)

    def _send(self, uri: str, version: int | None, diags: list[types.Diagnostic]) -> None:
        before = self.published.get(uri, [])
        if [(d.range, d.message, d.severity) for d in before] == [(d.range, d.message, d.severity) for d in diags]:
            return
        self.published[uri] = diags
        try:
            self.host.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=version)
            )
        except Exception:
            log.debug("could not publish diagnostics", exc_info=True)

    async def _run(self, uri: str, gen: int, delay_s: float) -> None:
        task = asyncio.current_task()
        await asyncio.sleep(delay_s)
        if task is not None:
            task.set_name("judging")
        if not self.active():
            self._send(uri, None, [])
            return
        snap = self.host.documents.snapshot(uri)
        if snap is None:
            return
        self._publish_known(uri)  # changed functions lose their old verdict now
        stale = lambda: self.generation.get(uri) != gen  # noqa: E731
        flag = CancelFlag(
            lambda: self.host.documents.snapshot(uri) is None,
            self.host.shutdown,
            lambda: not self.active(),
            self.host.interactive_waiting,
        )
        imports = module_imports(snap.text)
        helpers = self.host.workspace_context.helpers(snap)  # stubs the judged code may call
        for site in self._eligible(snap):
            if stale():
                return
            if site.content_hash in self.scores or site.content_hash in self.inflight:
                continue
            if self.host.interactive_waiting():
                self.schedule(uri, RETRY_DELAY_S)
                return
            self.inflight.add(site.content_hash)
            try:
                ranked = await self.host.models.run(
                    lambda rt, s=site: rt.judge_code(
                        judge_task(s, imports, helper_stubs([s.code], {k: v for k, v in helpers.items() if k != s.name})),
                        textwrap.dedent(s.code),
                        cancelled=flag,
                    )
                )
            except Cancelled:
                if not stale() and self.host.documents.snapshot(uri) is not None and self.active():
                    self.schedule(uri, RETRY_DELAY_S)
                return
            except Exception as exc:
                self.host.messages.once(
                    f"diagnostics:{type(exc).__name__}",
                    f"Winnow: judging {site.name} failed ({type(exc).__name__}: {exc}); "
                    "correctness diagnostics pause until the next edit.",
                    types.MessageType.Warning,
                )
                return
            finally:
                self.inflight.discard(site.content_hash)
            p = ranked.p_correct
            if p is None:
                continue
            self.judged += 1
            self.scores[site.content_hash] = float(p)
            while len(self.scores) > SCORE_CACHE:
                self.scores.popitem(last=False)
            self._publish_known(uri)
