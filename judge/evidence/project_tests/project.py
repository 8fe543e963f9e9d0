"""A project's tests, as its own configuration says to run them: where they are, which runner
(pytest or unittest), which folders they import from, and which interpreter runs them.

Found from the project's files, never by running anything: ``pyproject.toml``
(``[tool.pytest.ini_options]``), ``setup.cfg`` (``[tool:pytest]``), ``tox.ini``
(``[pytest]``), ``pytest.ini`` and ``conftest.py`` say pytest; test files that import
``pytest`` say it too; otherwise the tests are unittest's (CPython's own suite is). Test
files are ``test_*.py`` and ``*_test.py`` anywhere in the tree but virtual environments,
hidden and build folders; a ``src/`` layout puts ``src`` on the path.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Folders never searched for tests (environments, caches, builds, vendored code).
NEVER_SEARCHED = frozenset({
    "node_modules", "__pycache__", "site-packages", "dist-packages", ".venv", "venv", "env", ".tox", ".nox",
    "build", "dist", ".git", ".hg", ".mypy_cache", ".pytest_cache", ".ruff_cache", "target", ".eggs",
})  # fmt: skip
#: The most test files a project's discovery keeps (a bigger tree is searched no further).
MAX_PROJECT_TEST_FILES = 5000
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
_IMPORTS_PYTEST = re.compile(r"^\s*(import pytest|from pytest\b)", re.MULTILINE)


@dataclass(frozen=True)
class ProjectSuite:
    """How a project runs its tests."""

    root: str
    runner: str  # "pytest" | "unittest"
    test_files: tuple[str, ...]
    sys_path: tuple[str, ...] = ()  # folders the tests import from (the root, ``src``)
    python: str | None = None  # the project's interpreter (a venv in the tree); None: Winnow's
    why: str = ""  # what said which runner
    config: dict[str, str] = field(default_factory=dict, compare=False)


def _says_pytest(root: Path) -> str:
    """The file that says the project runs pytest, or ""."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r"^\[tool\.pytest\b", _head(str(pyproject), 200_000), re.MULTILINE):
        return "pyproject.toml [tool.pytest]"
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest"), ("pytest.ini", "pytest")):
        path = root / name
        if path.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if parser.has_section(section) or name == "pytest.ini":
                return f"{name} [{section}]"
    if (root / "conftest.py").is_file():
        return "conftest.py"
    return ""


def find_test_files(root: str, limit: int = MAX_PROJECT_TEST_FILES) -> Iterator[str]:
    """The test files under ``root`` (no virtual environments, hidden or build folders)."""
    found = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in NEVER_SEARCHED and not d.startswith("."))
        for name in sorted(files):
            if _TEST_FILE.match(name):
                yield os.path.join(folder, name)
                found += 1
                if found >= limit:
                    return


def _interpreter(root: Path) -> str | None:
    for env in (".venv", "venv", "env"):
        for exe in ("bin/python", "Scripts/python.exe"):
            candidate = root / env / exe
            if candidate.is_file():
                return str(candidate)
    return None


def discover(root: str, python: str | None = None) -> ProjectSuite | None:
    """The tests of the project at ``root``; None when it has none."""
    base = Path(root).resolve()
    files = tuple(find_test_files(str(base)))
    if not files:
        return None
    why = _says_pytest(base)
    if not why:
        uses = next((f for f in files[:200] if _IMPORTS_PYTEST.search(_head(f))), None)
        why = f"{os.path.relpath(uses, base)} imports pytest" if uses else ""
    runner = "pytest" if why else "unittest"
    sys_path = [str(base)] + ([str(base / "src")] if (base / "src").is_dir() else [])
    return ProjectSuite(str(base), runner, files, tuple(sys_path), python or _interpreter(base),
                       why or "no pytest configuration: unittest")  # fmt: skip


def _head(path: str, limit: int = 20_000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return ""
