"""Fine-tuning a judge: transformers + peft LoRA on a GGUF base, with the serving prompt.

The pipeline, top to bottom:

1. **Base.** The GGUF base is dequantized by transformers (``gguf_file=``) once and
   cached as an ordinary checkpoint under ``cache_dir()/converted/<sha256[:16]>/``
   (converting takes ~50 s, loading the cached copy under a second). transformers'
   GGUF tokenizer conversion does not know every llama.cpp pre-tokenizer, so the
   converted tokenizer is patched where we know the rule and then *checked* token for
   token against llama.cpp on probe texts; a mismatch stops training (the judge would
   learn on prompts it never sees when serving).
2. **Data.** Labels (``winnow label`` output) joined with their problems; the task is
   the problem's prompt, the candidate its complete code, positive = ``passed``.
   Held-out HumanEval problems are refused. The split into train and validation is by
   problem, never by candidate.
3. **Prompt.** Exactly the serving prompt: ``judging.judge_token_runs`` over a
   tokenizer adapter, prefix + branch, the chat template read from the GGUF.
4. **Loss.** Binary cross-entropy on z = logsumexp(logits[yes ids]) −
   logsumexp(logits[no ids]) at the last position (as ``Judge._z``), ``pos_weight`` =
   negatives / positives for class balance.
5. **Loop.** AdamW, linear warm-up and decay, gradient accumulation, validation
   (loss, ROC-AUC) every ``eval_every`` steps, early stopping on validation AUC, a
   checkpoint (adapter, optimizer/scheduler/RNG state, config, metrics, validation
   scores) at every validation, ``DIR/best`` pointing at the best one. A killed run
   resumes from its last checkpoint. ``accelerate launch`` spreads it over GPUs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl, write_json
from winnow.judge.llm.model_files import sha256_file
from winnow.judge.scoring.judge_model import (
    ANSWER_NO,
    ANSWER_YES,
    JUDGE_TEMPLATE,
    MAX_CANDIDATE_TOKENS,
    MAX_TASK_TOKENS,
    answer_token_ids,
    judge_token_runs,
)

log = logging.getLogger(__name__)

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CONVERTED_FORMAT = 1
CONVERTED_MARKER = "winnow-converted.json"
#: llama.cpp pre-tokenizers that split every digit before GPT-2's regex (llama-vocab.cpp).
DIGITS_THEN_GPT2 = {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva"}
#: Config fields that may change when a run resumes (the rest must match the checkpoint; the
#: labels and problems are compared by content, not by how their paths are spelled).
RESUMABLE_CHANGES = {
    "out", "resume", "threads", "eval_batch_size", "patience", "allow_tokenizer_mismatch", "labels", "problems",
}


# --- requirements ---------------------------------------------------------------------------


def _require_training_stack() -> None:
    missing = []
    for module in ("torch", "transformers", "peft", "accelerate", "sklearn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise WinnowError(
            f"training needs {', '.join(missing)}: install the CPU torch wheel first "
            "(`pip install torch==2.13.0`), then `pip install 'winnow-lsp[train]'`"
        )


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("winnow-lsp", "torch", "transformers", "peft", "accelerate", "gguf", "llama-cpp-python"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the base model: GGUF facts and the cached transformers copy -------------------------------


def gguf_facts(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What training and export need from a GGUF's metadata."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path), "r")

    def get(key: str) -> Any:
        f = reader.get_field(key)
        return f.contents() if f is not None else None

    arch = get("general.architecture")
    return {
        "architecture": arch,
        "name": get("general.name"),
        "chat_template": get("tokenizer.chat_template"),
        "tokenizer_model": get("tokenizer.ggml.model"),
        "tokenizer_pre": get("tokenizer.ggml.pre"),
        "add_bos_token": get("tokenizer.ggml.add_bos_token"),
        "bos_token_id": get("tokenizer.ggml.bos_token_id"),
        "n_layers": get(f"{arch}.block_count"),
        "n_head": get(f"{arch}.attention.head_count"),
        "n_head_kv": get(f"{arch}.attention.head_count_kv"),
    }


class HFTokenizer:
    """A Hugging Face tokenizer with the engine's ``tokenize`` signature (judging.Tokenizer)."""

    def __init__(self, hf: Any, bos: int | None = None) -> None:
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


def check_tokenizer(tok: Any, model: Any, chat_template: str | None, bos: int | None) -> dict[str, Any]:
    """Compare a tokenizer adapter with llama.cpp (``engine.Model``) on probe texts and on a
    whole judge prompt; return how many of them differ."""
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


@dataclass
class ConvertedBase:
    """A GGUF base as a transformers checkpoint on disk, plus what the judge prompt needs."""

    spec: str
    gguf_path: str
    sha256: str
    dir: str
    chat_template: str | None
    bos: int | None
    facts: dict[str, Any]
    tokenizer_check: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def converted_dir(sha256: str) -> Path:
    from winnow.judge.llm.model_files import cache_dir

    return cache_dir() / "converted" / sha256[:16]


def _patch_pre_tokenizer(hf_tok: Any, pre: str | None) -> str | None:
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
    _require_training_stack()
    from winnow.judge.llm.model_files import resolve

    info = resolve(spec, allow_download=allow_download)
    target = converted_dir(info.sha256)
    marker = target / CONVERTED_MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            if data.get("format") == CONVERTED_FORMAT and data.get("sha256") == info.sha256:
                names = {f.name for f in fields(ConvertedBase)}
                known = {k: v for k, v in data.items() if k in names}
                return ConvertedBase(**(known | {"spec": spec, "gguf_path": info.path, "dir": str(target)}))
        except (OSError, ValueError, TypeError):
            pass
    (say or (lambda _m: None))(f"converting {info.path} to a transformers checkpoint (once; about a minute)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from winnow.judge.llm.engine import Model

    gguf = Path(info.path)
    facts = gguf_facts(gguf)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        hf_tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        patched = _patch_pre_tokenizer(hf_tok, facts["tokenizer_pre"])
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        # A model loaded from GGUF counts as quantized and refuses save_pretrained:
        # copy its (dequantized) weights into a fresh model and save that.
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        fresh.load_state_dict(loaded.state_dict(), strict=True)
        del loaded
        fresh.save_pretrained(str(tmp))
        del fresh
        hf_tok.save_pretrained(str(tmp))

        llama = Model(info.path)
        try:
            chat_template = llama.chat_template()
            if facts["chat_template"] is not None and facts["chat_template"] != chat_template:
                raise WinnowError(f"{info.path}: the GGUF's chat template differs from what llama.cpp reports")
            bos = llama.bos() if llama.add_bos() and llama.bos() >= 0 else None
            reloaded = AutoTokenizer.from_pretrained(str(tmp))
            check = check_tokenizer(HFTokenizer(reloaded, bos), llama, chat_template, bos)
        finally:
            llama.close()
        check["pre_tokenizer_patch"] = patched
        record = {
            "format": CONVERTED_FORMAT,
            "sha256": info.sha256,
            "dir": str(target),
            "chat_template": chat_template,
            "bos": bos,
            "facts": facts,
            "tokenizer_check": check,
            "transformers": versions().get("transformers"),
        }
        write_json(tmp / CONVERTED_MARKER, record)
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
    record.pop("format")
    record.pop("transformers")
    return ConvertedBase(**(record | {"spec": spec, "gguf_path": info.path}))


def load_base_model(base: ConvertedBase, dtype: Any = None) -> tuple[Any, Any]:
    """(model, HF tokenizer) from the converted copy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base.dir, dtype=dtype or torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base.dir)
    return model, tokenizer


# --- the prompt ----------------------------------------------------------------------------


class PromptEncoder:
    """Token ids of the judge prompt exactly as ``Judge`` builds them when serving."""

    def __init__(
        self,
        hf_tokenizer: Any,
        chat_template: str | None,
        bos: int | None,
        max_task_tokens: int = MAX_TASK_TOKENS,
        max_candidate_tokens: int = MAX_CANDIDATE_TOKENS,
    ) -> None:
        self.tok = HFTokenizer(hf_tokenizer, bos)
        self.chat_template = chat_template
        self.bos = bos
        self.max_task_tokens = max_task_tokens
        self.max_candidate_tokens = max_candidate_tokens
        self.yes_ids = answer_token_ids(self.tok, self.tok.token_text, ANSWER_YES)
        self.no_ids = answer_token_ids(self.tok, self.tok.token_text, ANSWER_NO)
        pad = getattr(hf_tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0

    def runs(self, task: str, candidate: str, language: str = "python") -> Any:
        return judge_token_runs(
            self.tok, self.chat_template, task, candidate, self.bos, language=language,
            max_task_tokens=self.max_task_tokens, max_candidate_tokens=self.max_candidate_tokens,
        )

    def encode(self, task: str, candidate: str, language: str = "python") -> list[int]:
        r = self.runs(task, candidate, language)
        return r.prefix + r.branch


def batch_z(model: Any, sequences: Sequence[Sequence[int]], yes_ids: Sequence[int], no_ids: Sequence[int], pad_id: int) -> Any:
    """z = logsumexp(logits[yes]) − logsumexp(logits[no]) after each sequence (right-padded
    batch; the LM head runs only at the positions that are some row's last token)."""
    import torch

    device = next(p for p in model.parameters()).device
    lengths = [len(s) for s in sequences]
    width = max(lengths)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    last = [n - 1 for n in lengths]
    keep = sorted(set(last))
    if len(sequences) == 1:
        out = model(input_ids=ids.to(device), attention_mask=mask.to(device), logits_to_keep=1)
        rows = out.logits[:, -1, :]
    else:
        where = {p: k for k, p in enumerate(keep)}
        out = model(
            input_ids=ids.to(device), attention_mask=mask.to(device),
            logits_to_keep=torch.tensor(keep, dtype=torch.long, device=device),
        )
        index = torch.tensor([where[p] for p in last], dtype=torch.long, device=device)
        rows = out.logits[torch.arange(len(sequences), device=device), index]
    rows = rows.float()
    yes = torch.logsumexp(rows[:, list(yes_ids)], dim=-1)
    no = torch.logsumexp(rows[:, list(no_ids)], dim=-1)
    return yes - no


def last_logits(model: Any, sequence: Sequence[int]) -> np.ndarray:
    """The whole vocabulary's logits after ``sequence`` (float64, no gradients)."""
    import torch

    device = next(p for p in model.parameters()).device
    with torch.no_grad():
        out = model(input_ids=torch.tensor([list(sequence)], device=device), logits_to_keep=1)
    return out.logits[0, -1].double().cpu().numpy()


def score_sequences(
    model: Any, encoder: PromptEncoder, sequences: Sequence[Sequence[int]], batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """z for every sequence (no gradients; batches of similar length)."""
    import torch

    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = np.zeros(len(sequences), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), max(1, batch_size)):
                chunk = order[start : start + batch_size]
                z = batch_z(model, [sequences[i] for i in chunk], encoder.yes_ids, encoder.no_ids, encoder.pad_id)
                out[chunk] = z.detach().cpu().double().numpy()
                if progress is not None:
                    progress(len(chunk))
    finally:
        model.train(was_training)
    return out


# --- data -------------------------------------------------------------------------------------


@dataclass
class Example:
    problem_id: str
    candidate_id: str
    label: int
    task: str
    code: str
    language: str = "python"
    ids: list[int] = field(default_factory=list, repr=False)


def is_heldout(problem_id: str) -> bool:
    from winnow.judge.dataset.problems import HUMANEVAL_HELDOUT, humaneval_number

    number = humaneval_number(problem_id)
    return number is not None and number in HUMANEVAL_HELDOUT


def load_examples(labels: Iterable[dict[str, Any]], problems: dict[str, Any], where: str = "labels") -> list[Example]:
    """Labelled candidates joined with their problems (positive = passed); the first record
    of a (problem, candidate) pair wins. Held-out HumanEval problems are refused."""
    out: list[Example] = []
    seen: set[tuple[str, str]] = set()
    heldout: set[str] = set()
    unknown: set[str] = set()
    for number, r in enumerate(labels, start=1):
        for key in ("problem_id", "candidate_id", "code", "status"):
            if not isinstance(r.get(key), str):
                raise WinnowError(f"{where}:{number}: missing or non-string field {key!r} (is this a labels file?)")
        pid, cid = r["problem_id"], r["candidate_id"]
        if is_heldout(pid):
            heldout.add(pid)
            continue
        if (pid, cid) in seen:
            continue
        seen.add((pid, cid))
        problem = problems.get(pid)
        if problem is None:
            unknown.add(pid)
            continue
        out.append(Example(pid, cid, int(r["status"] == "passed"), problem.prompt, r["code"], problem.language))
    if heldout:
        shown = ", ".join(sorted(heldout)[:3])
        raise WinnowError(
            f"{where} hold candidates of {len(heldout)} held-out problem(s) ({shown}…): humaneval:heldout "
            "(HumanEval/100-163) is never used for training, early stopping or calibration; "
            "train on labels of humaneval:train"
        )
    if unknown:
        raise WinnowError(f"{where}: {len(unknown)} problem id(s) are not in --problems (e.g. {sorted(unknown)[0]})")
    if not out:
        raise WinnowError(f"{where}: no labelled candidates")
    return out


def split_by_problem(problem_ids: Iterable[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train problems, validation problems): a seeded shuffle of the sorted ids."""
    ids = sorted(set(problem_ids))
    if val_fraction <= 0 or len(ids) < 2:
        return ids, []
    rng = random.Random(seed)
    shuffled = ids[:]
    rng.shuffle(shuffled)
    n_val = min(len(ids) - 1, max(1, round(val_fraction * len(ids))))
    val = sorted(shuffled[:n_val])
    return sorted(shuffled[n_val:]), val


def examples_digest(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.problem_id, e.candidate_id)):
        h.update(f"{e.problem_id}\0{e.candidate_id}\0{e.label}\0{sha256_text(e.task)}\0{sha256_text(e.code)}\n".encode())
    return h.hexdigest()


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    y = np.asarray(labels)
    if y.size == 0 or y.min() == y.max():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


def bce(z: np.ndarray, y: np.ndarray, pos_weight: float = 1.0) -> float:
    """Mean binary cross-entropy with logits (torch's formula, pos_weight on positives)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if z.size == 0:
        return float("nan")
    log_sig = -np.logaddexp(0.0, -z)
    log_one_minus = -np.logaddexp(0.0, z)
    return float(np.mean(-(pos_weight * y * log_sig + (1 - y) * log_one_minus)))


# --- configuration ----------------------------------------------------------------------------


@dataclass
class TrainConfig:
    labels: str
    problems: str
    out: str
    base: str = "default"
    epochs: int = 1
    lr: float = 3e-4
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(TARGET_MODULES))
    batch_size: int = 1
    grad_accum: int = 4
    val_fraction: float = 0.15
    patience: int = 2
    eval_every: int | None = None
    max_steps: int | None = None
    seed: int = 0
    warmup: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_batch_size: int = 4
    max_task_tokens: int = MAX_TASK_TOKENS
    max_candidate_tokens: int = MAX_CANDIDATE_TOKENS
    mixed_precision: str = "no"
    threads: int = 0
    resume: bool = False
    allow_tokenizer_mismatch: bool = False

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (self.lora_r >= 1, "--lora-r must be at least 1"),
            (self.lora_alpha > 0, "--lora-alpha must be positive"),
            (0 <= self.lora_dropout < 1, "--lora-dropout must be in [0, 1)"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.grad_accum >= 1, "--grad-accum must be at least 1"),
            (0 <= self.val_fraction < 1, "--val-fraction must be in [0, 1)"),
            (self.patience >= 0, "--patience must be >= 0 (0: no early stopping)"),
            (self.eval_every is None or self.eval_every >= 1, "--eval-every must be at least 1"),
            (self.max_steps is None or self.max_steps >= 1, "--max-steps must be at least 1"),
            (0 <= self.warmup < 1, "--warmup is a fraction of the steps, in [0, 1)"),
            (self.mixed_precision in ("no", "fp16", "bf16"), "--mixed-precision must be no, fp16 or bf16"),
            (set(self.target_modules) <= set(TARGET_MODULES), f"--target-modules must be among {', '.join(TARGET_MODULES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise WinnowError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in RESUMABLE_CHANGES}


# --- checkpoints --------------------------------------------------------------------------------


def checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        name = p.name
        if p.is_dir() and name.startswith("step-") and name[5:].isdigit() and (p / "trainer_state.json").is_file():
            found.append((int(name[5:]), p))
    return [p for _, p in sorted(found)]


def resolve_checkpoint(run_dir: str | os.PathLike[str], which: str = "best") -> Path:
    """``best``, ``last``, ``step-N``/``N``, or a checkpoint folder."""
    run = Path(run_dir)
    if which == "best":
        best = run / "best.json"
        if best.is_file():
            target = run / json.loads(best.read_text(encoding="utf-8"))["checkpoint"]
            if (target / "trainer_state.json").is_file():
                return target
        found = checkpoints(run)
        if not found:
            raise WinnowError(f"{run}: no checkpoints (is it a `winnow train --out` folder?)")
        return found[-1]
    if which == "last":
        found = checkpoints(run)
        if not found:
            raise WinnowError(f"{run}: no checkpoints (is it a `winnow train --out` folder?)")
        return found[-1]
    name = f"step-{which}" if which.isdigit() else which
    for candidate in (run / "checkpoints" / name, Path(which)):
        if (candidate / "trainer_state.json").is_file():
            return candidate
    raise WinnowError(f"{run}: no checkpoint {which!r} (use best, last, step-N or a checkpoint folder)")


# --- training ----------------------------------------------------------------------------------


@dataclass
class Prepared:
    base: ConvertedBase
    encoder: PromptEncoder
    train: list[Example]
    val: list[Example]
    data: dict[str, Any]


def prepare(cfg: TrainConfig, hf_tokenizer: Any, base: ConvertedBase, examples: list[Example]) -> Prepared:
    """Examples split by problem and tokenized with the serving prompt."""
    train_ids, val_ids = split_by_problem((e.problem_id for e in examples), cfg.val_fraction, cfg.seed)
    val_set = set(val_ids)
    encoder = PromptEncoder(
        hf_tokenizer, base.chat_template, base.bos, cfg.max_task_tokens, cfg.max_candidate_tokens
    )
    cut = 0
    for e in examples:
        r = encoder.runs(e.task, e.code, e.language)
        e.ids = r.prefix + r.branch
        cut += int(r.task_truncated or r.candidate_truncated)
    train = [e for e in examples if e.problem_id not in val_set]
    val = [e for e in examples if e.problem_id in val_set]
    n_pos = sum(e.label for e in train)
    if n_pos == 0 or n_pos == len(train):
        raise WinnowError(
            f"the training split has {n_pos} passing and {len(train) - n_pos} failing candidates: "
            "a judge needs both (add `winnow augment` candidates, whose references pass)"
        )
    lengths = [len(e.ids) for e in examples]
    data = {
        "labels_path": str(cfg.labels),
        "labels_sha256": sha256_file(cfg.labels),
        "examples_sha256": examples_digest(examples),
        "problems_sha256": sha256_text(
            "\n".join(sorted({f"{e.problem_id}\0{sha256_text(e.task)}" for e in examples}))
        ),
        "n_examples": len(examples),
        "n_train": len(train),
        "n_val": len(val),
        "train_positive": n_pos,
        "train_negative": len(train) - n_pos,
        "val_positive": sum(e.label for e in val),
        "val_negative": len(val) - sum(e.label for e in val),
        "train_problems": len(train_ids),
        "val_problems": val_ids,
        "truncated_examples": cut,
        "tokens_mean": round(float(np.mean(lengths)), 1),
        "tokens_max": int(max(lengths)),
    }
    return Prepared(base, encoder, train, val, data)


def _rng_state() -> dict[str, Any]:
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int) -> list[list[int]]:
    """This process's micro-batches of one epoch: a seeded permutation, cut into batches,
    dealt round-robin to the processes (padded by wrap-around so every process gets as many)."""
    order = np.random.default_rng(seed * 1_000_003 + epoch).permutation(n).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if world > 1 and len(batches) % world:
        batches += batches[: world - len(batches) % world]
    return batches[rank::world]


def _lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def train(cfg: TrainConfig, progress: bool = True, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a training run; return its summary (also in ``DIR/run.json``)."""
    cfg.validate()
    _require_training_stack()
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from accelerate.utils import gather_object
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from tqdm import tqdm

    from winnow.judge.dataset.problems import problems_by_id

    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    main = accelerator.is_main_process
    rank, world = accelerator.process_index, accelerator.num_processes

    def note(message: str) -> None:
        if main:
            (say or (lambda m: print(m, file=sys.stderr)))(message)

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.out)
    found = checkpoints(run)
    if cfg.resume and not found:
        raise WinnowError(f"--resume: {run} holds no checkpoint to resume from")
    resume_from = found[-1] if found else None
    if resume_from is not None:
        saved = json.loads((resume_from / "config.json").read_text(encoding="utf-8"))["train"]
        mine, theirs = _identity(cfg.to_dict()), _identity(saved)
        theirs = {k: theirs.get(k) for k in mine}
        if mine != theirs:
            diff = ", ".join(f"{k}: {theirs[k]!r} → {mine[k]!r}" for k in mine if mine[k] != theirs[k])
            raise WinnowError(
                f"{run} holds a run with other settings ({diff}): resume it with the same settings "
                "or train into a new --out folder"
            )
    finished = run / "run.json"
    if found and finished.is_file():
        summary = json.loads(finished.read_text(encoding="utf-8"))
        if summary.get("finished"):
            note(f"{run} holds a finished run (best {summary.get('best_checkpoint')}); nothing to do")
            return summary

    examples = load_examples(read_jsonl(cfg.labels), problems_by_id(cfg.problems), cfg.labels)
    with accelerator.main_process_first():
        base = convert_base(cfg.base, say=note)
    check = base.tokenizer_check
    if not check.get("ok"):
        message = (
            f"the transformers tokenizer of {cfg.base} splits text differently from llama.cpp "
            f"({check.get('mismatches')} of {check.get('probes')} probes differ, e.g. {check.get('examples')}): "
            "the judge would learn on prompts it never sees when serving"
        )
        if not cfg.allow_tokenizer_mismatch:
            raise WinnowError(message + " (pass --allow-tokenizer-mismatch to train anyway)")
        note("warning: " + message)

    set_seed_all(cfg.seed)
    model, hf_tok = load_base_model(base)
    prep = prepare(cfg, hf_tok, base, examples)
    enc, train_set, val_set = prep.encoder, prep.train, prep.val
    if resume_from is not None:
        saved_data = json.loads((resume_from / "config.json").read_text(encoding="utf-8"))["data"]
        if saved_data.get("examples_sha256") != prep.data["examples_sha256"]:
            raise WinnowError(
                f"{run} was trained on other labels ({saved_data.get('labels_path')}): "
                "resume with the same labels or train into a new --out folder"
            )

    n_pos = prep.data["train_positive"]
    pos_weight = (len(train_set) - n_pos) / n_pos
    batches_per_epoch = len(_epoch_batches(len(train_set), cfg.batch_size, cfg.seed, 0, rank, world))
    steps_per_epoch = math.ceil(batches_per_epoch / cfg.grad_accum)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    warmup_steps = int(round(cfg.warmup * total_steps))
    eval_every = cfg.eval_every or max(1, steps_per_epoch // 2)

    lora = LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total_steps, warmup_steps))

    state: dict[str, Any] = {
        "step": 0, "epoch": 0, "position": 0, "best_step": None, "best_metric": None, "best_val_auc": None,
        "bad_evals": 0, "stopped_early": False, "resumed_from": [], "elapsed_s": 0.0, "history": [],
    }
    if resume_from is not None:
        adapter = load_file(str(resume_from / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(model, adapter)
        extra = torch.load(resume_from / "optimizer.pt", map_location="cpu", weights_only=False)
        optimizer.load_state_dict(extra["optimizer"])
        scheduler.load_state_dict(extra["scheduler"])
        _set_rng_state(extra["rng"])
        state = json.loads((resume_from / "trainer_state.json").read_text(encoding="utf-8"))
        state["resumed_from"] = state.get("resumed_from", []) + [resume_from.name]
        note(f"resuming {run} from {resume_from.name} (step {state['step']} of {total_steps})")
        _truncate_log(run / "log.jsonl", state["step"])

    model, optimizer = accelerator.prepare(model, optimizer)
    device = accelerator.device

    full_config = {
        "train": cfg.to_dict(),
        "prompt_template": JUDGE_TEMPLATE,
        "base": {"spec": base.spec, "gguf_path": base.gguf_path, "sha256": base.sha256, "converted_dir": base.dir,
                 "architecture": base.facts.get("architecture"), "n_layers": base.facts.get("n_layers"),
                 "n_head": base.facts.get("n_head"), "n_head_kv": base.facts.get("n_head_kv"),
                 "bos": base.bos, "tokenizer_check": base.tokenizer_check},
        "answer_ids": {"yes": enc.yes_ids, "no": enc.no_ids},
        "data": prep.data,
        "schedule": {"pos_weight": pos_weight, "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
                     "warmup_steps": warmup_steps, "eval_every": eval_every, "world_size": world,
                     "effective_batch": cfg.batch_size * cfg.grad_accum * world},
        "versions": versions(),
        "command": sys.argv,
    }
    if main:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", full_config)
        _write_verify_examples(run / "verify_examples.jsonl", val_set or train_set, enc)
        note(
            f"training on {len(train_set)} candidates of {prep.data['train_problems']} problems "
            f"({n_pos} passing), validating on {len(val_set)} of {len(prep.data['val_problems'])} problems; "
            f"{total_steps} steps of {cfg.batch_size * cfg.grad_accum * world} examples, "
            f"validation every {eval_every}"
        )

    def validate() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not val_set:
            return {"val_loss": None, "val_auc": None, "val_accuracy": None, "n_val": 0}, []
        mine = list(range(rank, len(val_set), world))
        z = score_sequences(model, enc, [val_set[i].ids for i in mine], cfg.eval_batch_size)
        pairs = list(zip(mine, z.tolist(), strict=True))
        if world > 1:
            pairs = gather_object(pairs)
        z_all = np.zeros(len(val_set))
        for i, value in pairs:
            z_all[i] = value
        y = np.array([e.label for e in val_set])
        metrics = {
            "val_loss": bce(z_all, y, pos_weight),
            "val_logloss": bce(z_all, y, 1.0),
            "val_auc": roc_auc(y, z_all),
            "val_accuracy": float(np.mean((z_all > 0).astype(int) == y)),
            "n_val": len(val_set),
        }
        rows = [
            {"problem_id": e.problem_id, "candidate_id": e.candidate_id, "z": float(v), "label": e.label}
            for e, v in zip(val_set, z_all, strict=True)
        ]
        return metrics, rows

    bar = tqdm(total=total_steps, initial=state["step"], desc="train", unit="step", file=sys.stderr,
               disable=not (progress and main), dynamic_ncols=True)
    started = time.perf_counter()
    elapsed_before = float(state.get("elapsed_s", 0.0))
    window: list[float] = []
    last_metrics: dict[str, Any] = {}
    try:
        while state["step"] < total_steps:
            batches = _epoch_batches(len(train_set), cfg.batch_size, cfg.seed, state["epoch"], rank, world)
            group = batches[state["position"] : state["position"] + cfg.grad_accum]
            n_group = sum(len(b) for b in group)
            step_loss = 0.0
            for k, batch in enumerate(group):
                sync = k == len(group) - 1
                ctx = accelerator.no_sync(model) if (world > 1 and not sync) else contextlib.nullcontext()
                with ctx:
                    seqs = [train_set[i].ids for i in batch]
                    y = torch.tensor([float(train_set[i].label) for i in batch], device=device)
                    with accelerator.autocast():
                        z = batch_z(model, seqs, enc.yes_ids, enc.no_ids, enc.pad_id)
                    loss = F.binary_cross_entropy_with_logits(
                        z.float(), y, pos_weight=torch.tensor(pos_weight, device=device)
                    )
                    accelerator.backward(loss * len(batch) / n_group)
                    step_loss += float(loss.detach()) * len(batch) / n_group
            if cfg.max_grad_norm:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            state["position"] += len(group)
            if state["position"] >= len(batches):
                state["epoch"] += 1
                state["position"] = 0
            window.append(step_loss)
            elapsed = elapsed_before + time.perf_counter() - started
            if main:
                _append_log(run / "log.jsonl", {
                    "step": state["step"], "epoch": state["epoch"], "loss": round(step_loss, 5),
                    "lr": scheduler.get_last_lr()[0], "elapsed_s": round(elapsed, 1),
                })
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(window[-20:]):.3f}", **(
                {"val_auc": f"{last_metrics['val_auc']:.3f}"} if last_metrics.get("val_auc") is not None else {}
            ))
            if state["step"] % eval_every == 0 or state["step"] >= total_steps:
                metrics, rows = validate()
                metrics |= {
                    "step": state["step"], "epoch": state["epoch"], "lr": scheduler.get_last_lr()[0],
                    "train_loss": float(np.mean(window)) if window else None,
                    "examples_seen": state["step"] * cfg.batch_size * cfg.grad_accum * world,
                    "elapsed_s": round(elapsed, 1),
                }
                window = []
                last_metrics = metrics
                score = metrics["val_auc"] if metrics["val_auc"] is not None else (
                    -metrics["val_loss"] if metrics["val_loss"] is not None else None
                )
                improved = score is None or state["best_metric"] is None or score > state["best_metric"] + 1e-9
                if improved:
                    state["best_metric"] = score
                    state["best_step"] = state["step"]
                    state["best_val_auc"] = metrics["val_auc"]
                    state["bad_evals"] = 0
                else:
                    state["bad_evals"] += 1
                stop = cfg.patience > 0 and state["bad_evals"] >= cfg.patience and state["step"] < total_steps
                state["stopped_early"] = stop
                state["elapsed_s"] = elapsed
                state["history"].append({k: metrics[k] for k in ("step", "train_loss", "val_loss", "val_auc")})
                metrics |= {"best_step": state["best_step"], "best_val_auc": state["best_val_auc"]}
                if main:
                    _save_checkpoint(run, accelerator.unwrap_model(model), optimizer, scheduler, state,
                                     full_config, metrics, rows, improved)
                accelerator.wait_for_everyone()
                if main:
                    auc = metrics["val_auc"]
                    bar.write(
                        f"step {state['step']}: train loss {metrics['train_loss']:.4f}"
                        + (f", val loss {metrics['val_loss']:.4f}" if metrics["val_loss"] is not None else "")
                        + (f", val AUC {auc:.3f}" if auc is not None else "")
                        + (" (best)" if improved else f" (best: step {state['best_step']})"),
                        file=sys.stderr,
                    )
                if stop:
                    note(f"early stop: validation AUC did not improve for {cfg.patience} validations")
                    break
    finally:
        bar.close()
    summary = {
        "finished": True,
        "steps": state["step"],
        "total_steps": total_steps,
        "stopped_early": state["stopped_early"],
        "best_checkpoint": f"checkpoints/step-{state['best_step']}",
        "best_step": state["best_step"],
        "best_val_auc": state["best_val_auc"],
        "last_metrics": last_metrics,
        "elapsed_s": round(float(state["elapsed_s"]), 1),
        "resumed_from": state.get("resumed_from", []),
        "data": prep.data,
    }
    if main:
        write_json(run / "run.json", summary)
        note(
            f"done: best checkpoint step {state['best_step']}"
            + (f" (val AUC {state['best_val_auc']:.3f})" if state["best_val_auc"] is not None else "")
            + f"; {run}/best"
        )
    return summary


def set_seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _append_log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """After a resume from ``step``, drop log lines of steps that will run again."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except ValueError:
            continue
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)


def _write_verify_examples(path: Path, examples: Sequence[Example], enc: PromptEncoder, n: int = 12) -> None:
    """A few (task, candidate) pairs, both classes, for export's llama.cpp-vs-transformers check."""
    pos = [e for e in examples if e.label][: n // 2]
    neg = [e for e in examples if not e.label][: n - len(pos)]
    chosen = sorted(pos + neg, key=lambda e: len(e.ids))
    from winnow.judge.base.jsonl import write_jsonl

    write_jsonl(path, (
        {"problem_id": e.problem_id, "candidate_id": e.candidate_id, "label": e.label, "task": e.task,
         "code": e.code, "language": e.language}
        for e in chosen
    ))


def _point_best(run: Path, checkpoint: Path, metrics: dict[str, Any]) -> None:
    rel = os.path.relpath(checkpoint, run)
    write_json(run / "best.json", {"checkpoint": rel, "step": metrics.get("step"), "val_auc": metrics.get("val_auc")})
    link = run / "best"
    tmp = run / f".best-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(rel, tmp)
        os.replace(tmp, link)
    except OSError:  # no symlinks here: best.json says the same
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    source = checkpoint / "validation_scores.jsonl"
    if source.is_file():
        shutil.copyfile(source, run / "validation_scores.jsonl.tmp")
        os.replace(run / "validation_scores.jsonl.tmp", run / "validation_scores.jsonl")


def _save_checkpoint(
    run: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], config: dict[str, Any],
    metrics: dict[str, Any], rows: list[dict[str, Any]], improved: bool, keep_last: int = 2,
) -> Path:
    """checkpoints/step-N/{adapter/, optimizer.pt, trainer_state.json, config.json, metrics.json,
    validation_scores.jsonl}, written to a temporary folder and renamed (a kill leaves no half)."""
    import torch

    from winnow.judge.base.jsonl import write_jsonl

    root = run / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state['step']}"
    tmp = root / f".step-{state['step']}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_pretrained(str(tmp / "adapter"))
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state()},
        tmp / "optimizer.pt",
    )
    write_json(tmp / "config.json", config)
    write_json(tmp / "metrics.json", metrics)
    write_json(tmp / "trainer_state.json", state)
    write_jsonl(tmp / "validation_scores.jsonl", rows)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if improved:
        _point_best(run, final, metrics)
    best = f"step-{state['best_step']}"
    for old in checkpoints(run)[:-keep_last]:
        if old.name != best:
            shutil.rmtree(old, ignore_errors=True)
    return final


# --- using a trained checkpoint ---------------------------------------------------------------


def load_checkpoint_model(checkpoint: str | os.PathLike[str]) -> tuple[Any, PromptEncoder, dict[str, Any]]:
    """(transformers+peft model in eval mode, prompt encoder, run config) of a checkpoint."""
    _require_training_stack()
    from peft import PeftModel

    ck = Path(checkpoint)
    config = json.loads((ck / "config.json").read_text(encoding="utf-8"))
    base = convert_base(config["base"]["spec"])
    if base.sha256 != config["base"]["sha256"]:
        raise WinnowError(
            f"{ck} was trained on a base with sha256 {config['base']['sha256'][:12]}…, but "
            f"{config['base']['spec']} now resolves to {base.sha256[:12]}…"
        )
    model, hf_tok = load_base_model(base)
    model = PeftModel.from_pretrained(model, str(ck / "adapter"))
    model.eval()
    train_cfg = config["train"]
    enc = PromptEncoder(
        hf_tok, base.chat_template, base.bos,
        train_cfg.get("max_task_tokens", MAX_TASK_TOKENS), train_cfg.get("max_candidate_tokens", MAX_CANDIDATE_TOKENS),
    )
    return model, enc, config
