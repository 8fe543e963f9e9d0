"""Real bug fixes between two releases: a changed function becomes a (fixed, buggy) pair;
docstring-only, warning-only and large changes do not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from winnow.judge.dataset.release_fixes import changed_lines, fix_pairs, looks_like_fix, records_for

OLD = '''def clamp(x, lo, hi):
    """Limit x to [lo, hi]."""
    if x < lo:
        return lo
    return min(x, hi - 1)


def shout(s):
    """Upper case."""
    return s.upper()


def legacy(x):
    y = x + 1
    return y * 2
'''
NEW = (
    OLD.replace("min(x, hi - 1)", "min(x, hi)")
    .replace('"""Upper case."""', '"""Upper case, loudly."""')
    .replace("    y = x + 1\n", "    warnings.warn('legacy is deprecated', DeprecationWarning)\n    y = x + 1\n")
)


def trees(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old" / "pkg", tmp_path / "new" / "pkg"
    for root, text in ((old, OLD), (new, NEW)):
        root.mkdir(parents=True)
        (root / "mod.py").write_text(text)
    return old.parent, new.parent


def test_only_a_small_change_of_code_is_a_fix(tmp_path: Path) -> None:
    old, new = trees(tmp_path)
    pairs = list(fix_pairs(old, new))
    assert [(p.module, p.qualname, p.changed_lines) for p in pairs] == [("pkg/mod.py", "clamp", 2)]
    problem, labels = records_for(pairs[0])
    assert problem["prompt"].startswith("def clamp(x, lo, hi):") and problem["reference"] == pairs[0].after
    assert [(r["candidate_id"], r["status"], r["label_source"]) for r in labels] == [
        ("after", "passed", "release-fix"), ("before", "failed", "release-fix"),
    ]  # fmt: skip
    assert "hi - 1" in labels[1]["code"] and "hi - 1" not in labels[0]["code"]


def test_the_filters() -> None:
    assert changed_lines("a\nb\n", "a\nc\n") == 2
    assert not looks_like_fix("x = 1\n", "warnings.warn('old', DeprecationWarning)\nx = 1\n")
    assert looks_like_fix("return a\n", "return b\n")


def test_the_fixes_verb_writes_problems_and_labels(tmp_path: Path) -> None:
    old, new = trees(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "fixes", str(old), str(new), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len((out / "problems.jsonl").read_text().splitlines()) == 1
    assert [json.loads(x)["status"] for x in (out / "labels.jsonl").read_text().splitlines()] == ["passed", "failed"]
    excluded = tmp_path / "excluded"
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "fixes", str(old), str(new), "--out", str(excluded),
                           "--exclude", "pkg/"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and (excluded / "problems.jsonl").read_text() == ""
