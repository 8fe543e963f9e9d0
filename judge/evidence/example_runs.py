"""Run the examples of a task's docstring against a candidate in the sandbox, judged by value.

The examples come from ``examples``; each is a call compared with its expected value by
``==`` (floats with a tolerance). The candidate never runs in this process: every example of
one candidate runs in one sandboxed process, ``drivers.example_driver`` (its program:
``programs.program_text``), each isolated from the others with its own time budget; its
records (``CaseRecord``) become ``ExampleResults``. For best of N, the same process also runs
every candidate on shared inputs (:class:`AgreeSpec`), whose outputs say which candidates
agree (``agreement``).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

from winnow.judge.evidence.examples import Example, find_examples_and_setup
from winnow.judge.evidence.programs import program_text

if TYPE_CHECKING:
    from winnow.judge.evidence.drivers.example_driver import CaseRecord

ExampleStatus = Literal["passed", "failed", "error", "timeout"]

#: Per-example time budget inside the sandbox (the whole run has its own timeout).
EXAMPLE_TIMEOUT_S = 2.0
#: How much of a value's repr a record keeps.
REPR_LIMIT = 200


@dataclass(frozen=True)
class ExampleRecord:
    """What one example came to: ``got`` is the value's repr (or the exception) in the sandbox."""

    call: str
    expected: str | None
    got: str | None
    status: ExampleStatus


@dataclass(frozen=True)
class ExampleSignal:
    """The ranking signal of one candidate's examples (what ranking and the verdict read).

    ``total`` examples, ``passed`` of them, and the run's ``status`` (see :class:`ExampleResults`);
    ``failed``/``errors`` count the others; ``first_failure`` is the first record that did not
    pass (None when all did); ``reason`` says why the run did not pass ("" when it did).
    """

    total: int = 0
    passed: int = 0
    status: str = "no-examples"
    failed: int = 0
    errors: int = 0
    first_failure: ExampleRecord | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        """The JSON form: ``{"total", "passed", "status"}``, plus ``failed``, ``errors`` and
        ``first_failure`` when not all pass, and ``reason`` when there is one."""
        out: dict[str, object] = {"total": self.total, "passed": self.passed, "status": self.status}
        if self.total and self.passed < self.total:
            out["failed"] = self.failed
            out["errors"] = self.errors
            if self.first_failure is not None:
                out["first_failure"] = asdict(self.first_failure)  # call, expected, got, status
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class ExampleResults:
    """All examples of one candidate: counts, per-example records, and the run's own status.

    ``status``: ``no-examples``; ``passed`` (every example passed); ``failed`` (one gave a wrong
    value); ``error``/``timeout`` (none failed, but one raised or ran out of time, or the run
    itself did not finish — ``reason`` says why).
    """

    n_examples: int
    passed: int
    failed: int
    errors: int  # raised, timed out, or never ran
    records: tuple[ExampleRecord, ...] = ()
    status: str = "no-examples"
    reason: str = ""
    examples: tuple[Example, ...] = field(default=(), repr=False)
    #: A hash of its output on each shared input (best of N; None where it did not run).
    outputs: tuple[str | None, ...] = ()

    @property
    def score(self) -> float:
        """Share of examples passed; 0.5 (no evidence) without examples."""
        return self.passed / self.n_examples if self.n_examples else 0.5

    def as_signal(self) -> ExampleSignal:
        """The ranking signal: the counts and status, the first record that did not pass, the reason."""
        short = bool(self.n_examples and self.passed < self.n_examples)
        bad = next((r for r in self.records if r.status != "passed"), None) if short else None
        reason = self.reason if self.status != "passed" else ""
        return ExampleSignal(self.n_examples, self.passed, self.status, self.failed, self.errors, bad, reason)


@dataclass(frozen=True)
class AgreeSpec:
    """Shared inputs for best of N: at most ``count`` inputs (the examples' calls, nudged, or
    drawn from type hints), ``per_call_s`` each, ``per_candidate_s`` in all per candidate."""

    count: int = 12
    per_call_s: float = 0.25
    per_candidate_s: float = 1.0
    seed: int = 0


def entry_name(task: str) -> str | None:
    """The task's function: its last top-level ``def`` (helpers come first in a prompt)."""
    try:
        tree = ast.parse(task)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return names[-1] if names else None


@functools.cache
def example_program() -> str:
    """The program every run sends to the sandbox (stdlib only, read once), followed by one
    ``run_job(<payload>)`` line: ``driver_inputs`` registered as a module (shared inputs),
    then ``example_driver``."""
    return program_text("example_driver")


def _program(
    code: str | list[str], examples: list[Example], setup: list[str], marker: str, example_timeout_s: float,
    agree: Mapping[str, object] | None = None,
) -> str:
    """The driver's source and the call that runs it on this candidate's examples (on each
    of several candidates, in order, when ``code`` is a list; then on shared inputs with ``agree``)."""
    payload = json.dumps({
        "marker": marker,
        "cases": [{"call": e.call, "expected": e.expected, "kind": e.kind} for e in examples],
        "setup": setup,
        "budget": float(example_timeout_s),
        "limit": REPR_LIMIT,
        "sources" if isinstance(code, list) else "source": code,
        **({"agree": agree} if agree else {}),
    })
    return f"{example_program()}\n\nrun_job({payload!r})\n"


def run_examples(
    code: str,
    examples: list[Example] | None = None,
    *,
    task: str | None = None,
    name: str | None = None,
    timeout_s: float = 10.0,
    example_timeout_s: float = EXAMPLE_TIMEOUT_S,
) -> ExampleResults:
    """Run the examples of the function in ``code`` (found in ``task``'s docstring when given,
    else in ``code``'s own) in one sandboxed process; never raises for what the candidate does."""
    from winnow.judge.sandbox.results import marked_records
    from winnow.judge.sandbox.run import SandboxLimits, run_python

    setup: list[str] = []
    if examples is None:
        examples, setup, found_name = find_examples_and_setup(task if task is not None else code, name)
        name = name or found_name
    if not examples:
        return ExampleResults(0, 0, 0, 0, status="no-examples")
    marker = "WINNOW-EXAMPLE-" + secrets.token_hex(8)
    program = _program(code, examples, setup, marker, example_timeout_s)
    limits = SandboxLimits(output_tail_bytes=max(64_000, 2 * len(examples) * (REPR_LIMIT + 200)))
    result = run_python(program, timeout_s=timeout_s, limits=limits)
    return collect_results(examples, marked_records(result.stdout_tail, marker), result.status, result.reason)


def collect_results(
    examples: list[Example], got: Sequence[CaseRecord], run_status: str, run_reason: str
) -> ExampleResults:
    """One candidate's records (in example order) → its ExampleResults; missing records are
    examples that never ran (the run's status and reason say why)."""
    records = []
    for i, ex in enumerate(examples):
        if i < len(got):
            status = got[i].get("status", "error")
            records.append(ExampleRecord(ex.call, ex.expected, got[i].get("got"), status))
        else:
            why = "timeout" if run_status == "timeout" else "error"
            records.append(ExampleRecord(ex.call, ex.expected, f"did not run: {run_reason}", why))
    passed = sum(r.status == "passed" for r in records)
    failed = sum(r.status == "failed" for r in records)
    errors = len(records) - passed - failed
    if passed == len(records):
        status, reason = "passed", ""
    elif failed:
        status, reason = "failed", ""
    else:
        bad = next(r for r in records if r.status != "passed")
        status = "timeout" if bad.status == "timeout" else "error"
        reason = bad.got or run_reason
    if len(got) < len(examples):
        reason = run_reason
    return ExampleResults(len(records), passed, failed, errors, tuple(records), status, reason, tuple(examples))


def run_examples_many(
    codes: list[str], task: str, timeout_s: float = 10.0, example_timeout_s: float = EXAMPLE_TIMEOUT_S,
    agree: AgreeSpec | None = None,
) -> list[ExampleResults]:
    """:func:`run_examples` for several candidates of one task in **one** sandboxed process
    (each in its own namespace); a candidate the shared run did not finish (it killed the
    process, or the run ran out of time) is run again on its own. With ``agree``, the same
    process then runs every candidate on shared inputs (``outputs`` of each result), also
    where the docstring has no examples."""
    from winnow.judge.evidence.module_evidence import site_dirs
    from winnow.judge.sandbox.results import marked_records
    from winnow.judge.sandbox.run import SandboxLimits, run_python

    examples, setup, name = find_examples_and_setup(task, None)
    name = name or (entry_name(task) if agree else None)
    if not codes or not (examples or (agree and name)):
        return [ExampleResults(0, 0, 0, 0, status="no-examples") for _ in codes]
    marker = "WINNOW-EXAMPLE-" + secrets.token_hex(8)
    spec = None
    read_only: list[str] = []
    if agree and name:
        read_only = site_dirs()  # Hypothesis, for inputs drawn from type hints
        spec = {"name": name, "task": task, "count": agree.count, "seed": agree.seed, "budget": agree.per_call_s,
                "total": agree.per_candidate_s, "site_dirs": read_only}  # fmt: skip
    program = _program(list(codes), examples, setup, marker, example_timeout_s, spec)
    tail = 2 * len(codes) * (len(examples) * (REPR_LIMIT + 220) + (agree.count * 16 + 64 if agree else 0))
    limits = SandboxLimits(output_tail_bytes=max(64_000, tail))
    budget = timeout_s * len(codes) + (agree.per_candidate_s * len(codes) + 5.0 if spec else 0.0)
    result = run_python(program, timeout_s=budget, limits=limits, read_only=read_only)
    by_candidate: dict[int, list[CaseRecord]] = {}
    outputs: dict[int, tuple[str | None, ...]] = {}
    for record in marked_records(result.stdout_tail, marker):
        index = int(record.get("candidate", -1))
        if "outputs" in record:
            outputs[index] = tuple(record["outputs"])
        else:
            by_candidate.setdefault(index, []).append(record)
    out = []
    for i, code in enumerate(codes):
        got = by_candidate.get(i, [])
        if not examples:
            done = ExampleResults(0, 0, 0, 0, status="no-examples")
        elif len(got) == len(examples):
            done = collect_results(examples, got, result.status, result.reason)
        else:
            done = run_examples(code, examples, task=task, timeout_s=timeout_s, example_timeout_s=example_timeout_s)
        out.append(dataclasses.replace(done, outputs=outputs.get(i, ())))
    return out


def run_docstring_examples(code: str, timeout_s: float = 5.0, task: str | None = None) -> ExampleSignal:
    """The ranking signal of :func:`run_examples` (``total`` 0 when the function has no examples)."""
    return run_examples(code, task=task, timeout_s=timeout_s).as_signal()


class ExampleRunner:
    """A ranking ``run_examples``: (candidate code, task) → the examples signal, the examples
    read from the task's docstring (the candidate's copy may differ). ``prefetch`` runs a
    whole batch of candidates in one sandboxed process first (best of N: one process, not N),
    with ``agree`` also on shared inputs; ``agreement`` then gives each candidate's share."""

    def __init__(self, timeout_s: float = 5.0, agree: AgreeSpec | None = None) -> None:
        self.timeout_s = timeout_s
        self.agree = agree or AgreeSpec()
        self._ready: dict[tuple[str, str], ExampleSignal] = {}
        self._shares: dict[tuple[str, str], float | None] = {}

    def prefetch(self, task: str, codes: list[str], agree: bool = False) -> None:
        from winnow.judge.evidence.agreement import agreement

        if len(codes) < 2:
            return
        results = run_examples_many(codes, task, self.timeout_s, agree=self.agree if agree else None)
        for code, result in zip(codes, results, strict=True):
            self._ready[(task, code)] = result.as_signal()
        if agree:
            for code, share in zip(codes, agreement([r.outputs for r in results]), strict=True):
                self._shares[(task, code)] = share

    def agreement(self, code: str, task: str) -> float | None:
        """The candidate's agreement with the rest of its batch (None: nothing to compare;
        only after ``prefetch(..., agree=True)``)."""
        return self._shares.pop((task, code), None)

    def __call__(self, code: str, task: str) -> ExampleSignal:
        ready = self._ready.pop((task, code), None)
        return ready if ready is not None else run_docstring_examples(code, timeout_s=self.timeout_s, task=task)


def examples_runner(timeout_s: float = 5.0) -> ExampleRunner:
    return ExampleRunner(timeout_s)
