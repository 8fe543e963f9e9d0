"""How handler failures reach the client: an LSP error or an empty result, logged once.

``guarded`` wraps a handler so that nothing it raises takes the server down or
reaches the client as a bare traceback: Winnow errors (a model missing, a request
gone stale) become an LSP error or the handler's empty result, with an actionable
line in ``window/logMessage`` the first time each kind of failure happens.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from winnow.judge.base.errors import Cancelled, ModelError, WinnowError

log = logging.getLogger(__name__)


def request_failed(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=types.LSPErrorCodes.RequestFailed.value)


def content_modified(message: str) -> JsonRpcException:
    """The document changed under the request: the client asks again."""
    return JsonRpcException(message=message, code=types.LSPErrorCodes.ContentModified.value)


def invalid_params(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=types.ErrorCodes.InvalidParams.value)


_NO_RESULT = object()


def guarded(method: str, empty: Any = _NO_RESULT) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap an async handler ``(ls, params) -> result``.

    With ``empty`` given, a failure answers ``empty`` (a request whose empty answer is
    meaningful, e.g. no completions); without it, the failure becomes an LSP error.
    asyncio cancellation ($/cancelRequest) passes through: pygls answers it.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def handler(ls: Any, *args: Any) -> Any:
            try:
                return await fn(ls, *args)
            except asyncio.CancelledError:
                raise
            except JsonRpcException as exc:
                ls.messages.once(f"{method}:{exc.code}:{exc.message[:80]}", f"Winnow {method}: {exc.message}")
                if empty is not _NO_RESULT and exc.code != types.LSPErrorCodes.ContentModified:
                    return empty
                raise
            except Cancelled:
                if empty is not _NO_RESULT:
                    return empty
                raise JsonRpcException(
                    message="cancelled: a newer request replaced this one", code=types.LSPErrorCodes.RequestCancelled.value
                ) from None
            except ModelError as exc:
                ls.messages.once(f"{method}:model:{str(exc)[:80]}", f"Winnow {method}: {exc}", types.MessageType.Warning)
                if empty is not _NO_RESULT:
                    return empty
                raise request_failed(str(exc)) from None
            except WinnowError as exc:
                ls.messages.once(f"{method}:winnow:{str(exc)[:80]}", f"Winnow {method}: {exc}")
                if empty is not _NO_RESULT:
                    return empty
                raise request_failed(str(exc)) from None
            except Exception as exc:
                log.exception("%s failed", method)
                ls.messages.once(
                    f"{method}:{type(exc).__name__}",
                    f"Winnow {method} failed ({type(exc).__name__}: {exc}). The server keeps running; "
                    "if this repeats, run `winnow lsp -v` and report the log.",
                    types.MessageType.Error,
                )
                if empty is not _NO_RESULT:
                    return empty
                raise request_failed(f"{type(exc).__name__}: {exc}") from None

        return handler

    return wrap
