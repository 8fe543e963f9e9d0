"""Training examples: labels joined with their problems, split by problem, tokenized.

The task is the problem's prompt, the candidate its complete code, positive =
``passed``. Held-out HumanEval problems are refused. The split into train and
validation is by problem, never by candidate.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import write_jsonl
from winnow.judge.llm.model_files import sha256_file
from winnow.judge.training.config import TrainConfig
from winnow.judge.training.encoding import PromptEncoder
from winnow.judge.training.pretrained import ConvertedBase
from winnow.judge.training.records import DataSummary, JSONObject, VerifyExample

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from winnow.judge.dataset.problems import Problem


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class TrainingExample:
    """A labelled candidate with its task; ``ids`` is its judge prompt, set by ``prepare``."""

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


def load_examples(
    labels: Iterable[JSONObject], problems: Mapping[str, Problem], where: str = "labels"
) -> list[TrainingExample]:
    """Labelled candidates joined with their problems (positive = passed); the first record
    of a (problem, candidate) pair wins. Held-out HumanEval problems are refused."""
    out: list[TrainingExample] = []
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
        out.append(TrainingExample(pid, cid, int(r["status"] == "passed"), problem.prompt, r["code"], problem.language))
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


def examples_digest(examples: Sequence[TrainingExample]) -> str:
    """A hash of what the examples say (ids, label, task, code): a resume on other labels is refused."""
    h = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.problem_id, e.candidate_id)):
        h.update(f"{e.problem_id}\0{e.candidate_id}\0{e.label}\0{sha256_text(e.task)}\0{sha256_text(e.code)}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Prepared:
    """Examples split by problem and tokenized, with what the run config records about them."""

    base: ConvertedBase
    encoder: PromptEncoder
    train: list[TrainingExample]
    val: list[TrainingExample]
    summary: DataSummary


def prepare(
    cfg: TrainConfig, hf_tokenizer: PreTrainedTokenizerBase, base: ConvertedBase, examples: list[TrainingExample]
) -> Prepared:
    """Examples split by problem and tokenized with the serving prompt."""
    train_ids, val_ids = split_by_problem((e.problem_id for e in examples), cfg.val_fraction, cfg.seed)
    val_set = set(val_ids)
    encoder = PromptEncoder(
        hf_tokenizer, base.chat_template, base.bos, cfg.max_task_tokens, cfg.max_candidate_tokens,
        cfg.prompt_template,
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
    summary = DataSummary(
        labels_path=str(cfg.labels),
        labels_sha256=sha256_file(cfg.labels),
        examples_sha256=examples_digest(examples),
        problems_sha256=sha256_text(
            "\n".join(sorted({f"{e.problem_id}\0{sha256_text(e.task)}" for e in examples}))
        ),
        n_examples=len(examples),
        n_train=len(train),
        n_val=len(val),
        train_positive=n_pos,
        train_negative=len(train) - n_pos,
        val_positive=sum(e.label for e in val),
        val_negative=len(val) - sum(e.label for e in val),
        train_problems=len(train_ids),
        val_problems=val_ids,
        truncated_examples=cut,
        tokens_mean=round(float(np.mean(lengths)), 1),
        tokens_max=int(max(lengths)),
    )
    return Prepared(base, encoder, train, val, summary)


def write_verify_examples(path: Path, examples: Sequence[TrainingExample], n: int = 12) -> None:
    """A few (task, candidate) pairs, both classes, for export's llama.cpp-vs-transformers check."""
    pos = [e for e in examples if e.label][: n // 2]
    neg = [e for e in examples if not e.label][: n - len(pos)]
    chosen = sorted(pos + neg, key=lambda e: len(e.ids))
    write_jsonl(path, (
        VerifyExample(e.problem_id, e.candidate_id, e.label, e.task, e.code, e.language).to_dict() for e in chosen
    ))
