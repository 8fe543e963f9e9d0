"""Small numeric helpers: the README's example for `winnow complete`."""


def running_max(numbers: list[int]) -> list[int]:
    """Return a list where element i is the largest of numbers[0..i].

    >>> running_max([1, 3, 2, 5, 4])
    [1, 3, 3, 5, 5]
    >>> running_max([])
    []
    """


def count_vowels(text: str) -> int:
    """Return how many characters of text are vowels (a, e, i, o, u, either case).

    >>> count_vowels("Hello World")
    3
    """
