"""Inline suggestions: cleaning and cheap ranking of raw candidates, and the cache.

- Ranking: the generator's mean token log-prob plus cheap signals (truncated,
  repetitive); suggestions that repeat the text after the cursor are dropped.
- Cache: answers keyed on the text around the cursor; a user who typed the start of a
  cached suggestion gets the rest without a model call.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from winnow.judge.llm.generation import InlineCandidate
from winnow.server.workspace.documents import CACHE_SUFFIX_CHARS, CursorContext

CACHE_ENTRIES = 256
RECENT_PER_DOCUMENT = 8
ANCHOR_CHARS = 256  # text before the cursor that locates a cached suggestion after typing


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


def clean_and_rank(candidates: Sequence[InlineCandidate], ctx: CursorContext) -> list[Suggestion]:
    """The engine's raw candidates → suggestions, best first, without empties, duplicates
    or restatements of the following text."""
    out: dict[str, Suggestion] = {}
    tail = ctx.line_after.strip()
    for cand in candidates:
        finish = cand.finish_reason
        text = cand.text.rstrip()
        if tail and text.endswith(tail):
            text = text[: -len(tail)].rstrip()
        if not text.strip() or _repeats_following(text, ctx):
            continue
        truncated = finish in ("length", "deadline")
        repetitive = _repetitive(text)
        mean_lp = float(cand.mean_logprob)
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
