"""A Hugging Face safetensors folder of a supported family written as a GGUF llama.cpp runs.

``winnow train --base DIR`` trains on the folder's own weights and tokenizer (nothing
dequantized), and the judge is served by llama.cpp on this GGUF of the same weights. What
llama.cpp's converter (``convert_hf_to_gguf.py``) does for the three families, read and
redone with the ``gguf`` package for what Winnow supports:

- tensor names from ``gguf.get_tensor_name_map`` of the family's architecture; the rows of
  llama's Q and K permuted to llama.cpp's rotary layout; Gemma's norms stored as ``w + 1``;
  no ``output.weight`` when the embeddings are tied;
- the hyperparameters llama.cpp reads (``{arch}.block_count``, ``…head_count_kv``, rotary base
  and scaling; Llama-3's rotary scaling as the ``rope_freqs`` tensor; Gemma-3's head size
  and sliding window);
- the tokenizer: a sentencepiece ``tokenizer.model`` (Gemma) as llama.cpp's ``llama``
  vocabulary (pieces, scores, types; no space prefix), else a byte-level BPE ``tokenizer.json``
  (vocabulary, merges, special tokens, the pre-tokenizer named by its split rule); padded to
  the embedding's rows; the chat template and BOS/EOS from ``tokenizer_config.json``.

The tokenizer written here is then checked token for token against the folder's own
tokenizer (``pretrained.check_tokenizer``), and the export's agreement check compares the
two engines' logits: a mistake here shows as a failed check, not as a silently worse judge.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.training.families import Family, family_of_hf, llama3_rope_factors

#: llama.cpp pre-tokenizer names by the split rule of a byte-level tokenizer.json.
PRE_TOKENIZER_SPLITS = {
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "llama-bpe": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}
HF_MARKER_FILES = ("config.json",)


def is_hf_folder(spec: str) -> bool:
    """Whether a base spec names a Hugging Face folder (config.json + safetensors)."""
    p = Path(os.path.expanduser(spec))
    return p.is_dir() and (p / "config.json").is_file() and any(p.glob("*.safetensors"))


def folder_sha256(folder: str | os.PathLike[str]) -> str:
    """One hash of what defines the model: config, tokenizer files and weights (by content)."""
    import hashlib

    from winnow.judge.llm.model_files import sha256_file

    root = Path(folder)
    names = sorted(
        p.name for p in root.iterdir()
        if p.is_file() and (p.suffix == ".safetensors" or p.name in (
            "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", "tokenizer.model", "chat_template.jinja"))
    )
    h = hashlib.sha256()
    for name in names:
        h.update(f"{name}\0{sha256_file(root / name)}\n".encode())
    return h.hexdigest()


def hf_config(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))


def write_gguf(folder: str | os.PathLike[str], out: str | os.PathLike[str], dtype: str = "auto",
               name: str | None = None) -> Path:
    """Write the folder's model as a GGUF at ``out`` (``dtype``: f32, f16, or auto: f32 for
    float32 weights, f16 otherwise); return the path."""
    import gguf

    src, out = Path(folder), Path(out)
    config = hf_config(src)
    fam = family_of_hf(str(config.get("model_type")))
    if not (src / "tokenizer.json").is_file() and not (src / "tokenizer.model").is_file():
        raise WinnowError(f"{src}: no tokenizer.json or tokenizer.model to write the tokenizer from")
    tensors = _load_tensors(src)
    if dtype == "auto":
        dtype = "f32" if all(t.dtype == np.float32 for t in tensors.values()) else "f16"
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), fam.arch)
    writer.add_name(name or str(config.get("_name_or_path") or src.name))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    extra = _add_hparams(writer, fam, config)
    n_vocab = int(tensors["model.embed_tokens.weight"].shape[0])
    if (src / "tokenizer.model").is_file():
        _add_sentencepiece_tokenizer(writer, src, n_vocab, fam)
    else:
        _add_tokenizer(writer, src, n_vocab)
    for gguf_name, value in _gguf_tensors(fam, config, tensors, extra):
        data = value.astype(np.float32)
        if dtype == "f16" and data.ndim >= 2:
            data = data.astype(np.float16)
        writer.add_tensor(gguf_name, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def _load_tensors(src: Path) -> dict[str, np.ndarray]:
    """Every tensor of the folder's safetensors files, as float32 numpy arrays (bf16 included)."""
    from safetensors import safe_open

    out: dict[str, np.ndarray] = {}
    for path in sorted(src.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                t = f.get_tensor(key)
                out[key] = t.float().numpy() if t.is_floating_point() else t.numpy()
    if "model.embed_tokens.weight" not in out:
        raise WinnowError(f"{src}: no model.embed_tokens.weight in its safetensors (not a causal LM folder?)")
    return out


def _rope_scaling(config: dict[str, Any]) -> dict[str, Any]:
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if "full_attention" in params:  # Gemma-3: per layer type; the global layers' is the file's
        params = params["full_attention"] or {}
    return dict(params)


def _rope_theta(config: dict[str, Any], default: float) -> float:
    params = config.get("rope_parameters") or {}
    if "full_attention" in params:
        params = params["full_attention"] or {}
    return float(params.get("rope_theta", config.get("rope_theta", default)))


def _add_hparams(writer: Any, fam: Family, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The hyperparameters llama.cpp reads for the family; extra tensors (Llama-3's rope_freqs)."""
    import gguf

    n_embd = int(config["hidden_size"])
    n_head = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or n_embd // n_head)
    writer.add_context_length(int(config.get("max_position_embeddings", 4096)))
    writer.add_embedding_length(n_embd)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or n_head))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(int(config["vocab_size"]))
    extra: dict[str, np.ndarray] = {}
    scaling = _rope_scaling(config)
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if fam.arch == "gemma3":
        _add_gemma3_hparams(writer, config, n_embd, n_head, head_dim)
    else:
        writer.add_rope_freq_base(_rope_theta(config, 10000.0))
        if fam.arch == "llama":
            writer.add_rope_dimension_count(head_dim)
            if head_dim != n_embd // n_head:
                writer.add_key_length(head_dim)
                writer.add_value_length(head_dim)
    if kind == "llama3":
        if fam.arch != "llama":
            raise WinnowError(f"llama3 rotary scaling on a {fam.arch} model")
        extra["rope_freqs.weight"] = llama3_rope_factors(
            _rope_theta(config, 10000.0), head_dim, float(scaling["factor"]), float(scaling["low_freq_factor"]),
            float(scaling["high_freq_factor"]), int(scaling["original_max_position_embeddings"]),
        ).astype(np.float32)
    elif kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    elif kind == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
        writer.add_rope_scaling_orig_ctx_len(int(scaling["original_max_position_embeddings"]))
    elif kind not in ("default", None):
        raise WinnowError(f"rotary scaling {kind!r} is not one Winnow writes: use llama.cpp's converter")
    return extra


def _add_gemma3_hparams(writer: Any, config: dict[str, Any], n_embd: int, n_head: int, head_dim: int) -> None:
    """Gemma-3's head size, sliding window and rotary bases; refused where llama.cpp's Gemma-3
    (fixed pattern of 6, attention scale from the head size, no soft-capping) would compute another model."""
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_sliding_window(int(config.get("sliding_window") or 4096))
    writer.add_rope_freq_base(_rope_theta(config, 1e6))
    local = (config.get("rope_parameters") or {}).get("sliding_attention") or {}
    local_base = float(local.get("rope_theta", config.get("rope_local_base_freq", 10000.0)))
    if local_base != 10000.0:
        writer.add_rope_freq_base_swa(local_base)
    query_scalar = config.get("query_pre_attn_scalar", head_dim)
    if int(query_scalar) != (n_embd // n_head if config["num_hidden_layers"] == 62 else head_dim):
        raise WinnowError(f"Gemma-3 with query_pre_attn_scalar {query_scalar} is not what llama.cpp computes")
    layer_types = config.get("layer_types")
    expected = ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(config["num_hidden_layers"])]
    if layer_types and list(layer_types) != expected:
        raise WinnowError("Gemma-3 with another sliding-window pattern than every 6th layer global: llama.cpp "
                          "would compute another model")
    if config.get("final_logit_softcapping") or config.get("attn_logit_softcapping"):
        raise WinnowError("Gemma-3 with logit soft-capping: llama.cpp's Gemma-3 has none")


def _gguf_tensors(fam: Family, config: dict[str, Any], tensors: dict[str, np.ndarray],
                  extra: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """(llama.cpp name, data) of every tensor, converted as llama.cpp's converter does."""
    import gguf

    from winnow.judge.training.adapter_gguf import permute_rows

    by_name = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}
    tmap = gguf.get_tensor_name_map(by_name[fam.arch], int(config["num_hidden_layers"]))
    n_head = int(config["num_attention_heads"])
    n_head_kv = int(config.get("num_key_value_heads") or n_head)
    tied = bool(config.get("tie_word_embeddings", "lm_head.weight" not in tensors))
    out = list(extra.items())
    for hf_name, value in tensors.items():
        if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
            continue
        gguf_name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise WinnowError(f"no llama.cpp tensor corresponds to {hf_name} ({fam.arch})")
        if fam.permute_qk and hf_name.endswith("self_attn.q_proj.weight"):
            value = permute_rows(value, n_head)
        elif fam.permute_qk and hf_name.endswith("self_attn.k_proj.weight"):
            value = permute_rows(value, n_head_kv)
        if fam.norm_shift and hf_name.endswith("norm.weight"):
            value = value + fam.norm_shift
        out.append((gguf_name, value))
    return out


def _pre_tokenizer(tok: dict[str, Any]) -> str:
    """llama.cpp's name of the tokenizer's pre-tokenizer (refused when it is none Winnow knows)."""
    pre = tok.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    splits = [s.get("pattern", {}).get("Regex") for s in steps if s.get("type") == "Split"]
    if kinds == ["Split", "ByteLevel"] and splits:
        for name, regex in PRE_TOKENIZER_SPLITS.items():
            if splits[0] == regex:
                return name
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    raise WinnowError(
        f"the folder's pre-tokenizer ({kinds}) is not one Winnow can name for llama.cpp: convert the model with "
        "llama.cpp's convert_hf_to_gguf.py and pass the GGUF"
    )


def _add_tokenizer(writer: Any, src: Path, n_vocab: int) -> None:
    """The byte-level BPE tokenizer of ``tokenizer.json`` (padded to ``n_vocab`` rows) with its
    merges, special tokens and chat template."""
    import gguf

    tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    model = tok.get("model") or {}
    if model.get("type") != "BPE" or not any(
        s.get("type") == "ByteLevel" for s in [tok.get("pre_tokenizer") or {}] + list(
            (tok.get("pre_tokenizer") or {}).get("pretokenizers", []))
    ):
        raise WinnowError(f"{src}: Winnow writes byte-level BPE tokenizers only; use the model's GGUF as --base")
    pre = _pre_tokenizer(tok)
    texts: dict[int, str] = {int(i): t for t, i in model["vocab"].items()}
    types: dict[int, int] = {i: gguf.TokenType.NORMAL for i in texts}
    for added in tok.get("added_tokens", []):
        i = int(added["id"])
        texts[i] = added["content"]
        types[i] = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
    if max(texts) >= n_vocab:
        raise WinnowError(f"{src}: the tokenizer has token ids beyond the embedding's {n_vocab} rows")
    tokens, toktypes = [], []
    for i in range(n_vocab):
        if i in texts:
            tokens.append(texts[i])
            toktypes.append(types[i])
        else:
            tokens.append(f"[PAD{i}]")
            toktypes.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(toktypes)
    special = gguf.SpecialVocab(src, load_merges=True, n_vocab=n_vocab)
    if "bos" not in special.add_special_token:
        # No BOS rule in the folder (Qwen2.5 adds none): say so, or llama.cpp adds one by default.
        special.add_special_token["bos"] = False
    special.add_to_gguf(writer, quiet=True)
    if special.chat_template is None and (src / "chat_template.jinja").is_file():
        writer.add_chat_template((src / "chat_template.jinja").read_text(encoding="utf-8"))


def _add_sentencepiece_tokenizer(writer: Any, src: Path, n_vocab: int, fam: Family) -> None:
    """A sentencepiece ``tokenizer.model`` as llama.cpp's ``llama`` vocabulary: every piece with
    its score and type, the tokens ``tokenizer.json`` adds beyond them, padding to ``n_vocab``."""
    import gguf
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((src / "tokenizer.model").read_bytes())
    if proto.trainer_spec.model_type not in (1, 2):  # UNIGRAM, BPE
        raise WinnowError(f"{src}: a sentencepiece model of type {proto.trainer_spec.model_type} is not supported")
    tokens = [p.piece for p in proto.pieces]
    scores = [float(p.score) for p in proto.pieces]
    types = [int(p.type) for p in proto.pieces]  # sentencepiece's numbering is gguf.TokenType's
    added = {}
    if (src / "tokenizer.json").is_file():
        for tok in json.loads((src / "tokenizer.json").read_text(encoding="utf-8")).get("added_tokens", []):
            added[int(tok["id"])] = tok
    for i, tok in sorted(added.items()):
        kind = gguf.TokenType.CONTROL if tok.get("special") else gguf.TokenType.USER_DEFINED
        if i < len(tokens):
            if tokens[i] != tok["content"]:
                raise WinnowError(f"{src}: tokenizer.json's added token {i} {tok['content']!r} is "
                                  f"{tokens[i]!r} in tokenizer.model")
            if types[i] == gguf.TokenType.NORMAL:
                types[i] = kind
            continue
        while len(tokens) < i:
            tokens.append(f"[PAD{len(tokens)}]")
            scores.append(-1000.0)
            types.append(gguf.TokenType.UNUSED)
        tokens.append(tok["content"])
        scores.append(-1000.0)
        types.append(kind)
    if len(tokens) > n_vocab:
        raise WinnowError(f"{src}: the tokenizer has {len(tokens)} tokens, the embedding {n_vocab} rows")
    while len(tokens) < n_vocab:
        tokens.append(f"[PAD{len(tokens)}]")
        scores.append(-1000.0)
        types.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    if fam.arch == "gemma3":
        writer.add_add_space_prefix(False)  # as llama.cpp's converter writes Gemma-3
    special = gguf.SpecialVocab(src, load_merges=False, n_vocab=n_vocab)
    if "bos" not in special.add_special_token:
        special.add_special_token["bos"] = True  # sentencepiece models add BOS unless they say otherwise
    special.add_to_gguf(writer, quiet=True)
    if special.chat_template is None and (src / "chat_template.jinja").is_file():
        writer.add_chat_template((src / "chat_template.jinja").read_text(encoding="utf-8"))
