"""``winnow bench judge``: what prefix reuse buys when the judge scores best-of-5.

One task, five candidates, the judge as shipped (base + LoRA adapter; the raw floor
loads the same adapter, which costs ~15% more prefill than the bare base), in one run:

- naive: five full prompts, each evaluated from an empty cache;
- reused: the task prefix once, the five candidate branches together in one batch;
- raw: llama-cpp-python's own ``Llama.eval`` of exactly as many tokens as the reused
  path processes (prefix + all branches) — the floor for that much prefill.

``reused_over_raw_prefill`` (target ≤ 1.1) and ``reused_over_naive``; medians of
``--repeats``. ``--compare SPEC`` times another judge's reused path on the same candidates
in the same loop and reports ``reused_over_compare`` (e.g. a v2 judge, which reads the
candidate's body alone, against a v1 one that reads the whole function).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from winnow.judge.llm.llama_lib import physical_cores

TASK = '''def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping closed intervals and return them sorted by start.

    Intervals that touch (the end of one equals the start of the next) are merged too.

    >>> merge_intervals([(1, 3), (2, 6), (8, 10), (15, 18)])
    [(1, 6), (8, 10), (15, 18)]
    >>> merge_intervals([(1, 4), (4, 5)])
    [(1, 5)]
    >>> merge_intervals([])
    []
    """'''

BODIES = [
    """    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged""",
    """    merged = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged""",
    """    result = []
    for interval in intervals:
        if result and interval[0] <= result[-1][1]:
            result[-1] = (result[-1][0], interval[1])
        else:
            result.append(interval)
    return result""",
    """    if not intervals:
        return []
    ordered = sorted(intervals, key=lambda pair: pair[0])
    out = [ordered[0]]
    for lo, hi in ordered[1:]:
        last_lo, last_hi = out[-1]
        if lo <= last_hi:
            out[-1] = (last_lo, max(last_hi, hi))
        else:
            out.append((lo, hi))
    return out""",
    """    return sorted(set(intervals))""",
]


def _reused_seconds(judge: Any, codes: list[str]) -> float:
    """One task's five candidates from an empty cache: the task prefix once, branches batched."""
    runs = [judge.runs(TASK, code) for code in codes]
    judge.engine.reset()
    t0 = time.perf_counter()
    judge.engine.branch_logits(runs[0].prefix, [r.branch for r in runs])
    return time.perf_counter() - t0


def measure(
    judge_spec: str = "default", repeats: int = 3, threads: int = 0, compare: str | None = None
) -> dict[str, Any]:
    import llama_cpp
    from llama_cpp import Llama

    from winnow.judge.scoring.judge_model import Judge

    n_threads = threads or physical_cores()
    judge = Judge.load(judge_spec, n_threads=n_threads)
    engine = judge.engine
    codes = [TASK + "\n" + body + "\n" for body in BODIES]
    runs = [judge.runs(TASK, code) for code in codes]
    prefix = runs[0].prefix
    branches = [r.branch for r in runs]
    n_reused_tokens = len(prefix) + sum(len(b) for b in branches)
    raw_tokens = (prefix + [t for b in branches for t in b])[:n_reused_tokens]
    llm = Llama(judge.base_info.path, n_ctx=4096, n_batch=4096, n_ubatch=512, n_threads=n_threads,
                n_threads_batch=n_threads, verbose=False, flash_attn=False, lora_path=engine.lora_path)

    other = Judge.load(compare, n_threads=n_threads) if compare else None
    times: dict[str, list[float]] = {"naive": [], "reused": [], "raw": [], "compare": []}
    engine.branch_logits(prefix, branches)  # warm-up
    if other is not None:
        _reused_seconds(other, codes)
    for _ in range(repeats):
        t0 = time.perf_counter()
        for branch in branches:
            engine.reset()
            engine.prefill(prefix + branch)
        times["naive"].append(time.perf_counter() - t0)

        times["reused"].append(_reused_seconds(judge, codes))
        if other is not None:
            times["compare"].append(_reused_seconds(other, codes))

        llm.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
        t0 = time.perf_counter()
        llm.eval(raw_tokens)
        times["raw"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    compared = _compared(other, codes, med) if other is not None else {}
    return compared | _figures(judge, codes, prefix, branches, n_threads, repeats, med)


def _compared(other: Any, codes: list[str], med: dict[str, float]) -> dict[str, Any]:
    """The ``--compare`` judge's cost beside the measured one's (then it is closed)."""
    out = {
        "compare": other.manifest.name,
        "compare_template": other.manifest.prompt_template,
        "compare_branch_tokens": [len(other.runs(TASK, code).branch) for code in codes],
        "compare_reused_s": round(med["compare"], 3),
        "reused_over_compare": round(med["reused"] / med["compare"], 3),
    }
    other.close()
    return out


def _figures(
    judge: Any, codes: list[str], prefix: list[int], branches: list[list[int]], n_threads: int, repeats: int,
    med: dict[str, float],
) -> dict[str, Any]:
    n_reused_tokens = len(prefix) + sum(len(b) for b in branches)
    return {
        "judge": judge.manifest.name,
        "template": judge.manifest.prompt_template,
        "cores": os.cpu_count(),
        "threads": n_threads,
        "candidates": len(codes),
        "prefix_tokens": len(prefix),
        "branch_tokens": [len(b) for b in branches],
        "naive_tokens": sum(len(prefix) + len(b) for b in branches),
        "reused_tokens": n_reused_tokens,
        "repeats": repeats,
        "naive_s": round(med["naive"], 3),
        "reused_s": round(med["reused"], 3),
        "raw_prefill_s": round(med["raw"], 3),
        "reused_over_raw_prefill": round(med["reused"] / med["raw"], 3),
        "reused_over_naive": round(med["reused"] / med["naive"], 3),
        "reused_ms_per_candidate": round(med["reused"] * 1000 / len(codes), 1),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", default="default", help="judge manifest (default: the shipped judge)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: physical cores)")
    parser.add_argument("--compare", help="a second judge manifest timed in the same run (reused_over_compare)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    out = measure(args.judge, args.repeats, args.threads, args.compare)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"judge {out['judge']}, {out['threads']} threads on {out['cores']} cores, {out['candidates']} candidates, "
          f"prefix {out['prefix_tokens']} tokens, branches {out['branch_tokens']}, median of {out['repeats']}")
    print(f"naive (5 full prompts, {out['naive_tokens']} tokens)   {out['naive_s']:.3f} s")
    print(f"prefix reused ({out['reused_tokens']} tokens, one batch)  {out['reused_s']:.3f} s "
          f"({out['reused_ms_per_candidate']} ms per candidate)")
    print(f"raw llama-cpp-python prefill of {out['reused_tokens']} tokens  {out['raw_prefill_s']:.3f} s")
    print(f"reused / raw prefill  {out['reused_over_raw_prefill']:.3f}   (target <= 1.1)")
    print(f"reused / naive        {out['reused_over_naive']:.3f}")
    if "compare" in out:
        print(f"compared with {out['compare']} ({out['compare_template']}, branches {out['compare_branch_tokens']}): "
              f"{out['compare_reused_s']:.3f} s; reused / compare {out['reused_over_compare']:.3f}")
    return 0
