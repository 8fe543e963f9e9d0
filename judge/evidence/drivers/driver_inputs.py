"""The inputs a driver calls a function on beyond its written examples.

Sources of inputs, each tagged with its ``origin`` in what the module driver reports:

- ``example``: the arguments the docstring session really passed (``driver_recorder``:
  ``variance(data)`` after ``data = [2.75, 1.75]`` gives the list, and a method's ``self``
  comes with it), or the literal arguments of a call in an example;
- ``nudge``: one of those arguments moved to an edge (0, -1, empty, one element...);
- ``call-site``: the literal arguments of calls in the workspace and its tests, found by the
  server (``calls`` in the payload: argument source texts);
- ``typed``: drawn with Hypothesis from the parameters' type hints (small, bounded values),
  when Hypothesis is importable in the sandbox.

For best of N, ``shared_inputs`` gives every candidate of a task the same inputs, and
``fingerprint`` what each returned, as text two candidates share when their values match
(the example driver's agreement).

Runs inside the sandbox (``programs.program_text`` registers this file as the module
``driver_inputs`` before the drivers and the parts that import it): standard library only,
Hypothesis optional; it imports no other part, so the example driver can take it alone.
"""

import ast
import collections.abc
import doctest
import inspect
import random
import re
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

Call = tuple[list[object], dict[str, object]]
MAX_TYPED = 12  # inputs drawn from type hints per function
ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z0-9_]*(?:Error|Exception|Warning))\b")
Item = TypeVar("Item")


# --- arguments moved to an edge --------------------------------------------------------------------


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
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        kind = type(value)
        return [v for v in (kind(), kind(value[:1]), kind(value[::-1])) if v != value]
    if isinstance(value, dict) and type(value) is dict:
        return [{}] if value else []
    return []


def nudged(calls: list[Call], skip_first: bool) -> list[Call]:
    """Each call with one argument nudged (never a method's ``self``), and with all its
    list and tuple arguments cut to one element, then to none, together (``correlation(x, y)``
    with both one point long)."""
    out: list[Call] = []
    for args, kwargs in calls:
        at = [i for i, v in enumerate(args) if type(v) in (list, tuple) and (i or not skip_first)]
        if len(at) > 1:
            for cut in (1, 0):
                out.append(([type(v)(v[:cut]) if i in at else v for i, v in enumerate(args)], kwargs))  # type: ignore[index]
        for i, value in enumerate(args):
            if i == 0 and skip_first:
                continue
            for other in nudges(value):
                out.append(([*args[:i], other, *args[i + 1 :]], kwargs))
        for key, value in kwargs.items():
            for other in nudges(value):
                out.append((args, {**kwargs, key: other}))
    return out


# --- literal calls ----------------------------------------------------------------------------------


def literal_call(node: ast.Call) -> Call | None:
    """The call's arguments when every one is a literal (no ``*args``)."""
    try:
        args = [ast.literal_eval(a) for a in node.args if not isinstance(a, ast.Starred)]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if len(args) != len(node.args) or len(kwargs) != len(node.keywords):
        return None
    return args, kwargs


def call_sites(texts: list[str]) -> list[Call]:
    """Calls from their argument source (``"3, key='a'"``), as the server found them."""
    out = []
    for text in texts:
        try:
            node = ast.parse(f"f({text})", mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if isinstance(node, ast.Call) and (call := literal_call(node)) is not None:
            out.append(call)
    return out


# --- which inputs a function gets --------------------------------------------------------------------


def example_calls(doc: str, name: str) -> Iterator[Call]:
    """The literal arguments of every call of ``name`` in the docstring's examples."""
    for example in doctest.DocTestParser().get_examples(doc):
        yield from calls_in(example.source, name)


def calls_in(source: str, name: str) -> Iterator[Call]:
    """The literal arguments of every call of ``name`` (``f(...)`` or ``x.f(...)``) in ``source``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called == name and (call := literal_call(node)) is not None:
            yield call


def probe_inputs(
    doc: str, name: str, count: int, rng: random.Random, recorded: Sequence[Call] = (), method: bool = False,
    sites: Sequence[Call] = (), typed: Sequence[Call] = (),
) -> list[tuple[str, Call]]:
    """(origin, call) to try, at most ``count``: the examples' own calls (as the session made
    them, else the literal ones), then their arguments nudged one at a time, the call sites'
    literal arguments and inputs drawn from the type hints, shuffled together. A private
    helper (``_name``) gets no invented inputs: its callers keep its preconditions."""
    own = list(recorded) or ([] if method else list(example_calls(doc, name)))
    invented = not is_private(name)
    others = [("nudge", c) for c in nudged(own, skip_first=method)] if invented else []
    others += [("call-site", c) for c in sites] + ([("typed", c) for c in typed] if invented else [])
    rng.shuffle(others)
    return distinct([("example", c) for c in own] + others, lambda item: item[1])[:count]


def distinct(items: Sequence[Item], call_of: Callable[[Item], Call]) -> list[Item]:
    """``items`` without repeats of the same call (first kept), in order; a call whose
    arguments cannot be shown is left out."""
    seen: set[str] = set()
    out = []
    for item in items:
        args, kwargs = call_of(item)
        try:
            key = repr((args, sorted(kwargs.items())))
        except Exception:
            continue
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


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


# --- inputs from type hints ------------------------------------------------------------------------


def type_hints(fn: Callable[..., object]) -> dict[str, object]:
    """The resolved hints of ``fn``'s parameters and return ({} when they do not resolve)."""
    try:
        return typing.get_type_hints(fn)
    except Exception:  # a forward reference the module never defines: no hints
        return {}


def strategy(hint: object, st: types.ModuleType, depth: int = 0) -> object:
    """A Hypothesis strategy of small values for ``hint`` (None: not one we draw)."""
    if depth > 3:
        return None
    origin, params = typing.get_origin(hint), typing.get_args(hint)
    small = {
        bool: st.booleans(), int: st.integers(-20, 20), float: st.floats(-1e3, 1e3, allow_nan=False),
        str: st.text(max_size=8), bytes: st.binary(max_size=8), type(None): st.none(),
    }  # fmt: skip
    if hint in small:
        return small[hint]
    if origin is typing.Union or origin is types.UnionType:
        parts = [strategy(p, st, depth + 1) for p in params]
        return None if any(p is None for p in parts) else st.one_of(*parts)
    if origin is typing.Literal:
        return st.sampled_from(params) if params else None
    if origin in (list, collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection):
        inner = strategy(params[0], st, depth + 1) if params else st.integers(-20, 20)
        return None if inner is None else st.lists(inner, max_size=5)
    if origin in (set, frozenset, collections.abc.Set):
        inner = strategy(params[0], st, depth + 1) if params else st.integers(-20, 20)
        return None if inner is None else st.frozensets(inner, max_size=5).map(origin if origin is not collections.abc.Set else frozenset)
    if origin is tuple:
        if len(params) == 2 and params[1] is Ellipsis:
            inner = strategy(params[0], st, depth + 1)
            return None if inner is None else st.lists(inner, max_size=5).map(tuple)
        parts = [strategy(p, st, depth + 1) for p in params]
        return None if not parts or any(p is None for p in parts) else st.tuples(*parts)
    if origin in (dict, collections.abc.Mapping):
        if len(params) != 2:
            return None
        key, value = strategy(params[0], st, depth + 1), strategy(params[1], st, depth + 1)
        return None if key is None or value is None else st.dictionaries(key, value, max_size=4)
    return None


def typed_calls(fn: Callable[..., object], count: int, seed: int) -> list[Call]:
    """Up to ``count`` calls drawn from the type hints of ``fn``'s parameters, when every
    required one has a hint we can draw from and Hypothesis is there."""
    if count <= 0:
        return []
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    hints = type_hints(fn)
    required = [
        p for p in signature.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]  # fmt: skip
    if not required or any(p.name not in hints for p in required):
        return []
    if any(p.default is p.empty and p.kind in (p.KEYWORD_ONLY,) for p in signature.parameters.values()):
        return []
    try:
        import hypothesis
        from hypothesis import strategies as st
    except Exception:  # not installed where the module runs: no typed inputs
        return []
    parts = [strategy(hints[p.name], st) for p in required]
    if any(p is None for p in parts):
        return []
    drawn: list[tuple[object, ...]] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count, database=None, deadline=None, phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck), verbosity=hypothesis.Verbosity.quiet,
    )  # fmt: skip
    @hypothesis.given(st.tuples(*parts))
    def draw(values: tuple[object, ...]) -> None:
        drawn.append(values)

    try:
        draw()
    except Exception:
        return []
    unique: dict[str, Call] = {}
    for values in drawn:
        unique.setdefault(repr(values), (list(values), {}))
    calls = list(unique.values())
    random.Random(seed).shuffle(calls)
    return calls[:count]


# --- the same inputs for every candidate of a task (best of N) ----------------------------------


def shared_inputs(calls: Sequence[str], name: str, fn: Callable[..., object] | None, count: int, seed: int) -> list[Call]:
    """The inputs every candidate of one task runs on, at most ``count``: the literal calls of
    ``name`` in the examples (``calls``: their source), then those arguments nudged and, when
    there are too few, inputs drawn from ``fn``'s type hints, shuffled with ``seed``."""
    own = [c for text in calls for c in calls_in(text, name)]
    rng = random.Random(seed)
    others = nudged(own, skip_first=False)
    rng.shuffle(others)
    if fn is not None and len(own) + len(others) < count:
        others += typed_calls(fn, count - len(own) - len(others), seed)
    return distinct(own + others, lambda call: call)[:count]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def fingerprint(value: object, depth: int = 0) -> str:
    """What a call returned, as text two candidates share exactly when their values match:
    floats to 6 significant digits, sets and dicts in sorted order, generators drained (up
    to 1,000 items), object addresses left out."""
    if depth > 20:
        return "…"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, complex):
        return f"({fingerprint(value.real, depth + 1)}+{fingerprint(value.imag, depth + 1)}j)"
    if isinstance(value, (list, tuple)):
        inner = ",".join(fingerprint(v, depth + 1) for v in value[:1000])
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, (set, frozenset)):
        return "set{" + ",".join(sorted(fingerprint(v, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(f"{fingerprint(k, depth + 1)}:{fingerprint(v, depth + 1)}" for k, v in value.items())
        return "dict{" + ",".join(items) + "}"
    if isinstance(value, types.GeneratorType) or (
        isinstance(value, collections.abc.Iterator) and not isinstance(value, (str, bytes))
    ):
        items = []
        for i, item in enumerate(value):
            if i >= 1000:
                break
            items.append(fingerprint(item, depth + 1))
        return "iter[" + ",".join(items) + "]"
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(exc).__name__}>"
    return _ADDRESS.sub("", text)[:2000]
