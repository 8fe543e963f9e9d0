"""Javadoc examples: the forms Java documentation writes them in, each a call and a value;
prose read only where it cannot be mistaken."""

from __future__ import annotations

import pytest

from winnow.judge.evidence.java.examples import find_java_examples, literal


def pairs(doc: str, name: str, n_params: int = 1) -> list[tuple[str, str | None]]:
    return [(e.call, e.expected) for e in find_java_examples(doc, name, n_params)]


def test_code_tags_with_equality_and_equals() -> None:
    doc = "Greatest common divisor.\n\n{@code gcd(35, 21) == 7}\n{@code Calc.gcd(4, 6) == 2}"
    assert pairs(doc, "gcd", 2) == [("gcd(35, 21)", "7"), ("Calc.gcd(4, 6)", "2")]
    assert pairs("{@code sorted(List.of(2, 1)).equals(List.of(1, 2))}", "sorted") == [
        ("sorted(List.of(2, 1))", "List.of(1, 2)")
    ]
    # Braces inside the tag are balanced: an array literal is one argument.
    assert pairs("{@code sum(new int[] {1, 2}) == 3}", "sum") == [("sum(new int[] {1, 2})", "3")]


def test_a_code_call_then_its_value() -> None:
    assert pairs('{@code rev("ab")} returns {@code "ba"}', "rev") == [('rev("ab")', '"ba"')]
    assert pairs("{@code twice(4)} is 8.", "twice") == [("twice(4)", "8")]


def test_pre_blocks() -> None:
    doc = 'Reverses.\n<pre>\nrev("abc") // "cba"\nrev("") == ""\nrev("x") -> "x"\n</pre>'
    ex = find_java_examples(doc, "rev", 1)
    assert [(e.call, e.expected) for e in ex] == [('rev("abc")', '"cba"'), ('rev("")', '""'), ('rev("x")', '"x"')]
    assert [e.line for e in ex] == [2, 3, 4]  # lines of the Javadoc, for the hint's pointer


def test_prose_value_for_argument() -> None:
    doc = "Sum of digits.\n@param n a number\n@return for example 6 for 123, 0 for 0"
    assert pairs(doc, "digitSum") == [("digitSum(123)", "6"), ("digitSum(0)", "0")]
    doc = '@return true for "", "a", "abba"; false for "ab"'
    assert pairs(doc, "isPalindrome") == [
        ('isPalindrome("")', "true"), ('isPalindrome("a")', "true"), ('isPalindrome("abba")', "true"),
        ('isPalindrome("ab")', "false"),
    ]  # fmt: skip


@pytest.mark.parametrize("doc", [
    "returns 0 for empty input",  # not a literal argument
    "at most 10 for 5 digits",  # the argument runs on into words
    "Returns x. {@code x == y}",  # not a call of the method
    "{@code f(3) == f(4)}",  # the expected side calls the method too
    "{@code f(a) == 2 && f(b) == 3}",  # not one comparison
])  # fmt: skip
def test_what_is_not_an_example(doc: str) -> None:
    assert pairs(doc, "f") == []


def test_prose_is_read_only_for_one_parameter_and_only_when_nothing_better_is_there() -> None:
    assert pairs("@return 7 for 35", "gcd", 2) == []
    assert pairs("@return 6 for 123\n{@code f(1) == 1}", "f") == [("f(1)", "1")]


def test_literals() -> None:
    assert all(literal(t) for t in ('"a\\"b"', "'c'", "-3", "2.5e3", "10L", "true", "null"))
    assert not any(literal(t) for t in ("x", "f(1)", '"open'))
