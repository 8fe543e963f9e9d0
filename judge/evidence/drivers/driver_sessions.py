"""The docstring sessions of a module's functions, run as doctest runs them: one record each.

A session runs in a copy of the module's namespace, with the module also under its own name
(``textwrap.shorten(...)``), each example under its own time budget (SIGALRM:
``OverBudget``), outputs compared by value (``driver_values``). A session with failures runs
twice, and a failure that is not the same both times is ``unstable`` (no evidence). The
records (``SessionRecord``) are what ``module_evidence.ExampleCheck`` reads.

Runs inside the sandbox, its text part of the module driver's program (after
``driver_values``) and importable as ``driver_sessions`` (``programs.program_text``):
standard library only.
"""

import contextlib
import doctest
import re
import signal
import sys
import types
from collections.abc import Callable
from typing import TypedDict

try:  # in the sandbox, its text came before this one; as a script, it lies beside this file
    import driver_values
except ImportError:  # imported as part of the package (tests)
    from winnow.judge.evidence.drivers import driver_values

VARIES = re.compile(r"#\s*(may vary|random|doctest:\s*\+SKIP)", re.IGNORECASE)
VALUE_LIMIT = 160
#: What doctest hands ``report_unexpected_exception``: ``sys.exc_info()``.
ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType]


class OverBudget(BaseException):
    """An example or a call ran past its time budget (raised by SIGALRM: ``on_alarm``)."""


def on_alarm(signum: int, frame: object) -> None:
    """The SIGALRM handler a driver installs: the running example or call is over budget."""
    raise OverBudget()


def short(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` stripped and cut to ``limit`` characters (with ``…``): a record stays small."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _SessionRecordFields(TypedDict):
    source: str
    want: str
    got: str
    line: int  # 0-based, within the docstring
    outcome: str


class SessionRecord(_SessionRecordFields, total=False):
    """One example as the session ran it (``module_evidence.ExampleCheck``), with the
    ``exception``'s class when it raised."""

    exception: str


class RecordingRunner(doctest.DocTestRunner):
    """A DocTestRunner that keeps one record per example instead of printing a report."""

    def __init__(self, checker: doctest.OutputChecker, optionflags: int, budget_s: float) -> None:
        super().__init__(checker=checker, verbose=False, optionflags=optionflags)
        self.budget_s = budget_s  # per example
        self.records: list[SessionRecord] = []

    def report_start(self, out: Callable[[str], object], test: doctest.DocTest, example: doctest.Example) -> None:
        signal.setitimer(signal.ITIMER_REAL, self.budget_s)

    def report_success(
        self, out: Callable[[str], object], test: doctest.DocTest, example: doctest.Example, got: str
    ) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.records.append(self._record(example, "passed", got))

    def report_failure(
        self, out: Callable[[str], object], test: doctest.DocTest, example: doctest.Example, got: str
    ) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome = "no-raise" if example.exc_msg is not None else driver_values.outcome_of(example.want, got)
        if VARIES.search(example.want):  # numpy's "# may vary", "# random": no evidence either way
            outcome = "unstable"
        self.records.append(self._record(example, outcome, got))

    def report_unexpected_exception(
        self, out: Callable[[str], object], test: doctest.DocTest, example: doctest.Example, exc_info: ExcInfo
    ) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        kind, value, tb = exc_info
        setup = issubclass(kind, (NameError, ImportError, SyntaxError)) and in_session(tb)
        outcome = "timeout" if kind is OverBudget else "session-error" if setup else "raised"
        text = "ran past its time budget" if kind is OverBudget else f"{kind.__name__}: {value}"
        record = self._record(example, outcome, text)
        record["exception"] = kind.__name__
        self.records.append(record)

    @staticmethod
    def _record(example: doctest.Example, outcome: str, got: str) -> SessionRecord:
        return {
            "source": short(example.source),
            "want": short(example.want),
            "got": short(got),
            "line": example.lineno,  # 0-based, within the docstring
            "outcome": outcome,
        }


def in_session(tb: types.TracebackType | None) -> bool:
    """Whether an exception came from the example's own line rather than from the code it
    called (a NameError there is a setup step the session never wrote: no evidence)."""
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.startswith("<doctest")


def run_session(
    module: types.ModuleType, qualname: str, obj: object, budget_s: float,
    recorder: contextlib.AbstractContextManager[object] | None = None,
) -> list[SessionRecord]:
    """The session's records; with ``recorder`` (a ``CallRecorder``), active while it runs,
    the calls it made are kept."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or ">>>" not in doc:
        return []
    parser = doctest.DocTestParser()
    globs = dict(module.__dict__)
    # Sessions call the module by its own name (``textwrap.shorten(...)``) as often as not.
    leaf, top = module.__name__.rsplit(".", 1)[-1], module.__name__.split(".", 1)[0]
    globs.setdefault(leaf, module)
    if top in sys.modules:
        globs.setdefault(top, sys.modules[top])
    try:
        test = parser.get_doctest(doc, globs, qualname, module.__file__, 0)
    except ValueError as exc:  # a malformed session: no evidence
        return [{"source": "", "want": "", "got": short(str(exc)), "line": 0, "outcome": "unparsed"}]
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = RecordingRunner(driver_values.ValueChecker(), flags, budget_s)
    try:
        with recorder if recorder is not None else contextlib.nullcontext():
            runner.run(test, out=lambda text: None, clear_globs=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return runner.records


def stable_session(
    module: types.ModuleType, qualname: str, obj: object, budget_s: float,
    recorder: contextlib.AbstractContextManager[object] | None = None,
) -> list[SessionRecord]:
    """The session's records; a session with failures runs twice, and a failure that is
    not the same both times (random output, time, hash order) is marked "unstable"."""
    records = run_session(module, qualname, obj, budget_s, recorder)
    if all(r["outcome"] == "passed" for r in records):
        return records
    again = run_session(module, qualname, obj, budget_s)
    for a, b in zip(records, again, strict=False):
        if a["outcome"] != "passed" and (b["outcome"] != a["outcome"] or b["got"] != a["got"]):
            a["outcome"] = "unstable"
    return records
