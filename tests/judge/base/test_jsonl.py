"""Resumable JSONL (judge.base.jsonl): appends keyed records, survives a torn tail."""

from __future__ import annotations

import json
from pathlib import Path

from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl


def test_jsonl_append_resume_and_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path, candidate_key) as out:
        assert out.write({"problem_id": "p", "candidate_id": "1", "x": 1})
        assert not out.write({"problem_id": "p", "candidate_id": "1", "x": 2})
    with path.open("a") as f:
        f.write('{"problem_id": "p", "candidate_id": "2", "x"')  # a kill mid-write
    assert [r["candidate_id"] for r in read_jsonl(path)] == ["1"]
    with JsonlAppender(path, candidate_key) as out:
        assert ("p", "1") in out and ("p", "2") not in out
        assert out.write({"problem_id": "p", "candidate_id": "2", "x": 3})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["candidate_id"] for r in records] == ["1", "2"]
