"""Mining, per language: how ``winnow mine`` finds a tree's functions and turns each into a
problem with self-labelled candidates (Python: ``mining``; Java: ``java.mining``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from winnow.judge.dataset.java.mining import java_records_for, mine_java
from winnow.judge.dataset.mining import mine, python_records_for
from winnow.judge.dataset.records import LabelRecord, ProblemRecord


@dataclass(frozen=True)
class Miner:
    """One language's miner: what it finds, how long a function may be, its records."""

    find: Callable[..., Sequence[Any]]  # (roots, max_functions, seed, min_lines=, max_lines=) → functions
    records: Callable[[Any, int, int], tuple[ProblemRecord, list[LabelRecord]]]  # (function, k, seed)
    max_lines: int  # the default longest function
    #: Whether the tree's own tests can label its functions (``--tests``: pytest in the sandbox).
    labels_by_tests: bool


#: By language (``winnow mine --language``).
MINERS: dict[str, Miner] = {
    "python": Miner(mine, python_records_for, max_lines=60, labels_by_tests=True),
    "java": Miner(mine_java, java_records_for, max_lines=40, labels_by_tests=False),
}
