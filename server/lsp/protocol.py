"""pygls's protocol with one change: a message whose params do not match the LSP
types is answered, not dropped.

pygls structures each incoming message while parsing it; when the params are
malformed it raises out of the parser, and a request then never gets a response
(the client waits forever). Here such a request is answered with InvalidParams
naming the method, a malformed notification is ignored, and both are logged once.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


def _describe(error: BaseException | None) -> str:
    """cattrs' nested validation errors as "what @ where" lines."""
    if error is None:
        return ""
    try:
        from cattrs import transform_error

        return "; ".join(transform_error(error, path="$")[:4])  # type: ignore[arg-type]
    except Exception:
        return str(error).splitlines()[0] if str(error) else type(error).__name__


class _Ignored:
    """Parsed stand-in for a message already answered; ``handle_message`` skips it."""

    jsonrpc = "ignored"


class LenientInput:
    """stdin for the protocol: a message body that is not valid UTF-8 is decoded with
    U+FFFD replacements instead of being dropped whole (pygls parses bytes strictly)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.replaced = 0

    def readline(self) -> bytes:
        return self.raw.readline()

    def read(self, n: int) -> bytes:
        data = self.raw.read(n)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            self.replaced += 1
            log.warning("a message was not valid UTF-8; undecodable bytes became U+FFFD")
            return data.decode("utf-8", errors="replace").encode("utf-8")
        return data


class WinnowProtocol(LanguageServerProtocol):
    lenient_input: LenientInput | None = None
    _reported_replacements = 0

    def handle_message(self, message: Any) -> Any:
        source = self.lenient_input
        if source is not None and source.replaced > self._reported_replacements:
            self._reported_replacements = source.replaced
            messages = getattr(self._server, "messages", None)
            if messages is not None:
                messages.once(
                    "input:not-utf8",
                    "Winnow: the client sent text that is not valid UTF-8; the undecodable bytes were "
                    "replaced by U+FFFD. Check the file's encoding setting in the editor.",
                    types.MessageType.Warning,
                )
        return super().handle_message(message)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not isinstance(data, dict) or "method" not in data:
                raise
            method = str(data.get("method"))
            detail = _describe(exc.__cause__) or exc.message or "malformed params"
            text = f"Winnow: ignored a malformed {method} message ({detail[:200]})"
            messages = getattr(self._server, "messages", None)
            if messages is not None:
                messages.once(f"malformed:{method}", text, types.MessageType.Warning)
            log.warning("%s", text)
            if "id" in data:
                self._send_response(
                    data["id"],
                    error=types.ResponseError(
                        code=types.ErrorCodes.InvalidParams.value,
                        message=f"invalid params for {method}: {detail[:200]}",
                    ),
                )
            return _Ignored()
