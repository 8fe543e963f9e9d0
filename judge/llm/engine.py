"""The llama.cpp engine: a context with several sequences over a ``Model``; sampling, scoring.

llama-cpp-python is touched only here and in llama_lib.py (loading it) and model.py (a
loaded GGUF and its vocabulary); what sampling returns is in sampling.py.

``Engine`` owns a llama.cpp context made through the low-level API with several
sequences (``n_seq_max`` > 1, unified KV cache), because the high-level ``Llama``
class gives one sequence only. That lets it:

- evaluate a prompt once and decode N candidates together in one batch
  (sequence ids 1..N share the prompt's KV cells, copied from sequence 0);
- keep the last prompt's KV cache in sequence 0, so the next call re-evaluates only
  the tokens after the longest common prefix (the next keystroke is cheap);
- score several continuations of one shared prefix in one batch (the judge).

An Engine is not thread-safe: all calls go through ``ModelWorker`` (see worker.py),
because two llama.cpp evaluations that each take every core slow each other down by
two orders of magnitude.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from winnow.judge.base.errors import Cancelled, ModelError
from winnow.judge.llm.llama_lib import physical_cores
from winnow.judge.llm.model import Model
from winnow.judge.llm.sampling import (
    SampleResult,
    SeqState,
    Stops,
    Timings,
    choose_token,
    log_softmax_at,
    token_and_best_logprob,
)

CancelCheck = Callable[[], bool]


class Engine:
    """A context over a Model with several sequences; sampling and scoring."""

    PROMPT_SEQ = 0

    def __init__(
        self,
        model: Model,
        n_ctx: int = 4096,
        n_seq_max: int = 17,
        n_threads: int | None = None,
        lora_path: str | os.PathLike[str] | None = None,
        lora_scale: float = 1.0,
    ) -> None:
        self.model = model
        self.llama_cpp = lc = model.llama_cpp
        self.n_threads = int(n_threads) if n_threads else physical_cores()
        params = lc.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_ctx
        params.n_ubatch = 512
        params.n_seq_max = n_seq_max
        params.kv_unified = True
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.no_perf = True
        # Flash attention off: on this CPU it is slower for our short prompts, and its
        # f16 accumulation makes a sequence's result depend on which KV cells it got.
        params.flash_attn_type = 0
        ctx = lc.llama_init_from_model(model.model, params)
        if not ctx:
            raise ModelError(f"llama.cpp could not create a context for {model.path} (n_ctx={n_ctx})")
        self.ctx = ctx
        self.n_ctx = int(lc.llama_n_ctx(ctx))
        self.n_seq_max = int(lc.llama_n_seq_max(ctx))
        self.mem = lc.llama_get_memory(ctx)
        self.batch = lc.llama_batch_init(self.n_ctx, 0, 1)
        self.batch_capacity = self.n_ctx
        self.cached: list[int] = []  # tokens whose KV cells sequence 0 holds
        self.adapter = None
        self.lora_path = str(lora_path) if lora_path else None
        if lora_path:
            self._load_adapter(lora_path, lora_scale)

    def _load_adapter(self, path: str | os.PathLike[str], scale: float) -> None:
        from winnow.judge.llm.model_files import check_gguf

        check_gguf(path)
        lc = self.llama_cpp
        adapter = lc.llama_adapter_lora_init(self.model.model, str(path).encode("utf-8"))
        if not adapter:
            raise ModelError(
                f"llama.cpp could not load the LoRA adapter {path} onto {self.model.path}: "
                "was it exported for this base model?"
            )
        adapters = (lc.llama_adapter_lora_p_ctypes * 1)(adapter)
        scales = (ctypes.c_float * 1)(scale)
        if lc.llama_set_adapters_lora(self.ctx, adapters, 1, scales) != 0:
            raise ModelError(f"llama.cpp refused to apply the LoRA adapter {path}")
        self.adapter = adapter

    def close(self) -> None:
        lc = self.llama_cpp
        if getattr(self, "ctx", None):
            lc.llama_batch_free(self.batch)
            lc.llama_free(self.ctx)
            self.ctx = None

    def __del__(self) -> None:  # pragma: no cover
        try:
            self.close()
        except Exception:
            pass

    def set_threads(self, n_threads: int) -> None:
        self.n_threads = n_threads or physical_cores()
        self.llama_cpp.llama_set_n_threads(self.ctx, self.n_threads, self.n_threads)

    # --- low-level helpers ------------------------------------------------------------

    def _clear_batch(self) -> None:
        self.batch.n_tokens = 0

    def _add(self, token: int, pos: int, seq: int, want_logits: bool) -> int:
        b = self.batch
        i = b.n_tokens
        if i >= self.batch_capacity:
            raise ModelError("batch overflow: too many tokens for one llama.cpp batch")
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = want_logits
        b.n_tokens = i + 1
        return i

    def _decode(self, cancel: CancelCheck | None = None) -> None:
        if cancel is not None and cancel():
            raise Cancelled("cancelled")
        rc = self.llama_cpp.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise ModelError(f"llama_decode failed (code {rc}); the context may be too small (n_ctx={self.n_ctx})")

    def _logits(self, batch_index: int) -> np.ndarray:
        ptr = self.llama_cpp.llama_get_logits_ith(self.ctx, batch_index)
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab,))

    def _clear_branches(self) -> None:
        """Drop every sequence but the cached prompt."""
        for seq in range(1, self.n_seq_max):
            self.llama_cpp.llama_memory_seq_rm(self.mem, seq, -1, -1)

    def reset(self) -> None:
        """Forget every cached token (e.g. after an adapter change)."""
        self.llama_cpp.llama_memory_clear(self.mem, True)
        self.cached = []

    def prefill(
        self, tokens: Sequence[int], cancel: CancelCheck | None = None, chunk: int = 128
    ) -> tuple[np.ndarray, int]:
        """Make sequence 0 hold exactly ``tokens``; return the last position's logits
        and how many tokens were reused from the previous call's cache.

        The prompt goes in ``chunk``-token pieces with ``cancel`` polled between them, so
        a cancelled request stops within one chunk (~0.5 s here) instead of after the
        whole prompt; smaller pieces than this cost measurable throughput."""
        tokens = list(tokens)
        if not tokens:
            raise ModelError("empty prompt")
        if len(tokens) >= self.n_ctx:
            raise ModelError(f"prompt of {len(tokens)} tokens does not fit the context ({self.n_ctx})")
        self._clear_branches()
        common = 0
        for a, b in zip(self.cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # re-evaluate at least one token for its logits
        lc = self.llama_cpp
        if not lc.llama_memory_seq_rm(self.mem, self.PROMPT_SEQ, common, -1):
            lc.llama_memory_seq_rm(self.mem, self.PROMPT_SEQ, -1, -1)
            common = 0
        self.cached = tokens[:common]
        pos = common
        last_index = 0
        while pos < len(tokens):
            end = min(pos + chunk, len(tokens))
            self._clear_batch()
            for p in range(pos, end):
                last_index = self._add(tokens[p], p, self.PROMPT_SEQ, p == len(tokens) - 1)
            try:
                self._decode(cancel)
            except BaseException:
                lc.llama_memory_seq_rm(self.mem, self.PROMPT_SEQ, pos, -1)
                raise
            self.cached = tokens[:end]
            pos = end
        return self._logits(last_index).copy(), common

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
        step_hook: Callable[[int, int, float], bool] | None = None,
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
        if n < 1:
            raise ValueError("n must be at least 1")
        if n > self.n_seq_max - 1:
            raise ValueError(f"n={n} exceeds this engine's {self.n_seq_max - 1} parallel sequences")
        tokens = self.prompt_tokens(prompt, add_bos) if isinstance(prompt, str) else list(prompt)
        max_tokens = max(0, min(max_tokens, self.n_ctx - len(tokens) - 1))
        rng = np.random.default_rng(seed)
        timings = Timings(prompt_tokens=len(tokens))
        first_logits = self._start_branches(tokens, n, timings, cancel)

        def pick(row: np.ndarray, step: int) -> int:
            biased = row if logit_bias is None else row + logit_bias
            if step == 0 and first_token_bias is not None:
                biased = biased + first_token_bias
            return choose_token(biased, temperature, top_p, top_k, rng)

        states = [SeqState() for _ in range(n)]
        stops = Stops([s for s in stop if s], stop_fn, max_tokens)
        logits_rows: list[np.ndarray] = [first_logits] * n
        t1 = time.perf_counter()
        step = 0
        while step < max_tokens:
            if cancel is not None and cancel():
                raise Cancelled("cancelled")
            if self._out_of_time(states, step, deadline, step_hook, t1):
                break
            self._clear_batch()
            index_of = self._extend(states, logits_rows, step, len(tokens), pick, stops)
            step += 1
            if not index_of:
                break
            self._decode(cancel)
            timings.decode_steps += 1
            for i, bi in index_of.items():
                logits_rows[i] = self._logits(bi)
        for st in states:
            if st.finish is None:
                st.finish = "length"
        timings.decode_ms = (time.perf_counter() - t1) * 1000.0
        timings.generated_tokens = sum(len(st.tokens) for st in states)
        self._clear_branches()
        candidates = [st.to_candidate(i) for i, st in enumerate(states)]
        return SampleResult(candidates=candidates, timings=timings)

    def _start_branches(self, tokens: list[int], n: int, timings: Timings, cancel: CancelCheck | None) -> np.ndarray:
        """Prefill the prompt (sequence 0) and share its cache with sequences 1..n; return
        the prompt's last logits, which every sequence's first token is drawn from."""
        t0 = time.perf_counter()
        first_logits, timings.reused_tokens = self.prefill(tokens, cancel)
        timings.prefill_ms = (time.perf_counter() - t0) * 1000.0
        for seq in range(1, n + 1):
            self.llama_cpp.llama_memory_seq_cp(self.mem, self.PROMPT_SEQ, seq, -1, -1)
        return first_logits

    @staticmethod
    def _out_of_time(
        states: list[SeqState], step: int, deadline: float | None,
        step_hook: Callable[[int, int, float], bool] | None, t1: float,
    ) -> bool:
        """Whether the batch ends here (deadline passed or ``step_hook`` said so); the
        running sequences then finish with reason "deadline"."""
        out_of_time = deadline is not None and time.monotonic() >= deadline
        if not out_of_time and step_hook is not None:
            running = sum(1 for st in states if st.finish is None)
            out_of_time = step_hook(step, running, time.perf_counter() - t1)
        if out_of_time:
            for st in states:
                if st.finish is None:
                    st.finish = "deadline"
        return out_of_time

    def _extend(
        self, states: list[SeqState], logits_rows: list[np.ndarray], step: int, n_prompt: int,
        pick: Callable[[np.ndarray, int], int], stops: Stops,
    ) -> dict[int, int]:
        """Draw every running sequence's next token, end those that finish, and add the
        others to the batch; return {sequence index: its row in the batch}."""
        index_of: dict[int, int] = {}
        for i, st in enumerate(states):
            if st.finish is not None:
                continue
            row = logits_rows[i]
            token = pick(row, step)
            st.logprobs.append(log_softmax_at(row, token))
            if self.model.is_eog(token):
                st.finish = "eos"
                st.logprobs.pop()  # the end token is not part of the text
                continue
            st.tokens.append(token)
            st.raw += self.model.token_piece(token)
            if (stops.strings or stops.fn) and st.hit_stop(stops.strings, stops.fn):
                st.finish = "stop"
                continue
            if step + 1 >= stops.max_tokens:
                st.finish = "length"
                continue
            index_of[i] = self._add(token, n_prompt + step, i + 1, True)
        return index_of

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
            out[j] = self._logits(rows[-1])

        self._decode_branches(len(prefix), branches, cancel, False, keep_last)
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
                out[j][:, k + 1] = token_and_best_logprob(self._logits(row), cont[k + 1])

        if todo:
            self._decode_branches(len(prefix), [heads[j] for j in todo], cancel, True, keep_all)
        return out

    def _decode_branches(
        self,
        n_prefix: int,
        branches: Sequence[Sequence[int]],
        cancel: CancelCheck | None,
        every_position: bool,
        consume: Callable[[int, list[int]], None],
    ) -> None:
        """Decode each branch after the cached prefix in its own sequence, as many per
        batch as fit; ``consume(j, rows)`` reads branch ``j``'s logits rows (its last
        position, or every position) before the sequences are dropped."""
        max_parallel = self.n_seq_max - 1
        max_rows = 256  # logits rows per batch: each is n_vocab floats
        lc = self.llama_cpp
        start = 0
        while start < len(branches):
            group: list[int] = []
            budget = self.batch_capacity
            used_ctx = n_prefix
            rows = 0
            for j in range(start, len(branches)):
                size = len(branches[j])
                want = size if every_position else 1
                too_many_rows = bool(group) and rows + want > max_rows
                if len(group) >= max_parallel or size > budget or used_ctx + size > self.n_ctx or too_many_rows:
                    break
                group.append(j)
                budget -= size
                used_ctx += size
                rows += want
            if not group:
                raise ModelError(
                    f"a branch of {len(branches[start])} tokens does not fit the context after a "
                    f"prefix of {n_prefix} tokens (n_ctx={self.n_ctx})"
                )
            self._clear_batch()
            indices: dict[int, list[int]] = {}
            for slot, j in enumerate(group, start=1):
                lc.llama_memory_seq_cp(self.mem, self.PROMPT_SEQ, slot, -1, -1)
                branch = branches[j]
                last = len(branch) - 1
                rows_j: list[int] = []
                for k, token in enumerate(branch):
                    want_row = every_position or k == last
                    bi = self._add(token, n_prefix + k, slot, want_row)
                    if want_row:
                        rows_j.append(bi)
                indices[j] = rows_j
            try:
                self._decode(cancel)
                for j, batch_rows in indices.items():
                    consume(j, batch_rows)
            finally:
                self._clear_branches()
            start = group[-1] + 1
