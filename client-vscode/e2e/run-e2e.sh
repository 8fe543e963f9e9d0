#!/usr/bin/env bash
# Real-VS-Code end-to-end test: the packaged .vsix in code-server (VS Code 1.100
# from npm), driven by Debian's Chromium through playwright-core, against the
# real `winnow lsp`. Waits for the "Winnow" status bar item to reach the ready
# state, types in a Python file, waits for Winnow's ghost text, accepts it with
# Tab, saves, and checks the file on disk; then opens a Java file, takes
# "Implement with Winnow" from the lightbulb on a stub method, saves, and checks
# that the file still parses (tree-sitter, through $WINNOW_PYTHON). Then, in a
# second code-server with workspace trust on and the folder not trusted
# (Restricted Mode), checks that a module whose docstring example fails gets no
# hint, and that trusting the folder through the UI brings the hint from the
# same server process (no restart). Then, in a third code-server with default
# settings, on a copy of the standard library's statistics.py with two examples
# made wrong: the lightbulb's quick fixes (ignore this hint, update the
# docstring) answer the hints; the ghost text shows and Ctrl+Space lists no
# Winnow item; Choose Model… downloads a model from a local Hugging Face Hub
# stand-in (HF_ENDPOINT) under a progress notification (skipped while the server
# has no winnow.models.list).
#
# Needs: Node 20 with its headers (/usr/include/node, for the native modules),
# g++/make/python3 (node-gyp), Debian's chromium, ripgrep and libkrb5-dev (run
# as root, the script apt-get installs whichever is missing), and a Python with
# Winnow installed ($WINNOW_PYTHON, else ../.venv/bin/python).
#
# code-server and playwright-core are installed once into
# $WINNOW_E2E_CACHE (default ~/.cache/winnow-e2e); later runs reuse them.
# Nothing is downloaded from GitHub: @vscode/ripgrep's download is replaced by
# Debian's /usr/bin/rg, and the native modules are compiled against Node's own
# headers. Screenshots and logs of a failed run go to $WINNOW_E2E_ARTIFACTS
# (default: a temporary folder, printed on failure).
set -euo pipefail

CODE_SERVER_VERSION=4.100.3   # newest code-server whose engines accept Node 20
PLAYWRIGHT_VERSION=1.65.1
here="$(cd "$(dirname "$0")" && pwd)"
ext_dir="$(dirname "$here")"
cache="${WINNOW_E2E_CACHE:-$HOME/.cache/winnow-e2e}"
tools="$cache/code-server-$CODE_SERVER_VERSION"

log() { printf '[run-e2e] %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------
need_apt=()
[ -x "${WINNOW_E2E_CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
[ -f /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "missing Debian packages: ${need_apt[*]} (install them, or run as root)"; exit 1
  fi
fi
nodedir="$(node -p "require('path').resolve(process.execPath, '../..')")"
if [ ! -f "$nodedir/include/node/node_version.h" ]; then
  log "Node's headers are not at $nodedir/include/node; node-gyp would try to download them"; exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" != 20 ]; then
  log "code-server $CODE_SERVER_VERSION needs Node 20, this is $(node --version)"; exit 1
fi

# --- code-server + playwright-core, cached ---------------------------------
if [ ! -f "$tools/.complete" ]; then
  log "installing code-server $CODE_SERVER_VERSION and playwright-core $PLAYWRIGHT_VERSION into $tools"
  start=$SECONDS
  rm -rf "$tools"
  mkdir -p "$tools"
  (
    cd "$tools"
    export npm_config_nodedir="$nodedir" npm_config_update_notifier=false
    echo '{"name": "winnow-e2e-tools", "private": true}' > package.json
    # --ignore-scripts: code-server's postinstall.sh would fetch ripgrep from
    # GitHub; its steps are done by hand below.
    npm install --ignore-scripts --no-audit --no-fund \
      "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
    # argon2 (password hashing; loaded even with --auth none): node-pre-gyp's
    # GitHub download fails, then it builds from source.
    npm rebuild argon2 >argon2-build.log 2>&1 || { cat argon2-build.log >&2; exit 1; }
    cd node_modules/code-server/lib/vscode
    npm install --omit=dev --ignore-scripts --no-audit --no-fund
    # @vscode/ripgrep's postinstall downloads rg from GitHub; it expects bin/rg.
    mkdir -p node_modules/@vscode/ripgrep/bin
    cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    # The native modules code-server uses on Linux (@parcel/watcher ships a
    # prebuilt linux-x64 package). node-gyp directly: node-pty's postinstall
    # also runs `npx node-gyp` to write compile_commands.json, which fails.
    node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
    for m in @vscode/spdlog kerberos native-watchdog node-pty @vscode/deviceid; do
      (cd "node_modules/$m" && node "$node_gyp" rebuild --nodedir="$nodedir" -j 2 >build.log 2>&1) \
        || { cat "node_modules/$m/build.log" >&2; exit 1; }
    done
    # The rest of code-server's postinstall.sh (vscode_install).
    ln -sfn node_modules node_modules.asar
    ln -sfn code-linux.sh bin/remote-cli/code-server
    ln -sfn browser-linux.sh bin/helpers/browser.sh
    (cd extensions && npm install --omit=dev --no-audit --no-fund >/dev/null)
    node -e "for (const m of ['@vscode/spdlog', 'kerberos', 'native-watchdog', 'node-pty', '@parcel/watcher', '@vscode/ripgrep']) require(require.resolve(m, { paths: [process.cwd()] }))"
  )
  node "$tools/node_modules/code-server/out/node/entry.js" --version >/dev/null
  touch "$tools/.complete"
  log "installed in $((SECONDS - start)) s"
fi

# --- the .vsix --------------------------------------------------------------
vsix="${WINNOW_E2E_VSIX:-$ext_dir/winnow-0.1.0.vsix}"
if [ -z "${WINNOW_E2E_VSIX:-}" ]; then
  if [ ! -f "$vsix" ] || [ -n "$(find "$ext_dir/src" "$ext_dir/package.json" -newer "$vsix" -print -quit)" ]; then
    log "packaging $vsix"
    (cd "$ext_dir" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build && npm run package)
  fi
fi

export WINNOW_E2E_CODE_SERVER="$tools/node_modules/code-server/out/node/entry.js"
export WINNOW_E2E_PLAYWRIGHT="$tools/node_modules/playwright-core"
export WINNOW_E2E_VSIX="$vsix"
export WINNOW_PYTHON="${WINNOW_PYTHON:-$(dirname "$ext_dir")/.venv/bin/python}"
cd "$ext_dir"
exec node --test --test-reporter=spec e2e/vscode.e2e.test.mjs
