"""Programs that run inside the sandbox, shipped there as text.

Each driver is sent to a sandboxed interpreter (the project's or ours) as one program with
its parts (``evidence.programs.program_text`` says in which order and how), followed by one
line that calls it with its payload. None imports Winnow there; imported as a package, they
are what the tests exercise directly: every import of a sibling falls back to
``winnow.judge.evidence.drivers`` when the bare name is not there.

The drivers:

- ``module_driver``: a module's evidence for hints: sessions, then calls on probe inputs;
- ``example_driver``: a task's docstring examples on candidates, and best of N's shared inputs;
- ``tests_driver``: a repository's tests on candidates (``winnow mine --tests``);
- ``project_tests_driver``: the project's own tests on the editor's text.

Their parts:

- ``driver_inputs``: the inputs a function is called on beyond its written examples;
- ``driver_recorder``: the arguments a docstring session really passed;
- ``driver_annotations``: a return value checked against its own annotation;
- ``driver_values``: doctest's output compared by value;
- ``driver_sessions``: the docstring sessions, run by doctest, one record per example;
- ``driver_loading``: the module imported under its own name, as the editor has it;
- ``driver_forks``: forked children several at once, each with a time limit (best of N by tests);
- ``driver_outcomes``: what one test did, as a record (the project-tests driver's);
- ``driver_worker``: a warm worker that runs one job after another, each in a forked child;
- ``driver_rewrites``: pytest's assertion-rewritten test modules, compiled once by a warm worker.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def driver_path(name: str) -> Path:
    """The file of the driver or part ``name`` (``module_driver``)."""
    return FOLDER / f"{name}.py"
