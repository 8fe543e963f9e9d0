"""``winnow train``: fine-tune a LoRA judge on labelled candidates (transformers + peft)."""

from __future__ import annotations

import argparse
import json
import sys

from winnow.judge.dataset.problems import NAMED_SETS
from winnow.judge.scoring.judge_model import MAX_CANDIDATE_TOKENS, MAX_TASK_TOKENS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune a LoRA judge on labelled candidates (needs the [train] extras)",
        description=(
            "Fine-tune a LoRA adapter on a GGUF base (dequantized by transformers, cached) to answer "
            "'Is the candidate a correct implementation of the task?' with the exact prompt the server "
            "uses. Binary cross-entropy on logit(Yes) - logit(No) at the answer position, class balance "
            "by pos_weight, a train/validation split by problem, validation loss and ROC-AUC every "
            "--eval-every steps, early stopping on validation AUC. Every validation writes a checkpoint "
            "(adapter, optimizer/scheduler/RNG state, config, metrics, validation scores) under "
            "OUT/checkpoints/step-N; OUT/best points at the best one. Rerunning the same command after "
            "a kill resumes from the last checkpoint. Multi-GPU: `accelerate launch -m winnow.server.cli "
            "train ...` (see docs/training.md)."
        ),
    )
    p.add_argument("--labels", required=True, help="labels JSONL from `winnow label` (positive = passed)")
    p.add_argument("--problems", required=True, help=f"problems JSONL file or a named set ({', '.join(NAMED_SETS)})")
    p.add_argument("--out", required=True, help="run folder: checkpoints, config, metrics, validation scores")
    p.add_argument("--base", default="default", help="GGUF base: default | PATH.gguf | hf:OWNER/REPO/FILE.gguf")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training split (default: 1)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate of AdamW (default: 3e-4)")
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default: 16)")
    p.add_argument("--lora-alpha", type=float, default=32.0, help="LoRA alpha; scale = alpha / r (default: 32)")
    p.add_argument("--lora-dropout", type=float, default=0.05, help="dropout on the LoRA input (default: 0.05)")
    p.add_argument("--target-modules", default=",".join(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
        help="comma-separated projections to adapt (default: all seven linear projections)")
    p.add_argument("--batch-size", type=int, default=1, help="examples per forward pass (default: 1)")
    p.add_argument("--grad-accum", type=int, default=4, help="forward passes per optimizer step (default: 4)")
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of problems held for validation (default: 0.15)")
    p.add_argument("--patience", type=int, default=2, help="validations without a better AUC before stopping; 0: never (default: 2)")
    p.add_argument("--eval-every", type=int, default=None, help="optimizer steps between validations (default: half an epoch)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (smoke runs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the data order and LoRA init (default: 0)")
    p.add_argument("--warmup", type=float, default=0.05, help="share of steps with linear warm-up (default: 0.05)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: 0)")
    p.add_argument("--eval-batch-size", type=int, default=4, help="examples per validation forward pass (default: 4)")
    p.add_argument("--max-task-tokens", type=int, default=MAX_TASK_TOKENS, help=f"task tokens kept (default: {MAX_TASK_TOKENS}, as served)")
    p.add_argument("--max-candidate-tokens", type=int, default=MAX_CANDIDATE_TOKENS, help=f"candidate tokens kept (default: {MAX_CANDIDATE_TOKENS}, as served)")
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no", help="autocast on GPUs (default: no)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", help="require a checkpoint to resume from (a run resumes by itself when OUT has one)")
    p.add_argument("--allow-tokenizer-mismatch", action="store_true", help="train even if transformers tokenizes differently from llama.cpp")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from winnow.judge.training.trainer import TrainConfig, train

    cfg = TrainConfig(
        labels=args.labels, problems=args.problems, out=args.out, base=args.base, epochs=args.epochs, lr=args.lr,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        target_modules=[m.strip() for m in args.target_modules.split(",") if m.strip()],
        batch_size=args.batch_size, grad_accum=args.grad_accum, val_fraction=args.val_fraction,
        patience=args.patience, eval_every=args.eval_every, max_steps=args.max_steps, seed=args.seed,
        warmup=args.warmup, weight_decay=args.weight_decay, eval_batch_size=args.eval_batch_size,
        max_task_tokens=args.max_task_tokens, max_candidate_tokens=args.max_candidate_tokens,
        mixed_precision=args.mixed_precision, threads=args.threads, resume=args.resume,
        allow_tokenizer_mismatch=args.allow_tokenizer_mismatch,
    )
    summary = train(cfg, progress=not args.quiet)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    sys.stdout.flush()
    return 0
