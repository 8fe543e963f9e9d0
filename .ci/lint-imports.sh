#!/usr/bin/env bash
# Check the import contracts in pyproject.toml ([tool.importlinter]).
# The editable install maps winnow.cli/judge/server/benchmarks onto the top-level folders, which
# import-linter cannot walk; a throw-away winnow/ of symlinks gives it the installed layout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/winnow"
for part in cli judge server benchmarks; do ln -s "$root/$part" "$tree/winnow/$part"; done
PYTHONPATH="$tree" .venv/bin/lint-imports "$root/pyproject.toml" "$@"
