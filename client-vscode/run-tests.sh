#!/usr/bin/env bash
# Lint, build, test and package the VS Code extension from the lockfile.
# The real-server handshake test needs ../.venv (or $WINNOW_PYTHON) with Winnow
# installed; WINNOW_SKIP_SERVER_TEST=1 skips it.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run lint
npm run build
npm test
npm run package
