"""Find the examples in a task's docstring: each one a call and the value it should equal.

A docstring's examples are a cheap, strong signal: a candidate that gets one wrong is almost
surely wrong. Real docstrings write them in many ways (``>>>`` doctests, ``f(x) == y``,
``f(x) ➞ y``, ``f(x) should return y``, "Input: … Output: …", "For x = …, the result should
be …"), and as doctest text they rarely compare right (``["a"]`` never equals ``['a']``), so
each example is parsed into a call and an expected value, to be compared with ``==`` (floats
with a tolerance) when ``example_runs`` runs them in the sandbox.

This module picks the function and puts the readers together: ``doctest_examples`` (``>>>``
sessions) first, then, on the lines those do not cover, ``prose_examples``; both read text
with ``example_syntax``, where ``Example`` is defined.
"""

from __future__ import annotations

import ast
import builtins
import inspect

from winnow.judge.evidence.doctest_examples import doctest_examples
from winnow.judge.evidence.example_syntax import Example, ExampleScope, Kind
from winnow.judge.evidence.prose_examples import io_examples, line_examples

__all__ = ["Example", "Kind", "find_examples", "find_examples_and_setup"]


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _parse_module(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        from winnow.judge.sites import functions

        sites = functions(source)
        if not sites:
            return None
        try:  # the header and docstring of each function are enough to find examples
            return ast.parse("\n".join(_stubbed(s.header) for s in sites if s.indent == 0))
        except (SyntaxError, ValueError):
            return None


def _stubbed(header: str) -> str:
    return header.rstrip() + "\n    ...\n"


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _examples_of(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, module: set[str], callables: set[str]
) -> tuple[list[Example], list[str]]:
    doc = _docstring(fn)
    if not doc:
        return [], []
    # Only calls of the function itself and of the task's own functions and classes are examples.
    scope = ExampleScope(
        fn=fn.name,
        targets=frozenset({fn.name} | callables),
        known=frozenset(set(dir(builtins)) | module | {fn.name}),
        params=tuple(a.arg for a in [*fn.args.posonlyargs, *fn.args.args]),
    )
    examples, covered, setup = doctest_examples(doc, scope)
    examples += line_examples(doc, scope, covered)
    examples += io_examples(doc, fn.name, scope, covered)
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for ex in sorted(examples, key=lambda e: e.line):
        key = (" ".join(ex.call.split()), ex.expected)
        if key not in seen:
            seen.add(key)
            unique.append(ex)
    return unique, setup


def _docstring(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The docstring, or the string right after the body's first imports (``import math`` then
    the text, as in HumanEval/115: Python sees no docstring there, a reader does)."""
    for node in fn.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return inspect.cleandoc(node.value.value)
        return None
    return None


def find_examples(source: str, name: str | None = None) -> list[Example]:
    """The examples in the docstring of function ``name`` of ``source`` (a task or a whole candidate).

    Without ``name``: the last top-level function whose docstring has examples (the function
    a task asks for comes after its helpers).
    """
    return find_examples_and_setup(source, name)[0]


def find_examples_and_setup(source: str, name: str | None = None) -> tuple[list[Example], list[str], str | None]:
    """:func:`find_examples`, with the ``>>>`` setup statements that run before them (``>>> x = f(3)``)
    and the name of the function they were read from (None when there was none to read)."""
    tree = _parse_module(source)
    if tree is None:
        return [], [], None
    module = _module_names(tree)
    fns = _functions(tree)
    callables = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    chosen = [f for f in fns if f.name == name] if name else list(reversed(fns))
    for fn in chosen:
        examples, setup = _examples_of(fn, module, callables)
        if examples or name:
            return examples, setup, fn.name
    return [], [], None
