"""Downloading a hub model with progress and a cancel (the choices are ``model_choices``).

``download_hub_model`` fetches ``hf:OWNER/REPO/FILE.gguf`` into the Hugging Face cache
with ``hf_hub_download``, reporting bytes through a ``tqdm`` subclass that also stops the
transfer when the caller cancels, then checks the file and hashes it (the sha256 that
``model_files`` records), comparing the hash with the hub's (an LFS file's ETag is its
sha256). A cancelled or failed download leaves nothing a later load would take:
``hf_hub_download`` writes into a temporary ``.incomplete`` file that becomes the cached
file only once complete, and whatever this call wrote is removed.

Downloads here go over plain HTTP even where ``hf_xet`` is installed: Xet reports progress
from a thread of its own and swallows an exception raised there, so a cancel would not
stop the transfer (huggingface_hub issue #4632); plain HTTP calls the progress bar inline.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from winnow.judge.base.errors import Cancelled, ModelError
from winnow.judge.llm.model_files import (
    HubRef,
    ModelInfo,
    describe,
    parse_hub_spec,
)

#: ``progress(phase, done, total)``: phase "download" (bytes received) or "check" (bytes hashed).
Progress = Callable[[str, int, "int | None"], None]


# --- downloading -------------------------------------------------------------------------


def cached_hub_file(ref: HubRef, hub_cache: str | os.PathLike[str] | None = None) -> Path | None:
    """The complete cached file of ``ref`` (no network), or None."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(ref.repo_id, ref.filename, cache_dir=hub_cache, local_files_only=True))
    except LocalEntryNotFoundError:
        return None
    except (OSError, ValueError):  # an unreadable or odd cache: as if the file were not there
        return None


_xet_lock = threading.Lock()
_xet_state = {"downloads": 0, "saved": False}


@contextlib.contextmanager
def _plain_http() -> Iterator[None]:
    """Turn huggingface_hub's Xet transfers off while any cancellable download runs (see
    the module's docstring); the setting goes back when the last one ends."""
    from huggingface_hub import constants

    with _xet_lock:
        if _xet_state["downloads"] == 0:
            _xet_state["saved"] = constants.HF_HUB_DISABLE_XET
        _xet_state["downloads"] += 1
        constants.HF_HUB_DISABLE_XET = True
    try:
        yield
    finally:
        with _xet_lock:
            _xet_state["downloads"] -= 1
            if _xet_state["downloads"] == 0:
                constants.HF_HUB_DISABLE_XET = bool(_xet_state["saved"])


def _progress_bar(progress: Progress | None, cancelled: Callable[[], bool]) -> type:  # a tqdm class
    """A ``tqdm`` class for ``hf_hub_download``: it draws nothing, passes the bytes on, and
    raises ``Cancelled`` inside the transfer loop once ``cancelled()`` says so."""
    from tqdm.std import tqdm

    class Bar(tqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.pop("name", None)  # huggingface_hub's own tqdm takes it; tqdm does not
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            initial, total = kwargs.get("initial"), kwargs.get("total")
            self.done = initial if isinstance(initial, int) else 0
            self.expected = total if isinstance(total, int) else None
            if cancelled():
                raise Cancelled("the download was cancelled")
            if progress is not None:
                progress("download", self.done, self.expected)

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            if cancelled():
                raise Cancelled("the download was cancelled")
            if progress is not None:
                progress("download", self.done, self.expected)
            return None

    return Bar


def _repo_folder(ref: HubRef, hub_cache: str | os.PathLike[str] | None) -> Path:
    from huggingface_hub import constants

    root = Path(hub_cache if hub_cache is not None else constants.HF_HUB_CACHE).expanduser()
    return root / ("models--" + ref.repo_id.replace("/", "--"))


def _remove_download(pointer: Path | None, blob: Path | None) -> None:
    for path in (pointer, blob):
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


def _incomplete_files(folder: Path) -> set[Path]:
    return set((folder / "blobs").glob("*.incomplete"))


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _fetch(ref: HubRef, spec: str, progress: Progress | None, stop: Callable[[], bool],
           hub_cache: str | os.PathLike[str] | None, endpoint: str | None) -> Path:  # fmt: skip
    """Download into the cache; whatever partial file this left behind is removed."""
    from huggingface_hub import hf_hub_download

    if stop():
        raise Cancelled("the download was cancelled")
    folder = _repo_folder(ref, hub_cache)
    before = _incomplete_files(folder)
    try:
        with _plain_http():
            return Path(hf_hub_download(ref.repo_id, ref.filename, cache_dir=hub_cache, endpoint=endpoint,
                                        tqdm_class=_progress_bar(progress, stop)))  # fmt: skip
    except BaseException as exc:
        for leftover in _incomplete_files(folder) - before:  # an older huggingface_hub keeps them
            with contextlib.suppress(OSError):
                leftover.unlink()
        if isinstance(exc, Cancelled) or not isinstance(exc, Exception):
            raise
        raise ModelError(
            f"downloading {spec} failed ({type(exc).__name__}: {exc}); check the repository and file "
            "name and your network, or download the file and pass its path"
        ) from exc


def _check(
    pointer: Path, spec: str, fetched: bool, progress: Progress | None, stop: Callable[[], bool]
) -> ModelInfo:
    """Check and hash the cached file against the hub's sha256 (its blob's name, for an LFS
    file); a file this call fetched goes away again when cancelled or unusable."""
    blob = Path(os.path.realpath(pointer)) if pointer.is_symlink() else None

    def hashed(done: int, total: int) -> None:
        if progress is not None:
            progress("check", done, total)

    try:
        info = describe(pointer, spec, "hub", hashed, stop)
    except Cancelled:
        if fetched:
            _remove_download(pointer, blob)  # cancelled: as if it never started
        raise
    except ModelError as exc:
        if not fetched:
            raise
        _remove_download(pointer, blob)
        raise ModelError(f"{spec} downloaded but is not a usable model, so it was removed: {exc}") from exc
    expected = blob.name if blob is not None and _SHA256.fullmatch(blob.name) else None
    if expected is not None and info.sha256 != expected:
        _remove_download(pointer, blob)
        raise ModelError(
            f"{spec} downloaded with sha256 {info.sha256}, but the hub says {expected}: the file was "
            "damaged on the way and was removed; download it again"
        )
    return info


def download_hub_model(
    spec: str,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    hub_cache: str | os.PathLike[str] | None = None,
    endpoint: str | None = None,
) -> ModelInfo:
    """Download (unless cached) and check ``hf:OWNER/REPO/FILE.gguf``; its ModelInfo.

    ``progress("download", bytes, total)`` during the transfer, ``progress("check", bytes,
    total)`` while it is hashed. Raises ``Cancelled`` once ``cancelled()`` is true (the
    file is then not in the cache, unless it was there before), ``ModelError`` otherwise."""
    ref = parse_hub_spec(spec)
    stop = cancelled or (lambda: False)
    pointer = cached_hub_file(ref, hub_cache)
    fetched = pointer is None
    if pointer is None:
        pointer = _fetch(ref, spec, progress, stop, hub_cache, endpoint)
    return _check(pointer, spec, fetched, progress, stop)
