"""How long a run is: its epochs' plans of steps, the number of steps, warm-up and validations.

Planned once the data is split (the plans need the training examples) and before the
model is built (the learning-rate schedule needs the number of steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from winnow.judge.training.batching import Plan, example_plan, task_plan
from winnow.judge.training.config import TrainConfig
from winnow.judge.training.training_examples import TrainingExample


class EpochPlans:
    """This process's steps of each epoch, made when first asked for (seeded by the run's
    seed and the epoch, so a resumed run gets the plan it was killed in)."""

    def __init__(self, cfg: TrainConfig, train: Sequence[TrainingExample], rank: int, world: int) -> None:
        self.cfg = cfg
        self.train = train
        self.rank = rank
        self.world = world
        self._plans: dict[int, Plan] = {}

    def __getitem__(self, epoch: int) -> Plan:
        if epoch not in self._plans:
            self._plans[epoch] = self._make(epoch)
        return self._plans[epoch]

    def _make(self, epoch: int) -> Plan:
        cfg, train = self.cfg, self.train
        if cfg.batching == "task":
            return task_plan(
                [e.problem_id for e in train], [e.label for e in train], cfg.task_max, cfg.batch_size,
                cfg.seed, epoch, self.rank, self.world,
            )
        return example_plan(len(train), cfg.batch_size, cfg.grad_accum, cfg.seed, epoch, self.rank, self.world)


@dataclass(frozen=True)
class Schedule:
    """How long a run is and how often it validates (recorded in its config)."""

    pos_weight: float
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    eval_every: int
    world_size: int
    batching: str
    #: examples per optimizer step (with task batching: at most, over all processes)
    effective_batch: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def plan_schedule(cfg: TrainConfig, n_train: int, n_positive: int, steps_per_epoch: int, world: int) -> Schedule:
    """The run's schedule: ``epochs`` of ``steps_per_epoch`` (capped by ``max_steps``), the
    warm-up share, validation every ``eval_every`` steps (default: twice an epoch), and
    ``pos_weight`` = negatives / positives of the training split."""
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    per_step = cfg.task_max if cfg.batching == "task" else cfg.batch_size * cfg.grad_accum
    return Schedule(
        pos_weight=(n_train - n_positive) / n_positive,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        warmup_steps=int(round(cfg.warmup * total_steps)),
        eval_every=cfg.eval_every or max(1, steps_per_epoch // 2),
        world_size=world,
        batching=cfg.batching,
        effective_batch=per_step * world,
    )
