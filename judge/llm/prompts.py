"""Prompt formats: fill-in-the-middle, prefix-only completion, and chat "implement this".

What a model understands is read from the GGUF itself: FIM tokens from the
vocabulary (``tokenizer.ggml.fim_*`` metadata, exposed by llama.cpp) or, for known
coder families whose GGUFs predate that metadata, from their documented token
spellings; the chat template from ``tokenizer.chat_template``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from winnow.judge.base.snippets import ContextFile
from winnow.judge.sites import backend

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


@dataclass(frozen=True)
class PromptContext:
    """Other files of the workspace shown ahead of the current file's window.

    ``files`` come from judge.base.snippets.pack; ``path`` is the current file's
    workspace-relative path and ``repo`` the workspace's name (the repo-level FIM format
    names both)."""

    files: tuple[ContextFile, ...]
    path: str = ""
    repo: str = "workspace"


@dataclass(frozen=True)
class RepoTokens:
    """Qwen2.5-Coder's repository-level tokens: ``<|repo_name|>`` (optional) and ``<|file_sep|>``."""

    repo_name: str | None
    file_sep: str


def repo_tokens(model: Vocab) -> RepoTokens | None:
    """The model's repo-level FIM tokens, read like the FIM tokens: from the vocabulary's
    ``fim_rep``/``fim_sep`` entries, else by their known spelling; None when it has none."""
    texts: list[str | None] = []
    for name, spelling in (("fim_rep", "<|repo_name|>"), ("fim_sep", "<|file_sep|>")):
        token = model.special_token(name)
        text = model.token_text(token) if token is not None else ""
        if not text and model.find_token(spelling) is not None:
            text = spelling
        texts.append(text or None)
    if texts[1] is None:
        return None
    return RepoTokens(texts[0], texts[1])


_HASH_COMMENT = (".py", ".pyi", ".pyw", ".sh", ".bash", ".rb", ".pl", ".r", ".yaml", ".yml", ".toml", ".cfg", ".ini")
_DASH_COMMENT = (".sql", ".lua", ".hs")


def comment_prefix(path: str) -> str:
    """The line-comment marker of ``path``'s language ("#" for Python, "//" for C-like ones)."""
    lower = path.lower()
    if not lower or lower.endswith(_HASH_COMMENT):
        return "#"
    if lower.endswith(_DASH_COMMENT):
        return "--"
    return "//"


def commented_context(context: PromptContext) -> str:
    """The context as comments in the current file's language, for models without a
    repo-level format: each piece under a ``<marker> path:`` line."""
    if not context.files:
        return ""
    mark = comment_prefix(context.path)
    out = [f"{mark} Context from other files of this workspace:\n"]
    for f in context.files:
        out.append(f"{mark} {f.path}:\n")
        for line in f.text.rstrip("\n").split("\n"):
            out.append(f"{mark} {line}".rstrip() + "\n")
    return "".join(out) + "\n"


def repo_context(tokens: RepoTokens, context: PromptContext) -> str:
    """The context in the repo-level FIM format: ``<|repo_name|>name`` then each piece as
    ``<|file_sep|>path`` + text, and last ``<|file_sep|>`` + the current file's path (the
    FIM prefix follows on the next line)."""
    head = f"{tokens.repo_name}{context.repo}\n" if tokens.repo_name else ""
    parts = [tokens.file_sep + f.path + "\n" + f.text.rstrip("\n") + "\n" for f in context.files]
    return head + "".join(parts) + f"{tokens.file_sep}{context.path or 'current'}\n"


def render_context(model: Vocab, context: PromptContext | None) -> str:
    """The text that goes ahead of the prompt for ``context`` on this model ("" for none)."""
    if context is None or not context.files:
        return ""
    if fim_tokens(model) is not None:
        tokens = repo_tokens(model)
        if tokens is not None:
            return repo_context(tokens, context)
    return commented_context(context)


def completion_prompt(
    model: Vocab, prefix: str, suffix: str, context: PromptContext | None = None
) -> CompletionPrompt:
    """FIM when the model knows it (PSM order), else the prefix alone; ``context`` (other
    files) goes first, in the repo-level format when the model has one, else as comments."""
    extra = render_context(model, context)
    fim = fim_tokens(model)
    if fim is not None:
        if extra and repo_tokens(model) is not None:
            text = f"{extra}{fim.prefix}{prefix}{fim.suffix}{suffix}{fim.middle}"
        else:
            text = f"{fim.prefix}{extra}{prefix}{fim.suffix}{suffix}{fim.middle}"
        return CompletionPrompt(text=text, mode="fim", stop=FIM_STOP_SPELLINGS)
    return CompletionPrompt(text=extra + prefix, mode="prefix", stop=())


def implement_instruction(language: str) -> str:
    """What the chat prompt asks for: the language's own word for a function and its doc comment."""
    lang = backend(language) or backend("python")
    assert lang is not None
    return (
        f"Complete the following {lang.noun}. Keep its signature and {lang.doc_comment}, "
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


def implement_prompt(
    model: Vocab, header: str, context_before: str = "", suffix: str = "", language: str = "python"
) -> ImplementPrompt:
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
        user = f"{implement_instruction(language)}\n\n```{language}\n{context_before}{header}\n```"
        try:
            chat = render_chat(template, [{"role": "user", "content": user}])
        except Exception:
            chat = None
        if chat is not None:
            return ImplementPrompt(
                text=f"{chat}```{language}\n{context_before}{header}",
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
