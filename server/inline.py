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
import re
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from winnow.judge.base.errors import Cancelled
from winnow.server.cancellation import CancelFlag
from winnow.server.documents import CACHE_SUFFIX_CHARS, CursorContext

log = logging.getLogger(__name__)

INLINE_TEMPERATURE_CAP = 0.8  # inline sampling is kept a little cooler than best-of-N bodies
INLINE_DECODE_BUDGET_S = 0.45  # decoding time of one inline batch (prefill not included)
INLINE_GRACE_STEPS = 4  # steps the slower candidates get once half of them are complete
MAX_BLOCK_LINES = 3  # lines of a block body suggested with a statement that opens one
MAX_STATEMENT_LINES = 8  # lines of one bracketed statement
MAX_LINE_CHARS = 240
CACHE_ENTRIES = 256
RECENT_PER_DOCUMENT = 8
ANCHOR_CHARS = 256  # text before the cursor that locates a cached suggestion after typing


# --- where a suggestion ends -----------------------------------------------------------


def _indent_width(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 8 - width % 8
        else:
            break
    return width


class _Scanner:
    """Bracket depth and string state of Python text, line by line (approximate)."""

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open quote ("'", '"', "'''", '"""')

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if self.string is not None:
                if ch == "\\":
                    i += 2
                    continue
                if line.startswith(self.string, i):
                    i += len(self.string)
                    self.string = None
                    continue
                i += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                triple = ch * 3
                if line.startswith(triple, i):
                    self.string = triple
                    i += 3
                    continue
                self.string = ch
            elif ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        if self.string in ("'", '"'):
            self.string = None  # a one-line string cannot span lines

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.string is not None


def _continues(line: str) -> bool:
    body = line.split("#", 1)[0].rstrip()
    return body.endswith("\\") or body.endswith(",")


def _opens_block(line: str) -> bool:
    return line.split("#", 1)[0].rstrip().endswith(":")


class StatementEnd:
    """``stop_fn`` for the engine: the index where a suggestion is complete.

    - With code before the cursor on its line, the suggestion finishes that line (or,
      when the line is already finished and the model starts a new one, it is that
      next line): one line of new text, the common case while typing.
    - On a blank line, the suggestion is one statement: a bracketed statement runs
      until its brackets close (up to MAX_STATEMENT_LINES lines); a statement that
      opens a block brings its indented body (up to MAX_BLOCK_LINES lines). A blank
      line, or a line indented no deeper than the statement, ends it.

    Short suggestions are what keeps inline completion fast: a batch of N candidates
    lasts as long as its longest one (see InlineBudget for the cap).
    """

    def __init__(self, line_before: str) -> None:
        self.head = line_before
        scanner = _Scanner()
        scanner.feed(line_before)
        self.head_depth = scanner.depth
        self.head_string = scanner.string
        self.head_has_code = line_before.strip() != ""

    def __call__(self, text: str) -> int | None:
        if "\n" not in text:
            return len(text) if len(text) > MAX_LINE_CHARS else None
        complete = text.split("\n")[:-1]
        if self.head_has_code:
            return self._finish_line(complete)
        return self._one_statement(complete)

    def _finish_line(self, complete: list[str]) -> int | None:
        offset = 0
        for i, segment in enumerate(complete):
            end = offset + len(segment)
            if segment.strip():
                return end  # the first line with new text is the suggestion
            if i >= 2:
                return max(0, offset - 1)  # only blank lines: nothing to suggest
            offset = end + 1
        return None

    def _one_statement(self, complete: list[str]) -> int | None:
        scanner = _Scanner()
        scanner.depth, scanner.string = self.head_depth, self.head_string
        started = in_block = False
        stmt_indent = block_lines = stmt_lines = blanks = 0
        offset = 0
        for i, segment in enumerate(complete):
            line = self.head + segment if i == 0 else segment
            end = offset + len(segment)  # index of this line's "\n" in text
            stripped = line.strip()
            if not started:
                if stripped:
                    started, stmt_lines = True, 1
                    stmt_indent = _indent_width(line)
                    scanner.feed(line)
                    if not (scanner.open or _continues(line)):
                        if not _opens_block(line):
                            return end
                        in_block = True
                else:
                    blanks += 1
                    if blanks > 1:
                        return max(0, offset - 1)
            elif in_block:
                if not stripped or (_indent_width(line) <= stmt_indent and not scanner.open):
                    return max(0, offset - 1)
                scanner.feed(line)
                block_lines += 1
                if block_lines >= MAX_BLOCK_LINES and not scanner.open:
                    return end
            else:  # inside a bracketed or continued statement
                scanner.feed(line)
                stmt_lines += 1
                if not (scanner.open or _continues(line)):
                    if not _opens_block(line):
                        return end
                    in_block = True
                elif stmt_lines >= MAX_STATEMENT_LINES:
                    return end
            offset = end + 1
        return None


class InlineBudget:
    """Bounds one batched inline generation by its faster candidates.

    Passed to the engine as ``stop_fn`` (the statement rule) and as ``step_hook``,
    which the engine asks before every decode step with the number of candidates still
    running and the decode time so far (a long prefill does not eat the budget). It
    ends the batch when

    - ``budget_s`` of decoding has passed, or
    - a quorum of candidates has finished and the stragglers had ``grace_steps`` more
      steps (the batch no longer waits for its slowest candidate).

    Stopped stragglers finish with reason "deadline" and rank below complete ones.
    """

    def __init__(self, rule: Callable[[str], int | None], n: int, budget_s: float, grace_steps: int = 4) -> None:
        self.rule = rule
        self.n = n
        self.budget_s = budget_s
        self.grace_steps = grace_steps
        self.quorum = max(1, (n + 1) // 2)
        self.steps = 0
        self.active = n
        self.quorum_step: int | None = None
        self.reason: str | None = None

    def __call__(self, text: str) -> int | None:
        """The engine's ``stop_fn``: where the suggestion is complete."""
        return self.rule(text)

    def should_stop(self, step: int, running: int, decode_s: float) -> bool:
        """The engine's ``step_hook``."""
        self.steps = step + 1
        self.active = running
        if decode_s >= self.budget_s:
            self.reason = "budget"
            return True
        if self.n - running >= self.quorum and running > 0:
            if self.quorum_step is None:
                self.quorum_step = self.steps
            elif self.steps - self.quorum_step >= self.grace_steps:
                self.reason = "quorum"
                return True
        return False


# --- cleaning and ranking --------------------------------------------------------------


@dataclass
class Suggestion:
    text: str
    score: float
    mean_logprob: float
    finish_reason: str
    signals: dict[str, Any] = field(default_factory=dict)
    p_correct: float | None = None


_RUN = re.compile(r"(\S)\1{15,}")  # one character 16 times in a row


def _repetitive(text: str) -> bool:
    """A degenerate sample: a long run of one character, many repeated lines, or text
    that compresses far too well."""
    if _RUN.search(text):
        return True
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 3 and len(set(lines)) <= len(lines) // 2:
        return True
    data = text.encode("utf-8", errors="replace")
    return len(data) >= 64 and len(zlib.compress(data)) / len(data) < 0.25


def _repeats_following(text: str, ctx: CursorContext) -> bool:
    """True when the suggestion only restates what already follows the cursor."""
    body = text.strip()
    if not body:
        return True
    after = ctx.suffix.lstrip()
    if after.startswith(body):
        return True
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    next_line = next((ln.strip() for ln in ctx.suffix.splitlines()[1:] if ln.strip()), None)
    if ctx.line_after.strip() == "" and next_line is not None and first == next_line:
        return True
    return False


def clean_and_rank(candidates: list[Any], ctx: CursorContext) -> list[Suggestion]:
    """Candidates (InlineCandidate-like: text, mean_logprob, finish_reason) → suggestions,
    best first, without empties, duplicates or restatements of the following text."""
    out: dict[str, Suggestion] = {}
    tail = ctx.line_after.strip()
    for cand in candidates:
        text = str(getattr(cand, "text", "") or "")
        finish = str(getattr(cand, "finish_reason", "stop"))
        text = text.rstrip()
        if tail and text.endswith(tail):
            text = text[: -len(tail)].rstrip()
        if not text.strip() or _repeats_following(text, ctx):
            continue
        truncated = finish in ("length", "deadline")
        repetitive = _repetitive(text)
        mean_lp = float(getattr(cand, "mean_logprob", 0.0) or 0.0)
        score = mean_lp - (0.5 if truncated else 0.0) - (2.0 if repetitive else 0.0)
        signals = {"truncated": truncated, "repetitive": repetitive, "lines": text.count("\n") + 1}
        sug = Suggestion(text, score, mean_lp, finish, signals)
        key = text.strip()
        if key not in out or out[key].score < score:
            out[key] = sug
    return sorted(out.values(), key=lambda s: -s.score)


# --- cache ------------------------------------------------------------------------------


@dataclass
class _Recent:
    anchor: str  # the last characters before the cursor when the suggestions were made
    suffix: str
    suggestions: list[Suggestion]


class SuggestionCache:
    """Exact answers by the text around the cursor, plus "typed the start of one"."""

    def __init__(self) -> None:
        self.exact: OrderedDict[str, list[Suggestion]] = OrderedDict()
        self.recent: dict[str, deque[_Recent]] = {}
        self.hits = 0
        self.partial_hits = 0
        self.misses = 0

    @staticmethod
    def _suffix(ctx: CursorContext) -> str:
        return ctx.suffix[:CACHE_SUFFIX_CHARS]

    def get(self, uri: str, ctx: CursorContext) -> tuple[list[Suggestion], str] | None:
        found = self.exact.get(ctx.key())
        if found is not None:
            self.exact.move_to_end(ctx.key())
            self.hits += 1
            return found, "exact"
        tail = ctx.before
        suffix = self._suffix(ctx)
        for entry in reversed(self.recent.get(uri, ())):
            if entry.suffix != suffix or not entry.anchor:
                continue
            pos = tail.rfind(entry.anchor)
            if pos < 0:
                continue
            typed = tail[pos + len(entry.anchor) :]
            if not typed or len(typed) > ANCHOR_CHARS:
                continue
            rest = [
                Suggestion(s.text[len(typed) :], s.score, s.mean_logprob, s.finish_reason, dict(s.signals), s.p_correct)
                for s in entry.suggestions
                if s.text.startswith(typed) and s.text[len(typed) :].strip()
            ]
            if rest:
                self.partial_hits += 1
                return rest, "typed"
        self.misses += 1
        return None

    def put(self, uri: str, ctx: CursorContext, suggestions: list[Suggestion]) -> None:
        self.exact[ctx.key()] = suggestions
        self.exact.move_to_end(ctx.key())
        while len(self.exact) > CACHE_ENTRIES:
            self.exact.popitem(last=False)
        if suggestions:
            anchor = ctx.before[-ANCHOR_CHARS:]
            self.recent.setdefault(uri, deque(maxlen=RECENT_PER_DOCUMENT)).append(
                _Recent(anchor, self._suffix(ctx), suggestions)
            )

    def forget(self, uri: str) -> None:
        self.recent.pop(uri, None)

    def clear(self) -> None:
        self.exact.clear()
        self.recent.clear()


# --- the service ------------------------------------------------------------------------


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
        generate: Callable[[CursorContext, Callable[[], bool]], Any],
    ) -> InlineOutcome:
        t0 = time.perf_counter()

        def done(suggestions: list[Suggestion], source: str) -> InlineOutcome:
            ms = (time.perf_counter() - t0) * 1000.0
            if source in ("cache", "typed", "model", "joined"):
                self.latencies_ms.append(ms)
            return InlineOutcome(suggestions, source, ms)

        cached = self.cache.get(uri, ctx)
        if cached is not None:
            return done(cached[0], "cache" if cached[1] == "exact" else "typed")
        state = self.docs.setdefault(uri, _DocState())
        key = ctx.key()
        inflight = state.inflight
        if inflight is not None and state.inflight_key == key and not inflight.done():
            # The same text around the cursor is being generated for: wait for that.
            try:
                return done(list(await asyncio.shield(inflight)), "joined")
            except asyncio.CancelledError:
                if not inflight.cancelled():
                    raise  # this request itself was cancelled
            except Exception:
                pass  # that generation failed: try our own
        seq = next(self._seq)
        state.latest = seq
        if state.flag is not None:
            state.flag.set()  # the older request for this document stops between tokens
            state.flag = None
        wait = debounce_ms / 1000.0 - (time.monotonic() - state.last_change)
        if wait > 0:
            await asyncio.sleep(wait)
        if self.docs.get(uri) is not state or state.latest != seq or self.shutdown():
            return done([], "superseded")
        flag = CancelFlag(lambda: state.latest != seq, self.shutdown)
        state.flag = flag
        loop = asyncio.get_running_loop()
        result: asyncio.Future[list[Suggestion]] = loop.create_future()
        state.inflight, state.inflight_key = result, key
        t_model = time.perf_counter()
        try:
            candidates = await generate(ctx, flag)
            suggestions = clean_and_rank(list(candidates), ctx)
            self.model_latencies_ms.append((time.perf_counter() - t_model) * 1000.0)
            self.cache.put(uri, ctx, suggestions)
            result.set_result(suggestions)
            return done(suggestions, "model")
        except asyncio.CancelledError:
            flag.set()  # $/cancelRequest: stop the model job between tokens
            result.cancel()
            raise
        except Cancelled:
            result.cancel()
            return done([], "superseded" if state.latest != seq else "cancelled")
        except Exception as exc:
            result.set_exception(exc)
            result.exception()  # retrieved here: a joined request that gave up must not warn
            raise
        finally:
            if state.flag is flag:
                state.flag = None
            if state.inflight is result:
                state.inflight, state.inflight_key = None, None
