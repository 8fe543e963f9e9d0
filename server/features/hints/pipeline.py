"""Correctness hints: a diagnostic on a function only when something happened that says
it is wrong, and what happened, in the hint.

A run of a document's hints is a pipeline of small units, each with its own state:

1. **schedule** (``schedule.HintSchedule``): debounced after edits, soon after open/save,
   one run per document at a time; a newer edit makes a run stale;
2. **collect** (``evidence_runs.EvidenceRuns``): the documented functions (not stubs, at
   most MAX_FUNCTIONS, none longer than MAX_FUNCTION_LINES; the edited ones first) run in
   the sandbox as the editor has them (``winnow.judge.evidence.documents``: docstring
   sessions, inputs nobody wrote down; Javadoc examples with the JDK), cached by text and
   call sites;
3. **decide** (``reports.decide``): what each function did, under the policy its judge's
   manifest carries (the evidence classes that flagged at most 1% of the functions of a
   corpus of real, correct code), becomes a hint or silence; the learned judge alone speaks
   only when ``diagnostics.judge`` is "on", or "auto" with a manifest that measured it
   worth hearing (``judging.JudgeScores``, on the model worker, yielding to inline);
4. **present**: the hints as diagnostics (``convert.hint_diagnostic``) and the hover
   (``convert.report_markdown``).

Hints need no model: they are published before the models finish loading. Each carries
its evidence in ``Diagnostic.data`` and points at the docstring example it names
(``relatedInformation``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from lsprotocol import types

from winnow.judge.evidence.module_evidence import ModuleEvidence
from winnow.judge.evidence.project_tests.verdicts import FunctionTests
from winnow.judge.hints.edits import relations
from winnow.judge.hints.ignores import ignored_kinds
from winnow.judge.hints.policy import Hint, HintPolicy, may_speak_of
from winnow.judge.scoring.manifest import JudgeManifest
from winnow.judge.sites import FunctionSite, backend, functions
from winnow.server.features import convert
from winnow.server.features.hints.evidence_runs import EvidenceRuns
from winnow.server.features.hints.judging import JudgeScores
from winnow.server.features.hints.reports import Reports, decide
from winnow.server.features.hints.schedule import EDIT_DELAY_S, OPEN_DELAY_S, RETRY_DELAY_S, HintSchedule
from winnow.server.features.hints.tests import SuiteEvidence
from winnow.server.features.ports import DiagnosticsHost
from winnow.server.workspace.context import uri_path
from winnow.server.workspace.documents import MAX_ANALYSED_CHARS, Snapshot, function_sites
from winnow.server.workspace.trust import excluded, may_run

log = logging.getLogger(__name__)

__all__ = ["EDIT_DELAY_S", "OPEN_DELAY_S", "Diagnostics"]

MAX_FUNCTIONS = 300  # run in the sandbox: a module of hundreds of functions takes seconds


def ignored_on(snap: Snapshot, site: FunctionSite) -> frozenset[str]:
    """The kinds a ``winnow: ignore`` comment on the function's def line silences."""
    lang = backend(site.language)
    if lang is None or site.def_line >= snap.line_count:
        return frozenset()
    return ignored_kinds(snap.line_text(site.def_line), lang.line_comment)


class Diagnostics:
    """The hints of every open document: the pipeline's units and the switches over them."""

    def __init__(self, host: DiagnosticsHost) -> None:
        self.host = host
        self.schedule_runs = HintSchedule(self._run)
        self.sandbox = asyncio.Lock()  # one sandboxed run at a time: the module's and its tests'
        self.evidence = EvidenceRuns(host, self.sandbox)
        self.tests = SuiteEvidence(host, self.sandbox)
        self.judge = JudgeScores(host)
        self.reports = Reports()
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.done: dict[str, int | None] = {}  # uri → the version whose run finished last
        self._manifests: dict[str, JudgeManifest | None] = {}  # judge spec → its manifest (for the policy)

    # --- switches ------------------------------------------------------------------------

    def policy(self) -> HintPolicy:
        """When hints speak: the calibrated policy of the judge the settings name (read from
        its manifest, so it applies before the models finish loading), else the built-in one."""
        judge = self.host.models.judge_info() if self.host.models.has_judge else self._manifest()
        return judge.hints if judge is not None and judge.hints is not None else HintPolicy()

    def _manifest(self) -> JudgeManifest | None:
        spec = self.host.settings.judge
        if spec not in self._manifests:
            try:
                self._manifests[spec] = JudgeManifest.load(spec) if spec != "none" else None
            except Exception as exc:  # the model host reports a bad judge; hints fall back
                log.info("hints: no policy from judge %s (%s)", spec, exc)
                self._manifests[spec] = None
        return self._manifests[spec]

    def judge_threshold(self) -> float | None:
        """Below which P(correct) the learned judge alone speaks (None: it does not)."""
        settings = self.host.settings.diagnostics
        if settings.judge == "off" or not self.host.models.has_judge:
            return None
        if settings.judge == "on":
            return settings.threshold
        return self.policy().judge_threshold

    def active(self) -> bool:
        settings = self.host.settings.diagnostics
        return settings.enabled and (settings.run_code or self.judge_threshold() is not None)

    def hint_of(self, digest: str) -> Hint | None:
        """The hint published on a function content (for the implement action's title)."""
        return self.reports.hint_of(digest) if self.active() else None

    # --- scheduling ------------------------------------------------------------------------

    def schedule(self, uri: str, delay_s: float = EDIT_DELAY_S) -> None:
        if not self.active():
            if self.published.get(uri):
                self._send(uri, None, [])
            return
        self.schedule_runs.schedule(uri, delay_s)

    def opened(self, uri: str) -> None:
        """A document opened: remember the version it starts from, then run its hints soon."""
        snap = self.host.documents.snapshot(uri)
        if snap is not None:
            self.tests.opened(uri, snap.text)
        self.schedule(uri, OPEN_DELAY_S)

    def close(self, uri: str) -> None:
        self.tests.closed(uri)
        self.schedule_runs.forget(uri)
        self.reports.forget(uri)
        self.done.pop(uri, None)
        if self.published.get(uri):
            self._send(uri, None, [])  # the editor clears the closed document's hints
        self.published.pop(uri, None)

    def refresh_all(self) -> None:
        """Settings or models changed: re-publish every open document."""
        for uri in set(self.host.documents.open_uris()) | set(self.published):
            self.schedule(uri, OPEN_DELAY_S)

    # --- a run: collect → decide → present (→ judge → decide → present) ----------------------

    def _excluded(self, snap: Snapshot) -> bool:
        """Whether ``diagnostics.exclude`` says no hint speaks of this document."""
        settings = self.host.settings
        return excluded(uri_path(snap.uri), settings.diagnostics.exclude, self.host.workspace_context.roots)

    def _eligible(self, snap: Snapshot) -> list[FunctionSite]:
        if backend(snap.language) is None or self._excluded(snap):
            return []
        if len(snap.text) > MAX_ANALYSED_CHARS:
            self.host.messages.once(
                f"diagnostics:large:{snap.uri}",
                f"Winnow: {snap.uri} is larger than {MAX_ANALYSED_CHARS // 1_000_000} MB; no correctness hints for it.",
                types.MessageType.Info,
            )
            return []
        return [s for s in function_sites(snap) if may_speak_of(s)][:MAX_FUNCTIONS]

    async def _run(self, uri: str, gen: int) -> None:
        stale = lambda: self.schedule_runs.stale(uri, gen)  # noqa: E731
        snap = self.host.documents.snapshot(uri)
        if snap is None or stale():
            return
        if not self.active():
            self._send(uri, None, [])
            return
        sites = self._eligible(snap)
        self._present(uri, snap, sites)  # changed functions lose their old hint now
        tests = await self._tests(snap)  # the edited functions' tests first: the quickest evidence
        if stale():
            return
        sites = self._with_tested(snap, sites, tests)
        if tests:
            self._decide(uri, sites, None, tests)
            self._present(uri, snap, sites)
        evidence = await self.evidence.gather(snap, sites, set(self.reports.of(uri)))
        if stale():
            return
        related = await self._relative(snap, sites, evidence)
        if stale():
            return
        self._decide(uri, sites, evidence, tests, related)
        self._present(uri, snap, sites)
        if self.judge_threshold() is not None:  # the judge's scores change the reports: again
            retry = lambda: self.schedule(uri, RETRY_DELAY_S)  # noqa: E731
            if not await self.judge.score(uri, snap, sites, self.reports.of(uri), stale, self.active, retry) or stale():
                return
            self._decide(uri, sites, evidence, tests, related)
            self._present(uri, snap, sites)
        self.done[uri] = snap.version

    async def _tests(self, snap: Snapshot) -> dict[str, FunctionTests]:
        """The verdicts of the tests of the functions edited since the document was opened
        (where its code may run at all); the map of its module is built meanwhile."""
        settings = self.host.settings
        path = uri_path(snap.uri)
        if not settings.diagnostics.tests or path is None or backend(snap.language) is None or self._excluded(snap):
            return {}
        if not may_run(path, settings.diagnostics.run_code, settings.trusted_folders).runs:
            return {}
        self.tests.schedule_map(snap.uri)
        candidates = [s for s in function_sites(snap) if not s.is_stub and "<locals>" not in s.qualname]
        return await self.tests.evidence(snap, candidates)

    def _with_tested(
        self, snap: Snapshot, sites: list[FunctionSite], tests: dict[str, FunctionTests]
    ) -> list[FunctionSite]:
        """``sites`` and the functions the tests reach: a function without a docstring becomes
        judgeable when tests reach it."""
        known = {s.qualname for s in sites}
        extra = [s for s in function_sites(snap) if s.qualname in tests and s.qualname not in known and not s.is_stub]
        return sorted([*sites, *extra], key=lambda s: s.start_line)

    async def _relative(
        self, snap: Snapshot, sites: list[FunctionSite], evidence: ModuleEvidence
    ) -> dict[str, dict[tuple[str, str, str], str]] | None:
        """Under the edit-relative rule, how each probe failure relates to the version the
        document started from (its evidence run too, cached); None under the absolute rule."""
        if self.host.settings.diagnostics.crashes != "edit":
            return None
        base = self.tests.bases.get(snap.uri)
        if base is None or not any(f.probes for f in evidence.functions.values()):
            return relations(evidence, None, sites, {})
        base_sites = {s.qualname: s for s in functions(base, snap.language) if may_speak_of(s)}
        if base == snap.text:
            before = evidence
        else:
            wanted = [base_sites[s.qualname] for s in sites if s.qualname in base_sites]
            before = await self.evidence.gather(snap, wanted, set(), text=base)
        return relations(evidence, before, sites, base_sites)

    def _decide(
        self, uri: str, sites: list[FunctionSite], evidence: ModuleEvidence | None,
        tests: dict[str, FunctionTests] | None = None,
        related: dict[str, dict[tuple[str, str, str], str]] | None = None,
    ) -> None:
        """Each function's report. Without ``evidence`` (the tests came first), a function keeps
        what the last run of its content found."""
        if evidence is None:
            before = {h: r.evidence for h, r in self.reports.of(uri).items() if r.evidence is not None}
            evidence = ModuleEvidence("loaded", {
                s.qualname: before[s.content_hash] for s in sites if s.content_hash in before
            })  # fmt: skip
        policy = self.policy()
        threshold = self.judge_threshold()
        if threshold is not None and threshold != policy.judge_threshold:
            policy = replace(policy, judge_threshold=threshold)
        judge = self.host.models.judge_info()
        figures = convert.judge_quality(judge) if judge is not None else ""
        severity = self.host.settings.diagnostics.severity
        snap = self.host.documents.snapshot(uri)
        ignored = {s.qualname: ignored_on(snap, s) for s in sites} if snap is not None else {}
        self.reports.set(
            uri, decide(sites, evidence, policy, self.judge.scores, severity, figures, tests or {}, related, ignored)
        )

    def _present(self, uri: str, snap: Snapshot, sites: list[FunctionSite]) -> None:
        known = self.reports.of(uri)
        diags = []
        for site in sites:
            report = known.get(site.content_hash)
            if report is not None and report.hint is not None:
                diags.append(convert.hint_diagnostic(snap, site, report.hint))
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

    # --- hover ----------------------------------------------------------------------------------

    def hover(self, uri: str, line: int) -> types.Hover | None:
        """What ran on the function whose ``def`` is on ``line``: examples, inputs, judge, hint."""
        report = self.reports.at_line(uri, line)
        if report is None:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=convert.report_markdown(report))
        )
