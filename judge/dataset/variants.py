"""Training candidates from reference solutions: likely-wrong mutants and likely-right rewrites.

Small generators rarely pass, so a judge would see few correct candidates. Variants of the
reference solution fill the gap: single-point bugs of the classes code models make
(:mod:`~winnow.judge.dataset.mutations`, its ``BUG_CLASSES``: off-by-one, comparisons,
operators, constants, wrong variable, edge cases, swapped arguments, wrong builtin or method,
wrong return value, dropped statement) and behaviour-keeping rewrites
(:mod:`~winnow.judge.dataset.rewrites`: renamed locals, mirrored comparisons, ``x += 1`` /
``x = x + 1``, loop / comprehension, reordered independent statements, ...). Each class has
its own site finders, listed in ``MUTATORS`` and ``REWRITERS`` of those modules; the
machinery they share (sites, edits, the parsed program) is :mod:`~winnow.judge.dataset.source_edits`.

A variant's origin is only a hint: many mutants are equivalent and a rewrite can break
code that inspects itself, so every variant is labelled by execution (``winnow label`` or
``winnow augment --label``), never assumed; :func:`~winnow.judge.dataset.labelling.balance`
then picks, per problem, as many failing mutants as there are passing candidates (selection
after labelling, since an equivalent mutant passes).

Edits are made on the source text at AST node positions rather than by ``ast.unparse``, so a
variant keeps the reference's formatting, comments and docstring: a judge must not be able
to tell variants from the original by their layout. Only the entry point's body is changed.
Java problems get the reference and up to ``k`` single-point mutants
(:mod:`~winnow.judge.dataset.java.mutations`, the same bug classes); there are no Java
rewrites yet, so the mutants fill the rewrites' share as well.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

from winnow.judge.dataset.java.mutations import java_mutants
from winnow.judge.dataset.mutations import mutation_sites_in
from winnow.judge.dataset.problems import Problem
from winnow.judge.dataset.records import CandidateRecord
from winnow.judge.dataset.rewrites import rewrite_sites_in
from winnow.judge.dataset.source_edits import Program, Site, apply_edits, entry_function


@dataclass(frozen=True)
class Variant:
    """A candidate made from the reference: its code, and how it was made."""

    code: str
    origin: str  # "canonical" | "mutant" | "rewrite"
    transform: str
    bug_class: str  # "canonical" | "rewrite" | a key of mutations.BUG_CLASSES


def normalized(code: str) -> str | None:
    """A layout-independent key of a program (None when it does not parse)."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return None


def _signature(code: str, entry_point: str) -> str | None:
    try:
        func = entry_function(ast.parse(code), entry_point)
    except SyntaxError:
        return None
    return ast.dump(func.args) if func else None


def mutation_sites(code: str, entry_point: str, rng: random.Random | None = None) -> list[Site]:
    """Every single-point mutation of the entry point's body."""
    return list(mutation_sites_in(Program(code, entry_point), rng or random.Random(0)))


def rewrite_sites(code: str, entry_point: str, rng: random.Random | None = None) -> list[Site]:
    """Every semantics-preserving rewrite of the entry point's body (one rename choice)."""
    return list(rewrite_sites_in(Program(code, entry_point), rng or random.Random(0)))


def _apply(code: str, site: Site, entry_point: str, signature: str | None) -> str | None:
    try:
        new = apply_edits(code, site.edits)
    except ValueError:
        return None
    if _signature(new, entry_point) != signature or signature is None:
        return None  # does not parse, lost the entry point, or changed its signature
    return new


def _pick(code: str, entry_point: str, rng: random.Random, sites_of: str) -> tuple[str, Site] | None:
    """Apply one randomly chosen site (``sites_of``: mutation | rewrite) to ``code``.

    A bug class (a rewrite kind) is chosen first, then a site of it: otherwise the most
    frequent ones (variable uses, constants) would crowd out the rest.
    """
    p = Program(code, entry_point)
    sites = list(mutation_sites_in(p, rng) if sites_of == "mutation" else rewrite_sites_in(p, rng))
    signature = _signature(code, entry_point)
    groups: dict[str, list[Site]] = {}
    for site in sites:
        groups.setdefault(site.bug_class if sites_of == "mutation" else site.kind, []).append(site)
    names = sorted(groups)
    rng.shuffle(names)
    for name in names:
        group = groups[name]
        rng.shuffle(group)
        for site in group:
            new = _apply(code, site, entry_point, signature)
            if new is not None and normalized(new) != normalized(code):
                return new, site
    return None


def mutate_once(code: str, entry_point: str, rng: random.Random) -> tuple[str, Site] | None:
    """``code`` with one single-point bug in ``entry_point`` (a class picked first, then a
    site of it), or None when no mutation applies or the code does not parse."""
    try:
        return _pick(code, entry_point, rng, "mutation")
    except (SyntaxError, ValueError):
        return None


def _rewrites(
    reference: str, entry_point: str, n: int, rng: random.Random, seen: set[str | None]
) -> list[Variant]:
    """Up to ``n`` distinct rewrites of the reference, half of them two rewrites stacked."""
    found: list[Variant] = []
    for _ in range(4 * n):
        if len(found) >= n:
            break
        picked = _pick(reference, entry_point, rng, "rewrite")
        if picked is None:
            break
        code, desc = picked[0], picked[1].description
        if rng.random() < 0.5:
            again = _pick(code, entry_point, rng, "rewrite")
            if again is not None:
                code, desc = again[0], f"{desc}; {again[1].description}"
        key = normalized(code)
        if key not in seen:
            seen.add(key)
            found.append(Variant(code, "rewrite", desc, "rewrite"))
    return found


def _mutants(
    reference: str, entry_point: str, n: int, rng: random.Random, seen: set[str | None], bases: list[Variant]
) -> list[Variant]:
    """Up to ``n`` distinct single-point mutants, half of them made on top of a rewrite."""
    found: list[Variant] = []
    for _ in range(6 * n):
        if len(found) >= n:
            break
        base, base_desc = reference, ""
        if bases and rng.random() < 0.5:
            chosen = rng.choice(bases)
            base, base_desc = chosen.code, chosen.transform + "; then "
        picked = _pick(base, entry_point, rng, "mutation")
        if picked is None:
            continue
        code, site = picked
        key = normalized(code)
        if key not in seen:
            seen.add(key)
            found.append(Variant(code, "mutant", base_desc + site.description, site.bug_class))
    return found


def variants(
    reference: str, entry_point: str, k: int, rng: random.Random, rewrite_share: float = 1 / 2
) -> list[Variant]:
    """The reference itself, then up to ``k`` distinct rewrites and mutants of it.

    About ``rewrite_share`` of the ``k`` are rewrites; the mutants fill the rest (and the
    share rewrites could not fill), half of them made on top of a rewrite, so that "differs
    from the reference" does not mean "wrong".
    """
    seen = {normalized(reference)}
    rewrites = _rewrites(reference, entry_point, round(k * rewrite_share), rng, seen)
    mutants = _mutants(reference, entry_point, k - len(rewrites), rng, seen, rewrites)
    return [Variant(reference, "canonical", "reference solution", "canonical"), *rewrites, *mutants]


def augment_problem(
    problem: Problem, k: int = 8, seed: int = 0, rewrite_share: float = 1 / 2
) -> list[CandidateRecord]:
    """Candidate records for one problem; the same ``seed`` always gives the same records."""
    if problem.reference is None:
        return []
    rng = random.Random(f"{seed}:{problem.id}")
    found = [Variant(problem.reference, "canonical", "reference solution", "canonical")]
    if problem.language == "python":
        try:
            found = variants(problem.reference, problem.entry_point, k, rng, rewrite_share)
        except (SyntaxError, ValueError):
            pass
    elif problem.language == "java":
        found += [
            Variant(code, "mutant", site.description, site.bug_class)
            for code, site in java_mutants(problem.reference, problem.entry_point, k, rng)
        ]
    records: list[CandidateRecord] = []
    counters = {"rewrite": 0, "mutant": 0}
    prefix = {"rewrite": "rw", "mutant": "mut"}
    for v in found:
        if v.origin == "canonical":
            cid = "canonical"
        else:
            counters[v.origin] += 1
            cid = f"{prefix[v.origin]}-{counters[v.origin]}"
        records.append(
            {
                "problem_id": problem.id,
                "candidate_id": cid,
                "code": v.code,
                "origin": v.origin,
                "transform": v.transform,
                "bug_class": v.bug_class,
                "seed": seed,
            }
        )
    return records
