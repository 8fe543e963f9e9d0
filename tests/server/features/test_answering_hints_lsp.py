"""Hints a user can answer, through the real server: the quick fixes tied to a diagnostic
(update the docstring to the observed value, ignore this hint, ignore every hint on the
function), applied as the client applies them; ``diagnostics.exclude``; and one suggestion
list: a client that shows inline completion gets no completion fallback."""

from __future__ import annotations

import asyncio
import shutil

import pytest
import pytest_lsp
from lsp_support import CONFIG, FAST, apply_edits, edits_of, open_doc, replace_all, start, stats
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (.ci/setup.sh installs it)"),
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(300),
]

STALE = '''"""Statistics, with a docstring that went stale."""


def mean(values):
    """The arithmetic mean.

    >>> mean([1, 2, 3])
    3.0
    """
    return sum(values) / len(values)


def twice(x):
    """Twice x.

    >>> twice(2)
    5
    """
    return 2 * x
'''


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, FAST | {"diagnostics": {"judge": "off", "probes": 0, "tests": False}}, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


async def settled(client: LanguageClient, uri: str, version: int) -> list[types.Diagnostic]:
    deadline = asyncio.get_running_loop().time() + 120
    while (await stats(client))["diagnostics"]["done"].get(uri) != version:
        assert asyncio.get_running_loop().time() < deadline, f"no hints for {uri} v{version}"
        await asyncio.sleep(0.1)
    return list(client.diagnostics.get(uri, []))


async def fixes(client: LanguageClient, uri: str, diagnostic: types.Diagnostic) -> dict[str, types.CodeAction]:
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )  # fmt: skip
    return {a.title: a for a in actions or [] if isinstance(a, types.CodeAction)}


def by_function(diagnostics: list[types.Diagnostic]) -> dict[str, types.Diagnostic]:
    return {d.data["function"]: d for d in diagnostics}


async def test_update_the_docstring_and_ignore_answer_a_hint(client: LanguageClient) -> None:
    uri = "file:///winnow-tests/stale.py"
    open_doc(client, uri, STALE)
    hints = by_function(await settled(client, uri, 1))
    assert set(hints) == {"mean", "twice"} and hints["mean"].data["kind"] == "example:value"

    offered = await fixes(client, uri, hints["mean"])
    update = next(a for t, a in offered.items() if t.startswith("Winnow: update the docstring to the observed value (2.0)"))
    ignore = next(a for t, a in offered.items() if t.startswith("Winnow: ignore this `example:value` hint on `mean`"))
    assert any(t.startswith("Winnow: ignore every Winnow hint on `mean`") for t in offered)
    assert all(a.kind == types.CodeActionKind.QuickFix and a.diagnostics for a in (update, ignore))

    text = apply_edits(STALE, edits_of(update.edit, uri))
    assert "    >>> mean([1, 2, 3])\n    2.0\n" in text and "    3.0\n" not in text
    replace_all(client, uri, text, 2)
    assert set(by_function(await settled(client, uri, 2))) == {"twice"}  # its docstring is right now

    twice = by_function(client.diagnostics[uri])["twice"]
    ignore = next(a for t, a in (await fixes(client, uri, twice)).items() if t.startswith("Winnow: ignore this"))
    text = apply_edits(text, edits_of(ignore.edit, uri))
    assert "def twice(x):  # winnow: ignore[example:value]\n" in text
    replace_all(client, uri, text, 3)
    assert await settled(client, uri, 3) == []
    line = text.split("\n").index("def twice(x):  # winnow: ignore[example:value]")
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, 5))
    )
    assert hover is not None and "ignored (`winnow: ignore` on its def line)" in hover.contents.value


async def test_excluded_files_get_no_hints(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings=FAST | {"diagnostics": {"judge": "off", "probes": 0, "tests": False, "exclude": ["**/generated/*.py"]}}))  # fmt: skip
    uri = "file:///winnow-tests/generated/stale.py"
    open_doc(client, uri, STALE)
    assert await settled(client, uri, 1) == []
    other = "file:///winnow-tests/kept/stale.py"
    open_doc(client, other, STALE)
    assert set(by_function(await settled(client, other, 1))) == {"mean", "twice"}


async def test_a_client_with_inline_completion_gets_no_completion_list(client: LanguageClient) -> None:
    uri = "file:///winnow-tests/complete.py"
    open_doc(client, uri, "def total(values):\n    result = \n")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 13))
    )
    assert result is None or not getattr(result, "items", result)  # the ghost text shows them instead
