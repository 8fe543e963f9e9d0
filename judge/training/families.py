"""What each supported base family needs, between llama.cpp's GGUF and transformers.

A judge is trained under transformers and served by llama.cpp, so every family needs three
things to agree: the tensor layout of the adapter (``adapter_gguf``), the model that
transformers rebuilds from the GGUF (this module's ``fix_gguf_config``), and the tokenizer
(checked in ``pretrained``). Read from llama.cpp's converter (``convert_hf_to_gguf.py``) and its
model loader, and verified on tiny random models of each family in
``tests/judge/training/test_families.py``:

- **llama** (Llama-3.x, SmolLM2): llama.cpp's converter permutes the rows of Q and K for its
  rotary layout (transformers undoes it when loading a GGUF, so LoRA's ``lora_B`` of
  ``q_proj``/``k_proj`` must be permuted back on export). Llama-3.1/3.2 files carry their
  rotary scaling as a ``rope_freqs`` tensor (one divisor per frequency), which transformers'
  GGUF loader ignores: the ``llama3`` rope parameters are recovered from it here.
- **qwen2** (Qwen2.5, Qwen2.5-Coder): no permutation (NEOX rotary, as in transformers); biases
  on Q/K/V (LoRA leaves them alone); ``rope.scaling`` (YaRN, linear) when the file has it.
- **gemma3** (Gemma-3 text): no permutation; norms stored as ``w + 1`` (transformers subtracts
  it); embeddings scaled by sqrt(hidden) on both sides; every 6th layer global, the others
  sliding-window with a local rotary base of 10000 (llama.cpp's fixed pattern); the global
  layers' linear rope scaling (Gemma-3 4B+: factor 8) and the attention scale (1/sqrt(head_dim),
  1/sqrt(hidden/heads) for the 62-layer 27B) are what llama.cpp computes and transformers'
  GGUF loader does not read; no logit soft-capping in Gemma-3.

Any other architecture trains and exports (the gguf package names its tensors) but has not
been verified: ``winnow train`` says so, and the export's agreement check is the only guard.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from winnow.judge.base.errors import WinnowError


@dataclass(frozen=True)
class Family:
    """A base family Winnow trains, exports and serves (verified on tiny models in CI)."""

    #: ``general.architecture`` in the GGUF (llama.cpp's name)
    arch: str
    #: transformers' ``model_type`` of a Hugging Face folder of this family
    hf_model_types: tuple[str, ...]
    #: llama.cpp's converter permutes the rows of Q and K (LoRA's ``lora_B`` must follow)
    permute_qk: bool
    #: llama.cpp stores the norm weights as ``w + norm_shift`` (Gemma's RMSNorm multiplies by 1 + w)
    norm_shift: float
    #: the models of the family Winnow is meant for (for messages and docs)
    examples: str


FAMILIES: dict[str, Family] = {
    "llama": Family("llama", ("llama",), True, 0.0, "Llama-3.2, SmolLM2"),
    "qwen2": Family("qwen2", ("qwen2",), False, 0.0, "Qwen2.5-Coder"),
    "gemma3": Family("gemma3", ("gemma3_text",), False, 1.0, "Gemma-3 (text)"),
}
SUPPORTED = tuple(FAMILIES)


def family(arch: str | None) -> Family | None:
    """The verified family of a GGUF architecture (None: not one Winnow has verified)."""
    return FAMILIES.get(arch or "")


def family_of_hf(model_type: str) -> Family:
    """The family of a Hugging Face folder's ``model_type``, refused when Winnow cannot write it."""
    for fam in FAMILIES.values():
        if model_type in fam.hf_model_types:
            return fam
    if model_type == "gemma3":
        raise WinnowError(
            "this Hugging Face folder is Gemma-3 with its vision tower (Gemma3ForConditionalGeneration): "
            "Winnow trains the text model only; use the model's GGUF (its text weights) as --base"
        )
    raise WinnowError(
        f"a Hugging Face folder of model_type {model_type!r} is not supported as a base "
        f"(supported: {', '.join(t for f in FAMILIES.values() for t in f.hf_model_types)}); "
        "convert it with llama.cpp's convert_hf_to_gguf.py and pass the GGUF"
    )


def unverified_note(arch: str | None) -> str | None:
    """What to tell a user whose base is not of a verified family (None when it is)."""
    if family(arch) is not None:
        return None
    return (
        f"warning: the base's architecture {arch!r} has not been verified with Winnow (verified: "
        f"{', '.join(SUPPORTED)}): the adapter's layout in llama.cpp is unchecked; read the export's "
        "agreement figures before trusting the judge"
    )


# --- transformers' copy of a GGUF: what its GGUF loader leaves out ----------------------------------


def gguf_metadata(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(scalar metadata, the small tensors a config fix reads) of a GGUF."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path), "r")
    meta: dict[str, Any] = {}
    for key, f in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key not in ("tokenizer.ggml.model", "tokenizer.ggml.pre"):
            continue  # vocabularies: large and not needed here
        try:
            meta[key] = f.contents()
        except Exception:  # noqa: BLE001 - an odd field is not one a fix reads
            continue
    tensors = {t.name: np.array(t.data, dtype=np.float64) for t in reader.tensors if t.name == "rope_freqs.weight"}
    return meta, tensors


def fix_gguf_config(config: Any, path: str | os.PathLike[str]) -> list[str]:
    """Set on ``config`` (transformers', as its GGUF loader built it) what llama.cpp computes
    from the same file and that loader does not read; return what was changed."""
    meta, tensors = gguf_metadata(path)
    arch = meta.get("general.architecture")
    if arch == "llama":
        return _fix_llama(config, meta, tensors)
    if arch == "qwen2":
        return _fix_rope_scaling(config, meta, "qwen2")
    if arch == "gemma3":
        return _fix_gemma3(config, meta)
    return []


def _rope_scaling(meta: dict[str, Any], arch: str) -> dict[str, Any] | None:
    """transformers' rope parameters for the file's ``rope.scaling.*`` (None: none, or none that changes anything)."""
    kind = meta.get(f"{arch}.rope.scaling.type")
    factor = meta.get(f"{arch}.rope.scaling.factor")
    if kind in (None, "none") or factor in (None, 1.0):
        return None
    if kind == "linear":
        return {"rope_type": "linear", "factor": float(factor)}
    if kind == "yarn":
        out: dict[str, Any] = {"rope_type": "yarn", "factor": float(factor)}
        orig = meta.get(f"{arch}.rope.scaling.original_context_length")
        if orig is not None:
            out["original_max_position_embeddings"] = int(orig)
        return out
    raise WinnowError(f"the base's rotary scaling {kind!r} ({arch}) is not one Winnow can reproduce under transformers")


def _fix_rope_scaling(config: Any, meta: dict[str, Any], arch: str) -> list[str]:
    scaling = _rope_scaling(meta, arch)
    if scaling is None:
        return []
    params = dict(config.rope_parameters or {})
    params.update(scaling)
    config.rope_parameters = params
    return [f"rope scaling {scaling}"]


def _fix_llama(config: Any, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> list[str]:
    notes = _fix_rope_scaling(config, meta, "llama")
    freqs = tensors.get("rope_freqs.weight")
    if freqs is None:
        return notes
    head_dim = int(meta.get("llama.rope.dimension_count") or config.head_dim)
    theta = float(meta.get("llama.rope.freq_base", 10000.0))
    params = llama3_rope_from_freqs(freqs, theta, head_dim)
    config.rope_parameters = {"rope_theta": theta, **params}
    return notes + [f"llama3 rope {params} (from rope_freqs)"]


def llama3_rope_factors(theta: float, head_dim: int, factor: float, low: float, high: float, orig: int) -> np.ndarray:
    """The divisor of each rotary frequency under Llama-3's scaling (what llama.cpp's
    converter writes as ``rope_freqs``: llama.cpp divides each frequency by it)."""
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    wavelen = 2 * math.pi / inv
    low_wavelen, high_wavelen = orig / low, orig / high
    out = np.ones_like(inv)
    for i, w in enumerate(wavelen):
        if w < high_wavelen:
            continue
        if w > low_wavelen:
            out[i] = factor
        else:
            smooth = (orig / w - low) / (high - low)
            out[i] = 1.0 / ((1 - smooth) / factor + smooth)
    return out


def llama3_rope_from_freqs(freqs: np.ndarray, theta: float, head_dim: int) -> dict[str, Any]:
    """The ``llama3`` rope parameters that reproduce a GGUF's ``rope_freqs`` (refused when none do)."""
    factor = float(np.max(freqs))
    if factor <= 1.0 + 1e-6:
        return {"rope_type": "default"}
    for low, high in ((1.0, 4.0), (1.0, 2.0), (1.0, 8.0), (0.5, 2.0), (2.0, 8.0)):  # Meta's (1, 4) first
        for orig in [2**k for k in range(5, 18)]:
            guess = llama3_rope_factors(theta, head_dim, factor, low, high, orig)
            if guess.shape == freqs.shape and np.allclose(guess, freqs, rtol=1e-4, atol=1e-6):
                return {"rope_type": "llama3", "factor": factor, "low_freq_factor": low,
                        "high_freq_factor": high, "original_max_position_embeddings": orig}
    raise WinnowError(
        "the base's rope_freqs tensor matches no Llama-3 rotary scaling Winnow knows: transformers would "
        "compute another rotary embedding than llama.cpp"
    )


#: llama.cpp's Gemma-3: every 6th layer global, the others sliding-window, local rotary base 10000.
GEMMA3_SWA_PATTERN = 6
GEMMA3_LOCAL_ROPE_BASE = 10000.0


def _fix_gemma3(config: Any, meta: dict[str, Any]) -> list[str]:
    n_layers = int(meta["gemma3.block_count"])
    n_embd = int(meta["gemma3.embedding_length"])
    n_head = int(meta["gemma3.attention.head_count"])
    head_dim = int(meta.get("gemma3.attention.key_length") or n_embd // n_head)
    # llama.cpp's attention scale: 1/sqrt(head_dim), but 1/sqrt(hidden/heads) for the 62-layer 27B.
    config.query_pre_attn_scalar = n_embd // n_head if n_layers == 62 else head_dim
    config.layer_types = [
        "sliding_attention" if (i + 1) % GEMMA3_SWA_PATTERN else "full_attention" for i in range(n_layers)
    ]
    full: dict[str, Any] = {"rope_type": "default", "rope_theta": float(meta.get("gemma3.rope.freq_base", 1e6))}
    scaling = _rope_scaling(meta, "gemma3")
    if scaling is not None:
        full.update(scaling)
    local = {"rope_type": "default",
             "rope_theta": float(meta.get("gemma3.rope.freq_base_swa", GEMMA3_LOCAL_ROPE_BASE))}
    config.rope_parameters = {"full_attention": full, "sliding_attention": local}
    config.final_logit_softcapping = None
    config.attn_logit_softcapping = None
    return [f"gemma3: attention scalar {config.query_pre_attn_scalar}, rope {config.rope_parameters}, "
            f"sliding window {config.sliding_window} every layer but each {GEMMA3_SWA_PATTERN}th"]
