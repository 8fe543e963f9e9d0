"""The sandbox side of a hint's evidence: load a module as the editor has it, run the
docstring sessions of its functions with doctest, and call each function on inputs nobody
wrote down.

``module_evidence`` sends this driver's program (``programs.program_text``: its parts, then
this file) to the sandbox, followed by one ``run_module(<payload>)`` line. The payload (a
JSON object) names the module (``name``, ``path``, ``source``: the document's text, saved or
not), the folders to import from (``sys_path``; ``site_dirs`` are added with their ``.pth``
files, as the project's interpreter would), the functions to look at (``targets``: qualified
name and the line of their ``def``), and the budgets. One line ``<marker> {...}`` goes to the
original stdout first for the module (``ModuleRecord``), then per function
(``FunctionRecord``); what the code prints does not.

The work is split along its parts: ``driver_loading`` imports the module under its own
name (a meta-path loader; a module imported before is run again and rebound),
``driver_sessions`` runs the docstring sessions (outputs compared by ``driver_values``,
calls recorded by ``driver_recorder``), and this file calls each function on the inputs
``driver_inputs`` gives, checking return values with ``driver_annotations``.

Standard library only (the sandbox has nothing else unless ``site_dirs`` brings it).
As a script: ``python module_driver.py PAYLOAD.json`` (``-``: the payload on stdin), with
its parts beside it; without an argument it does nothing by itself.
"""

import ast
import copy
import inspect
import io
import json
import os
import random
import signal
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from typing import TypedDict

try:  # in the sandbox, programs.program_text put them there; as a script, they lie beside this file
    import driver_annotations
    import driver_inputs
    import driver_loading
    import driver_recorder
    import driver_sessions
except ImportError:  # imported as part of the package (tests)
    from winnow.judge.evidence.drivers import (
        driver_annotations,
        driver_inputs,
        driver_loading,
        driver_recorder,
        driver_sessions,
    )

Call = driver_inputs.Call
Payload = driver_loading.Payload
OverBudget = driver_sessions.OverBudget
short = driver_sessions.short

PROBE_TIMEOUT_S = 0.5
MAX_FOUND = 8  # probe failures reported per function


class ProbeRecord(TypedDict):
    """A probe input that raised, hung or returned off its annotation
    (``module_evidence.ProbeFailure``)."""

    call: str
    exception: str
    kind: str
    origin: str
    message: str
    own_frame: bool
    on_purpose: bool


class _FunctionRecordFields(TypedDict):
    qualname: str
    examples: list[driver_sessions.SessionRecord]
    probes: list[ProbeRecord]
    inputs: int


class FunctionRecord(_FunctionRecordFields, total=False):
    """What one target did (``module_evidence.FunctionEvidence``): ``missing`` when the
    module does not define it, ``error`` when it broke the driver itself."""

    missing: bool
    error: str


class ModuleRecord(TypedDict, total=False):
    """The first record: ``module`` "loaded" or "failed" (then its ``error`` and ``trace``)."""

    module: str
    error: str
    trace: str


# --- inputs nobody wrote down --------------------------------------------------------------------


def printable(value: object) -> str:
    """``repr(value)``, cut short; a repr that raises is still an answer."""
    try:
        return short(repr(value))
    except BaseException as exc:
        return f"<unrepresentable: {type(exc).__name__}>"


def call_text(name: str, args: list[object], kwargs: dict[str, object], method: bool = False) -> str:
    """``f(1, k=2)``; a method's call shows its instance's class (``<Box>.first(0)``)."""
    shown = args[1:] if method else args
    parts = [printable(a) for a in shown] + [f"{k}={printable(v)}" for k, v in kwargs.items()]
    if method and args:
        owner = args[0] if isinstance(args[0], type) else type(args[0])
        name = f"<{owner.__name__}>.{name}"
    return short(f"{name}({', '.join(parts)})")


def own_frame(tb: types.TracebackType | None, code: types.CodeType | None) -> bool:
    """Whether the exception was raised in the function's own body (not in a callee)."""
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and code is not None and last.tb_frame.f_code is code


def type_name(value: object) -> str:
    """The class of ``value`` as a message names it (``int``, ``decimal.Decimal``)."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def hint_text(hint: object) -> str:
    """An annotation as a message shows it (``int``, ``list[str]``)."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def run_probes(
    fn: Callable[..., object], name: str, doc: str, node: ast.AST | None, count: int, seed: int,
    recorded: Sequence[Call] = (), method: bool = False, sites: Sequence[Call] = (), typed_count: int = 0,
) -> tuple[int, list[ProbeRecord]]:
    """Call ``fn`` (the plain function: a method's ``self`` is its first argument) on the
    probe inputs; (inputs tried, what went wrong: raised, hung, returned off its annotation)."""
    if count <= 0 or not callable(fn) or isinstance(fn, type):
        return 0, []
    typed_count = 0 if method or driver_inputs.is_private(name) else min(typed_count, driver_inputs.MAX_TYPED)
    typed = driver_inputs.typed_calls(fn, typed_count, seed)
    inputs = driver_inputs.probe_inputs(doc, name, count, random.Random(seed), recorded, method, sites, typed)
    allowed = driver_inputs.on_purpose(doc, node)
    code = getattr(fn, "__code__", None)
    returns = driver_annotations.return_hint(fn)
    found: list[ProbeRecord] = []
    for origin, (args, kwargs) in inputs:
        try:
            args, kwargs = copy.deepcopy((args, kwargs))  # a call that mutates its input leaves the next one alone
        except Exception:
            continue
        call = call_text(name, args, kwargs, method)
        sink = io.StringIO()
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        signal.setitimer(signal.ITIMER_REAL, PROBE_TIMEOUT_S)
        try:
            value = fn(*args, **kwargs)
            signal.setitimer(signal.ITIMER_REAL, 0)
            if returns is not inspect.Parameter.empty and driver_annotations.violates(value, returns) is True:
                found.append({
                    "call": call, "exception": "", "kind": "annotation", "origin": origin, "own_frame": True,
                    "on_purpose": False,
                    "message": f"returned {printable(value)} ({type_name(value)}); annotated -> {hint_text(returns)}",
                })  # fmt: skip
        except OverBudget:
            if origin != "typed":  # a drawn input can be large enough to be slow by right
                found.append({"call": call, "exception": "timeout", "kind": "timeout", "origin": origin,
                              "own_frame": True, "message": f"ran past {PROBE_TIMEOUT_S} s", "on_purpose": False})
        except Exception as exc:
            kind = type(exc).__name__
            found.append({
                "call": call,
                "exception": kind,
                "kind": "raised",
                "origin": origin,
                "message": short(str(exc)),
                "own_frame": own_frame(exc.__traceback__, code),
                "on_purpose": kind in allowed or any(b.__name__ in allowed for b in type(exc).__mro__),
            })
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_out, real_err
    return len(inputs), found[:MAX_FOUND]


# --- the whole run -------------------------------------------------------------------------------------


def nodes_by_line(source: str) -> dict[int, ast.AST]:
    """The document's function definitions by the line of their ``def``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {n.lineno: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def run_module(payload: Payload) -> None:
    """Load the payload's module, then look at each target: one record line each (see the
    module's docstring), to the original stdout only."""
    marker = payload["marker"]
    out_fd = os.dup(1)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGALRM, driver_sessions.on_alarm)

    def emit(record: FunctionRecord | ModuleRecord) -> None:
        os.write(out_fd, (marker + " " + json.dumps(record, default=str) + "\n").encode("utf-8", "replace"))

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = io.StringIO()
    try:
        signal.setitimer(signal.ITIMER_REAL, float(payload.get("load_timeout_s", 20.0)))
        module = driver_loading.load(payload)
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        why = "ran past its time budget" if isinstance(exc, OverBudget) else f"{type(exc).__name__}: {exc}"
        emit({"module": "failed", "error": short(why, 400), "trace": short(traceback.format_exc(), 1200)})
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    emit({"module": "loaded"})
    defs = nodes_by_line(payload["source"])
    for target in payload.get("targets", []):
        emit(target_record(module, payload, target["qualname"], defs.get(int(target.get("line", 0)))))


def target_record(module: types.ModuleType, payload: Payload, qualname: str, node: ast.AST | None) -> FunctionRecord:
    """What one target did: its session's records and the probe inputs that went wrong."""
    obj = driver_loading.find(module, qualname)
    record: FunctionRecord = {"qualname": qualname, "examples": [], "probes": [], "inputs": 0}
    if obj is None:
        record["missing"] = True
        return record
    try:
        fn = driver_recorder.unwrapped(obj)
        method = driver_loading.is_method(module, qualname)
        recorder = driver_recorder.CallRecorder(fn)
        if payload.get("sessions", True):
            budget = float(payload.get("example_timeout_s", 2.0))
            record["examples"] = driver_sessions.stable_session(module, qualname, obj, budget, recorder)
        doc = getattr(obj, "__doc__", None) or ""
        calls = payload.get("calls") or {}
        sites = [] if method else driver_inputs.call_sites(list(calls.get(qualname, [])))
        tried, found = run_probes(
            fn, qualname.rsplit(".", 1)[-1], doc, node, int(payload.get("probes", 0)),
            int(payload.get("seed", 0)), recorder.calls, method, sites, int(payload.get("typed", 0)),
        )  # fmt: skip
        record["inputs"], record["probes"] = tried, found
    except BaseException as exc:  # the function broke the driver itself: say so, go on
        signal.setitimer(signal.ITIMER_REAL, 0)
        record["error"] = short(f"{type(exc).__name__}: {exc}")
    return record


if __name__ == "__main__" and len(sys.argv) > 1:  # in the sandbox the appended run_module(...) line runs it
    data = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8").read()
    run_module(json.loads(data))
