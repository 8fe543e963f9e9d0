"""Correctness hints: a diagnostic on a function only when something happened that says
it is wrong, and what happened, in the hint.

For the documented functions of an open Python document (not stubs, at most
MAX_FUNCTIONS, none longer than MAX_FUNCTION_LINES; the edited ones run first), debounced
after edits and soon after open/save, the module runs in the sandbox as the editor has it
(``judge.scoring.evidence``: its docstring sessions as doctest runs them, and calls on
inputs nobody wrote down: the examples' own nudged, the literal arguments of calls in the
workspace, draws from type hints), once per document text and call sites (cached).
``judge.scoring.hints`` turns what a function did into a hint, under the policy its
judge's manifest carries (the evidence classes that flagged at most 1% of the functions of a corpus of real, correct code); a
function without such evidence gets no hint. The learned judge alone speaks only when
``diagnostics.judge`` is "on", or "auto" with a manifest that measured it worth hearing
(today's does not): then functions without other evidence are judged on the model worker,
at background priority, yielding to inline completion.

Hints need no model: they are published before the models finish loading. Each carries
its evidence in ``Diagnostic.data`` and points at the docstring example it names
(``relatedInformation``); a hover on the function's ``def`` line shows what ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import textwrap
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from lsprotocol import types

from winnow.judge.base.call_sites import merge_calls, own_calls
from winnow.judge.base.definitions import helper_stubs
from winnow.judge.base.errors import Cancelled
from winnow.judge.base.pysource import FunctionSite, judge_task, module_imports
from winnow.judge.scoring.evidence import TYPED_INPUTS, FunctionEvidence, ModuleEvidence, Target, collect
from winnow.judge.scoring.hints import Hint, HintPolicy, hint_for
from winnow.judge.scoring.java_example_runs import NO_JDK, java_evidence, jdk_available
from winnow.judge.scoring.judge_model import JudgeManifest
from winnow.server.features import convert
from winnow.server.features.ports import DiagnosticsHost
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.workspace.context import uri_path
from winnow.server.workspace.documents import MAX_ANALYSED_CHARS, Snapshot, function_sites

log = logging.getLogger(__name__)

MAX_FUNCTIONS = 300  # run in the sandbox: a module of hundreds of functions takes seconds
MAX_JUDGED = 20  # scored by the learned judge per run (model time), when it speaks
MAX_FUNCTION_LINES = 200
EDIT_DELAY_S = 1.0  # after the last edit
OPEN_DELAY_S = 0.05  # after open / save
RETRY_DELAY_S = 1.5  # after yielding to an inline request
YIELD_WAIT_S = 5.0  # the longest a sandbox run waits for inline requests to finish
SCORE_CACHE = 4096
EVIDENCE_CACHE = 64


@dataclass(frozen=True)
class FunctionReport:
    """Everything known of one function's content: what ran, the judge, the hint."""

    site: FunctionSite
    evidence: FunctionEvidence | None
    module_status: str  # "loaded" | "failed" | "error" | "off"
    module_error: str
    p_correct: float | None
    hint: Hint | None


def report_markdown(report: FunctionReport) -> str:
    """The hover on a judged function: what ran, what it gave, and the hint if any."""
    ev = report.evidence
    lines = [f"**Winnow** on `{report.site.qualname or report.site.name}`"]
    if report.module_status == "off":
        lines.append("- nothing ran (`winnow.diagnostics.runCode` is off)")
    elif report.module_status != "loaded":
        lines.append(f"- the module did not run in the sandbox: no evidence ({report.module_error[:160]})")
    elif ev is not None:
        failed = [e for e in ev.examples if e.failed]
        lines.append(f"- {convert.DOC_COMMENT.get(report.site.language, 'docstring')} examples: {ev.examples_run} run, {ev.examples_passed} passed"
                     + (f", {len(failed)} failed" if failed else ""))
        origins = Counter(p.origin for p in ev.probes)
        raised = sum(1 for p in ev.probes if p.kind != "annotation" and not p.on_purpose)
        off_type = sum(1 for p in ev.probes if p.kind == "annotation")
        lines.append(f"- inputs nobody wrote down: {ev.inputs} tried, {raised} raised unexpectedly"
                     + (f", {off_type} returned off their annotation" if off_type else "")
                     + (f" (failures by source: {', '.join(f'{k} {v}' for k, v in sorted(origins.items()))})" if origins else ""))
    if report.p_correct is not None:
        lines.append(f"- learned judge: {convert.percent(report.p_correct)} likely correct")
    lines.append(f"- hint: {report.hint.message}" if report.hint is not None else "- no hint: nothing says it is wrong")
    return "\n".join(lines)


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class Diagnostics:
    def __init__(self, host: DiagnosticsHost) -> None:
        self.host = host
        self.scores: OrderedDict[str, float] = OrderedDict()  # the judge's, by function content
        self.evidence: OrderedDict[str, ModuleEvidence] = OrderedDict()  # by document text
        self.reports: dict[str, dict[str, FunctionReport]] = {}  # uri → content hash → report
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.generation: dict[str, int] = {}
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.inflight: set[str] = set()
        self.judged = 0
        self.sandbox_runs = 0
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
        if not self.active():
            return None
        for reports in self.reports.values():
            report = reports.get(digest)
            if report is not None and report.hint is not None:
                return report.hint
        return None

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
        task = asyncio.ensure_future(self._run(uri, gen, delay_s, old))
        task.set_name("sleeping")
        self.tasks[uri] = task

    def close(self, uri: str) -> None:
        self.generation[uri] = self.generation.get(uri, 0) + 1
        task = self.tasks.pop(uri, None)
        if task is not None and not task.done():
            task.cancel()
        self.reports.pop(uri, None)
        self.done.pop(uri, None)
        if self.published.pop(uri, None):
            self._send(uri, None, [])

    def refresh_all(self) -> None:
        """Settings or models changed: re-publish every open document."""
        for uri in set(self.host.documents.open_uris()) | set(self.published):
            self.schedule(uri, OPEN_DELAY_S)

    # --- a run ----------------------------------------------------------------------------------

    def _eligible(self, snap: Snapshot) -> list[FunctionSite]:
        if snap.language not in ("python", "java"):
            return []
        if len(snap.text) > MAX_ANALYSED_CHARS:
            self.host.messages.once(
                f"diagnostics:large:{snap.uri}",
                f"Winnow: {snap.uri} is larger than {MAX_ANALYSED_CHARS // 1_000_000} MB; no correctness hints for it.",
                types.MessageType.Info,
            )
            return []
        sites = [
            s
            for s in function_sites(snap)
            if s.docstring and not s.is_stub and "<locals>" not in s.qualname
            and s.end_line - s.start_line <= MAX_FUNCTION_LINES
        ]  # fmt: skip
        return sites[:MAX_FUNCTIONS]

    async def _run(self, uri: str, gen: int, delay_s: float, previous: asyncio.Task[None] | None) -> None:
        task = asyncio.current_task()
        await asyncio.sleep(delay_s)
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # one sandbox run per document at a time
        if task is not None:
            task.set_name("judging")
        stale = lambda: self.generation.get(uri) != gen  # noqa: E731
        snap = self.host.documents.snapshot(uri)
        if snap is None or stale():
            return
        if not self.active():
            self._send(uri, None, [])
            return
        sites = self._eligible(snap)
        self._publish(uri, snap, sites)  # changed functions lose their old hint now
        evidence = await self._evidence(snap, sites)
        if stale():
            return
        self._report(uri, sites, evidence)
        self._publish(uri, snap, sites)
        if self.judge_threshold() is not None:  # the judge's scores change the reports: again
            if not await self._judge(uri, snap, sites, stale) or stale():
                return
            self._report(uri, sites, evidence)
            self._publish(uri, snap, sites)
        self.done[uri] = snap.version

    async def _evidence(self, snap: Snapshot, sites: list[FunctionSite]) -> ModuleEvidence:
        """What the document's functions do in the sandbox (cached by the document's text)."""
        settings = self.host.settings.diagnostics
        if not settings.run_code or not sites:
            return ModuleEvidence("off")
        path = uri_path(snap.uri)
        python = snap.language != "java"
        calls = self._call_sites(snap.text, path, sites) if python and settings.call_sites and settings.probes else {}
        # Another file's new call of a function here is a new input: part of the key.
        key = _text_hash(snap.text + repr(sorted(calls.items())))
        key += f":{settings.examples}:{settings.probes}:{settings.typed_inputs}"
        cached = self.evidence.get(key)
        if cached is not None:
            self.evidence.move_to_end(key)
            return cached
        for _ in range(int(YIELD_WAIT_S / 0.1)):  # the sandbox takes a core: let inline requests finish
            if not self.host.interactive_waiting():
                break
            await asyncio.sleep(0.1)
        text = snap.text
        if snap.language == "java":  # Javadoc examples with the JDK (no probes yet)
            if not jdk_available():
                self.host.messages.once("diagnostics:no-jdk", f"Winnow: {NO_JDK}.", types.MessageType.Info)
                return ModuleEvidence("off")
            result = await asyncio.to_thread(java_evidence, text, sites if settings.examples else [])
        else:
            # The functions edited since the last report first: a run cut short by its time
            # budget still reports on what the user just changed.
            known = self.reports.get(snap.uri, {})
            ordered = sorted(sites, key=lambda s: s.content_hash in known)
            targets = [Target(s.qualname, s.start_line + 1) for s in ordered]
            roots = tuple(self.host.workspace_context.roots)
            result = await asyncio.to_thread(
                collect, text, path, targets, probes=settings.probes, sessions=settings.examples, extra_paths=roots,
                typed=TYPED_INPUTS if settings.typed_inputs else 0, calls=calls,
            )  # fmt: skip
        self.sandbox_runs += 1
        if result.status == "error":
            log.info("evidence run of %s failed: %s", snap.uri, result.error)
        self.evidence[key] = result
        while len(self.evidence) > EVIDENCE_CACHE:
            self.evidence.popitem(last=False)
        return result

    def _call_sites(self, text: str, path: str | None, sites: list[FunctionSite]) -> dict[str, tuple[str, ...]]:
        """Literal calls of the document's top-level functions, in the document itself and
        in the workspace files that import it: qualname → argument source texts."""
        names = {s.qualname for s in sites if "." not in s.qualname}
        if not names:
            return {}
        own = own_calls(text, names)
        others = self.host.workspace_context.call_sites(path, names) if path else {}
        return {k: v for k, v in merge_calls(own, others).items() if k in names}

    def _report(self, uri: str, sites: list[FunctionSite], evidence: ModuleEvidence) -> None:
        policy = self.policy()
        threshold = self.judge_threshold()
        if threshold is not None and threshold != policy.judge_threshold:
            policy = replace(policy, judge_threshold=threshold)
        severity = self.host.settings.diagnostics.severity
        judge = self.host.models.judge_info()
        figures = convert.judge_quality(judge) if judge is not None else ""
        reports: dict[str, FunctionReport] = {}
        for site in sites:
            ev = evidence.functions.get(site.qualname) or FunctionEvidence(site.qualname)
            p = self.scores.get(site.content_hash)
            hint = hint_for(ev, policy, p, figures, severity, doc=convert.DOC_COMMENT.get(site.language, "docstring"))
            reports[site.content_hash] = FunctionReport(site, ev, evidence.status, evidence.error, p, hint)
        self.reports[uri] = reports

    def _publish(self, uri: str, snap: Snapshot, sites: list[FunctionSite]) -> None:
        known = self.reports.get(uri, {})
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

    # --- the learned judge (only where it speaks) -----------------------------------------------

    async def _judge(
        self, uri: str, snap: Snapshot, sites: list[FunctionSite], is_stale: Callable[[], bool]
    ) -> bool:
        """Judge the functions without a hint from execution; False when the run must stop
        (rescheduled, or the judge failed)."""
        flag = CancelFlag(
            lambda: self.host.documents.snapshot(uri) is None,
            self.host.shutdown,
            lambda: not self.active(),
            self.host.interactive_waiting,
        )
        imports = module_imports(snap.text)
        helpers = self.host.workspace_context.helpers(snap)  # stubs the judged code may call
        known = self.reports.get(uri, {})
        scored = 0
        for site in sites:
            if is_stale():
                return False
            if scored >= MAX_JUDGED:
                break
            judge = self.host.models.judge_info()
            if judge is None or site.language not in judge.languages:
                continue  # a judge speaks only on the languages its manifest lists (docs/java.md)
            report = known.get(site.content_hash)
            if report is not None and report.hint is not None and report.hint.kind != "judge":
                continue  # execution already spoke
            if site.content_hash in self.scores or site.content_hash in self.inflight:
                continue
            if self.host.interactive_waiting():
                self.schedule(uri, RETRY_DELAY_S)
                return False
            self.inflight.add(site.content_hash)
            scored += 1
            try:
                ranked = await self.host.models.run(
                    lambda rt, s=site: rt.judge_code(
                        judge_task(s, imports, helper_stubs([s.code], {k: v for k, v in helpers.items() if k != s.name})),
                        textwrap.dedent(s.code),
                        cancelled=flag,
                        judge_only=True,  # the quantity its threshold was calibrated on
                    )
                )
            except Cancelled:
                if not is_stale() and self.host.documents.snapshot(uri) is not None and self.active():
                    self.schedule(uri, RETRY_DELAY_S)
                return False
            except Exception as exc:
                self.host.messages.once(
                    f"diagnostics:{type(exc).__name__}",
                    f"Winnow: judging {site.name} failed ({type(exc).__name__}: {exc}); "
                    "the judge's hints pause until the next edit.",
                    types.MessageType.Warning,
                )
                return False
            finally:
                self.inflight.discard(site.content_hash)
            if ranked.p_correct is None:
                continue
            self.judged += 1
            self.scores[site.content_hash] = float(ranked.p_correct)
            while len(self.scores) > SCORE_CACHE:
                self.scores.popitem(last=False)
        return True

    # --- hover ----------------------------------------------------------------------------------

    def hover(self, uri: str, line: int) -> types.Hover | None:
        """What ran on the function whose ``def`` is on ``line``: examples, inputs, judge, hint."""
        for report in self.reports.get(uri, {}).values():
            if report.site.def_line == line:
                return types.Hover(
                    contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=report_markdown(report))
                )
        return None
