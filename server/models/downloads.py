"""Downloading a hub model from the editor: ``winnow.models.download``, and the download a
model load starts itself (``allowDownload``), with ``$/progress`` a client can cancel.

One download per spec at a time: a second caller (the command again, or a load of that
model) joins the one running. Each download runs on a thread of its own (never on the
model worker, which keeps serving the loaded model) through
``judge.llm.model_hub.download_hub_model``, and shows two ``$/progress`` sequences, both
``cancellable``, with ``percentage``:

- "Winnow: downloading FILE": reports "412 MB of 1.1 GB"; ends "downloaded 1.1 GB",
  "cancelled" or "failed";
- "Winnow: checking FILE": the sha256 of the new file (the hash ``model_files`` records,
  compared with the hub's): reports "sha256: 412 MB of 1.1 GB"; ends "checked", ...

``window/workDoneProgress/cancel`` for either token stops the download (a cancelled
download leaves nothing in the cache). The command answers
``{"spec", "path", "cancelled", "error"}``; it does not touch the settings.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from winnow.judge.base.errors import Cancelled, ModelError
from winnow.judge.llm.model_choices import human_bytes
from winnow.judge.llm.model_files import parse_hub_spec
from winnow.judge.llm.model_hub import cached_hub_file, download_hub_model
from winnow.server.lsp.status import Messages, Progress, Status

log = logging.getLogger(__name__)

REPORT_EVERY_S = 0.5  # at most one report per this, unless the percentage moved


class DownloadResult(TypedDict):
    """What ``winnow.models.download`` answers."""

    spec: str
    path: str | None  # the downloaded file (in the Hugging Face cache)
    cancelled: bool
    error: str | None


class DownloadState(TypedDict):
    """A download in flight, as ``winnow.showStats`` shows it (``models.downloads``)."""

    spec: str
    origin: str
    phase: str
    done: int
    total: int | None
    percentage: int | None
    cancelling: bool


def _new_token() -> str:
    return f"winnow-download-{uuid.uuid4()}"


@dataclass
class Download:
    """One download in flight."""

    spec: str
    name: str  # the file's name, for titles
    origin: str  # "command" | "load"
    tokens: tuple[str, str] = field(default_factory=lambda: (_new_token(), _new_token()))
    cancel: threading.Event = field(default_factory=threading.Event)
    phase: str = "starting"  # "starting" | "download" | "check"
    done: int = 0
    total: int | None = None
    listeners: list[Callable[[str], None]] = field(default_factory=list)  # the loads waiting on it
    task: asyncio.Future[DownloadResult] | None = None
    last_sent: float = 0.0
    last_percentage: int | None = None

    def percentage(self) -> int | None:
        if not self.total:
            return None
        return int(100 * self.done / self.total)

    def describe(self) -> str:
        """The phase in words: "412 MB of 1.1 GB", "sha256: 412 MB of 1.1 GB"."""
        amount = human_bytes(self.done) + ("" if self.total is None else f" of {human_bytes(self.total)}")
        if self.phase == "check":
            return f"sha256: {amount}"
        if self.phase == "download":
            return amount
        return "connecting to the hub"


def result(spec: str, path: str | None = None, cancelled: bool = False, error: str | None = None) -> DownloadResult:
    return {"spec": spec, "path": path, "cancelled": cancelled, "error": error}


class ModelDownloads:
    """The hub downloads of one server, by spec, and their cancel tokens."""

    def __init__(self, ls: LanguageServer, status: Status, messages: Messages) -> None:
        self.ls = ls
        self.status = status
        self.messages = messages
        self.jobs: dict[str, Download] = {}
        self.by_token: dict[str, Download] = {}
        self.finished: dict[str, int] = {"completed": 0, "cancelled": 0, "failed": 0}

    # --- the command -------------------------------------------------------------------

    async def download(self, spec: object) -> DownloadResult:
        """``winnow.models.download``: fetch ``spec`` (``hf:OWNER/REPO/FILE.gguf``) into
        the Hugging Face cache, or join the download of it that is running."""
        if not isinstance(spec, str) or not spec.strip().startswith("hf:"):
            return result(spec if isinstance(spec, str) else "", error=(
                "winnow.models.download takes one argument, a hub model spec: hf:OWNER/REPO/FILE.gguf"))  # fmt: skip
        spec = spec.strip()
        try:
            parse_hub_spec(spec)
        except ModelError as exc:
            return result(spec, error=str(exc))
        job = self.jobs.get(spec) or self._start(spec, "command")
        assert job.task is not None
        return await asyncio.shield(job.task)

    # --- a load that needs a hub model ------------------------------------------------

    async def fetch_for_load(self, spec: str, allow_download: bool, say: Callable[[str], None]) -> None:
        """Before a load of ``spec``: wait for its download when one is running, or start
        one (``allow_download``) when the file is not in the cache. Raises ModelError when
        that download was cancelled or failed; returns at once otherwise (the load's
        resolve then says what is missing)."""
        spec = spec.strip()
        if not spec.startswith("hf:"):
            return
        job = self.jobs.get(spec)
        if job is None:
            if not allow_download:
                return
            try:
                ref = parse_hub_spec(spec)
            except ModelError:
                return  # the load says so
            if await asyncio.to_thread(cached_hub_file, ref) is not None:
                return
            job = self.jobs.get(spec) or self._start(spec, "load")
        job.listeners.append(say)
        say(f"downloading {job.name}: {job.describe()}")
        try:
            done = await asyncio.shield(job.task)  # type: ignore[arg-type]
        finally:
            if say in job.listeners:
                job.listeners.remove(say)
        if done["cancelled"]:
            raise ModelError(f"the download of {spec} was cancelled; download it again or choose another model")
        if done["error"]:
            raise ModelError(done["error"])

    def cancel_unneeded(self, keep: str) -> None:
        """A newer load does not need the downloads older loads started for other models."""
        for job in list(self.jobs.values()):
            if job.origin == "load" and job.spec != keep.strip():
                job.cancel.set()

    # --- cancelling ---------------------------------------------------------------------

    def cancel(self, token: object) -> bool:
        """``window/workDoneProgress/cancel``: stop the download that owns ``token``."""
        job = self.by_token.get(str(token))
        if job is None:
            return False
        job.cancel.set()
        return True

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()

    def describe(self) -> list[DownloadState]:
        return [
            {"spec": j.spec, "origin": j.origin, "phase": j.phase, "done": j.done, "total": j.total,
             "percentage": j.percentage(), "cancelling": j.cancel.is_set()}
            for j in self.jobs.values()
        ]  # fmt: skip

    # --- running one --------------------------------------------------------------------

    def _start(self, spec: str, origin: str) -> Download:
        ref = parse_hub_spec(spec)
        job = Download(spec=spec, name=ref.filename.rsplit("/", 1)[-1], origin=origin)
        self.jobs[spec] = job
        for token in job.tokens:
            self.by_token[token] = job
        job.task = asyncio.ensure_future(self._run(job))
        return job

    async def _run(self, job: Download) -> DownloadResult:
        loop = asyncio.get_running_loop()
        bars: dict[str, Progress] = {}

        def on_progress(phase: str, done: int, total: int | None) -> None:  # on the download's thread
            loop.call_soon_threadsafe(self._progress, job, bars, phase, done, total)

        try:
            ref = parse_hub_spec(job.spec)
            if await asyncio.to_thread(cached_hub_file, ref) is None:
                bars["download"] = self._bar(f"Winnow: downloading {job.name}", job.tokens[0], "connecting to the hub")
            info = await asyncio.to_thread(download_hub_model, job.spec, on_progress, job.cancel.is_set)
            outcome = result(job.spec, path=info.path)
            self.finished["completed"] += 1
            self._end(bars, "downloaded " + human_bytes(info.size), "checked: sha256 " + info.sha256[:12])
            self.messages.log(f"Winnow: {job.spec} is on disk: {info.path} ({human_bytes(info.size)})",
                              types.MessageType.Info)  # fmt: skip
        except Cancelled:
            outcome = result(job.spec, cancelled=True)
            self.finished["cancelled"] += 1
            self._end(bars, "cancelled", "cancelled")
            self.messages.log(f"Winnow: the download of {job.spec} was cancelled", types.MessageType.Info)
        except Exception as exc:  # ModelError says what to do; anything else is a bug, still answered
            error = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ModelError):
                log.exception("downloading %s failed", job.spec)
            outcome = result(job.spec, error=error)
            self.finished["failed"] += 1
            self._end(bars, "failed", "failed")
            self.messages.log(f"Winnow: {error}", types.MessageType.Error)  # the caller shows it
        finally:
            self.jobs.pop(job.spec, None)
            for token in job.tokens:
                self.by_token.pop(token, None)
        return outcome

    def _bar(self, title: str, token: str, message: str) -> Progress:
        """A cancellable ``$/progress`` with a percentage, under the download's own token."""
        return Progress(self.ls, self.status, title, token=token, message=message, cancellable=True, percentage=True)

    def _end(self, bars: dict[str, Progress], download: str, check: str) -> None:
        if "download" in bars:
            bars["download"].end(download)
        if "check" in bars:
            bars["check"].end(check)

    def _progress(self, job: Download, bars: dict[str, Progress], phase: str, done: int,
                  total: int | None) -> None:  # fmt: skip
        """On the event loop: keep the numbers, and send them (throttled) to the client and
        to the loads that wait on this download (each message is news of their load)."""
        new_phase = phase != job.phase
        job.phase, job.done, job.total = phase, done, total
        if new_phase and phase == "check":
            if "download" in bars:
                bars["download"].end("downloaded " + human_bytes(total))
            bars["check"] = self._bar(f"Winnow: checking {job.name}", job.tokens[1], f"sha256 of {human_bytes(total)}")
            job.last_sent, job.last_percentage = 0.0, None
        elif new_phase and phase == "download" and "download" not in bars:
            bars["download"] = self._bar(f"Winnow: downloading {job.name}", job.tokens[0], "connecting to the hub")
        percentage = job.percentage()
        now = time.monotonic()
        finished = total is not None and done >= total
        if percentage == job.last_percentage and now - job.last_sent < REPORT_EVERY_S and not finished:
            return
        job.last_sent, job.last_percentage = now, percentage
        message = job.describe()
        bar = bars.get(phase)
        if bar is not None:
            bar.report(message, percentage)
        what = "downloading" if phase == "download" else "checking"
        for say in list(job.listeners):
            say(f"{what} {job.name}: {message}" + ("" if percentage is None else f" ({percentage}%)"))
