"""Programs that run inside the sandbox, shipped there as text.

Each is read as source and sent to a sandboxed interpreter (the project's or ours) with one
``main(<payload>)`` line after it; none imports Winnow there. ``driver_inputs`` is
registered as a module of that name first (``sandbox.run.module_prelude``), and a driver
that builds on another is sent after it (``tests_driver`` after ``module_driver``). Imported
as a package, they are what the tests exercise directly.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def driver_path(name: str) -> Path:
    """The file of the driver ``name`` (``module_driver``)."""
    return FOLDER / f"{name}.py"
