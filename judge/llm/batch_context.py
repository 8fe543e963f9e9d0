"""A llama.cpp context with several sequences: its batch, its KV cache and how both are reused.

llama-cpp-python is touched only here, in llama_lib.py (loading it) and model.py (a
loaded GGUF and its vocabulary). The context is made through the low-level API with
several sequences (``n_seq_max`` > 1, unified KV cache), because the high-level ``Llama``
class gives one sequence only. Sequence 0 holds the last prompt's KV cells, so the next
call re-evaluates only the tokens after the longest common prefix (``prefill``); sequences
1..N are branches that share those cells (``share_prompt``) and are dropped after every
call (``clear_branches``). What runs on top of it, sampling and scoring, is ``Engine``
(engine.py); the decode loop of sampling is batch_sampling.py.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Sequence

import numpy as np

from winnow.judge.base.errors import Cancelled, ModelError
from winnow.judge.llm.llama_lib import physical_cores
from winnow.judge.llm.model import Model

CancelCheck = Callable[[], bool]
#: ``consume(j, rows)``: read branch ``j``'s logits rows in the batch before it is dropped.
BranchConsumer = Callable[[int, list[int]], None]

#: Logits rows per batch when decoding branches: each is n_vocab floats.
MAX_BRANCH_ROWS = 256


class BatchContext:
    """A llama.cpp context over a Model: one batch, several sequences, the prompt's KV cache."""

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
        """Apply a LoRA adapter to this context (the judge's fine-tuning), checked first."""
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
        """Free the batch and the context (idempotent)."""
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
        """Change the threads of later evaluations (0: the physical cores)."""
        self.n_threads = n_threads or physical_cores()
        self.llama_cpp.llama_set_n_threads(self.ctx, self.n_threads, self.n_threads)

    # --- the batch ----------------------------------------------------------------------

    def clear_batch(self) -> None:
        """Empty the batch for the next step (its buffers are kept)."""
        self.batch.n_tokens = 0

    def add(self, token: int, pos: int, seq: int, want_logits: bool) -> int:
        """Put one token of sequence ``seq`` in the batch; return its row there."""
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

    def decode(self, cancel: CancelCheck | None = None) -> None:
        """Evaluate the batch (``cancel`` polled first: raises Cancelled)."""
        if cancel is not None and cancel():
            raise Cancelled("cancelled")
        rc = self.llama_cpp.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise ModelError(f"llama_decode failed (code {rc}); the context may be too small (n_ctx={self.n_ctx})")

    def logits(self, batch_index: int) -> np.ndarray:
        """The logits of one batch row: a view into llama.cpp's buffer, valid until the next decode."""
        ptr = self.llama_cpp.llama_get_logits_ith(self.ctx, batch_index)
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab,))

    # --- sequences and the KV cache -----------------------------------------------------

    def clear_branches(self) -> None:
        """Drop every sequence but the cached prompt."""
        for seq in range(1, self.n_seq_max):
            self.llama_cpp.llama_memory_seq_rm(self.mem, seq, -1, -1)

    def share_prompt(self, seq: int) -> None:
        """Let sequence ``seq`` start from the prompt's KV cells (sequence 0), copied."""
        self.llama_cpp.llama_memory_seq_cp(self.mem, self.PROMPT_SEQ, seq, -1, -1)

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
        self.clear_branches()
        common = self._keep_common_prefix(tokens)
        lc = self.llama_cpp
        pos = common
        last_index = 0
        while pos < len(tokens):
            end = min(pos + chunk, len(tokens))
            self.clear_batch()
            for p in range(pos, end):
                last_index = self.add(tokens[p], p, self.PROMPT_SEQ, p == len(tokens) - 1)
            try:
                self.decode(cancel)
            except BaseException:
                lc.llama_memory_seq_rm(self.mem, self.PROMPT_SEQ, pos, -1)
                raise
            self.cached = tokens[:end]
            pos = end
        return self.logits(last_index).copy(), common

    def _keep_common_prefix(self, tokens: list[int]) -> int:
        """Drop sequence 0's cells after the longest prefix it shares with ``tokens`` (all
        of them when llama.cpp cannot cut there); return how many tokens it keeps."""
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
        return common

    # --- branches after a shared prefix ---------------------------------------------------

    def decode_branches(
        self,
        n_prefix: int,
        branches: Sequence[Sequence[int]],
        cancel: CancelCheck | None,
        every_position: bool,
        consume: BranchConsumer,
    ) -> None:
        """Decode each branch after the cached prefix in its own sequence, as many per
        batch as fit; ``consume(j, rows)`` reads branch ``j``'s logits rows (its last
        position, or every position) before the sequences are dropped."""
        start = 0
        while start < len(branches):
            group = self._branch_group(n_prefix, branches, start, every_position)
            if not group:
                raise ModelError(
                    f"a branch of {len(branches[start])} tokens does not fit the context after a "
                    f"prefix of {n_prefix} tokens (n_ctx={self.n_ctx})"
                )
            self.clear_batch()
            indices: dict[int, list[int]] = {}
            for slot, j in enumerate(group, start=1):
                self.share_prompt(slot)
                branch = branches[j]
                last = len(branch) - 1
                rows_j: list[int] = []
                for k, token in enumerate(branch):
                    want_row = every_position or k == last
                    bi = self.add(token, n_prefix + k, slot, want_row)
                    if want_row:
                        rows_j.append(bi)
                indices[j] = rows_j
            try:
                self.decode(cancel)
                for j, batch_rows in indices.items():
                    consume(j, batch_rows)
            finally:
                self.clear_branches()
            start = group[-1] + 1

    def _branch_group(
        self, n_prefix: int, branches: Sequence[Sequence[int]], start: int, every_position: bool
    ) -> list[int]:
        """The branches from ``start`` on that fit one batch: free sequences, batch tokens,
        context after the prefix, and logits rows (at least one branch gets its rows)."""
        max_parallel = self.n_seq_max - 1
        group: list[int] = []
        budget = self.batch_capacity
        used_ctx = n_prefix
        rows = 0
        for j in range(start, len(branches)):
            size = len(branches[j])
            want = size if every_position else 1
            too_many_rows = bool(group) and rows + want > MAX_BRANCH_ROWS
            if len(group) >= max_parallel or size > budget or used_ctx + size > self.n_ctx or too_many_rows:
                break
            group.append(j)
            budget -= size
            used_ctx += size
            rows += want
        return group
