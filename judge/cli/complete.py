"""``winnow complete FILE[:LINE]``: implement a function with best-of-N and print the ranking."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.cli import flags
from winnow.judge.runtime import Runtime, RuntimeConfig
from winnow.judge.scoring.ranking import JUDGE_STRATEGIES, STRATEGIES
from winnow.judge.sites import FunctionSite, backend, function_at, language_of

MAX_FILE_BYTES = 2_000_000


def parse_target(target: str) -> tuple[Path, int | None]:
    """``file.py`` or ``file.py:LINE`` (1-based) → path and 0-based line."""
    path, line = target, None
    head, sep, tail = target.rpartition(":")
    if sep and tail.isdigit():
        path, line = head, int(tail) - 1
    return Path(path), line


def run(args: argparse.Namespace) -> int:
    path, source, site = _target(args.target)
    report = _implement(args, path, source, site)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report, args.model)
    return 0


def _target(target: str) -> tuple[Path, str, FunctionSite]:
    """The file, its text and the function to implement that ``FILE[:LINE]`` names."""
    path, line = parse_target(target)
    if not path.is_file():
        raise WinnowError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise WinnowError(f"{path}: larger than {MAX_FILE_BYTES // 1_000_000} MB, not a source file to complete")
    source = path.read_text(encoding="utf-8", errors="replace")
    language = language_of(str(path)) or "python"
    site = function_at(source, line, language)
    if site is None:
        where = f" at or after line {line + 1}" if line is not None else ""
        lang = backend(language)
        what = lang.noun if lang is not None else f"{language} function"
        raise WinnowError(f"{path}: no {what}{where} (a def with a signature and docstring)")
    return path, source, site


def _implement(args: argparse.Namespace, path: Path, source: str, site: FunctionSite) -> dict[str, Any]:
    """Load the models, sample and rank: the report ``--json`` prints."""
    config = RuntimeConfig(generator=args.model, judge=args.judge, n_threads=args.threads, allow_download=args.download)
    runtime = Runtime(config)
    try:
        t0 = time.perf_counter()
        runtime.load().result()
        load_s = time.perf_counter() - t0
        result = runtime.implement(
            source, site, n=args.n, max_tokens=args.max_tokens, temperature=args.temperature,
            seed=args.seed, strategy=args.strategy or "combined",  # the runtime falls back to what is loaded
        ).result()  # fmt: skip
        total_s = time.perf_counter() - t0
        gen = result.generation
        return {
            "file": str(path),
            "function": site.name,
            "line": site.start_line + 1,
            "generator": runtime.generator_info.to_dict() if runtime.generator_info else None,
            "judge": runtime.judge.describe() if runtime.judge is not None else None,
            "strategy": result.strategy,
            "note": result.note,
            "prompt_mode": gen.prompt_mode,
            "timings": gen.timings.to_dict() | {
                "load_s": round(load_s, 3), "judge_ms": round(result.judge_ms, 1), "total_s": round(total_s, 3)
            },
            "candidates": [r.to_dict() | {"rank": k + 1} for k, r in enumerate(result.ranked)],
        }
    finally:
        runtime.close()


def _print(report: dict[str, Any], model: str) -> None:
    t = report["timings"]
    gen_name = (report["generator"] or {}).get("name") or model
    n = len(report["candidates"])
    print(f"{report['file']}:{report['line']}: {report['function']} — {n} candidates from {gen_name} "
          f"({report['prompt_mode']} prompt)")
    print(
        f"prefill {t['prefill_ms']:.0f} ms ({t['prompt_tokens']} tokens, {t['reused_tokens']} reused), "
        f"decode {t['decode_tok_s']:.1f} tok/s over {t['decode_steps']} steps, "
        f"ranking by {report['strategy']} {t['judge_ms']:.0f} ms, total {t['total_s']:.2f} s"
        + (f" ({report['note']})" if report["note"] else "")
    )
    for cand in report["candidates"]:
        p = cand["p_correct"]
        verdict = f"P(correct) {p:.0%} — " if p is not None and report["strategy"] in JUDGE_STRATEGIES else ""
        print(f"\n#{cand['rank']}  {verdict}{cand['reason']}")
        for code_line in cand["code"].rstrip("\n").splitlines():
            print(f"    {code_line}")
    sys.stdout.flush()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "complete",
        help="implement a Python function with best-of-N and print the candidates ranked",
        description="Finds the function at (or after) LINE with a signature and docstring, samples N bodies "
        "in one batch and prints them best first.",
    )
    p.add_argument("target", help="FILE.py or FILE.py:LINE (1-based)")
    p.add_argument("-n", type=int, default=5, help="candidates to sample (default 5)")
    flags.add_model(p)
    flags.add_judge(p, "judge manifest: default | PATH/judge.json | none")
    p.add_argument("--strategy", choices=STRATEGIES, default=None, help="ranking (default: combined — judge + examples + lint — when a judge is loaded)")
    p.add_argument("--max-tokens", type=int, default=192, help="new tokens per candidate (default 192)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    flags.add_seed(p, "sampling seed (default 0)")
    flags.add_threads(p)
    flags.add_download(p)
    flags.add_json(p, "print one JSON object")
    p.set_defaults(func=run)
