"""The sandbox side of the docstring examples: run one candidate's examples, one record each.

``example_runs`` sends this driver's program to the sandbox (``programs.program_text``:
``driver_inputs`` registered as a module, then this file), followed by one line,
``run_job(<payload>)``. The payload is a JSON object: ``marker`` (the prefix of every
record line), ``cases`` (``{"call", "expected", "kind"}`` per example, see
``examples.Example``), ``setup`` (``>>>`` statements run after the candidate loads),
``budget`` (seconds per example), ``limit`` (characters of a repr kept) and ``source`` (the
candidate). For each case, in order, one line ``<marker> {"status", "got"}`` (``CaseRecord``)
goes to the original stdout; whatever the candidate prints or writes to fds 1 and 2 does not
reach it. Each example has its own time budget (SIGALRM), and what one raises does not stop
the others.

With ``sources`` and ``agree`` (best of N, ``{"name", "task", "count", "seed", "budget",
"total", "site_dirs"}``), every candidate then also runs on the same inputs (the examples' literal calls,
nudged, or drawn from type hints: ``driver_inputs.shared_inputs``), one record per candidate
with a hash of each output (``OutputsRecord``): how MBR-exec tells which candidates agree.

It imports only the standard library (the sandbox has nothing else) and, for ``agree``,
``driver_inputs`` (registered first by ``programs.program_text``; Hypothesis from
``site_dirs`` when there). As a script, outside any sandbox::

    python example_driver.py PAYLOAD.json     # or ``-`` to read the payload from stdin
"""


import ast
import builtins
import io
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TypedDict

#: The job: the payload's JSON object, and each of its ``cases``.
Job = dict[str, Any]
#: A candidate's namespace (its globals, and the setup's).
Namespace = dict[str, object]


class _CaseRecordFields(TypedDict):
    status: str  # passed · failed · error · timeout
    got: str


class CaseRecord(_CaseRecordFields, total=False):
    """What one example did (``example_runs.ExampleRecord``); ``candidate``: the index in
    ``sources`` when several candidates run in one process."""

    candidate: int


class OutputsRecord(TypedDict):
    """One candidate on the shared inputs: a hash of each output (None: not run)."""

    candidate: int
    outputs: list[str | None]


class _Budget(BaseException):
    """An example (or loading the candidate) ran past its time budget."""


def _alarm(signum: int, frame: object) -> None:
    raise _Budget()


def write_record(fd: int, marker: str, record: CaseRecord | OutputsRecord) -> None:
    """Write one record line to ``fd`` (the original stdout)."""
    os.write(fd, (marker + " " + json.dumps(record) + "\n").encode("utf-8", "replace"))


def short_repr(value: object, limit: int) -> str:
    """``repr(value)`` cut to ``limit`` characters (with ``…``); never raises."""
    try:
        text = repr(value)
    except BaseException as exc:
        text = f"<unrepresentable: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def equal(got: object, want: object, depth: int = 0) -> bool:
    """``got == want``, floats with a tolerance, lists and tuples only with their own type."""
    if depth > 50:
        return got == want  # type: ignore[return-value]
    if isinstance(got, bool) or isinstance(want, bool):
        return bool(got == want)
    if isinstance(got, (int, float)) and isinstance(want, (int, float)) and (
        isinstance(got, float) or isinstance(want, float)
    ):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return type(got) is type(want) and len(got) == len(want) and all(
            equal(g, w, depth + 1) for g, w in zip(got, want)  # noqa: B905 - lengths checked; strict= needs 3.10
        )
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(equal(got[k], want[k], depth + 1) for k in got)
    return bool(got == want)


def expected_value(text: str, ns: Namespace) -> object:
    """The value an example expects: a literal, else the expression evaluated in ``ns``."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return eval(compile(text, "<expected>", "eval", dont_inherit=True), ns)


def normalise(text: object) -> str:
    """``text`` with its whitespace runs made single spaces (how printed output is compared)."""
    return " ".join(str(text).split())


def _silence_output() -> int:
    """Point fds 1 and 2 at /dev/null; returns a duplicate of the original stdout."""
    out = os.dup(1)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
    except OSError:
        pass
    return out


def load_candidate(source: str, setup: list[str], ns: Namespace, budget: float, limit: int) -> str | None:
    """Exec the candidate and the setup statements into ``ns``; None, or why they did not load.

    Leaves ``sys.stdout`` and ``sys.stderr`` capturing into a buffer no one reads.
    """
    signal.setitimer(signal.ITIMER_REAL, max(budget, 1.0) * 2)
    try:
        sys.stdout = sys.stderr = io.StringIO()
        exec(compile(source, "candidate.py", "exec", dont_inherit=True), ns)
        for line in setup:
            exec(compile(line, "<setup>", "exec", dont_inherit=True), ns)
        return None
    except BaseException as exc:
        return f"{type(exc).__name__}: {short_repr(str(exc), limit)}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _judged(kind: str, got: object, want: str | None, printed: io.StringIO, ns: Namespace) -> bool:
    """Whether a call that returned ``got`` (having printed into ``printed``) meets the example."""
    if kind == "raises":
        return False
    if kind == "assert":
        return bool(got)
    if kind == "text":
        return normalise(printed.getvalue() if got is None else repr(got)) == normalise(want)
    ok = equal(got, expected_value(want, ns))
    if not ok and got is None and printed.getvalue().strip():
        ok = normalise(printed.getvalue()) == normalise(want)
    return ok


def run_case(case: Job, ns: Namespace, budget: float, limit: int) -> CaseRecord:
    """Run one example within its own ``budget``: its record, ``{"status", "got"}``."""
    call, want, kind = case["call"], case["expected"], case["kind"]
    printed = io.StringIO()
    sys.stdout = printed
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        try:
            got = eval(compile(call, "<example>", "eval", dont_inherit=True), ns)
        except BaseException as exc:
            if isinstance(exc, _Budget):
                raise
            if kind == "raises" and type(exc).__name__ == want:
                record = {"status": "passed", "got": type(exc).__name__}
            else:
                record = {"status": "error", "got": f"{type(exc).__name__}: {short_repr(str(exc), limit)}"}
        else:
            ok = _judged(kind, got, want, printed, ns)
            record = {"status": "passed" if ok else "failed", "got": short_repr(got, limit)}
    except _Budget:
        record = {"status": "timeout", "got": f"over the time budget of {budget:g}s"}
    except BaseException as exc:
        record = {"status": "error", "got": f"{type(exc).__name__}: {short_repr(str(exc), limit)}"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout = sys.stderr
    return record


def run_candidate(job: Job, source: str, out: int, tag: dict[str, int]) -> Namespace | None:
    """Load one candidate in a fresh namespace and run every case on it, one record each;
    returns the namespace (None when the candidate did not load)."""
    marker, budget, limit = job["marker"], job["budget"], job["limit"]
    ns: Namespace = {"__name__": "candidate", "__builtins__": builtins}
    not_loaded = load_candidate(source, job["setup"], ns, budget, limit)
    for case in job["cases"]:
        if not_loaded is not None:
            record = {"status": "error", "got": "the candidate did not load: " + not_loaded}
        else:
            record = run_case(case, ns, budget, limit)
        write_record(out, marker, {**record, **tag})
    return ns if not_loaded is None else None


def _output(fn: Callable[..., object], call: tuple[list[object], dict[str, object]], budget: float) -> str:
    """The fingerprint of ``fn`` on one input (a deep copy: candidates must not share state)."""
    import copy

    import driver_inputs

    sys.stdout = io.StringIO()
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        args, kwargs = copy.deepcopy(call)
        return "= " + driver_inputs.fingerprint(fn(*args, **kwargs))
    except _Budget:
        return "timeout"
    except BaseException as exc:
        return "raise " + type(exc).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout = sys.stderr


def _task_function(task: str, name: str, limit: int) -> Callable[..., object] | None:
    """The task's own function (its signature carries the type hints the candidates may drop)."""
    ns: Namespace = {"__name__": "task", "__builtins__": builtins}
    if not task or load_candidate(task, [], ns, 1.0, limit) is not None:
        return None
    fn = ns.get(name)
    return fn if callable(fn) else None


def agree(job: Job, spaces: list[Namespace | None], out: int) -> None:
    """Best of N's shared inputs (MBR-exec): every candidate on the same inputs, one record
    per candidate, ``{"candidate", "outputs"}`` (a hash of each output; null after the
    candidate's own time for this ran out, or for all when it did not load)."""
    import hashlib

    spec = job["agree"]
    name, per_call, per_candidate = spec["name"], float(spec["budget"]), float(spec["total"])
    fns = [ns.get(name) if ns is not None else None for ns in spaces]
    fns = [f if callable(f) else None for f in fns]
    for path in spec.get("site_dirs", []):
        if path not in sys.path:
            sys.path.append(path)
    try:
        import driver_inputs

        calls = [case["call"] for case in job["cases"]]
        typed = _task_function(spec.get("task") or "", name, job["limit"]) or next((f for f in fns if f is not None), None)
        inputs = driver_inputs.shared_inputs(calls, name, typed, int(spec["count"]), int(spec["seed"]))
    except BaseException:
        inputs = []
    for index, fn in enumerate(fns):
        outputs: list[str | None] = []
        spent = 0.0
        for call in inputs:
            if fn is None or spent >= per_candidate:
                outputs.append(None)
                continue
            t0 = time.monotonic()
            text = _output(fn, call, min(per_call, per_candidate - spent))
            spent += time.monotonic() - t0
            outputs.append(hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:12])
        write_record(out, job["marker"], {"candidate": index, "outputs": outputs})


def run_job(payload: str) -> None:
    """Run every case of ``payload`` (JSON, see the module's docstring), one record line each;
    with ``sources`` (several candidates in one process) each record also names its
    ``candidate`` (the index in ``sources``)."""
    job = json.loads(payload)
    out = _silence_output()
    signal.signal(signal.SIGALRM, _alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    real_stdout = sys.stdout
    if "sources" in job:
        spaces = [run_candidate(job, source, out, {"candidate": index}) for index, source in enumerate(job["sources"])]
        if job.get("agree"):
            agree(job, spaces, out)
    else:
        run_candidate(job, job["source"], out, {})
    sys.stdout = real_stdout
    os.dup2(out, 1)


def _read_payload(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    with open(arg, encoding="utf-8") as f:
        return f.read()


if __name__ == "__main__" and len(sys.argv) > 1:  # in the sandbox (no arguments) the appended run_job(...) runs
    run_job(_read_payload(sys.argv[1]))
