"""A request that needs the models waits for a load that makes progress, however long it
takes, and gives up only on a load that fails or says nothing (server/models/host.py:
``ModelHost.wait_ready``). Unit tests of the host without a client (no progress is sent)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from winnow.judge.base.errors import ModelError
from winnow.server.lsp.status import Messages, Status
from winnow.server.models.host import ModelHost

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
QUIET_S = 0.3  # the stall limit under test (the server's is LOAD_WAIT_S)


def host() -> ModelHost:
    ls: Any = SimpleNamespace(client_capabilities=None, protocol=SimpleNamespace(notify=lambda *a: None),
                              window_show_message=lambda *a: None, window_log_message=lambda *a: None)  # fmt: skip
    status = Status(ls)
    status.initialized.set()
    models = ModelHost(ls, status, Messages(ls))
    models.runtime = SimpleNamespace(ready=True, close=lambda: None)  # type: ignore[assignment]
    models.loaded.clear()
    models._activity("loading hf:someone/Model-GGUF/model.gguf")
    return models


async def test_a_load_that_keeps_making_progress_is_waited_for_past_the_stall_limit():
    models = host()

    async def downloading() -> None:
        for mb in range(12):  # 1.2 s of news, every 0.1 s: four stall limits in all
            models._activity(f"downloading model.gguf: {mb} MB of 12 MB")
            await asyncio.sleep(0.1)
        models.loaded.set()

    started = time.monotonic()
    feeder = asyncio.ensure_future(downloading())
    runtime = await models.wait_ready("implementing clamp", timeout=QUIET_S)
    assert runtime is models.runtime
    assert time.monotonic() - started >= 1.0
    await feeder


async def test_a_load_that_says_nothing_gives_up_naming_what_it_did_last():
    models = host()
    started = time.monotonic()
    with pytest.raises(ModelError, match="stopped making progress") as info:
        await models.wait_ready("implementing clamp", timeout=QUIET_S)
    assert "loading hf:someone/Model-GGUF/model.gguf" in str(info.value)
    assert "implementing clamp did not start" in str(info.value)
    assert time.monotonic() - started < 10 * QUIET_S + 5


async def test_a_load_that_stalls_after_some_progress_gives_up_too():
    models = host()
    for mb in range(3):
        models._activity(f"downloading model.gguf: {mb} MB of 12 MB")
        await asyncio.sleep(0.1)
    with pytest.raises(ModelError, match="downloading model.gguf: 2 MB of 12 MB"):
        await models.wait_ready("implementing clamp", timeout=QUIET_S)


async def test_a_load_that_fails_answers_its_reason():
    models = host()

    async def failing() -> None:
        await asyncio.sleep(0.1)
        models.error = "the download of hf:someone/Model-GGUF/model.gguf was cancelled"
        models.loaded.set()

    feeder = asyncio.ensure_future(failing())
    with pytest.raises(ModelError, match="was cancelled"):
        await models.wait_ready("implementing clamp", timeout=QUIET_S)
    await feeder
