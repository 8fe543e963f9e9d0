"""Inline completion: the fast path from a cursor to a few ranked suggestions.

One request goes: cache → debounce → one batched sampling call on the model worker
(N candidates share the prompt's KV cache) → cleaning and cheap ranking. The judge is
not on this path: it costs 0.7–1 s per candidate with SmolLM2 on 2 cores, far beyond
an inline budget, and it judges whole functions, not fragments of a line
(docs/inline-completion.md has the measurements).

- Cache: answers keyed on the text around the cursor; a user who typed the start
  of a cached suggestion gets the rest without a model call.
- Debounce: generation starts ``debounceMs`` after the document's last edit; a
  newer request for the same document supersedes the older one while it waits,
  and cancels it between tokens while it generates. ``$/cancelRequest`` cancels
  the asyncio task, which stops the model job the same way.
- Budget: a batch ends once half of its candidates are complete and the others had
  a few more steps, and after INLINE_DECODE_BUDGET_S of decoding at the latest.
- Stop rule: a suggestion finishes the line at the cursor, or on a blank line one
  statement (with a short block when it opens one): most suggestions are one line
  and cost a few tokens.
- Ranking: the generator's mean token log-prob plus cheap signals (truncated,
  repetitive); suggestions that repeat the text after the cursor are dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from winnow.judge.base.errors import Cancelled
from winnow.judge.llm.generation import InlineCandidate
from winnow.server.features.ports import InlineHost
from winnow.server.features.stop_rules import (
    INLINE_DECODE_BUDGET_S,
    INLINE_GRACE_STEPS,
    InlineBudget,
    StatementEnd,
)
from winnow.server.features.suggestions import Suggestion, SuggestionCache, clean_and_rank
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.workspace.documents import CursorContext, Snapshot, cursor_context

INLINE_TEMPERATURE_CAP = 0.8  # inline sampling is kept a little cooler than best-of-N bodies

log = logging.getLogger(__name__)


@dataclass
class _DocState:
    last_change: float = float("-inf")  # time.monotonic() of the last edit
    latest: int = 0
    flag: CancelFlag | None = None
    inflight_key: str | None = None
    inflight: asyncio.Future[list[Suggestion]] | None = None


@dataclass
class InlineOutcome:
    suggestions: list[Suggestion]
    source: str  # "cache" | "typed" | "model" | "joined" | "superseded" | "cancelled" | "off"
    latency_ms: float


class InlineService:
    """Per-document debounce, supersession, cancellation and caching around
    ``Runtime.inline``. ``generate(ctx, cancelled)`` performs the model call; ``shutdown``
    is the server's flag (set once it shuts down), which stops every request."""

    def __init__(self, shutdown: CancelFlag | None = None) -> None:
        self.shutdown = shutdown if shutdown is not None else CancelFlag()
        self.cache = SuggestionCache()
        self.docs: dict[str, _DocState] = {}
        self._seq = itertools.count(1)
        self.latencies_ms: deque[float] = deque(maxlen=200)
        self.model_latencies_ms: deque[float] = deque(maxlen=200)

    def note_change(self, uri: str) -> None:
        """An edit: the debounce counts from the last one."""
        self.docs.setdefault(uri, _DocState()).last_change = time.monotonic()

    def close_document(self, uri: str) -> None:
        state = self.docs.pop(uri, None)
        if state is not None and state.flag is not None:
            state.flag.set()
        self.cache.forget(uri)

    def cancel_all(self) -> None:
        """Stop every request now (the server is shutting down)."""
        self.shutdown.set()
        for state in self.docs.values():
            if state.flag is not None:
                state.flag.set()

    async def suggest(
        self,
        uri: str,
        ctx: CursorContext,
        debounce_ms: int,
        generate: Callable[[CursorContext, CancelFlag], Awaitable[list[InlineCandidate]]],
    ) -> InlineOutcome:
        """The suggestions at ``ctx``: cached, joined to a generation for the same text, or
        generated after the debounce (unless a newer request superseded this one)."""
        t0 = time.perf_counter()
        cached = self.cache.get(uri, ctx)
        if cached is not None:
            return self._done(t0, cached[0], "cache" if cached[1] == "exact" else "typed")
        state = self.docs.setdefault(uri, _DocState())
        joined = await self._join(state, ctx.key())
        if joined is not None:
            return self._done(t0, joined, "joined")
        seq = await self._debounce(uri, state, debounce_ms)
        if seq is None:
            return self._done(t0, [], "superseded")
        suggestions, source = await self._generate(uri, state, seq, ctx, generate)
        return self._done(t0, suggestions, source)

    def _done(self, t0: float, suggestions: list[Suggestion], source: str) -> InlineOutcome:
        ms = (time.perf_counter() - t0) * 1000.0
        if source in ("cache", "typed", "model", "joined"):
            self.latencies_ms.append(ms)
        return InlineOutcome(suggestions, source, ms)

    async def _join(self, state: _DocState, key: str) -> list[Suggestion] | None:
        """The suggestions of the generation running for the same text around the cursor, or
        None (none runs, or it failed: generate our own)."""
        inflight = state.inflight
        if inflight is None or state.inflight_key != key or inflight.done():
            return None
        try:
            return list(await asyncio.shield(inflight))
        except asyncio.CancelledError:
            if not inflight.cancelled():
                raise  # this request itself was cancelled
        except Exception:
            pass  # that generation failed: try our own
        return None

    async def _debounce(self, uri: str, state: _DocState, debounce_ms: int) -> int | None:
        """This request's sequence number once the debounce has passed; None when a newer
        request (or shutdown) superseded it meanwhile. The older request stops now."""
        seq = next(self._seq)
        state.latest = seq
        if state.flag is not None:
            state.flag.set()  # the older request for this document stops between tokens
            state.flag = None
        wait = debounce_ms / 1000.0 - (time.monotonic() - state.last_change)
        if wait > 0:
            await asyncio.sleep(wait)
        if self.docs.get(uri) is not state or state.latest != seq or self.shutdown():
            return None
        return seq

    async def _generate(
        self, uri: str, state: _DocState, seq: int, ctx: CursorContext,
        generate: Callable[[CursorContext, CancelFlag], Awaitable[list[InlineCandidate]]],
    ) -> tuple[list[Suggestion], str]:
        """Generate, cleaned and ranked, as the document's one in-flight generation (others
        with the same text join it)."""
        flag = CancelFlag(lambda: state.latest != seq, self.shutdown)
        state.flag = flag
        result: asyncio.Future[list[Suggestion]] = asyncio.get_running_loop().create_future()
        state.inflight, state.inflight_key = result, ctx.key()
        t_model = time.perf_counter()
        try:
            candidates = await generate(ctx, flag)
            suggestions = clean_and_rank(list(candidates), ctx)
            self.model_latencies_ms.append((time.perf_counter() - t_model) * 1000.0)
            self.cache.put(uri, ctx, suggestions)
            result.set_result(suggestions)
            return suggestions, "model"
        except asyncio.CancelledError:
            flag.set()  # $/cancelRequest: stop the model job between tokens
            result.cancel()
            raise
        except Cancelled:
            result.cancel()
            return [], "superseded" if state.latest != seq else "cancelled"
        except Exception as exc:
            result.set_exception(exc)
            result.exception()  # retrieved here: a joined request that gave up must not warn
            raise
        finally:
            if state.flag is flag:
                state.flag = None
            if state.inflight is result:
                state.inflight, state.inflight_key = None, None


class InlineCompletion:
    """Inline completion as the server offers it: the prompt window kept per document,
    one batched generation per request on the model worker (bounded by ``InlineBudget``),
    and the debounce/cache service around it. While a request waits on the model,
    background work (diagnostics) yields: ``waiting()``."""

    def __init__(self, host: InlineHost, shutdown: CancelFlag) -> None:
        self.host = host
        self.service = InlineService(shutdown)
        self.timings: deque[dict[str, Any]] = deque(maxlen=100)  # engine timings per generation
        self._waiting = 0
        self._window_starts: dict[str, int] = {}

    def waiting(self) -> bool:
        """True while an inline/completion request waits for or runs on the model."""
        return self._waiting > 0

    def context_at(self, snap: Snapshot, position: types.Position) -> CursorContext:
        """The cursor context, keeping this document's prompt start while it fits."""
        ctx = cursor_context(snap, position, previous_start=self._window_starts.get(snap.uri))
        self._window_starts[snap.uri] = ctx.start
        if len(self._window_starts) > 256:
            self._window_starts.pop(next(iter(self._window_starts)))
        return ctx

    def close_document(self, uri: str) -> None:
        self.service.close_document(uri)
        self._window_starts.pop(uri, None)

    async def suggest(self, snap: Snapshot, position: types.Position) -> InlineOutcome:
        ctx = self.context_at(snap, position)
        self._waiting += 1
        try:
            return await self.service.suggest(
                snap.uri, ctx, self.host.settings.debounce_ms, lambda c, flag: self._generate(c, flag, snap.uri)
            )
        finally:
            self._waiting -= 1

    async def _generate(self, ctx: CursorContext, cancelled: Callable[[], bool], uri: str) -> list[InlineCandidate]:
        settings = self.host.settings
        context = self.host.workspace_context.prompt_context(uri, ctx)
        n = settings.inline_completion.candidates
        budget = InlineBudget(StatementEnd(ctx.line_before), n, INLINE_DECODE_BUDGET_S, INLINE_GRACE_STEPS)
        temperature = min(settings.temperature, INLINE_TEMPERATURE_CAP)
        t0 = time.perf_counter()
        self.host.status.work_started("completing")
        latency = None
        job = self.host.models.track("inline", cancelled)
        try:
            result = await self.host.models.run(
                lambda rt: rt.inline(
                    ctx.prefix,
                    ctx.suffix,
                    n=n,
                    max_tokens=settings.max_tokens,
                    temperature=temperature,
                    cancelled=job,
                    stop_fn=budget,
                    step_hook=budget.should_stop,
                    context=context,
                ),
                job,
            )
            latency = (time.perf_counter() - t0) * 1000.0
            self.timings.append(
                result.timings.to_dict()
                | {
                    "mode": result.prompt_mode,
                    "total_ms": round(latency, 1),
                    "finish": [c.finish_reason for c in result.candidates],
                    "budget_stop": budget.reason,
                }
            )
            return result.candidates
        finally:
            self.host.status.work_finished(latency)
