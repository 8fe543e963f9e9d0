"""The one place that touches llama-cpp-python.

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
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from winnow.judge.base.errors import Cancelled, ModelError

log = logging.getLogger(__name__)

CancelCheck = Callable[[], bool]

_backend_lock = threading.Lock()
_backend_ready = False


def _llama() -> Any:
    """Import llama_cpp lazily (it loads a shared library) and init the backend once."""
    global _backend_ready
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ModelError(
            f"llama-cpp-python is not importable ({exc}); reinstall Winnow with the README's set-up command"
        ) from exc
    with _backend_lock:
        if not _backend_ready:
            _silence_llama_logs(llama_cpp)
            llama_cpp.llama_backend_init()
            _backend_ready = True
    return llama_cpp


_log_callback_ref: Any = None
_recent_errors: list[str] = []  # llama.cpp's last error lines, quoted in our own errors


def recent_llama_errors(clear: bool = True) -> str:
    text = "; ".join(_recent_errors[-3:])
    if clear:
        _recent_errors.clear()
    return text


def _silence_llama_logs(llama_cpp: Any) -> None:
    """Route llama.cpp's own logging to Python's (at debug level) instead of stderr."""
    global _log_callback_ref

    @llama_cpp.llama_log_callback
    def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level == 3:  # GGML_LOG_LEVEL_ERROR
            _recent_errors.append(text.decode("utf-8", errors="replace").strip())
            del _recent_errors[:-10]
        if log.isEnabledFor(logging.DEBUG):
            log.debug("llama.cpp: %s", text.decode("utf-8", errors="replace").rstrip())

    _log_callback_ref = _callback  # keep a reference: ctypes must not free it
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def physical_cores() -> int:
    """Physical cores (hyper-threads share an FPU, and llama.cpp gains nothing from them)."""
    try:
        cores: set[tuple[str, str]] = set()
        physical = core = None
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("physical id"):
                    physical = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                elif not line.strip() and core is not None:
                    cores.add((physical or "0", core))
                    physical = core = None
        if core is not None:
            cores.add((physical or "0", core))
        if cores:
            return min(len(cores), len(os.sched_getaffinity(0)))
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)


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


def _log_softmax_at(logits: np.ndarray, token: int) -> float:
    m = float(logits.max())
    return float(logits[token] - m - np.log(np.exp(logits - m).sum()))


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


class Model:
    """A loaded GGUF model: weights, vocabulary and metadata (no context)."""

    def __init__(self, path: str | os.PathLike[str], n_gpu_layers: int = 0) -> None:
        self.llama_cpp = _llama()
        self.path = str(path)
        params = self.llama_cpp.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers
        params.use_mmap = True
        recent_llama_errors(clear=True)
        model = self.llama_cpp.llama_model_load_from_file(self.path.encode("utf-8"), params)
        if not model:
            why = recent_llama_errors() or "no reason given"
            raise ModelError(
                f"llama.cpp could not load {self.path} ({why}): the file may be damaged or use an "
                "architecture this llama.cpp build does not know; try another GGUF"
            )
        self.model = model
        self.vocab = self.llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = int(self.llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.n_ctx_train = int(self.llama_cpp.llama_model_n_ctx_train(model))
        self.metadata = self._read_metadata()
        self._piece_cache: dict[int, bytes] = {}
        self.masks: dict[str, np.ndarray] = {}  # logit biases over this vocabulary, built once

    def _read_metadata(self) -> dict[str, str]:
        lc = self.llama_cpp
        out: dict[str, str] = {}
        buf = ctypes.create_string_buffer(1 << 16)
        for i in range(int(lc.llama_model_meta_count(self.model))):
            n = lc.llama_model_meta_key_by_index(self.model, i, buf, len(buf))
            if n < 0:
                continue
            key = buf.value.decode("utf-8", errors="replace")
            n = lc.llama_model_meta_val_str_by_index(self.model, i, buf, len(buf))
            if n < 0:
                continue
            out[key] = buf.value.decode("utf-8", errors="replace")
        return out

    def close(self) -> None:
        if getattr(self, "model", None):
            self.llama_cpp.llama_model_free(self.model)
            self.model = None

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:
            pass

    # --- vocabulary -------------------------------------------------------------------

    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True) -> list[int]:
        """Text → token ids; ``parse_special`` lets chat/FIM control tokens through."""
        data = text.encode("utf-8")
        capacity = len(data) + 16
        buf = (self.llama_cpp.llama_token * capacity)()
        n = self.llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_special, parse_special)
        if n < 0:
            capacity = -n
            buf = (self.llama_cpp.llama_token * capacity)()
            n = self.llama_cpp.llama_tokenize(
                self.vocab, data, len(data), buf, capacity, add_special, parse_special
            )
        return list(buf[:n])

    def token_piece(self, token: int) -> bytes:
        """The bytes of one token as text (control tokens render as nothing)."""
        cached = self._piece_cache.get(token)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = self.llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        piece = buf.raw[:n]
        self._piece_cache[token] = piece
        return piece

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.token_piece(t) for t in tokens).decode("utf-8", errors="replace")

    def all_pieces(self) -> list[bytes]:
        """Every token's bytes (computed once; used to build token masks)."""
        if len(self._piece_cache) < self.n_vocab:
            for t in range(self.n_vocab):
                self.token_piece(t)
        return [self._piece_cache[t] for t in range(self.n_vocab)]

    def eog_bias(self) -> np.ndarray:
        """A logit bias that bans every end-of-generation token."""
        bias = self.masks.get("eog")
        if bias is None:
            bias = np.zeros(self.n_vocab, dtype=np.float32)
            for t in range(self.n_vocab):
                if self.is_eog(t):
                    bias[t] = -np.inf
            self.masks["eog"] = bias
        return bias

    def token_text(self, token: int) -> str:
        """The vocabulary entry of a token (e.g. ``<fim_prefix>``), special or not."""
        raw = self.llama_cpp.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    def is_eog(self, token: int) -> bool:
        return bool(self.llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def bos(self) -> int:
        return int(self.llama_cpp.llama_vocab_bos(self.vocab))

    def add_bos(self) -> bool:
        return bool(self.llama_cpp.llama_vocab_get_add_bos(self.vocab))

    def chat_template(self) -> str | None:
        raw = self.llama_cpp.llama_model_chat_template(self.model, None)
        return raw.decode("utf-8", errors="replace") if raw else None

    def special_token(self, name: str) -> int | None:
        """FIM token ids the vocabulary declares (``fim_pre``, ``fim_suf``, ``fim_mid``...)."""
        fn = getattr(self.llama_cpp, f"llama_vocab_{name}", None)
        if fn is None:
            return None
        token = int(fn(self.vocab))
        return token if token >= 0 else None

    def find_token(self, text: str) -> int | None:
        """Id of a vocabulary entry spelled exactly ``text`` (used for known FIM families)."""
        ids = self.tokenize(text, add_special=False, parse_special=True)
        if len(ids) == 1 and self.token_text(ids[0]) == text:
            return ids[0]
        return None


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

        states = [_SeqState() for _ in range(n)]
        stops = _Stops([s for s in stop if s], stop_fn, max_tokens)
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
        states: list[_SeqState], step: int, deadline: float | None,
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
        self, states: list[_SeqState], logits_rows: list[np.ndarray], step: int, n_prompt: int,
        pick: Callable[[np.ndarray, int], int], stops: _Stops,
    ) -> dict[int, int]:
        """Draw every running sequence's next token, end those that finish, and add the
        others to the batch; return {sequence index: its row in the batch}."""
        index_of: dict[int, int] = {}
        for i, st in enumerate(states):
            if st.finish is not None:
                continue
            row = logits_rows[i]
            token = pick(row, step)
            st.logprobs.append(_log_softmax_at(row, token))
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
        first, _ = self.prefill(prefix, cancel)
        out = [np.zeros(len(c), dtype=np.float64) for c in continuations]
        for j, cont in enumerate(continuations):
            if len(cont):
                out[j][0] = _log_softmax_at(first, cont[0])
        # Token k+1's log-prob comes from the logits at token k: the last token is not fed.
        heads = [list(c[:-1]) for c in continuations]
        todo = [j for j, h in enumerate(heads) if h]

        def keep_all(i: int, rows: list[int]) -> None:
            j = todo[i]
            cont = continuations[j]
            for k, row in enumerate(rows):
                out[j][k + 1] = _log_softmax_at(self._logits(row), cont[k + 1])

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


@dataclass(frozen=True)
class _Stops:
    """When a sampled sequence is complete: a stop string, ``stop_fn``, or ``max_tokens``."""

    strings: list[str]
    fn: Callable[[str], int | None] | None
    max_tokens: int


@dataclass
class _SeqState:
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
