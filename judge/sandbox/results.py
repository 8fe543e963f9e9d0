"""What a sandboxed run came to: ``RunResult`` and its status, classified from the raw exit
status, signal and output of a Python or Java run (``classify_python``, ``classify_java``),
and the records a driver printed (``marked_records``)."""

from __future__ import annotations

import json
import re
import signal
from dataclasses import dataclass
from typing import Any, Literal

from winnow.judge.sandbox.limits import RawRun

Status = Literal["passed", "failed", "timeout", "error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "timeout", "error")
#: Exit status of the Java driver script when ``javac`` rejects the sources.
JAVAC_FAILED = 97


@dataclass
class RunResult:
    """What one sandboxed run came to."""

    status: Status
    reason: str
    returncode: int | None
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    backend: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def marked_records(stdout: str, marker: str) -> list[Any]:
    """The JSON records a driver printed, in order: the lines ``marker + " " + JSON`` of its
    output (the marker is random per run, so candidate code cannot forge one by accident);
    a line cut by the output cap or otherwise unreadable is skipped."""
    got: list[Any] = []
    for line in stdout.splitlines():
        if line.startswith(marker + " "):
            try:
                got.append(json.loads(line[len(marker) + 1 :]))
            except ValueError:
                continue
    return got


_SIGNAL_REASONS = {
    signal.SIGKILL: "killed by SIGKILL (memory or process limit)",
    signal.SIGXCPU: "CPU time limit exceeded (SIGXCPU)",
    signal.SIGXFSZ: "file size limit exceeded (SIGXFSZ)",
    signal.SIGSEGV: "crashed (SIGSEGV)",
    signal.SIGABRT: "aborted (SIGABRT)",
}


def _signal_of(rc: int | None) -> int | None:
    """The signal that ended the code: negative for a direct child, 128+n as relayed by bwrap."""
    if rc is None:
        return None
    if rc < 0:
        return -rc
    if 128 < rc < 128 + 65 and rc - 128 in _SIGNAL_REASONS:
        return rc - 128
    return None


def _signal_result(raw: RawRun, sig: int) -> RunResult:
    if sig == signal.SIGXCPU:
        return _result(raw, "timeout", _SIGNAL_REASONS[sig])
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    return _result(raw, "error", _SIGNAL_REASONS.get(sig, f"killed by {name}"))


def _result(raw: RawRun, status: Status, reason: str) -> RunResult:
    return RunResult(
        status,
        reason,
        raw.returncode,
        raw.stdout_tail,
        raw.stderr_tail,
        round(raw.duration_s, 3),
        raw.backend,
    )


_FILE_LINE = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)')


def python_exception(stderr: str, filename: str = "main.py") -> tuple[str, str, int | None] | None:
    """(type, first line of the message, line in ``filename``) of the traceback at the end of stderr."""
    lines = stderr.splitlines()
    last_file = None
    for i in range(len(lines) - 1, -1, -1):
        if _FILE_LINE.match(lines[i]):
            last_file = i
            break
    if last_file is None:
        return None
    exc_line = next((ln for ln in lines[last_file + 1 :] if ln and not ln[0].isspace()), None)
    if exc_line is None:
        return None
    head = exc_line.split(":", 1)[0].strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*", head):
        return None
    lineno = None
    for ln in reversed(lines[: last_file + 1]):
        m = _FILE_LINE.match(ln)
        if m and m.group("file").endswith(filename):
            lineno = int(m.group("line"))
            break
    return head.rsplit(".", 1)[-1], exc_line.strip(), lineno


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify_python(raw: RawRun, token: str, timeout_s: float) -> RunResult:
    if raw.timed_out:
        return _result(raw, "timeout", f"wall-clock limit of {timeout_s:g} s")
    sig = _signal_of(raw.returncode)
    if sig is not None:
        return _signal_result(raw, sig)
    if raw.returncode == 0:
        if token in raw.stdout_tail:
            return _result(raw, "passed", "all tests ran to the end")
        return _result(raw, "failed", "exited with status 0 before the tests finished")
    exc = python_exception(raw.stderr_tail)
    if exc is None:
        return _result(raw, "failed", f"exited with status {raw.returncode} before the tests finished")
    kind, text, lineno = exc
    where = f" at line {lineno}" if lineno else ""
    if kind == "AssertionError":
        return _result(raw, "failed", f"AssertionError{where}")
    if "[Errno 27]" in text:  # EFBIG: Python ignores SIGXFSZ and raises instead
        return _result(raw, "error", f"output exceeded the file size limit{where}")
    return _result(raw, "error", _short(text) + where)


_JAVA_EXCEPTION = re.compile(r'Exception in thread "[^"]*" (?P<type>[\w.$]+)(?::\s*(?P<msg>.*))?')


def classify_java(raw: RawRun, token: str, timeout_s: float) -> RunResult:
    if raw.timed_out:
        return _result(raw, "timeout", f"wall-clock limit of {timeout_s:g} s")
    if raw.returncode == JAVAC_FAILED and "winnow: javac failed" in raw.stderr_tail:
        first = next((ln for ln in raw.stderr_tail.splitlines() if "error:" in ln), "javac failed")
        return _result(raw, "error", "compile error: " + _short(first))
    sig = _signal_of(raw.returncode)
    if sig is not None:
        return _signal_result(raw, sig)
    if raw.returncode == 0:
        if token in raw.stdout_tail:
            return _result(raw, "passed", "all tests ran to the end")
        return _result(raw, "failed", "exited with status 0 before the tests finished")
    matches = list(_JAVA_EXCEPTION.finditer(raw.stderr_tail))
    if matches:
        m = matches[-1]
        kind = m.group("type").rsplit(".", 1)[-1]
        if kind == "AssertionError":
            return _result(
                raw,
                "failed",
                "AssertionError" + (f": {_short(m.group('msg'), 80)}" if m.group("msg") else ""),
            )
        message = f"{m.group('type')}: {m.group('msg')}" if m.group("msg") else m.group("type")
        return _result(raw, "error", _short(message))
    if "OutOfMemoryError" in raw.stderr_tail or "Could not reserve" in raw.stderr_tail:
        return _result(raw, "error", "out of memory")
    return _result(raw, "failed", f"exited with status {raw.returncode} before the tests finished")
