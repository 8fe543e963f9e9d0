"""The language server object and its handlers.

Each handler turns LSP params into a call on one of the server's parts and the
result into lsprotocol types; the parts are:

- ``ModelHost`` (models.py): the Runtime, loaded in the background;
- ``InlineService`` (inline.py): inline completion and the completion fallback;
- ``CodeActions`` (code_actions.py): implement-with-best-of-N, runners-up;
- ``Diagnostics`` (diagnostics.py): the judge's verdicts on documented functions;
- ``Status`` / ``Messages`` (status.py): winnow/status, $/progress, messages.

Concurrency is explicit: handlers run on the asyncio loop; every model call goes to
the Runtime's single worker thread and is awaited, never blocked on.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections import deque
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from winnow.judge.base.numeric import percentile
from winnow.server import convert, documents
from winnow.server.cancellation import CancelFlag
from winnow.server.code_actions import CodeActions
from winnow.server.diagnostics import EDIT_DELAY_S, OPEN_DELAY_S, Diagnostics
from winnow.server.documents import OpenDocuments, cursor_context, snapshot
from winnow.server.failures import guarded
from winnow.server.inline import (
    INLINE_DECODE_BUDGET_S,
    INLINE_GRACE_STEPS,
    INLINE_TEMPERATURE_CAP,
    InlineBudget,
    InlineOutcome,
    InlineService,
    StatementEnd,
    Suggestion,
)
from winnow.server.model_host import ModelHost
from winnow.server.protocol import WinnowProtocol
from winnow.server.settings import ParsedSettings, Settings, parse
from winnow.server.status import Messages, Status
from winnow.server.testing_hooks import CMD_HOLD_NEXT_JOB, CMD_RELEASE_LOAD, TestHooks
from winnow.server.version import package_version
from winnow.server.workspace_context import WorkspaceContext

log = logging.getLogger(__name__)

CMD_SHOW_STATS = "winnow.showStats"
CMD_RELOAD = "winnow.reloadModels"
CMD_IMPLEMENT = "winnow.implementFunction"


def _percentile_ms(values: list[float], q: float) -> float | None:
    p = percentile(values, q)
    return None if p is None else round(p, 1)


class WinnowServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("winnow", package_version(), protocol_cls=WinnowProtocol)
        self.settings = Settings()
        self.explicit_settings: frozenset[str] = frozenset()
        self.messages = Messages(self)
        self.status = Status(self)
        self.hooks = TestHooks.from_env(self)  # None unless the test suite runs this server
        self.models = ModelHost(self, self.status, self.messages, self.hooks)
        self.shutdown = CancelFlag()  # set once the client asks the server to shut down
        self.documents = OpenDocuments(self)
        self.inline = InlineService(self.shutdown)
        self.diagnostics = Diagnostics(self)
        self.code_actions = CodeActions(self, self.diagnostics.low_score)
        self.models.on_ready.append(self.diagnostics.refresh_all)
        self.started = time.perf_counter()
        self._inline_waiting = 0
        self._window_starts: dict[str, int] = {}
        self.inline_timings: deque[dict[str, Any]] = deque(maxlen=100)  # engine timings per generation
        self.workspace_context = WorkspaceContext(self)  # other files of the workspace in prompts

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

    def interactive_waiting(self) -> bool:
        """True while an inline/completion request waits for or runs on the model."""
        return self._inline_waiting > 0

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
        self.settings, self.explicit_settings = new, parsed.explicit
        self.workspace_context.settings_changed(old, new)
        if initial or old.model_key() != new.model_key():
            self.inline.cache.clear()
            self.code_actions.ranked.clear()
            self.models.load(new)
            return
        if old.threads != new.threads:
            self.models.set_threads(new.threads)
        if (old.candidates, old.temperature, old.max_tokens) != (new.candidates, new.temperature, new.max_tokens):
            self.inline.cache.clear()
        if old.diagnostics != new.diagnostics:
            self.diagnostics.refresh_all()

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

    # --- inline ---------------------------------------------------------------------------

    def context_at(self, snap: documents.Snapshot, position: types.Position) -> documents.CursorContext:
        """The cursor context, keeping this document's prompt start while it fits."""
        ctx = cursor_context(snap, position, previous_start=self._window_starts.get(snap.uri))
        self._window_starts[snap.uri] = ctx.start
        if len(self._window_starts) > 256:
            self._window_starts.pop(next(iter(self._window_starts)))
        return ctx

    async def suggest(self, uri: str, ctx: documents.CursorContext) -> InlineOutcome:
        settings = self.settings
        self._inline_waiting += 1
        try:
            return await self.inline.suggest(
                uri, ctx, settings.debounce_ms, lambda c, flag: self._generate_inline(c, flag, uri)
            )
        finally:
            self._inline_waiting -= 1

    async def _generate_inline(self, ctx: documents.CursorContext, cancelled: Any, uri: str | None = None) -> list[Any]:
        settings = self.settings
        context = self.workspace_context.prompt_context(uri, ctx) if uri else None
        budget = InlineBudget(
            StatementEnd(ctx.line_before), settings.inline_completion.candidates, INLINE_DECODE_BUDGET_S, INLINE_GRACE_STEPS
        )
        temperature = min(settings.temperature, INLINE_TEMPERATURE_CAP)
        t0 = time.perf_counter()
        self.status.work_started("completing")
        latency = None
        job = self.models.track("inline", cancelled)
        try:
            result = await self.models.run(
                lambda rt: rt.inline(
                    ctx.prefix,
                    ctx.suffix,
                    n=settings.inline_completion.candidates,
                    max_tokens=settings.max_tokens,
                    temperature=temperature,
                    cancelled=job,
                    stop_fn=budget,
                    step_hook=budget.should_stop,
                    context=context,
                ),
                job,
            )
            latency = (time.perf_counter() - t0) * 1000.0
            self.inline_timings.append(
                result.timings.to_dict()
                | {
                    "mode": result.prompt_mode,
                    "total_ms": round(latency, 1),
                    "finish": [c.finish_reason for c in result.candidates],
                    "budget_stop": budget.reason,
                }
            )
            return result.candidates
        finally:
            self.status.work_finished(latency)

    # --- stats ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        inline = list(self.inline.latencies_ms)
        model = list(self.inline.model_latencies_ms)
        cache = self.inline.cache
        return {
            "server": {
                "version": self.version,
                "state": self.status.state,
                "message": self.status.message,
                "uptime_s": round(time.perf_counter() - self.started, 1),
                "settings": self.settings.to_json(),
                "problems": dict(self.messages.problems),  # failures by kind, each counted (logged once)
            },
            "models": self.models.describe(),
            "inline": {
                "requests": len(inline),
                "p50_ms": _percentile_ms(inline, 0.5),
                "p95_ms": _percentile_ms(inline, 0.95),
                "last_ms": round(inline[-1], 1) if inline else None,
                "model_p50_ms": _percentile_ms(model, 0.5),
                "cache_hits": cache.hits,
                "typed_through_hits": cache.partial_hits,
                "cache_misses": cache.misses,
                "last_generation": self.inline_timings[-1] if self.inline_timings else None,
            },
            "code_actions": {
                "implemented": len(self.code_actions.latencies_ms),
                "last_ms": round(self.code_actions.latencies_ms[-1], 1) if self.code_actions.latencies_ms else None,
                "mean_ms": round(statistics.fmean(self.code_actions.latencies_ms), 1)
                if self.code_actions.latencies_ms
                else None,
            },
            "context": self.workspace_context.describe(),
            "diagnostics": {
                "active": self.diagnostics.active(),
                "judged": self.diagnostics.judged,
                "cached_scores": len(self.diagnostics.scores),
            },
        }


def create_server() -> WinnowServer:
    """The server with every handler registered: each handler turns params into a call
    on the server's services and their result into lsprotocol types."""
    server = WinnowServer()
    _register_lifecycle(server)
    _register_documents(server)
    _register_completion(server)
    _register_commands(server)
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
        ls.inline.cancel_all()
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
        ls.diagnostics.schedule(params.text_document.uri, OPEN_DELAY_S)
        ls.workspace_context.opened(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @guarded(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, empty=None)
    async def did_change_watched_files(ls: WinnowServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.workspace_context.watched(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded(types.TEXT_DOCUMENT_DID_CHANGE, empty=None)
    async def did_change(ls: WinnowServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.inline.note_change(params.text_document.uri)
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
        ls._window_starts.pop(uri, None)
        ls.workspace_context.closed(uri)


async def _suggestions_at(ls: WinnowServer, uri: str, position: types.Position) -> list[Suggestion] | None:
    """What inline completion and its completion fallback both offer at ``position``
    (None when inline completion is off or the document is unknown)."""
    if not ls.settings.inline_completion.enabled:
        return None
    snap = snapshot(ls, uri)
    if snap is None:
        return None
    ls.models.require()
    outcome = await ls.suggest(snap.uri, ls.context_at(snap, position))
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
        return ls.code_actions.list(params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    @guarded(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: WinnowServer, params: types.CodeAction) -> types.CodeAction:
        return await ls.code_actions.resolve(params)


def _register_commands(server: WinnowServer) -> None:
    """workspace/executeCommand: stats, reload, implement; the test hooks when enabled."""

    @server.command(CMD_SHOW_STATS)
    @guarded(CMD_SHOW_STATS)
    async def show_stats(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        stats = ls.stats()
        if args and isinstance(args[0], dict) and args[0].get("generations"):
            stats["inline"]["generations"] = list(ls.inline_timings)
        models = stats["models"]
        gen = (models.get("generator") or {}).get("name") or ls.settings.generator_model
        inline = stats["inline"]
        judge = "judge on" if models.get("judge") else "no judge"
        ls.messages.show(
            f"Winnow: {gen} ({judge}), {models.get('decode_tok_s') or 0} tok/s, inline p50 "
            f"{inline['p50_ms']} ms over {inline['requests']} requests, state {stats['server']['state']}; "
            + ls.workspace_context.summary(),
            types.MessageType.Info,
        )
        return stats

    @server.command(CMD_RELOAD)
    @guarded(CMD_RELOAD)
    async def reload_models(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        ls.inline.cache.clear()
        ls.code_actions.ranked.clear()
        ok = await ls.models.load(ls.settings)
        return {"ok": ok, "error": ls.models.error, "judge_error": ls.models.judge_error}

    @server.command(CMD_IMPLEMENT)
    @guarded(CMD_IMPLEMENT)
    async def implement_function(ls: WinnowServer, *args: Any) -> dict[str, Any]:
        return await ls.code_actions.implement_command(args)

    if server.hooks is not None:  # WINNOW_TEST_HOOKS=1: the test suite's hooks (testing_hooks.py)
        hooks = server.hooks

        @server.command(CMD_HOLD_NEXT_JOB)
        async def hold_next_job(ls: WinnowServer, *args: Any) -> dict[str, Any]:
            kind = args[0] if args and isinstance(args[0], str) else "inline"
            hooks.arm(kind)
            return {"armed": kind}

        @server.command(CMD_RELEASE_LOAD)
        async def release_load(ls: WinnowServer, *args: Any) -> dict[str, Any]:
            hooks.release_load()
            return {"released": True}
