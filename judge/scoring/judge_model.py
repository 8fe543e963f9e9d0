"""The judge: P(candidate is correct) from a small model (GGUF base + optional LoRA).

The judge reads a task (signature + docstring) and a candidate and answers a Yes/No
question; P(correct) = sigmoid((logit(Yes) − logit(No)) / T + b), the calibration
fitted on validation data and stored in the judge manifest (``judge.json``).

The prompt is versioned (``JUDGE_TEMPLATE``) and split in two token runs: the
*task prefix* (shared by every candidate of a task, evaluated once and cached) and
the *candidate branch* (candidate + question + answer cue). Training tokenizes in
exactly the same two runs (see ``judge_token_runs``), so train and serve agree.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from winnow.judge.base.errors import ModelError, WinnowError
from winnow.judge.base.jsonl import write_json
from winnow.judge.llm.model_files import sha256_file
from winnow.judge.scoring.calibration import Calibration

log = logging.getLogger(__name__)

JUDGE_TEMPLATE = "winnow-judge-v1"
MANIFEST_FORMAT = "winnow-judge/1"
CANDIDATE_SLOT = "\uE000CANDIDATE\uE000"  # a private-use marker no real code contains

SYSTEM_TEXT = "You are a careful code reviewer. You answer with a single word: Yes or No."
USER_TEXT = (
    "Task:\n```{language}\n{task}\n```\n\n"
    "Candidate:\n```{language}\n" + CANDIDATE_SLOT + "\n```\n\n"
    "Is the candidate a correct implementation of the task? Answer Yes or No."
)
PLAIN_TEXT = SYSTEM_TEXT + "\n\n" + USER_TEXT + "\nAnswer:"
ANSWER_YES = ("Yes", " Yes", "yes", " yes")
ANSWER_NO = ("No", " No", "no", " no")
MAX_TASK_TOKENS = 512
MAX_CANDIDATE_TOKENS = 768
DEFAULT_MANIFEST = Path(__file__).parent.parent / "data" / "judge.json"


class Tokenizer(Protocol):
    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True) -> list[int]: ...


def judge_texts(chat_template: str | None, task: str, language: str = "python") -> tuple[str, str]:
    """The judge prompt around the candidate: (text before it, text after it)."""
    user = USER_TEXT.format(language=language, task=task.strip("\n"))
    if chat_template:
        from winnow.judge.llm.prompts import render_chat

        full = render_chat(
            chat_template,
            [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": user}],
            add_generation_prompt=True,
        )
    else:
        full = PLAIN_TEXT.format(language=language, task=task.strip("\n")) + " "
    before, sep, after = full.partition(CANDIDATE_SLOT)
    if not sep:
        raise WinnowError("the model's chat template dropped the candidate: cannot build a judge prompt")
    return before, after


@dataclass
class TokenRuns:
    prefix: list[int]
    branch: list[int]
    task_truncated: bool
    candidate_truncated: bool


def _keep_head(tokens: list[int], limit: int) -> tuple[list[int], bool]:
    return (tokens[:limit], True) if len(tokens) > limit else (tokens, False)


def _keep_tail(tokens: list[int], limit: int) -> tuple[list[int], bool]:
    return (tokens[len(tokens) - limit :], True) if len(tokens) > limit else (tokens, False)


def judge_token_runs(
    tok: Tokenizer,
    chat_template: str | None,
    task: str,
    candidate: str,
    bos: int | None = None,
    language: str = "python",
    max_task_tokens: int = MAX_TASK_TOKENS,
    max_candidate_tokens: int = MAX_CANDIDATE_TOKENS,
) -> TokenRuns:
    """Tokens of the judge prompt, as (shared prefix, per-candidate branch).

    Long inputs are cut, and the flags report it: the task keeps its first
    ``max_task_tokens`` tokens (the signature and the start of the docstring), the
    candidate its LAST ``max_candidate_tokens`` (the body: the candidate's copy of the
    signature and docstring is what goes first, and the task already shows those).
    """
    before, after = judge_texts(chat_template, "\uE001", language)
    head, _, tail = before.partition("\uE001")
    task_ids, task_cut = _keep_head(tok.tokenize(task.strip("\n"), False, False), max_task_tokens)
    cand_ids, cand_cut = _keep_tail(tok.tokenize(candidate.strip("\n"), False, False), max_candidate_tokens)
    prefix = tok.tokenize(head, False, True) + task_ids + tok.tokenize(tail, False, True)
    if bos is not None and (not prefix or prefix[0] != bos):
        prefix = [bos] + prefix
    branch = cand_ids + tok.tokenize(after, False, True)
    return TokenRuns(prefix, branch, task_cut, cand_cut)


def answer_token_ids(tok: Tokenizer, token_text: Callable[[int], str], words: Sequence[str]) -> list[int]:
    """Ids of the single-token spellings of an answer word (with/without leading space)."""
    ids: list[int] = []
    for word in words:
        t = tok.tokenize(word, False, False)
        if len(t) == 1 and t[0] not in ids:
            ids.append(t[0])
    if not ids:
        raise ModelError(f"the judge model's vocabulary has no single token for {words[0]!r}")
    return ids


def logsumexp(values: np.ndarray) -> float:
    m = float(values.max())
    return m + math.log(float(np.exp(values - m).sum()))



@dataclass
class JudgeManifest:
    """What a judge is, where its files are, and how good it measured."""

    name: str = "zero-shot"
    base_model: str = "default"
    base_sha256: str | None = None
    adapter: str | None = None  # path relative to the manifest's folder
    adapter_sha256: str | None = None
    adapter_scale: float = 1.0
    prompt_template: str = JUDGE_TEMPLATE
    languages: list[str] = field(default_factory=lambda: ["python"])
    answer_tokens: dict[str, list[str]] = field(
        default_factory=lambda: {"yes": list(ANSWER_YES), "no": list(ANSWER_NO)}
    )
    calibration: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    recommended: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    max_task_tokens: int = MAX_TASK_TOKENS
    max_candidate_tokens: int = MAX_CANDIDATE_TOKENS
    path: str | None = None  # where it was read from (not stored)

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "path"}
        return {"format": MANIFEST_FORMAT} | data

    def save(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        write_json(p, self.to_dict())
        return p

    @classmethod
    def load(cls, spec: str | os.PathLike[str]) -> JudgeManifest:
        """Read ``default``, a ``judge.json`` path, or a folder holding one."""
        p = DEFAULT_MANIFEST if str(spec) == "default" else Path(os.path.expanduser(str(spec)))
        if p.is_dir():
            p = p / "judge.json"
        if not p.is_file():
            raise WinnowError(f"judge manifest {p} does not exist: name a judge.json, `default`, or `none`")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WinnowError(f"judge manifest {p} is not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise WinnowError(f"{p} is not a Winnow judge manifest (expected \"format\": \"{MANIFEST_FORMAT}\")")
        if data.get("prompt_template") != JUDGE_TEMPLATE:
            raise WinnowError(
                f"{p} uses judge prompt {data.get('prompt_template')!r}; this Winnow serves {JUDGE_TEMPLATE!r}: "
                "retrain or export the judge with this version"
            )
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"}
        manifest = cls(**known)
        manifest.path = str(p)
        try:
            Calibration.from_dict(manifest.calibration)
        except (TypeError, ValueError) as exc:
            raise WinnowError(f"{p}: {exc}") from exc
        return manifest

    def adapter_path(self) -> Path | None:
        if not self.adapter:
            return None
        base = Path(self.path).parent if self.path else Path.cwd()
        return (base / self.adapter).resolve()

    def check_files(self, base_sha256: str | None) -> None:
        """A missing or mismatched adapter/base is a clear error, not a silent wrong score."""
        adapter = self.adapter_path()
        if adapter is not None:
            if not adapter.is_file():
                raise WinnowError(f"judge manifest {self.path} names adapter {adapter}, which does not exist")
            if self.adapter_sha256 and sha256_file(adapter) != self.adapter_sha256:
                raise WinnowError(
                    f"adapter {adapter} does not match the sha256 in {self.path}: re-export the judge"
                )
        if self.base_sha256 and base_sha256 and base_sha256 != self.base_sha256:
            raise WinnowError(
                f"judge manifest {self.path} was trained on a base model with sha256 {self.base_sha256[:12]}…, "
                f"but {self.base_model} resolves to {base_sha256[:12]}…: use the base it was trained on"
            )


@dataclass
class Verdict:
    p_correct: float
    p_raw: float
    z: float  # logit(yes) - logit(no)
    task_truncated: bool = False
    candidate_truncated: bool = False


class Judge:
    """Scores candidates with a judge model on its own llama.cpp context."""

    def __init__(self, engine: Any, manifest: JudgeManifest, base_info: Any = None) -> None:
        self.engine = engine
        self.manifest = manifest
        self.base_info = base_info
        self.calibration = Calibration.from_dict(manifest.calibration)
        model = engine.model
        self.chat_template = model.chat_template()
        self.bos = model.bos() if model.add_bos() and model.bos() >= 0 else None
        self.yes_ids = answer_token_ids(model, model.token_text, manifest.answer_tokens.get("yes", ANSWER_YES))
        self.no_ids = answer_token_ids(model, model.token_text, manifest.answer_tokens.get("no", ANSWER_NO))

    @classmethod
    def load(
        cls,
        spec: str,
        n_threads: int = 0,
        allow_download: bool = False,
        model_cache: Callable[[str], Any] | None = None,
        n_ctx: int = 4096,
    ) -> Judge:
        """Load the manifest, check its files, and make an engine with the adapter."""
        from winnow.judge.llm.engine import Engine, Model
        from winnow.judge.llm.model_files import resolve

        manifest = JudgeManifest.load(spec)
        info = resolve(manifest.base_model, allow_download=allow_download)
        manifest.check_files(info.sha256)
        model = model_cache(info.path) if model_cache is not None else Model(info.path)
        engine = Engine(
            model, n_ctx=n_ctx, n_seq_max=17, n_threads=n_threads or None,
            lora_path=manifest.adapter_path(), lora_scale=manifest.adapter_scale,
        )
        return cls(engine, manifest, info)

    def close(self) -> None:
        self.engine.close()

    def runs(self, task: str, candidate: str) -> TokenRuns:
        return judge_token_runs(
            self.engine.model, self.chat_template, task, candidate, self.bos,
            max_task_tokens=self.manifest.max_task_tokens,
            max_candidate_tokens=self.manifest.max_candidate_tokens,
        )

    def _z(self, logits: np.ndarray) -> float:
        return logsumexp(logits[self.yes_ids]) - logsumexp(logits[self.no_ids])

    def verdicts(
        self, task: str, codes: Sequence[str], cancel: Callable[[], bool] | None = None
    ) -> list[Verdict]:
        """One verdict per candidate; the task prefix is evaluated once for all."""
        if not codes:
            return []
        runs = [self.runs(task, code) for code in codes]
        for i, r in enumerate(runs):
            if r.candidate_truncated or r.task_truncated:
                log.warning(
                    "judge: candidate %d cut to its last %d tokens / task to its first %d tokens",
                    i, self.manifest.max_candidate_tokens, self.manifest.max_task_tokens,
                )
        logits = self.engine.branch_logits(runs[0].prefix, [r.branch for r in runs], cancel)
        out: list[Verdict] = []
        for r, row in zip(runs, logits, strict=True):
            z = self._z(row)
            out.append(
                Verdict(
                    p_correct=float(self.calibration.apply(z)),
                    p_raw=float(1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))),
                    z=z,
                    task_truncated=r.task_truncated,
                    candidate_truncated=r.candidate_truncated,
                )
            )
        return out

    def score(self, task: str, codes: Sequence[str], cancel: Callable[[], bool] | None = None) -> list[float]:
        return [v.p_correct for v in self.verdicts(task, codes, cancel)]

    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "name": m.name,
            "manifest": m.path,
            "base_model": m.base_model,
            "adapter": str(m.adapter_path()) if m.adapter else None,
            "prompt_template": m.prompt_template,
            "calibration": self.calibration.to_dict(),
            "evaluation": m.evaluation,
            "recommended": m.recommended,
        }
