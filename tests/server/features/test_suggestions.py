"""Cleaning, ranking and caching inline suggestions (server.features.suggestions), without a model."""

from __future__ import annotations

from lsprotocol import types

from winnow.judge.llm.generation import InlineCandidate
from winnow.server.features.suggestions import SuggestionCache, clean_and_rank
from winnow.server.workspace.documents import (
    Snapshot,
    cursor_context,
)


def Cand(text: str, mean_logprob: float, finish_reason: str = "stop") -> InlineCandidate:  # noqa: N802
    return InlineCandidate(0, text, 0, mean_logprob, finish_reason)


def ctx_for(before: str, after: str):
    snap = Snapshot("file:///t.py", before + after, 1, "python", "utf-16")
    lines = before.split("\n")
    return cursor_context(snap, types.Position(line=len(lines) - 1, character=len(lines[-1])))


def test_clean_and_rank_orders_and_filters():
    ctx = ctx_for("def f(values):\n    total = ", "\n    return total\n")
    ranked = clean_and_rank(
        [
            Cand("sum(values)", -0.9),
            Cand("0", -0.2),
            Cand("sum(values)  ", -0.5),  # same text: the better score is kept
            Cand("   ", -0.1),  # empty
            Cand("len(values) + len(values) + len(values) + len(values)", -0.1, "deadline"),
            Cand("((((((((((((((((((((((((((((((((((((", -0.05),  # degenerate
        ],
        ctx,
    )
    assert [s.text for s in ranked] == [
        "0",
        "sum(values)",
        "len(values) + len(values) + len(values) + len(values)",
        "(" * 36,
    ]
    assert ranked[2].signals["truncated"] and ranked[-1].signals["repetitive"]


def test_suggestions_that_repeat_the_following_text_are_dropped():
    ctx = ctx_for("def f(x):\n    ", "\n    return x + 1\n")
    assert clean_and_rank([Cand("return x + 1", -0.1), Cand("x += 1", -0.5)], ctx)[0].text == "x += 1"
    ctx = ctx_for("    print(", ")\n")
    # ")" only restates the rest of the line; "values)" keeps what it adds.
    assert [s.text for s in clean_and_rank([Cand(")", -0.1), Cand("values)", -0.3)], ctx)] == ["values"]


def test_cache_answers_repeats_and_typed_prefixes():
    cache = SuggestionCache()
    ctx = ctx_for("def f(values):\n    total = ", "\n")
    cache.put("u", ctx, clean_and_rank([Cand("sum(values)", -0.1), Cand("0", -0.3)], ctx))
    assert [s.text for s in cache.get("u", ctx)[0]] == ["sum(values)", "0"]
    typed = ctx_for("def f(values):\n    total = su", "\n")
    found, kind = cache.get("u", typed)
    assert kind == "typed" and [s.text for s in found] == ["m(values)"]
    assert cache.get("u", ctx_for("def f(values):\n    total = x", "\n")) is None
    assert cache.get("other", typed) is None
