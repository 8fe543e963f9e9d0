"""Append-only JSONL files that survive a kill: every pipeline stage reads and writes these.

A record is flushed (and fsynced) as soon as it is written, so a killed run loses at
most the record it was writing. A half-written last line is ignored on read and
truncated away before appending, so a resumed run duplicates nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from winnow.judge.base.errors import WinnowError


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file; a torn last line (from a kill) is skipped."""
    p = Path(path)
    if not p.exists():
        raise WinnowError(f"{p}: no such file")
    with p.open("r", encoding="utf-8") as f:
        lines = f.readlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                return  # torn write at the end of a killed run
            raise WinnowError(f"{p}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise WinnowError(f"{p}:{number}: expected a JSON object per line")
        yield record


def _drop_torn_tail(p: Path) -> None:
    """Cut a half-written last line so that the next append starts on a fresh line."""
    if not p.exists() or p.stat().st_size == 0:
        return
    with p.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        f.truncate(cut)


class JsonlAppender:
    """Append records to a JSONL file, remembering which keys it already holds."""

    def __init__(self, path: str | os.PathLike[str], key: Callable[[Mapping[str, Any]], Hashable]) -> None:
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(self.path)
        self.done: set[Hashable] = set()
        if self.path.exists():
            self.done = {key(r) for r in read_jsonl(self.path)}
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def __contains__(self, record_or_key: Any) -> bool:
        k = self.key(record_or_key) if isinstance(record_or_key, dict) else record_or_key
        return k in self.done

    def write(self, record: Mapping[str, Any]) -> bool:
        """Write a record unless its key is already present; returns whether it was written."""
        k = self.key(record)
        if k in self.done:
            return False
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done.add(k)
        return True

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write one JSON document atomically (temp file + rename), indented for people;
    values JSON has no type for (paths, dates) are written as strings."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write records to a new file atomically (temp file + rename); returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, p)
    return n


def candidate_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """The identity of a candidate/label/score record."""
    return (str(record["problem_id"]), str(record["candidate_id"]))
