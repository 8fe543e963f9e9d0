"""The arguments a docstring session really passed to a function, kept to call it again.

``variance(data)`` after ``data = [2.75, 1.75]`` in a session is a call on that list; the
module driver records it while the session runs (``CallRecorder``) and tries it again, and
its arguments nudged, as probe inputs (origin ``example``). A method's call keeps the
instance the session built; ``unwrapped`` is the plain function whose calls are recorded
(behind a method, property or decorator).

Runs inside the sandbox (``programs.program_text`` registers it as the module
``driver_recorder``, after ``driver_inputs``, before the module driver's text): standard
library only.
"""

import copy
import inspect
import sys
import types
from collections.abc import Callable

try:  # in the sandbox, registered before this one; as a script, it lies beside this file
    import driver_inputs
except ImportError:  # imported as part of the package (tests)
    from winnow.judge.evidence.drivers import driver_inputs

Call = driver_inputs.Call
MAX_RECORDED = 8  # calls kept per function from one session


def unwrapped(obj: object) -> object:
    """The plain function behind a method, classmethod, property or decorator (``__wrapped__``)."""
    if isinstance(obj, property):
        obj = obj.fget
    obj = getattr(obj, "__func__", obj)
    try:
        obj = inspect.unwrap(obj)  # type: ignore[arg-type]
    except ValueError:
        pass
    return obj


class CallRecorder:
    """Keeps a deep copy of the arguments of each call of one code object while active
    (``sys.setprofile``: it sees calls made through a package's namespace, a wrapper or a
    method alike)."""

    def __init__(self, fn: object) -> None:
        self.fn = fn
        self.code: types.CodeType | None = getattr(fn, "__code__", None)
        self.calls: list[Call] = []
        self._previous: Callable[..., object] | None = None

    def __enter__(self) -> "CallRecorder":
        if self.code is not None:
            self._previous = sys.getprofile()
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.code is not None:
            sys.setprofile(self._previous)

    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if event != "call" or frame.f_code is not self.code or len(self.calls) >= MAX_RECORDED:
            return
        try:
            call = arguments(frame.f_code, frame.f_locals)
            self.calls.append(copy.deepcopy(without_defaults(self.fn, call)))
        except Exception:  # an argument that cannot be copied: that call is not replayed
            pass


def arguments(code: types.CodeType, local: dict[str, object]) -> Call:
    """(args, kwargs) that reproduce a call from the frame's parameters at entry."""
    names = code.co_varnames
    n_pos, n_kw = code.co_argcount, code.co_kwonlyargcount
    args = [local[n] for n in names[:n_pos]]
    kwargs = {n: local[n] for n in names[n_pos : n_pos + n_kw]}
    at = n_pos + n_kw
    if code.co_flags & inspect.CO_VARARGS:
        args.extend(local.get(names[at], ()))  # type: ignore[call-overload]
        at += 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        kwargs.update(local.get(names[at], {}))  # type: ignore[call-overload]
    return args, kwargs


def _same(a: object, b: object) -> bool:
    try:
        return a is b or (type(a) is type(b) and bool(a == b))
    except Exception:
        return False


def without_defaults(fn: object, call: Call) -> Call:
    """The call as a person would write it: trailing arguments that equal their defaults left out."""
    args, kwargs = list(call[0]), dict(call[1])
    defaults = getattr(fn, "__defaults__", None) or ()
    n_pos = fn.__code__.co_argcount if hasattr(fn, "__code__") else len(args)
    first_default = n_pos - len(defaults)
    while args and len(args) <= n_pos and len(args) - 1 >= first_default:
        if not _same(args[-1], defaults[len(args) - 1 - first_default]):
            break
        args.pop()
    for key, value in (getattr(fn, "__kwdefaults__", None) or {}).items():
        if key in kwargs and _same(kwargs[key], value):
            del kwargs[key]
    return args, kwargs
