"""What the server tells the user about itself: ``winnow/status``, ``$/progress`` and
messages (``window/showMessage`` / ``window/logMessage``, each failure logged once).

Everything here runs on the event loop thread; the model worker reaches it through
``loop.call_soon_threadsafe``. Nothing is sent before the client's ``initialized``
notification except shown/logged messages, which LSP allows during ``initialize``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

STATUS_METHOD = "winnow/status"
STATES = ("loading", "ready", "generating", "error")
PROGRESS_FINISH_S = 15.0  # the longest a status waits for a progress sequence to end
TOKEN_WAIT_S = 10.0  # how long a progress waits for the client to accept its token


class Messages:
    """``window/showMessage`` for what the user must know, ``window/logMessage`` for the
    rest; ``once`` logs a given failure a single time per server run."""

    def __init__(self, ls: LanguageServer) -> None:
        self.ls = ls
        self._seen: set[str] = set()
        self.problems: Counter[str] = Counter()  # every ``once`` call, logged or not (stats)

    def show(self, text: str, level: types.MessageType = types.MessageType.Info) -> None:
        log.info("show: %s", text)
        try:
            self.ls.window_show_message(types.ShowMessageParams(type=level, message=text))
            self.ls.window_log_message(types.LogMessageParams(type=level, message=text))
        except Exception:  # no transport (e.g. unit tests): the python log has it
            log.debug("could not send a message", exc_info=True)

    def log(self, text: str, level: types.MessageType = types.MessageType.Log) -> None:
        log.info("log: %s", text)
        try:
            self.ls.window_log_message(types.LogMessageParams(type=level, message=text))
        except Exception:
            log.debug("could not send a log message", exc_info=True)

    def once(
        self, key: str, text: str, level: types.MessageType = types.MessageType.Warning, show: bool = False
    ) -> bool:
        """Log ``text`` (or, with ``show``, show it to the user) unless a message with ``key``
        was already sent; True if sent."""
        self.problems[key] += 1
        if len(self.problems) > 10_000:
            self.problems.clear()
        if key in self._seen:
            return False
        self._seen.add(key)
        if len(self._seen) > 10_000:  # a pathological client must not grow this forever
            self._seen.clear()
        if show:
            self.show(text, level)
        else:
            self.log(text, level)
        return True


class Status:
    """The server's state as ``winnow/status`` notifications, plus model-load progress."""

    def __init__(self, ls: LanguageServer) -> None:
        self.ls = ls
        self.state = "loading"
        self.message = "starting"
        self.judge = False
        self.last_latency_ms: float | None = None
        #: Whether the workspace's code runs (hints, examples, tests), and why not when not.
        self.runs_code: bool | None = None
        self.code_note = ""
        #: The generator in use (its GGUF name), None while a load is in progress.
        self.model: str | None = None
        self.initialized = asyncio.Event()
        self._sent: tuple[Any, ...] | None = None
        self._busy = 0

    def payload(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "message": self.message,
            "lastLatencyMs": None if self.last_latency_ms is None else round(self.last_latency_ms, 1),
            "judge": self.judge,
            "runsCode": self.runs_code,
            "codeNote": self.code_note,
            "model": self.model,
        }

    def set(self, state: str, message: str, judge: bool | None = None) -> None:
        assert state in STATES, state
        self.state = state
        self.message = message
        if judge is not None:
            self.judge = judge
        self._send()

    def _send(self, force: bool = False) -> None:
        if not self.initialized.is_set():
            return
        key = (self.state, self.message, self.judge, self.runs_code, self.code_note, self.model)
        if key == self._sent and not force:
            return
        self._sent = key
        try:
            self.ls.protocol.notify(STATUS_METHOD, self.payload())
        except Exception:
            log.debug("could not send winnow/status", exc_info=True)

    def set_code_runs(self, runs: bool, note: str) -> None:
        """Whether the workspace's code runs, and why not (or under what) for the tooltip."""
        if (runs, note) != (self.runs_code, self.code_note):
            self.runs_code, self.code_note = runs, note
            self._send()

    def client_initialized(self) -> None:
        self.initialized.set()
        self._send(force=True)

    # Model work: "generating" while any request waits on the model, then back to ready.

    def work_started(self, what: str) -> None:
        self._busy += 1
        if self.state in ("ready", "generating"):
            self.set("generating", what)

    def work_finished(self, latency_ms: float | None) -> None:
        self._busy = max(0, self._busy - 1)
        if latency_ms is not None:
            self.last_latency_ms = latency_ms
        if self._busy == 0 and self.state == "generating":
            self.set("ready", "ready")


class Progress:
    """One ``$/progress`` sequence (begin, reports, end) when the client supports
    server-initiated progress; otherwise nothing. Messages may arrive before the client
    is initialized: they wait, then all go out in order after ``begin``. A download's
    sequence names its own ``token`` (a cancel request names it), is ``cancellable`` and has
    a ``percentage`` that never goes back."""

    def __init__(self, ls: LanguageServer, status: Status, title: str, *, token: str | None = None,
                 message: str | None = None, cancellable: bool = False, percentage: bool = False) -> None:  # fmt: skip
        self.ls = ls
        self.status = status
        self.title = title
        self.token = token or f"winnow-{uuid.uuid4()}"
        self.message = message or title
        self.cancellable = cancellable
        self.percentage: int | None = 0 if percentage else None
        self.queue: asyncio.Queue[tuple[str, str, int | None]] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run())

    def report(self, message: str, percentage: int | None = None) -> None:
        if percentage is not None and self.percentage is not None:
            percentage = self.percentage = max(self.percentage, min(100, max(0, percentage)))
        self.queue.put_nowait(("report", message, percentage))

    def end(self, message: str) -> None:
        self.queue.put_nowait(("end", message, None))

    async def finish(self, message: str, timeout: float = PROGRESS_FINISH_S) -> None:
        """End the sequence and wait until the client has been sent the end (bounded:
        a client that never answers the token request does not hold the caller)."""
        self.end(message)
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except Exception:
            log.debug("progress did not end in time", exc_info=True)

    def _supported(self) -> bool:
        try:
            window = self.ls.client_capabilities.window
            return bool(window and window.work_done_progress)
        except Exception:
            return False

    async def _run(self) -> None:
        await self.status.initialized.wait()
        token: str | None = None
        if self._supported():
            token = self.token
            try:
                await asyncio.wait_for(self.ls.work_done_progress.create_async(token), timeout=TOKEN_WAIT_S)
            except Exception:
                log.debug("client refused a progress token", exc_info=True)
                token = None
        pending: list[tuple[str, str, int | None]] = []
        while not self.queue.empty():
            pending.append(self.queue.get_nowait())
        if token is not None:
            begin = types.WorkDoneProgressBegin(title=self.title, message=self.message, cancellable=self.cancellable,
                                                percentage=0 if self.percentage is not None else None)  # fmt: skip
            self._send(token, begin)
        ended = False
        for item in pending:
            ended = self._emit(token, item) or ended
            if ended:
                break
        while not ended:
            ended = self._emit(token, await self.queue.get())
        if token is not None:
            self.ls.work_done_progress.tokens.pop(token, None)

    def _emit(self, token: str | None, item: tuple[str, str, int | None]) -> bool:
        kind, message, percentage = item
        if token is not None:
            if kind == "end":
                self._send(token, types.WorkDoneProgressEnd(message=message))
            else:
                self._send(token, types.WorkDoneProgressReport(message=message, percentage=percentage))
        return kind == "end"

    def _send(self, token: str,
              value: types.WorkDoneProgressBegin | types.WorkDoneProgressReport | types.WorkDoneProgressEnd) -> None:  # fmt: skip
        try:
            if isinstance(value, types.WorkDoneProgressBegin):
                self.ls.work_done_progress.begin(token, value)
            elif isinstance(value, types.WorkDoneProgressEnd):
                self.ls.work_done_progress.end(token, value)
            else:
                self.ls.work_done_progress.report(token, value)
        except Exception:
            log.debug("could not send progress", exc_info=True)
