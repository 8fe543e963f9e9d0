"""Command-line verbs of the core library.

Each module in this package exposes ``register(subparsers)`` which adds one or more
sub-commands; every sub-command sets ``func(args) -> int`` via ``set_defaults``.
``winnow.cli`` gathers these verbs together with the server's own (``lsp``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(subparsers: argparse._SubParsersAction) -> None:
    """Import every verb module in this package and let it add its sub-commands."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
