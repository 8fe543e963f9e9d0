"""Single-point bugs in real modules: the same mutators as the training variants, applied to
one function of a whole module at a time, so that hints can be measured where users are
(false alarms on the module as it is, detection on the module with one bug).

A method is mutated as the function it is (dedented, then put back at its indentation);
the rest of the module is left byte for byte as it was.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from winnow.judge.dataset.variants import mutate_once
from winnow.judge.hints.policy import judged_functions
from winnow.judge.sites import FunctionSite, functions, source_lines


@dataclass(frozen=True)
class ModuleBug:
    """The module with one function changed: which, and how."""

    qualname: str
    source: str
    description: str
    bug_class: str


#: Draws of a mutator before giving up on a function whose bugs all leave it a stub.
STUB_RETRIES = 5


def _leaves_a_stub(code: str, name: str) -> bool:
    """Whether the changed function is a stub (only its docstring left: the server offers to
    implement it instead of judging it, so such a change is no bug to detect)."""
    return any(s.name == name and s.is_stub for s in functions(code))


def mutate_function(source: str, site: FunctionSite, rng: random.Random) -> ModuleBug | None:
    """``source`` with one single-point bug in ``site`` (None when no mutator applies); a
    change that deletes the function's whole body (dropping its one ``return``) is drawn
    again, since it makes a stub, not a bug."""
    lines = source_lines(source)
    code = "".join(lines[site.start_line : site.end_line])
    flat = textwrap.dedent(code)
    for _ in range(STUB_RETRIES):
        picked = mutate_once(flat, site.name, rng)
        if picked is None:
            return None
        if not _leaves_a_stub(picked[0], site.name):
            break
    else:
        return None
    new, site_change = picked
    indent = " " * site.indent
    body = textwrap.indent(new, indent) if site.indent else new
    if not body.endswith("\n") and code.endswith("\n"):
        body += "\n"
    mutated = "".join(lines[: site.start_line]) + body + "".join(lines[site.end_line :])
    return ModuleBug(site.qualname, mutated, site_change.description, site_change.bug_class)


def module_bugs(source: str, seed: int = 0, max_functions: int = 20) -> Iterator[ModuleBug]:
    """One bug per judged function (the first ``max_functions``), seeded per function."""
    for site in judged_functions(source)[:max_functions]:
        bug = mutate_function(source, site, random.Random(f"{seed}:{site.qualname}"))
        if bug is not None:
            yield bug
