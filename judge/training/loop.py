"""The training loop: configure → load data → build model → loop (steps, validation, checkpoints) → save.

AdamW with linear warm-up and decay, gradient accumulation over micro-batches, binary
cross-entropy on the judge's z with ``pos_weight`` = negatives / positives (plus, with
``--pairwise-weight``, a within-task ranking term: ``objective``), steps planned by
``batching`` (``--batching example | task``). Every ``eval_every`` steps: validation
(loss, ROC-AUC, within-task pairwise accuracy), a checkpoint, ``DIR/best`` pointing at the
best one by ``--select``, early stopping after ``patience`` validations without a better
one. A killed run resumes from its last checkpoint. ``accelerate launch`` spreads it
over GPUs.

What a run fixes before its first step is a frozen ``Run`` (its ``RunContext``, data,
plans, schedule, model and config, made in that order by ``train``); what changes as it
trains is its ``TrainerState`` (what a checkpoint saves) and, within ``_loop``, the
steps' losses since the last validation.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl, write_json
from winnow.judge.evaluation.metrics import task_pairs
from winnow.judge.training.batching import micro_batches, step_at
from winnow.judge.training.checkpoint import (
    TrainerState,
    append_log,
    check_resumable,
    checkpoints,
    restore,
    save_checkpoint,
    saved_config,
    truncate_log,
)
from winnow.judge.training.config import TrainConfig
from winnow.judge.training.encoding import batch_z, score_sequences
from winnow.judge.training.environment import require_training_stack, set_seed_all, versions
from winnow.judge.training.families import unverified_note
from winnow.judge.training.lora import Trainable, build_trainable
from winnow.judge.training.objective import pairwise_loss, pairwise_surrogate
from winnow.judge.training.pretrained import check_base_tokenizer, convert_base, load_base_model
from winnow.judge.training.records import CheckpointMetrics, RunConfig, RunSummary, StepLog
from winnow.judge.training.schedule import EpochPlans, Schedule, plan_schedule
from winnow.judge.training.training_examples import Prepared, load_examples, prepare, write_verify_examples
from winnow.judge.training.validation import selection_score, validate, validation_line

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator
    from tqdm import tqdm
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class RunContext:
    """Where and how a run trains: its settings, accelerate's view of the processes, its
    folder, and the checkpoint it resumes from (None: a fresh run)."""

    cfg: TrainConfig
    accelerator: Accelerator
    dir: Path
    say: Callable[[str], None]
    resume_from: Path | None

    @property
    def main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def rank(self) -> int:
        return int(self.accelerator.process_index)

    @property
    def world(self) -> int:
        return int(self.accelerator.num_processes)

    def note(self, message: str) -> None:
        """Say it once (from the main process)."""
        if self.main:
            self.say(message)


@dataclass(frozen=True)
class Run:
    """Everything a run fixes before its first step."""

    ctx: RunContext
    data: Prepared
    plans: EpochPlans
    schedule: Schedule
    #: the LoRA model as built (what a checkpoint saves), AdamW and the learning-rate schedule
    trainable: Trainable
    #: the model and optimizer as accelerate prepared them (what the steps go through)
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    config: RunConfig


def train(cfg: TrainConfig, progress: bool = True, say: Callable[[str], None] | None = None) -> RunSummary:
    """Run (or resume) a training run; return its summary (also in ``DIR/run.json``)."""
    cfg.validate()
    require_training_stack()
    ctx = _configure(cfg, say)
    finished = _finished_summary(ctx)
    if finished is not None:
        return finished
    data, base_model = _load_data(ctx)
    plans = EpochPlans(cfg, data.train, ctx.rank, ctx.world)
    schedule = plan_schedule(cfg, len(data.train), data.summary.train_positive, len(plans[0]), ctx.world)
    trainable, state = _build_model(ctx, base_model, schedule)
    model, optimizer = ctx.accelerator.prepare(trainable.model, trainable.optimizer)
    config = _start(ctx, data, schedule)
    run = Run(ctx, data, plans, schedule, trainable, model, optimizer, config)
    last_metrics = _loop(run, state, progress)
    return _finish(run, state, last_metrics)


# --- configure, data, model ---------------------------------------------------------------------


def _configure(cfg: TrainConfig, say: Callable[[str], None] | None) -> RunContext:
    """The accelerator, and the checkpoint to resume from (refused if its settings differ)."""
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    run_dir = Path(cfg.out)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    found = checkpoints(run_dir)
    if cfg.resume and not found:
        raise WinnowError(f"--resume: {run_dir} holds no checkpoint to resume from")
    resume_from = found[-1] if found else None
    if resume_from is not None:
        check_resumable(run_dir, cfg, resume_from)
    return RunContext(cfg, accelerator, run_dir, say or (lambda m: print(m, file=sys.stderr)), resume_from)


def _finished_summary(ctx: RunContext) -> RunSummary | None:
    """A finished run's summary: it is not trained again."""
    finished = ctx.dir / "run.json"
    if ctx.resume_from is None or not finished.is_file():
        return None
    summary = json.loads(finished.read_text(encoding="utf-8"))
    if not summary.get("finished"):
        return None
    ctx.note(f"{ctx.dir} holds a finished run (best {summary.get('best_checkpoint')}); nothing to do")
    return RunSummary.from_dict(summary)


def _load_data(ctx: RunContext) -> tuple[Prepared, PreTrainedModel]:
    """Labelled examples, the base (converted once, tokenizer checked), the tokenized split;
    the base model comes with them (its tokenizer is what tokenizes)."""
    from winnow.judge.dataset.problems import problems_by_id

    cfg = ctx.cfg
    examples = load_examples(read_jsonl(cfg.labels), problems_by_id(cfg.problems), cfg.labels)
    with ctx.accelerator.main_process_first():
        base = convert_base(cfg.base, say=ctx.note)
    unverified = unverified_note(base.facts.architecture)
    if unverified is not None:
        ctx.note(unverified)
    check_base_tokenizer(base, cfg.base, cfg.allow_tokenizer_mismatch, ctx.note)
    set_seed_all(cfg.seed)
    base_model, hf_tok = load_base_model(base)
    data = prepare(cfg, hf_tok, base, examples)
    if ctx.resume_from is not None:
        saved_data = saved_config(ctx.resume_from)["data"]  # as the checkpoint's config.json holds it
        if saved_data.get("examples_sha256") != data.summary.examples_sha256:
            raise WinnowError(
                f"{ctx.dir} was trained on other labels ({saved_data.get('labels_path')}): "
                "resume with the same labels or train into a new --out folder"
            )
    return data, base_model


def _build_model(ctx: RunContext, base_model: PreTrainedModel, schedule: Schedule) -> tuple[Trainable, TrainerState]:
    """LoRA on the base, AdamW and the schedule; a resumed run's states restored (and its
    log cut back to its checkpoint)."""
    trainable = build_trainable(base_model, ctx.cfg, schedule)
    if ctx.resume_from is None:
        return trainable, TrainerState()
    state = restore(ctx.resume_from, trainable.model, trainable.optimizer, trainable.scheduler)
    if not state.examples_seen:  # a checkpoint from before the counter
        state.examples_seen = state.step * schedule.effective_batch
    ctx.note(f"resuming {ctx.dir} from {ctx.resume_from.name} (step {state.step} of {schedule.total_steps})")
    truncate_log(ctx.dir / "log.jsonl", state.step)
    return trainable, state


def _start(ctx: RunContext, data: Prepared, schedule: Schedule) -> RunConfig:
    """The run's config (arguments, base, data, schedule, versions), written with the
    examples export verifies on, and a first word."""
    cfg = ctx.cfg
    config = RunConfig(cfg, data.base, data.encoder.yes_ids, data.encoder.no_ids, data.summary, schedule,
                       versions(), sys.argv)
    if not ctx.main:
        return config
    ctx.dir.mkdir(parents=True, exist_ok=True)
    write_json(ctx.dir / "config.json", config.to_dict())
    write_verify_examples(ctx.dir / "verify_examples.jsonl", data.val or data.train)
    unit = (f"one task (at most {cfg.task_max} candidates)" if cfg.batching == "task"
            else f"{schedule.effective_batch} examples")
    summary = data.summary
    ctx.note(
        f"training on {len(data.train)} candidates of {summary.train_problems} problems "
        f"({summary.train_positive} passing), validating on {len(data.val)} of "
        f"{len(summary.val_problems)} problems; {schedule.total_steps} steps of {unit}, "
        f"validation every {schedule.eval_every}"
    )
    return config


# --- the loop -----------------------------------------------------------------------------------


def _loop(run: Run, state: TrainerState, progress: bool) -> CheckpointMetrics | None:
    """Steps until the schedule ends, early stopping or the time budget; return the last
    validation's metrics (None: this session validated nothing)."""
    from tqdm import tqdm

    ctx, sched = run.ctx, run.schedule
    bar = tqdm(total=sched.total_steps, initial=state.step, desc="train", unit="step", file=sys.stderr,
               disable=not (progress and ctx.main), dynamic_ncols=True)
    started = time.perf_counter()
    elapsed_before = float(state.elapsed_s)
    window: list[float] = []  # the steps' losses since the last validation
    last_metrics: CheckpointMetrics | None = None
    try:
        while state.step < sched.total_steps:
            plan = run.plans[state.epoch]
            step = plan[step_at(plan, state.position)]
            loss, pair = _train_step(run, step)
            state.finish_step(len(step), sum(len(b) for b in step) * ctx.world, micro_batches(plan))
            window.append(loss)
            elapsed = elapsed_before + time.perf_counter() - started
            _log_step(run, state, bar, loss, pair, elapsed, window, last_metrics)
            budget = ctx.cfg.time_budget_s
            over_budget = budget is not None and elapsed >= budget
            if state.step % sched.eval_every == 0 or state.step >= sched.total_steps or over_budget:
                last_metrics, stop = _evaluate(run, state, bar, window, elapsed)
                window = []
                if stop:
                    break
            if over_budget:
                ctx.note(f"time budget of {budget:g} s reached at step {state.step}; the best checkpoint stays")
                break
    finally:
        bar.close()
    return last_metrics


def _train_step(run: Run, step: list[list[int]]) -> tuple[float, float | None]:
    """One optimizer step over the step's micro-batches; (its loss, its pairwise term or None)."""
    import torch
    import torch.nn.functional as F

    cfg, acc, model = run.ctx.cfg, run.ctx.accelerator, run.model
    train, enc = run.data.train, run.data.encoder
    flat = [i for batch in step for i in batch]
    pairs = task_pairs([train[i].problem_id for i in flat], [train[i].label for i in flat]) if cfg.pairwise_weight else []
    z_ref = None
    if pairs:  # every candidate's z before the step: the other side of pairs that span micro-batches
        z_ref = torch.tensor(score_sequences(model, enc, [train[i].ids for i in flat], cfg.batch_size),
                             device=acc.device, dtype=torch.float32)
    pos_weight = torch.tensor(run.schedule.pos_weight, device=acc.device)
    total, offset = 0.0, 0
    for k, batch in enumerate(step):
        live = list(range(offset, offset + len(batch)))
        offset += len(batch)
        sync = k == len(step) - 1
        with acc.no_sync(model) if (run.ctx.world > 1 and not sync) else contextlib.nullcontext():
            y = torch.tensor([float(train[i].label) for i in batch], device=acc.device)
            with acc.autocast():
                z = batch_z(model, [train[i].ids for i in batch], enc.yes_ids, enc.no_ids, enc.pad_id)
            loss = F.binary_cross_entropy_with_logits(z.float(), y, pos_weight=pos_weight)
            share = len(batch) / len(flat)
            objective = loss * share
            if z_ref is not None:
                objective = objective + cfg.pairwise_weight * pairwise_surrogate(z.float(), live, z_ref, pairs)
            acc.backward(objective)
            total += float(loss.detach()) * share
    if cfg.max_grad_norm:
        acc.clip_grad_norm_(run.trainable.params, cfg.max_grad_norm)
    run.optimizer.step()
    run.trainable.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    if z_ref is None:
        return total, None
    pair = float(pairwise_loss(z_ref, pairs))
    return total + cfg.pairwise_weight * pair, pair


def _log_step(run: Run, state: TrainerState, bar: tqdm, loss: float, pair: float | None, elapsed: float,
              window: list[float], last: CheckpointMetrics | None) -> None:
    """The step's line in ``log.jsonl``, and the progress bar (with the last validation's figures)."""
    if run.ctx.main:
        append_log(run.ctx.dir / "log.jsonl", StepLog(
            step=state.step, epoch=state.epoch, loss=round(loss, 5), lr=float(run.trainable.scheduler.get_last_lr()[0]),
            elapsed_s=round(elapsed, 1), pairwise=round(pair, 5) if pair is not None else None,
        ))
    bar.update(1)
    figures = {"val_auc": last.validation.val_auc, "val_pairwise": last.validation.val_pairwise} if last else {}
    shown = {k: f"{v:.3f}" for k, v in figures.items() if v is not None}
    bar.set_postfix(loss=f"{np.mean(window[-20:]):.3f}", **shown)


# --- validation and checkpoints -------------------------------------------------------------------


def _evaluate(run: Run, state: TrainerState, bar: tqdm, window: list[float],
              elapsed: float) -> tuple[CheckpointMetrics, bool]:
    """Validate, update the best and patience, write a checkpoint; (metrics, stop early?)."""
    ctx, cfg = run.ctx, run.ctx.cfg
    figures, rows = validate(run.model, run.data.encoder, run.data.val, cfg.eval_batch_size,
                             run.schedule.pos_weight, ctx.rank, ctx.world)
    lr = float(run.trainable.scheduler.get_last_lr()[0])
    train_loss = float(np.mean(window)) if window else None
    score, selected_by = selection_score(figures, cfg.select)
    improved = state.record_validation(figures, score, train_loss, elapsed)
    stop = cfg.patience > 0 and state.bad_evals >= cfg.patience and state.step < run.schedule.total_steps
    state.stopped_early = stop
    metrics = CheckpointMetrics(
        figures, step=state.step, epoch=state.epoch, lr=lr, train_loss=train_loss,
        examples_seen=state.examples_seen, elapsed_s=round(elapsed, 1), best_step=state.best_step,
        best_val_auc=state.best_val_auc, best_val_pairwise=state.best_val_pairwise, select=cfg.select,
        selected_by=selected_by,
    )
    if ctx.main:
        save_checkpoint(ctx.dir, run.trainable.model, run.optimizer, run.trainable.scheduler, state, run.config,
                        metrics, rows, improved)
    ctx.accelerator.wait_for_everyone()
    if ctx.main:
        bar.write(validation_line(metrics, improved), file=sys.stderr)
    if stop:
        name = {"val_pairwise": "pairwise accuracy", "val_auc": "AUC"}.get(selected_by or "", "loss")
        ctx.note(f"early stop: validation {name} did not improve for {cfg.patience} validations")
    return metrics, stop


def _finish(run: Run, state: TrainerState, last_metrics: CheckpointMetrics | None) -> RunSummary:
    """The run's summary, in ``run.json``."""
    ctx = run.ctx
    summary = RunSummary(
        steps=state.step, total_steps=run.schedule.total_steps, stopped_early=state.stopped_early,
        best_step=state.best_step, select=ctx.cfg.select, best_val_auc=state.best_val_auc,
        best_val_pairwise=state.best_val_pairwise, last_metrics=last_metrics,
        elapsed_s=round(float(state.elapsed_s), 1), resumed_from=state.resumed_from, data=run.data.summary,
    )
    if ctx.main:
        write_json(ctx.dir / "run.json", summary.to_dict())
        figures = [f"{name} {value:.3f}" for name, value in (
            ("val pairwise", state.best_val_pairwise), ("val AUC", state.best_val_auc)) if value is not None]
        ctx.note(f"done: best checkpoint step {state.best_step}"
                 + (f" ({', '.join(figures)})" if figures else "") + f"; {ctx.dir}/best")
    return summary
