"""``winnow sample``: N candidates per problem from a generator model, with log-probs."""

from __future__ import annotations

import argparse
import sys

from winnow.judge.dataset.problems import NAMED_SETS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sample",
        help="sample candidate implementations of problems from a generator model",
        description=(
            "For every Python problem, sample N function bodies in one batch from the generator "
            "(the prompt's signature + docstring, imports and helpers kept) and append complete, "
            "self-contained candidates to --out with their generator log-probs, seed and settings. "
            "Resumable: a killed run draws the same candidates again and writes only the missing ones."
        ),
    )
    p.add_argument("--problems", required=True, help=f"problems JSONL file or a named set ({', '.join(NAMED_SETS)})")
    p.add_argument("--out", required=True, help="candidates JSONL to append to")
    p.add_argument("--n", type=int, default=5, help="candidates per problem (default: 5)")
    p.add_argument("--model", default="default", help="generator: default | PATH.gguf | hf:OWNER/REPO/FILE.gguf")
    p.add_argument("--max-tokens", type=int, default=256, help="new tokens per candidate (default: 256)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling threshold (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed; candidate ids are s{seed}-{i} (default: 0)")
    p.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: physical cores)")
    p.add_argument("--download", action="store_true", help="allow downloading hf: models")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from winnow.judge.dataset.candidate_sampling import sample_problems
    from winnow.judge.dataset.problems import load_problems

    summary = sample_problems(
        load_problems(args.problems), args.out, n=args.n, model=args.model, max_tokens=args.max_tokens,
        temperature=args.temperature, top_p=args.top_p, seed=args.seed, threads=args.threads,
        allow_download=args.download, progress=not args.quiet,
    )
    print(summary.line(args.out), file=sys.stderr)
    return 0
