"""Prompt formats: fill-in-the-middle, prefix-only completion, and chat "implement this".

What a model understands is read from the GGUF itself: FIM tokens from the
vocabulary (``tokenizer.ggml.fim_*`` metadata, exposed by llama.cpp) or, for known
coder families whose GGUFs predate that metadata, from their documented token
spellings; the chat template from ``tokenizer.chat_template``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Token spellings of families whose GGUFs may lack tokenizer.ggml.fim_* metadata.
KNOWN_FIM_FAMILIES: dict[str, tuple[str, str, str]] = {
    "qwen2.5-coder": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    "starcoder": ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    "deepseek-coder": ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    "codellama": ("▁<PRE>", "▁<SUF>", "▁<MID>"),
}
FIM_STOP_SPELLINGS = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<EOT>", "<file_sep>")


class Vocab(Protocol):
    """What prompt building needs from a model (engine.Model satisfies it)."""

    metadata: dict[str, str]

    def special_token(self, name: str) -> int | None: ...
    def find_token(self, text: str) -> int | None: ...
    def token_text(self, token: int) -> str: ...
    def chat_template(self) -> str | None: ...


@dataclass(frozen=True)
class FimTokens:
    prefix: str
    suffix: str
    middle: str
    source: str  # "metadata" | family name


def fim_tokens(model: Vocab) -> FimTokens | None:
    """The model's FIM tokens, or None when it has no fill-in-the-middle training."""
    ids = [model.special_token(n) for n in ("fim_pre", "fim_suf", "fim_mid")]
    if all(i is not None for i in ids):
        texts = [model.token_text(i) for i in ids if i is not None]
        if all(texts):
            return FimTokens(texts[0], texts[1], texts[2], "metadata")
    name = " ".join(
        model.metadata.get(k, "") for k in ("general.name", "general.basename", "general.architecture")
    ).lower()
    for family, spelling in KNOWN_FIM_FAMILIES.items():
        key = family.split(".")[0] if family.startswith("qwen") else family
        if key in name.replace(" ", "-") and all(model.find_token(t) is not None for t in spelling):
            return FimTokens(*spelling, source=family)
    return None


@dataclass(frozen=True)
class CompletionPrompt:
    """A prompt for code at a cursor, and how it was built."""

    text: str
    mode: str  # "fim" | "prefix"
    stop: tuple[str, ...]


def completion_prompt(model: Vocab, prefix: str, suffix: str) -> CompletionPrompt:
    """FIM when the model knows it (PSM order), else the prefix alone."""
    fim = fim_tokens(model)
    if fim is not None:
        return CompletionPrompt(
            text=f"{fim.prefix}{prefix}{fim.suffix}{suffix}{fim.middle}",
            mode="fim",
            stop=FIM_STOP_SPELLINGS,
        )
    return CompletionPrompt(text=prefix, mode="prefix", stop=())


IMPLEMENT_INSTRUCTION = (
    "Complete the following Python function. Keep its signature and docstring, "
    "and write a correct implementation of its body."
)


def render_chat(template: str, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Render a GGUF's Jinja chat template in a sandboxed Jinja environment."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, bos_token="", eos_token=""
    )


@dataclass(frozen=True)
class ImplementPrompt:
    """A prompt whose continuation is the body of ``header`` (signature + docstring)."""

    text: str
    header: str  # without its final newline: the sampled text starts with one
    mode: str  # "chat" | "fim" | "prefix"
    stop: tuple[str, ...]


def implement_prompt(model: Vocab, header: str, context_before: str = "", suffix: str = "") -> ImplementPrompt:
    """Prompt for a function body.

    The prompt stops right after the header's last character (no newline): BPE
    vocabularies merge a newline with the next line's indentation, so a prompt that
    ends in a bare newline puts the model on a token boundary it never saw, and
    small models then close the code block instead of writing the body.
    With a chat template, the assistant's answer is pre-filled with a code fence and
    the header; a FIM model fills the hole between the header and what follows;
    other models continue the file. The sampled text starts with a newline.
    """
    header = header.rstrip("\n")
    template = model.chat_template()
    if template:
        user = f"{IMPLEMENT_INSTRUCTION}\n\n```python\n{context_before}{header}\n```"
        try:
            chat = render_chat(template, [{"role": "user", "content": user}])
        except Exception:
            chat = None
        if chat is not None:
            return ImplementPrompt(
                text=f"{chat}```python\n{context_before}{header}",
                header=header,
                mode="chat",
                stop=("```",),
            )
    fim = fim_tokens(model)
    if fim is not None:
        return ImplementPrompt(
            text=f"{fim.prefix}{context_before}{header}{fim.suffix}\n{suffix}{fim.middle}",
            header=header,
            mode="fim",
            stop=FIM_STOP_SPELLINGS,
        )
    return ImplementPrompt(text=f"{context_before}{header}", header=header, mode="prefix", stop=())


class BodyEnd:
    """A ``stop_fn`` for the engine: the body ends at the first non-blank line indented
    at most as far as the ``def`` itself (or at a code fence)."""

    def __init__(self, def_indent: int) -> None:
        self.def_indent = def_indent

    def __call__(self, text: str) -> int | None:
        offset = 0
        for line in text.splitlines(keepends=True):
            stripped = line.strip()
            if not line.endswith("\n"):
                break  # the line is still being written
            if stripped and (len(line) - len(line.lstrip(" \t"))) <= self.def_indent:
                return offset
            if stripped.startswith("```"):
                return offset
            offset += len(line)
        return None


def trim_body(text: str, def_indent: int) -> str:
    """Cut a sampled body (which starts with a newline) where the function ends;
    return it without that first newline and without trailing blank lines."""
    cut = BodyEnd(def_indent)(text if text.endswith("\n") else text + "\n")
    body = text[:cut] if cut is not None else text
    fence = body.find("```")
    if fence >= 0:
        body = body[:fence]
    body = body.lstrip("\r\n").rstrip()
    return body + "\n" if body else ""
