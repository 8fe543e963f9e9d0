"""Winnow's version, as installed (``winnow --version``, the server's ``serverInfo``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    try:
        return version("winnow-lsp")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
