"""Code actions end to end: listing on stubs without a model call, lazy resolve to a
WorkspaceEdit that yields a parseable function, runners-up, winnow.implementFunction,
and both asked while the models load (they wait, then answer). Each test stands alone."""

from __future__ import annotations

import ast
import asyncio

import pytest
import pytest_lsp
from lsp_support import (
    CONFIG,
    FAST,
    HOLD_LOAD_CONFIG,
    SAMPLE,
    apply_edits,
    capture_apply_edit,
    edits_of,
    model_calls,
    open_doc,
    progress_sequences,
    release_load,
    replace_all,
    start,
    stats,
    wait_for,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

URI = "file:///winnow-tests/actions.py"
LINES = SAMPLE.split("\n")
CLAMP = LINES.index("def clamp(x, lo, hi):")
MEAN = LINES.index("def mean(values):")
AREA = LINES.index("    def area(self, radius):")
SETTINGS = FAST | {"candidates": 3}


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.applied = capture_apply_edit(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, SETTINGS)
    open_doc(lsp_client, URI, SAMPLE)
    yield
    await lsp_client.shutdown_session()


async def actions_at(client: LanguageClient, line: int, uri: str = URI) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line, 4), end=types.Position(line, 4)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def test_listing_on_a_stub_makes_no_model_call_and_is_unresolved(client: LanguageClient):
    # Functions of its own: runners-up are kept by function content, and other tests
    # implement clamp and area.
    uri = "file:///winnow-tests/listing.py"
    text = SAMPLE.replace("limited to the range [lo, hi]", "limited to [lo, hi], never resolved")
    open_doc(client, uri, text.replace("of the given radius", "of a radius, never resolved"))
    before = {kind: await model_calls(client, kind, "submitted") for kind in ("implement", "inline")}
    actions = await actions_at(client, CLAMP + 1, uri)
    assert [a.title for a in actions] == [f"Implement with Winnow (best of {SETTINGS['candidates']})"]
    assert actions[0].edit is None and actions[0].data["hash"]
    assert actions[0].kind == types.CodeActionKind.RefactorRewrite
    # Listing is a parse of the document: no model job (its speed: not a test's business).
    assert {kind: await model_calls(client, kind, "submitted") for kind in ("implement", "inline")} == before
    # A method whose body is "..." is a stub too; a documented, implemented function is not.
    assert len(await actions_at(client, AREA + 1, uri)) == 1
    assert await actions_at(client, MEAN + 2, uri) == []  # no judge: nothing says it is wrong


async def test_resolve_returns_an_edit_that_parses(client: LanguageClient):
    action = (await actions_at(client, CLAMP))[0]
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is not None, resolved.title
    assert resolved.title.startswith(f"Implement with Winnow (best of {SETTINGS['candidates']}) — ")
    assert "log-prob" in resolved.title  # judge "none": ranked by log-prob, said so
    new_text = apply_edits(SAMPLE, edits_of(resolved.edit, URI))
    ast.parse(new_text)  # the whole module still parses
    tree = ast.parse(new_text)
    clamp = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "clamp")
    assert ast.get_docstring(clamp) == "Return x limited to the range [lo, hi]."
    assert not (len(clamp.body) == 2 and isinstance(clamp.body[1], ast.Pass))  # the stub body is gone
    assert new_text.startswith(SAMPLE[: SAMPLE.index("def clamp")])  # nothing above changed
    assert new_text.endswith(SAMPLE[SAMPLE.index("\n\nclass Shapes") :])  # nothing below changed


async def test_runners_up_are_offered_after_resolve(client: LanguageClient):
    first = (await actions_at(client, CLAMP))[0]
    assert (await client.code_action_resolve_async(first)).edit is not None  # cached when resolved before
    actions = await actions_at(client, CLAMP + 1)
    titles = [a.title for a in actions]
    assert titles[0].startswith("Implement with Winnow")
    ranked = actions[1:]
    assert ranked and ranked[0].title.startswith(f"Winnow: best of {SETTINGS['candidates']} (log-prob ")
    assert all(a.edit is not None for a in ranked)
    for a in ranked[1:]:
        assert a.title.startswith("Winnow: runner-up #")
    for a in ranked:
        ast.parse(apply_edits(SAMPLE, edits_of(a.edit, URI)))


async def test_resolve_after_the_function_changed_is_content_modified(client: LanguageClient):
    uri = "file:///winnow-tests/changing.py"
    open_doc(client, uri, SAMPLE)
    action = (await actions_at(client, CLAMP, uri))[0]
    replace_all(client, uri, SAMPLE.replace("def clamp(x, lo, hi):", "def clamp(x, low, high):"), 2)
    with pytest.raises(JsonRpcException) as info:
        await client.code_action_resolve_async(action)
    assert info.value.code == -32801  # ContentModified: ask again


async def test_resolve_of_a_foreign_action_returns_it_unchanged(client: LanguageClient):
    foreign = types.CodeAction(title="someone else's", data={"other": 1})
    assert (await client.code_action_resolve_async(foreign)).title == "someone else's"
    with pytest.raises(JsonRpcException):
        await client.code_action_resolve_async(types.CodeAction(title="x", data={"winnow": "implement", "uri": 3}))


async def test_implement_function_command_applies_the_best(client: LanguageClient):
    uri = "file:///winnow-tests/command.py"
    open_doc(client, uri, SAMPLE)
    applied = client.applied  # type: ignore[attr-defined]
    before = len(applied)
    implemented = (await stats(client))["code_actions"]["implemented"]
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="winnow.implementFunction", arguments=[uri, {"line": AREA + 1, "character": 0}])
    )
    assert result["function"] == "area"
    assert result["applied"] is True, result
    assert result["strategy"] == "logprob" and result["candidates"] == SETTINGS["candidates"]
    assert len(applied) == before + 1
    new_text = apply_edits(SAMPLE, edits_of(applied[-1].edit, uri))
    ast.parse(new_text)
    assert "        ...\n" not in new_text[new_text.index("def area") :]
    assert (await stats(client))["code_actions"]["implemented"] == implemented + 1


async def test_implement_function_command_rejects_bad_arguments(client: LanguageClient):
    for arguments in ([], ["file:///x.py"], [URI, {"line": "one"}], [URI, {"line": 0}]):
        with pytest.raises(JsonRpcException):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="winnow.implementFunction", arguments=arguments)
            )
    assert (await stats(client))["server"]["state"] == "ready"


async def test_code_actions_can_be_switched_off(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=SETTINGS | {"codeActions": {"enabled": False}})
    )
    assert await actions_at(client, CLAMP) == []
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=SETTINGS))
    assert len(await actions_at(client, CLAMP)) >= 1


# --- asked while the models load ---------------------------------------------------------

WAITING = "Winnow: waiting for the models to load"


@pytest_lsp.fixture(config=HOLD_LOAD_CONFIG, scope="module")
async def loading_client(lsp_client: LanguageClient):
    """A server whose first model load waits for ``release_load``."""
    lsp_client.applied = capture_apply_edit(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, SETTINGS, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


async def test_resolve_and_implement_asked_while_models_load_wait_then_answer(loading_client: LanguageClient):
    client = loading_client
    uri = "file:///winnow-tests/early.py"
    open_doc(client, uri, SAMPLE)
    assert (await stats(client))["server"]["state"] == "loading"  # held by the test hook
    action = (await actions_at(client, CLAMP, uri))[0]  # listing needs no model
    resolving = asyncio.ensure_future(client.code_action_resolve_async(action))
    implementing = asyncio.ensure_future(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="winnow.implementFunction", arguments=[uri, {"line": AREA + 1, "character": 0}])
        )
    )
    # Both wait for the models, each shown as $/progress, instead of answering an error.
    await wait_for(lambda: len(progress_sequences(client, WAITING)) == 2, timeout=60)
    assert not resolving.done() and not implementing.done()
    await release_load(client)
    resolved = await resolving
    assert resolved.edit is not None, resolved.title
    assert resolved.title.startswith(f"Implement with Winnow (best of {SETTINGS['candidates']}) — ")
    ast.parse(apply_edits(SAMPLE, edits_of(resolved.edit, uri)))
    result = await implementing
    assert result["function"] == "area" and result["applied"] is True, result
    await wait_for(lambda: all(kinds[-1] == "end" for kinds in progress_sequences(client, WAITING)), timeout=30)
    await wait_for(lambda: any(s["state"] == "ready" for s in client.winnow_status), timeout=30)  # type: ignore[attr-defined]
