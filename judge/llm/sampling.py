"""What sampling works with and returns: one sampled continuation (``Candidate``), where a
call's time went (``Timings``), drawing a token (``choose_token``), log-probabilities, and
the per-sequence state of a batch being decoded (``SeqState``, ``Stops``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Candidate:
    """One sampled continuation."""

    text: str
    tokens: list[int]
    n_tokens: int
    sum_logprob: float
    mean_logprob: float
    finish_reason: str  # "stop" | "eos" | "length" | "deadline"
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "text": self.text,
            "n_tokens": self.n_tokens,
            "sum_logprob": self.sum_logprob,
            "mean_logprob": self.mean_logprob,
            "finish_reason": self.finish_reason,
        }


@dataclass
class Timings:
    """Where the time of one call went."""

    prompt_tokens: int = 0
    reused_tokens: int = 0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    decode_steps: int = 0
    generated_tokens: int = 0

    @property
    def decode_tok_s(self) -> float:
        return self.generated_tokens / (self.decode_ms / 1000.0) if self.decode_ms > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "reused_tokens": self.reused_tokens,
            "prefill_ms": round(self.prefill_ms, 2),
            "decode_ms": round(self.decode_ms, 2),
            "decode_steps": self.decode_steps,
            "generated_tokens": self.generated_tokens,
            "decode_tok_s": round(self.decode_tok_s, 2),
        }


@dataclass
class SampleResult:
    candidates: list[Candidate]
    timings: Timings = field(default_factory=Timings)


def log_softmax_at(logits: np.ndarray, token: int) -> float:
    return token_and_best_logprob(logits, token)[0]


def token_and_best_logprob(logits: np.ndarray, token: int) -> tuple[float, float]:
    """(log p(token), log p(the model's favourite token)) from one row of logits: how far
    a written token is from what the model expected there (0 apart when it is the favourite)."""
    m = float(logits.max())
    log_z = float(np.log(np.exp(logits - m).sum()))
    return float(logits[token] - m - log_z), -log_z


def choose_token(
    logits: np.ndarray, temperature: float, top_p: float, top_k: int, rng: np.random.Generator
) -> int:
    """Sample one token id (greedy when temperature is 0) with top-k then top-p filtering."""
    if temperature <= 0.0:
        return int(np.argmax(logits))
    k = min(top_k if top_k > 0 else logits.shape[0], logits.shape[0])
    if k < logits.shape[0]:
        top = np.argpartition(logits, -k)[-k:]
    else:
        top = np.arange(logits.shape[0])
    order = top[np.argsort(-logits[top], kind="stable")]
    scaled = logits[order].astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if top_p < 1.0:
        cumulative = np.cumsum(probs)
        keep = int(np.searchsorted(cumulative, top_p) + 1)
        probs = probs[:keep] / probs[:keep].sum()
        order = order[:keep]
    return int(order[rng.choice(len(order), p=probs)])


@dataclass(frozen=True)
class Stops:
    """When a sampled sequence is complete: a stop string, ``stop_fn``, or ``max_tokens``."""

    strings: list[str]
    fn: Callable[[str], int | None] | None
    max_tokens: int


@dataclass
class SeqState:
    """One sequence of a batch being sampled: its tokens, their log-probs, its text so far."""

    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    raw: bytes = b""
    finish: str | None = None
    stop_at: int | None = None

    def hit_stop(self, stops: Sequence[str], stop_fn: Callable[[str], int | None] | None = None) -> bool:
        text = self.raw.decode("utf-8", errors="ignore")
        best: int | None = stop_fn(text) if stop_fn is not None else None
        for s in stops:
            k = text.find(s)
            if k >= 0 and (best is None or k < best):
                best = k
        if best is None:
            return False
        self.stop_at = best
        return True

    def to_candidate(self, index: int) -> Candidate:
        text = self.raw.decode("utf-8", errors="replace")
        if self.stop_at is not None:
            text = self.raw.decode("utf-8", errors="ignore")[: self.stop_at]
        total = float(sum(self.logprobs))
        count = len(self.tokens)
        return Candidate(
            text=text,
            tokens=list(self.tokens),
            n_tokens=count,
            sum_logprob=total,
            mean_logprob=total / len(self.logprobs) if self.logprobs else 0.0,
            finish_reason=self.finish or "length",
            index=index,
        )
