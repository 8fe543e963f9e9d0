"""The sandbox side of a hint's evidence: load a module as the editor has it, run the
docstring sessions of its functions with doctest, and call each function on inputs nobody
wrote down.

``evidence`` sends this file's source to the sandbox followed by one ``main(<payload>)``
line. The payload (a JSON object) names the module (``name``, ``path``, ``source``: the
document's text, saved or not), the folders to import from (``sys_path``; ``site_dirs`` are
added with their ``.pth`` files, as the project's interpreter would), the functions to look
at (``targets``: qualified name and the line of their ``def``), and the budgets. One line
``<marker> {...}`` per function goes to the original stdout; what the code prints does not.

The module runs as itself: a meta-path loader serves the document's text under the
module's own dotted name, so its package imports the edited code (``nx.descendants``
bound in networkx's ``__init__`` is the function in the editor) and ``import textwrap``
in an example returns it. A module the interpreter imported before (``posixpath``, at
start-up) is run again from the document, and every reference to its old functions and
classes is rebound to the new ones.

Standard library only (the sandbox has nothing else unless ``site_dirs`` brings it).
As a script: ``python evidence_driver.py PAYLOAD.json`` (``-``: the payload on stdin);
without an argument it does nothing by itself.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.abc
import importlib.util
import io
import json
import os
import random
import re
import signal
import site
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

VARIES = re.compile(r"#\s*(may vary|random|doctest:\s*\+SKIP)", re.IGNORECASE)
ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z0-9_]*(?:Error|Exception|Warning))\b")
PROBE_TIMEOUT_S = 0.5
VALUE_LIMIT = 160


class _Budget(BaseException):
    """A call ran past its time budget."""


def _alarm(signum: int, frame: object) -> None:
    raise _Budget()


def short(text: str, limit: int = VALUE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_repr(value: object) -> str:
    try:
        return short(repr(value))
    except BaseException as exc:  # a repr that raises is still an answer
        return f"<unrepresentable: {type(exc).__name__}>"


def literal(text: str) -> tuple[bool, object]:
    """(True, value) when ``text`` is one Python literal (what doctest printed or expects)."""
    try:
        return True, ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def same_value(got: object, want: object) -> bool:
    """Equal as values: floats to 1e-9 relative, containers element by element."""
    if isinstance(got, float) or isinstance(want, float):
        if isinstance(got, (int, float)) and isinstance(want, (int, float)) and not isinstance(got, bool):
            return abs(got - want) <= 1e-9 * max(1.0, abs(got), abs(want))
    try:
        return bool(got == want)
    except Exception:
        return False


_REAL = r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
NUMBER = re.compile(rf"(?<![\w.])[-+]?{_REAL}(?:[-+]{_REAL}j|j)?(?![\w.])")  # 2.5, 1e-3, 1+2j, 0.+0.j
NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|complex|longdouble|clongdouble)\d*\(([^()]*)\)")
NUMPY_BOOL = re.compile(r"\bnp\.(True|False)_")
NUMPY_STR = re.compile(r"\bnp\.(?:str_|bytes_)\(([^()]*)\)")


def plain(got: str, want: str) -> str:
    """numpy 2's scalar reprs as the numbers they are (``np.float64(2.5)`` → ``2.5``), unless
    the docstring itself spells them that way."""
    if "np." in want:
        return got
    got = NUMPY_SCALAR.sub(r"\1", got)
    got = NUMPY_BOOL.sub(r"\1", got)
    return NUMPY_STR.sub(r"\1", got)


def _close(want: str, got: str) -> bool:
    if want.endswith("j") or got.endswith("j"):
        return abs(complex(want) - complex(got)) <= 1e-12 + 1e-9 * abs(complex(want))
    w, g = float(want), float(got)
    if "." in want and "e" not in want.lower():
        places = len(want.split(".", 1)[1])
        return abs(w - g) <= 10.0**-places * 1.0001 + 1e-12 * abs(w)  # docstrings round or cut
    return abs(w - g) <= 1e-12 + 1e-9 * max(abs(w), abs(g))  # 4.9e-14 printed for a zero: rounding noise


def numbers_match(want: str, got: str) -> bool | None:
    """Whether the numbers agree as printed (to the precision the docstring shows), when the
    text around them is the same (whitespace aside); None when the text differs."""
    w_nums, g_nums = NUMBER.findall(want), NUMBER.findall(got)
    skeleton = lambda t: re.sub(r"\s+", "", NUMBER.sub("#", t))  # noqa: E731
    if not w_nums or len(w_nums) != len(g_nums) or skeleton(want) != skeleton(got):
        return None
    try:
        return all(_close(w, g) for w, g in zip(w_nums, g_nums, strict=True))
    except (ValueError, OverflowError):
        return None


class ValueChecker(doctest.OutputChecker):
    """doctest's rules, plus: equal as values — two literals (``{2, 1}`` printed for
    ``{1, 2}``), numbers to the precision the docstring prints (``array([ 0.64])`` for
    ``array([0.64493407])``), numpy 2's scalar reprs as their numbers."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        got = plain(got, want)
        if super().check_output(want, got, optionflags):
            return True
        ok_w, w = literal(want)
        ok_g, g = literal(got)
        if ok_w and ok_g:
            return same_value(g, w)
        return bool(numbers_match(want, got))


def outcome_of(want: str, got: str) -> str:
    """How an example that did not match failed: "value" (different values: two literals, or
    the same text with different numbers), "output" (the docstring shows no output and
    something printed), "text" (the printed text differs otherwise)."""
    got = plain(got, want)
    ok_w, _ = literal(want)
    ok_g, _ = literal(got)
    if (ok_w and ok_g) or numbers_match(want, got) is False:
        return "value"
    return "output" if not want.strip() else "text"


class RecordingRunner(doctest.DocTestRunner):
    """A DocTestRunner that keeps one record per example instead of printing a report."""

    budget_s = 2.0  # per example

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[dict[str, Any]] = []

    def report_start(self, out: Any, test: Any, example: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, self.budget_s)

    def report_success(self, out: Any, test: Any, example: Any, got: str) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.records.append(self._record(example, "passed", got))

    def report_failure(self, out: Any, test: Any, example: Any, got: str) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome = "no-raise" if example.exc_msg is not None else outcome_of(example.want, got)
        if VARIES.search(example.want):  # numpy's "# may vary", "# random": no evidence either way
            outcome = "unstable"
        self.records.append(self._record(example, outcome, got))

    def report_unexpected_exception(self, out: Any, test: Any, example: Any, exc_info: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        kind, value, tb = exc_info
        setup = issubclass(kind, (NameError, ImportError, SyntaxError)) and in_session(tb)
        outcome = "timeout" if kind is _Budget else "session-error" if setup else "raised"
        text = "ran past its time budget" if kind is _Budget else f"{kind.__name__}: {value}"
        record = self._record(example, outcome, text)
        record["exception"] = kind.__name__
        self.records.append(record)

    @staticmethod
    def _record(example: Any, outcome: str, got: str) -> dict[str, Any]:
        return {
            "source": short(example.source),
            "want": short(example.want),
            "got": short(got),
            "line": example.lineno,  # 0-based, within the docstring
            "outcome": outcome,
        }


def in_session(tb: Any) -> bool:
    """Whether an exception came from the example's own line rather than from the code it
    called (a NameError there is a setup step the session never wrote: no evidence)."""
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.startswith("<doctest")


# --- loading the module as the editor has it --------------------------------------------------


class DocumentLoader(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the document's text wherever its module is imported from (its package's
    ``__init__`` included), so the package is built around the code in the editor."""

    def __init__(self, name: str, path: str, source: str, is_package: bool) -> None:
        self.name, self.path, self.source, self.is_package = name, path, source, is_package

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin=self.path, is_package=self.is_package)
        if spec is not None and self.is_package:
            spec.submodule_search_locations = [os.path.dirname(self.path)]
        return spec

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__file__ = self.path
        exec(compile(self.source, self.path, "exec", dont_inherit=True), module.__dict__)


def load(payload: dict[str, Any]) -> types.ModuleType:
    for path in reversed(payload.get("sys_path", [])):
        sys.path.insert(0, path)
    for path in payload.get("site_dirs", []):
        site.addsitedir(path)
    name, path, source = payload["name"], payload.get("path") or "<document>", payload["source"]
    loader = DocumentLoader(name, path, source, bool(payload.get("is_package")))
    original = sys.modules.get(name)  # imported before we could step in (posixpath, at start-up)
    if original is None:
        sys.meta_path.insert(0, loader)
        return importlib.import_module(name)
    spec = loader.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, leaf = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], leaf, module)
    rebind(original, module)
    return module


def rebind(original: types.ModuleType, edited: types.ModuleType) -> None:
    """Point every module's reference to ``original``'s functions and classes at the edited ones."""
    swap = {}
    for key, old in vars(original).items():
        new = vars(edited).get(key)
        if new is not None and new is not old and isinstance(old, (types.FunctionType, type)):
            swap[id(old)] = new
    if not swap:
        return
    for mod in list(sys.modules.values()):
        space = getattr(mod, "__dict__", None)
        if not isinstance(space, dict) or mod is edited:
            continue
        for key, value in list(space.items()):
            if id(value) in swap:
                space[key] = swap[id(value)]


def find(module: types.ModuleType, qualname: str) -> Any:
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# --- the docstring's session -----------------------------------------------------------------------


def run_session(module: types.ModuleType, qualname: str, obj: Any, budget_s: float) -> list[dict[str, Any]]:
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
    runner = RecordingRunner(checker=ValueChecker(), optionflags=flags, verbose=False)
    runner.budget_s = budget_s
    try:
        runner.run(test, out=lambda text: None, clear_globs=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return runner.records


def stable_session(module: types.ModuleType, qualname: str, obj: Any, budget_s: float) -> list[dict[str, Any]]:
    """The session's records; a session with failures runs twice, and a failure that is
    not the same both times (random output, time, hash order) is marked "unstable"."""
    records = run_session(module, qualname, obj, budget_s)
    if all(r["outcome"] == "passed" for r in records):
        return records
    again = run_session(module, qualname, obj, budget_s)
    for a, b in zip(records, again, strict=False):
        if a["outcome"] != "passed" and (b["outcome"] != a["outcome"] or b["got"] != a["got"]):
            a["outcome"] = "unstable"
    return records


# --- inputs nobody wrote down --------------------------------------------------------------------


def nudges(value: object) -> list[object]:
    """Nearby inputs of the same type: the edges a function should handle."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [v for v in (0, 1, -1, value + 1, value - 1) if v != value]
    if isinstance(value, float):
        return [v for v in (0.0, -1.0, value * 2) if v != value]
    if isinstance(value, str):
        return [v for v in ("", value[:1], value * 2) if v != value]
    if isinstance(value, (list, tuple)):
        kind = type(value)
        return [v for v in (kind(), kind(value[:1]), kind(value[::-1])) if v != value]
    if isinstance(value, dict):
        return [{}] if value else []
    return []


def example_calls(doc: str, name: str) -> Iterator[tuple[list[object], dict[str, object]]]:
    """The literal arguments of every call of ``name`` in the docstring's examples."""
    for example in doctest.DocTestParser().get_examples(doc):
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called != name:
                continue
            try:
                args = [ast.literal_eval(a) for a in node.args]
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            except (ValueError, SyntaxError, TypeError):
                continue
            if len(kwargs) == len(node.keywords):
                yield args, kwargs


def probe_inputs(doc: str, name: str, count: int, rng: random.Random) -> list[tuple[list[object], dict[str, object]]]:
    """The examples' own arguments, then one argument at a time nudged; at most ``count``."""
    seen: set[str] = set()
    base: list[tuple[list[object], dict[str, object]]] = []
    nudged: list[tuple[list[object], dict[str, object]]] = []
    for args, kwargs in example_calls(doc, name):
        base.append((args, kwargs))
        for i, value in enumerate(args):
            for other in nudges(value):
                nudged.append(([*args[:i], other, *args[i + 1 :]], kwargs))
    rng.shuffle(nudged)
    out = []
    for args, kwargs in base + nudged:
        key = repr((args, sorted(kwargs.items())))
        if key not in seen:
            seen.add(key)
            out.append((args, kwargs))
    return out[:count]


def on_purpose(doc: str, node: ast.AST | None) -> set[str]:
    """Exception names a function raises on purpose: its ``raise`` statements and the
    exceptions its docstring names."""
    names = set(ERROR_NAME.findall(doc or ""))
    for sub in ast.walk(node) if node is not None else ():
        if isinstance(sub, ast.Raise) and sub.exc is not None:
            target = sub.exc.func if isinstance(sub.exc, ast.Call) else sub.exc
            if isinstance(target, ast.Name):
                names.add(target.id)
            elif isinstance(target, ast.Attribute):
                names.add(target.attr)
    return names


def call_text(name: str, args: list[object], kwargs: dict[str, object]) -> str:
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return short(f"{name}({', '.join(parts)})")


def own_frame(tb: Any, code: types.CodeType | None) -> bool:
    """Whether the exception was raised in the function's own body (not in a callee)."""
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and code is not None and last.tb_frame.f_code is code


def run_probes(
    fn: Callable[..., Any], name: str, doc: str, node: ast.AST | None, count: int, seed: int
) -> tuple[int, list[dict[str, Any]]]:
    """Call ``fn`` on the probe inputs; (inputs tried, what went wrong)."""
    if count <= 0 or not callable(fn) or isinstance(fn, type):
        return 0, []
    inputs = probe_inputs(doc, name, count, random.Random(seed))
    allowed = on_purpose(doc, node)
    code = getattr(fn, "__code__", None)
    found: list[dict[str, Any]] = []
    for args, kwargs in inputs:
        sink = io.StringIO()
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        signal.setitimer(signal.ITIMER_REAL, PROBE_TIMEOUT_S)
        try:
            fn(*args, **kwargs)
        except _Budget:
            found.append({"call": call_text(name, args, kwargs), "exception": "timeout", "own_frame": True,
                          "message": f"ran past {PROBE_TIMEOUT_S} s", "on_purpose": False})
        except Exception as exc:
            kind = type(exc).__name__
            found.append({
                "call": call_text(name, args, kwargs),
                "exception": kind,
                "message": short(str(exc)),
                "own_frame": own_frame(exc.__traceback__, code),
                "on_purpose": kind in allowed or any(b.__name__ in allowed for b in type(exc).__mro__),
            })
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_out, real_err
    return len(inputs), found


# --- the whole run -------------------------------------------------------------------------------------


def nodes_by_line(source: str) -> dict[int, ast.AST]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {n.lineno: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def main(payload: dict[str, Any]) -> None:
    marker = payload["marker"]
    out_fd = os.dup(1)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGALRM, _alarm)

    def emit(record: dict[str, Any]) -> None:
        os.write(out_fd, (marker + " " + json.dumps(record, default=str) + "\n").encode("utf-8", "replace"))

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = io.StringIO()
    try:
        signal.setitimer(signal.ITIMER_REAL, float(payload.get("load_timeout_s", 20.0)))
        module = load(payload)
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        why = "ran past its time budget" if isinstance(exc, _Budget) else f"{type(exc).__name__}: {exc}"
        emit({"module": "failed", "error": short(why, 400), "trace": short(traceback.format_exc(), 1200)})
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    emit({"module": "loaded"})
    defs = nodes_by_line(payload["source"])
    for target in payload.get("targets", []):
        qualname = target["qualname"]
        obj = find(module, qualname)
        record: dict[str, Any] = {"qualname": qualname, "examples": [], "probes": [], "inputs": 0}
        if obj is None:
            record["missing"] = True
            emit(record)
            continue
        try:
            if payload.get("sessions", True):
                record["examples"] = stable_session(module, qualname, obj, float(payload.get("example_timeout_s", 2.0)))
            doc = getattr(obj, "__doc__", None) or ""
            node = defs.get(int(target.get("line", 0)))
            # Methods need an instance the examples build: only plain functions are probed.
            count = int(payload.get("probes", 0)) if "." not in qualname else 0
            tried, found = run_probes(obj, qualname, doc, node, count, int(payload.get("seed", 0)))
            record["inputs"], record["probes"] = tried, found
        except BaseException as exc:  # the function broke the driver itself: say so, go on
            signal.setitimer(signal.ITIMER_REAL, 0)
            record["error"] = short(f"{type(exc).__name__}: {exc}")
        emit(record)


if __name__ == "__main__" and len(sys.argv) > 1:  # in the sandbox the appended main(...) line runs it
    data = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8").read()
    main(json.loads(data))
