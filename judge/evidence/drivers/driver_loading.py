"""The module a driver runs, imported under its own name as the editor has it.

A meta-path loader (``DocumentLoader``) serves the document's text under the module's own
dotted name, so its package imports the edited code (``nx.descendants`` bound in networkx's
``__init__`` is the function in the editor) and ``import textwrap`` in an example returns
it. A module the interpreter imported before (``posixpath``, at start-up) is run again from
the document, and every reference to its old functions and classes is rebound to the new
ones. Then ``find`` and ``is_method`` say what a qualified name is in it.

The payload's keys read here: ``name``, ``path``, ``source`` (the document's text, saved or
not), ``is_package``, ``sys_path`` and ``site_dirs`` (added with their ``.pth`` files, as the
project's interpreter would). Runs inside the sandbox, its text part of the module driver's
program and importable as ``driver_loading`` (``programs.program_text``; ``tests_driver``
uses it there), or registered as a module on its own (``project_tests_driver``): standard
library only, and no other part.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import site
import sys
import types
from collections.abc import Sequence
from typing import Any

#: A driver's payload: the JSON object its main gets.
Payload = dict[str, Any]


class DocumentLoader(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the document's text wherever its module is imported from (its package's
    ``__init__`` included), so the package is built around the code in the editor."""

    def __init__(self, name: str, path: str, source: str, is_package: bool) -> None:
        self.name, self.path, self.source, self.is_package = name, path, source, is_package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin=self.path, is_package=self.is_package)
        if spec is not None and self.is_package:
            spec.submodule_search_locations = [os.path.dirname(self.path)]
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__file__ = self.path
        exec(compile(self.source, self.path, "exec", dont_inherit=True), module.__dict__)


def add_paths(payload: Payload) -> None:
    """Make the payload's folders importable: ``sys_path`` first, then ``site_dirs`` (with
    their ``.pth`` files)."""
    for path in reversed(payload.get("sys_path", [])):
        sys.path.insert(0, path)
    for path in payload.get("site_dirs", []):
        site.addsitedir(path)


def load(payload: Payload) -> types.ModuleType:
    """The document's module, imported under its own name (or run again and rebound, when it
    was imported before we could step in)."""
    add_paths(payload)
    name, path, source = payload["name"], payload.get("path") or "<document>", payload["source"]
    loader = DocumentLoader(name, path, source, bool(payload.get("is_package")))
    original = sys.modules.get(name)  # imported before we could step in (posixpath, at start-up)
    if original is None:
        sys.meta_path.insert(0, loader)
        return importlib.import_module(name)
    spec = loader.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, leaf = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], leaf, module)
    rebind(original, module)
    return module


def rebind(original: types.ModuleType, edited: types.ModuleType) -> None:
    """Point every module's reference to ``original``'s functions and classes at the edited ones."""
    swap = {}
    for key, old in vars(original).items():
        new = vars(edited).get(key)
        if new is not None and new is not old and isinstance(old, (types.FunctionType, type)):
            swap[id(old)] = new
    if not swap:
        return
    for mod in list(sys.modules.values()):
        space = getattr(mod, "__dict__", None)
        if not isinstance(space, dict) or mod is edited:
            continue
        for key, value in list(space.items()):
            if id(value) in swap:
                space[key] = swap[id(value)]


def is_method(module: types.ModuleType, qualname: str) -> bool:
    """Whether ``qualname`` is a method whose first argument is its instance or class."""
    owner_name, _, leaf = qualname.rpartition(".")
    owner = find(module, owner_name) if owner_name else None
    if not isinstance(owner, type):
        return False
    raw = next((vars(k)[leaf] for k in owner.__mro__ if leaf in vars(k)), None)
    return raw is not None and not isinstance(raw, staticmethod)


def find(module: types.ModuleType, qualname: str) -> object:
    """What ``qualname`` (``Class.method``) names in ``module``; None when nothing."""
    obj: object = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj

