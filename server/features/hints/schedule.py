"""When a document's hints run: debounced after edits, soon after open and save, one run per
document at a time, and a newer edit supersedes a run that is still waiting.

Each ``schedule`` bumps the document's generation; a run checks ``stale`` between its steps
and stops when a newer one was asked for, so what it publishes is never older than the
text it read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

EDIT_DELAY_S = 1.0  # after the last edit
OPEN_DELAY_S = 0.05  # after open / save
RETRY_DELAY_S = 1.5  # after yielding to an inline request


class HintSchedule:
    """Per document: the current generation and the task that runs (or waits to run) it."""

    def __init__(self, run: Callable[[str, int], Awaitable[None]]) -> None:
        self._run = run
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.generation: dict[str, int] = {}

    def schedule(self, uri: str, delay_s: float) -> None:
        """Run ``uri``'s hints after ``delay_s``, after the run before it has finished."""
        gen = self.generation.get(uri, 0) + 1
        self.generation[uri] = gen
        old = self.tasks.get(uri)
        if old is not None and not old.done() and old.get_name() == "sleeping":
            old.cancel()  # still debouncing: nothing is lost
        task = asyncio.ensure_future(self._after(uri, gen, delay_s, old))
        task.set_name("sleeping")
        self.tasks[uri] = task

    async def _after(self, uri: str, gen: int, delay_s: float, previous: asyncio.Task[None] | None) -> None:
        task = asyncio.current_task()
        await asyncio.sleep(delay_s)
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # one sandbox run per document at a time
        if task is not None:
            task.set_name("judging")
        if not self.stale(uri, gen):
            await self._run(uri, gen)

    def stale(self, uri: str, gen: int) -> bool:
        """Whether a newer run of ``uri`` was asked for since ``gen``."""
        return self.generation.get(uri) != gen

    def forget(self, uri: str) -> None:
        """The document closed: its pending run stops, and any run still going goes stale."""
        self.generation[uri] = self.generation.get(uri, 0) + 1
        task = self.tasks.pop(uri, None)
        if task is not None and not task.done():
            task.cancel()
