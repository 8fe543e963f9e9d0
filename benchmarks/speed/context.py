"""``winnow bench context``: does workspace context help inline completion, and what does it cost?

Generates a multi-file project in a temporary folder: helper modules whose functions
have distinctive names and signatures, and caller files that import those modules
(``from . import geo_kit``) and stop right before a call to one of their helpers, so
the helper's name is nowhere in the caller. Starts the real server on it (the
workspace folder) and measures, in one run:

- ``hit_rate_with`` / ``hit_rate_without``: share of call sites where the top inline
  suggestion names the right helper, with ``context.enabled`` on / off;
- ``latency_ratio``: inline p50 with context over without, for requests after a
  one-character edit at the cursor (the engine reuses the cached prompt; the block
  does not change); ``cold_latency_ratio``: the same for the first request in a file;
- ``reused_share_with``: prefill tokens reused / prompt tokens on those warm requests;
- ``context_tokens``: prompt tokens the block adds (cold prompts, with minus without);
- ``index_s``, ``index_files``, ``rss_mb``: a second server indexes a generated
  2,000-file tree: its scan time, what it holds, and its resident memory after it.

``--json`` prints one JSON object. The embedded SmolLM2-135M is a weak model: read
the hit rates as a smoke test of the plumbing, not as a quality claim.
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

# module → [(function name, signature, docstring)]
HELPERS: dict[str, list[tuple[str, str, str]]] = {
    "geo_kit": [
        ("haversine_distance_km", "(lat1: float, lon1: float, lat2: float, lon2: float) -> float",
         "Great-circle distance between two points in kilometres."),
        ("bearing_degrees", "(lat1: float, lon1: float, lat2: float, lon2: float) -> float",
         "Initial compass bearing from the first point to the second."),
        ("clamp_latitude", "(lat: float) -> float", "Latitude limited to [-90, 90]."),
    ],
    "text_kit": [
        ("slugify_title", "(title: str, max_len: int = 60) -> str", "URL slug of a title."),
        ("count_syllables", "(word: str) -> int", "Rough syllable count of an English word."),
        ("strip_accents", "(text: str) -> str", "Text without diacritics."),
    ],
    "money_kit": [
        ("round_to_cents", "(amount: float) -> float", "Amount rounded to two decimals."),
        ("apply_vat_rate", "(net: float, rate: float = 0.2) -> float", "Gross amount after VAT."),
        ("split_evenly", "(total: float, people: int) -> list[float]", "Shares that add up to total."),
    ],
}

# (module, helper, caller function header and docstring, the cut line before the call)
CALL_SITES: list[tuple[str, str, str, str]] = [
    ("geo_kit", "haversine_distance_km", "def trip_length(points):\n    \"\"\"Total length of a trip in km.\"\"\"\n"
     "    total = 0.0\n    for (a, b), (c, d) in zip(points, points[1:]):\n", "        total += "),
    ("geo_kit", "bearing_degrees", "def heading(start, end):\n    \"\"\"Compass heading from start to end.\"\"\"\n",
     "    return "),
    ("geo_kit", "clamp_latitude", "def safe_point(lat, lon):\n    \"\"\"A point with a valid latitude.\"\"\"\n",
     "    lat = "),
    ("text_kit", "slugify_title", "def article_url(title):\n    \"\"\"The URL of an article.\"\"\"\n",
     "    slug = "),
    ("text_kit", "count_syllables", "def haiku_line_ok(words):\n    \"\"\"True when the line has five syllables.\"\"\"\n",
     "    n = sum("),
    ("text_kit", "strip_accents", "def search_key(name):\n    \"\"\"Lower-case name without accents for search.\"\"\"\n",
     "    plain = "),
    ("money_kit", "round_to_cents", "def invoice_total(lines):\n    \"\"\"Invoice total, rounded.\"\"\"\n"
     "    raw = sum(q * p for q, p in lines)\n", "    return "),
    ("money_kit", "apply_vat_rate", "def gross_price(net):\n    \"\"\"Price with VAT.\"\"\"\n", "    return "),
    ("money_kit", "split_evenly", "def share_bill(total, friends):\n    \"\"\"What each friend pays.\"\"\"\n",
     "    shares = "),
]


def write_project(root: Path) -> list[tuple[Path, str, str]]:
    """The helper modules and one caller file per call site: (path, text, expected name)."""
    pkg = root / "app"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for module, funcs in HELPERS.items():
        body = [f'"""{module.replace("_", " ")}: helpers."""\n\nimport math\n']
        for name, sig, doc in funcs:
            body.append(f'\n\ndef {name}{sig}:\n    """{doc}"""\n    raise NotImplementedError\n')
        (pkg / f"{module}.py").write_text("".join(body), encoding="utf-8")
    cases = []
    for i, (module, name, head, cut) in enumerate(CALL_SITES):
        text = f'"""Caller {i}."""\n\nfrom . import {module}\n\n\n{head}{cut}'
        path = pkg / f"caller_{i:02d}.py"
        path.write_text(text + "None\n", encoding="utf-8")  # on disk: a complete file
        cases.append((path, text, name))
    return cases


def write_big_tree(root: Path, files: int = 2000) -> None:
    """``files`` source files in nested folders: four fifths Python, the rest TypeScript."""
    for i in range(files):
        folder = root / f"pkg{i // 200:02d}" / f"sub{(i // 20) % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 5 == 4:
            (folder / f"mod{i:04d}.ts").write_text(
                "".join(f"export function f{i}_{k}(x: number): number {{\n  return x + {k};\n}}\n" for k in range(6)),
                encoding="utf-8",
            )
        else:
            (folder / f"mod{i:04d}.py").write_text(
                f'"""Module {i}."""\n'
                + "".join(f'\n\ndef func_{i}_{k}(x: int, y: int = {k}) -> int:\n    """Add {k}."""\n    return x + y\n'
                          for k in range(6))
                + f"\n\nclass Thing{i}:\n    def run(self, n: int) -> None:\n        pass\n",
                encoding="utf-8",
            )


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return None


class Session:
    """One server subprocess on one workspace folder."""

    def __init__(self, args: argparse.Namespace, root: Path, settings: dict[str, Any]) -> None:
        self.args = args
        self.root = root
        self.settings = settings
        self.client = LanguageClient("winnow-bench-context", "1")
        self.ready = asyncio.Event()
        self.failed: str | None = None
        self.versions: dict[str, int] = {}
        self.pid: int | None = None

        @self.client.feature("winnow/status")
        def on_status(ls: Any, params: Any) -> None:
            state = params.get("state") if isinstance(params, dict) else getattr(params, "state", None)
            if state in ("ready", "error"):
                if state == "error":
                    self.failed = str(params.get("message") if isinstance(params, dict) else params)
                self.ready.set()

        for method in (types.WINDOW_SHOW_MESSAGE, types.WINDOW_LOG_MESSAGE, types.PROGRESS,
                       types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, types.WINDOW_WORK_DONE_PROGRESS_CREATE):
            self.client.feature(method)(lambda ls, params: None)

    async def start(self) -> None:
        cmd = self.args.server_cmd or [sys.executable, "-m", "winnow.cli", "lsp"]
        await self.client.start_io(cmd[0], *cmd[1:])
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True),
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    ),
                ),
                initialization_options=self.settings,
                workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)],
                process_id=os.getpid(),
            )
        )
        self.client.initialized(types.InitializedParams())
        self.pid = await server_pid(self.client)
        await asyncio.wait_for(self.ready.wait(), timeout=self.args.ready_timeout)
        if self.failed:
            raise RuntimeError(f"the server did not load its models: {self.failed}")
        await self.wait_scanned()

    async def stats(self, generations: bool = False) -> dict[str, Any]:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="winnow.showStats", arguments=[{"generations": generations}])
        )

    async def wait_scanned(self, timeout: float = 300.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            s = await self.stats()
            if s["context"]["index"]["scans"] >= 1:
                return s
            if time.monotonic() > deadline:
                raise TimeoutError("the workspace index did not finish its scan")
            await asyncio.sleep(0.2)

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
        )
        return uri

    def replace(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def close_doc(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri)))

    async def inline_at_end(self, uri: str, text: str) -> tuple[float, list[str]]:
        lines = text.split("\n")
        params = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=len(lines) - 1, character=len(lines[-1])),
        )
        t0 = time.perf_counter()
        result = await self.client.text_document_inline_completion_async(params)
        ms = (time.perf_counter() - t0) * 1000.0
        items = [] if result is None else (result.items if isinstance(result, types.InlineCompletionList) else result)
        return ms, [i.insert_text if isinstance(i.insert_text, str) else i.insert_text.value for i in items]

    async def set_context(self, enabled: bool) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={**self.settings, "context": {"enabled": enabled}})
        )
        await self.stats()  # a round trip: the notification was handled

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), timeout=30)
            self.client.exit(None)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self.client.stop(), timeout=30)
        except Exception:
            kill_server(self.pid)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {**TRUST_ALL, "judge": "none", "debounceMs": 0}
    for key, value in (("threads", args.threads), ("generatorModel", args.model), ("temperature", args.temperature),
                       ("maxTokens", args.max_tokens)):
        if value is not None:
            out[key] = value
    return out


Rounds = dict[bool, dict[str, list[Any]]]


async def _call_site_round(session: Session, path: str, text: str, expected: str, enabled: bool,
                           rounds: Rounds, samples: list[dict[str, Any]], warm: int, n_cases: int) -> None:
    """One call site in one mode: a cold request, then ``warm`` requests after keystrokes."""
    await session.set_context(enabled)
    uri = session.open(path, text)
    cold_ms, texts = await session.inline_at_end(uri, text)
    s = await session.stats()
    gen = s["inline"]["last_generation"] or {}
    top = texts[0] if texts else ""
    r = rounds[enabled]
    r["hits"].append(expected in top)
    r["cold"].append(cold_ms)
    r["tokens"].append(gen.get("prompt_tokens") or 0)
    if enabled and len(samples) < 2 * n_cases:
        samples.append({"expected": expected, "top": top,
                        "block_files": [f["path"] for f in (s["context"]["last_prompt"] or {}).get("files", [])]})
    for k in range(warm):  # a keystroke at the cursor: the cached prompt is reused
        typed = text + "x" * (k + 1)
        session.replace(uri, typed)
        warm_ms, _ = await session.inline_at_end(uri, typed)
        r["warm"].append(warm_ms)
        gen = (await session.stats())["inline"]["last_generation"] or {}
        if gen.get("prompt_tokens"):
            r["reuse"].append(gen["reused_tokens"] / gen["prompt_tokens"])
    session.close_doc(uri)


async def _call_sites(args: argparse.Namespace, work: Path) -> tuple[Rounds, list[dict[str, Any]], dict[str, Any], float | None]:
    """Every call site with context on and off, alternating so both see the same load."""
    cases = write_project(work / "project")
    session = Session(args, work / "project", _settings(args))
    await session.start()
    pid = session.pid
    rounds: Rounds = {m: {"hits": [], "cold": [], "warm": [], "tokens": [], "reuse": []} for m in (True, False)}
    samples: list[dict[str, Any]] = []
    try:
        for _ in range(args.repeats):
            for path, text, expected in cases:
                for enabled in (True, False):
                    await _call_site_round(session, path, text, expected, enabled, rounds, samples, args.warm, len(cases))
        final = await session.stats()
        rss_small = _rss_mb(pid) if pid else None
    finally:
        await session.stop()
    return rounds, samples[: len(cases)], final, rss_small


async def _big_tree(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], float | None]:
    """A second server indexes a generated tree of ``args.files`` files: what it holds, its RSS."""
    big_root = work / "big"
    write_big_tree(big_root, args.files)
    big = Session(args, big_root, _settings(args))
    await big.start()
    try:
        index = (await big.wait_scanned())["context"]["index"]
        return index, _rss_mb(big.pid) if big.pid else None
    finally:
        await big.stop()


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _ratio(a: list[float], b: list[float]) -> float | None:
    return round(statistics.median(a) / statistics.median(b), 3) if a and b else None


async def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rounds, samples, final, rss_small = await _call_sites(args, work)
    index, rss_big = await _big_tree(args, work)
    on, off = rounds[True], rounds[False]
    return {
        "hit_rate_with": round(sum(on["hits"]) / len(on["hits"]), 3),
        "hit_rate_without": round(sum(off["hits"]) / len(off["hits"]), 3),
        "call_sites": len(on["hits"]),
        "latency_ratio": _ratio(on["warm"], off["warm"]),
        "inline_p50_ms_with": _p50(on["warm"]),
        "inline_p50_ms_without": _p50(off["warm"]),
        "cold_latency_ratio": _ratio(on["cold"], off["cold"]),
        "cold_p50_ms_with": _p50(on["cold"]),
        "cold_p50_ms_without": _p50(off["cold"]),
        "reused_share_with": round(statistics.fmean(on["reuse"]), 3) if on["reuse"] else None,
        "reused_share_without": round(statistics.fmean(off["reuse"]), 3) if off["reuse"] else None,
        "context_tokens": round(statistics.fmean(on["tokens"]) - statistics.fmean(off["tokens"]), 1),
        "blocks_built": final["context"]["blocks_built"],
        "blocks_reused": final["context"]["blocks_reused"],
        "rss_mb_small_project": rss_small,
        "index_s": index["last_scan_s"],
        "index_files": index["files"],
        "index_definitions": index["definitions"],
        "index_bytes": index["bytes"],
        "index_truncated": index["truncated"],
        "tree_files": args.files,
        "rss_mb": rss_big,
        "generator": (final.get("models", {}).get("generator") or {}).get("name"),
        "cpus": len(os.sched_getaffinity(0)),
        "samples": samples,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=2, help="passes over the call sites (default 2)")
    parser.add_argument("--warm", type=int, default=2, help="requests after a keystroke per call site and mode (default 2)")
    parser.add_argument("--files", type=int, default=2000, help="files of the generated tree to index (default 2000)")
    parser.add_argument("--threads", type=int, default=None, help="winnow.threads (default: the server's)")
    parser.add_argument("--temperature", type=float, default=None, help="winnow.temperature (default: the server's)")
    parser.add_argument("--max-tokens", type=int, default=None, help="winnow.maxTokens (default: the server's)")
    parser.add_argument("--model", default=None, help="winnow.generatorModel (default: the embedded model)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for the models")
    parser.add_argument("--server-cmd", nargs="+", default=None, help="server command (default: this Python's winnow lsp)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="winnow-bench-context-") as tmp:
        result = asyncio.run(_measure(args, Path(tmp)))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"top suggestion names the helper: {result['hit_rate_with']:.0%} with context, "
          f"{result['hit_rate_without']:.0%} without ({result['call_sites']} call sites, {result['generator']})")
    print(f"inline p50 after a keystroke: {result['inline_p50_ms_with']} ms with, {result['inline_p50_ms_without']} ms "
          f"without (ratio {result['latency_ratio']}); first request ratio {result['cold_latency_ratio']}")
    print(f"prefill reused after a keystroke: {result['reused_share_with']} of the prompt with context; "
          f"the block adds {result['context_tokens']} tokens")
    print(f"index of a {result['tree_files']}-file tree: {result['index_s']} s, {result['index_files']} files, "
          f"{result['index_definitions']} definitions; server RSS {result['rss_mb']} MB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="winnow bench context", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
