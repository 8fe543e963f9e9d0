"""A loaded GGUF model: weights, vocabulary (tokenizer, token pieces), metadata and the
logit masks built over its vocabulary once. No context: ``BatchContext`` (batch_context.py), which ``Engine`` extends, makes those."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

import numpy as np

from winnow.judge.base.errors import ModelError
from winnow.judge.llm.llama_lib import load_llama, recent_llama_errors


class Model:
    """A loaded GGUF model: weights, vocabulary and metadata (no context)."""

    def __init__(self, path: str | os.PathLike[str], n_gpu_layers: int = 0) -> None:
        self.llama_cpp = load_llama()
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
