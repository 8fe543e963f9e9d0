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

import ast
import contextlib
import copy
import doctest
import importlib
import importlib.abc
import importlib.util
import inspect
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
from collections.abc import Callable, Sequence
from typing import Any

try:  # in the sandbox, evidence.driver_source registered it; as a script, it lies beside this file
    import driver_inputs
except ImportError:  # imported as part of the package (tests)
    from winnow.judge.evidence.drivers import driver_inputs

Call = driver_inputs.Call

VARIES = re.compile(r"#\s*(may vary|random|doctest:\s*\+SKIP)", re.IGNORECASE)
PROBE_TIMEOUT_S = 0.5
MAX_FOUND = 8  # probe failures reported per function
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
    """Equal as values: numbers to 1e-9 relative (complex ones too), lists, tuples and dicts
    element by element."""
    numbers = (int, float, complex)
    if isinstance(got, numbers) and isinstance(want, numbers) and not isinstance(got, bool) and not isinstance(want, bool):
        if isinstance(got, (float, complex)) or isinstance(want, (float, complex)):
            return abs(got - want) <= 1e-9 * max(1.0, abs(got), abs(want))
    if isinstance(got, (list, tuple)) and type(got) is type(want):
        return len(got) == len(want) and all(same_value(g, w) for g, w in zip(got, want, strict=True))  # type: ignore[arg-type]
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same_value(got[k], want[k]) for k in got)
    try:
        return bool(got == want)
    except Exception:
        return False


DEFAULTDICT = re.compile(r"^defaultdict\(<(?:class|type) '[\w.]+'>, (\{.*\})\)$", re.DOTALL)


class _Unordered(ast.NodeTransformer):
    """A display with its dict entries and set elements in one canonical order."""

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        self.generic_visit(node)
        if any(k is None for k in node.keys):
            return node
        pairs = sorted(zip(node.keys, node.values, strict=True), key=lambda kv: ast.dump(kv[0]))  # type: ignore[arg-type]
        node.keys, node.values = [k for k, _ in pairs], [v for _, v in pairs]
        return node

    def visit_Set(self, node: ast.Set) -> ast.AST:
        self.generic_visit(node)
        node.elts.sort(key=ast.dump)
        return node


def same_display(want: str, got: str) -> bool:
    """Whether two printed expressions are the same but for the order of a dict's entries
    or a set's elements (``{E: [exp(x)], x: [sqrt(x)]}``, keys that are not literals), a
    ``defaultdict`` printed where the docstring shows its dict."""
    match = DEFAULTDICT.match(got.strip())
    if match and want.strip().startswith("{"):
        got = match.group(1)
    try:
        a, b = ast.parse(want.strip(), mode="eval"), ast.parse(got.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    try:
        return ast.dump(_Unordered().visit(a)) == ast.dump(_Unordered().visit(b))
    except RecursionError:
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


def _places(text: str) -> int | None:
    return len(text.split(".", 1)[1]) if "." in text and "e" not in text.lower() else None


def _close(want: str, got: str) -> bool:
    if want.endswith("j") or got.endswith("j"):
        return abs(complex(want) - complex(got)) <= 1e-12 + 1e-9 * abs(complex(want))
    w, g = float(want), float(got)
    want_places, got_places = _places(want), _places(got)
    if want_places is not None:  # docstrings round or cut; so do print options (8 digits)
        places = want_places if got_places is None else min(want_places, got_places)
        return abs(w - g) <= 10.0**-places * 1.0001 + 1e-12 * abs(w)
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
        return bool(numbers_match(want, got)) or same_display(want, got)


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


def add_paths(payload: dict[str, Any]) -> None:
    """Make the payload's folders importable: ``sys_path`` first, then ``site_dirs`` (with
    their ``.pth`` files)."""
    for path in reversed(payload.get("sys_path", [])):
        sys.path.insert(0, path)
    for path in payload.get("site_dirs", []):
        site.addsitedir(path)


def load(payload: dict[str, Any]) -> types.ModuleType:
    add_paths(payload)
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


def is_method(module: types.ModuleType, qualname: str) -> bool:
    """Whether ``qualname`` is a method whose first argument is its instance or class."""
    owner_name, _, leaf = qualname.rpartition(".")
    owner = find(module, owner_name) if owner_name else None
    if not isinstance(owner, type):
        return False
    raw = next((vars(k)[leaf] for k in owner.__mro__ if leaf in vars(k)), None)
    return raw is not None and not isinstance(raw, staticmethod)


def find(module: types.ModuleType, qualname: str) -> Any:
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# --- the docstring's session -----------------------------------------------------------------------


def run_session(
    module: types.ModuleType, qualname: str, obj: Any, budget_s: float, recorder: Any = None
) -> list[dict[str, Any]]:
    """The session's records; with ``recorder`` (a CallRecorder), the calls it made are kept."""
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
        with recorder if recorder is not None else contextlib.nullcontext():
            runner.run(test, out=lambda text: None, clear_globs=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return runner.records


def stable_session(
    module: types.ModuleType, qualname: str, obj: Any, budget_s: float, recorder: Any = None
) -> list[dict[str, Any]]:
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


# --- inputs nobody wrote down --------------------------------------------------------------------


def call_text(name: str, args: list[object], kwargs: dict[str, object], method: bool = False) -> str:
    """``f(1, k=2)``; a method's call shows its instance's class (``<Box>.first(0)``)."""
    shown = args[1:] if method else args
    parts = [short_repr(a) for a in shown] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    if method and args:
        owner = args[0] if isinstance(args[0], type) else type(args[0])
        name = f"<{owner.__name__}>.{name}"
    return short(f"{name}({', '.join(parts)})")


def own_frame(tb: Any, code: types.CodeType | None) -> bool:
    """Whether the exception was raised in the function's own body (not in a callee)."""
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and code is not None and last.tb_frame.f_code is code


def type_name(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def hint_text(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def run_probes(
    fn: Callable[..., Any], name: str, doc: str, node: ast.AST | None, count: int, seed: int,
    recorded: Sequence[Call] = (), method: bool = False, sites: Sequence[Call] = (), typed_count: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Call ``fn`` (the plain function: a method's ``self`` is its first argument) on the
    probe inputs; (inputs tried, what went wrong: raised, hung, returned off its annotation)."""
    if count <= 0 or not callable(fn) or isinstance(fn, type):
        return 0, []
    typed_count = 0 if method or driver_inputs.is_private(name) else min(typed_count, driver_inputs.MAX_TYPED)
    typed = driver_inputs.typed_calls(fn, typed_count, seed)
    inputs = driver_inputs.probe_inputs(doc, name, count, random.Random(seed), recorded, method, sites, typed)
    allowed = driver_inputs.on_purpose(doc, node)
    code = getattr(fn, "__code__", None)
    returns = driver_inputs.return_hint(fn)
    found: list[dict[str, Any]] = []
    for origin, (args, kwargs) in inputs:
        try:
            args, kwargs = copy.deepcopy((args, kwargs))  # a call that mutates its input leaves the next one alone
        except Exception:
            continue
        call = call_text(name, args, kwargs, method)
        sink = io.StringIO()
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        signal.setitimer(signal.ITIMER_REAL, PROBE_TIMEOUT_S)
        try:
            value = fn(*args, **kwargs)
            signal.setitimer(signal.ITIMER_REAL, 0)
            if returns is not inspect.Parameter.empty and driver_inputs.violates(value, returns) is True:
                found.append({
                    "call": call, "exception": "", "kind": "annotation", "origin": origin, "own_frame": True,
                    "on_purpose": False,
                    "message": f"returned {short_repr(value)} ({type_name(value)}); annotated -> {hint_text(returns)}",
                })  # fmt: skip
        except _Budget:
            if origin != "typed":  # a drawn input can be large enough to be slow by right
                found.append({"call": call, "exception": "timeout", "kind": "timeout", "origin": origin,
                              "own_frame": True, "message": f"ran past {PROBE_TIMEOUT_S} s", "on_purpose": False})
        except Exception as exc:
            kind = type(exc).__name__
            found.append({
                "call": call,
                "exception": kind,
                "kind": "raised",
                "origin": origin,
                "message": short(str(exc)),
                "own_frame": own_frame(exc.__traceback__, code),
                "on_purpose": kind in allowed or any(b.__name__ in allowed for b in type(exc).__mro__),
            })
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_out, real_err
    return len(inputs), found[:MAX_FOUND]


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
    calls = payload.get("calls") or {}
    for target in payload.get("targets", []):
        qualname = target["qualname"]
        obj = find(module, qualname)
        record: dict[str, Any] = {"qualname": qualname, "examples": [], "probes": [], "inputs": 0}
        if obj is None:
            record["missing"] = True
            emit(record)
            continue
        try:
            fn = driver_inputs.unwrapped(obj)
            method = is_method(module, qualname)
            recorder = driver_inputs.CallRecorder(fn)
            if payload.get("sessions", True):
                budget = float(payload.get("example_timeout_s", 2.0))
                record["examples"] = stable_session(module, qualname, obj, budget, recorder)
            doc = getattr(obj, "__doc__", None) or ""
            node = defs.get(int(target.get("line", 0)))
            sites = [] if method else driver_inputs.call_sites(list(calls.get(qualname, [])))
            tried, found = run_probes(
                fn, qualname.rsplit(".", 1)[-1], doc, node, int(payload.get("probes", 0)),
                int(payload.get("seed", 0)), recorder.calls, method, sites, int(payload.get("typed", 0)),
            )  # fmt: skip
            record["inputs"], record["probes"] = tried, found
        except BaseException as exc:  # the function broke the driver itself: say so, go on
            signal.setitimer(signal.ITIMER_REAL, 0)
            record["error"] = short(f"{type(exc).__name__}: {exc}")
        emit(record)


if __name__ == "__main__" and len(sys.argv) > 1:  # in the sandbox the appended main(...) line runs it
    data = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8").read()
    main(json.loads(data))
