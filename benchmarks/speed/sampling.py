"""``winnow bench sampling``: what batched best-of-N buys, measured in one run.

The same ~400-token prompt, 48 new tokens per candidate (end-of-text banned so every
candidate decodes exactly 48), the same model:

(a) one sample from a cold cache (prefill + decode);
(b) five samples one after another, each reusing the prompt's KV cache — the best a
    careful non-batched implementation gets;
(c) best-of-5 in one batch (prompt once, five sequences decoded together).

Ratios: ``batched_over_sequential`` = c/b, ``batched_over_naive`` = c/(5·a), and
``overhead_vs_raw`` = our single-sample decode tok/s over raw llama-cpp-python's
(``Llama.generate``) on the same prompt. Each figure is the median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from winnow.judge.llm.engine import Engine
from winnow.judge.llm.llama_lib import physical_cores
from winnow.judge.llm.model import Model
from winnow.judge.llm.model_files import resolve

PROMPT_SOURCE = '''"""Inventory management helpers for a small warehouse service."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Iterable


@dataclasses.dataclass
class Item:
    sku: str
    name: str
    quantity: int
    unit_price: float
    updated: dt.datetime


def total_value(items: Iterable[Item]) -> float:
    """Return the value of all stock: the sum of quantity times unit price."""
    return sum(item.quantity * item.unit_price for item in items)


def low_stock(items: Iterable[Item], threshold: int = 5) -> list[Item]:
    """Return the items whose quantity is below ``threshold``, lowest first."""
    return sorted((i for i in items if i.quantity < threshold), key=lambda i: i.quantity)


def group_by_prefix(items: Iterable[Item], length: int = 3) -> dict[str, list[Item]]:
    """Group items by the first ``length`` characters of their SKU."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        groups[item.sku[:length]].append(item)
    return dict(groups)


def restock(items: list[Item], sku: str, amount: int, when: dt.datetime) -> Item:
    """Add ``amount`` units to the item with ``sku`` and stamp the update time.

    Raises KeyError when no item has that SKU and ValueError for a negative amount.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    for index, item in enumerate(items):
        if item.sku == sku:
            items[index] = dataclasses.replace(item, quantity=item.quantity + amount, updated=when)
            return items[index]
    raise KeyError(sku)


def stale_items(items: Iterable[Item], now: dt.datetime, days: int = 30) -> list[str]:
    """Return the SKUs of items not updated in the last ``days`` days, sorted."""
    limit = now - dt.timedelta(days=days)
    return sorted(item.sku for item in items if item.updated < limit)


def price_report(items: Iterable[Item]) -> str:
    """Return one line per item, "SKU: name x quantity @ price", sorted by SKU.

    >>> price_report([])
    ''
    """
'''

N_NEW = 48
N_CANDIDATES = 5


def _prompt_tokens(engine: Engine, target: int) -> list[int]:
    tokens = engine.prompt_tokens(PROMPT_SOURCE)
    return tokens[-target:] if len(tokens) > target else tokens


def _ours(engine: Engine, tokens: list[int], n: int, bias: Any, seed: int) -> tuple[float, float]:
    """(wall seconds, decode tok/s) of one engine.sample call."""
    t0 = time.perf_counter()
    result = engine.sample(tokens, n=n, max_tokens=N_NEW, temperature=0.8, seed=seed, logit_bias=bias)
    wall = time.perf_counter() - t0
    assert all(c.n_tokens == N_NEW for c in result.candidates), "every candidate must decode N_NEW tokens"
    return wall, result.timings.decode_tok_s


def _raw(llm: Any, tokens: list[int], seed: int) -> tuple[float, float]:
    """(wall seconds, decode tok/s) of raw llama-cpp-python generating N_NEW tokens."""
    import llama_cpp

    llm.reset()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    llm.set_seed(seed)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    eog = {t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}
    t0 = time.perf_counter()
    t_first = None
    count = 0
    for _token in llm.generate(tokens, temp=0.8, top_p=0.95, top_k=40, reset=True,
                              logits_processor=[_ban(eog)] if eog else None):
        count += 1
        if t_first is None:
            t_first = time.perf_counter()
        if count >= N_NEW:
            break
    end = time.perf_counter()
    decode_s = end - (t_first or end)
    return end - t0, (count - 1) / decode_s if decode_s > 0 else 0.0


def _ban(tokens: set[int]) -> Any:
    import numpy as np

    idx = np.array(sorted(tokens), dtype=np.int64)

    def process(_input_ids: Any, scores: Any) -> Any:
        scores[idx] = -np.inf
        return scores

    return process


def measure(model_spec: str = "default", repeats: int = 3, threads: int = 0, prompt_tokens: int = 400) -> dict[str, Any]:
    from llama_cpp import Llama

    info = resolve(model_spec)
    n_threads = threads or physical_cores()
    model = Model(info.path)
    engine = Engine(model, n_ctx=2048, n_seq_max=N_CANDIDATES + 1, n_threads=n_threads)
    tokens = _prompt_tokens(engine, prompt_tokens)
    bias = model.eog_bias()
    llm = Llama(info.path, n_ctx=2048, n_threads=n_threads, n_threads_batch=n_threads, verbose=False)

    runs: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "ours_tok_s", "raw_tok_s", "raw_wall")}
    _ours(engine, tokens, 1, bias, 0)  # warm-up: page the weights in
    for r in range(repeats):
        engine.reset()
        wall, tok_s = _ours(engine, tokens, 1, bias, r)
        runs["a"].append(wall)
        runs["ours_tok_s"].append(tok_s)

        engine.reset()
        t0 = time.perf_counter()
        for k in range(N_CANDIDATES):
            _ours(engine, tokens, 1, bias, 100 * r + k)
        runs["b"].append(time.perf_counter() - t0)

        engine.reset()
        wall, _ = _ours(engine, tokens, N_CANDIDATES, bias, r)
        runs["c"].append(wall)

        wall, tok_s = _raw(llm, tokens, r)
        runs["raw_wall"].append(wall)
        runs["raw_tok_s"].append(tok_s)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "model": info.name or info.spec,
        "cores": os.cpu_count(),
        "threads": n_threads,
        "prompt_tokens": len(tokens),
        "new_tokens": N_NEW,
        "candidates": N_CANDIDATES,
        "repeats": repeats,
        "one_sample_s": round(med["a"], 3),
        "sequential_reuse_s": round(med["b"], 3),
        "batched_s": round(med["c"], 3),
        "naive_s": round(N_CANDIDATES * med["a"], 3),
        "batched_over_sequential": round(med["c"] / med["b"], 3),
        "batched_over_naive": round(med["c"] / (N_CANDIDATES * med["a"]), 3),
        "ours_decode_tok_s": round(med["ours_tok_s"], 1),
        "raw_decode_tok_s": round(med["raw_tok_s"], 1),
        "overhead_vs_raw": round(med["ours_tok_s"] / med["raw_tok_s"], 3),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="generator model spec (default: embedded SmolLM2)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: physical cores)")
    parser.add_argument("--prompt-tokens", type=int, default=400, help="prompt length in tokens (default 400)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    out = measure(args.model, args.repeats, args.threads, args.prompt_tokens)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"model {out['model']}, {out['threads']} threads on {out['cores']} cores, "
          f"prompt {out['prompt_tokens']} tokens, {out['new_tokens']} new tokens per candidate, median of {out['repeats']}")
    print(f"(a) one sample, cold cache          {out['one_sample_s']:.3f} s")
    print(f"(b) 5 sequential, prompt KV reused  {out['sequential_reuse_s']:.3f} s")
    print(f"(c) best-of-5 batched               {out['batched_s']:.3f} s")
    print(f"batched / sequential  {out['batched_over_sequential']:.3f}   (target <= 0.80)")
    print(f"batched / naive (5a)  {out['batched_over_naive']:.3f}")
    print(f"decode tok/s ours {out['ours_decode_tok_s']} vs raw llama-cpp-python {out['raw_decode_tok_s']}: "
          f"overhead_vs_raw {out['overhead_vs_raw']:.3f}   (target >= 0.95)")
    return 0
