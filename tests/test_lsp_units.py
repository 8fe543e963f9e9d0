"""The server's pure parts, without a model: stop rules, the decode budget, ranking and
cleaning, the cache, prompt windows, positions and body edits."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from lsp_support import apply_edits
from lsprotocol import types

from winnow.judge.base.pysource import functions
from winnow.server import convert
from winnow.server.code_actions import implementable
from winnow.server.documents import CHARS_PER_TOKEN, PREFIX_TOKENS, Snapshot, cursor_context, window_start
from winnow.server.inline import InlineBudget, StatementEnd, SuggestionCache, clean_and_rank


def stop_at(head: str, text: str) -> str | None:
    """Feed ``text`` to a StatementEnd token by token (one char at a time) like the engine."""
    rule = StatementEnd(head)
    for k in range(1, len(text) + 1):
        cut = rule(text[:k])
        if cut is not None:
            return text[:k][:cut]
    return None


def test_statement_end_finishes_the_line_or_one_statement():
    # Code before the cursor: one line of new text.
    assert stop_at("    x = foo(", "a, b)\n    y = 2\n") == "a, b)"
    assert stop_at("    x = foo(", "a,\n        b)\n    y = 2\n") == "a,"
    assert stop_at("    x = 1", "\n    y = 2\n    z = 3\n") == "\n    y = 2"  # the next line
    assert stop_at("def f(x):", "\n    return x\n\ndef g():\n") == "\n    return x"
    assert stop_at("    plan = {", "\n        'a': 1,\n    }\n") == "\n        'a': 1,"
    assert stop_at("    x = foo(", "a, b\n    y = 2\n") == "a, b"
    # A blank line: one statement, a bracketed one to its end, a block with its body.
    assert stop_at("    ", "y = 2\n    z = 3\n") == "y = 2"
    loop = "for i in range(3):\n        print(i)\n    return i\n"
    assert stop_at("    ", loop) == "for i in range(3):\n        print(i)"
    assert stop_at("    ", "d = {\n        'a': 1,\n    }\n    e = 2\n") == "d = {\n        'a': 1,\n    }"
    doc = 's = """abc\n    def\n    """\n    x = 1\n'
    assert stop_at("    ", doc) == 's = """abc\n    def\n    """'
    assert stop_at("    ", "if a:\n" + "        b += 1\n" * 5) == "if a:\n" + "        b += 1\n" * 2 + "        b += 1"
    assert stop_at("    ", "\n\n\nfoo") == ""


class FakeEngineRun:
    """Drives an InlineBudget the way Engine.sample does: the step hook before every
    step (with the candidates still running and the decode time so far), then stop_fn
    for every sequence that took a token."""

    def __init__(self, budget: InlineBudget, lengths: list[int]) -> None:
        self.budget, self.lengths = budget, lengths

    def run(self, step_s: float = 0.01, max_steps: int = 64) -> tuple[int, str | None]:
        done = [False] * len(self.lengths)
        for step in range(max_steps):
            if self.budget.should_stop(step, done.count(False), step * step_s):
                return step, self.budget.reason
            for i, n in enumerate(self.lengths):
                if done[i]:
                    continue
                text = "x" * (step + 1) + ("\n" if step + 1 >= n else "")
                if self.budget(text) is not None:
                    done[i] = True
            if all(done):
                return step + 1, None
        return max_steps, None


def test_inline_budget_stops_stragglers_once_a_quorum_finished():
    rule = StatementEnd("    x = ")
    budget = InlineBudget(rule, n=4, budget_s=10.0, grace_steps=3)
    steps, reason = FakeEngineRun(budget, [3, 4, 40, 50]).run()
    assert reason == "quorum" and steps <= 4 + 3 + 1


def test_inline_budget_caps_decoding_time_not_prefill():
    budget = InlineBudget(StatementEnd("    x = "), n=2, budget_s=0.05, grace_steps=100)
    steps, reason = FakeEngineRun(budget, [60, 60]).run(step_s=0.01)
    assert reason == "budget" and 5 <= steps <= 7
    quick = InlineBudget(StatementEnd("    x = "), n=2, budget_s=0.05)
    assert FakeEngineRun(quick, [2, 3]).run() == (3, None)


@dataclass
class Cand:
    text: str
    mean_logprob: float
    finish_reason: str = "stop"


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


def test_prompt_window_start_holds_while_typing():
    max_prefix = int(PREFIX_TOKENS * CHARS_PER_TOKEN)
    text = "".join(f"line_{i} = {i}\n" for i in range(2000))
    offset = len(text) // 2
    start = window_start(text, offset, max_prefix)
    assert start > 0 and text[start - 1] == "\n" and offset - start <= max_prefix
    for step in (1, 40, 200):  # typing on, moving a few lines: the start is kept
        assert window_start(text, offset + step, max_prefix, start) == start
    far = window_start(text, offset + 5 * max_prefix, max_prefix, start)
    assert far != start and offset + 5 * max_prefix - far <= max_prefix
    assert window_start(text, 100, max_prefix, None) == 0


def test_positions_use_utf16_units_and_survive_surrogates():
    text = "a = '😀'\nb = '\udcff'\r\nc = 3"
    snap = Snapshot("file:///u.py", text, 1, "python", "utf-16")
    assert snap.line_count == 3 and snap.line_text(1) == "b = '\udcff'"
    pos = types.Position(line=0, character=7)  # after the emoji (2 UTF-16 units)
    assert snap.offset_at(pos) == 6
    assert snap.position_at(len("a = '😀'")) == types.Position(line=0, character=8)
    assert snap.offset_at(types.Position(line=99, character=0)) == len(text)
    ctx = cursor_context(snap, types.Position(line=2, character=4))
    assert ctx.line_before == "c = " and ctx.prefix.endswith("c = ")


def test_body_edits_replace_exactly_the_body():
    source = 'def f(x):\n    """Doc."""\n    pass\n\n\ndef g():\n    return 1'
    for site in functions(source):
        snap = Snapshot("file:///e.py", source, 1, "python", "utf-16")
        edit = convert.body_edit(snap, site, " " * (site.indent + 4) + "return 42\n")
        new = apply_edits(source, [edit])
        ast.parse(new)
        assert new.count("return 42") == 1
    stub_at_end = 'def h():\n    """Doc."""'
    site = functions(stub_at_end)[0]
    edit = convert.body_edit(Snapshot("file:///e.py", stub_at_end, 1, "python", "utf-16"), site, "    return 0\n")
    assert apply_edits(stub_at_end, [edit]) == 'def h():\n    """Doc."""\n    return 0'


def test_one_line_functions_are_not_offered():
    sites = functions("def a(): pass\n\n\nclass C:\n    def b(self):\n        ...\n")
    assert [implementable(s) for s in sites] == [False, True]
