#!/usr/bin/env bash
# The whole test suite: Python (real model, real server, real sandbox) and the VS Code extension.
set -euo pipefail
cd "$(dirname "$0")/.."
# The architecture: layer order and forbidden imports (pyproject.toml [tool.importlinter]).
bash .ci/lint-imports.sh
.venv/bin/python -m pytest -q -p no:cacheprovider tests
bash client-vscode/run-tests.sh
# A real VS Code (code-server, headless Chromium) with the packaged extension and the real server.
bash client-vscode/e2e/run-e2e.sh
