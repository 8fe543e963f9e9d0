"""Choosing and downloading a model from the editor, end to end: the real server, a local
stand-in for the Hugging Face Hub (hub_standin.py, on 127.0.0.1: no network), and the
embedded model's GGUF served as a hub file (so the downloaded model loads and works).

- ``winnow.models.list``: the embedded model and the recommended coder models;
- ``winnow.models.download``: ``$/progress`` with rising percentages, then the sha256 as a
  phase of its own; the file is on disk, and the server loads it once chosen;
- ``window/workDoneProgress/cancel`` mid-way: ``cancelled: true``, and nothing a later load
  would take is left in the cache;
- a load that downloads its model (``allowDownload``): the implement action waits for it
  (showing the download's news) instead of giving up.

The stand-in pauses a stream at a byte count until the test releases it, so the tests wait
on events, never on the transfer being slow or fast.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hub_standin import HubStandIn, file_sha256
from lsp_support import (
    FAST,
    SAMPLE,
    SERVER_CMD,
    TEST_ENV,
    capture_apply_edit,
    open_doc,
    progress_sequences,
    served_inline,
    set_settings,
    start,
    stats,
    wait_for,
)
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from winnow.judge.llm.model_choices import RECOMMENDED
from winnow.judge.llm.model_files import default_model_path, parse_hub_spec
from winnow.judge.llm.model_hub import cached_hub_file

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

EMBEDDED = default_model_path()
# The embedded model's bytes under three hub names (each file name its own progress title).
SPEC = "hf:winnow-test/SmolLM2-GGUF/smollm2-fast.gguf"  # served at full speed
SLOW_SPEC = "hf:winnow-test/Slow-GGUF/smollm2-slow.gguf"  # paused mid-way: cancelled there
LOAD_SPEC = "hf:winnow-test/Load-GGUF/smollm2-load.gguf"  # paused mid-way: a load waits on it
PAUSE_AT = 25_000_000  # bytes (huggingface_hub reads 10 MB at a time: two reports come first)
WAITING = "Winnow: waiting for the models to load"


def name(spec: str) -> str:
    return parse_hub_spec(spec).filename


def downloading(spec: str) -> str:
    return f"Winnow: downloading {name(spec)}"

OPTION_KEYS = {"spec", "label", "detail", "sizeBytes", "onDisk", "kind"}


@pytest.fixture(scope="module")
def hub():
    standin = HubStandIn().start()
    for spec in (SPEC, SLOW_SPEC, LOAD_SPEC):
        ref = parse_hub_spec(spec)
        standin.serve(ref.repo_id, ref.filename, EMBEDDED, pause_at=None if spec == SPEC else PAUSE_AT)
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf-cache")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(hub: HubStandIn, hf_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    env = {k: v for k, v in TEST_ENV.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env |= {
        "HF_ENDPOINT": hub.url,
        "HF_HUB_CACHE": str(hf_cache),
        "WINNOW_CACHE": str(tmp_path_factory.mktemp("winnow-cache")),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DOWNLOAD_TIMEOUT": "120",  # a paused stream must not time out on a busy machine
        "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"])),
    }
    lsp_client = await ClientServerConfig(server_command=SERVER_CMD, server_env=env).start()
    await start(lsp_client, FAST)
    yield lsp_client
    await lsp_client.shutdown_session()
    await lsp_client.stop()


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )


def sequences(client: LanguageClient, title: str) -> list[tuple[str, list[Any]]]:
    """(token, values) of every progress titled ``title``."""
    return [
        (str(token), reports)
        for token, reports in client.progress_reports.items()
        if reports and getattr(reports[0], "title", None) == title
    ]


async def settle(client: LanguageClient, seen: int) -> dict[str, Any]:
    """The outcome of the load that started after the ``seen`` first statuses: the first
    ready/error status after its "loading" one."""
    status = client.winnow_status  # type: ignore[attr-defined]

    def outcome() -> dict[str, Any] | None:
        loading = next((i for i in range(seen, len(status)) if status[i]["state"] == "loading"), None)
        if loading is None:
            return None
        return next((s for s in status[loading:] if s["state"] in ("ready", "error")), None)

    return await wait_for(outcome, timeout=180)


async def choose(client: LanguageClient, settings: dict[str, Any]) -> dict[str, Any]:
    """Change the settings (a model change reloads) and wait for the load's outcome."""
    seen = len(client.winnow_status)  # type: ignore[attr-defined]
    await set_settings(client, settings)
    return await settle(client, seen)


def blobs(hf_cache: Path, spec: str) -> list[Path]:
    folder = hf_cache / ("models--" + parse_hub_spec(spec).repo_id.replace("/", "--"))
    return sorted(p for p in folder.rglob("*") if p.is_file() and "blobs" in p.parts or p.is_symlink())


async def test_list_offers_the_embedded_model_and_the_recommended_coder_models(client: LanguageClient):
    listed = await command(client, "winnow.models.list")
    assert listed["current"] == (await stats(client))["server"]["settings"]["generatorModel"]
    embedded = listed["options"][0]
    assert embedded == {"spec": "default", "label": embedded["label"], "detail": embedded["detail"],
                        "sizeBytes": EMBEDDED.stat().st_size, "onDisk": True, "kind": "embedded"}  # fmt: skip
    by_spec = {o["spec"]: o for o in listed["options"]}
    for rec in RECOMMENDED:
        option = by_spec[rec.spec]
        assert option["kind"] == "hub" and option["onDisk"] is False
        assert isinstance(option["sizeBytes"], int) and option["sizeBytes"] > 100_000_000
        assert "Qwen2.5-Coder" in option["label"] and "about" in option["detail"]
    assert all(set(o) == OPTION_KEYS for o in listed["options"])


async def test_a_download_reports_progress_then_the_chosen_model_loads(client: LanguageClient, hf_cache: Path):
    result = await command(client, "winnow.models.download", SPEC)
    assert result == {"spec": SPEC, "path": result["path"], "cancelled": False, "error": None}
    path = Path(result["path"])
    assert path.is_relative_to(hf_cache.resolve()) and file_sha256(path) == file_sha256(EMBEDDED)

    [(_token, download)] = sequences(client, downloading(SPEC))
    begin, *reports, end = download
    assert begin.kind == "begin" and begin.cancellable is True and begin.percentage == 0
    assert end.kind == "end" and end.message == "downloaded 98 MB"
    percentages = [r.percentage for r in reports]
    assert len(percentages) >= 3 and percentages == sorted(percentages) and percentages[-1] == 100, percentages
    assert len(set(percentages)) >= 3, percentages  # it moved: 0, 10, 20, ... 100
    assert reports[-1].message == "98 MB of 98 MB"
    assert any(r.message.endswith(" MB of 98 MB") and 0 < r.percentage < 100 for r in reports)
    [(_token, check)] = sequences(client, f"Winnow: checking {name(SPEC)}")  # the sha256, a phase of its own
    assert check[0].kind == "begin" and check[0].cancellable is True
    assert check[-1].kind == "end" and check[-1].message.startswith("checked: sha256 ")
    assert [r.message for r in check[1:-1]][-1] == "sha256: 98 MB of 98 MB"

    listed = {o["spec"]: o for o in (await command(client, "winnow.models.list"))["options"]}
    assert listed[SPEC] | {"label": "", "detail": ""} == {"spec": SPEC, "label": "", "detail": "", "onDisk": True,
                                                          "kind": "hub", "sizeBytes": EMBEDDED.stat().st_size}  # fmt: skip
    # Choosing it (no allowDownload: the file is on disk) loads it, and it works.
    try:
        status = await choose(client, FAST | {"generatorModel": SPEC})
        assert status["state"] == "ready" and status["model"]  # the status bar names the model in use
        models = (await stats(client))["models"]
        assert models["generator"]["spec"] == SPEC and models["generator"]["path"] == str(path.resolve())
        assert models["generator_spec"] == SPEC and models["generator_name"]
        assert (await command(client, "winnow.models.list"))["current"] == SPEC
        open_doc(client, "file:///chosen.py", SAMPLE)
        await served_inline(client, "file:///chosen.py", 7, 4)
    finally:
        assert (await choose(client, FAST))["state"] == "ready"


async def test_a_download_cancelled_mid_way_leaves_nothing_to_load(client: LanguageClient, hub: HubStandIn,
                                                                   hf_cache: Path):  # fmt: skip
    served = hub.files[(parse_hub_spec(SLOW_SPEC).repo_id, name(SLOW_SPEC))]
    fetching = asyncio.ensure_future(command(client, "winnow.models.download", SLOW_SPEC))

    def started() -> str | None:
        for token, values in sequences(client, downloading(SLOW_SPEC)):
            if any(getattr(v, "percentage", 0) for v in values[1:]):
                return token
        return None

    token = await wait_for(started, timeout=120)
    await wait_for(served.paused.is_set, timeout=120)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await stats(client)  # a round trip: the cancel was handled before the stream goes on
    served.released.set()
    result = await asyncio.wait_for(fetching, timeout=120)
    assert result == {"spec": SLOW_SPEC, "path": None, "cancelled": True, "error": None}
    assert client.progress_reports[token][-1].message == "cancelled"
    # Nothing a later load would take: no blob, no partial file, no snapshot entry.
    assert blobs(hf_cache, SLOW_SPEC) == []
    assert cached_hub_file(parse_hub_spec(SLOW_SPEC), hf_cache) is None
    listed = await command(client, "winnow.models.list")
    assert SLOW_SPEC not in {o["spec"] for o in listed["options"]}
    assert (await stats(client))["models"]["downloads"] == []


async def test_implement_waits_for_the_download_of_the_model_a_load_needs(client: LanguageClient,
                                                                          hub: HubStandIn):  # fmt: skip
    served = hub.files[(parse_hub_spec(LOAD_SPEC).repo_id, name(LOAD_SPEC))]
    uri = "file:///waiting.py"
    open_doc(client, uri, SAMPLE)
    capture_apply_edit(client)
    clamp = SAMPLE.split("\n").index("def clamp(x, lo, hi):")
    seen = len(client.winnow_status)  # type: ignore[attr-defined]
    waits = len(progress_sequences(client, WAITING))
    try:
        await set_settings(client, FAST | {"generatorModel": LOAD_SPEC, "allowDownload": True})
        await wait_for(served.paused.is_set, timeout=120)  # the load's download is under way
        implementing = asyncio.ensure_future(command(client, "winnow.implementFunction", uri,
                                                     {"line": clamp + 1, "character": 4}))  # fmt: skip

        def waiting_shows_the_download() -> bool:
            for _token, values in sequences(client, WAITING)[waits:]:
                if any("downloading " + name(LOAD_SPEC) in (getattr(v, "message", "") or "") for v in values):
                    return True
            return False

        await wait_for(waiting_shows_the_download, timeout=60)
        assert not implementing.done()
        served.released.set()
        result = await asyncio.wait_for(implementing, timeout=180)
        assert result["function"] == "clamp", result
        assert (await settle(client, seen))["state"] == "ready"
        assert (await stats(client))["models"]["generator"]["spec"] == LOAD_SPEC
    finally:
        served.released.set()
        assert (await choose(client, FAST))["state"] == "ready"
