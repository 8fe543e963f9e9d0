"""Tiny GGUF files written with the ``gguf`` package, for tests of metadata handling.

A one-layer llama model with random weights and a byte-level BPE vocabulary that
declares fill-in-the-middle tokens: llama.cpp loads and runs it in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIM_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")


def _byte_vocab() -> list[str]:
    """GPT-2's byte-to-unicode table: every byte as one printable character."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for _, c in sorted(zip(printable, chars, strict=True))]


def write_tiny_llama(path: Path, fim: bool = True, name: str = "tiny-test", seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    tokens = _byte_vocab()
    types = [gguf.TokenType.NORMAL] * len(tokens)
    merges = ["Ġ Ġ", "ĠĠ ĠĠ", "e t", "r e", "Y e", "Ye s", "N o"]
    for m in merges:
        tokens.append(m.replace(" ", ""))
        types.append(gguf.TokenType.NORMAL)
    specials = ["<|endoftext|>"] + (list(FIM_TOKENS) if fim else [])
    for s in specials:
        tokens.append(s)
        types.append(gguf.TokenType.CONTROL)
    n_vocab, n_embd, n_ff, n_head, n_head_kv = len(tokens), 64, 128, 4, 2
    head_dim = n_embd // n_head

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(512)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    eot = tokens.index("<|endoftext|>")
    writer.add_bos_token_id(eot)
    writer.add_eos_token_id(eot)
    writer.add_add_bos_token(False)
    if fim:
        writer.add_uint32("tokenizer.ggml.fim_pre_token_id", tokens.index(FIM_TOKENS[0]))
        writer.add_uint32("tokenizer.ggml.fim_suf_token_id", tokens.index(FIM_TOKENS[1]))
        writer.add_uint32("tokenizer.ggml.fim_mid_token_id", tokens.index(FIM_TOKENS[2]))

    def t(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("output.weight", n_vocab, n_embd)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("blk.0.attn_q.weight", n_embd, n_embd)
    t("blk.0.attn_k.weight", n_head_kv * head_dim, n_embd)
    t("blk.0.attn_v.weight", n_head_kv * head_dim, n_embd)
    t("blk.0.attn_output.weight", n_embd, n_embd)
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("blk.0.ffn_gate.weight", n_ff, n_embd)
    t("blk.0.ffn_up.weight", n_ff, n_embd)
    t("blk.0.ffn_down.weight", n_embd, n_ff)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_random_lora(
    path: Path, base_path: str, rank: int = 4, alpha: float = 8.0, layers: int = 4, scale: float = 0.05, seed: int = 0
) -> Path:
    """A random LoRA adapter GGUF on attn_q / attn_v of the first ``layers`` blocks of a
    llama base (shapes read from the base): enough to change what the model computes."""
    import gguf

    rng = np.random.default_rng(seed)
    reader = gguf.GGUFReader(base_path)
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}  # ggml order: [in, out]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for layer in range(layers):
        for proj in ("attn_q", "attn_v"):
            name = f"blk.{layer}.{proj}.weight"
            n_in, n_out = shapes[name]
            writer.add_tensor(f"{name}.lora_a", (rng.standard_normal((rank, n_in)) * scale).astype(np.float32))
            writer.add_tensor(f"{name}.lora_b", (rng.standard_normal((n_out, rank)) * scale).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
