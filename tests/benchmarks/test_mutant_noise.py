"""The label-noise estimate of self-supervised variants (benchmarks/mutant_noise.py)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import winnow

from winnow.benchmarks.quality.mutant_noise import noise

RECORDS = [
    {"origin": "canonical", "status": "passed"},
    {"origin": "rewrite", "status": "passed"},
    {"origin": "rewrite", "status": "failed"},  # a rewrite that broke behaviour: noise
    {"origin": "mutant", "bug_class": "operator", "status": "failed"},
    {"origin": "mutant", "bug_class": "operator", "status": "passed"},  # kept behaviour: noise
    {"origin": "mutant", "bug_class": "constant", "status": "timeout"},
    {"origin": "sampled", "status": "passed"},  # not a self-supervised label: not counted
]


def test_disagreements_with_the_tests_are_counted_per_origin_and_bug_class() -> None:
    table = noise(RECORDS)
    assert table["rewrite"] == {"labelled": 2, "wrong": 1, "rate": 0.5}
    assert table["mutant"] == {"labelled": 3, "wrong": 1, "rate": 0.3333}
    assert table["mutant:operator"]["wrong"] == 1 and table["mutant:constant"]["wrong"] == 0
    assert table["canonical"]["wrong"] == 0 and "sampled" not in table


def test_the_bench_reads_label_files(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    proc = winnow("bench", "mutant_noise", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mutant"]["labelled"] == 3
