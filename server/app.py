"""The language server object and its handlers.

``WinnowServer`` wires the parts together and holds what they share (settings,
documents, messages, status, the shutdown flag); each part takes a narrow Protocol of
what it needs (features/ports.py), never the server itself:

- ``ModelHost`` (models/host.py): the Runtime, loaded in the background;
- ``InlineCompletion`` (features/inline.py): inline completion and the completion fallback;
- ``CodeActions`` (features/code_actions.py): implement-with-best-of-N, runners-up;
- ``Diagnostics`` (features/hints/): correctness hints, a pipeline (schedule → collect → decide → present);
- ``WorkspaceContext`` (workspace/context.py): the workspace's other files in prompts;
- ``Status`` / ``Messages`` (lsp/status.py): winnow/status, $/progress, messages.

Each handler turns LSP params into a call on one of those parts and the result into
lsprotocol types. Concurrency is explicit: handlers run on the asyncio loop; every
model call goes to the Runtime's single worker thread and is awaited, never blocked on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from winnow.judge.llm.model_choices import ModelChoices
from winnow.judge.sandbox.choice import isolation
from winnow.server.features import convert, stats
from winnow.server.features.code_actions import CodeActions
from winnow.server.features.hints.pipeline import EDIT_DELAY_S, OPEN_DELAY_S, Diagnostics
from winnow.server.features.inline import InlineCompletion
from winnow.server.features.quick_fixes import QuickFixes
from winnow.server.features.suggestions import Suggestion
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.lsp.failures import guarded
from winnow.server.lsp.protocol import WinnowProtocol
from winnow.server.lsp.settings import ParsedSettings, Settings, parse
from winnow.server.lsp.status import Messages, Progress, Status
from winnow.server.lsp.version import package_version
from winnow.server.models.downloads import DownloadResult
from winnow.server.models.host import ModelHost
from winnow.server.workspace.context import WorkspaceContext
from winnow.server.workspace.documents import OpenDocuments
from winnow.server.workspace.test_projects import ProjectSuites
from winnow.server.workspace.trust import may_run

log = logging.getLogger(__name__)

CMD_SHOW_STATS = "winnow.showStats"
CMD_RELOAD = "winnow.reloadModels"
CMD_IMPLEMENT = "winnow.implementFunction"
CMD_MODELS_LIST = "winnow.models.list"
CMD_MODELS_DOWNLOAD = "winnow.models.download"


class WinnowServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("winnow", package_version(), protocol_cls=WinnowProtocol)
        self.settings = Settings()
        self.messages = Messages(self)
        self.status = Status(self)
        self.models = ModelHost(self, self.status, self.messages)
        self.shutdown = CancelFlag()  # set once the client asks the server to shut down
        self.documents = OpenDocuments(self)
        self.workspace_context = WorkspaceContext(self)  # other files of the workspace in prompts
        self.test_projects = ProjectSuites(lambda: self.workspace_context.roots,
                                          lambda: self.settings.diagnostics.test_runner)  # fmt: skip
        self.inline = InlineCompletion(self, self.shutdown)
        self.diagnostics = Diagnostics(self)
        self.code_actions = CodeActions(self, self.diagnostics.hint_of)
        self.quick_fixes = QuickFixes(self.documents)  # answering a hint: update the docstring, ignore it
        self.models.on_ready.append(self.diagnostics.refresh_all)
        self.started = time.perf_counter()

    # pygls reports failures outside requests (malformed JSON, a notification handler
    # that raised) with showMessage by default; log each kind once instead.
    def report_server_error(self, error: Exception, source: Any) -> None:
        name = getattr(source, "__name__", str(source))
        self.messages.once(
            f"server-error:{name}:{type(error).__name__}",
            f"Winnow: ignored a message it could not handle ({name}: {type(error).__name__}: {str(error)[:200]}). "
            "The server keeps running.",
            types.MessageType.Warning,
        )

    def client_takes_markdown(self) -> bool:
        try:
            item = self.client_capabilities.text_document.completion.completion_item
            return types.MarkupKind.Markdown in (item.documentation_format or [])
        except AttributeError:
            return False

    def client_has_inline_completion(self) -> bool:
        """Whether the client shows inline completions (ghost text) itself: then the completion
        fallback stays out of its suggestion list."""
        try:
            return self.client_capabilities.text_document.inline_completion is not None
        except AttributeError:
            return False

    def interactive_waiting(self) -> bool:
        """True while an inline/completion request waits for or runs on the model."""
        return self.inline.waiting()

    def progress(self, title: str) -> Progress:
        """A new ``$/progress`` sequence for background work (mapping a module's tests)."""
        return Progress(self, self.status, title)

    async def refresh_code_runs(self) -> None:
        """Whether the workspace's code runs, for the status bar (probing the sandbox off the
        event loop): every workspace folder trusted, running code on, a strong sandbox."""
        await asyncio.to_thread(isolation)
        roots = self.workspace_context.roots or [None]
        verdicts = [may_run(root, self.settings.diagnostics.run_code, self.settings.trusted_folders) for root in roots]
        refused = next((v for v in verdicts if not v.runs), None)
        if refused is None:
            self.status.set_code_runs(True, f"runs your code under {isolation().describe()}")
        else:
            self.status.set_code_runs(False, refused.why)

    def clear_suggestions(self) -> None:
        """Forget every cached suggestion and ranked body (the models or their inputs changed)."""
        self.inline.service.cache.clear()
        self.code_actions.ranked.clear()

    # --- settings -----------------------------------------------------------------------

    def apply_settings(self, parsed: ParsedSettings, initial: bool = False) -> None:
        if parsed.errors:
            self.messages.show(
                "Winnow: invalid settings were replaced by their defaults: " + "; ".join(parsed.errors),
                types.MessageType.Warning,
            )
        if parsed.unknown:
            self.messages.log("Winnow: ignoring unknown settings: " + ", ".join(sorted(parsed.unknown)))
        old, new = self.settings, parsed.settings
        self.settings = new
        self.workspace_context.settings_changed(old, new)
        if old.context != new.context:
            self.inline.service.cache.clear()  # suggestions made with the old context must not come back
        if initial or old.model_key() != new.model_key():
            self.clear_suggestions()
            self.models.load(new)
            return
        if old.threads != new.threads:
            self.models.set_threads(new.threads)
        if (old.candidates, old.temperature, old.max_tokens) != (new.candidates, new.temperature, new.max_tokens):
            self.inline.service.cache.clear()
        if old.diagnostics != new.diagnostics or old.trusted_folders != new.trusted_folders:
            self.diagnostics.refresh_all()  # granting trust shows the hints without a restart
            asyncio.ensure_future(self.refresh_code_runs())

    async def pull_settings(self) -> None:
        """Ask a pull-model client (workspace/configuration) for the "winnow" section."""
        try:
            workspace = self.client_capabilities.workspace
            if not (workspace and workspace.configuration):
                return
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="winnow")])
                ),
                timeout=10,
            )
        except Exception as exc:
            self.messages.once("settings:pull", f"Winnow: could not read the client's settings ({exc})")
            return
        if result and isinstance(result[0], dict) and result[0]:
            self.apply_settings(parse(result[0]))


def create_server() -> WinnowServer:
    """The server with every handler registered: each handler turns params into a call
    on the server's services and their result into lsprotocol types."""
    server = WinnowServer()
    _register_lifecycle(server)
    _register_documents(server)
    _register_completion(server)
    _register_commands(server)
    _register_models(server)
    return server


def _register_lifecycle(server: WinnowServer) -> None:
    """initialize / initialized / settings / shutdown."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: WinnowServer, params: types.InitializeParams) -> None:
        ls.apply_settings(parse(params.initialization_options), initial=True)
        ls.workspace_context.start(params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: WinnowServer, params: types.InitializedParams) -> None:
        ls.status.client_initialized()
        await ls.workspace_context.register_watchers()
        await ls.refresh_code_runs()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded(types.WORKSPACE_DID_CHANGE_CONFIGURATION, empty=None)
    async def did_change_configuration(ls: WinnowServer, params: types.DidChangeConfigurationParams) -> None:
        if params.settings is None:
            await ls.pull_settings()
        else:
            ls.apply_settings(parse(params.settings))

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: WinnowServer, *args: Any) -> None:
        ls.shutdown.set()
        ls.inline.service.cancel_all()
        ls.workspace_context.close()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, ls.models.close), timeout=10)
        except Exception:
            log.debug("closing the models failed", exc_info=True)


def _register_documents(server: WinnowServer) -> None:
    """Document and workspace-file notifications: they schedule work, never wait on it."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded(types.TEXT_DOCUMENT_DID_OPEN, empty=None)
    async def did_open(ls: WinnowServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.diagnostics.opened(params.text_document.uri)
        ls.workspace_context.opened(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @guarded(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, empty=None)
    async def did_change_watched_files(ls: WinnowServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.workspace_context.watched(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded(types.TEXT_DOCUMENT_DID_CHANGE, empty=None)
    async def did_change(ls: WinnowServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.inline.service.note_change(params.text_document.uri)
        ls.workspace_context.changed(params.text_document.uri)
        ls.diagnostics.schedule(params.text_document.uri, EDIT_DELAY_S)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    @guarded(types.TEXT_DOCUMENT_DID_SAVE, empty=None)
    async def did_save(ls: WinnowServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.diagnostics.schedule(params.text_document.uri, OPEN_DELAY_S)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded(types.TEXT_DOCUMENT_DID_CLOSE, empty=None)
    async def did_close(ls: WinnowServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.inline.close_document(uri)
        ls.diagnostics.close(uri)
        ls.documents.forget(uri)
        ls.workspace_context.closed(uri)


async def _suggestions_at(ls: WinnowServer, uri: str, position: types.Position) -> list[Suggestion] | None:
    """What inline completion and its completion fallback both offer at ``position``
    (None when inline completion is off or the document is unknown)."""
    if not ls.settings.inline_completion.enabled:
        return None
    snap = ls.documents.snapshot(uri)
    if snap is None:
        return None
    ls.models.require()
    outcome = await ls.inline.suggest(snap, position)
    return outcome.suggestions


def _register_completion(server: WinnowServer) -> None:
    """Inline completion, completion (the fallback for clients without inline), code actions."""

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @guarded(types.TEXT_DOCUMENT_INLINE_COMPLETION, empty=None)
    async def inline_completion(
        ls: WinnowServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        suggestions = await _suggestions_at(ls, params.text_document.uri, params.position)
        return None if suggestions is None else convert.inline_items(suggestions, params.position)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    @guarded(types.TEXT_DOCUMENT_COMPLETION, empty=None)
    async def completion(ls: WinnowServer, params: types.CompletionParams) -> types.CompletionList | None:
        if ls.client_has_inline_completion():
            return None  # its ghost text shows them: one list of suggestions, not two
        suggestions = await _suggestions_at(ls, params.text_document.uri, params.position)
        if suggestions is None:
            return None
        return convert.completion_items(suggestions, params.position, ls.client_takes_markdown())

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite],
            resolve_provider=True,
        ),
    )
    @guarded(types.TEXT_DOCUMENT_CODE_ACTION, empty=[])
    async def code_action(ls: WinnowServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return ls.code_actions.list(params) + ls.quick_fixes.list(params)  # implementing again first

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded(types.TEXT_DOCUMENT_HOVER, empty=None)
    async def hover(ls: WinnowServer, params: types.HoverParams) -> types.Hover | None:
        return ls.diagnostics.hover(params.text_document.uri, params.position.line)

    @server.feature(types.CODE_ACTION_RESOLVE)
    @guarded(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: WinnowServer, params: types.CodeAction) -> types.CodeAction:
        return await ls.code_actions.resolve(params)


def _register_commands(server: WinnowServer) -> None:
    """workspace/executeCommand: stats, reload, implement."""

    @server.command(CMD_SHOW_STATS)
    @guarded(CMD_SHOW_STATS)
    async def show_stats(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        generations = bool(args and isinstance(args[0], dict) and args[0].get("generations"))
        ls.messages.show(stats.summary(ls), types.MessageType.Info)
        return stats.collect(ls, generations)

    @server.command(CMD_RELOAD)
    @guarded(CMD_RELOAD)
    async def reload_models(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        ls.clear_suggestions()
        ok = await ls.models.load(ls.settings)
        return {"ok": ok, "error": ls.models.error, "judge_error": ls.models.judge_error}

    @server.command(CMD_IMPLEMENT)
    @guarded(CMD_IMPLEMENT)
    async def implement_function(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        return await ls.code_actions.implement_command(args)


def _register_models(server: WinnowServer) -> None:
    """Choosing a model from the editor (models/downloads.py): list, download, cancel."""

    @server.command(CMD_MODELS_LIST)
    @guarded(CMD_MODELS_LIST)
    async def list_models(ls: WinnowServer, *args: object) -> ModelChoices:
        return await ls.models.options()

    @server.command(CMD_MODELS_DOWNLOAD)
    @guarded(CMD_MODELS_DOWNLOAD)
    async def download_model(ls: WinnowServer, *args: object) -> DownloadResult:
        return await ls.models.downloads.download(args[0] if args else None)

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def cancel_progress(ls: WinnowServer, params: types.WorkDoneProgressCancelParams) -> None:
        ls.models.downloads.cancel(params.token)
