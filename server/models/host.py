"""The server's models: one ``Runtime`` (one model worker) for the whole session,
loaded in the background, reloaded when the model settings change.

A judge that fails to load does not take the generator with it: the server says so
once (``window/showMessage``) and carries on ranking by the generator's log-probs,
with correctness diagnostics off. A generator that fails to load puts the server in
the "error" state: requests answer empty or with an error naming the fix, and a
later reload (settings change or ``winnow.reloadModels``) can recover.

Orders clients rely on: the load's ``$/progress`` ends before ``winnow/status``
says "ready" (or "error"), and the first status a client sees is "loading" (the
ready status waits for the progress, which waits for ``initialized``). Requests
that need the models (code action resolve, winnow.implementFunction) wait for a
load in progress (``wait_ready``, shown as ``$/progress``) instead of failing, for as
long as the load makes progress (a multi-GB download included): only a load that
failed, or that said nothing for ``LOAD_WAIT_S``, answers an error, with its reason.

A load of a ``hf:`` model that is not on disk yet first waits for its download
(``downloads.py``: started by ``winnow.models.download``, or by the load itself when
``allowDownload`` is on), with the download's own cancellable ``$/progress``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from winnow.judge.base.errors import ModelError
from winnow.judge.llm.model_choices import ModelChoices, model_options
from winnow.judge.runtime import Runtime, RuntimeConfig
from winnow.judge.scoring.manifest import JudgeManifest
from winnow.server.lsp.settings import Settings
from winnow.server.lsp.status import Messages, Progress, Status
from winnow.server.models.calls import ModelCalls, TrackedJob
from winnow.server.models.downloads import ModelDownloads

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a request that needs the models waits for a load that says nothing (no progress
# message, no downloaded bytes): a load that keeps making progress is waited for however long.
LOAD_WAIT_S = 120.0
WAIT_POLL_S = 1.0  # how often a waiting request looks at the load (and shows its news)


def runtime_config(settings: Settings) -> RuntimeConfig:
    return RuntimeConfig(
        generator=settings.generator_model,
        judge=settings.judge,
        n_threads=settings.threads,
        allow_download=settings.allow_download,
    )


def describe_judge_failure(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class ModelHost:
    """Owns the Runtime; every model call of the server goes through it."""

    def __init__(self, ls: LanguageServer, status: Status, messages: Messages) -> None:
        self.ls = ls
        self.status = status
        self.messages = messages
        self.calls = ModelCalls()
        self.runtime: Runtime | None = None
        self.settings: Settings | None = None
        self.judge_error: str | None = None
        self.error: str | None = None
        self.loaded = asyncio.Event()  # set once a load attempt has finished (ok or not)
        self.load_started: float | None = None
        self.load_seconds: float | None = None
        self._generation = 0  # which load is current: a stale load's result is ignored
        self.on_ready: list[Callable[[], None]] = []
        self.load_activity = time.monotonic()  # the last sign of life of the load in progress
        self.load_message = "starting"  # what the load in progress said last
        self.downloads = ModelDownloads(ls, status, messages)

    def _activity(self, message: str | None = None) -> None:
        self.load_activity = time.monotonic()
        if message is not None:
            self.load_message = message

    @property
    def ready(self) -> bool:
        return self.runtime is not None and self.runtime.ready and self.error is None

    @property
    def has_judge(self) -> bool:
        return self.ready and self.runtime is not None and self.runtime.judge is not None

    def judge_info(self) -> JudgeManifest | None:
        """The loaded judge's manifest (what it is and how well it measured), if one is loaded."""
        if not self.has_judge or self.runtime is None or self.runtime.judge is None:
            return None
        return self.runtime.judge.manifest

    def load(self, settings: Settings) -> asyncio.Task[bool]:
        """Start (re)loading the models for ``settings``; the task says whether the
        generator is ready."""
        self.settings = settings
        self._generation += 1
        self.loaded.clear()
        self._activity(f"loading {settings.generator_model}")
        self.downloads.cancel_unneeded(settings.generator_model)
        return asyncio.ensure_future(self._load(settings, self._generation))

    async def _load(self, settings: Settings, generation: int) -> bool:
        loop = asyncio.get_running_loop()
        config = runtime_config(settings)
        self.status.model = None  # winnow/status "model": none while loading
        self.status.set("loading", f"loading {settings.generator_model}")
        progress = Progress(self.ls, self.status, "Winnow: loading models")

        def report(message: str) -> None:  # on the event loop
            if generation == self._generation:
                self._activity(message)
            progress.report(message)

        def say(message: str) -> None:  # called on the model worker thread
            loop.call_soon_threadsafe(report, message)

        self.load_started = time.perf_counter()
        self.error = None
        self.judge_error = None
        fetched = False
        try:
            await self.downloads.fetch_for_load(settings.generator_model, settings.allow_download, report)
            fetched = True
            if generation != self._generation:
                progress.end("superseded by a newer load")
                return False
            if self.runtime is None:
                self.runtime = Runtime(config)
                future = self.runtime.load(say)
            else:
                future = self.runtime.reload(config, say)
            await asyncio.wrap_future(future)
            failure: BaseException | None = None
        except Exception as exc:  # ModelError, WinnowError (a judge manifest), anything from llama.cpp
            failure = exc
        if generation != self._generation:
            progress.end("superseded by a newer load")
            return False  # a newer load superseded this one
        self.load_seconds = time.perf_counter() - self.load_started
        # A download that failed leaves the previous models in place: still a failed load.
        ok = fetched and self.runtime is not None and self.runtime.ready
        if failure is not None:
            self._report_failure(settings, failure, generator_loaded=ok)
        self.loaded.set()  # requests waiting in wait_ready go on now
        # The client sees the progress end before the status that announces the outcome.
        await progress.finish("ready" if ok else "failed")
        if generation != self._generation:
            return False  # a newer load started while the progress ended
        self._announce(settings, ok)
        for callback in list(self.on_ready):
            try:
                callback()
            except Exception:
                log.exception("on_ready callback failed")
        return ok

    def _report_failure(self, settings: Settings, failure: BaseException, generator_loaded: bool) -> None:
        """Say what did not load: the judge alone (ranking falls back), or the generator."""
        if generator_loaded:
            self.judge_error = describe_judge_failure(failure)
            self.messages.show(
                f"Winnow: the judge ({settings.judge}) could not load: {self.judge_error}. "
                "Candidates are ranked by the generator's log-probs; correctness diagnostics are off.",
                types.MessageType.Warning,
            )
            return
        self.error = str(failure) if isinstance(failure, ModelError) else f"{type(failure).__name__}: {failure}"
        self.messages.show(f"Winnow: could not load the generator model: {self.error}", types.MessageType.Error)

    def _announce(self, settings: Settings, ok: bool) -> None:
        """The status bar's state once a load settled, and the log line of a good one."""
        runtime = self.runtime
        if not ok or runtime is None:
            self.status.set("error", self.error or "models did not load", judge=False)
            return
        judge = runtime.judge is not None
        gen = runtime.generator_info.name if runtime.generator_info else settings.generator_model
        self.status.model = self.model_name()  # for winnow/status "model"
        self.status.set("ready", f"{gen} ready" + ("" if judge else " (no judge)"), judge=judge)
        self.messages.log(f"Winnow: models ready in {self.load_seconds:.2f} s: {gen}, judge {'on' if judge else 'off'}",
                          types.MessageType.Info)

    def set_threads(self, n_threads: int) -> None:
        if self.runtime is not None:
            self.runtime.set_threads(n_threads)

    def require(self) -> Runtime:
        """The runtime, or a ModelError saying why there is none."""
        if self.runtime is None or not self.loaded.is_set():
            raise ModelError("Winnow's models are still loading; try again in a moment")
        if not self.ready:
            raise ModelError(
                f"Winnow's generator is not loaded ({self.error or 'unknown error'}); fix the "
                "winnow.generatorModel setting or run the command winnow.reloadModels"
            )
        return self.runtime  # type: ignore[return-value]

    async def wait_ready(self, what: str, timeout: float = LOAD_WAIT_S) -> Runtime:
        """The runtime, once a load in progress has finished: ``what`` (e.g. "implementing
        clamp") waits for the models, shown as ``$/progress`` with the load's news (a
        download's bytes), instead of failing because the user asked too early. It waits as
        long as the load makes progress; ModelError (with the reason) when the generator
        failed to load, or when the load said nothing for ``timeout`` seconds."""
        if not self.loaded.is_set():
            progress = Progress(self.ls, self.status, "Winnow: waiting for the models to load")
            waiting = f"{what} starts once the models are loaded"
            progress.report(waiting)
            shown = None
            try:
                while not self.loaded.is_set():
                    quiet = time.monotonic() - self.load_activity
                    if quiet >= timeout:
                        raise ModelError(
                            f"Winnow's models stopped making progress (nothing new for {timeout:.0f} s; last: "
                            f"{self.load_message}), so {what} did not start; try again, or run the command "
                            "winnow.showStats to see what is loading"
                        )
                    try:
                        await asyncio.wait_for(self.loaded.wait(), min(WAIT_POLL_S, timeout - quiet))
                    except asyncio.TimeoutError:
                        pass
                    if not self.loaded.is_set() and self.load_message != shown:
                        shown = self.load_message
                        progress.report(f"{waiting} ({shown})")
            finally:
                progress.end("models loaded" if self.loaded.is_set() else "gave up waiting")
        return self.require()

    def model_name(self) -> str | None:
        """The loaded generator's short name (the GGUF's name, else its file's), for the status bar."""
        runtime = self.runtime
        info = runtime.generator_info if runtime is not None and self.ready else None
        if info is None:
            return None
        return info.name or Path(info.path).name.removesuffix(".gguf")

    async def options(self) -> ModelChoices:
        """``winnow.models.list``: the models to choose from, and the one in use."""
        current = self.settings.generator_model if self.settings is not None else "default"
        return await asyncio.to_thread(model_options, current)

    def track(self, kind: str, cancelled: Callable[[], bool]) -> TrackedJob:
        """A cancel check for one model job of ``kind``, counted in ``calls``."""
        return self.calls.track(kind, cancelled)

    async def run(self, submit: Callable[[Runtime], Future[T]], job: TrackedJob | None = None) -> T:
        """Submit a job to the runtime and await it without blocking the event loop;
        ``job`` (from ``track``, passed to the runtime as the job's cancel check) counts it."""
        runtime = self.require()
        future = submit(runtime)
        if job is not None:
            job.watch(future)
        return await asyncio.wrap_future(future)

    def describe(self) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if self.runtime is not None:
            try:
                base = self.runtime.describe()
            except Exception as exc:
                base = {"error": f"describe failed: {exc}"}
        base["judge_error"] = self.judge_error
        base["load_error"] = self.error
        base["generator_spec"] = self.settings.generator_model if self.settings is not None else None
        base["generator_name"] = self.model_name()
        base["load_message"] = None if self.loaded.is_set() else self.load_message
        base["downloads"] = self.downloads.describe()
        base["downloads_finished"] = dict(self.downloads.finished)
        base["load_s"] = None if self.load_seconds is None else round(self.load_seconds, 3)
        base["calls"] = self.calls.snapshot()
        return base

    def close(self) -> None:
        self.downloads.cancel_all()
        if self.runtime is not None:
            self.runtime.close()
