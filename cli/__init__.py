"""The ``winnow`` command, where both halves meet: the core's verbs (``winnow.judge.cli``:
``complete``, ``sample``, ``label``, ``train`` …), the server's (``winnow lsp``) and the
benchmarks (``winnow bench NAME``). Neither half imports this module."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import pkgutil
import sys

from winnow.judge.base.errors import WinnowError
from winnow.judge.cli import register_all
from winnow.server import lsp_verb
from winnow.server.lsp.version import package_version

#: The packages whose modules are benchmarks (``winnow bench NAME``).
BENCH_PACKAGES = ("winnow.benchmarks.speed", "winnow.benchmarks.quality")


def bench_modules() -> dict[str, str]:
    """Every benchmark's name → its module, found without importing any of them."""
    found: dict[str, str] = {}
    for package in BENCH_PACKAGES:
        spec = importlib.util.find_spec(package)
        paths = list(spec.submodule_search_locations or []) if spec is not None else []
        for info in pkgutil.iter_modules(paths):
            if not info.name.startswith("_"):
                found.setdefault(info.name, f"{package}.{info.name}")
    return dict(sorted(found.items()))


def register_benchmarks(subparsers: argparse._SubParsersAction, load: bool) -> None:
    """``winnow bench NAME``: every module of ``BENCH_PACKAGES`` with ``add_arguments`` and
    ``run`` is one benchmark (they live outside ``judge`` because some drive the server).
    They are imported only when ``load`` (the command is ``bench``): ``winnow lsp`` starts
    without them."""
    bench = subparsers.add_parser("bench", help="run a benchmark (speed: sampling, judge, lsp…; quality: hints…)")
    sub = bench.add_subparsers(dest="bench_name", metavar="NAME")
    for name, module_name in bench_modules().items():
        if not load:
            sub.add_parser(name)
            continue
        module = importlib.import_module(module_name)
        if not (hasattr(module, "add_arguments") and hasattr(module, "run")):
            continue
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(name, help=doc[0] if doc else name, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    bench.set_defaults(func=lambda _args: bench.print_help() or 2)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winnow",
        description="Sample code candidates with a local model and rank them with a small judge.",
    )
    parser.add_argument("--version", action="version", version=f"winnow {package_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(subparsers)
    args = sys.argv[1:] if argv is None else argv
    register_benchmarks(subparsers, load="bench" in args)
    lsp_verb.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
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
