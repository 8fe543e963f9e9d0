"""What a run trains: LoRA on the base, AdamW, and the learning rate's warm-up and decay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from winnow.judge.training.config import TrainConfig
from winnow.judge.training.schedule import Schedule

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from torch.optim.lr_scheduler import LambdaLR
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class Trainable:
    """The LoRA model with its optimizer and learning-rate schedule, before accelerate
    prepares them (a resumed run restores their states first)."""

    model: PeftModel
    optimizer: torch.optim.AdamW
    scheduler: LambdaLR
    #: the LoRA weights: the only parameters with gradients
    params: list[torch.nn.Parameter]


def lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    """Linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""

    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def build_trainable(base: PreTrainedModel, cfg: TrainConfig, schedule: Schedule) -> Trainable:
    """LoRA on ``base`` (every layer, or the top ``lora_layers``), in training mode; AdamW over
    its weights; the schedule's warm-up and decay."""
    import torch
    from peft import LoraConfig, get_peft_model

    layers = None
    if cfg.lora_layers:  # only the top layers learn: the lower ones run forward with no graph to keep
        n = int(base.config.num_hidden_layers)
        layers = list(range(max(0, n - cfg.lora_layers), n))
    lora = LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha,  # type: ignore[arg-type]  # peft says int; a float scales as well
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM",
        layers_to_transform=layers,
    )
    model = get_peft_model(base, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(schedule.total_steps, schedule.warmup_steps))
    return Trainable(model, optimizer, scheduler, params)
