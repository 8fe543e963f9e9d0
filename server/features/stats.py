"""``winnow.showStats``: what the server runs, how fast, and what it has done.

The JSON answer keeps the shape docs/settings.md documents; the one-line summary shown
to the user is built from the same sources, not read back out of that JSON.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Protocol

from winnow.judge.base.numeric import percentile
from winnow.judge.sandbox.choice import known_isolation
from winnow.server.features.code_actions import CodeActions
from winnow.server.features.hints.pipeline import Diagnostics
from winnow.server.features.inline import InlineCompletion
from winnow.server.lsp.settings import Settings
from winnow.server.lsp.status import Messages, Status
from winnow.server.models.host import ModelHost
from winnow.server.workspace.context import WorkspaceContext


class StatsHost(Protocol):
    @property
    def version(self) -> str | None: ...

    @property
    def started(self) -> float: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def status(self) -> Status: ...

    @property
    def messages(self) -> Messages: ...

    @property
    def models(self) -> ModelHost: ...

    @property
    def inline(self) -> InlineCompletion: ...

    @property
    def code_actions(self) -> CodeActions: ...

    @property
    def diagnostics(self) -> Diagnostics: ...

    @property
    def workspace_context(self) -> WorkspaceContext: ...


def _percentile_ms(values: list[float], q: float) -> float | None:
    p = percentile(values, q)
    return None if p is None else round(p, 1)


def _rounded_last(values: list[float]) -> float | None:
    return round(values[-1], 1) if values else None


def _code_runs(host: StatsHost) -> dict[str, Any]:
    """Whether the workspace's code runs, under which sandbox, and which folders are trusted."""
    iso = known_isolation()
    return {
        "runs": host.status.runs_code,
        "note": host.status.code_note,
        "sandbox": iso.backend.name if iso is not None else None,
        "sandbox_strong": iso.strong if iso is not None else None,
        "sandbox_description": iso.describe() if iso is not None else "not probed yet",
        "trusted_folders": list(host.settings.trusted_folders),
    }


def collect(host: StatsHost, generations: bool = False) -> dict[str, Any]:
    """The whole picture as JSON; ``generations`` adds the engine timings of the last
    inline generations."""
    service = host.inline.service
    inline = list(service.latencies_ms)
    model = list(service.model_latencies_ms)
    cache = service.cache
    implemented = host.code_actions.latencies_ms
    stats: dict[str, Any] = {
        "server": {
            "version": host.version,
            "pid": os.getpid(),  # for a client or benchmark that watches the process (RSS)
            "state": host.status.state,
            "message": host.status.message,
            "uptime_s": round(time.perf_counter() - host.started, 1),
            "settings": host.settings.to_json(),
            "problems": dict(host.messages.problems),  # failures by kind, each counted (logged once)
        },
        "code": _code_runs(host),
        "models": host.models.describe(),
        "inline": {
            "requests": len(inline),
            "p50_ms": _percentile_ms(inline, 0.5),
            "p95_ms": _percentile_ms(inline, 0.95),
            "last_ms": _rounded_last(inline),
            "model_p50_ms": _percentile_ms(model, 0.5),
            "cache_hits": cache.hits,
            "typed_through_hits": cache.partial_hits,
            "cache_misses": cache.misses,
            "last_generation": host.inline.timings[-1] if host.inline.timings else None,
        },
        "code_actions": {
            "implemented": len(implemented),
            "last_ms": _rounded_last(implemented),
            "mean_ms": round(statistics.fmean(implemented), 1) if implemented else None,
        },
        "context": host.workspace_context.describe(),
        "diagnostics": {
            "active": host.diagnostics.active(),
            "judged": host.diagnostics.judge.judged,
            "cached_scores": len(host.diagnostics.judge.scores),
            "sandbox_runs": host.diagnostics.evidence.runs,
            "test_runs": host.diagnostics.tests.runs,
            "test_maps": {
                path: {"functions": len(m.by_function), "tests": len(m.outcomes), "seconds": round(m.seconds, 2),
                       "error": m.error, "reached": sorted(m.by_function),
                       "tests_of": {q: len(t) for q, t in sorted(m.by_function.items())}}
                for path, m in host.diagnostics.tests.maps.items()
            },  # fmt: skip
            "test_maps_building": sorted(host.diagnostics.tests.mapping),
            "done": dict(host.diagnostics.done),  # uri → the version whose hints are all published
        },
    }
    if generations:
        stats["inline"]["generations"] = list(host.inline.timings)
    return stats


def summary(host: StatsHost) -> str:
    """The one line ``winnow.showStats`` shows the user."""
    runtime = host.models.runtime
    info = runtime.generator_info if runtime is not None else None
    generator = info.name if info is not None else host.settings.generator_model
    judge = "judge on" if runtime is not None and runtime.judge is not None else "no judge"
    tok_s = round(runtime.stats.decode_tok_s, 1) if runtime is not None else 0
    latencies = list(host.inline.service.latencies_ms)
    return (
        f"Winnow: {generator} ({judge}), {tok_s or 0} tok/s, inline p50 "
        f"{_percentile_ms(latencies, 0.5)} ms over {len(latencies)} requests, state {host.status.state}; "
        + host.workspace_context.summary()
    )
