"""Candidates for code: whole function bodies and inline completions at a cursor.

These functions call the engine directly and so must run on the model worker (or in
a script that owns its engine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from winnow.judge.llm.engine import CancelCheck, Engine
from winnow.judge.llm.model import Model
from winnow.judge.llm.prompts import (
    BodyEnd,
    ImplementPrompt,
    PromptContext,
    completion_prompt,
    implement_prompt,
    trim_body,
)
from winnow.judge.llm.sampling import Timings
from winnow.judge.sites import FunctionSite, source_lines

CONTEXT_CHARS = 1500  # code before a function shown to the model (imports, helpers)


def body_start_bias(model: Model) -> np.ndarray:
    """-inf for tokens that cannot start a body after the header's last character:
    the first token must be a newline (with indentation), never a fence or the end
    of text, which small chat models otherwise pick to close the code block."""
    bias = model.masks.get("body_start")
    if bias is None:
        bias = np.zeros(model.n_vocab, dtype=np.float32)
        for token, piece in enumerate(model.all_pieces()):
            if not piece.startswith(b"\n") or piece.strip(b" \t\r\n") or model.is_eog(token):
                bias[token] = -np.inf
        model.masks["body_start"] = bias
    return bias


@dataclass
class FunctionCandidate:
    """A complete function: the user's header plus a sampled body."""

    index: int
    code: str
    body: str
    n_tokens: int
    sum_logprob: float
    mean_logprob: float
    finish_reason: str

    @classmethod
    def given(cls, code: str, mean_logprob: float = 0.0, index: int = 0) -> FunctionCandidate:
        """A complete function the generator did not write (a user's, a data set's), to rank
        or judge: no body split, no tokens; ``mean_logprob`` when one was measured."""
        return cls(index, code, "", 0, 0.0, mean_logprob, "given")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "code": self.code,
            "n_tokens": self.n_tokens,
            "sum_logprob": round(self.sum_logprob, 4),
            "mean_logprob": round(self.mean_logprob, 4),
            "finish_reason": self.finish_reason,
        }


@dataclass
class Generation:
    candidates: list[FunctionCandidate]
    timings: Timings
    prompt_mode: str
    prompt_tokens: int
    extra: dict[str, Any] = field(default_factory=dict)


def context_before(source: str, site: FunctionSite, limit: int = CONTEXT_CHARS) -> str:
    """Up to ``limit`` characters of whole lines before the function."""
    lines = source_lines(source)[: site.start_line]
    out: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) > limit:
            break
        out.append(line)
        size += len(line)
    return "".join(reversed(out)).lstrip("\n")


def _implement_prompt_at(engine: Engine, source: str, site: FunctionSite) -> ImplementPrompt:
    before = context_before(source, site)
    after = "".join(source_lines(source)[site.end_line :])[:CONTEXT_CHARS]
    return implement_prompt(engine.model, site.header, before, after, site.language)


def body_token_scores(
    engine: Engine,
    source: str,
    site: FunctionSite,
    bodies: Sequence[str],
    cancel: CancelCheck | None = None,
) -> list[tuple[list[str], np.ndarray]]:
    """Per body its tokens' text and the (2, tokens) array of ``Engine.continuation_scores``:
    each token's log-prob and its position's favourite's, teacher-forced after ``site``'s
    header in the prompt ``implement_function`` samples from. A body is the text after the
    header, as a sampled one starts: newline, indent."""
    prompt = _implement_prompt_at(engine, source, site)
    prefix = engine.prompt_tokens(prompt.text)
    conts = [engine.model.tokenize("\n" + body.strip("\n"), add_special=False, parse_special=False) for body in bodies]
    scores = engine.continuation_scores(prefix, conts, cancel)
    piece = engine.model.token_piece
    return [([piece(t).decode("utf-8", errors="replace") for t in c], s) for c, s in zip(conts, scores, strict=True)]


def implement_function(
    engine: Engine,
    source: str,
    site: FunctionSite,
    n: int = 5,
    max_tokens: int = 256,
    temperature: float = 0.8,
    top_p: float = 0.95,
    seed: int | None = None,
    cancel: CancelCheck | None = None,
    deadline: float | None = None,
) -> Generation:
    """Sample ``n`` bodies for the function at ``site`` in one batch."""
    prompt = _implement_prompt_at(engine, source, site)
    result = engine.sample(
        prompt.text,
        n=n,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=prompt.stop,
        seed=seed,
        cancel=cancel,
        deadline=deadline,
        stop_fn=BodyEnd(site.indent),
        first_token_bias=body_start_bias(engine.model),
    )
    candidates: list[FunctionCandidate] = []
    for c in result.candidates:
        body = trim_body(c.text, site.indent)
        candidates.append(
            FunctionCandidate(
                index=c.index,
                code=prompt.header + "\n" + body + site.footer,
                body=body,
                n_tokens=c.n_tokens,
                sum_logprob=c.sum_logprob,
                mean_logprob=c.mean_logprob,
                finish_reason=c.finish_reason,
            )
        )
    return Generation(candidates, result.timings, prompt.mode, result.timings.prompt_tokens)


@dataclass
class InlineCandidate:
    index: int
    text: str
    n_tokens: int
    mean_logprob: float
    finish_reason: str


@dataclass
class InlineResult:
    """What one batched sampling call at a cursor gave."""

    candidates: list[InlineCandidate]
    timings: Timings
    prompt_mode: str  # how the prompt was built (prompts.CompletionPrompt.mode)


def complete_at(
    engine: Engine,
    prefix: str,
    suffix: str,
    n: int = 3,
    max_tokens: int = 64,
    temperature: float = 0.6,
    top_p: float = 0.95,
    seed: int | None = None,
    cancel: CancelCheck | None = None,
    deadline: float | None = None,
    stop_fn: Callable[[str], int | None] | None = None,
    step_hook: Callable[[int, int, float], bool] | None = None,
    context: PromptContext | None = None,
) -> InlineResult:
    """Sample ``n`` insertions at a cursor between ``prefix`` and ``suffix`` (with other
    files of the workspace ahead of them when ``context`` is given)."""
    prompt = completion_prompt(engine.model, prefix, suffix, context)
    stop = tuple(prompt.stop) + ("\n\n\n",)
    result = engine.sample(
        prompt.text,
        n=n,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=stop,
        seed=seed,
        cancel=cancel,
        deadline=deadline,
        stop_fn=stop_fn,
        step_hook=step_hook,
    )
    out = [
        InlineCandidate(c.index, c.text, c.n_tokens, c.mean_logprob, c.finish_reason) for c in result.candidates
    ]
    return InlineResult(out, result.timings, prompt.mode)
