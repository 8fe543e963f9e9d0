"""doctest's output compared by value, as the module driver's sessions judge it.

doctest compares printed text, and a docstring's text goes stale in ways that say nothing
about the code: ``{2, 1}`` printed for ``{1, 2}``, ``array([ 0.645])`` for
``array([0.64493407])``, numpy 2's ``np.float64(2.5)`` for ``2.5``, a dict's entries in
another order. ``ValueChecker`` keeps doctest's rules (``ELLIPSIS``,
``NORMALIZE_WHITESPACE``) and accepts those; ``outcome_of`` says how an example that still
fails failed (``value``, ``text``, ``output``).

Runs inside the sandbox, its text part of the module driver's program and importable as
``driver_values`` (``programs.program_text``): standard library only.
"""

import ast
import doctest
import re


def as_literal(text: str) -> tuple[bool, object]:
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
        ok_w, w = as_literal(want)
        ok_g, g = as_literal(got)
        if ok_w and ok_g:
            return same_value(g, w)
        return bool(numbers_match(want, got)) or same_display(want, got)


def outcome_of(want: str, got: str) -> str:
    """How an example that did not match failed: "value" (different values: two literals, or
    the same text with different numbers), "output" (the docstring shows no output and
    something printed), "text" (the printed text differs otherwise)."""
    got = plain(got, want)
    ok_w, _ = as_literal(want)
    ok_g, _ = as_literal(got)
    if (ok_w and ok_g) or numbers_match(want, got) is False:
        return "value"
    return "output" if not want.strip() else "text"
