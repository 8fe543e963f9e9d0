"""The ``winnow`` command, where both halves meet: the core's verbs (``winnow.judge.cli``:
``complete``, ``sample``, ``label``, ``train`` …), the server's (``winnow lsp``) and the
benchmarks (``winnow bench NAME``). Neither half imports this module."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from winnow.judge.base.errors import WinnowError
from winnow.judge.cli import register_all
from winnow.server import lsp_verb
from winnow.server.lsp.version import package_version


def register_benchmarks(subparsers: argparse._SubParsersAction) -> None:
    """``winnow bench NAME``: every module in ``winnow.benchmarks`` with ``add_arguments``
    and ``run`` is one benchmark (they live outside ``judge`` because one drives the server)."""
    import winnow.benchmarks as benchmarks

    bench = subparsers.add_parser("bench", help="run a benchmark (sampling, judge, lsp)")
    sub = bench.add_subparsers(dest="bench_name", metavar="NAME")
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"winnow.benchmarks.{info.name}")
        if not (hasattr(module, "add_arguments") and hasattr(module, "run")):
            continue
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(info.name, help=doc[0] if doc else info.name, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    bench.set_defaults(func=lambda _args: bench.print_help() or 2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winnow",
        description="Sample code candidates with a local model and rank them with a small judge.",
    )
    parser.add_argument("--version", action="version", version=f"winnow {package_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(subparsers)
    register_benchmarks(subparsers)
    lsp_verb.register(subparsers)
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
