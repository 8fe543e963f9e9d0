"""Choosing and downloading a model (judge.llm.model_hub), against a local stand-in for
the Hugging Face Hub (tests/server/models/hub_standin.py): nothing goes to the network."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server" / "models"))

from gguf_factory import write_random_lora, write_tiny_llama  # noqa: E402
from hub_standin import HubStandIn, file_sha256  # noqa: E402

from winnow.judge.base.errors import Cancelled, ModelError  # noqa: E402
from winnow.judge.llm import model_files  # noqa: E402
from winnow.judge.llm.model_choices import RECOMMENDED, human_bytes, model_options  # noqa: E402
from winnow.judge.llm.model_hub import cached_hub_file, download_hub_model  # noqa: E402

REPO = "winnow-test/Tiny-GGUF"
FILE = "tiny.gguf"
SPEC = f"hf:{REPO}/{FILE}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture()
def hub():
    standin = HubStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Hugging Face cache, also the default one (``resolve`` reads the default)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "winnow"))
    return cache


def blobs(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("blobs/*") if p.is_file())


def test_download_reports_bytes_then_hashing_and_resolves_without_allow_download(hub, hub_cache, tiny):
    hub.serve(REPO, FILE, tiny)
    seen: list[tuple[str, int, int | None]] = []
    info = download_hub_model(SPEC, progress=lambda *p: seen.append(p), hub_cache=hub_cache, endpoint=hub.url)
    size = tiny.stat().st_size
    assert Path(info.path).read_bytes() == tiny.read_bytes()
    assert info.sha256 == file_sha256(tiny) and info.source == "hub" and info.spec == SPEC
    downloads = [d for phase, d, _ in seen if phase == "download"]
    checks = [(d, t) for phase, d, t in seen if phase == "check"]
    assert downloads == sorted(downloads) and downloads[-1] == size, seen
    assert all(t == size for phase, _, t in seen if phase == "download"), seen
    assert checks and checks[-1] == (size, size), seen
    assert seen.index(next(s for s in seen if s[0] == "check")) > seen.index(("download", size, size))
    # Cached now: a later resolve finds it without allowDownload (and without the network).
    hub.requests.clear()
    again = model_files.resolve(SPEC, allow_download=False)
    assert again.path == info.path and again.sha256 == info.sha256
    assert hub.requests == []
    # A second download is a no-op that sends nothing either.
    assert download_hub_model(SPEC, hub_cache=hub_cache, endpoint=hub.url).path == info.path
    assert hub.requests == []


def test_a_cancelled_download_leaves_nothing_a_load_would_take(hub, hub_cache, default_model_path):
    # The embedded model's 98 MB: several progress steps, cancelled at the first bytes.
    hub.serve(REPO, "big.gguf", Path(default_model_path))
    stop = threading.Event()

    def progress(phase: str, done: int, total: int | None) -> None:
        if phase == "download" and done > 0:
            stop.set()

    with pytest.raises(Cancelled):
        download_hub_model(f"hf:{REPO}/big.gguf", progress, stop.is_set, hub_cache=hub_cache, endpoint=hub.url)
    assert blobs(hub_cache) == []  # no blob, no .incomplete
    assert cached_hub_file(model_files.parse_hub_spec(f"hf:{REPO}/big.gguf"), hub_cache) is None
    with pytest.raises(ModelError, match="not downloaded yet"):
        model_files.resolve(f"hf:{REPO}/big.gguf")


def test_cancelling_before_the_transfer_sends_nothing(hub, hub_cache, tiny):
    hub.serve(REPO, FILE, tiny)
    with pytest.raises(Cancelled):
        download_hub_model(SPEC, cancelled=lambda: True, hub_cache=hub_cache, endpoint=hub.url)
    assert hub.requests == [] and blobs(hub_cache) == []


def test_a_file_whose_hash_differs_from_the_hubs_is_removed(hub, hub_cache, tiny):
    hub.serve(REPO, FILE, tiny, etag="0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        download_hub_model(SPEC, hub_cache=hub_cache, endpoint=hub.url)
    assert blobs(hub_cache) == []
    assert cached_hub_file(model_files.parse_hub_spec(SPEC), hub_cache) is None


def test_a_download_that_is_not_a_model_is_removed(hub, hub_cache, tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    hub.serve(REPO, FILE, junk)
    with pytest.raises(ModelError, match="not a usable model"):
        download_hub_model(SPEC, hub_cache=hub_cache, endpoint=hub.url)
    assert blobs(hub_cache) == []


def test_a_missing_file_is_an_error_naming_the_spec(hub, hub_cache):
    with pytest.raises(ModelError, match=f"downloading hf:{REPO}/nothing.gguf failed"):
        download_hub_model(f"hf:{REPO}/nothing.gguf", hub_cache=hub_cache, endpoint=hub.url)
    assert blobs(hub_cache) == []


def test_options_list_the_embedded_recommended_and_cached_models(hub, hub_cache, tiny, tmp_path):
    recommended = RECOMMENDED[0].spec
    ref = model_files.parse_hub_spec(recommended)
    hub.serve(ref.repo_id, ref.filename, tiny)
    hub.serve(REPO, FILE, tiny)
    for spec in (recommended, SPEC):
        download_hub_model(spec, hub_cache=hub_cache, endpoint=hub.url)
    local = write_tiny_llama(Path(model_files.cache_dir("mine")) / "local.gguf")
    write_random_lora(Path(model_files.cache_dir("judges")) / "adapter.gguf", str(tiny), layers=1)
    elsewhere = write_tiny_llama(tmp_path / "elsewhere.gguf")

    listed = model_options(str(elsewhere), hub_cache)
    by_spec = {o["spec"]: o for o in listed["options"]}
    assert listed["current"] == str(elsewhere)
    assert listed["options"][0]["spec"] == "default" and listed["options"][0]["kind"] == "embedded"
    assert by_spec["default"]["onDisk"] and by_spec["default"]["sizeBytes"] > 0
    for rec in RECOMMENDED:
        option = by_spec[rec.spec]
        assert option["kind"] == "hub" and isinstance(option["sizeBytes"], int)
        assert option["onDisk"] == (rec.spec == recommended)
        assert "about" in option["detail"] or option["onDisk"]
    assert by_spec[recommended]["sizeBytes"] == tiny.stat().st_size  # the real size once on disk
    assert by_spec[SPEC] | {"detail": ""} == {"spec": SPEC, "label": FILE, "detail": "",
                                              "sizeBytes": tiny.stat().st_size, "onDisk": True, "kind": "hub"}
    assert by_spec[str(local)]["kind"] == "local" and by_spec[str(local)]["onDisk"]
    assert not any(o["spec"].endswith("adapter.gguf") for o in listed["options"])  # a judge's adapter
    assert by_spec[str(elsewhere)]["kind"] == "local"  # the model in use, though not in a cache
    assert set(listed["options"][0]) == {"spec", "label", "detail", "sizeBytes", "onDisk", "kind"}


def test_options_without_a_hub_cache():
    listed = model_options("hf:Someone/Some-GGUF/model.gguf", "/nonexistent/hf-cache")
    specs = [o["spec"] for o in listed["options"]]
    assert specs[: 1 + len(RECOMMENDED)] == ["default"] + [r.spec for r in RECOMMENDED]
    assert listed["options"][-1] == {"spec": "hf:Someone/Some-GGUF/model.gguf", "label": "model.gguf",
                                     "detail": "in use; Someone/Some-GGUF, not downloaded yet",
                                     "sizeBytes": None, "onDisk": False, "kind": "hub"}  # fmt: skip


def test_sizes_read_as_the_hub_writes_them():
    assert [human_bytes(n) for n in (0, 999, 412_000_000, 1_120_000_000, 98_362_432)] == [
        "0 B", "999 B", "412 MB", "1.1 GB", "98 MB"
    ]
