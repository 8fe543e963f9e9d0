"""The second held-out set's generator: one layout for every candidate, one-token bugs."""

from __future__ import annotations

import ast
import difflib

from winnow.judge.dataset.problems import load_problems
from winnow.judge.dataset.unparsed_heldout import candidates


def test_candidates_share_one_layout_and_differ_by_one_edit() -> None:
    problem = {p.id: p for p in load_problems("humaneval:heldout")}["HumanEval/107"]
    cands = candidates(problem, k=2, seed=0)
    by_id = {c["candidate_id"]: c for c in cands}
    assert {"u-canonical", "u-rewrite"} <= set(by_id)
    assert all(c["problem_id"] == "HumanEval/107" for c in cands)
    for c in cands:  # everything is printed by ast.unparse: layout carries no signal
        assert c["code"] == ast.unparse(ast.parse(c["code"])) + "\n"
    reference = by_id["u-canonical"]["code"]
    for c in cands:
        if c["origin"] != "mutant":
            continue
        base = by_id["u-rewrite"]["code"] if "-rewrite-" in c["candidate_id"] else reference
        changed = [d for d in difflib.ndiff(base.splitlines(), c["code"].splitlines()) if d[:1] in "+-"]
        assert len(changed) == 2, changed  # one line out, one line in
        assert c["bug_class"] in ("comparison", "constant", "operator")
    rewrite = by_id["u-rewrite"]["code"]
    assert rewrite != reference and "v0" in rewrite
    # parameters keep the task's names
    assert ast.parse(rewrite).body[-1].args.args[0].arg == ast.parse(reference).body[-1].args.args[0].arg
    assert candidates(problem, k=2, seed=0) == cands  # deterministic
