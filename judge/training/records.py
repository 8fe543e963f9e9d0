"""What a run measures and writes, as typed records.

Each record's ``to_dict`` is the JSON object of its file in the run folder (the keys and
their order are the files' format: docs/training.md), so the loop, the checkpoint writer
and export pass typed figures to each other and only the file edge sees a dict.
``from_dict`` reads one back; a key that a run saved before that figure existed lacks
(``val_pairwise``, ``select``, …) reads as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.pretrained import ConvertedBase
    from winnow.judge.training.schedule import Schedule

#: A JSON object as read from a run's file: the one place a record sees ``Any``.
JSONObject = Mapping[str, Any]


@dataclass(frozen=True)
class DataSummary:
    """What a run trained on (``config.json``'s and ``run.json``'s ``data``): hashes to refuse
    a resume on other labels, the split's sizes and classes, how long the prompts are."""

    labels_path: str
    labels_sha256: str
    examples_sha256: str
    problems_sha256: str
    n_examples: int
    n_train: int
    n_val: int
    train_positive: int
    train_negative: int
    val_positive: int
    val_negative: int
    train_problems: int
    val_problems: list[str]
    truncated_examples: int
    tokens_mean: float
    tokens_max: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSONObject) -> DataSummary:
        return cls(**data)


@dataclass(frozen=True)
class ValidationFigures:
    """Validation at one step; a figure is None where it is undefined (no validation
    split, or no validation task with both labels for ``val_pairwise``)."""

    val_loss: float | None
    val_logloss: float | None
    val_auc: float | None
    val_pairwise: float | None
    val_accuracy: float | None
    n_val: int

    @classmethod
    def without_split(cls) -> ValidationFigures:
        """A run with ``--val-fraction 0``: nothing to measure."""
        return cls(None, None, None, None, None, 0)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if not self.n_val:  # a run without validation has never written a log-loss
            del out["val_logloss"]
        return out

    @classmethod
    def from_dict(cls, data: JSONObject) -> ValidationFigures:
        return cls(data["val_loss"], data.get("val_logloss"), data["val_auc"], data.get("val_pairwise"),
                   data["val_accuracy"], data["n_val"])


@dataclass(frozen=True)
class CheckpointMetrics:
    """A checkpoint's ``metrics.json``: its validation, where the run was, the best so far."""

    validation: ValidationFigures
    step: int
    epoch: int
    lr: float
    #: mean loss of the steps since the previous validation
    train_loss: float | None
    examples_seen: int
    elapsed_s: float
    best_step: int | None
    best_val_auc: float | None
    best_val_pairwise: float | None
    #: ``--select`` (None: a run saved before the flag existed)
    select: str | None
    #: the figure the best checkpoint was picked by (``val_pairwise``, ``val_auc`` or ``-val_loss``)
    selected_by: str | None

    def to_dict(self) -> dict[str, object]:
        return self.validation.to_dict() | {
            "step": self.step, "epoch": self.epoch, "lr": self.lr, "train_loss": self.train_loss,
            "examples_seen": self.examples_seen, "elapsed_s": self.elapsed_s, "best_step": self.best_step,
            "best_val_auc": self.best_val_auc, "best_val_pairwise": self.best_val_pairwise,
            "select": self.select, "selected_by": self.selected_by,
        }

    @classmethod
    def from_dict(cls, data: JSONObject) -> CheckpointMetrics:
        return cls(
            ValidationFigures.from_dict(data), data["step"], data["epoch"], data["lr"], data["train_loss"],
            data["examples_seen"], data["elapsed_s"], data["best_step"], data["best_val_auc"],
            data.get("best_val_pairwise"), data.get("select"), data.get("selected_by"),
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One validation in ``trainer_state.json``'s ``history``."""

    step: int
    train_loss: float | None
    val_loss: float | None
    val_auc: float | None
    val_pairwise: float | None = None  # None in runs saved before the pairwise figure


@dataclass(frozen=True)
class StepLog:
    """One optimizer step in ``log.jsonl``."""

    step: int
    epoch: int
    loss: float
    lr: float
    elapsed_s: float
    #: the within-task pairwise term (only with ``--pairwise-weight``)
    pairwise: float | None = None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if self.pairwise is None:
            del out["pairwise"]
        return out


@dataclass(frozen=True)
class ValidationScore:
    """One validation example's z (``validation_scores.jsonl``: what export calibrates on)."""

    problem_id: str
    candidate_id: str
    z: float
    label: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyExample:
    """A (task, candidate) pair of ``verify_examples.jsonl``, for export's agreement check."""

    problem_id: str
    candidate_id: str
    label: int
    task: str
    code: str
    language: str = "python"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSONObject) -> VerifyExample:
        return cls(data["problem_id"], data["candidate_id"], int(data.get("label", 0)), data["task"], data["code"],
                   data.get("language", "python"))


@dataclass(frozen=True)
class RunConfig:
    """A run's ``config.json`` (and every checkpoint's copy): the flags, the base, the answer
    tokens, the data, the schedule, the versions and the command line."""

    train: TrainConfig
    base: ConvertedBase
    yes_ids: list[int]
    no_ids: list[int]
    data: DataSummary
    schedule: Schedule
    versions: dict[str, str]
    command: list[str]

    def to_dict(self) -> dict[str, object]:
        base, facts = self.base, self.base.facts
        return {
            "train": self.train.to_dict(),
            "prompt_template": self.train.prompt_template,
            "base": {"spec": base.spec, "gguf_path": base.gguf_path, "sha256": base.sha256,
                     "converted_dir": base.dir, "architecture": facts.architecture, "n_layers": facts.n_layers,
                     "n_head": facts.n_head, "n_head_kv": facts.n_head_kv, "bos": base.bos,
                     "tokenizer_check": base.tokenizer_check, "source": base.source,
                     "gguf_sha256": base.gguf_sha256, "config_fixes": base.config_fixes},
            "answer_ids": {"yes": self.yes_ids, "no": self.no_ids},
            "data": self.data.to_dict(),
            "schedule": self.schedule.to_dict(),
            "versions": self.versions,
            "command": self.command,
        }


@dataclass(frozen=True)
class RunSummary:
    """``run.json``, written when a run finishes (and what ``train`` returns)."""

    steps: int
    total_steps: int
    stopped_early: bool
    best_step: int | None
    select: str | None
    best_val_auc: float | None
    best_val_pairwise: float | None
    #: the last validation of this session (None: it validated nothing, e.g. resumed at its end)
    last_metrics: CheckpointMetrics | None
    elapsed_s: float
    resumed_from: list[str]
    data: DataSummary
    finished: bool = True

    @property
    def best_checkpoint(self) -> str:
        return f"checkpoints/step-{self.best_step}"

    def to_dict(self) -> dict[str, object]:
        return {
            "finished": self.finished, "steps": self.steps, "total_steps": self.total_steps,
            "stopped_early": self.stopped_early, "best_checkpoint": self.best_checkpoint,
            "best_step": self.best_step, "select": self.select, "best_val_auc": self.best_val_auc,
            "best_val_pairwise": self.best_val_pairwise,
            "last_metrics": self.last_metrics.to_dict() if self.last_metrics is not None else {},
            "elapsed_s": self.elapsed_s, "resumed_from": self.resumed_from, "data": self.data.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: JSONObject) -> RunSummary:
        last = data["last_metrics"]
        return cls(
            data["steps"], data["total_steps"], data["stopped_early"], data["best_step"], data.get("select"),
            data["best_val_auc"], data.get("best_val_pairwise"), CheckpointMetrics.from_dict(last) if last else None,
            data["elapsed_s"], data["resumed_from"], DataSummary.from_dict(data["data"]), bool(data["finished"]),
        )
