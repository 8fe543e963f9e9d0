"""Tree-sitter grammars, one per language the editor features know, and their queries.

Adding a language is a grammar wheel (``tree-sitter-<lang>``) in ``GRAMMARS`` and a query
file ``judge/data/queries/<lang>.scm`` naming its functions (``@function``, ``@name``,
``@body``, ``@class``): a backend in ``winnow.judge.sites`` does the rest.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from winnow.judge.base.errors import WinnowError

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser, Query

#: language id (as editors name it) → the module of its grammar wheel.
GRAMMARS: dict[str, str] = {
    "python": "tree_sitter_python",
    "java": "tree_sitter_java",
}

@cache
def language(name: str) -> Language:
    """The tree-sitter ``Language`` of ``name``, loaded once."""
    if name not in GRAMMARS:
        raise WinnowError(f"no tree-sitter grammar for {name!r} (known: {', '.join(GRAMMARS)})")
    try:
        import tree_sitter

        grammar = importlib.import_module(GRAMMARS[name])
    except ImportError as exc:
        raise WinnowError(
            f"the {name} grammar needs `tree-sitter` and `{GRAMMARS[name].replace('_', '-')}`: "
            "pip install winnow-lsp (they are dependencies)"
        ) from exc
    return tree_sitter.Language(grammar.language())


def parser(name: str) -> Parser:
    """A fresh parser for ``name`` (parsers are cheap and not thread-safe: one per call)."""
    import tree_sitter

    return tree_sitter.Parser(language(name))


@cache
def query(name: str) -> Query:
    """The function-sites query of ``name``, from judge/data/queries/<name>.scm."""
    import tree_sitter

    text = resources.files("winnow.judge.data").joinpath("queries", f"{name}.scm").read_text(encoding="utf-8")
    return tree_sitter.Query(language(name), text)


def matches(name: str, node: Node) -> list[dict[str, list[Node]]]:
    """Each match of ``name``'s query under ``node``: capture name → nodes."""
    import tree_sitter

    return [captures for _, captures in tree_sitter.QueryCursor(query(name)).matches(node)]
