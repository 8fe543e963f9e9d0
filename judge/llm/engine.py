"""The llama.cpp engine: sampling and scoring over a context with several sequences.

``Engine`` is a ``BatchContext`` (batch_context.py: the llama.cpp context made with
several sequences, its batch and the prompt's KV cache kept in sequence 0) with what the
rest of Winnow asks of a model:

- ``sample``: evaluate a prompt once and decode N candidates together in one batch
  (sequence ids 1..N share the prompt's KV cells, copied from sequence 0; the decode
  loop is batch_sampling.py); the next call re-evaluates only the tokens after the
  longest common prefix with the last prompt (the next keystroke is cheap);
- ``branch_logits``, ``continuation_logprobs``, ``continuation_scores``: score several
  continuations of one shared prefix in one batch (the judge, surprise).

What sampling returns is in sampling.py. An Engine is not thread-safe: all calls go
through ``ModelWorker`` (see worker.py), because two llama.cpp evaluations that each take
every core slow each other down by two orders of magnitude.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from winnow.judge.llm.batch_context import BatchContext, CancelCheck
from winnow.judge.llm.batch_sampling import EarlyStop, StepHook, TokenPicker, decode_batch
from winnow.judge.llm.sampling import SampleResult, Stops, Timings, token_and_best_logprob

__all__ = ["CancelCheck", "Engine"]


class Engine(BatchContext):
    """A context over a Model with several sequences; sampling and scoring."""

    # --- sampling -----------------------------------------------------------------------

    def sample(
        self,
        prompt: str | Sequence[int],
        n: int = 1,
        max_tokens: int = 64,
        temperature: float = 0.8,
        top_p: float = 0.95,
        top_k: int = 40,
        stop: Sequence[str] = (),
        seed: int | None = None,
        cancel: CancelCheck | None = None,
        deadline: float | None = None,
        add_bos: bool | None = None,
        stop_fn: Callable[[str], int | None] | None = None,
        first_token_bias: np.ndarray | None = None,
        logit_bias: np.ndarray | None = None,
        step_hook: StepHook | None = None,
    ) -> SampleResult:
        """Sample ``n`` continuations of ``prompt`` decoded together in one batch.

        ``cancel`` is polled between tokens and raises Cancelled; at ``deadline``
        (a ``time.monotonic()`` value) generation stops and returns what it has,
        finish reason "deadline". ``stop_fn(text)`` may return an index at which the
        text is complete (e.g. a dedent that ends a function body).
        ``first_token_bias`` is added to the logits of the first sampled token only
        (``-inf`` bans a token: e.g. a body must not start by closing its code fence);
        ``logit_bias`` is added at every step (benchmarks ban end-of-text with it).
        ``step_hook(step, running, decode_seconds)`` is asked before every step and
        may end the batch early (finish reason "deadline"): e.g. once most candidates
        are complete, so a batch need not wait for its slowest sequence.
        Log-probs are always measured on the model's own distribution.
        """
        tokens, max_tokens = self._sampling_prompt(prompt, n, max_tokens, add_bos)
        rng = np.random.default_rng(seed)
        timings = Timings(prompt_tokens=len(tokens))
        first_logits = self._start_branches(tokens, n, timings, cancel)
        picker = TokenPicker(temperature, top_p, top_k, rng, logit_bias, first_token_bias)
        stops = Stops([s for s in stop if s], stop_fn, max_tokens)
        early = EarlyStop(cancel, deadline, step_hook)
        states = decode_batch(self, first_logits, n, len(tokens), picker, stops, early, timings)
        self.clear_branches()
        candidates = [st.to_candidate(i) for i, st in enumerate(states)]
        return SampleResult(candidates=candidates, timings=timings)

    def _sampling_prompt(
        self, prompt: str | Sequence[int], n: int, max_tokens: int, add_bos: bool | None
    ) -> tuple[list[int], int]:
        """The prompt's tokens and how many may follow them in the context (``n`` checked
        against the free sequences)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        if n > self.n_seq_max - 1:
            raise ValueError(f"n={n} exceeds this engine's {self.n_seq_max - 1} parallel sequences")
        tokens = self.prompt_tokens(prompt, add_bos) if isinstance(prompt, str) else list(prompt)
        return tokens, max(0, min(max_tokens, self.n_ctx - len(tokens) - 1))

    def _start_branches(self, tokens: list[int], n: int, timings: Timings, cancel: CancelCheck | None) -> np.ndarray:
        """Prefill the prompt (sequence 0) and share its cache with sequences 1..n; return
        the prompt's last logits, which every sequence's first token is drawn from."""
        t0 = time.perf_counter()
        first_logits, timings.reused_tokens = self.prefill(tokens, cancel)
        timings.prefill_ms = (time.perf_counter() - t0) * 1000.0
        for seq in range(1, n + 1):
            self.share_prompt(seq)
        return first_logits

    def prompt_tokens(self, prompt: str, add_bos: bool | None = None) -> list[int]:
        """Tokenize a prompt the way this model expects (BOS when its vocab wants one)."""
        tokens = self.model.tokenize(prompt, add_special=False, parse_special=True)
        want_bos = self.model.add_bos() if add_bos is None else add_bos
        bos = self.model.bos()
        if want_bos and bos >= 0 and (not tokens or tokens[0] != bos):
            tokens = [bos] + tokens
        return tokens

    # --- scoring ------------------------------------------------------------------------

    def branch_logits(
        self,
        prefix: Sequence[int],
        branches: Sequence[Sequence[int]],
        cancel: CancelCheck | None = None,
    ) -> np.ndarray:
        """Logits after ``prefix + branch`` for every branch, evaluating the shared prefix
        once (sequence 0, cached across calls) and all branches together in one batch."""
        if not branches:
            return np.zeros((0, self.model.n_vocab), dtype=np.float32)
        if any(len(b) == 0 for b in branches):
            raise ValueError("every branch needs at least one token")
        self.prefill(prefix, cancel)
        out = np.zeros((len(branches), self.model.n_vocab), dtype=np.float32)

        def keep_last(j: int, rows: list[int]) -> None:
            out[j] = self.logits(rows[-1])

        self.decode_branches(len(prefix), branches, cancel, False, keep_last)
        return out

    def continuation_logprobs(
        self,
        prefix: Sequence[int],
        continuations: Sequence[Sequence[int]],
        cancel: CancelCheck | None = None,
    ) -> list[np.ndarray]:
        """Log-probability of every token of every continuation after ``prefix``
        (teacher forcing): how likely this model finds text it did not sample itself.
        The prefix is evaluated once; continuations go together in batches."""
        return [scores[0] for scores in self.continuation_scores(prefix, continuations, cancel)]

    def continuation_scores(
        self,
        prefix: Sequence[int],
        continuations: Sequence[Sequence[int]],
        cancel: CancelCheck | None = None,
    ) -> list[np.ndarray]:
        """Per continuation an array of shape (2, tokens): row 0 each token's log-prob
        (as ``continuation_logprobs``), row 1 the log-prob of the token the model liked
        best at that position — their gap is how surprised it was by what was written."""
        first, _ = self.prefill(prefix, cancel)
        out = [np.zeros((2, len(c)), dtype=np.float64) for c in continuations]
        for j, cont in enumerate(continuations):
            if len(cont):
                out[j][:, 0] = token_and_best_logprob(first, cont[0])
        # Token k+1's log-prob comes from the logits at token k: the last token is not fed.
        heads = [list(c[:-1]) for c in continuations]
        todo = [j for j, h in enumerate(heads) if h]

        def keep_all(i: int, rows: list[int]) -> None:
            j = todo[i]
            cont = continuations[j]
            for k, row in enumerate(rows):
                out[j][:, k + 1] = token_and_best_logprob(self.logits(row), cont[k + 1])

        if todo:
            self.decode_branches(len(prefix), [heads[j] for j in todo], cancel, True, keep_all)
        return out
