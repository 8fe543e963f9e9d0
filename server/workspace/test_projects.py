"""The workspace's test projects: for a file, the project whose tests may reach it (the
innermost workspace folder holding it, else the file's own folder), found once and kept.

Shared by the hints (which run the tests of an edited function) and the implement action
(which runs a stub's candidates against the tests that call it)."""

from __future__ import annotations

import os
from collections.abc import Callable

from winnow.judge.evidence.project_tests.project import ProjectSuite, discover


class ProjectSuites:
    """Test projects by root folder (None: the folder has no tests)."""

    def __init__(self, roots: Callable[[], list[str]], runner: Callable[[], str]) -> None:
        self._roots = roots
        self._runner = runner
        self.projects: dict[tuple[str, str], ProjectSuite | None] = {}

    def project_of(self, path: str) -> ProjectSuite | None:
        """The project whose tests may reach the file at ``path``."""
        roots = [r for r in self._roots() if path.startswith(r.rstrip(os.sep) + os.sep)]
        root = max(roots, key=len) if roots else os.path.dirname(path)
        runner = self._runner()
        key = (root, runner)
        if key not in self.projects:
            project = discover(root)
            if project is not None and runner != "auto":
                project = ProjectSuite(project.root, runner, project.test_files, project.sys_path, project.python,
                                      f"winnow.diagnostics.testRunner = {runner}")  # fmt: skip
            self.projects[key] = project
        return self.projects[key]

    def forget(self) -> None:
        """Test files changed on disk: find the projects again when next asked."""
        self.projects.clear()
