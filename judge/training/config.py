"""What a training run is asked to do (``winnow train``'s flags), and which of it may change on resume."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from winnow.judge.base.errors import WinnowError
from winnow.judge.scoring.judge_prompt import (
    JUDGE_TEMPLATE,
    MAX_CANDIDATE_TOKENS,
    MAX_TASK_TOKENS,
    SERVED_TEMPLATES,
)
from winnow.judge.training.records import JSONObject

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: ``example``: steps of ``batch_size × grad_accum`` examples in a seeded order; ``task``: one
#: step per task (problem) over its candidates, so that a passing and a failing one share a step.
BATCHING = ("example", "task")
#: Checkpoint selection (and early stopping): within-task pairwise accuracy or ROC-AUC on validation.
SELECT = ("pairwise", "auc")
#: Config fields that may change when a run resumes (the rest must match the checkpoint; the
#: labels and problems are compared by content, not by how their paths are spelled).
RESUMABLE_CHANGES = {
    "out", "resume", "threads", "eval_batch_size", "patience", "allow_tokenizer_mismatch", "labels", "problems",
    "time_budget_s",
}
#: What a run saved before a field existed did: such a run resumes only with these settings.
LEGACY_VALUES: dict[str, object] = {"select": "auc"}


@dataclass
class TrainConfig:
    """``winnow train``'s flags (``config.json``'s ``train``)."""

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
    batching: str = "example"
    task_max: int = 16
    pairwise_weight: float = 0.0
    select: str = "pairwise"
    lora_layers: int = 0  # LoRA on the top N transformer layers only (0: all); the rest stay frozen
    time_budget_s: float | None = None  # stop after this much training time (then validate and keep the best)
    prompt_template: str = JUDGE_TEMPLATE  # the judge prompt trained (and then served): v2 body only, v1 whole candidate

    def validate(self) -> None:
        """Refuse settings no run can use, naming the flag."""
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
            (self.batching in BATCHING, f"--batching must be one of {', '.join(BATCHING)}"),
            (self.task_max >= 2, "--task-max must be at least 2 (a pair)"),
            (self.pairwise_weight >= 0, "--pairwise-weight must be >= 0"),
            (self.select in SELECT, f"--select must be one of {', '.join(SELECT)}"),
            (self.lora_layers >= 0, "--lora-layers must be >= 0 (0: every layer)"),
            (self.time_budget_s is None or self.time_budget_s > 0, "--time-budget must be positive"),
            (self.prompt_template in SERVED_TEMPLATES, f"--prompt must be one of {', '.join(SERVED_TEMPLATES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise WinnowError(message)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSONObject) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def identity(self) -> dict[str, object]:
        """The settings that decide what is learned: a resumed run must have the same."""
        return {k: v for k, v in self.to_dict().items() if k not in RESUMABLE_CHANGES}

    def changes_from(self, saved: JSONObject) -> dict[str, tuple[object, object]]:
        """{field: (saved, now)} for every identity setting that differs from a saved config
        (a field the saved run predates counts as what that run did)."""
        defaults = {f.name: f.default for f in fields(self)}
        mine = self.identity()
        theirs = {k: saved.get(k, LEGACY_VALUES.get(k, defaults.get(k))) for k in mine}
        return {k: (theirs[k], mine[k]) for k in mine if mine[k] != theirs[k]}
