"""The code stays readable: no function in judge/, server/ or benchmarks/ over 80 lines.

(The layer contracts are import-linter's: `bash .ci/lint-imports.sh`, run by .ci/test.sh.)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 80


def test_no_function_is_longer_than_a_screen_or_two() -> None:
    long = []
    for part in ("judge", "server", "benchmarks"):
        for path in sorted((ROOT / part).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = (node.end_lineno or node.lineno) - node.lineno + 1
                    if n > LIMIT:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "split these into named steps:\n" + "\n".join(long)
