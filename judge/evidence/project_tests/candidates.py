"""Best of N by the user's tests: a stub's candidates each put in place in the module as the
editor has it, and run against the tests that call the function by name (a stub has no
coverage yet), one forked child per candidate in one sandboxed process.

Only Python projects have runners here (pytest, unittest): ``LANGUAGES`` says so, so the
caller asks instead of naming a language.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from winnow.judge.evidence.project_tests.project import ProjectSuite
from winnow.judge.evidence.project_tests.runs import CandidateTests, Document, run_candidates
from winnow.judge.evidence.project_tests.selection import by_name, case_id
from winnow.judge.sites import FunctionSite
from winnow.judge.sites.python import python_body, replace_body

#: The languages whose projects' tests Winnow runs (pytest and unittest are Python's).
LANGUAGES = frozenset({"python"})
#: The most tests a best-of-N batch runs.
MAX_TESTS = 20


@dataclass(frozen=True)
class ImplementTests:
    """What a best-of-N batch is checked against: the user's tests of the function, and the
    module (as the editor has it) each candidate goes into."""

    project: ProjectSuite
    ids: tuple[str, ...]
    path: str
    text: str  # the whole module
    site: FunctionSite  # the function to implement, in ``text``'s lines

    def describe(self) -> str:
        return f"{len(self.ids)} of your tests"


def stub_cases(project: ProjectSuite, path: str, text: str, site: FunctionSite) -> ImplementTests | None:
    """The tests that call ``site``'s function by name, or None when none does."""
    if site.language not in LANGUAGES:
        return None
    found = by_name(project.test_files, site.name)
    ids = tuple(dict.fromkeys(case_id(project.runner, project.root, f, q) for f, q, _line in found))[:MAX_TESTS]
    return ImplementTests(project, ids, path, text, site) if ids else None


def _module_with(tests: ImplementTests, code: str) -> str:
    """The module with the candidate's body in the function's place (at its indentation)."""
    body = python_body(textwrap.dedent(code), tests.site.name)
    if body is None:
        return tests.text  # does not parse: the stub stays, and fails its tests
    return replace_body(tests.text, tests.site, textwrap.indent(textwrap.dedent(body), _body_indent(tests.site)))


def _body_indent(site: FunctionSite) -> str:
    """How the function's body is indented in the file: as its docstring is, else four more
    than its ``def``."""
    lines = site.header.split("\n")
    second = lines[1] if len(lines) > 1 else ""
    return second[: len(second) - len(second.lstrip())] if second.strip() else " " * (site.indent + 4)


def check_candidates(tests: ImplementTests, codes: Sequence[str], timeout_s: float = 10.0) -> list[CandidateTests]:
    """How each candidate (a whole function) fares on the tests, in order."""
    documents = [Document(tests.path, _module_with(tests, code)) for code in codes]
    return run_candidates(tests.project, tests.ids, documents, timeout_s=timeout_s,
                          total_s=max(30.0, timeout_s * len(codes) + 15))  # fmt: skip
