"""``winnow lsp`` on stdio with the test suite's hooks installed (lsp_hooks.py): the command
the LSP tests start (lsp_support.SERVER_CMD). The product has no test hook: this builds the
server as ``winnow lsp`` does, installs the hooks from outside, then serves it."""

from __future__ import annotations

import argparse
import sys

from lsp_hooks import install

from winnow.server.app import create_server
from winnow.server.lsp_verb import serve

if __name__ == "__main__":
    server = create_server()
    install(server)
    sys.exit(serve(server, argparse.Namespace(tcp=None, log_file=None, verbose=False, allow_remote=False)))
