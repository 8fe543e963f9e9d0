"""Validation during training: the figures, the one that picks the best checkpoint, the line
the run prints.

Validation loss (with the run's ``pos_weight``) and log-loss, ROC-AUC, within-task
pairwise accuracy and accuracy (z > 0) on the validation problems, split over the
processes and gathered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from winnow.judge.evaluation.metrics import roc_auc, within_task_pairwise
from winnow.judge.training.encoding import PromptEncoder, score_sequences
from winnow.judge.training.objective import bce
from winnow.judge.training.records import CheckpointMetrics, ValidationFigures, ValidationScore
from winnow.judge.training.training_examples import TrainingExample

if TYPE_CHECKING:
    import torch


def validate(
    model: torch.nn.Module, encoder: PromptEncoder, val: Sequence[TrainingExample], batch_size: int,
    pos_weight: float, rank: int, world: int,
) -> tuple[ValidationFigures, list[ValidationScore]]:
    """The validation figures and every example's z (this process scores every ``world``-th
    example from ``rank``; the z are gathered, so every process returns all of them)."""
    from accelerate.utils import gather_object

    if not val:
        return ValidationFigures.without_split(), []
    mine = list(range(rank, len(val), world))
    z = score_sequences(model, encoder, [val[i].ids for i in mine], batch_size)
    pairs = list(zip(mine, z.tolist(), strict=True))
    if world > 1:
        pairs = gather_object(pairs)
    z_all = np.zeros(len(val))
    for i, value in pairs:
        z_all[i] = value
    y = np.array([e.label for e in val])
    figures = ValidationFigures(
        val_loss=bce(z_all, y, pos_weight),
        val_logloss=bce(z_all, y, 1.0),
        val_auc=roc_auc(y.tolist(), z_all.tolist()),
        val_pairwise=within_task_pairwise([e.problem_id for e in val], y.tolist(), z_all.tolist()),
        val_accuracy=float(np.mean((z_all > 0).astype(int) == y)),
        n_val=len(val),
    )
    rows = [ValidationScore(e.problem_id, e.candidate_id, float(v), e.label) for e, v in zip(val, z_all, strict=True)]
    return figures, rows


def selection_score(figures: ValidationFigures, select: str) -> tuple[float | None, str | None]:
    """(score, its name) that picks the best checkpoint: the ``select`` metric, else the other
    validation figure, else −validation loss; (None, None) without validation."""
    by_name = {"val_pairwise": figures.val_pairwise, "val_auc": figures.val_auc}
    order = ("val_pairwise", "val_auc") if select == "pairwise" else ("val_auc",)
    for key in order:
        value = by_name[key]
        if value is not None:
            return float(value), key
    if figures.val_loss is not None:
        return -float(figures.val_loss), "-val_loss"
    return None, None


def validation_line(metrics: CheckpointMetrics, improved: bool) -> str:
    """What the run prints after a validation."""
    v = metrics.validation
    return (
        f"step {metrics.step}: train loss {metrics.train_loss:.4f}"
        + (f", val loss {v.val_loss:.4f}" if v.val_loss is not None else "")
        + (f", val AUC {v.val_auc:.3f}" if v.val_auc is not None else "")
        + (f", val pairwise {v.val_pairwise:.3f}" if v.val_pairwise is not None else "")
        + (" (best)" if improved else f" (best: step {metrics.best_step})")
    )
