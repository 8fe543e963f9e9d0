"""``winnow train``: fine-tune a LoRA judge on labelled candidates (transformers + peft)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from winnow.judge.cli import flags
from winnow.judge.scoring.judge_prompt import (
    JUDGE_TEMPLATE,
    JUDGE_TEMPLATE_V1,
    JUDGE_TEMPLATE_V2,
    MAX_CANDIDATE_TOKENS,
    MAX_TASK_TOKENS,
    SERVED_TEMPLATES,
)
from winnow.judge.training.config import BATCHING, SELECT, TARGET_MODULES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune a LoRA judge on labelled candidates (needs the [train] extras)",
        description=(
            "Fine-tune a LoRA adapter on a GGUF base (dequantized by transformers, cached) to answer "
            "'Is the candidate a correct implementation of the task?' with the exact prompt the server "
            "uses. Binary cross-entropy on logit(Yes) - logit(No) at the answer position, class balance "
            "by pos_weight (optionally plus a within-task pairwise ranking term), a train/validation "
            "split by problem, validation loss, ROC-AUC and within-task pairwise accuracy every "
            "--eval-every steps, early stopping on the --select figure. Every validation writes a "
            "checkpoint (adapter, optimizer/scheduler/RNG state, config, metrics, validation scores) under "
            "OUT/checkpoints/step-N; OUT/best points at the best one. Rerunning the same command after "
            "a kill resumes from the last checkpoint. Multi-GPU: `accelerate launch -m winnow.cli "
            "train ...` (see docs/training.md)."
        ),
    )
    flags.add_labels(p, "labels JSONL from `winnow label` (positive = passed)")
    flags.add_problems(p)
    flags.add_out(p, "run folder: checkpoints, config, metrics, validation scores")
    p.add_argument(
        "--base", default="default",
        help=f"the base model: a GGUF ({flags.MODEL_SPEC}) or a Hugging Face folder (config.json, safetensors, "
             "tokenizer.json or tokenizer.model); verified families: llama (Llama-3.2, SmolLM2), qwen2 "
             "(Qwen2.5-Coder), gemma3 (Gemma-3 text); see docs/training.md#supported-bases",
    )
    _add_model_flags(p)
    _add_schedule_flags(p)
    _add_objective_flags(p)
    p.add_argument("--max-task-tokens", type=int, default=MAX_TASK_TOKENS, help=f"task tokens kept (default: {MAX_TASK_TOKENS}, as served)")
    p.add_argument("--max-candidate-tokens", type=int, default=MAX_CANDIDATE_TOKENS, help=f"candidate tokens kept (default: {MAX_CANDIDATE_TOKENS}, as served)")
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no", help="autocast on GPUs (default: no)")
    flags.add_threads(p, "torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", help="require a checkpoint to resume from (a run resumes by itself when OUT has one)")
    p.add_argument("--allow-tokenizer-mismatch", action="store_true", help="train even if transformers tokenizes differently from llama.cpp")
    flags.add_quiet(p)
    flags.add_json(p, "print the run summary as JSON")
    p.set_defaults(func=run)


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default: 16)")
    p.add_argument("--lora-alpha", type=float, default=32.0, help="LoRA alpha; scale = alpha / r (default: 32)")
    p.add_argument("--lora-dropout", type=float, default=0.05, help="dropout on the LoRA input (default: 0.05)")
    p.add_argument("--lora-layers", type=int, default=0,
                   help="LoRA on the top N transformer layers only; the lower ones stay frozen and keep no "
                        "activations for the backward pass (default: 0, every layer)")
    p.add_argument("--time-budget", dest="time_budget_s", type=float, default=None, metavar="SECONDS",
                   help="stop after this much training time, validate, and keep the best checkpoint (resumable)")
    p.add_argument("--prompt", dest="prompt_template", choices=SERVED_TEMPLATES, default=JUDGE_TEMPLATE,
                   help=f"judge prompt to train (and serve): {JUDGE_TEMPLATE_V2} shows the candidate's body, "
                        f"{JUDGE_TEMPLATE_V1} the whole candidate (default: {JUDGE_TEMPLATE})")
    p.add_argument("--target-modules", default=",".join(TARGET_MODULES),
                   help="comma-separated projections to adapt (default: all seven linear projections)")


def _add_schedule_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=1, help="passes over the training split (default: 1)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate of AdamW (default: 3e-4)")
    p.add_argument("--batch-size", type=int, default=1, help="examples per forward pass (default: 1)")
    p.add_argument("--grad-accum", type=int, default=4, help="forward passes per optimizer step with --batching example (default: 4)")
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of problems held for validation (default: 0.15)")
    p.add_argument("--patience", type=int, default=2, help="validations without a better --select figure before stopping; 0: never (default: 2)")
    p.add_argument("--eval-every", type=int, default=None, help="optimizer steps between validations (default: half an epoch)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (smoke runs)")
    flags.add_seed(p, "seed of the split, the data order and LoRA init (default: 0)")
    p.add_argument("--warmup", type=float, default=0.05, help="share of steps with linear warm-up (default: 0.05)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: 0)")
    p.add_argument("--eval-batch-size", type=int, default=4, help="examples per validation forward pass (default: 4)")


def _add_objective_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--batching", choices=BATCHING, default="example",
        help="example: each step takes --batch-size x --grad-accum examples in a seeded order; task: each "
             "step is one task (problem) over its candidates (at most --task-max, passing and failing ones "
             "kept together), in micro-batches of --batch-size (default: example)",
    )
    p.add_argument("--task-max", type=int, default=16,
                   help="with --batching task: most candidates of one task in its step (default: 16)")
    p.add_argument(
        "--pairwise-weight", type=float, default=0.0,
        help="add W x mean over the step's (passing, failing) pairs of one task of softplus(z_fail - z_pass) "
             "to the binary cross-entropy; pairs need --batching task to be common (default: 0, off)",
    )
    p.add_argument(
        "--select", choices=SELECT, default="pairwise",
        help="validation figure that picks the best checkpoint and drives early stopping: within-task "
             "pairwise accuracy (a passing candidate above a failing one of the same task; where no "
             "validation task has both, ROC-AUC) or ROC-AUC; the loss where neither is defined (default: pairwise)",
    )


def run(args: argparse.Namespace) -> int:
    """Train (or resume) the run; with --json, print its summary."""
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.loop import train  # torch and friends: only when training

    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    given["target_modules"] = [m.strip() for m in args.target_modules.split(",") if m.strip()]
    summary = train(TrainConfig(**given), progress=not args.quiet)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    sys.stdout.flush()
    return 0
