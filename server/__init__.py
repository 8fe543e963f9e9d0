"""Winnow's language server: adapts ``winnow.judge`` to LSP with pygls and lsprotocol."""
