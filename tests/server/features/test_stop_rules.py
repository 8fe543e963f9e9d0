"""Where an inline suggestion ends and how long a batch decodes (server.features.stop_rules), without a model."""

from __future__ import annotations

from winnow.server.features.stop_rules import InlineBudget, StatementEnd


def stop_at(head: str, text: str) -> str | None:
    """Feed ``text`` to a StatementEnd token by token (one char at a time) like the engine."""
    rule = StatementEnd(head)
    for k in range(1, len(text) + 1):
        cut = rule(text[:k])
        if cut is not None:
            return text[:k][:cut]
    return None


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
