"""The pure parts of the inputs beyond the written examples (judge.scoring.driver_inputs):
annotations checked without an oracle, nudges, calls as written, draws from type hints."""

from __future__ import annotations

import collections.abc
import typing

from winnow.judge.evidence.drivers import driver_inputs as di
from winnow.judge.evidence.drivers.driver_annotations import violates
from winnow.judge.evidence.drivers.driver_recorder import without_defaults


def test_a_return_value_is_checked_against_its_annotation_only_where_that_is_certain() -> None:
    assert violates("7", int) and violates(None, str) and violates([1, "a"], list[int])
    assert not violates(True, int) and not violates(3, float) and not violates(3, complex)
    assert not violates(None, typing.Optional[int]) and violates("x", int | None)  # noqa: UP045 (both spellings)
    assert not violates((1, 2), tuple[int, ...]) and violates((1, "b"), tuple[int, ...])
    assert not violates(iter([1]), collections.abc.Iterator[int]) and violates(1, collections.abc.Iterable)
    T = typing.TypeVar("T")
    assert violates(1, T) is None and violates(1, typing.SupportsAbs) is not True
    assert violates(1, typing.Any) is False and violates(1, "NotResolved") is None

    class Proto(typing.Protocol):
        def go(self) -> None: ...

    assert violates(1, Proto) is None  # not runtime-checkable: cannot tell

    @typing.runtime_checkable
    class Goes(typing.Protocol):
        def go(self) -> None: ...

    class Car:
        def go(self) -> None: ...

    assert violates(Car(), Goes) is False and violates(1, Goes) is True


def test_nudges_move_one_argument_to_an_edge_and_cut_all_sequences_together() -> None:
    calls = di.nudged([([[1, 2], [3, 4]], {"k": 2})], skip_first=False)
    assert ([[1], [3]], {"k": 2}) in calls and ([[], []], {"k": 2}) in calls
    assert ([[1, 2], [3, 4]], {"k": 0}) in calls and ([[], [3, 4]], {"k": 2}) in calls
    assert all(c[0][0] == "self" for c in di.nudged([(["self", 3], {})], skip_first=True))


def test_a_recorded_call_leaves_out_trailing_defaults_as_a_person_writes_it() -> None:
    def f(a, b=None, *, c=1):
        return a

    assert without_defaults(f, ([1, None], {"c": 1})) == ([1], {})
    assert without_defaults(f, ([1, 0], {"c": 2})) == ([1, 0], {"c": 2})


def test_call_site_texts_become_calls_only_when_every_argument_is_a_literal() -> None:
    assert di.call_sites(["3, key='a'", "x, 1", "*a", "[1, 2]"]) == [([3], {"key": "a"}), ([[1, 2]], {})]


def test_draws_from_type_hints_are_small_seeded_and_skip_what_cannot_be_drawn() -> None:
    def mean(values: list[float], scale: int) -> float:
        return sum(values) * scale

    first, again = di.typed_calls(mean, 12, seed=3), di.typed_calls(mean, 12, seed=3)
    assert first == again and 0 < len(first) <= 12
    assert all(isinstance(a[0], list) and len(a[0]) <= 5 and -20 <= a[1] <= 20 for a, _ in first)

    def untyped(x, y: int) -> int:
        return y

    def opaque(x: typing.Callable[[int], int]) -> int:
        return 0

    assert di.typed_calls(untyped, 12, 0) == [] and di.typed_calls(opaque, 12, 0) == []
