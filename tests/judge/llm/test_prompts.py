"""Where a sampled body ends and how it is trimmed (judge.llm.prompts)."""

from __future__ import annotations

from winnow.judge.llm.prompts import BodyEnd, trim_body


def test_body_end_and_trim() -> None:
    stop = BodyEnd(0)
    assert stop("\n    x = 1\n") is None
    assert stop("\n    x = 1\ndef g():\n") == len("\n    x = 1\n")
    assert stop("\n    return 1\n```\n") == len("\n    return 1\n")
    assert trim_body("\n    return 1\n\n\nprint(f())\n", 0) == "    return 1\n"
    assert trim_body("\n    return 1```", 0) == "    return 1\n"
    assert trim_body("\n", 0) == ""
