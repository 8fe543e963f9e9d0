"""The decode loop of ``Engine.sample``: N sequences of one prompt, one token each per step,
all in one llama.cpp batch.

Every step draws each running sequence's next token from its last logits (``TokenPicker``),
ends the sequences that hit an end token, a stop or ``max_tokens``, and decodes the others
together; a cancel check, a deadline or a step hook (``EarlyStop``) may end the batch
between steps. The per-step work is what it must be: one draw per running sequence and
one ``llama_decode`` per step. The context it runs on is batch_context.py; what it returns
(``SeqState``, ``Timings``) is sampling.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from winnow.judge.base.errors import Cancelled
from winnow.judge.llm.batch_context import BatchContext, CancelCheck
from winnow.judge.llm.sampling import SeqState, Stops, Timings, choose_token, log_softmax_at

#: ``step_hook(step, running, decode_seconds)``: True ends the batch before that step.
StepHook = Callable[[int, int, float], bool]


@dataclass(frozen=True)
class TokenPicker:
    """How a sequence's next token is drawn from a row of logits: the sampling settings,
    the biases (``first_token_bias`` on the first step only) and the seeded generator."""

    temperature: float
    top_p: float
    top_k: int
    rng: np.random.Generator
    logit_bias: np.ndarray | None = None
    first_token_bias: np.ndarray | None = None

    def pick(self, row: np.ndarray, step: int) -> int:
        """The next token from one row of logits, at decode step ``step``."""
        biased = row if self.logit_bias is None else row + self.logit_bias
        if step == 0 and self.first_token_bias is not None:
            biased = biased + self.first_token_bias
        return choose_token(biased, self.temperature, self.top_p, self.top_k, self.rng)


@dataclass(frozen=True)
class EarlyStop:
    """What may end a batch before its sequences finish: ``cancel`` (raises Cancelled),
    ``deadline`` (a ``time.monotonic()`` value) and ``step_hook`` (both finish "deadline")."""

    cancel: CancelCheck | None = None
    deadline: float | None = None
    step_hook: StepHook | None = None


def decode_batch(
    ctx: BatchContext,
    first_logits: np.ndarray,
    n: int,
    n_prompt: int,
    picker: TokenPicker,
    stops: Stops,
    early: EarlyStop,
    timings: Timings,
) -> list[SeqState]:
    """Decode ``n`` sequences (1..n, sharing the prompt's cells) from the prompt's last
    logits until each has finished; record the decode figures in ``timings``."""
    states = [SeqState() for _ in range(n)]
    logits_rows: list[np.ndarray] = [first_logits] * n
    t1 = time.perf_counter()
    step = 0
    while step < stops.max_tokens:
        if early.cancel is not None and early.cancel():
            raise Cancelled("cancelled")
        if _out_of_time(states, step, early, t1):
            break
        ctx.clear_batch()
        index_of = _extend(ctx, states, logits_rows, step, n_prompt, picker, stops)
        step += 1
        if not index_of:
            break
        ctx.decode(early.cancel)
        timings.decode_steps += 1
        for i, bi in index_of.items():
            logits_rows[i] = ctx.logits(bi)
    for st in states:
        if st.finish is None:
            st.finish = "length"
    timings.decode_ms = (time.perf_counter() - t1) * 1000.0
    timings.generated_tokens = sum(len(st.tokens) for st in states)
    return states


def _out_of_time(states: list[SeqState], step: int, early: EarlyStop, t1: float) -> bool:
    """Whether the batch ends here (deadline passed or ``step_hook`` said so); the
    running sequences then finish with reason "deadline"."""
    out_of_time = early.deadline is not None and time.monotonic() >= early.deadline
    if not out_of_time and early.step_hook is not None:
        running = sum(1 for st in states if st.finish is None)
        out_of_time = early.step_hook(step, running, time.perf_counter() - t1)
    if out_of_time:
        for st in states:
            if st.finish is None:
                st.finish = "deadline"
    return out_of_time


def _extend(
    ctx: BatchContext, states: list[SeqState], logits_rows: list[np.ndarray], step: int, n_prompt: int,
    picker: TokenPicker, stops: Stops,
) -> dict[int, int]:
    """Draw every running sequence's next token, end those that finish, and add the
    others to the batch; return {sequence index: its row in the batch}."""
    model = ctx.model
    index_of: dict[int, int] = {}
    for i, st in enumerate(states):
        if st.finish is not None:
            continue
        row = logits_rows[i]
        token = picker.pick(row, step)
        st.logprobs.append(log_softmax_at(row, token))
        if model.is_eog(token):
            st.finish = "eos"
            st.logprobs.pop()  # the end token is not part of the text
            continue
        st.tokens.append(token)
        st.raw += model.token_piece(token)
        if (stops.strings or stops.fn) and st.hit_stop(stops.strings, stops.fn):
            st.finish = "stop"
            continue
        if step + 1 >= stops.max_tokens:
            st.finish = "length"
            continue
        index_of[i] = ctx.add(token, n_prompt + step, i + 1, True)
    return index_of
