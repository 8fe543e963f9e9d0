"""The JSONL records the pipeline's stages pass on: a problem, a candidate, its label, a score.

docs/formats.md is their contract; these types name its fields so that a record built in
one module and read in another is checked by name. They are ``TypedDict`` s — plain dicts
at run time, written and read as JSON lines unchanged — because every record carries
extra fields along untouched (formats.md: "extra fields are allowed everywhere"). A
record just read from a file is a :data:`JsonRecord` until a stage has checked the fields
it needs.
"""

from __future__ import annotations

from typing import Any, TypedDict

#: One JSON object as read from or written to a JSONL file, its fields not checked yet.
JsonRecord = dict[str, Any]


class ProblemSource(TypedDict, total=False):
    """Where a mined problem came from: a file and function of a tree, or a release fix."""

    package: str
    path: str
    line: int
    qualname: str
    module: str
    changed_lines: int


class _ProblemFields(TypedDict):
    id: str
    language: str  # "python" | "java"
    prompt: str
    tests: str
    entry_point: str
    reference: str | None


class ProblemRecord(_ProblemFields, total=False):
    """A problem as written to a problems file (``Problem.to_record``, the miners)."""

    source: ProblemSource


class _SampleSettingsFields(TypedDict):
    model: str
    model_sha256: str
    n: int
    max_tokens: int
    temperature: float
    top_p: float


class SampleSettings(_SampleSettingsFields, total=False):
    """How ``winnow sample`` drew a batch: with the sample seed, it reproduces the batch."""

    prompt_mode: str  # chat | fim | prefix


class _CandidateFields(TypedDict):
    problem_id: str
    candidate_id: str
    code: str


class CandidateRecord(_CandidateFields, total=False):
    """A candidate: the complete code to run against its problem's tests, and where it came from."""

    origin: str  # canonical | mutant | rewrite | sample (release fixes: before | after)
    transform: str
    bug_class: str | None
    seed: int
    # written by ``winnow sample``
    mean_logprob: float
    sum_logprob: float
    n_tokens: int
    finish_reason: str
    sample_seed: int
    settings: SampleSettings


class _LabelFields(CandidateRecord):
    status: str  # passed | failed | timeout | error


class LabelRecord(_LabelFields, total=False):
    """A candidate with its verdict: from the sandbox, the tree's tests, or its own origin."""

    reason: str
    duration_s: float
    sandbox: str
    label_source: str  # self-supervised | tests | release-fix (absent: the problem's tests)
    # written by ``winnow mine --tests``
    self_supervised_status: str
    tests: list[str]
    test_calls: int


class ScoreRecord(TypedDict):
    """A judge's (or a baseline's) P(correct) for one candidate."""

    problem_id: str
    candidate_id: str
    p_correct: float
