"""What users read is true: the README names every command the ``winnow`` parser has (and no
other), every benchmark ``winnow bench`` finds, and every ranking strategy; the settings are
checked the same way by tests/server/lsp/test_settings_schema.py."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from winnow.cli import bench_modules, build_parser
from winnow.judge.scoring.ranking import STRATEGIES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:  # argparse keeps its subparsers here
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def test_the_readme_names_every_command() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| `winnow ")]
    named = {word for row in rows for word in re.findall(r"(?:`winnow |\\\| )([a-z_]+)", row)}
    commands = _subcommands(build_parser(["--help"]))
    assert commands - named == set(), "commands the README does not name"


def test_the_readme_names_every_benchmark() -> None:
    row = " ".join(line for line in README.splitlines() if line.startswith("| `winnow bench "))
    named = set(re.findall(r"(?:bench |\\\| )([a-z_]+)", row))
    assert named == set(bench_modules())


def test_the_readme_names_every_ranking_strategy() -> None:
    m = re.search(r"--strategy ([a-z+|]+)", README)
    assert m is not None and m.group(1).split("|") == list(STRATEGIES)
