"""``winnow sample``: N candidates per problem from a generator model, with log-probs."""

from __future__ import annotations

import argparse
import sys

from winnow.judge.cli import flags


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
    flags.add_problems(p)
    flags.add_out(p, "candidates JSONL to append to")
    p.add_argument("--n", type=int, default=5, help="candidates per problem (default: 5)")
    flags.add_model(p)
    p.add_argument("--max-tokens", type=int, default=256, help="new tokens per candidate (default: 256)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling threshold (default: 0.95)")
    flags.add_seed(p, "seed; candidate ids are s{seed}-{i} (default: 0)")
    flags.add_threads(p)
    flags.add_download(p)
    flags.add_quiet(p)
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
