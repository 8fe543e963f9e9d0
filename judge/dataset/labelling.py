"""Label candidates by running their problem's tests in the sandbox: the judge's ground truth.

A label is the candidate record plus ``status`` (passed | failed | timeout | error),
``reason``, ``duration_s`` and ``sandbox`` (the isolation backend). Labels are appended one
by one, keyed on (problem_id, candidate_id), so a killed run resumes where it stopped and
never labels a candidate twice.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl
from winnow.judge.base.sandbox import (
    STATUSES,
    RunResult,
    java_class_name,
    run_java,
    run_python,
    sandbox_backend,
)
from winnow.judge.dataset.problems import Problem

#: Extra wall-clock seconds a Java candidate gets: javac and the JVM start inside the limit.
JAVA_STARTUP_S = 10.0


def run_candidate(problem: Problem, code: str, timeout_s: float = 10.0) -> RunResult:
    """Run one candidate (complete, self-contained code) against its problem's tests."""
    if problem.language == "python":
        return run_python(code + "\n" + problem.tests, timeout_s=timeout_s)
    if problem.language == "java":
        solution = java_class_name(code, "Solution")
        tests = java_class_name(problem.tests, "Tests")
        if solution == tests:
            return RunResult("error", f"candidate and tests both declare class {tests}", None, "", "", 0.0)
        files = {f"{solution}.java": code, f"{tests}.java": problem.tests}
        return run_java(files, tests, timeout_s=timeout_s + JAVA_STARTUP_S)
    raise WinnowError(f"{problem.id}: cannot run {problem.language!r} candidates")


def label_record(problem: Problem, candidate: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """The label of one candidate: the candidate record plus its verdict."""
    result = run_candidate(problem, candidate["code"], timeout_s)
    return {
        **candidate,
        "status": result.status,
        "reason": result.reason,
        "duration_s": result.duration_s,
        "sandbox": result.backend,
    }


@dataclass
class LabelSummary:
    """What a labelling run did (for the summary line and for tests)."""

    written: int = 0
    already: int = 0
    duplicates: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def line(self, out: str | os.PathLike[str]) -> str:
        counts = ", ".join(f"{s} {self.statuses[s]}" for s in STATUSES)
        return (
            f"labelled {self.written} candidates ({counts}); {self.already} already labelled"
            + (f", {self.duplicates} duplicate ids skipped" if self.duplicates else "")
            + f"; labels in {out}"
        )


def _check_candidate(record: dict[str, Any], number: int) -> None:
    for key in ("problem_id", "candidate_id", "code"):
        if not isinstance(record.get(key), str):
            raise WinnowError(f"candidate {number}: missing or non-string field {key!r}")


def label_candidates(
    problems: dict[str, Problem],
    candidates: Iterable[dict[str, Any]],
    out: str | os.PathLike[str],
    workers: int | None = None,
    timeout_s: float = 10.0,
    progress: bool = True,
) -> LabelSummary:
    """Label every candidate not yet in ``out``, ``workers`` sandboxes at a time."""
    summary = LabelSummary()
    with JsonlAppender(out, key=candidate_key) as appender:
        todo: list[dict[str, Any]] = []
        queued: set[tuple[str, str]] = set()
        for number, record in enumerate(candidates, start=1):
            _check_candidate(record, number)
            key = candidate_key(record)
            if key in appender:
                summary.already += 1
            elif key in queued:
                summary.duplicates += 1
            else:
                queued.add(key)
                todo.append(record)
        unknown = sorted({r["problem_id"] for r in todo} - problems.keys())
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise WinnowError(f"{len(unknown)} candidate problem id(s) not among the problems: {shown}")
        if not todo:
            return summary
        sandbox_backend()  # probe once, before the workers race to do it
        workers = max(1, workers or os.cpu_count() or 1)
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="cand", desc="label", file=sys.stderr, disable=not progress)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="winnow-label")
        try:
            pending: set[Future[dict[str, Any]]] = set()
            feed = iter(todo)
            while True:
                # Keep only a few runs queued, so that a kill loses little and memory stays flat.
                while len(pending) < 2 * workers:
                    record = next(feed, None)
                    if record is None:
                        break
                    pending.add(pool.submit(label_record, problems[record["problem_id"]], record, timeout_s))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    label = future.result()
                    appender.write(label)
                    summary.written += 1
                    summary.statuses[label["status"]] += 1
                    bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
    return summary


def label_file(
    problems: dict[str, Problem],
    candidates_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    workers: int | None = None,
    timeout_s: float = 10.0,
    progress: bool = True,
) -> LabelSummary:
    """``winnow label``: label a candidates JSONL file into a labels JSONL file."""
    if Path(candidates_path).resolve() == Path(out).resolve():
        raise WinnowError("--out must differ from --candidates")
    return label_candidates(problems, read_jsonl(candidates_path), out, workers, timeout_s, progress)
