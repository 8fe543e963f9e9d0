"""The code stays readable: no function in judge/, server/, cli/ or benchmarks/ over 80
lines, no module in judge/ or server/ over 600, and no module of server/ reading another
object's private attributes (a collaborator's needs are named in its Protocol instead).

(The layer contracts are import-linter's: `bash .ci/lint-imports.sh`, run by .ci/test.sh.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_LIMIT = 80
MODULE_LIMIT = 600


def sources(*parts: str) -> Iterator[tuple[Path, str]]:
    for part in parts:
        for path in sorted((ROOT / part).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def test_no_function_is_longer_than_a_screen_or_two() -> None:
    long = []
    for path, text in sources("judge", "server", "cli", "benchmarks"):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > FUNCTION_LIMIT:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "split these into named steps:\n" + "\n".join(long)


def test_no_module_holds_more_than_one_idea_s_worth_of_lines() -> None:
    big = [
        f"{path.relative_to(ROOT)} ({n} lines)"
        for path, text in sources("judge", "server")
        if (n := text.count("\n")) > MODULE_LIMIT
    ]
    assert not big, "split these along their seams:\n" + "\n".join(big)


def test_the_server_reads_no_private_attribute_of_another_object() -> None:
    found = []
    for path, text in sources("server"):
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Name) and owner.id == "argparse":  # _SubParsersAction: no public name
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not found, "name what is needed in a Protocol or a public method:\n" + "\n".join(found)
