"""How much each candidate of a batch agrees with the others on the same inputs (MBR-exec).

Candidates that compute the same outputs on inputs nobody graded are more likely right than
one that stands alone (MBR-exec; AlphaCode's clustering): wrong programs are wrong in many
different ways. The outputs are the hashes the sandbox's example driver reports per input;
this module only compares them.
"""

from __future__ import annotations

from collections.abc import Sequence


def agreement(outputs: Sequence[Sequence[str | None]]) -> list[float | None]:
    """Each candidate's mean, over the inputs it ran, of the share of the *other* candidates
    that gave the same output there (one that did not run an input agrees with no one on it).
    None where there is nothing to compare: fewer than two candidates, no shared inputs, or a
    candidate that ran none of them."""
    n = len(outputs)
    width = max((len(o) for o in outputs), default=0)
    if n < 2 or width == 0:
        return [None] * n
    rows = [list(o) + [None] * (width - len(o)) for o in outputs]
    out: list[float | None] = []
    for i, row in enumerate(rows):
        shares = []
        for j, mine in enumerate(row):
            if mine is None:
                continue
            same = sum(1 for k, other in enumerate(rows) if k != i and other[j] == mine)
            shares.append(same / (n - 1))
        out.append(sum(shares) / len(shares) if shares else None)
    return out
