"""Label candidates by running their problem's tests in the sandbox: the judge's ground truth.

A label is the candidate record plus ``status`` (passed | failed | timeout | error),
``reason``, ``duration_s`` and ``sandbox`` (the isolation backend). Labels are appended one
by one, keyed on (problem_id, candidate_id), so a killed run resumes where it stopped and
never labels a candidate twice.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl
from winnow.judge.dataset.problems import Problem
from winnow.judge.dataset.records import CandidateRecord, JsonRecord, LabelRecord
from winnow.judge.evidence.batch_examples import JAVA_STARTUP_S
from winnow.judge.sandbox.choice import isolation
from winnow.judge.sandbox.results import STATUSES, RunResult
from winnow.judge.sandbox.run import java_class_name, run_java, run_python


def run_against_tests(problem: Problem, code: str, timeout_s: float = 10.0) -> RunResult:
    """Run one candidate (complete, self-contained code) against its problem's tests; a Java
    candidate's limit includes javac and the JVM's start (``JAVA_STARTUP_S`` more)."""
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


def label_record(problem: Problem, candidate: CandidateRecord, timeout_s: float = 10.0) -> LabelRecord:
    """The label of one candidate: the candidate record plus its verdict."""
    result = run_against_tests(problem, candidate["code"], timeout_s)
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


def _check_candidate(record: JsonRecord, number: int) -> CandidateRecord:
    """``record`` as a candidate, once the fields a label needs are there."""
    for key in ("problem_id", "candidate_id", "code"):
        if not isinstance(record.get(key), str):
            raise WinnowError(f"candidate {number}: missing or non-string field {key!r}")
    return cast(CandidateRecord, record)


def label_candidates(
    problems: dict[str, Problem],
    candidates: Iterable[JsonRecord],
    out: str | os.PathLike[str],
    workers: int | None = None,
    timeout_s: float = 10.0,
    progress: bool = True,
) -> LabelSummary:
    """Label every candidate not yet in ``out``, ``workers`` sandboxes at a time."""
    summary = LabelSummary()
    with JsonlAppender(out, key=candidate_key) as appender:
        todo: list[CandidateRecord] = []
        queued: set[tuple[str, str]] = set()
        for number, raw in enumerate(candidates, start=1):
            record = _check_candidate(raw, number)
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
        isolation()  # probe once, before the workers race to do it
        workers = max(1, workers or os.cpu_count() or 1)
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="cand", desc="label", file=sys.stderr, disable=not progress)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="winnow-label")
        try:
            pending: set[Future[LabelRecord]] = set()
            feed = iter(todo)
            while True:
                # Keep only a few runs queued, so that a kill loses little and memory stays flat.
                while len(pending) < 2 * workers:
                    queued_next = next(feed, None)
                    if queued_next is None:
                        break
                    problem = problems[queued_next["problem_id"]]
                    pending.add(pool.submit(label_record, problem, queued_next, timeout_s))
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


def balance(labels: Iterable[LabelRecord], ratio: float = 1.0, seed: int = 0) -> list[LabelRecord]:
    """Per problem, every passing label and at most ``ratio`` x as many failing mutants.

    Failing candidates that are not mutants (a rewrite that broke, a generator sample) are
    all kept. The failing mutants kept are spread over bug classes (round robin, classes and
    mutants in a seeded order), so rare classes are not crowded out. Order is kept.
    """
    by_problem: dict[str, list[LabelRecord]] = {}
    for record in labels:
        by_problem.setdefault(record["problem_id"], []).append(record)
    kept: list[LabelRecord] = []
    for problem_id, records in by_problem.items():
        passing = sum(1 for r in records if r.get("status") == "passed")
        failing = [r for r in records if r.get("status") != "passed" and r.get("origin") == "mutant"]
        chosen = {
            id(r)
            for r in _spread(failing, int(ratio * max(passing, 1)), random.Random(f"{seed}:{problem_id}"))
        }
        kept += [
            r
            for r in records
            if r.get("status") == "passed" or r.get("origin") != "mutant" or id(r) in chosen
        ]
    return kept


def _spread(records: list[LabelRecord], n: int, rng: random.Random) -> list[LabelRecord]:
    """``n`` of ``records``, taken from each ``bug_class`` in turn."""
    groups: dict[str, list[LabelRecord]] = {}
    for r in records:
        groups.setdefault(str(r.get("bug_class", "?")), []).append(r)
    order = sorted(groups)
    rng.shuffle(order)
    for name in order:
        rng.shuffle(groups[name])
    out: list[LabelRecord] = []
    while len(out) < n and any(groups.values()):
        for name in order:
            if groups[name] and len(out) < n:
                out.append(groups[name].pop())
    return out
