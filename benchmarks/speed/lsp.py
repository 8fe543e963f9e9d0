"""``winnow bench lsp``: the language server as an editor sees it.

Starts the real server (``python -m winnow.cli lsp``) as a subprocess, drives
it over stdio with pygls's LanguageClient, opens a ~1,000-token Python file and
measures:

- ``ready_s``: from sending ``initialize`` to the ``winnow/status`` "ready" notification;
- ``inline_p50_ms`` / ``inline_p95_ms``: N inline-completion requests, each right after a
  single-line edit (a developer rewriting lines of two functions, moving down and
  back up through them), as the client sees them (debounce included);
- ``cold_ms``: the first request (the whole prompt window is evaluated);
- ``jump_p50_ms``: requests after jumping to another part of the file (a new prompt
  window: the KV cache cannot help);
- ``cache_hit_ms``: the same request again (answered from the cache);
- ``typed_through_ms``: typing the first character of a shown suggestion (the rest
  comes from the cache);
- ``rss_mb``: the server's resident memory (/proc/PID/status VmRSS) at the end.

``--json`` prints one JSON object. This module exposes ``add_arguments(parser)`` and
``run(args) -> int``; the ``winnow bench`` verb dispatches ``lsp`` to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from winnow.benchmarks.lsp_process import TRUST_ALL, kill_server, server_pid
from winnow.judge.base.numeric import percentile

# A small but realistic module: ~3,600 characters, about 1,000 SmolLM2 tokens.
BENCH_SOURCE = '''"""Inventory bookkeeping: items, stock movements and simple reports."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    unit_price: float
    tags: list[str] = field(default_factory=list)


@dataclass
class Movement:
    sku: str
    quantity: int
    when: dt.date
    reason: str = "sale"


class Inventory:
    """Stock levels computed from a list of movements."""

    def __init__(self, items: list[Item]) -> None:
        self.items = {item.sku: item for item in items}
        self.movements: list[Movement] = []

    def record(self, movement: Movement) -> None:
        if movement.sku not in self.items:
            raise KeyError(f"unknown sku {movement.sku}")
        self.movements.append(movement)

    def level(self, sku: str, on: dt.date | None = None) -> int:
        """Units in stock for sku at the end of the day `on` (default: all time)."""
        total = 0
        for m in self.movements:
            if m.sku == sku and (on is None or m.when <= on):
                total += m.quantity
        return total

    def value(self) -> float:
        """Total value of the stock at unit prices."""
        return sum(self.level(sku) * item.unit_price for sku, item in self.items.items())

    def low_stock(self, threshold: int = 5) -> list[Item]:
        """Items whose level is below threshold, cheapest first."""
        low = [item for sku, item in self.items.items() if self.level(sku) < threshold]
        return sorted(low, key=lambda item: item.unit_price)

    def by_tag(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for item in self.items.values():
            for tag in item.tags:
                groups[tag].append(item.sku)
        return dict(groups)


def monthly_sales(movements: list[Movement]) -> dict[str, int]:
    """Units sold per month, keyed 'YYYY-MM'."""
    months: dict[str, int] = defaultdict(int)
    for m in movements:
        if m.reason == "sale":
            months[m.when.strftime("%Y-%m")] += -m.quantity
    return dict(sorted(months.items()))


def load_items(path: str) -> list[Item]:
    """Read items from a CSV file with columns sku, name, unit_price, tags."""
    items = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            tags = [t.strip() for t in row.get("tags", "").split(";") if t.strip()]
            items.append(Item(row["sku"], row["name"], float(row["unit_price"]), tags))
    return items


def restock_plan(inventory: Inventory, target: int = 20) -> dict[str, int]:
    """Units to order per sku so that every level reaches target."""
    plan = {}
    for sku in inventory.items:
        missing = target - inventory.level(sku)
        if missing > 0:
            plan[sku] = missing
    return plan


def report(inventory: Inventory) -> str:
    lines = [f"{'sku':<10} {'name':<24} {'level':>6} {'value':>10}"]
    for sku, item in sorted(inventory.items.items()):
        level = inventory.level(sku)
        lines.append(f"{sku:<10} {item.name:<24} {level:>6} {level * item.unit_price:>10.2f}")
    lines.append(f"total value: {inventory.value():.2f}")
    return "\\n".join(lines)
'''

# Single-line edits: (line to rewrite, new text up to the cursor). They rewrite lines of
# `restock_plan` and `report`, the way a developer reworks one function.
EDIT_LINES = (
    "    plan = {",
    "    for sku in sorted(",
    "        missing = target - ",
    "        if missing > 0 and ",
    "            plan[sku] = ",
    "    return dict(",
    "    lines = [",
    "    for sku, item in ",
    "        level = inventory.",
    "        lines.append(",
    "    lines.append(f\"total",
    "    return \"\\n\".join(",
)
JUMP_TARGETS = ("        total = ", "    months: dict[str, int] = ", "        self.items = ", "            tags = [")


def _find_line(source: str, startswith: str) -> int:
    for i, line in enumerate(source.splitlines()):
        if line.startswith(startswith):
            return i
    raise ValueError(startswith)


def _rss_mb(pid: int) -> tuple[float | None, float | None]:
    rss = peak = None
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024.0
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return rss, peak


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client = LanguageClient("winnow-bench", "1")
        self.status: list[tuple[float, dict[str, Any]]] = []
        self.messages: list[str] = []
        self.ready = asyncio.Event()
        self.failed: str | None = None
        self.uri = "file:///winnow-bench/inventory.py"
        self.version = 1
        self.lines = BENCH_SOURCE.split("\n")

        @self.client.feature("winnow/status")
        def on_status(ls: Any, params: Any) -> None:
            state = params.get("state") if isinstance(params, dict) else getattr(params, "state", None)
            message = params.get("message") if isinstance(params, dict) else getattr(params, "message", "")
            self.status.append((time.perf_counter(), {"state": state, "message": message}))
            if state == "ready":
                self.ready.set()
            elif state == "error":
                self.failed = str(message)
                self.ready.set()

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_show(ls: Any, params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(ls: Any, params: types.LogMessageParams) -> None:
            pass

        @self.client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(ls: Any, params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.client.feature(types.PROGRESS)
        def on_progress(ls: Any, params: Any) -> None:
            pass

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(ls: Any, params: Any) -> None:
            pass

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(TRUST_ALL)
        a = self.args
        for key, value in (
            ("judge", a.judge),
            ("candidates", a.candidates),
            ("inlineCompletion", {"candidates": a.inline_candidates} if a.inline_candidates else None),
            ("maxTokens", a.max_tokens),
            ("debounceMs", a.debounce_ms),
            ("threads", a.threads),
            ("generatorModel", a.model),
        ):
            if value is not None:
                out[key] = value
        return out

    def set_line(self, line: int, text: str) -> types.Position:
        old = self.lines[line]
        self.lines[line] = text
        self.version += 1
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line, 0), end=types.Position(line, len(old))), text=text
        )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[change],
            )
        )
        return types.Position(line=line, character=len(text))

    async def request(self, position: types.Position) -> tuple[float, list[str]]:
        params = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=position,
        )
        t0 = time.perf_counter()
        result = await self.client.text_document_inline_completion_async(params)
        ms = (time.perf_counter() - t0) * 1000.0
        items = list(result.items) if result is not None and not isinstance(result, list) else list(result or [])
        texts = [i.insert_text if isinstance(i.insert_text, str) else i.insert_text.value for i in items]
        return ms, texts

    async def main(self) -> dict[str, Any]:
        """Start the server, measure every figure of the module docstring, stop it."""
        a = self.args
        cmd = a.server_cmd or [sys.executable, "-m", "winnow.cli", "lsp"]
        await self.client.start_io(cmd[0], *cmd[1:])
        pid: int | None = None
        try:
            startup = await self._initialize()
            pid = await server_pid(self.client)
            first_line = _find_line(BENCH_SOURCE, "    plan = {}")
            # Cold: the first request evaluates the whole prompt window.
            cold_ms, _ = await self.request(self.set_line(first_line, EDIT_LINES[0]))
            latencies, empty, last_pos, last_texts = await self._edit_sweep(first_line)
            if last_pos is None:
                last_pos = self.set_line(first_line, EDIT_LINES[0])
                _, last_texts = await self.request(last_pos)
            # Cache: the same request again, no edit in between.
            cache_ms = [(await self.request(last_pos))[0] for _ in range(5)]
            typed_ms = await self._typed_through(last_pos, last_texts)
            jump_ms = await self._jumps()
            stats = await self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="winnow.showStats", arguments=[{"generations": a.trace}])
            )
            rss, peak = _rss_mb(pid) if pid else (None, None)
        finally:
            await self._stop(pid)
        srv = stats.get("server", {}) if isinstance(stats, dict) else {}
        models = stats.get("models", {}) if isinstance(stats, dict) else {}
        return {
            "inline_p50_ms": round(statistics.median(latencies), 1),
            "inline_p95_ms": round(percentile(latencies, 0.95), 1),
            "inline_mean_ms": round(statistics.fmean(latencies), 1),
            "inline_max_ms": round(max(latencies), 1),
            "requests": len(latencies),
            "empty_responses": empty,
            "cold_ms": round(cold_ms, 1),
            "jump_p50_ms": round(statistics.median(jump_ms), 1) if jump_ms else None,
            "cache_hit_ms": round(statistics.median(cache_ms), 2),
            "typed_through_ms": None if typed_ms is None else round(typed_ms, 2),
            "ready_s": round(startup["ready_s"], 3),
            "initialize_ms": round(startup["initialize_ms"], 1),
            "rss_mb": None if rss is None else round(rss, 1),
            "rss_peak_mb": None if peak is None else round(peak, 1),
            "decode_tok_s": models.get("decode_tok_s"),
            "file_chars": len(BENCH_SOURCE),
            "settings": srv.get("settings"),
            "cpus": len(os.sched_getaffinity(0)),
            "load_s": models.get("load_s"),
            "messages": self.messages,
            **({"generations": stats.get("inline", {}).get("generations")} if a.trace else {}),
        }

    async def _initialize(self) -> dict[str, float]:
        """initialize → initialized → wait for "ready" → open the file; the times it took."""
        t_init = time.perf_counter()
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True),
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    ),
                ),
                initialization_options=self.settings(),
                process_id=os.getpid(),
            )
        )
        initialize_ms = (time.perf_counter() - t_init) * 1000.0
        self.client.initialized(types.InitializedParams())
        await asyncio.wait_for(self.ready.wait(), timeout=self.args.ready_timeout)
        if self.failed:
            raise RuntimeError(f"the server did not load its models: {self.failed}")
        ready_s = next(t for t, s in self.status if s["state"] == "ready") - t_init
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri, language_id="python", version=self.version, text=BENCH_SOURCE
                )
            )
        )
        return {"initialize_ms": initialize_ms, "ready_s": ready_s}

    async def _edit_sweep(self, first_line: int) -> tuple[list[float], int, types.Position | None, list[str]]:
        """--requests inline requests, each after a single-line edit, down through two
        functions and back up; (latencies, empty answers, last answered position, its texts)."""
        latencies: list[float] = []
        empty = 0
        last_pos = None
        last_texts: list[str] = []
        region = list(range(first_line, first_line + len(EDIT_LINES)))
        sweep = region + region[-2:0:-1]  # down through the functions and back up
        for i in range(self.args.requests):
            line = sweep[i % len(sweep)]
            text = EDIT_LINES[(line - first_line + i // len(sweep)) % len(EDIT_LINES)]
            text = text + " " * (i // len(EDIT_LINES) % 2)  # a later pass types something new
            pos = self.set_line(line, text)
            ms, texts = await self.request(pos)
            latencies.append(ms)
            empty += not texts
            if texts:
                last_pos, last_texts = pos, texts
        return latencies, empty, last_pos, last_texts

    async def _typed_through(self, last_pos: types.Position, last_texts: list[str]) -> float | None:
        """The user types the first character of the top suggestion (None: none to type)."""
        typeable = [t for t in last_texts if len(t) >= 2 and not t[0].isspace()]
        probe = _find_line("\n".join(self.lines), "        lines.append(")
        for head in ("        level = inventory.", "        lines.append(f\"", "        total = sum("):
            if typeable:
                break
            last_pos = self.set_line(probe, head)
            _, texts = await self.request(last_pos)
            typeable = [t for t in texts if len(t) >= 2 and not t[0].isspace()]
        if not typeable:
            return None
        line = last_pos.line
        pos = self.set_line(line, self.lines[line] + typeable[0][0])
        typed_ms, _ = await self.request(pos)
        return typed_ms

    async def _jumps(self) -> list[float]:
        """Requests after jumping to another part of the file (a new prompt window)."""
        jump_ms: list[float] = []
        for target in JUMP_TARGETS[: self.args.jumps]:
            line = _find_line("\n".join(self.lines), target)
            ms, _ = await self.request(self.set_line(line, target))
            jump_ms.append(ms)
        return jump_ms

    async def _stop(self, pid: int | None) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), timeout=30)
            self.client.exit(None)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self.client.stop(), timeout=30)
        except Exception:
            kill_server(pid)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=50, help="inline requests after single-line edits (default 50)")
    parser.add_argument("--jumps", type=int, default=4, help="requests after a jump elsewhere in the file (default 4)")
    parser.add_argument("--candidates", type=int, default=None, help="winnow.candidates (default: the server's)")
    parser.add_argument(
        "--inline-candidates", type=int, default=None,
        help="winnow.inlineCompletion.candidates (default: the server's)",
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="winnow.maxTokens (default: the server's)")
    parser.add_argument("--debounce-ms", type=int, default=None, help="winnow.debounceMs (default: the server's)")
    parser.add_argument("--threads", type=int, default=None, help="winnow.threads (default: the server's)")
    parser.add_argument("--judge", default=None, help='winnow.judge, e.g. "none" (default: the server\'s)')
    parser.add_argument("--model", default=None, help="winnow.generatorModel (default: the embedded model)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for the models")
    parser.add_argument("--server-cmd", nargs="+", default=None, help="server command (default: this Python's winnow lsp)")
    parser.add_argument("--trace", action="store_true", help="include the engine's timings of every generation")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(Bench(args).main())
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"server ready in {result['ready_s']:.2f} s (initialize answered in {result['initialize_ms']:.0f} ms)")
    print(
        f"inline after single-line edits ({result['requests']} requests, {result['empty_responses']} empty): "
        f"p50 {result['inline_p50_ms']:.0f} ms, p95 {result['inline_p95_ms']:.0f} ms, max {result['inline_max_ms']:.0f} ms"
    )
    print(f"first request {result['cold_ms']:.0f} ms; after a jump p50 {result['jump_p50_ms']} ms")
    print(f"cache hit {result['cache_hit_ms']:.1f} ms; typed-through {result['typed_through_ms']} ms")
    print(f"server RSS {result['rss_mb']} MB (peak {result['rss_peak_mb']} MB); decode {result['decode_tok_s']} tok/s")
    print(f"settings: {json.dumps(result['settings'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="winnow bench lsp", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
