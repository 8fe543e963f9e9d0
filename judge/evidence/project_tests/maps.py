"""A module's coverage map, built once and kept: in the user's cache folder, keyed by the
module's file, valid while the module on disk and the test files mapped are unchanged.

``module_map`` chooses the test files for a module (``selection``), runs them under
coverage in the sandbox (``runs.map_module``) and keeps the result; a server restart, or a
second editor on the same project, reads it back instead of running the tests again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence

from winnow.judge.base.jsonl import write_json
from winnow.judge.base.paths import cache_dir
from winnow.judge.evidence.module_evidence import module_identity
from winnow.judge.evidence.project_tests.project import ProjectSuite
from winnow.judge.evidence.project_tests.runs import ModuleTests, map_module
from winnow.judge.evidence.project_tests.selection import files_for_module
from winnow.judge.sites import FunctionSite

log = logging.getLogger(__name__)

#: Bumped when what a map holds changes: older maps are built again.
MAP_FORMAT = "winnow-test-map/1"


def map_fingerprint(module_text: str, files: Sequence[str]) -> str:
    """What a map depends on: the module's text and each test file's size and time."""
    digest = hashlib.sha256((MAP_FORMAT + module_text).encode("utf-8", "surrogatepass"))
    for path in sorted(files):
        try:
            st = os.stat(path)
            digest.update(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"{path}:missing".encode())
    return digest.hexdigest()[:24]


def _cache_file(module_path: str) -> str:
    key = hashlib.sha256(os.path.realpath(module_path).encode()).hexdigest()[:24]
    return str(cache_dir("test-maps") / f"{key}.json")


def cached_map(module_path: str, print_: str) -> ModuleTests | None:
    """The kept map of ``module_path`` if it is still valid (same fingerprint)."""
    try:
        with open(_cache_file(module_path), encoding="utf-8") as f:
            data = json.load(f)
        found = ModuleTests.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if found.fingerprint == print_ else None


def module_map(project: ProjectSuite, module_path: str, text: str, sites: Sequence[FunctionSite],
               timeout_s: float = 120.0) -> ModuleTests:  # fmt: skip
    """The tests of ``project`` that reach each function of the module at ``module_path``
    (``text``: as it is on disk), from the cache or built now."""
    files = files_for_module(project.test_files, module_identity(module_path).name, [s.name for s in sites])
    print_ = map_fingerprint(text, files)
    found = cached_map(module_path, print_)
    if found is not None:
        return found
    if not files:
        return ModuleTests(module_path, {}, {}, [], fingerprint=print_, error="no test file imports it or names its functions")
    built = map_module(project, module_path, sites, files, timeout_s)
    built.fingerprint = print_
    if not built.error:
        try:
            write_json(_cache_file(module_path), built.to_dict())
        except OSError as exc:
            log.info("test map of %s not kept: %s", module_path, exc)
    return built
