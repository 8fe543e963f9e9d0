"""The base model: a GGUF's facts, its cached transformers copy, and a tokenizer checked
token for token against llama.cpp.

The GGUF base is dequantized by transformers (``gguf_file=``) once and cached as an
ordinary checkpoint under ``cache_dir()/converted/<sha256[:16]>/`` (converting takes
~50 s, loading the cached copy under a second). transformers' GGUF loader leaves out what
some families need (Llama-3's rotary scaling, Gemma-3's attention scale and per-layer rotary
settings): ``families.fix_gguf_config`` sets it from the file as llama.cpp reads it.
transformers' GGUF tokenizer conversion does not know every llama.cpp pre-tokenizer, so the
converted tokenizer is patched where we know the rule and then *checked* against llama.cpp
on probe texts; a mismatch stops training (the judge would learn on prompts it never sees
when serving).

A Hugging Face folder (``config.json`` + safetensors + ``tokenizer.json``) of a supported
family is trained as it is, with its own tokenizer; the GGUF that llama.cpp serves it on is
written from it once (``hf_gguf``, cached like a converted copy) and the folder's tokenizer
is checked against llama.cpp on that file.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import write_json
from winnow.judge.scoring.judge_prompt import judge_token_runs
from winnow.judge.training.environment import require_training_stack, versions
from winnow.judge.training.families import fix_gguf_config
from winnow.judge.training.records import JSONObject

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

    from winnow.judge.llm.model import Model
    from winnow.judge.scoring.judge_prompt import Tokenizer

#: 2: the transformers copy carries families.fix_gguf_config (format 1 copies lack it)
CONVERTED_FORMAT = 2
CONVERTED_MARKER = "winnow-converted.json"
#: llama.cpp pre-tokenizers that split every digit before GPT-2's regex (llama-vocab.cpp).
DIGITS_THEN_GPT2 = {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva"}


@dataclass(frozen=True)
class GGUFFacts:
    """What training and export need from a GGUF's metadata (``facts`` in the converted
    copy's marker; the model's shape, for the run config and the adapter file)."""

    architecture: str | None
    name: str | None
    chat_template: str | None
    tokenizer_model: str | None
    tokenizer_pre: str | None
    add_bos_token: bool | None
    bos_token_id: int | None
    n_layers: int | None
    n_head: int | None
    n_head_kv: int | None
    n_embd: int | None = None
    n_vocab: int | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> GGUFFacts:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


def gguf_facts(path: str | os.PathLike[str]) -> GGUFFacts:
    """Read a GGUF's facts from its metadata (None for a key it lacks)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path), "r")

    def get(key: str) -> Any:  # the gguf reader's values are untyped
        f = reader.get_field(key)
        return f.contents() if f is not None else None

    arch = get("general.architecture")
    return GGUFFacts(
        architecture=arch,
        name=get("general.name"),
        chat_template=get("tokenizer.chat_template"),
        tokenizer_model=get("tokenizer.ggml.model"),
        tokenizer_pre=get("tokenizer.ggml.pre"),
        add_bos_token=get("tokenizer.ggml.add_bos_token"),
        bos_token_id=get("tokenizer.ggml.bos_token_id"),
        n_layers=get(f"{arch}.block_count"),
        n_head=get(f"{arch}.attention.head_count"),
        n_head_kv=get(f"{arch}.attention.head_count_kv"),
        n_embd=get(f"{arch}.embedding_length"),
        n_vocab=_vocab_size(reader),
    )


def _vocab_size(reader: Any) -> int | None:
    """How many tokens the GGUF's vocabulary holds (None: it has none)."""
    f = reader.get_field("tokenizer.ggml.tokens")
    return len(f.data) if f is not None else None


class HFTokenizer:
    """A Hugging Face tokenizer with the engine's ``tokenize`` signature (``scoring.judge_prompt.Tokenizer``)."""

    def __init__(self, hf: PreTrainedTokenizerBase, bos: int | None = None) -> None:
        self.hf = hf
        self.bos = bos

    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True) -> list[int]:
        ids = list(self.hf.encode(text, add_special_tokens=False, split_special_tokens=not parse_special))
        if add_special and self.bos is not None and (not ids or ids[0] != self.bos):
            ids = [self.bos] + ids
        return ids

    def token_text(self, token: int) -> str:
        return str(self.hf.convert_ids_to_tokens(int(token)))


PROBE_TASK = '''from typing import List


def below_zero(operations: List[int]) -> bool:
    """ You're given a list of deposit and withdrawal operations on a bank account that starts with
    zero balance. Return True if at any point the balance falls below zero.
    >>> below_zero([1, 2, -4, 5])
    True
    """
'''
PROBE_CANDIDATE = PROBE_TASK + "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n    return False\n"
PROBE_TEXTS = (
    "def f(x):\n    return x**2 + 10_000 * 3.14159\n",
    "\tif a  and  b:\n\t\tpass  \n\n\n   x = [1,2,3]\r\n",
    "s = 'naïve café — 日本語 😀'  # unicode\n",
    "    \n        return None\n\n\ndef g(): ...\n",
    "x = \"<|im_start|> not special <|endoftext|>\"\n",
    "numbers[1234567890] != 0.000123e-10",
)


def check_tokenizer(tok: Tokenizer, model: Model, chat_template: str | None, bos: int | None) -> dict[str, object]:
    """Compare a tokenizer adapter with llama.cpp (``engine.Model``) on probe texts and on a
    whole judge prompt; return how many of them differ (the marker's ``tokenizer_check``)."""
    probes = 0
    bad: list[str] = []
    for text in PROBE_TEXTS:
        probes += 1
        if tok.tokenize(text, False, False) != model.tokenize(text, False, False):
            bad.append(text[:40])
    for task, cand in ((PROBE_TASK, PROBE_CANDIDATE), (PROBE_TASK, "def below_zero(xs):\n  return min(xs) < 0")):
        probes += 1
        a = judge_token_runs(tok, chat_template, task, cand, bos)
        b = judge_token_runs(model, chat_template, task, cand, bos)
        if (a.prefix, a.branch) != (b.prefix, b.branch):
            bad.append("judge prompt: " + cand[:30])
    return {"ok": not bad, "probes": probes, "mismatches": len(bad), "examples": bad[:3]}


@dataclass(frozen=True)
class ConvertedBase:
    """A GGUF base as a transformers checkpoint on disk, plus what the judge prompt needs."""

    spec: str
    gguf_path: str
    sha256: str
    dir: str
    chat_template: str | None
    bos: int | None
    facts: GGUFFacts
    #: ``check_tokenizer``'s record as the marker holds it (JSON: ok, probes, mismatches, examples, pre_tokenizer_patch)
    tokenizer_check: dict[str, Any]
    #: ``gguf``: a GGUF dequantized by transformers; ``hf``: a Hugging Face folder trained as it is,
    #: served on the GGUF Winnow wrote from it (``gguf_path``)
    source: str = "gguf"
    #: the sha256 of ``gguf_path`` (for a GGUF base, ``sha256`` itself)
    gguf_sha256: str | None = None
    #: what ``families.fix_gguf_config`` set on transformers' copy
    config_fixes: list[str] | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def converted_dir(sha256: str) -> Path:
    """Where the converted copy of the GGUF with this hash is cached."""
    from winnow.judge.base.paths import cache_dir

    return cache_dir() / "converted" / sha256[:16]


def _patch_pre_tokenizer(hf_tok: PreTrainedTokenizerFast, pre: str | None) -> str | None:
    """Make the converted tokenizer split text the way llama.cpp's pre-tokenizer does."""
    if pre not in DIGITS_THEN_GPT2:
        return None
    from tokenizers import pre_tokenizers

    backend = hf_tok.backend_tokenizer
    current = json.loads(backend.to_str()).get("pre_tokenizer") or {}
    if current.get("type") != "ByteLevel":
        return None
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    return "digits+bytelevel"


def convert_base(spec: str = "default", allow_download: bool = False, say: Callable[[str], None] | None = None) -> ConvertedBase:
    """The cached transformers copy of a GGUF base (converted on first use)."""
    require_training_stack()
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.training.hf_gguf import is_hf_folder

    if is_hf_folder(spec):
        return convert_hf_folder(spec, say)
    info = resolve(spec, allow_download=allow_download)
    target = converted_dir(info.sha256)
    cached = _cached_base(target, spec, info.path, info.sha256)
    if cached is not None:
        return cached
    (say or (lambda _m: None))(f"converting {info.path} to a transformers checkpoint (once; about a minute)")
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        base = _convert_into(tmp, spec, info.path, info.sha256, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a stale or concurrent copy
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / CONVERTED_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return base


def _cached_base(target: Path, spec: str, gguf_path: str, sha256: str) -> ConvertedBase | None:
    """The converted copy in ``target`` if its marker says it is this GGUF's, in this format."""
    marker = target / CONVERTED_MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        if data.get("format") == CONVERTED_FORMAT and data.get("sha256") == sha256:
            source = data.get("source", "gguf")
            return ConvertedBase(
                spec, data["gguf_path"] if source == "hf" else gguf_path, data["sha256"],
                spec if source == "hf" else str(target), data["chat_template"], data["bos"],
                GGUFFacts.from_dict(data["facts"]), data["tokenizer_check"], source,
                data.get("gguf_sha256") or sha256, data.get("config_fixes"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # unreadable: convert again
        pass
    return None


def _convert_into(tmp: Path, spec: str, gguf_path: str, sha256: str, target: Path) -> ConvertedBase:
    """Dequantize the GGUF into ``tmp`` (model, tokenizer, marker) for ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf_path)
    facts = gguf_facts(gguf)
    hf_tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers converts a GGUF's tokenizer into a fast (tokenizers-backed) one
    patched = _patch_pre_tokenizer(cast("PreTrainedTokenizerFast", hf_tok), facts.tokenizer_pre)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    fixes = fix_gguf_config(config, gguf)  # what transformers' GGUF loader leaves out
    # A model loaded from GGUF counts as quantized and refuses save_pretrained:
    # copy its (dequantized) weights into a fresh model and save that.
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    fresh.save_pretrained(str(tmp))
    del fresh
    hf_tok.save_pretrained(str(tmp))
    chat_template, bos, check = _llama_cpp_side(gguf, facts, AutoTokenizer.from_pretrained(str(tmp)))
    check["pre_tokenizer_patch"] = patched
    write_json(tmp / CONVERTED_MARKER, {
        "format": CONVERTED_FORMAT,
        "sha256": sha256,
        "dir": str(target),
        "chat_template": chat_template,
        "bos": bos,
        "facts": asdict(facts),
        "tokenizer_check": check,
        "config_fixes": fixes,
        "transformers": versions().get("transformers"),
    })
    return ConvertedBase(spec, gguf_path, sha256, str(target), chat_template, bos, facts, check, "gguf", sha256, fixes)


def convert_hf_folder(spec: str, say: Callable[[str], None] | None = None) -> ConvertedBase:
    """A Hugging Face folder as a base: trained as it is; the GGUF llama.cpp serves it on written
    once into ``converted_dir`` (with its chat template, BOS and the folder's tokenizer checked
    against llama.cpp on it)."""
    from transformers import AutoTokenizer

    from winnow.judge.llm.model_files import sha256_file
    from winnow.judge.training.hf_gguf import folder_sha256, write_gguf

    folder = Path(os.path.expanduser(spec)).resolve()
    sha256 = folder_sha256(folder)
    target = converted_dir(sha256)
    cached = _cached_base(target, str(folder), "", sha256)
    if cached is not None:
        return cached
    (say or (lambda _m: None))(f"writing {folder} as a GGUF for llama.cpp (once)")
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write_gguf(folder, tmp / "base.gguf")
        gguf_path = target / "base.gguf"
        facts = gguf_facts(tmp / "base.gguf")
        chat_template, bos, check = _llama_cpp_side(tmp / "base.gguf", facts, AutoTokenizer.from_pretrained(str(folder)))
        check["pre_tokenizer_patch"] = None
        gguf_sha = sha256_file(tmp / "base.gguf")
        write_json(tmp / CONVERTED_MARKER, {
            "format": CONVERTED_FORMAT, "source": "hf", "sha256": sha256, "dir": str(target), "hf_dir": str(folder),
            "gguf_path": str(gguf_path), "gguf_sha256": gguf_sha, "chat_template": chat_template, "bos": bos,
            "facts": asdict(facts), "tokenizer_check": check, "config_fixes": [],
            "transformers": versions().get("transformers"),
        })
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ConvertedBase(str(folder), str(gguf_path), sha256, str(folder), chat_template, bos, facts, check, "hf",
                         gguf_sha, [])


def _llama_cpp_side(
    gguf: Path, facts: GGUFFacts, hf_tok: PreTrainedTokenizerBase
) -> tuple[str | None, int | None, dict[str, object]]:
    """(chat template, BOS, tokenizer check) as llama.cpp reads the GGUF."""
    from winnow.judge.llm.model import Model

    llama = Model(str(gguf))
    try:
        chat_template = llama.chat_template()
        if facts.chat_template is not None and facts.chat_template != chat_template:
            raise WinnowError(f"{gguf}: the GGUF's chat template differs from what llama.cpp reports")
        bos = llama.bos() if llama.add_bos() and llama.bos() >= 0 else None
        check = check_tokenizer(HFTokenizer(hf_tok, bos), llama, chat_template, bos)
    finally:
        llama.close()
    return chat_template, bos, check


def check_base_tokenizer(base: ConvertedBase, spec: str, allow_mismatch: bool, note: Callable[[str], None]) -> None:
    """Refuse (or, when allowed, warn about) a base whose transformers tokenizer differs from llama.cpp's."""
    check = base.tokenizer_check
    if check.get("ok"):
        return
    message = (
        f"the transformers tokenizer of {spec} splits text differently from llama.cpp "
        f"({check.get('mismatches')} of {check.get('probes')} probes differ, e.g. {check.get('examples')}): "
        "the judge would learn on prompts it never sees when serving"
    )
    if not allow_mismatch:
        raise WinnowError(message + " (pass --allow-tokenizer-mismatch to train anyway)")
    note("warning: " + message)


def load_base_model(
    base: ConvertedBase, dtype: torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, HF tokenizer) from the converted copy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base.dir, dtype=dtype or torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base.dir)
    return model, tokenizer
