"""The one check a return value can fail without an oracle: its own annotation.

An input nobody wrote down has no expected value, but ``-> int`` rules out ``'8080'``: the
module driver reports such a value as evidence (kind ``annotation``). Numbers follow the
numeric tower, containers are checked by class and first elements, and what cannot be
checked (a TypeVar, a Protocol, an unresolved name) is never a violation.

Runs inside the sandbox (``programs.program_text`` registers it as the module
``driver_annotations``, after ``driver_inputs``, before the module driver's text): standard
library only.
"""

import inspect
import numbers
import types
import typing
from collections.abc import Callable

try:  # in the sandbox, registered before this one; as a script, it lies beside this file
    import driver_inputs
except ImportError:  # imported as part of the package (tests)
    from winnow.judge.evidence.drivers import driver_inputs


def violates(value: object, hint: object, depth: int = 0) -> bool | None:
    """True when ``value`` cannot be an instance of ``hint``; None when we cannot tell
    (a TypeVar, a Protocol, a string left unresolved...). Numbers follow the numeric tower
    (an int is a float), containers are checked by their own class and, for lists, sets
    and homogeneous tuples of plain classes, their first elements."""
    if depth > 2:
        return None
    if hint is None or hint is type(None):
        return value is not None
    if hint is typing.Any or hint is object:
        return False
    tower = {int: numbers.Integral, float: numbers.Real, complex: numbers.Complex}
    if hint in tower:
        return not isinstance(value, tower[hint])
    origin, params = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        verdicts = [violates(value, p, depth + 1) for p in params]
        if any(v is False for v in verdicts):
            return False
        return None if any(v is None for v in verdicts) else True
    if origin is typing.Annotated:
        return violates(value, params[0], depth + 1) if params else None
    if origin is not None:
        if not isinstance(origin, type) or _is_instance(value, origin) is None:
            return None
        if not _is_instance(value, origin):
            return True
        homogeneous = origin in (list, set, frozenset) and len(params) == 1
        if homogeneous or origin is tuple and len(params) == 2 and params[1] is Ellipsis:
            for item in list(value)[:20]:  # type: ignore[call-overload]
                if violates(item, params[0], depth + 1) is True:
                    return True
        return False
    if isinstance(hint, type):
        if hint.__module__ == "typing":
            return None
        verdict = _is_instance(value, hint)
        return None if verdict is None else not verdict
    return None


def _is_instance(value: object, cls: type) -> bool | None:
    """isinstance, or None for a class that cannot say (a Protocol not runtime-checkable)."""
    if getattr(cls, "_is_protocol", False) and not getattr(cls, "_is_runtime_protocol", False):
        return None
    try:
        return isinstance(value, cls)
    except TypeError:
        return None


def return_hint(fn: Callable[..., object]) -> object:
    """The resolved return annotation, or the sentinel ``inspect.Parameter.empty``."""
    hints = driver_inputs.type_hints(fn)
    if "return" not in hints:
        return inspect.Parameter.empty
    if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return inspect.Parameter.empty  # the call returns the generator, not the annotated values
    return hints["return"]
