"""``winnow hints check``: a file's hints with their evidence, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
