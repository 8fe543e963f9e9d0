"""Code actions end to end: instant listing on stubs, lazy resolve to a WorkspaceEdit
that yields a parseable function, runners-up, and winnow.implementFunction."""

from __future__ import annotations

import ast
import time

import pytest
import pytest_lsp
from lsp_support import (
    CONFIG,
    FAST,
    SAMPLE,
    apply_edits,
    capture_apply_edit,
    edits_of,
    open_doc,
    replace_all,
    start,
    stats,
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


async def test_listing_on_a_stub_is_instant_and_unresolved(client: LanguageClient):
    t0 = time.perf_counter()
    actions = await actions_at(client, CLAMP + 1)
    elapsed = time.perf_counter() - t0
    assert [a.title for a in actions] == [f"Implement with Winnow (best of {SETTINGS['candidates']})"]
    assert actions[0].edit is None and actions[0].data["hash"]
    assert actions[0].kind == types.CodeActionKind.RefactorRewrite
    assert elapsed < 1.0
    # A method whose body is "..." is a stub too; a documented, implemented function is not.
    assert len(await actions_at(client, AREA + 1)) == 1
    assert await actions_at(client, MEAN + 2) == []  # no judge: nothing says it is wrong


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
    assert (await stats(client))["code_actions"]["implemented"] >= 2


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
