"""The learned judge's scores of a document's functions, where it speaks at all.

Functions without a hint from execution are scored on the model worker, at background
priority, yielding to inline completion (``Runtime.judge_function``: the same task the
implement action builds), at most ``MAX_JUDGED`` per run; a score is kept by the function's
content, so an unchanged function is never judged twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from lsprotocol import types

from winnow.judge.base.errors import Cancelled
from winnow.judge.sites import FunctionSite
from winnow.server.features.hints.reports import FunctionReport
from winnow.server.features.ports import DiagnosticsHost
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.workspace.documents import Snapshot

MAX_JUDGED = 20  # scored by the learned judge per run (model time), when it speaks
SCORE_CACHE = 4096


class JudgeScores:
    """P(correct) by function content, and how many functions were judged."""

    def __init__(self, host: DiagnosticsHost) -> None:
        self.host = host
        self.scores: OrderedDict[str, float] = OrderedDict()
        self.inflight: set[str] = set()
        self.judged = 0

    def _wanted(self, site: FunctionSite, known: dict[str, FunctionReport]) -> bool:
        judge = self.host.models.judge_info()
        if judge is None or site.language not in judge.languages:
            return False  # a judge speaks only on the languages its manifest lists (docs/java.md)
        report = known.get(site.content_hash)
        if report is not None and report.hint is not None and report.hint.kind != "judge":
            return False  # execution already spoke
        return site.content_hash not in self.scores and site.content_hash not in self.inflight

    async def score(
        self, uri: str, snap: Snapshot, sites: Sequence[FunctionSite], known: dict[str, FunctionReport],
        is_stale: Callable[[], bool], active: Callable[[], bool], retry: Callable[[], None],
    ) -> bool:
        """Judge the functions of ``snap`` without a hint from execution; False when the run
        must stop (rescheduled through ``retry``, or the judge failed)."""
        flag = CancelFlag(
            lambda: self.host.documents.snapshot(uri) is None, self.host.shutdown, lambda: not active(),
            self.host.interactive_waiting,
        )  # fmt: skip
        helpers = self.host.workspace_context.helpers(snap)  # stubs the judged code may call
        scored = 0
        for site in sites:
            if is_stale():
                return False
            if scored >= MAX_JUDGED:
                break
            if not self._wanted(site, known):
                continue
            if self.host.interactive_waiting():
                retry()
                return False
            scored += 1
            outcome = await self._one(snap, site, helpers, flag)
            if outcome == "cancelled":
                if not is_stale() and self.host.documents.snapshot(uri) is not None and active():
                    retry()
                return False
            if outcome == "failed":
                return False
        return True

    async def _one(self, snap: Snapshot, site: FunctionSite, helpers: dict[str, str], flag: CancelFlag) -> str:
        """Score one function: "scored", "cancelled" or "failed" (said once to the user)."""
        self.inflight.add(site.content_hash)
        try:
            ranked = await self.host.models.run(lambda rt: rt.judge_function(snap.text, site, helpers, cancelled=flag))
        except Cancelled:
            return "cancelled"
        except Exception as exc:
            self.host.messages.once(
                f"diagnostics:{type(exc).__name__}",
                f"Winnow: judging {site.name} failed ({type(exc).__name__}: {exc}); "
                "the judge's hints pause until the next edit.",
                types.MessageType.Warning,
            )
            return "failed"
        finally:
            self.inflight.discard(site.content_hash)
        if ranked.p_correct is not None:
            self.judged += 1
            self.scores[site.content_hash] = float(ranked.p_correct)
            while len(self.scores) > SCORE_CACHE:
                self.scores.popitem(last=False)
        return "scored"
