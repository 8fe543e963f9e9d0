"""``winnow bench hints``: correctness hints on real code, through the real server.

For each module (default: the calibration list of the standard library, a held-out part
of the standard library never calibrated on, and third-party packages installed in this
environment), the real server (``python -m winnow.cli lsp``, default settings unless
flags say otherwise) opens the module's file as it is and publishes its hints: every hint
there is a **false alarm** (released, tested code). Then, one function at a time, the
document gets one single-point bug in that function (the dataset's mutators) and the
hints are published again: a hint on the changed function is a **detection**. Reported
per group, per kind of evidence (a probe's with where its input came from:
``crash@nudge``), split by whether the function's docstring has examples, with the time
from opening a module to its last hint. With the project's tests on (the default), a group's
table also gives the share of functions the tests reach (the server's coverage map), the
detection among those, and the seconds from an edit to its test hint, overall and for the
functions reached by at most ``MAX_TESTS_FOR_LATENCY`` tests.

``--json`` prints one JSON object. This module exposes ``add_arguments(parser)`` and
``run(args) -> int``; the ``winnow bench`` verb dispatches ``hints`` to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from winnow.benchmarks.lsp_process import TRUST_ALL, kill_server, server_pid
from winnow.judge.base.errors import WinnowError
from winnow.judge.dataset.module_bugs import mutate_function
from winnow.judge.evaluation.hint_calibration import locate
from winnow.judge.hints.policy import (
    CALIBRATION_MODULES,
    HELD_OUT_MODULES,
    THIRD_PARTY_MODULES,
    judged_functions,
)

#: networkx modules whose shipped tests reach them (networkx/algorithms/**/tests).
NETWORKX_MODULES = (
    "networkx.algorithms.dag", "networkx.algorithms.cycles", "networkx.algorithms.simple_paths",
    "networkx.algorithms.components.connected", "networkx.algorithms.shortest_paths.unweighted",
    "networkx.algorithms.cluster", "networkx.algorithms.isolate", "networkx.algorithms.triads",
)  # fmt: skip
GROUPS = {
    "calibration": CALIBRATION_MODULES, "held-out stdlib": HELD_OUT_MODULES, "third-party": THIRD_PARTY_MODULES,
    "networkx": NETWORKX_MODULES,
}  # fmt: skip
#: The groups a run measures unless told otherwise (``--groups``).
DEFAULT_GROUPS = ("calibration", "held-out stdlib", "third-party", "networkx")
#: The edit-to-hint time is also reported for functions reached by at most this many tests.
MAX_TESTS_FOR_LATENCY = 30


@dataclass
class ModuleFigures:
    module: str
    group: str
    functions: int = 0
    with_examples: int = 0
    false_alarms: Counter[str] = field(default_factory=Counter)  # kind → correct functions flagged
    flagged_functions: list[str] = field(default_factory=list)
    changed: int = 0
    changed_with_examples: int = 0
    detected: Counter[str] = field(default_factory=Counter)  # kind → changed functions flagged
    detected_with_examples: int = 0
    detected_total: int = 0
    detected_functions: list[str] = field(default_factory=list)
    open_to_last_hint_s: float = 0.0
    reached: int = 0  # judged functions the project's tests reach (its coverage map)
    changed_reached: int = 0
    detected_reached: int = 0
    edit_to_hint_s: dict[str, list[float]] = field(default_factory=dict)  # kind → seconds from edit to its hint
    #: seconds from an edit to its test hint, for functions the map shows reached by at most
    #: MAX_TESTS_FOR_LATENCY tests (the goal's condition; larger ones are reported apart)
    edit_to_test_hint_few_s: list[float] = field(default_factory=list)
    map_s: float | None = None  # seconds to map the module's tests
    error: str = ""


def kind_of(data: dict[str, Any]) -> str:
    """A hint's evidence class, with where a probe's input came from (``crash@call-site``)."""
    probe = (data.get("evidence") or {}).get("probe")
    return f"{data['kind']}@{probe.get('origin', 'nudge')}" if isinstance(probe, dict) else str(data["kind"])


class Session:
    """One server, driven over stdio; publishDiagnostics are kept per URI."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client = LanguageClient("winnow-bench-hints", "1")
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.first_seen: dict[tuple[str, int | None, str], float] = {}  # (uri, version, function) → time
        self.pid: int | None = None

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(ls: Any, params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            now = time.perf_counter()
            for d in params.diagnostics:
                if isinstance(d.data, dict):
                    self.first_seen.setdefault((params.uri, params.version, d.data["function"]), now)

        for method in (types.WINDOW_SHOW_MESSAGE, types.WINDOW_LOG_MESSAGE, types.PROGRESS,
                       types.WINDOW_WORK_DONE_PROGRESS_CREATE, "winnow/status"):
            self.client.feature(method)(lambda ls, params: None)

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(TRUST_ALL)
        out.setdefault("diagnostics", {})["tests"] = self.args.tests == "on"
        if self.args.crashes is not None:
            out["diagnostics"]["crashes"] = self.args.crashes
        if self.args.judge is not None:
            out["judge"] = self.args.judge
        if self.args.probes is not None:
            out.setdefault("diagnostics", {})["probes"] = self.args.probes
        return out

    async def start(self) -> None:
        cmd = self.args.server_cmd or [sys.executable, "-m", "winnow.cli", "lsp"]
        await self.client.start_io(cmd[0], *cmd[1:])
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                initialization_options=self.settings(),
                process_id=os.getpid(),
            )
        )
        self.client.initialized(types.InitializedParams())
        self.pid = await server_pid(self.client)

    async def stats(self) -> dict[str, Any]:
        return await self.client.workspace_execute_command_async(types.ExecuteCommandParams(command="winnow.showStats"))

    async def hints_for(self, uri: str, version: int, timeout: float) -> dict[str, str]:
        """Wait until the server finished ``version`` of ``uri``; function → hint kind."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = (await self.stats())["diagnostics"].get("done", {})
            if done.get(uri) == version:
                break
            await asyncio.sleep(0.1)
        else:
            raise TimeoutError(f"no hints for {uri} version {version} within {timeout:.0f} s")
        return {d.data["function"]: kind_of(d.data) for d in self.diagnostics.get(uri, []) if isinstance(d.data, dict)}

    async def mapped(self, path: str, timeout: float) -> dict[str, Any] | None:
        """Until the server mapped the tests of the module at ``path`` (None: it has none)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            diag = (await self.stats())["diagnostics"]
            found = diag.get("test_maps", {}).get(path)
            if found is not None:
                return found
            if path not in diag.get("test_maps_building", []) and time.monotonic() > deadline - timeout + 5:
                return None  # nothing is being mapped: no tests, or nothing of it may run
            await asyncio.sleep(0.2)
        return None

    def forget(self, uri: str) -> None:
        """Drop what was seen of ``uri`` before: its versions restart at 1 when it opens again."""
        self.diagnostics.pop(uri, None)
        for key in [k for k in self.first_seen if k[0] == uri]:
            del self.first_seen[key]

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), timeout=30)
            self.client.exit(None)
            await asyncio.wait_for(self.client.stop(), timeout=30)
        except Exception:
            kill_server(self.pid)


async def _test_map(
    session: Session, path: str, figures: ModuleFigures, args: argparse.Namespace
) -> tuple[set[str], dict[str, int]]:
    """The functions the module's tests reach and how many tests reach each (none: tests off,
    or the module has no map)."""
    if args.tests != "on":
        return set(), {}
    found = await session.mapped(path, args.timeout)
    if found is None or found.get("error"):
        return set(), {}
    figures.map_s = found["seconds"]
    return set(found["reached"]), dict(found.get("tests_of", {}))


async def measure_module(session: Session, module: str, group: str, args: argparse.Namespace) -> ModuleFigures:
    figures = ModuleFigures(module, group)
    try:
        path = locate(module)
    except WinnowError as exc:
        figures.error = str(exc)
        return figures
    source = path.read_text(encoding="utf-8")
    sites = judged_functions(source)[: args.max_functions]
    uri = path.as_uri()
    figures.functions = len(sites)
    session.forget(uri)  # a module measured before (in another group) starts afresh
    t0 = time.perf_counter()
    session.client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri, "python", 1, source))
    )
    hints = await session.hints_for(uri, 1, args.timeout)
    figures.open_to_last_hint_s = round(time.perf_counter() - t0, 2)
    reached, tests_of = await _test_map(session, str(path), figures, args)
    figures.reached = sum(s.qualname in reached for s in sites)
    examples = {s.qualname for s in sites if ">>>" in (s.docstring or "")}
    figures.with_examples = len(examples)
    for function, kind in hints.items():
        figures.false_alarms[kind] += 1
        figures.flagged_functions.append(f"{function}: {kind}")
    version = 1
    for site in sites if not args.no_bugs else []:
        bug = mutate_function(source, site, random.Random(f"{args.seed}:{module}:{site.qualname}"))
        if bug is None:
            continue
        version += 1
        figures.changed += 1
        figures.changed_with_examples += site.qualname in examples
        figures.changed_reached += site.qualname in reached
        t_edit = time.perf_counter()
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=bug.source)],
            )
        )
        kind = (await session.hints_for(uri, version, args.timeout)).get(site.qualname)
        if kind is not None:
            figures.detected[kind] += 1
            figures.detected_total += 1
            figures.detected_with_examples += site.qualname in examples
            figures.detected_reached += site.qualname in reached
            figures.detected_functions.append(f"{site.qualname}: {kind}")
            seen = session.first_seen.get((uri, version, site.qualname))
            if seen is not None:
                figures.edit_to_hint_s.setdefault(kind, []).append(round(seen - t_edit, 3))
                if kind == "test" and 0 < tests_of.get(site.qualname, 0) <= MAX_TESTS_FOR_LATENCY:
                    figures.edit_to_test_hint_few_s.append(round(seen - t_edit, 3))
    session.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    return figures


def _timings(values: list[float]) -> dict[str, float | int] | None:
    """Median and p95 of edit-to-hint seconds (None without any)."""
    if not values:
        return None
    ordered = sorted(values)
    return {"n": len(ordered), "median": round(statistics.median(ordered), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2)}  # fmt: skip


def summarise(rows: list[ModuleFigures]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group in dict.fromkeys(r.group for r in rows):
        items = [r for r in rows if r.group == group and not r.error]
        functions = sum(r.functions for r in items)
        flagged = sum(len(r.flagged_functions) for r in items)
        changed = sum(r.changed for r in items)
        changed_ex = sum(r.changed_with_examples for r in items)

        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        out[group] = {
            "modules": len(items),
            "functions": functions,
            "with_examples": sum(r.with_examples for r in items),
            "false_alarms": flagged,
            "false_alarm_rate": rate(flagged, functions),
            "false_alarms_by_kind": dict(sum((r.false_alarms for r in items), Counter())),
            "changed": changed,
            "detection_rate": rate(sum(r.detected_total for r in items), changed),
            "changed_with_examples": changed_ex,
            "detection_rate_with_examples": rate(sum(r.detected_with_examples for r in items), changed_ex),
            "detected_by_kind": dict(sum((r.detected for r in items), Counter())),
            "max_open_to_last_hint_s": max((r.open_to_last_hint_s for r in items), default=None),
            "reached": sum(r.reached for r in items),
            "reached_share": rate(sum(r.reached for r in items), functions),
            "detection_rate_reached": rate(sum(r.detected_reached for r in items), sum(r.changed_reached for r in items)),
            "edit_to_hint_s": _timings([t for r in items for t in r.edit_to_hint_s.get("test", [])]),
            f"edit_to_hint_s_at_most_{MAX_TESTS_FOR_LATENCY}_tests": _timings(
                [t for r in items for t in r.edit_to_test_hint_few_s]
            ),
            "edit_to_hint_s_by_kind": {
                kind: _timings([t for r in items for t in r.edit_to_hint_s.get(kind, [])])
                for kind in sorted({k for r in items for k in r.edit_to_hint_s})
            },
            "max_map_s": max((r.map_s for r in items if r.map_s is not None), default=None),
            "skipped": {r.module: r.error for r in rows if r.group == group and r.error},
        }
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    groups = args.groups or list(DEFAULT_GROUPS)
    plan = [(m, "selected") for m in args.modules] if args.modules else [
        (m, g) for g, mods in GROUPS.items() if g in groups for m in mods
    ]
    session = Session(args)
    await session.start()
    rows = []
    try:
        for module, group in plan:
            rows.append(await measure_module(session, module, group, args))
            if not args.json:
                r = rows[-1]
                print(f"{module}: {r.functions} functions, {len(r.flagged_functions)} flagged as is, "
                      f"{r.detected_total}/{r.changed} bugs found, last hint after {r.open_to_last_hint_s} s"
                      + (f" ({r.error})" if r.error else ""), file=sys.stderr)
    finally:
        await session.stop()
    return {
        "groups": summarise(rows),
        "modules": [
            {**r.__dict__, "false_alarms": dict(r.false_alarms), "detected": dict(r.detected)} for r in rows
        ],
        "settings": session.settings(),
        "cpus": len(os.sched_getaffinity(0)),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("modules", nargs="*", help="importable modules (default: the three groups)")
    parser.add_argument("--max-functions", type=int, default=40, help="judged functions per module (default: 40)")
    parser.add_argument("--probes", type=int, default=None, help="winnow.diagnostics.probes (default: the server's)")
    parser.add_argument("--judge", default=None, help="winnow.judge (default: the server's)")
    parser.add_argument("--no-bugs", action="store_true", help="only the modules as they are (false alarms)")
    parser.add_argument("--seed", type=int, default=0, help="which bug each function gets (default: 0)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for one document's hints")
    parser.add_argument("--server-cmd", nargs="+", default=None, help="server command (default: this Python's winnow lsp)")
    parser.add_argument("--tests", choices=("on", "off"), default="on",
                        help="winnow.diagnostics.tests: the project's own tests as evidence (default: on)")
    parser.add_argument("--crashes", choices=("edit", "absolute"), default=None,
                        help="winnow.diagnostics.crashes: the rule for crashes on invented inputs (default: the server's)")
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=None,
                        help=f"which groups (default: {', '.join(DEFAULT_GROUPS)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'group':18} {'functions':>9} {'false alarms':>13} {'bugs found':>11} {'… with examples':>16} {'last hint':>10}")
    for group, g in result["groups"].items():
        print(f"{group:18} {g['functions']:>9} {g['false_alarms']:>5} ({g['false_alarm_rate']}) "
              f"{g['detection_rate']!s:>11} {g['detection_rate_with_examples']!s:>16} {g['max_open_to_last_hint_s']!s:>9} s")
        print(f"  false alarms by kind {g['false_alarms_by_kind']}; detections by kind {g['detected_by_kind']}")
        if g["reached"]:
            print(f"  tests reach {g['reached']} ({g['reached_share']}); bugs found among those {g['detection_rate_reached']}; "
                  f"edit to test hint {g['edit_to_hint_s']} "
                  f"(≤ {MAX_TESTS_FOR_LATENCY} tests: {g[f'edit_to_hint_s_at_most_{MAX_TESTS_FOR_LATENCY}_tests']})")
        for module, why in g["skipped"].items():
            print(f"  skipped {module}: {why}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="winnow bench hints", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
