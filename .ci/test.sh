#!/usr/bin/env bash
# The whole test suite: Python (real model, real server, real sandbox) and the VS Code extension.
set -euo pipefail
cd "$(dirname "$0")/.."
# The architecture: layer order and forbidden imports (pyproject.toml [tool.importlinter]).
bash .ci/lint-imports.sh
# Lint (pyproject.toml [tool.ruff]; ruff pinned in the [dev] extras).
.venv/bin/ruff check .
# In random order (pytest-randomly), so that a test that leans on another's leftovers fails
# here rather than on someone's machine. The seed is printed; replay a failing order with
# WINNOW_TEST_SEED=<seed> bash .ci/test.sh (or pass -p randomly --randomly-seed=<seed> to pytest).
.venv/bin/python -c "import pytest_randomly" || { echo "pytest-randomly is missing: pip install -e '.[dev]'" >&2; exit 1; }
SEED="${WINNOW_TEST_SEED:-$(.venv/bin/python -c 'import random; print(random.randrange(2**32))')}"
echo "pytest-randomly seed: $SEED (replay: WINNOW_TEST_SEED=$SEED bash .ci/test.sh)"
case " ${PYTEST_ADDOPTS:-} " in *"no:randomly"*) echo "PYTEST_ADDOPTS disables pytest-randomly; unset it" >&2; exit 1 ;; esac
.venv/bin/python -m pytest -q -p no:cacheprovider -p randomly --randomly-seed="$SEED" tests
bash client-vscode/run-tests.sh
# A real VS Code (code-server, headless Chromium) with the packaged extension and the real server.
bash client-vscode/e2e/run-e2e.sh
