"""The training loop: setup → data → model → loop (steps, validation, checkpoints) → summary.

AdamW with linear warm-up and decay, gradient accumulation over micro-batches, binary
cross-entropy on the judge's z with ``pos_weight`` = negatives / positives (plus, with
``--pairwise-weight``, a within-task ranking term: ``objective``), steps planned by
``batching`` (``--batching example | task``). Every ``eval_every`` steps: validation
(loss, ROC-AUC, within-task pairwise accuracy), a checkpoint, ``DIR/best`` pointing at the
best one by ``--select``, early stopping after ``patience`` validations without a better
one. A killed run resumes from its last checkpoint. ``accelerate launch`` spreads it
over GPUs.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl, write_json
from winnow.judge.evaluation.metrics import roc_auc, task_pairs, within_task_pairwise
from winnow.judge.training.batching import Plan, example_plan, micro_batches, step_at, task_plan
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
from winnow.judge.training.objective import bce, pairwise_loss, pairwise_surrogate
from winnow.judge.training.pretrained import check_base_tokenizer, convert_base, load_base_model
from winnow.judge.training.training_examples import Prepared, load_examples, prepare, write_verify_examples


@dataclass
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Run:
    """What one training run holds while it trains."""

    cfg: TrainConfig
    accelerator: Any
    dir: Path
    say: Callable[[str], None]
    resume_from: Path | None = None
    prep: Prepared | None = None
    schedule: Schedule | None = None
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    params: list[Any] = field(default_factory=list)
    state: TrainerState = field(default_factory=TrainerState)
    config: dict[str, Any] = field(default_factory=dict)
    plans: dict[int, Plan] = field(default_factory=dict)
    bar: Any = None

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
        if self.main:
            self.say(message)

    def plan(self, epoch: int) -> Plan:
        """This process's steps of one epoch (seeded: the same on resume)."""
        if epoch not in self.plans:
            cfg, train = self.cfg, self.prep.train  # type: ignore[union-attr]
            if cfg.batching == "task":
                self.plans[epoch] = task_plan(
                    [e.problem_id for e in train], [e.label for e in train], cfg.task_max, cfg.batch_size,
                    cfg.seed, epoch, self.rank, self.world,
                )
            else:
                self.plans[epoch] = example_plan(
                    len(train), cfg.batch_size, cfg.grad_accum, cfg.seed, epoch, self.rank, self.world
                )
        return self.plans[epoch]


def train(cfg: TrainConfig, progress: bool = True, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a training run; return its summary (also in ``DIR/run.json``)."""
    cfg.validate()
    require_training_stack()
    run = _setup(cfg, say)
    finished = _finished_summary(run)
    if finished is not None:
        return finished
    _load_data(run)
    _plan_schedule(run)
    _build_model(run)
    _start(run)
    last_metrics = _loop(run, progress)
    return _finish(run, last_metrics)


# --- setup, data, model -------------------------------------------------------------------------


def _setup(cfg: TrainConfig, say: Callable[[str], None] | None) -> _Run:
    """The accelerator, and the checkpoint to resume from (refused if its settings differ)."""
    import torch
    from accelerate import Accelerator

    run = _Run(cfg, Accelerator(mixed_precision=cfg.mixed_precision), Path(cfg.out),
               say or (lambda m: print(m, file=sys.stderr)))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    found = checkpoints(run.dir)
    if cfg.resume and not found:
        raise WinnowError(f"--resume: {run.dir} holds no checkpoint to resume from")
    run.resume_from = found[-1] if found else None
    if run.resume_from is not None:
        check_resumable(run.dir, cfg, run.resume_from)
    return run


def _finished_summary(run: _Run) -> dict[str, Any] | None:
    """A finished run's summary: it is not trained again."""
    finished = run.dir / "run.json"
    if run.resume_from is None or not finished.is_file():
        return None
    summary = json.loads(finished.read_text(encoding="utf-8"))
    if not summary.get("finished"):
        return None
    run.note(f"{run.dir} holds a finished run (best {summary.get('best_checkpoint')}); nothing to do")
    return dict(summary)


def _load_data(run: _Run) -> None:
    """Labelled examples, the base (converted once, tokenizer checked), the tokenized split."""
    from winnow.judge.dataset.problems import problems_by_id

    cfg = run.cfg
    examples = load_examples(read_jsonl(cfg.labels), problems_by_id(cfg.problems), cfg.labels)
    with run.accelerator.main_process_first():
        base = convert_base(cfg.base, say=run.note)
    check_base_tokenizer(base, cfg.base, cfg.allow_tokenizer_mismatch, run.note)
    set_seed_all(cfg.seed)
    run.model, hf_tok = load_base_model(base)
    run.prep = prepare(cfg, hf_tok, base, examples)
    if run.resume_from is not None:
        saved_data = saved_config(run.resume_from)["data"]
        if saved_data.get("examples_sha256") != run.prep.data["examples_sha256"]:
            raise WinnowError(
                f"{run.dir} was trained on other labels ({saved_data.get('labels_path')}): "
                "resume with the same labels or train into a new --out folder"
            )


def _plan_schedule(run: _Run) -> None:
    cfg, prep = run.cfg, run.prep
    assert prep is not None
    n_pos = prep.data["train_positive"]
    steps_per_epoch = len(run.plan(0))
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    per_step = cfg.task_max if cfg.batching == "task" else cfg.batch_size * cfg.grad_accum
    run.schedule = Schedule(
        pos_weight=(len(prep.train) - n_pos) / n_pos,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        warmup_steps=int(round(cfg.warmup * total_steps)),
        eval_every=cfg.eval_every or max(1, steps_per_epoch // 2),
        world_size=run.world,
        batching=cfg.batching,
        effective_batch=per_step * run.world,
    )


def _lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def _build_model(run: _Run) -> None:
    """LoRA on the base, AdamW and the schedule; a resumed run's states restored."""
    import torch
    from peft import LoraConfig, get_peft_model

    cfg, sched = run.cfg, run.schedule
    assert sched is not None
    layers = None
    if cfg.lora_layers:  # only the top layers learn: the lower ones run forward with no graph to keep
        n = int(run.model.config.num_hidden_layers)
        layers = list(range(max(0, n - cfg.lora_layers), n))
    lora = LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM",
        layers_to_transform=layers,
    )
    model = get_peft_model(run.model, lora)
    model.train()
    run.params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(run.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(sched.total_steps, sched.warmup_steps))
    if run.resume_from is not None:
        run.state = restore(run.resume_from, model, optimizer, run.scheduler)
        if not run.state.examples_seen:  # a checkpoint from before the counter
            run.state.examples_seen = run.state.step * sched.effective_batch
        run.note(f"resuming {run.dir} from {run.resume_from.name} (step {run.state.step} of {sched.total_steps})")
        truncate_log(run.dir / "log.jsonl", run.state.step)
    run.model, run.optimizer = run.accelerator.prepare(model, optimizer)


def _start(run: _Run) -> None:
    """The run's config (arguments, base, data, schedule, versions) and a first word."""
    cfg, prep, sched = run.cfg, run.prep, run.schedule
    assert prep is not None and sched is not None
    base, enc = prep.base, prep.encoder
    run.config = {
        "train": cfg.to_dict(),
        "prompt_template": cfg.prompt_template,
        "base": {"spec": base.spec, "gguf_path": base.gguf_path, "sha256": base.sha256, "converted_dir": base.dir,
                 "architecture": base.facts.get("architecture"), "n_layers": base.facts.get("n_layers"),
                 "n_head": base.facts.get("n_head"), "n_head_kv": base.facts.get("n_head_kv"),
                 "bos": base.bos, "tokenizer_check": base.tokenizer_check},
        "answer_ids": {"yes": enc.yes_ids, "no": enc.no_ids},
        "data": prep.data,
        "schedule": sched.to_dict(),
        "versions": versions(),
        "command": sys.argv,
    }
    if not run.main:
        return
    run.dir.mkdir(parents=True, exist_ok=True)
    write_json(run.dir / "config.json", run.config)
    write_verify_examples(run.dir / "verify_examples.jsonl", prep.val or prep.train)
    unit = (f"one task (at most {cfg.task_max} candidates)" if cfg.batching == "task"
            else f"{sched.effective_batch} examples")
    run.note(
        f"training on {len(prep.train)} candidates of {prep.data['train_problems']} problems "
        f"({prep.data['train_positive']} passing), validating on {len(prep.val)} of "
        f"{len(prep.data['val_problems'])} problems; {sched.total_steps} steps of {unit}, "
        f"validation every {sched.eval_every}"
    )


# --- the loop -----------------------------------------------------------------------------------


def _loop(run: _Run, progress: bool) -> dict[str, Any]:
    """Steps until the schedule ends or early stopping; return the last validation's metrics."""
    from tqdm import tqdm

    sched, state = run.schedule, run.state
    assert sched is not None
    run.bar = tqdm(total=sched.total_steps, initial=state.step, desc="train", unit="step", file=sys.stderr,
                   disable=not (progress and run.main), dynamic_ncols=True)
    started = time.perf_counter()
    elapsed_before = float(state.elapsed_s)
    window: list[float] = []
    last_metrics: dict[str, Any] = {}
    try:
        while state.step < sched.total_steps:
            plan = run.plan(state.epoch)
            step = plan[step_at(plan, state.position)]
            loss, pair = _train_step(run, step)
            state.step += 1
            state.examples_seen += sum(len(b) for b in step) * run.world
            state.position += len(step)
            if state.position >= micro_batches(plan):
                state.epoch += 1
                state.position = 0
            window.append(loss)
            elapsed = elapsed_before + time.perf_counter() - started
            _log_step(run, loss, pair, elapsed, window, last_metrics)
            budget = run.cfg.time_budget_s
            over_budget = budget is not None and elapsed >= budget
            if state.step % sched.eval_every == 0 or state.step >= sched.total_steps or over_budget:
                last_metrics, stop = _evaluate(run, window, elapsed)
                window = []
                if stop:
                    break
            if over_budget:
                run.note(f"time budget of {budget:g} s reached at step {state.step}; the best checkpoint stays")
                break
    finally:
        run.bar.close()
    return last_metrics


def _train_step(run: _Run, step: list[list[int]]) -> tuple[float, float | None]:
    """One optimizer step over the step's micro-batches; (its loss, its pairwise term or None)."""
    import torch
    import torch.nn.functional as F

    cfg, acc, model, prep = run.cfg, run.accelerator, run.model, run.prep
    assert prep is not None and run.schedule is not None
    train, enc = prep.train, prep.encoder
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
        with acc.no_sync(model) if (run.world > 1 and not sync) else contextlib.nullcontext():
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
        acc.clip_grad_norm_(run.params, cfg.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    if z_ref is None:
        return total, None
    pair = float(pairwise_loss(z_ref, pairs))
    return total + cfg.pairwise_weight * pair, pair


def _log_step(run: _Run, loss: float, pair: float | None, elapsed: float, window: list[float],
              last: dict[str, Any]) -> None:
    state = run.state
    if run.main:
        record = {"step": state.step, "epoch": state.epoch, "loss": round(loss, 5),
                  "lr": run.scheduler.get_last_lr()[0], "elapsed_s": round(elapsed, 1)}
        if pair is not None:
            record["pairwise"] = round(pair, 5)
        append_log(run.dir / "log.jsonl", record)
    run.bar.update(1)
    shown = {k: f"{last[k]:.3f}" for k in ("val_auc", "val_pairwise") if last.get(k) is not None}
    run.bar.set_postfix(loss=f"{np.mean(window[-20:]):.3f}", **shown)


# --- validation and checkpoints -------------------------------------------------------------------


def _validate(run: _Run) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validation loss, log-loss, ROC-AUC, within-task pairwise accuracy, accuracy; the z of every example."""
    from accelerate.utils import gather_object

    prep, sched = run.prep, run.schedule
    assert prep is not None and sched is not None
    val = prep.val
    if not val:
        return {"val_loss": None, "val_auc": None, "val_pairwise": None, "val_accuracy": None, "n_val": 0}, []
    mine = list(range(run.rank, len(val), run.world))
    z = score_sequences(run.model, prep.encoder, [val[i].ids for i in mine], run.cfg.eval_batch_size)
    pairs = list(zip(mine, z.tolist(), strict=True))
    if run.world > 1:
        pairs = gather_object(pairs)
    z_all = np.zeros(len(val))
    for i, value in pairs:
        z_all[i] = value
    y = np.array([e.label for e in val])
    metrics = {
        "val_loss": bce(z_all, y, sched.pos_weight),
        "val_logloss": bce(z_all, y, 1.0),
        "val_auc": roc_auc(y.tolist(), z_all.tolist()),
        "val_pairwise": within_task_pairwise([e.problem_id for e in val], y.tolist(), z_all.tolist()),
        "val_accuracy": float(np.mean((z_all > 0).astype(int) == y)),
        "n_val": len(val),
    }
    rows = [
        {"problem_id": e.problem_id, "candidate_id": e.candidate_id, "z": float(v), "label": e.label}
        for e, v in zip(val, z_all, strict=True)
    ]
    return metrics, rows


def selection_score(metrics: dict[str, Any], select: str) -> tuple[float | None, str | None]:
    """(score, its name) that picks the best checkpoint: the ``select`` metric, else the other
    validation figure, else −validation loss; (None, None) without validation."""
    order = ("val_pairwise", "val_auc") if select == "pairwise" else ("val_auc",)
    for key in order:
        if metrics.get(key) is not None:
            return float(metrics[key]), key
    if metrics.get("val_loss") is not None:
        return -float(metrics["val_loss"]), "-val_loss"
    return None, None


def _evaluate(run: _Run, window: list[float], elapsed: float) -> tuple[dict[str, Any], bool]:
    """Validate, update the best and patience, write a checkpoint; (metrics, stop early?)."""
    cfg, state = run.cfg, run.state
    assert run.schedule is not None
    metrics, rows = _validate(run)
    metrics |= {
        "step": state.step, "epoch": state.epoch, "lr": run.scheduler.get_last_lr()[0],
        "train_loss": float(np.mean(window)) if window else None,
        "examples_seen": state.examples_seen, "elapsed_s": round(elapsed, 1),
    }
    score, selected_by = selection_score(metrics, cfg.select)
    improved = score is None or state.best_metric is None or score > state.best_metric + 1e-9
    if improved:
        state.best_metric, state.best_step = score, state.step
        state.best_val_auc, state.best_val_pairwise = metrics["val_auc"], metrics["val_pairwise"]
        state.bad_evals = 0
    else:
        state.bad_evals += 1
    stop = cfg.patience > 0 and state.bad_evals >= cfg.patience and state.step < run.schedule.total_steps
    state.stopped_early = stop
    state.elapsed_s = elapsed
    state.history.append({k: metrics[k] for k in ("step", "train_loss", "val_loss", "val_auc", "val_pairwise")})
    metrics |= {"best_step": state.best_step, "best_val_auc": state.best_val_auc,
                "best_val_pairwise": state.best_val_pairwise, "select": cfg.select, "selected_by": selected_by}
    if run.main:
        save_checkpoint(run.dir, run.accelerator.unwrap_model(run.model), run.optimizer, run.scheduler, state,
                        run.config, metrics, rows, improved)
    run.accelerator.wait_for_everyone()
    if run.main:
        run.bar.write(_validation_line(metrics, improved, state.best_step), file=sys.stderr)
    if stop:
        name = {"val_pairwise": "pairwise accuracy", "val_auc": "AUC"}.get(selected_by or "", "loss")
        run.note(f"early stop: validation {name} did not improve for {cfg.patience} validations")
    return metrics, stop


def _validation_line(metrics: dict[str, Any], improved: bool, best_step: int | None) -> str:
    auc, pairwise = metrics["val_auc"], metrics["val_pairwise"]
    return (
        f"step {metrics['step']}: train loss {metrics['train_loss']:.4f}"
        + (f", val loss {metrics['val_loss']:.4f}" if metrics["val_loss"] is not None else "")
        + (f", val AUC {auc:.3f}" if auc is not None else "")
        + (f", val pairwise {pairwise:.3f}" if pairwise is not None else "")
        + (" (best)" if improved else f" (best: step {best_step})")
    )


def _finish(run: _Run, last_metrics: dict[str, Any]) -> dict[str, Any]:
    """The run's summary, in ``run.json``."""
    state, sched, prep = run.state, run.schedule, run.prep
    assert sched is not None and prep is not None
    summary = {
        "finished": True,
        "steps": state.step,
        "total_steps": sched.total_steps,
        "stopped_early": state.stopped_early,
        "best_checkpoint": f"checkpoints/step-{state.best_step}",
        "best_step": state.best_step,
        "select": run.cfg.select,
        "best_val_auc": state.best_val_auc,
        "best_val_pairwise": state.best_val_pairwise,
        "last_metrics": last_metrics,
        "elapsed_s": round(float(state.elapsed_s), 1),
        "resumed_from": state.resumed_from,
        "data": prep.data,
    }
    if run.main:
        write_json(run.dir / "run.json", summary)
        figures = [f"{name} {value:.3f}" for name, value in (
            ("val pairwise", state.best_val_pairwise), ("val AUC", state.best_val_auc)) if value is not None]
        run.note(f"done: best checkpoint step {state.best_step}"
                 + (f" ({', '.join(figures)})" if figures else "") + f"; {run.dir}/best")
    return summary
