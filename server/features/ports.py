"""What each feature needs from the server, as narrow Protocols.

``WinnowServer`` (app.py) satisfies every one of them; the unit tests hand a feature a
small fake with just these members. A feature never sees the server object itself, so
the members listed here are all it can touch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from lsprotocol import types

from winnow.judge.evidence.project_tests.project import ProjectSuite
from winnow.judge.llm.prompts import PromptContext
from winnow.judge.runtime import Runtime
from winnow.judge.scoring.manifest import JudgeManifest
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.lsp.settings import Settings
from winnow.server.models.calls import TrackedJob
from winnow.server.workspace.documents import CursorContext, Snapshot

T = TypeVar("T")


class Documents(Protocol):
    def snapshot(self, uri: str) -> Snapshot | None: ...

    def open_uris(self) -> list[str]: ...


class Notices(Protocol):
    """The user-facing messages (``lsp.status.Messages``)."""

    def show(self, text: str, level: types.MessageType = ...) -> None: ...

    def once(self, key: str, text: str, level: types.MessageType = ..., show: bool = ...) -> bool: ...


class ProgressReporter(Protocol):
    """One ``$/progress`` sequence (``lsp.status.Progress``)."""

    def report(self, message: str) -> None: ...

    def end(self, message: str) -> None: ...


class TestProjectsLookup(Protocol):
    """The workspace's test projects (``workspace.test_projects.ProjectSuites``)."""

    def project_of(self, path: str) -> ProjectSuite | None: ...


class CodeRunsStatus(Protocol):
    """Whether the workspace's code runs, as the status bar shows it (``lsp.status.Status``)."""

    def set_code_runs(self, runs: bool, note: str) -> None: ...


class Work(Protocol):
    """Model work as the status bar shows it (``lsp.status.Status``)."""

    def work_started(self, what: str) -> None: ...

    def work_finished(self, latency_ms: float | None) -> None: ...


class Models(Protocol):
    """The models behind one worker (``models.host.ModelHost``)."""

    @property
    def loaded(self) -> asyncio.Event: ...

    @property
    def has_judge(self) -> bool: ...

    def judge_info(self) -> JudgeManifest | None: ...

    def require(self) -> Runtime: ...

    async def wait_ready(self, what: str) -> Runtime: ...

    def track(self, kind: str, cancelled: Callable[[], bool]) -> TrackedJob: ...

    async def run(self, submit: Callable[[Runtime], Future[T]], job: TrackedJob | None = None) -> T: ...


class HelperStubs(Protocol):
    """Stubs of the workspace definitions a document can call (``workspace.context``)."""

    def helpers(self, snap: Snapshot, exclude: str | None = None) -> dict[str, str]: ...


class WorkspaceFacts(HelperStubs, Protocol):
    """The workspace's folders too: a module run in the sandbox imports from them."""

    @property
    def roots(self) -> list[str]: ...

    def call_sites(self, path: str, names: Iterable[str]) -> dict[str, tuple[str, ...]]: ...


class PromptContexts(HelperStubs, Protocol):
    def prompt_context(self, uri: str, ctx: CursorContext) -> PromptContext | None: ...


class DocumentFeatureHost(Protocol):
    """What the features that work on a document's functions share (hints, the implement action)."""

    @property
    def test_projects(self) -> TestProjectsLookup: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def documents(self) -> Documents: ...

    @property
    def models(self) -> Models: ...

    @property
    def messages(self) -> Notices: ...

    @property
    def shutdown(self) -> CancelFlag: ...


class DiagnosticsHost(DocumentFeatureHost, Protocol):
    """What correctness diagnostics use."""

    @property
    def status(self) -> CodeRunsStatus: ...

    def progress(self, title: str) -> ProgressReporter:
        """A new ``$/progress`` sequence (long background work: mapping a module's tests)."""
        ...

    @property
    def workspace_context(self) -> WorkspaceFacts: ...

    def interactive_waiting(self) -> bool: ...

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None: ...


class CodeActionsHost(DocumentFeatureHost, Protocol):
    """What the implement action uses."""

    @property
    def status(self) -> Work: ...

    @property
    def workspace_context(self) -> HelperStubs: ...

    async def workspace_apply_edit_async(self, params: types.ApplyWorkspaceEditParams) -> Any: ...


class InlineHost(Protocol):
    """What inline generation uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def models(self) -> Models: ...

    @property
    def status(self) -> Work: ...

    @property
    def workspace_context(self) -> PromptContexts: ...
