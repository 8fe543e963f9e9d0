"""``winnow lsp`` on stdio with the test suite's observer installed (lsp_hooks.py):
the command the LSP tests start (lsp_support.SERVER_CMD)."""

from __future__ import annotations

import argparse
import sys

from lsp_hooks import install

from winnow.server.lsp_verb import run_lsp

if __name__ == "__main__":
    sys.exit(run_lsp(argparse.Namespace(tcp=None, log_file=None, verbose=False, allow_remote=False), prepare=install))
