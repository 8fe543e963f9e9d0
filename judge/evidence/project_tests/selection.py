"""Which test files may reach a module, found without running anything: the ones that import
it, and the ones that name its functions.

A coverage map (``test_map``) says exactly which tests run a function, but it is built by
running test files, and a suite can be large (CPython's has hundreds of files, networkx's
hundreds more): the files to map for a module are chosen here first. A file that imports
the module (``import heapq``, ``from heapq import merge``, ``from pkg import mod``, or
CPython's ``import_fresh_module('heapq', ...)``) is taken first; then files that name the
module's own functions (``nx.topological_sort`` in networkx's tests, which import
``networkx`` only), most names first. Before any map exists, the tests that call a function
by name (``by_name``) stand in for it: a new function, or a stub to implement, has no
coverage yet.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from winnow.judge.evidence.drivers.project_tests_driver import dotted_test_module

#: The most test files mapped for one module.
MAX_FILES_PER_MODULE = 12
#: Names too common to say a test file is about a module's function of that name.
COMMON_NAMES = frozenset({"main", "run", "get", "set", "update", "copy", "add", "test", "setup", "close", "open",
                          "read", "write", "format", "parse", "load", "dump", "sort", "join", "split", "items"})  # fmt: skip


@dataclass(frozen=True)
class FileFacts:
    """What a test file imports and which names it uses (read once per file version)."""

    imports: frozenset[str]  # dotted module names, and ``pkg.mod`` for ``from pkg import mod``
    names: frozenset[str]  # every identifier and attribute name in it
    test_functions: tuple[tuple[str, int, frozenset[str]], ...]  # (test qualname, line, names it calls)


@functools.lru_cache(maxsize=4096)
def _facts(path: str, mtime: float) -> FileFacts | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old test files' invalid escapes are not ours to report
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    imports: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module)
            imports.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Call) and _fresh_import(node):
            imports.add(str(node.args[0].value))  # type: ignore[attr-defined]
    return FileFacts(frozenset(imports), frozenset(names), tuple(_tests_in(tree)))


def _fresh_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_fresh_module", "import_module") and bool(call.args) and isinstance(
        call.args[0], ast.Constant) and isinstance(call.args[0].value, str)  # fmt: skip


def _tests_in(tree: ast.Module) -> list[tuple[str, int, frozenset[str]]]:
    """Test functions and methods (``test*``) with the names each calls."""
    out: list[tuple[str, int, frozenset[str]]] = []

    def called(fn: ast.AST) -> frozenset[str]:
        found: set[str] = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                f = node.func
                found.add(f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else "")
            elif isinstance(node, ast.Attribute):
                found.add(node.attr)  # ``self.module.heappop`` passed around, not only called
        return frozenset(found - {""})

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            out.append((node.name, node.lineno, called(node)))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test"):
                    out.append((f"{node.name}.{item.name}", item.lineno, called(item)))
    return out


def facts(path: str) -> FileFacts | None:
    try:
        return _facts(path, os.stat(path).st_mtime)
    except OSError:
        return None


def _imports_module(f: FileFacts, module: str) -> bool:
    parent, _, leaf = module.rpartition(".")
    return module in f.imports or (bool(parent) and f"{parent}.{leaf}" in f.imports) or any(
        i.startswith(module + ".") for i in f.imports)  # fmt: skip


def files_for_module(test_files: Iterable[str], module: str, function_names: Iterable[str],
                     limit: int = MAX_FILES_PER_MODULE) -> list[str]:  # fmt: skip
    """The test files most likely to run ``module`` (its dotted name) and its functions."""
    names = {n for n in function_names if n not in COMMON_NAMES and not n.startswith("_") and len(n) > 3}
    scored: list[tuple[int, int, str]] = []
    for path in test_files:
        f = facts(path)
        if f is None:
            continue
        imports = _imports_module(f, module)
        mentioned = len(names & f.names)
        if imports or mentioned:
            scored.append((0 if imports else 1, -mentioned, path))
    return [p for _, _, p in sorted(scored)[:limit]]


def case_id(runner: str, root: str, path: str, qualname: str) -> str:
    """A test's id as its runner names it: pytest's node id from the root
    (``tests/test_a.py::TestA::test_b``), unittest's dotted one (``tests.test_a.TestA.test_b``)."""
    if runner == "pytest":
        return os.path.relpath(path, root) + "::" + qualname.replace(".", "::")
    return dotted_test_module(path)[0] + "." + qualname


def by_name(test_files: Sequence[str], function: str) -> list[tuple[str, str, int]]:
    """The tests that call ``function`` by name: (test file, test qualname, line)."""
    if not re.fullmatch(r"[A-Za-z_]\w*", function):
        return []
    out = []
    for path in test_files:
        f = facts(path)
        if f is None or function not in f.names:
            continue
        out.extend((path, qualname, line) for qualname, line, calls in f.test_functions if function in calls)
    return out
