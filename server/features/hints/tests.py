"""The project's own tests as evidence: after an edit, the tests that reach the edited
functions run against the editor's text, and a test that passed before and fails now (in
every round) names itself, its assertion and its line in the hint.

Per workspace folder, the tests are found once (``judge.evidence.project_tests.project``).
Per module, the map of which tests run which function is built in the background when the
module is opened (coverage, in the sandbox; kept in the user's cache folder), at the lowest
priority: it waits for inline completion and for the hints of the document being edited.
Until it exists, and for a function it has never seen, the tests that call the function by
name stand in. Only the functions changed since the document was opened run their tests; a
test counts as having passed before when it passed when mapped, or in any run since. Once a
map is built, the project's warm worker starts (``project_tests.warm``), so an edit's tests
do not pay for pytest's start.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

from winnow.judge.evidence.project_tests.maps import module_map
from winnow.judge.evidence.project_tests.project import ProjectSuite
from winnow.judge.evidence.project_tests.runs import CaseOutcome, Document, ModuleTests, run_tests, warm_up
from winnow.judge.evidence.project_tests.selection import by_name, case_id
from winnow.judge.evidence.project_tests.verdicts import FunctionTests, by_test, function_tests
from winnow.judge.sites import FunctionSite, functions
from winnow.server.features.ports import DiagnosticsHost
from winnow.server.workspace.context import uri_path
from winnow.server.workspace.documents import Snapshot

log = logging.getLogger(__name__)

#: The most tests one edit runs (the ones reaching the edited functions, nearest first).
MAX_TESTS_PER_EDIT = 60
MAX_BASE_BYTES = 2_000_000


class SuiteEvidence:
    """Projects, maps, the version each document started from, and what passed before."""

    def __init__(self, host: DiagnosticsHost, sandbox: asyncio.Lock) -> None:
        self.host = host
        self.sandbox = sandbox  # one sandboxed run at a time, the hints' and the tests'
        self.maps: dict[str, ModuleTests] = {}
        self.mapping: dict[str, asyncio.Task[None]] = {}
        self.bases: dict[str, str] = {}  # uri → the text the document started from
        #: test id → whether it passed before (on the text mapped, the text the document
        #: started from, or in any run since): a test known only to fail is never pinned.
        self.before: dict[str, bool] = {}
        self.runs = 0

    # --- what the document started from ------------------------------------------------------

    def opened(self, uri: str, text: str) -> None:
        """Remember the version the user starts from: the file on disk (else the text opened)."""
        path = uri_path(uri)
        base = text
        if path is not None and os.path.isfile(path) and os.path.getsize(path) <= MAX_BASE_BYTES:
            try:
                with open(path, encoding="utf-8") as f:
                    base = f.read()
            except (OSError, UnicodeDecodeError):
                pass
        self.bases.setdefault(uri, base)

    def closed(self, uri: str) -> None:
        self.bases.pop(uri, None)

    def _changed(self, uri: str, sites: Sequence[FunctionSite]) -> list[FunctionSite]:
        """The functions whose text differs from the version the document started from."""
        base = self.bases.get(uri)
        if base is None:
            return []
        before = {s.qualname: s.code for s in functions(base)}
        return [s for s in sites if before.get(s.qualname) != s.code]

    # --- the project and its map ---------------------------------------------------------------

    def schedule_map(self, uri: str) -> None:
        """Build the map of ``uri``'s module in the background (once), at the lowest priority
        (the caller checked that its code may run)."""
        path = uri_path(uri)
        if path is None or path in self.maps or path in self.mapping or not path.endswith(".py"):
            return
        project = self.host.test_projects.project_of(path)
        if project is None:
            return
        self.mapping[path] = asyncio.ensure_future(self._build_map(uri, path, project))

    async def _build_map(self, uri: str, path: str, project: ProjectSuite) -> None:
        base = self.bases.get(uri)
        if base is None:
            return
        while self.host.interactive_waiting():  # inline completion first
            await asyncio.sleep(0.2)
        progress = self.host.progress("Winnow: mapping tests")
        progress.report(f"which tests reach {os.path.basename(path)}")
        try:
            async with self.sandbox:
                found = await asyncio.to_thread(
                    module_map, project, path, base, functions(base), self.host.settings.diagnostics.test_timeout
                )
        except Exception as exc:
            log.info("test map of %s failed: %s", path, exc)
            found = ModuleTests(path, {}, {}, [], error=str(exc))
        self.maps[path] = found
        for test, outcome in found.outcomes.items():
            self.before[test] = self.before.get(test, False) or outcome == "passed"
        n = len({t for tests in found.by_function.values() for t in tests})
        progress.end(f"{n} tests reach {len(found.by_function)} functions" if not found.error else found.error[:200])
        self.mapping.pop(path, None)
        async with self.sandbox:  # the first edit's tests then start warm
            await asyncio.to_thread(warm_up, project)

    def _reaching(self, project: ProjectSuite, path: str, site: FunctionSite) -> tuple[list[str], str]:
        found = self.maps.get(path)
        if found is not None and site.qualname in found.by_function:
            return found.by_function[site.qualname], "coverage"
        called = by_name(project.test_files, site.name)
        return [case_id(project.runner, project.root, f, q) for f, q, _line in called], "by-name"

    # --- a run after an edit ------------------------------------------------------------------

    async def evidence(self, snap: Snapshot, sites: Sequence[FunctionSite]) -> dict[str, FunctionTests]:
        """The tests of the functions edited since the document was opened, run now against
        its text: their verdict by qualname (nothing for unchanged functions)."""
        path = uri_path(snap.uri)
        if path is None or not self.host.settings.diagnostics.tests:
            return {}
        project = self.host.test_projects.project_of(path)
        changed = self._changed(snap.uri, sites)
        if project is None or not changed:
            return {}
        reaching = {s.qualname: self._reaching(project, path, s) for s in changed}
        ids = list(dict.fromkeys(t for tests, _how in reaching.values() for t in tests))[:MAX_TESTS_PER_EDIT]
        if not ids:
            return {q: FunctionTests(q, (), how) for q, (_t, how) in reaching.items()}
        unknown = [t for t in ids if t not in self.before]
        if unknown:  # no map yet: what they did on the version the document started from
            base = self.bases.get(snap.uri, snap.text)
            self._remember(await self._run(project, unknown, Document(path, base), repeat=1))
        rounds = by_test(await self._run(project, ids, Document(path, snap.text), repeat=2))
        passed_before = {t for t, passed in self.before.items() if passed}
        verdicts = {q: function_tests(q, tests, how, rounds, passed_before) for q, (tests, how) in reaching.items()}
        self._remember([r for runs in rounds.values() for r in runs])
        return verdicts

    async def _run(self, project: ProjectSuite, ids: list[str], document: Document, repeat: int) -> list[CaseOutcome]:
        async with self.sandbox:
            outcomes, error = await asyncio.to_thread(
                run_tests, project, ids, [document], repeat, self.host.settings.diagnostics.test_timeout
            )
        self.runs += 1
        if error:
            log.info("tests of %s did not finish: %s", document.path, error)
        return outcomes

    def _remember(self, outcomes: Sequence[CaseOutcome]) -> None:
        """A test that passed in every round it ran (a pass runs once) has passed before, from now on."""
        for test, runs in by_test(outcomes).items():
            ok = all(r.outcome == "passed" for r in runs)
            self.before[test] = self.before.get(test, False) or ok
