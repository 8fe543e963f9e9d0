"""``winnow hints check``: a file's hints with their evidence, from the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = '''def mean(values):
    """The arithmetic mean.

    >>> mean([1, 2, 3])
    2.0
    """
    return sum(values) / (len(values) - 1)


def double(x):
    """Twice x.

    >>> double(4)
    8
    """
    return 2 * x
'''


def winnow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "winnow.cli", *args], capture_output=True, text=True, timeout=300)


def test_check_names_the_failing_call_and_both_values_and_keeps_quiet_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "stats.py"
    path.write_text(MODULE)
    done = winnow("hints", "check", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}:1: warning: Winnow: `mean([1, 2, 3])` returned 3.0; the docstring says 2.0" in done.stdout
    assert "2 functions judged" in done.stdout and "1 hints, 1 silent" in done.stdout
    report = json.loads(winnow("hints", "check", str(path), "--json").stdout)
    rows = {r["function"]: r for r in report["functions"]}
    assert rows["double"]["hint"] is None and rows["double"]["examples_passed"] == 1
    assert rows["mean"]["hint"]["kind"] == "example:value"


@pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac) on PATH")
def test_check_runs_a_java_files_javadoc_examples(tmp_path: Path) -> None:
    path = tmp_path / "Stats.java"
    path.write_text(
        "public class Stats {\n    /** Twice x: {@code twice(4) == 8} */\n    static int twice(int x) {\n"
        "        return x + 2;\n    }\n\n    /** Thrice x: {@code thrice(2) == 6} */\n"
        "    static int thrice(int x) { return 3 * x; }\n}\n"
    )
    done = winnow("hints", "check", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}:3: warning: Winnow: `twice(4)` returned 6; the Javadoc says 8" in done.stdout
    assert "2 functions judged" in done.stdout and "1 hints, 1 silent" in done.stdout
