"""The core as a service: models loaded once, every model call on one worker.

``Runtime`` is what the CLI and the language server use: it resolves and loads the
generator and the judge, and turns "implement this function" / "complete at this
cursor" / "judge this function" into jobs on the single model worker, returning
futures. Nothing here knows about editors.
"""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from winnow.judge.base.definitions import helper_stubs
from winnow.judge.base.errors import ModelError
from winnow.judge.evidence.batch_examples import batch_examples
from winnow.judge.evidence.example_runs import examples_runner
from winnow.judge.evidence.project_tests.candidates import ImplementTests, check_candidates
from winnow.judge.llm.engine import Engine
from winnow.judge.llm.generation import (
    FunctionCandidate,
    Generation,
    InlineResult,
    complete_at,
    implement_function,
)
from winnow.judge.llm.model import Model
from winnow.judge.llm.model_files import ModelInfo, resolve
from winnow.judge.llm.prompts import PromptContext
from winnow.judge.llm.worker import PRIORITY_BACKGROUND, PRIORITY_INTERACTIVE, PRIORITY_NORMAL, ModelWorker
from winnow.judge.sandbox.choice import strong_isolation
from winnow.judge.scoring.judge_model import Judge
from winnow.judge.scoring.ranking import RankedCandidate, by_tests_first, rank
from winnow.judge.sites import FunctionSite, judge_task

log = logging.getLogger(__name__)


@dataclass
class RuntimeConfig:
    generator: str = "default"
    judge: str = "default"  # "default" | path to judge.json | "none"
    n_threads: int = 0
    allow_download: bool = False
    n_ctx: int = 4096


@dataclass
class ImplementResult:
    ranked: list[RankedCandidate]
    generation: Generation
    judge_ms: float
    strategy: str = "combined"  # how ``ranked`` was ordered (ranking.STRATEGIES)
    note: str = ""  # why a weaker strategy ordered it ("no examples to run")


@dataclass
class Stats:
    latencies_ms: dict[str, deque[float]] = field(default_factory=dict)
    decode_tok_s: float = 0.0

    def record(self, kind: str, ms: float) -> None:
        self.latencies_ms.setdefault(kind, deque(maxlen=50)).append(ms)


class Runtime:
    """Generator + judge + one worker. Create, call ``load()``, then submit work."""

    def __init__(self, config: RuntimeConfig | None = None, worker: ModelWorker | None = None) -> None:
        self.config = config or RuntimeConfig()
        self.worker = worker or ModelWorker()
        self._own_worker = worker is None
        self.generator: Engine | None = None
        self.generator_info: ModelInfo | None = None
        self.judge: Judge | None = None  # when one is configured
        self.load_error: str | None = None
        self.stats = Stats()
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()

    # --- loading ------------------------------------------------------------------------

    def load(self, progress: Callable[[str], None] | None = None) -> Future[None]:
        """Resolve and load both models on the worker (does not block)."""
        return self.worker.submit(lambda: self._load(progress), PRIORITY_INTERACTIVE)

    def _model(self, path: str) -> Model:
        model = self._models.get(path)
        if model is None:
            model = self._models[path] = Model(path)
        return model

    def _load(self, progress: Callable[[str], None] | None) -> None:
        say = progress or (lambda _msg: None)
        self.load_error = None
        self._unload()
        try:
            say(f"resolving generator {self.config.generator}")
            info = resolve(self.config.generator, allow_download=self.config.allow_download)
            say(f"loading generator {info.name or info.path}")
            self.generator = Engine(self._model(info.path), n_ctx=self.config.n_ctx, n_threads=self.config.n_threads)
            self.generator_info = info
            if self.config.judge and self.config.judge.lower() != "none":
                say(f"loading judge {self.config.judge}")
                self.judge = Judge.load(
                    self.config.judge,
                    n_threads=self.config.n_threads,
                    allow_download=self.config.allow_download,
                    model_cache=self._model,
                )
            say("ready")
        except ModelError as exc:
            self.load_error = str(exc)
            raise

    def _unload(self) -> None:
        if self.generator is not None:
            self.generator.close()
        if self.judge is not None:
            self.judge.close()
        self.generator = None
        self.judge = None
        for model in self._models.values():
            model.close()
        self._models.clear()

    def reload(self, config: RuntimeConfig | None = None, progress: Callable[[str], None] | None = None) -> Future[None]:
        if config is not None:
            self.config = config
        return self.load(progress)

    @property
    def ready(self) -> bool:
        return self.generator is not None

    def _need_generator(self) -> Engine:
        if self.generator is None:
            raise ModelError(self.load_error or "models are not loaded yet")
        return self.generator

    def set_threads(self, n_threads: int) -> Future[None]:
        def apply() -> None:
            self.config.n_threads = n_threads
            for engine in (self.generator, self.judge.engine if self.judge is not None else None):
                if engine is not None:
                    engine.set_threads(n_threads)

        return self.worker.submit(apply, PRIORITY_INTERACTIVE)

    # --- work ---------------------------------------------------------------------------

    def implement(
        self,
        source: str,
        site: FunctionSite,
        n: int = 5,
        max_tokens: int = 256,
        temperature: float = 0.8,
        seed: int | None = None,
        strategy: str = "combined",
        cancelled: Callable[[], bool] | None = None,
        deadline: float | None = None,
        priority: int = PRIORITY_NORMAL,
        helpers: dict[str, str] | None = None,
        run_code: bool = True,
        tests: ImplementTests | None = None,
    ) -> Future[ImplementResult]:
        """Sample ``n`` bodies for ``site`` and rank them (judge when loaded). ``helpers``
        (name as the file spells it → stub) are workspace definitions: the judge's task
        carries the stubs of those the candidates call. Without ``run_code`` (the user's
        say, or an untrusted folder) nothing runs: the bodies are ranked without their examples.
        With ``tests`` (the user's tests that call the function), the bodies that pass most of
        them come first, the verdict ordering those that pass as many."""

        def job() -> ImplementResult:
            engine = self._need_generator()
            t0 = time.perf_counter()
            gen = implement_function(
                engine, source, site, n=n, max_tokens=max_tokens, temperature=temperature,
                seed=seed, cancel=cancelled, deadline=deadline,
            )
            t1 = time.perf_counter()
            ranked, use, note = self._rank(source, site, gen, strategy, helpers, cancelled, seed, run_code)
            if tests is not None and run_code and strong_isolation():
                results = check_candidates(tests, [c.code for c in gen.candidates])
                ranked = by_tests_first(ranked, [(r.passed, r.total) for r in results])
            t2 = time.perf_counter()
            self.stats.record("implement", (t2 - t0) * 1000.0)
            self.stats.decode_tok_s = gen.timings.decode_tok_s
            return ImplementResult(ranked, gen, (t2 - t1) * 1000.0, use, note)

        return self.worker.submit(job, priority, cancelled)

    def _judge_for(self, language: str) -> Judge | None:
        """The judge, where its manifest lists ``language``: the shipped one, trained on Python,
        has earned no voice on Java (its Java figures: docs/java.md)."""
        judge = self.judge
        return judge if judge is not None and language in judge.manifest.languages else None

    def _rank(
        self,
        source: str,
        site: FunctionSite,
        gen: Generation,
        strategy: str,
        helpers: dict[str, str] | None,
        cancelled: Callable[[], bool] | None,
        seed: int | None,
        run_code: bool = True,
    ) -> tuple[list[RankedCandidate], str, str]:
        """The verdict (judge, the examples in the sandbox, lint) where a judge speaks for the
        language, or what is left of it without one: the examples where they are known to
        exist (Java's run up front), else log-prob; with the strategy used and why a weaker
        one. The task carries the stubs of the workspace helpers the bodies call."""
        codes = [c.code for c in gen.candidates]
        task = judge_task(source, site, helper_stubs(codes, helpers) if helpers else "")
        judge = self._judge_for(site.language)
        runs = run_code and strong_isolation()  # never a weaker sandbox for the editor's code
        batch = batch_examples(source, site, codes) if runs else None
        note = "" if runs else ("running code is off" if not run_code else "no sandbox to run the examples in")
        if judge is not None or strategy in ("logprob", "random"):
            use = strategy
        elif batch is not None and batch.has_examples:
            use = "examples"
        else:
            use = "logprob"
            if runs:
                note = "no examples to run" if batch is not None and batch.has_examples is False else "no judge loaded"
        runner = batch.run if batch is not None and use in ("combined", "judge+exec", "examples") else None
        ranked = rank(
            task, gen.candidates, strategy=use, judge=judge, cancel=cancelled, seed=seed or 0,
            run_examples=runner, language=site.language,
        )  # fmt: skip
        return ranked, use, note

    def inline(
        self,
        prefix: str,
        suffix: str,
        n: int = 3,
        max_tokens: int = 64,
        temperature: float = 0.6,
        seed: int | None = None,
        cancelled: Callable[[], bool] | None = None,
        deadline: float | None = None,
        stop_fn: Callable[[str], int | None] | None = None,
        step_hook: Callable[[int, int, float], bool] | None = None,
        context: PromptContext | None = None,
    ) -> Future[InlineResult]:
        """Sample ``n`` insertions at a cursor (the fast path: no judge here); ``context``:
        other workspace files shown ahead of the prompt."""

        def job() -> InlineResult:
            engine = self._need_generator()
            t0 = time.perf_counter()
            out = complete_at(
                engine, prefix, suffix, n=n, max_tokens=max_tokens, temperature=temperature,
                seed=seed, cancel=cancelled, deadline=deadline, stop_fn=stop_fn, step_hook=step_hook,
                context=context,
            )
            self.stats.record("inline", (time.perf_counter() - t0) * 1000.0)
            self.stats.decode_tok_s = out.timings.decode_tok_s
            return out

        return self.worker.submit(job, PRIORITY_INTERACTIVE, cancelled)

    def judge_code(
        self, task: str, code: str, cancelled: Callable[[], bool] | None = None, judge_only: bool = False
    ) -> Future[RankedCandidate]:
        """P(correct) of one complete function for its task (signature + docstring): the
        verdict (judge, examples, lint), or with ``judge_only`` the learned judge's alone
        (what a correctness hint with no execution behind it is calibrated on)."""

        def job() -> RankedCandidate:
            t0 = time.perf_counter()
            cand = FunctionCandidate.given(code)
            strategy = ("judge" if judge_only else "combined") if self.judge is not None else "static"
            runner = examples_runner() if self.judge is not None and not judge_only and strong_isolation() else None
            ranked = rank(task, [cand], strategy=strategy, judge=self.judge, cancel=cancelled, run_examples=runner)
            self.stats.record("judge", (time.perf_counter() - t0) * 1000.0)
            return ranked[0]

        return self.worker.submit(job, PRIORITY_BACKGROUND, cancelled)

    def judge_function(
        self, source: str, site: FunctionSite, helpers: dict[str, str] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Future[RankedCandidate]:
        """The learned judge's P(correct) of a function as written (what a correctness hint
        with no execution behind it is calibrated on); its task carries the stubs of the
        workspace helpers it calls (``helpers``: name → stub, its own name left out)."""
        others = {k: v for k, v in (helpers or {}).items() if k != site.name}
        task = judge_task(source, site, helper_stubs([site.code], others) if others else "")
        return self.judge_code(task, textwrap.dedent(site.code), cancelled, judge_only=True)

    def describe(self) -> dict[str, Any]:
        """What runs, how fast, and how well the judge measured: for stats and hints."""
        lat = {k: {"last": round(v[-1], 1), "n": len(v)} for k, v in self.stats.latencies_ms.items() if v}
        return {
            "generator": self.generator_info.to_dict() if self.generator_info else None,
            "judge": self.judge.describe() if self.judge is not None else None,
            "threads": self.generator.n_threads if self.generator else None,
            "decode_tok_s": round(self.stats.decode_tok_s, 1),
            "latency_ms": lat,
            "queue": self.worker.pending,
            "error": self.load_error,
        }

    def close(self) -> None:
        try:
            self.worker.call(self._unload, PRIORITY_INTERACTIVE, timeout=30)
        except Exception:  # pragma: no cover - shutting down anyway
            pass
        if self._own_worker:
            self.worker.close()
