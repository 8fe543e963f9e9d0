"""A peft LoRA adapter written as a llama.cpp LoRA GGUF (``write_adapter_gguf``).

The adapter GGUF is what llama.cpp's own ``convert_lora_to_gguf.py`` writes: arch of
the base, ``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha``,
and for every adapted projection two tensors named ``<gguf tensor name>.lora_a``
(r × in, as peft stores A) and ``.lora_b`` (out × r), the gguf names from
``gguf.get_tensor_name_map`` of the base's own architecture (``general.architecture``).
For llama bases the rows of ``lora_b`` of ``q_proj`` and ``k_proj`` are permuted exactly as
llama.cpp's converter permutes the Q and K weights for its rotary layout (heads × 2 ×
half-dim, middle axes swapped; ``n_head`` for Q, ``n_head_kv`` for K). transformers undoes
that permutation when it loads a GGUF, so the LoRA is learned in the unpermuted layout;
without permuting it back the adapter loads and silently computes something else. Qwen2 and
Gemma-3 are converted without that permutation (``families``), and so are their adapters.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.training.families import FAMILIES

if TYPE_CHECKING:
    from winnow.judge.training.pretrained import GGUFFacts

T = TypeVar("T")

#: Architectures whose Q/K weights llama.cpp's converter permutes (convert_hf_to_gguf.py's LlamaModel).
PERMUTED_QK_ARCHS = {f.arch for f in FAMILIES.values() if f.permute_qk}


def permute_rows(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's Q/K row permutation (convert_hf_to_gguf ``LlamaModel.permute``)."""
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise WinnowError(f"cannot permute {rows} rows into {n_head} heads × 2 halves")
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _base_name(peft_key: str) -> tuple[str, str] | None:
    """``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`` →
    (``model.layers.0.self_attn.q_proj.weight``, ``a``)."""
    key = peft_key.removeprefix("base_model.model.")
    for marker, which in ((".lora_A.weight", "a"), (".lora_B.weight", "b")):
        if key.endswith(marker):
            return key[: -len(marker)] + ".weight", which
    return None


@dataclass(frozen=True)
class AdapterFile:
    """What ``write_adapter_gguf`` wrote (the manifest's ``training.adapter``, and the export report's)."""

    tensors: int
    parameters: int
    rank: int
    alpha: float
    dtype: str
    permuted_qk: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def write_adapter_gguf(
    adapter_dir: str | os.PathLike[str], facts: GGUFFacts, path: str | os.PathLike[str],
    dtype: str = "f32", name: str = "winnow judge LoRA", permute_qk: bool | None = None,
) -> AdapterFile:
    """Write peft's adapter (``adapter_model.safetensors`` + ``adapter_config.json``) as a
    llama.cpp LoRA GGUF for the base described by ``facts`` (``pretrained.gguf_facts``).
    ``permute_qk`` (None: as llama.cpp converts the base's architecture) exists only to show
    what goes wrong with the other layout."""
    adapter_dir = Path(adapter_dir)
    r, alpha = _lora_settings(adapter_dir)
    arch = _required(facts.architecture, "architecture")
    permute = arch in PERMUTED_QK_ARCHS if permute_qk is None else permute_qk
    pairs = _tensor_pairs(adapter_dir, facts, arch, permute)
    n_params = _write_gguf(Path(path), adapter_dir, pairs, arch, alpha, name, dtype)
    return AdapterFile(tensors=2 * len(pairs), parameters=n_params, rank=r, alpha=alpha, dtype=dtype,
                       permuted_qk=permute)


def _lora_settings(adapter_dir: Path) -> tuple[int, float]:
    """(rank, alpha as llama.cpp scales it) of a plain LoRA adapter; anything llama.cpp's
    adapter cannot express is refused."""
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora"):
        raise WinnowError(f"{adapter_dir}: only plain LoRA adapters can be exported for llama.cpp (no DoRA)")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise WinnowError(f"{adapter_dir}: per-module ranks/alphas cannot be expressed in a llama.cpp adapter")
    if config.get("modules_to_save"):
        raise WinnowError(f"{adapter_dir}: modules_to_save cannot be exported as a LoRA adapter")
    r = int(config["r"])
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha = alpha * math.sqrt(r)  # llama.cpp scales by alpha / r; rsLoRA by alpha / sqrt(r)
    return r, alpha


def _required(value: T | None, what: str) -> T:
    if value is None:
        raise WinnowError(f"the base's GGUF does not say its {what}")
    return value


def _tensor_pairs(adapter_dir: Path, facts: GGUFFacts, arch: str, permute: bool) -> dict[str, dict[str, np.ndarray]]:
    """{llama.cpp tensor name: {"a": lora_A, "b": lora_B}} in float32, ``lora_B`` of Q and K
    permuted to llama.cpp's rotary layout when ``permute``."""
    import gguf
    from safetensors.numpy import load_file

    by_name = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in by_name:
        raise WinnowError(f"the base's architecture {arch!r} is unknown to the gguf package")
    tmap = gguf.get_tensor_name_map(by_name[arch], int(_required(facts.n_layers, "block count")))
    n_head = int(_required(facts.n_head, "head count"))
    n_head_kv = int(facts.n_head_kv or n_head)
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for key, value in weights.items():
        parsed = _base_name(key)
        if parsed is None:
            raise WinnowError(f"{adapter_dir}: unexpected tensor {key!r} (not a lora_A / lora_B weight)")
        hf_name, which = parsed
        gguf_name = tmap.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None:
            raise WinnowError(f"{adapter_dir}: no llama.cpp tensor corresponds to {hf_name}")
        value = value.astype(np.float32)
        if which == "b" and permute:
            if hf_name.endswith("self_attn.q_proj.weight"):
                value = permute_rows(value, n_head)
            elif hf_name.endswith("self_attn.k_proj.weight"):
                value = permute_rows(value, n_head_kv)
        pairs[gguf_name][which] = value
    if not pairs:
        raise WinnowError(f"{adapter_dir}: the adapter holds no LoRA tensors")
    return pairs


def _write_gguf(out: Path, adapter_dir: Path, pairs: dict[str, dict[str, np.ndarray]], arch: str, alpha: float,
                name: str, dtype: str) -> int:
    """Write the adapter GGUF (to a temporary file, then renamed); return its parameter count."""
    import gguf

    np_dtype = {"f32": np.float32, "f16": np.float16}[dtype]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(name)
    n_params = 0
    for gguf_name in sorted(pairs, key=_tensor_order):
        ab = pairs[gguf_name]
        if set(ab) != {"a", "b"}:
            raise WinnowError(f"{adapter_dir}: {gguf_name} lacks its lora_{'b' if 'a' in ab else 'a'} half")
        if ab["a"].shape[0] != ab["b"].shape[1]:
            raise WinnowError(f"{adapter_dir}: {gguf_name} has mismatched ranks {ab['a'].shape} / {ab['b'].shape}")
        writer.add_tensor(gguf_name + ".lora_a", ab["a"].astype(np_dtype))
        writer.add_tensor(gguf_name + ".lora_b", ab["b"].astype(np_dtype))
        n_params += ab["a"].size + ab["b"].size
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return int(n_params)


def _tensor_order(name: str) -> tuple[int, str]:
    """Tensors by layer (the rest first), as llama.cpp's converter writes them."""
    parts = name.split(".")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1, name)
