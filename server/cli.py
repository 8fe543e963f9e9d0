"""The ``winnow`` command: the core library's verbs plus the server's own."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from winnow.judge.commands import register_all
from winnow.judge.errors import WinnowError


def package_version() -> str:
    try:
        return version("winnow-lsp")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winnow",
        description="Sample code candidates with a local model and rank them with a small judge.",
    )
    parser.add_argument("--version", action="version", version=f"winnow {package_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(subparsers)
    try:
        from winnow.server import commands as server_commands
    except ImportError as exc:  # pragma: no cover - only when the server's deps are missing
        logging.getLogger(__name__).debug("server verbs unavailable: %s", exc)
    else:
        server_commands.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except WinnowError as exc:
        print(f"winnow: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("winnow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
