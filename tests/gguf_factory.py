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


# --- tiny random models of the supported families, as Hugging Face folders and as GGUFs ------------

#: Each family's special tokens and a chat template shaped like its real one (Qwen2.5's ChatML,
#: Llama-3.2's headers with the knowledge/today dates, Gemma-3's turns with the system message
#: folded into the first user turn), and whether its tokenizer adds BOS.
FAMILY_TOKENS = {
    "llama": ("<|begin_of_text|>", "<|end_of_text|>", ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")),
    "qwen2": (None, "<|endoftext|>", ("<|im_start|>", "<|im_end|>")),
    "gemma3": ("<bos>", "<eos>", ("<pad>", "<start_of_turn>", "<end_of_turn>")),
}
FAMILY_PRE = {"llama": "llama-bpe", "qwen2": "qwen2"}  # gemma3: sentencepiece, no pre-tokenizer
CHAT_TEMPLATES = {
    "qwen2": (
        "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
        "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
        "{%- endif %}{%- for message in messages %}{%- if message.role != 'system' %}"
        "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    ),
    "llama": (
        "{{- bos_token }}{%- if not date_string is defined %}{%- if strftime_now is defined %}"
        "{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- else %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}"
        "{%- endif %}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}"
        "{%- set messages = messages[1:] %}{%- else %}{%- set system_message = \"\" %}{%- endif %}"
        "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
        "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}{{- system_message }}{{- \"<|eot_id|>\" }}"
        "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        "+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
    ),
    "gemma3": (
        "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
        "{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = \"\" -%}"
        "{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}"
        "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
        "{{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}{%- endif -%}"
        "{%- if (message['role'] == 'assistant') -%}{%- set role = \"model\" -%}{%- else -%}{%- set role = message['role'] -%}"
        "{%- endif -%}{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}"
        "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{'<start_of_turn>model\\n'}}{%- endif -%}"
    ),
}
#: Merges that keep the judge prompt short (and make Yes / No single tokens).
TINY_MERGES = [
    "Ġ Ġ", "ĠĠ ĠĠ", "e t", "r e", "Y e", "Ye s", "N o", "Ġ t", "Ġ a", "i n", "t h", "e r", "o n", "a n", "e s",
    "o r", "Ġ c", "Ġ i", "a t", "e n", "Ċ Ċ", "Ġ s", "Ġ w", "Ġ o", "a l", "i s", "Ġ r",
]


def tiny_sentencepiece(folder: Path) -> Path:
    """A small sentencepiece BPE model shaped like Gemma's (byte fallback, no space prefix,
    whitespace pieces, digits split; pad/eos/bos/unk at 0-3, the turn markers as control
    pieces), trained on Winnow's prompt texts and a standard-library module: ``tokenizer.model``."""
    import inspect
    import io
    import textwrap

    import sentencepiece as spm

    from winnow.judge.scoring import judge_prompt

    text = inspect.getsource(judge_prompt) + inspect.getsource(textwrap)
    lines = [line for line in text.splitlines() if line.strip()] + ["Answer Yes or No.", "Yes", "No"] * 50
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=480, model_type="bpe", byte_fallback=True,
        character_coverage=1.0, add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, normalization_rule_name="identity", pad_id=0, eos_id=1, bos_id=2,
        unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        control_symbols=["<start_of_turn>", "<end_of_turn>"], num_threads=1, minloglevel=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    return folder / "tokenizer.model"


def tiny_tokenizer(family: str, folder: Path | None = None):  # type: ignore[no-untyped-def]
    """A tokenizer of the family's kind: Gemma's sentencepiece (written into ``folder``), else
    byte-level BPE with the family's special tokens and pre-tokenizer; its chat template and BOS rule."""
    if family == "gemma3":
        from transformers import GemmaTokenizer

        assert folder is not None
        tiny_sentencepiece(folder)
        hf = GemmaTokenizer.from_pretrained(str(folder), add_bos_token=True)
        hf.chat_template = CHAT_TEMPLATES[family]
        return hf
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    from winnow.judge.training.hf_gguf import PRE_TOKENIZER_SPLITS

    bos, eos, others = FAMILY_TOKENS[family]
    tokens = _byte_vocab()
    merges = []
    for m in TINY_MERGES:
        a, b = m.split(" ")
        if a in tokens and b in tokens and a + b not in tokens:
            tokens.append(a + b)
            merges.append((a, b))
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, ignore_merges=family == "llama"))
    pre = FAMILY_PRE[family]
    if pre in PRE_TOKENIZER_SPLITS:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(PRE_TOKENIZER_SPLITS[pre]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    specials = [t for t in (bos, eos, *others) if t]
    tok.add_special_tokens(specials)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tok.token_to_id(bos))])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos,
                                 pad_token="<pad>" if family == "gemma3" else eos)
    hf.chat_template = CHAT_TEMPLATES[family]
    return hf


def tiny_config(family: str, vocab_size: int, bos: int | None, eos: int):  # type: ignore[no-untyped-def]
    """A tiny config of the family with its distinctive parts switched on: grouped KV heads,
    Llama-3's rotary scaling, Qwen2's tied embeddings and Q/K/V biases, Gemma-3's head size
    unlike hidden/heads, sliding window shorter than the prompts, a global layer with linear
    rope scaling."""
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    common = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=4096, bos_token_id=bos, eos_token_id=eos,
                  initializer_range=0.08)
    if family == "llama":
        return LlamaConfig(**common, num_hidden_layers=2, rms_norm_eps=1e-5, tie_word_embeddings=False,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 128})
    if family == "qwen2":
        return Qwen2Config(**common, num_hidden_layers=2, rms_norm_eps=1e-6, tie_word_embeddings=True,
                           rope_theta=1e6)
    if family == "gemma3":
        return Gemma3TextConfig(**common, num_hidden_layers=6, head_dim=32, query_pre_attn_scalar=32,
                                sliding_window=48, rms_norm_eps=1e-6, tie_word_embeddings=True,
                                rope_scaling={"rope_type": "linear", "factor": 8.0}, pad_token_id=0)
    raise ValueError(family)


def write_tiny_hf(folder: Path, family: str, seed: int = 0) -> Path:
    """A tiny random model of ``family`` saved as a Hugging Face folder (safetensors, tokenizer, template)."""
    import torch
    from transformers import AutoModelForCausalLM

    tok = tiny_tokenizer(family, folder)
    n = len(tok)
    vocab_size = (n + 15) // 16 * 16  # padded rows, as real checkpoints have
    config = tiny_config(family, vocab_size, tok.bos_token_id, tok.eos_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with torch.no_grad():  # norms away from 1 (Gemma's are stored shifted) and some bias
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(torch.randn_like(p) * 0.1)
            elif name.endswith(".bias"):
                p.copy_(torch.randn_like(p) * 0.05)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def write_tiny_family(root: Path, family: str, seed: int = 0) -> tuple[Path, Path]:
    """(Hugging Face folder, f32 GGUF of the same weights) of a tiny random ``family`` model."""
    from winnow.judge.training.hf_gguf import write_gguf

    hf = write_tiny_hf(root / f"{family}-hf", family, seed)
    return hf, write_gguf(hf, root / f"tiny-{family}.gguf", dtype="f32", name=f"tiny-{family}")
