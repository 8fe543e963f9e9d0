"""Shared fixtures: the real embedded model, loaded once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/gguf_factory.py


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the model manifest and converted models of tests out of the user's cache."""
    os.environ.setdefault("WINNOW_CACHE", str(tmp_path_factory.mktemp("winnow-cache")))


@pytest.fixture(scope="session")
def default_model_path() -> str:
    from winnow.judge.llm.model_files import resolve

    return resolve("default").path


@pytest.fixture(scope="session")
def model(default_model_path: str):  # type: ignore[no-untyped-def]
    from winnow.judge.llm.model import Model

    return Model(default_model_path)


@pytest.fixture(scope="session")
def engine(model):  # type: ignore[no-untyped-def]
    from winnow.judge.llm.engine import Engine

    eng = Engine(model, n_ctx=2048, n_seq_max=9)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print pytest-randomly's seed even under -q (its header line is hidden there), so a
    failing order can be replayed with ``-p randomly --randomly-seed=SEED``."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed", None)
        terminalreporter.write_line(f"test order: pytest-randomly seed {seed} (replay: -p randomly --randomly-seed={seed})")
