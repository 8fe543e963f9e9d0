"""Java mutants: single-point bugs inside the entry method, that parse, labelled by running them."""

from __future__ import annotations

import difflib
import random
import shutil
from collections import Counter

import pytest

from winnow.judge.dataset.java.mutations import java_mutants, java_mutation_sites
from winnow.judge.dataset.java.program import find_method, method_signature, parse
from winnow.judge.dataset.java.program import java_normalized as normalized
from winnow.judge.dataset.labelling import run_against_tests as run_candidate
from winnow.judge.dataset.mutations import BUG_CLASSES
from winnow.judge.dataset.problems import Problem, load_problems
from winnow.judge.dataset.source_edits import apply_edits
from winnow.judge.dataset.variants import augment_problem

# Constructs the shipped problems lack: string concatenation, else-if, do/while, an annotation,
# `!`, a non-ASCII comment and string before the edits (tree-sitter counts bytes), a helper.
SNIPPET = """public class Solution {
    // héllo ✓
    static int helper(int x) { return x + 1; }

    public static String label(int n, String prefix, boolean loud) {
        @SuppressWarnings("unused") int unused = 7;
        String out = prefix + n;
        int k = n * 2 - 1;
        if (n < 0) {
            throw new IllegalArgumentException("négatif");
        }
        if (k > 10) {
            out = out.toUpperCase();
        } else if (k > 5) {
            out = out + "?";
        }
        do {
            k -= 3;
        } while (k > 0 && !loud);
        return loud ? out : out.substring(0, Math.min(3, out.length()));
    }
}
"""


def _java_problems() -> list[Problem]:
    problems = load_problems("java:sample")
    assert problems and all(p.language == "java" and p.reference for p in problems)
    return problems


def _body_span(code: str, entry_point: str) -> tuple[int, int]:
    """Character offsets of the entry method's body."""
    body = find_method(parse(code).root_node, entry_point).child_by_field_name("body")
    data = code.encode("utf-8")
    return len(data[: body.start_byte].decode()), len(data[: body.end_byte].decode())


def _check_localized(reference: str, entry_point: str, mutant: str, edits: tuple) -> None:
    """``mutant`` is ``reference`` with ``edits`` made, all inside the method body, on one stretch of lines."""
    assert mutant == apply_edits(reference, edits) and mutant != reference
    start, end = _body_span(reference, entry_point)
    assert 1 <= len(edits) <= 2 and all(start < e[0] <= e[1] < end for e in edits), edits
    tail = len(reference) - end
    assert mutant[:start] == reference[:start] and mutant[len(mutant) - tail :] == reference[end:]
    matcher = difflib.SequenceMatcher(None, reference.splitlines(), mutant.splitlines(), autojunk=False)
    assert len([op for op in matcher.get_opcodes() if op[0] != "equal"]) == 1, edits


def test_mutants_of_every_shipped_problem_parse_and_differ_by_one_edit_in_the_method() -> None:
    for p in _java_problems():
        assert p.reference is not None
        mutants = java_mutants(p.reference, p.entry_point, 1000, random.Random(0))
        assert len(mutants) >= 8, (p.id, len(mutants))
        keys = {normalized(p.reference)}
        for code, site in mutants:
            assert not parse(code).root_node.has_error, (p.id, site)
            assert method_signature(code, p.entry_point) == method_signature(p.reference, p.entry_point)
            assert site.bug_class in BUG_CLASSES, site
            _check_localized(p.reference, p.entry_point, code, site.edits)
            keys.add(normalized(code))
        assert len(keys) == len(mutants) + 1, f"{p.id}: duplicate mutants"


def test_augmented_java_problems_cover_several_bug_classes() -> None:
    classes: Counter[str] = Counter()
    for p in _java_problems():
        mutants = [r for r in augment_problem(p, k=8, seed=0) if r["origin"] == "mutant"]
        assert 1 <= len(mutants) <= 8, p.id
        classes.update(r["bug_class"] for r in mutants)
    assert set(classes) <= set(BUG_CLASSES)
    assert len(classes) >= 3, classes


def test_mutants_are_deterministic_for_a_seed() -> None:
    differ = False
    for p in _java_problems():
        first = augment_problem(p, k=6, seed=5)
        assert first == augment_problem(p, k=6, seed=5)
        differ |= first != augment_problem(p, k=6, seed=6)
    assert differ, "another seed should pick other mutants somewhere"


def test_the_expected_mutants_of_a_loop() -> None:
    p = next(p for p in _java_problems() if p.id == "java/longest_run")
    assert p.reference is not None
    texts = {apply_edits(p.reference, s.edits) for s in java_mutation_sites(p.reference, p.entry_point)}
    for old, new in [
        ("i < xs.length", "i <= xs.length"),  # comparison
        ("i < xs.length;", "i < xs.length - 1;"),  # off-by-one: loop bound
        ("int i = 0;", "int i = 1;"),  # off-by-one: loop start
        ("xs[i - 1]", "xs[i]"),  # off-by-one: index (i - 1 + 1 reads as i)
        ("i > 0 && xs", "i > 0 || xs"),  # boolean operator
        ("run + 1", "run - 1"),  # arithmetic operator
        ("i++", "i--"),
        ("int best = 0, run = 0;", "int best = 0, run = 1;"),  # constant
        ("= (i > 0 &&", "= (!(i > 0 &&"),  # negated condition
        ("Math.max(best, run)", "Math.min(best, run)"),  # builtin
        ("Math.max(best, run)", "Math.max(run, best)"),  # swapped arguments
        ("return best;", "return 0;"),  # return value by declared type
        ("return best;", "return run;"),
    ]:
        assert any(new in t and old not in t for t in texts), (old, new)


def test_snippet_sites_respect_strings_annotations_and_layout() -> None:
    sites = java_mutation_sites(SNIPPET, "label")
    texts = [apply_edits(SNIPPET, s.edits) for s in sites]
    for code, site in zip(texts, sites, strict=True):
        assert not parse(code).root_node.has_error, site
        _check_localized(SNIPPET, "label", code, site.edits)
        assert "static int helper(int x) { return x + 1; }" in code
        assert '@SuppressWarnings("unused") int unused' in code
    assert not any("prefix - n" in t or 'out - "?"' in t for t in texts), "no `-` on strings"
    assert not any('@SuppressWarnings("")' in t for t in texts), "annotations are left alone"
    for old, new in [
        ('IllegalArgumentException("négatif")', 'IllegalArgumentException("")'),  # offsets past non-ASCII
        ("k > 0 && !loud", "k > 0 && loud"),  # dropped `!`
        ("k -= 3", "k += 3"),
        ("return loud ? out", "return null"),
        ("return loud ? out", "return !loud ? out"),
        ("out.substring(0,", "out.substring(1,"),
        ("out.toUpperCase()", "out.toLowerCase()"),
    ]:
        assert any(new in t and old not in t for t in texts), (old, new)
    assert any("throw new" not in t for t in texts)  # a dropped guard
    assert any('out + "?"' not in t and "} else if" not in t for t in texts)  # a dropped else-if branch


def test_java_code_without_the_entry_point_has_no_mutants() -> None:
    assert java_mutants(SNIPPET, "missing", 5, random.Random(0)) == []
    assert java_mutants("public class Solution { int f( { }", "f", 5, random.Random(0)) == []
    assert method_signature(SNIPPET, "label") == "String (int n, String prefix, boolean loud)"


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("javac") is None, reason="javac not installed (a JDK is needed to run Java mutants)"
)
def test_java_mutants_are_labelled_by_running_them() -> None:
    p = next(p for p in _java_problems() if p.id == "java/digit_sum")
    assert p.reference is not None
    assert run_candidate(p, p.reference).status == "passed"
    mutants = [r for r in augment_problem(p, k=8, seed=0) if r["origin"] == "mutant"][:4]
    statuses = [run_candidate(p, r["code"]).status for r in mutants]
    assert "failed" in statuses, list(zip([r["transform"] for r in mutants], statuses, strict=True))
