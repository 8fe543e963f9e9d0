"""A run folder: its checkpoints, their trainer state, the best one, the step log.

``checkpoints/step-N/{adapter/, optimizer.pt, trainer_state.json, config.json,
metrics.json, validation_scores.jsonl}`` is written to a temporary folder and renamed
(a kill leaves no half); ``best`` (and ``best.json``) points at the best one. A killed
run resumes from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import write_json, write_jsonl
from winnow.judge.scoring.judge_prompt import JUDGE_TEMPLATE, MAX_CANDIDATE_TOKENS, MAX_TASK_TOKENS
from winnow.judge.training.config import TrainConfig
from winnow.judge.training.encoding import PromptEncoder
from winnow.judge.training.environment import require_training_stack, rng_state, set_rng_state
from winnow.judge.training.pretrained import convert_base, load_base_model
from winnow.judge.training.records import (
    CheckpointMetrics,
    HistoryEntry,
    JSONObject,
    RunConfig,
    StepLog,
    ValidationFigures,
    ValidationScore,
)

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from torch.optim.lr_scheduler import LRScheduler


@dataclass
class TrainerState:
    """Where a run is (``trainer_state.json``): enough to resume it exactly."""

    step: int = 0
    epoch: int = 0
    #: micro-batches of the current epoch already trained on
    position: int = 0
    best_step: int | None = None
    #: the selection score (``--select``) of the best checkpoint
    best_metric: float | None = None
    best_val_auc: float | None = None
    best_val_pairwise: float | None = None
    bad_evals: int = 0
    stopped_early: bool = False
    resumed_from: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    examples_seen: int = 0
    history: list[HistoryEntry] = field(default_factory=list)

    def finish_step(self, micro_batches: int, examples: int, epoch_length: int) -> None:
        """Count an optimizer step over ``micro_batches`` of the epoch's ``epoch_length``
        (``examples`` over all processes); past the epoch's last, the next epoch starts."""
        self.step += 1
        self.examples_seen += examples
        self.position += micro_batches
        if self.position >= epoch_length:
            self.epoch += 1
            self.position = 0

    def record_validation(self, figures: ValidationFigures, score: float | None, train_loss: float | None,
                          elapsed: float) -> bool:
        """Note a validation: the best so far (by ``score``; None: no figure to compare, the
        latest counts as best), patience, history; return whether it is the new best."""
        improved = score is None or self.best_metric is None or score > self.best_metric + 1e-9
        if improved:
            self.best_metric, self.best_step = score, self.step
            self.best_val_auc, self.best_val_pairwise = figures.val_auc, figures.val_pairwise
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        self.elapsed_s = elapsed
        self.history.append(
            HistoryEntry(self.step, train_loss, figures.val_loss, figures.val_auc, figures.val_pairwise)
        )
        return improved

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSONObject) -> TrainerState:
        names = {f.name for f in fields(cls)} - {"history"}
        history = [HistoryEntry(**h) for h in data.get("history", [])]
        return cls(**{k: v for k, v in data.items() if k in names}, history=history)

    @classmethod
    def load(cls, checkpoint: Path) -> TrainerState:
        return cls.from_dict(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")))


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


def saved_config(checkpoint: Path) -> JSONObject:
    """A checkpoint's ``config.json`` as written (a run saved by an older Winnow may lack keys)."""
    return json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))


def check_resumable(run: Path, cfg: TrainConfig, checkpoint: Path) -> None:
    """Refuse to resume a run that was started with other settings."""
    saved = saved_config(checkpoint)
    # A run saved before --prompt existed records its prompt beside the flags only.
    changes = cfg.changes_from({"prompt_template": saved.get("prompt_template", JUDGE_TEMPLATE), **saved["train"]})
    if changes:
        diff = ", ".join(f"{k}: {theirs!r} → {mine!r}" for k, (theirs, mine) in changes.items())
        raise WinnowError(
            f"{run} holds a run with other settings ({diff}): resume it with the same settings "
            "or train into a new --out folder"
        )


def restore(
    checkpoint: Path, model: PeftModel, optimizer: torch.optim.Optimizer, scheduler: LRScheduler
) -> TrainerState:
    """Load a checkpoint's adapter, optimizer, scheduler and RNG states; return its trainer state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    adapter = load_file(str(checkpoint / "adapter" / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, adapter)
    extra = torch.load(checkpoint / "optimizer.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    set_rng_state(extra["rng"])
    state = TrainerState.load(checkpoint)
    state.resumed_from = state.resumed_from + [checkpoint.name]
    return state


def append_log(path: Path, record: StepLog) -> None:
    """One line of ``log.jsonl``."""
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record.to_dict()) + "\n")


def truncate_log(path: Path, step: int) -> None:
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


def point_best(run: Path, checkpoint: Path, metrics: CheckpointMetrics) -> None:
    """``best`` (a relative symlink where the file system has them) and ``best.json`` name the
    best checkpoint; its validation scores are copied beside them for calibration."""
    rel = os.path.relpath(checkpoint, run)
    write_json(run / "best.json", {
        "checkpoint": rel, "step": metrics.step, "val_auc": metrics.validation.val_auc,
        "val_pairwise": metrics.validation.val_pairwise, "select": metrics.select,
    })
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


def save_checkpoint(
    run: Path, model: PeftModel, optimizer: torch.optim.Optimizer, scheduler: LRScheduler, state: TrainerState,
    config: RunConfig, metrics: CheckpointMetrics, rows: list[ValidationScore], improved: bool, keep_last: int = 2,
) -> Path:
    """checkpoints/step-N/{adapter/, optimizer.pt, trainer_state.json, config.json, metrics.json,
    validation_scores.jsonl}, written to a temporary folder and renamed (a kill leaves no half)."""
    import torch

    root = run / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step}"
    tmp = root / f".step-{state.step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_pretrained(str(tmp / "adapter"))
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state()},
        tmp / "optimizer.pt",
    )
    write_json(tmp / "config.json", config.to_dict())
    write_json(tmp / "metrics.json", metrics.to_dict())
    write_json(tmp / "trainer_state.json", state.to_dict())
    write_jsonl(tmp / "validation_scores.jsonl", (r.to_dict() for r in rows))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if improved:
        point_best(run, final, metrics)
    best = f"step-{state.best_step}"
    for old in checkpoints(run)[:-keep_last]:
        if old.name != best:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint_model(checkpoint: str | os.PathLike[str]) -> tuple[PeftModel, PromptEncoder, JSONObject]:
    """(transformers+peft model in eval mode, prompt encoder, run config as written) of a checkpoint."""
    require_training_stack()
    from peft import PeftModel

    ck = Path(checkpoint)
    config = saved_config(ck)
    base = convert_base(config["base"]["spec"])
    if base.sha256 != config["base"]["sha256"]:
        raise WinnowError(
            f"{ck} was trained on a base with sha256 {config['base']['sha256'][:12]}…, but "
            f"{config['base']['spec']} now resolves to {base.sha256[:12]}…"
        )
    base_model, hf_tok = load_base_model(base)
    model = PeftModel.from_pretrained(base_model, str(ck / "adapter"))
    model.eval()
    train_cfg = config["train"]
    enc = PromptEncoder(
        hf_tok, base.chat_template, base.bos,
        train_cfg.get("max_task_tokens", MAX_TASK_TOKENS), train_cfg.get("max_candidate_tokens", MAX_CANDIDATE_TOKENS),
        config.get("prompt_template", JUDGE_TEMPLATE),
    )
    return model, enc, config
