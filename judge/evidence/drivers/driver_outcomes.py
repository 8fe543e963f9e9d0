"""What one test did, as the project-tests driver records it: the outcome, the first line of
what it raised, where in the test file, and whether the environment is to blame. A part of
``project_tests_driver`` in the sandbox: standard library only, nothing of Winnow."""

import os
import traceback
from typing import Any

#: A test's record.
Json = dict[str, Any]

#: Exceptions that say the environment is missing something, not that the code is wrong.
ENVIRONMENT_ERRORS = ("ImportError", "ModuleNotFoundError", "PermissionError", "ConnectionError",
                      "ConnectionRefusedError", "ConnectionResetError", "TimeoutError", "socket.gaierror", "gaierror",
                      "URLError", "OSError", "FileNotFoundError", "ReadOnlyFileSystemError", "ResourceWarning")  # fmt: skip


def exception_name(text: str) -> str:
    """``AssertionError`` of ``AssertionError: assert 1 == 2`` (the last line of a traceback)."""
    last = [line for line in text.strip().splitlines() if line and not line.startswith(" ")]
    head = last[-1].split(":", 1)[0].strip() if last else ""
    return head.rsplit(".", 1)[-1] if head.replace(".", "").replace("_", "").isalnum() else ""


def frames_of(tb: traceback.StackSummary | list[traceback.FrameSummary]) -> list[str]:
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in list(tb)[-4:]]


def outcome_record(test_id: str, outcome: str, message: str = "", file: str = "", line: int = 0,
                   frames: list[str] | None = None, exc: str = "") -> Json:  # fmt: skip
    return {
        "id": test_id, "outcome": outcome, "message": message[:400], "file": file, "line": line,
        "frames": frames or [], "environment": exc in ENVIRONMENT_ERRORS,
    }  # fmt: skip


def where_in(frames: list[traceback.FrameSummary], test_files: set[str]) -> tuple[str, int]:
    """The last frame of the traceback inside a test file: the line that failed there."""
    for frame in reversed(frames):
        if os.path.realpath(frame.filename) in test_files:
            return frame.filename, frame.lineno or 0
    return (frames[-1].filename, frames[-1].lineno or 0) if frames else ("", 0)
