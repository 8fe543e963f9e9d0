"""Evidence about real functions: their docstring sessions run as doctest would, and calls
on inputs nobody wrote down, in one sandboxed process per module.

A hint is a claim about a user's code, so it rests on something that happened: an example
whose output differs from what the docstring says, an exception on an input next to the
examples' own, a call that hangs. ``collect`` runs the module as the editor has it (saved
or not) in the sandbox, importing from the project's folders and installed packages
read-only (``drivers.module_driver`` and its parts, sent as one program), and returns what
each function did, read from the driver's records into typed results (``ExampleCheck``,
``ProbeFailure``, ``FunctionEvidence``). A module that cannot load there (a missing import,
no interpreter) gives no evidence, never a failure.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import site
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from winnow.judge.evidence.programs import program_text
from winnow.judge.sandbox.results import marked_records
from winnow.judge.sandbox.run import SandboxLimits, run_python

if TYPE_CHECKING:
    from winnow.judge.evidence.drivers.module_driver import FunctionRecord, ModuleRecord

#: Inputs drawn from type hints per function (Hypothesis, in the sandbox), by default.
TYPED_INPUTS = 12
MODULE_TIMEOUT_S = 60.0
#: Example outcomes that say nothing about the function.
NO_EVIDENCE = frozenset({"passed", "unstable", "unparsed", "session-error"})


@dataclass(frozen=True)
class Target:
    """A function to look at: ``qualname`` (``Class.method``) and the 1-based line of its ``def``."""

    qualname: str
    line: int


@dataclass(frozen=True)
class ExampleCheck:
    """One ``>>>`` example of a docstring session, as doctest ran it.

    ``outcome``: passed · value (expected and printed are literals with different values, or
    the same text with different numbers) · text (the printed output differs) · output
    (something printed where the docstring shows nothing) · raised (the code the example called raised what the
    session did not expect) · no-raise (the session expected an exception) · timeout ·
    session-error (the example's own line named something the session never defined or
    imported: no evidence) · unstable (failed differently on a second run: no evidence) · unparsed.
    ``line`` is 0-based within the docstring."""

    source: str
    want: str
    got: str
    line: int
    outcome: str
    exception: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome not in NO_EVIDENCE


@dataclass(frozen=True)
class ProbeFailure:
    """A call on an input nobody wrote down that raised, hung, or returned a value its
    own return annotation rules out."""

    call: str
    exception: str  # the exception's class name, "timeout", or "" (kind "annotation")
    message: str
    own_frame: bool  # raised in the function's own body, not in a callee
    on_purpose: bool  # the function raises it itself, or its docstring names it
    kind: str = "raised"  # raised · timeout · annotation
    origin: str = "nudge"  # example (the session's own call) · nudge · call-site · typed


@dataclass(frozen=True)
class FunctionEvidence:
    qualname: str
    examples: tuple[ExampleCheck, ...] = ()
    probes: tuple[ProbeFailure, ...] = ()
    inputs: int = 0  # probe inputs tried
    missing: bool = False  # the module did not define it (under that name) when run
    error: str | None = None

    @property
    def examples_run(self) -> int:
        return sum(e.outcome != "unparsed" for e in self.examples)

    @property
    def examples_passed(self) -> int:
        return sum(e.outcome == "passed" for e in self.examples)

    @property
    def first_failure(self) -> ExampleCheck | None:
        return next((e for e in self.examples if e.failed), None)


@dataclass(frozen=True)
class ModuleEvidence:
    """What one sandboxed run of a module found: ``status`` loaded · failed (the module
    did not load: no evidence) · error (the run itself failed)."""

    status: str
    functions: dict[str, FunctionEvidence] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class ModuleIdentity:
    """How the module is imported: its dotted name, the folder that name is relative to,
    and whether it is a package's ``__init__``."""

    name: str
    root: str | None
    is_package: bool = False


@functools.cache
def driver_source() -> str:
    """The program every run sends to the sandbox (read once): the module driver's parts,
    then the driver that imports them (``programs.program_text``)."""
    return program_text("module_driver")


def module_identity(path: str | None) -> ModuleIdentity:
    """The dotted name of the file at ``path``: up through the folders that hold an
    ``__init__.py`` (``.../networkx/algorithms/dag.py`` → ``networkx.algorithms.dag``)."""
    if not path:
        return ModuleIdentity("__winnow_document__", None)
    file = Path(path)
    is_package = file.name == "__init__.py"
    parts = [] if is_package else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts or not all(p.isidentifier() for p in parts):
        return ModuleIdentity("__winnow_document__", str(file.parent), False)
    return ModuleIdentity(".".join(parts), str(folder), is_package)


def site_dirs() -> list[str]:
    """The installed packages of this interpreter's environment (a venv's site-packages)."""
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    return [d for d in [*dirs, *([user] if user else [])] if os.path.isdir(d)]


def collect(
    source: str,
    path: str | None,
    targets: Sequence[Target],
    *,
    probes: int = 24,
    sessions: bool = True,
    example_timeout_s: float = 2.0,
    timeout_s: float = MODULE_TIMEOUT_S,
    extra_paths: Sequence[str] = (),
    seed: int = 0,
    typed: int = TYPED_INPUTS,
    calls: Mapping[str, Sequence[str]] | None = None,
) -> ModuleEvidence:
    """Run ``source`` (the module at ``path``) in the sandbox and report on each target:
    its docstring session (unless not ``sessions``), and up to ``probes`` calls on inputs
    nobody wrote down (driver_inputs): the examples' own calls nudged, ``calls`` (qualname →
    the argument source of literal calls found in the workspace), ``typed`` drawn from type
    hints."""
    if not targets:
        return ModuleEvidence("loaded")
    ident = module_identity(path)
    sys_path = [p for p in [ident.root, *extra_paths] if p]
    marker = "WINNOW-EVIDENCE-" + secrets.token_hex(8)
    payload = {
        "marker": marker,
        "name": ident.name,
        "path": path,
        "is_package": ident.is_package,
        "source": source,
        "sys_path": sys_path,
        "site_dirs": site_dirs(),
        "targets": [{"qualname": t.qualname, "line": t.line} for t in targets],
        "probes": probes,
        "sessions": sessions,
        "example_timeout_s": example_timeout_s,
        "load_timeout_s": max(5.0, timeout_s / 3),
        "seed": seed,
        "typed": typed,
        "calls": {k: list(v) for k, v in (calls or {}).items()},
    }
    program = driver_source() + f"\nrun_module(json.loads({json.dumps(json.dumps(payload))}))\n"
    limits = SandboxLimits(memory_mb=4096, nofile=256, nproc=64, output_tail_bytes=2_000_000, tmpfs_mb=128)
    t0 = time.perf_counter()
    result = run_python(program, timeout_s=timeout_s, limits=limits, read_only=sys_path)
    seconds = time.perf_counter() - t0
    return parse_records(result.stdout_tail, marker, result.reason, seconds)


def parse_records(stdout: str, marker: str, reason: str, seconds: float) -> ModuleEvidence:
    """The driver's record lines → ModuleEvidence (a run that said nothing is an error)."""
    header: ModuleRecord | None = None
    functions: dict[str, FunctionEvidence] = {}
    records: list[ModuleRecord | FunctionRecord] = marked_records(stdout, marker)
    for record in records:
        if "module" in record:
            header = record
            continue
        functions[record["qualname"]] = FunctionEvidence(
            qualname=record["qualname"],
            examples=tuple(ExampleCheck(**_known(ExampleCheck, e)) for e in record.get("examples", [])),
            probes=tuple(ProbeFailure(**_known(ProbeFailure, p)) for p in record.get("probes", [])),
            inputs=int(record.get("inputs", 0)),
            missing=bool(record.get("missing", False)),
            error=record.get("error"),
        )
    if header is None:
        return ModuleEvidence("error", functions, reason or "the sandbox run printed nothing", seconds)
    if header["module"] == "failed":
        return ModuleEvidence("failed", {}, str(header.get("error", "")), seconds)
    return ModuleEvidence("loaded", functions, "", seconds)


def _known(cls: type, data: Mapping[str, object]) -> dict[str, object]:
    """The keys of a record that ``cls`` (a dataclass) has fields for."""
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:2]))
