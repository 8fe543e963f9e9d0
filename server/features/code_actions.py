"""Code actions: "Implement with Winnow (best of N)" on stubs and on functions with a
correctness hint, resolved lazily; runners-up once a function has been sampled.

Listing is instant (a parse of the document, cached per version; no model call).
``codeAction/resolve`` samples N bodies on the model worker, ranks them (the judge
when one is loaded, else the generator's log-probs) and returns the best as a
``WorkspaceEdit``; the ranked list is kept by the function's content hash, so the
next listing offers the runners-up as ready edits. The ``winnow.implementFunction``
command does the same and applies the best with ``workspace/applyEdit``: both are
one flow (``implement``). Either, asked while the models load, waits for them
(``ModelHost.wait_ready``) and then answers.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from winnow.judge.evidence.project_tests.candidates import ImplementTests, stub_cases
from winnow.judge.hints.policy import Hint
from winnow.judge.scoring.ranking import RankedCandidate
from winnow.judge.sites import FunctionSite, backend
from winnow.server.features import convert
from winnow.server.features.ports import CodeActionsHost
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.lsp.failures import content_modified, invalid_params, request_failed
from winnow.server.workspace.context import uri_path
from winnow.server.workspace.documents import Snapshot, function_containing, function_sites
from winnow.server.workspace.trust import may_run

log = logging.getLogger(__name__)

KIND_STUB = types.CodeActionKind.RefactorRewrite
KIND_LOW = types.CodeActionKind.QuickFix
RANKED_CACHE = 64
MAX_RUNNERS_UP = 4
CONTEXT_LINES_BEFORE = 200  # lines of the file around a function handed to the generator
CONTEXT_LINES_AFTER = 60


@dataclass
class RankedEntry:
    ranked: list[RankedCandidate]
    n: int
    judged: bool
    seconds: float
    strategy: str = "combined"  # how the bodies were ranked (Java: "examples" or "logprob")
    note: str = ""  # why a weaker strategy ranked them ("no examples to run")


@dataclass
class Implementation:
    """What one "implement this function" produced: the ranked bodies, and the edit that
    puts the best one that parses in place (None when none parses)."""

    site: FunctionSite
    entry: RankedEntry
    best: RankedCandidate | None
    edit: types.WorkspaceEdit | None


def implementable(site: FunctionSite) -> bool:
    """A body can go after this header (not a one-line ``def f(): pass``; any Java method
    with a body: its edit rewrites the whole method)."""
    lang = backend(site.language)
    return lang is not None and lang.takes_body(site)


def local_source(snap: Snapshot, site: FunctionSite) -> tuple[str, FunctionSite]:
    """The lines around ``site`` (the generator sees at most ~1.5 k chars either side)
    and the site in those lines' coordinates: a 10 MB file is never copied whole."""
    lo = max(0, site.start_line - CONTEXT_LINES_BEFORE)
    hi = min(snap.line_count, site.end_line + CONTEXT_LINES_AFTER)
    starts = snap.line_starts
    text = snap.text[starts[lo] : starts[hi] if hi < len(starts) else len(snap.text)]
    return text, site.shifted(-lo)


def _reason(hint: Hint) -> str:
    """Why the current body is offered a rewrite, short enough for a menu."""
    if hint.kind == "judge":
        p = hint.evidence.get("p_correct")
        return f"judge gives the current body {convert.percent(p if isinstance(p, float) else None)}"
    text = hint.message.removeprefix("Winnow: ")
    return text if len(text) <= 80 else text[:77] + "..."


def _verdict(r: RankedCandidate, judged: bool, strategy: str = "combined") -> str:
    if r.tests is not None:
        return f"passes {r.tests[0]}/{r.tests[1]} of your tests"
    ex = r.signals.examples
    if strategy == "examples" and ex is not None and ex.total:
        return f"examples {ex.passed}/{ex.total} pass"
    if judged and r.p_correct is not None:
        return f"judge {convert.percent(r.p_correct)}"
    return f"log-prob {r.mean_logprob:.2f}"


class CodeActions:
    def __init__(self, host: CodeActionsHost, hint_of: Callable[[str], Hint | None]) -> None:
        self.host = host
        self.hint_of = hint_of  # content hash → the hint published on it, else None
        self.ranked: OrderedDict[str, RankedEntry] = OrderedDict()
        self.latencies_ms: list[float] = []

    # --- listing (instant) --------------------------------------------------------------

    def list(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        settings = self.host.settings
        if not settings.code_actions.enabled:
            return []
        snap = self.host.documents.snapshot(params.text_document.uri)
        if snap is None or backend(snap.language) is None:
            return []
        line = params.range.start.line
        site = function_containing(function_sites(snap, around_line=line), line)
        if site is None or not implementable(site):
            return []
        hint = self.hint_of(site.content_hash)
        if not site.is_stub and hint is None:
            return []
        kind = KIND_STUB if site.is_stub else KIND_LOW
        only = params.context.only if params.context else None
        if only and not any(str(kind).startswith(str(o)) for o in only):
            return []
        n = settings.candidates
        data = {
            "winnow": "implement",
            "uri": snap.uri,
            "line": site.start_line,
            "hash": site.content_hash,
            "name": site.name,
        }
        diagnostics = [
            d for d in (params.context.diagnostics if params.context else []) if getattr(d, "source", None) == "winnow"
        ]
        title = f"Implement with Winnow (best of {n})"
        if hint is not None:
            title += f" — {_reason(hint)}"
        actions = [
            types.CodeAction(title=title, kind=kind, data=data, diagnostics=diagnostics or None)
        ]
        entry = self.ranked.get(site.content_hash)
        if entry is not None:
            usable = [r for r in entry.ranked if r.parses]
            for rank, r in enumerate(usable[: 1 + MAX_RUNNERS_UP], start=1):
                label = "best" if rank == 1 else f"runner-up #{rank}"
                edit = convert.workspace_edit(
                    snap.uri, snap.version, convert.body_edit(snap, site, convert.body_of(r, site))
                )
                actions.append(
                    types.CodeAction(
                        title=f"Winnow: {label} of {entry.n} ({_verdict(r, entry.judged, entry.strategy)})",
                        kind=kind,
                        edit=edit,
                        data={"winnow": "ranked", "rank": rank, "hash": site.content_hash},
                    )
                )
        return actions

    # --- implementing (the model call) -----------------------------------------------------

    async def implement(self, uri: str, line: int, digest: str | None, use_cache: bool) -> Implementation:
        """The one flow behind ``codeAction/resolve`` and ``winnow.implementFunction``:
        find the function (by content hash when the action was listed), wait for the
        models if they are still loading, sample and rank N bodies, and build the edit
        of the best one that parses against the document as it is now."""
        snap, site = self._find(uri, line, digest) if digest is not None else self._at(uri, line)
        if not self.host.models.loaded.is_set():
            await self.host.models.wait_ready(f"implementing {site.name}")
            snap, site = self._find(uri, site.start_line, site.content_hash)  # edited while loading?
        entry = await self._sample(snap, site, use_cache=use_cache)
        best = next((r for r in entry.ranked if r.parses), None)
        if best is None:
            return Implementation(site, entry, None, None)
        snap, site = self._find(uri, site.start_line, site.content_hash)  # the document may have moved on
        edit = convert.workspace_edit(snap.uri, snap.version, convert.body_edit(snap, site, convert.body_of(best, site)))
        return Implementation(site, entry, best, edit)

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data
        if not isinstance(data, dict) or data.get("winnow") != "implement":
            return action  # not ours, or already complete
        uri, line, digest = data.get("uri"), data.get("line"), data.get("hash")
        if not isinstance(uri, str) or not isinstance(line, int) or not isinstance(digest, str):
            raise invalid_params("this code action's data is not Winnow's (uri, line, hash)")
        done = await self.implement(uri, line, digest, use_cache=True)
        n = done.entry.n
        if done.best is None or done.edit is None:
            action.title = f"Winnow: none of the {n} sampled bodies parses; try again"
            self.host.messages.show(
                f"Winnow: none of the {n} bodies sampled for {done.site.name} parses; try again, or raise "
                "winnow.candidates",
                types.MessageType.Warning,
            )
            return action
        action.edit = done.edit
        best = done.best
        if best.tests is not None:
            how = _verdict(best, False)
        elif done.entry.strategy == "examples":
            how = _verdict(best, False, "examples")
        elif done.entry.judged and best.p_correct is not None:
            how = f"judge {convert.percent(best.p_correct)}"
        else:
            how = f"ranked by log-prob; {done.entry.note or 'no judge loaded'}"
        action.title = f"Implement with Winnow (best of {n}) — {how}"
        return action

    async def implement_command(self, args: tuple[Any, ...]) -> dict[str, Any]:
        if len(args) < 2 or not isinstance(args[0], str) or not isinstance(args[1], dict):
            raise invalid_params('winnow.implementFunction takes [uri, {"line": L, "character": C}]')
        uri, pos = args[0], args[1]
        line = pos.get("line")
        if not isinstance(line, int) or isinstance(line, bool) or line < 0:
            raise invalid_params("winnow.implementFunction: position.line must be a non-negative integer")
        done = await self.implement(uri, line, None, use_cache=False)
        entry, site = done.entry, done.site
        if done.best is None or done.edit is None:
            return {"applied": False, "function": site.name, "reason": f"none of the {entry.n} bodies parses"}
        result = await self.host.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=done.edit, label=f"Winnow: implement {site.name}")
        )
        applied = bool(getattr(result, "applied", False))
        return {
            "applied": applied,
            "function": site.name,
            "p_correct": done.best.p_correct if entry.judged or entry.strategy == "examples" else None,
            "strategy": entry.strategy,
            "candidates": len(entry.ranked),
            "seconds": round(entry.seconds, 2),
            "reason": None if applied else getattr(result, "failure_reason", None),
            "tests": None if done.best.tests is None else {"passed": done.best.tests[0], "total": done.best.tests[1]},
        }

    # --- helpers ----------------------------------------------------------------------------

    def _at(self, uri: str, line: int) -> tuple[Snapshot, FunctionSite]:
        """The implementable function at ``line`` of an open document (the command's target)."""
        snap = self.host.documents.snapshot(uri)
        if snap is None:
            raise request_failed(f"{uri} is not open in the editor; open it and try again")
        site = function_containing(function_sites(snap, around_line=line), line)
        if site is None or not implementable(site):
            raise request_failed(f"no function with a body to implement at line {line + 1} of {uri}")
        return snap, site

    def _find(self, uri: str, line: int, digest: str) -> tuple[Snapshot, FunctionSite]:
        snap = self.host.documents.snapshot(uri)
        if snap is None:
            raise content_modified(f"{uri} was closed; ask for code actions again")
        sites = [s for s in function_sites(snap, around_line=line) if s.content_hash == digest]
        if not sites:
            raise content_modified("the function changed since the action was listed; ask for code actions again")
        return snap, min(sites, key=lambda s: abs(s.start_line - line))

    def _user_tests(self, path: str | None, snap: Snapshot, site: FunctionSite) -> ImplementTests | None:
        """The user's tests that call the function by name (a stub has no coverage yet)."""
        if path is None or not self.host.settings.diagnostics.tests:
            return None
        project = self.host.test_projects.project_of(path)
        return stub_cases(project, path, snap.text, site) if project is not None else None

    async def _sample(self, snap: Snapshot, site: FunctionSite, use_cache: bool = True) -> RankedEntry:
        digest = site.content_hash
        if use_cache and digest in self.ranked:
            self.ranked.move_to_end(digest)
            return self.ranked[digest]
        settings = self.host.settings
        host = self.host.models
        runtime = host.require()
        judged = runtime.judge is not None
        source, local_site = local_source(snap, site)
        helpers = self.host.workspace_context.helpers(snap, exclude=site.name)
        uri = snap.uri
        path = uri_path(uri)
        verdict = may_run(path, settings.diagnostics.run_code, settings.trusted_folders)
        tests = self._user_tests(path, snap, site) if verdict.runs else None
        flag = host.track(
            "implement", CancelFlag(lambda: self.host.documents.snapshot(uri) is None, self.host.shutdown)
        )
        t0 = time.perf_counter()
        self.host.status.work_started(f"implementing {site.name}")
        latency: float | None = None
        try:
            result = await host.run(
                lambda rt: rt.implement(
                    source,
                    local_site,
                    n=settings.candidates,
                    max_tokens=min(1024, settings.max_tokens * 4),
                    temperature=settings.temperature,
                    strategy="combined",  # the runtime falls back to what is there
                    cancelled=flag,
                    helpers=helpers,
                    run_code=verdict.runs,  # else ranked without running anything
                    tests=tests,
                ),
                flag,
            )
            latency = (time.perf_counter() - t0) * 1000.0
        finally:
            self.host.status.work_finished(latency)
        self.latencies_ms = (self.latencies_ms + [latency or 0.0])[-50:]
        judged = judged and result.strategy in ("combined", "judge", "judge+exec")
        entry = RankedEntry(
            result.ranked, settings.candidates, judged, (latency or 0.0) / 1000.0, result.strategy, result.note
        )
        self.ranked[digest] = entry
        while len(self.ranked) > RANKED_CACHE:
            self.ranked.popitem(last=False)
        return entry
