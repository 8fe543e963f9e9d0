"""``winnow bench implement``: the "Implement with Winnow (best of N)" action end to end.

The real server (``python -m winnow.cli lsp``, default settings unless flags say otherwise:
5 candidates, the shipped judge) opens the README's example (docs/examples/stats.py) and a
Java stub with Javadoc examples, waits until its models are ready, then runs
``winnow.implementFunction`` on each stub ``--runs`` times (uncached: every run samples and
ranks anew). Reported per function: the request's wall-clock time as the client sees it
(median, min, max), the server's own figure, how the bodies were ranked, and the load
average when the benchmark started (the machine is shared).

``--json`` prints one JSON object. This module exposes ``add_arguments(parser)`` and
``run(args) -> int``; the ``winnow bench`` verb dispatches ``implement`` to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from winnow.benchmarks.lsp_process import TRUST_ALL, kill_server, server_pid

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "stats.py"
JAVA = """public class Digits {
    /**
     * The sum of the decimal digits of n.
     *
     * @return for example 6 for 123, 0 for 0
     */
    public static int digitSum(int n) {
        throw new UnsupportedOperationException("TODO");
    }
}
"""


def _stub_lines(text: str, starts: tuple[str, ...]) -> list[tuple[str, int]]:
    return [
        (line.split("(")[0].split()[-1], i) for i, line in enumerate(text.splitlines()) if line.lstrip().startswith(starts)
    ]


async def _ready(client: LanguageClient, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.showStats"))
        state = stats.get("server", {}).get("state")
        if state in ("ready", "error"):
            return stats
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the server was not ready within {timeout:.0f} s")


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    client = LanguageClient("winnow-bench-implement", "1")
    for method in (types.WINDOW_SHOW_MESSAGE, types.WINDOW_LOG_MESSAGE, types.PROGRESS,
                   types.WINDOW_WORK_DONE_PROGRESS_CREATE, "winnow/status", types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
        client.feature(method)(lambda ls, params: None)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(ls: Any, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return types.ApplyWorkspaceEditResult(applied=True)  # the document stays as it was: every run is a stub

    settings: dict[str, Any] = {**TRUST_ALL, "diagnostics": {"enabled": False}}
    if args.judge is not None:
        settings["judge"] = args.judge
    if args.candidates is not None:
        settings["candidates"] = args.candidates
    load = os.getloadavg()[0]
    await client.start_io(sys.executable, "-m", "winnow.cli", "lsp")
    pid = None
    try:
        await client.initialize_async(
            types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options=settings,
                                   process_id=os.getpid())
        )
        client.initialized(types.InitializedParams())
        pid = await server_pid(client)
        stats = await _ready(client, args.timeout)
        with tempfile.TemporaryDirectory(prefix="winnow-bench-implement-") as tmp:
            java = Path(tmp) / "Digits.java"
            java.write_text(JAVA)
            docs = [
                (EXAMPLE.as_uri(), "python", EXAMPLE.read_text(), ("def ",)),
                (java.as_uri(), "java", JAVA, ("public static",)),
            ]
            rows = []
            for uri, language, text, starts in docs:
                client.text_document_did_open(
                    types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri, language, 1, text))
                )
                for name, line in _stub_lines(text, starts):
                    rows.append(await _runs(client, uri, language, name, line + 1, args.runs))
        judge = ((stats.get("models") or {}).get("judge") or {}).get("name")
        return {"load_average_1min": round(load, 2), "judge": judge, "runs": args.runs, "functions": rows}
    finally:
        try:
            await asyncio.wait_for(client.shutdown_async(None), timeout=30)
            client.exit(None)
            await asyncio.wait_for(client.stop(), timeout=30)
        except Exception:
            kill_server(pid)


async def _runs(client: LanguageClient, uri: str, language: str, name: str, line: int, runs: int) -> dict[str, Any]:
    walls, server_s, strategy, candidates = [], [], "", 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="winnow.implementFunction", arguments=[uri, {"line": line, "character": 8}])
        )
        walls.append(time.perf_counter() - t0)
        server_s.append(float(result.get("seconds") or 0.0))
        strategy, candidates = str(result.get("strategy")), int(result.get("candidates") or 0)
    return {
        "function": name, "language": language, "strategy": strategy, "candidates": candidates,
        "median_s": round(statistics.median(walls), 2), "min_s": round(min(walls), 2), "max_s": round(max(walls), 2),
        "server_median_s": round(statistics.median(server_s), 2),
    }  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="runs per function (default: 3)")
    parser.add_argument("--judge", default=None, help="judge setting (default: the server's, the shipped judge)")
    parser.add_argument("--candidates", type=int, default=None, help="N of best-of-N (default: the server's, 5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the models")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    report = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"implement with best of N, {report['runs']} runs each, judge {report['judge']}, "
          f"load average {report['load_average_1min']} at start")
    for r in report["functions"]:
        print(f"  {r['language']:6} {r['function']:14} N={r['candidates']} ranked by {r['strategy']:9} "
              f"median {r['median_s']:.2f} s (min {r['min_s']:.2f}, max {r['max_s']:.2f}; server {r['server_median_s']:.2f})")
    return 0
