"""Java in the real server: a stub method is found and implemented (the edit applies and the
file still parses, with no tree-sitter ERROR node), and a method whose Javadoc example fails,
run by value with the JDK in the sandbox, gets a hint naming the call and both values."""

from __future__ import annotations

import asyncio
import shutil

import pytest
import pytest_lsp
from lsp_support import (
    CONFIG,
    FAST,
    apply_edits,
    capture_apply_edit,
    edits_of,
    open_doc,
    replace_all,
    start,
    stats,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

from winnow.judge.sites import functions, parses

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac) on PATH"),
]

URI = "file:///winnow-tests/Calc.java"
SOURCE = """package demo;

public class Calc {
    /**
     * Greatest common divisor.
     *
     * {@code gcd(35, 21) == 7}
     */
    public static int gcd(int a, int b) {
        return a;
    }

    /**
     * Returns the sum of the decimal digits of n.
     *
     * @param n a non-negative number
     * @return for example 6 for 123, 0 for 0
     */
    public static int digitSum(int n) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Twice x: {@code twice(4) == 8} */
    static int twice(int x) { return 2 * x; }

    int unwritten(int x) {}
}
"""
LINES = SOURCE.split("\n")
GCD = LINES.index("    public static int gcd(int a, int b) {")
DIGIT_SUM = LINES.index("    public static int digitSum(int n) {")
UNWRITTEN = LINES.index("    int unwritten(int x) {}")
# Four bodies: about one sample in eight is empty or cut off by maxTokens (measured on 80),
# so with two the implement test would get no real body about once in seventy runs.
SETTINGS = FAST | {"candidates": 4, "maxTokens": 24}


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.applied = capture_apply_edit(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, SETTINGS)
    open_doc(lsp_client, URI, SOURCE, language="java")
    yield
    await lsp_client.shutdown_session()


async def finished(client: LanguageClient, uri: str, version: int) -> None:
    deadline = asyncio.get_running_loop().time() + 180
    while (await stats(client))["diagnostics"]["done"].get(uri) != version:
        assert asyncio.get_running_loop().time() < deadline, f"no hints for {uri} v{version}"
        await asyncio.sleep(0.1)


async def actions_at(client: LanguageClient, line: int) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(start=types.Position(line, 8), end=types.Position(line, 8)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def test_a_failing_javadoc_example_is_a_hint_with_its_evidence(client: LanguageClient):
    await finished(client, URI, 1)
    diags = list(client.diagnostics.get(URI, []))
    assert [d.data["function"] for d in diags] == ["Calc.gcd"]  # twice passes; the stub is not judged
    d = diags[0]
    assert d.code == "example:value" and d.severity == types.DiagnosticSeverity.Warning
    assert "`gcd(35, 21)` returned 35; the Javadoc says 7" in d.message
    assert d.range.start.line == GCD and LINES[GCD][d.range.start.character :].startswith("gcd")
    assert d.related_information and "{@code gcd(35, 21) == 7}" in LINES[d.related_information[0].location.range.start.line]
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(GCD, 25))
    )
    assert hover is not None and "Javadoc examples: 1 run, 0 passed" in hover.contents.value
    # Fixed, the hint goes.
    replace_all(client, URI, SOURCE.replace("        return a;\n", "        return b == 0 ? a : gcd(b, a % b);\n"), 2)
    await finished(client, URI, 2)
    assert list(client.diagnostics.get(URI, [])) == []
    replace_all(client, URI, SOURCE, 3)
    await finished(client, URI, 3)


async def test_the_stub_is_implemented_and_the_file_still_parses(client: LanguageClient):
    actions = await actions_at(client, DIGIT_SUM)
    assert [a.title for a in actions] == [f"Implement with Winnow (best of {SETTINGS['candidates']})"]
    assert actions[0].kind == types.CodeActionKind.RefactorRewrite
    resolved = await client.code_action_resolve_async(actions[0])
    assert resolved.edit is not None, resolved.title
    assert "examples" in resolved.title  # ranked by its Javadoc examples, run on every body
    new_text = apply_edits(SOURCE, edits_of(resolved.edit, URI))
    assert parses(new_text, "java"), new_text
    after = {s.name: s for s in functions(new_text, "java")}
    assert not after["digitSum"].is_stub and after["digitSum"].header == functions(SOURCE, "java")[1].header
    assert new_text.startswith(SOURCE[: SOURCE.index("    public static int digitSum")])
    assert new_text.endswith(SOURCE[SOURCE.index("    /** Twice x") :])


async def test_an_empty_one_line_method_opens_up_through_the_command(client: LanguageClient):
    applied = client.applied  # type: ignore[attr-defined]
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="winnow.implementFunction", arguments=[URI, {"line": UNWRITTEN, "character": 8}])
    )
    assert result["function"] == "unwritten" and result["applied"] is True, result
    assert result["strategy"] == "logprob"  # no examples to run: said so
    new_text = apply_edits(SOURCE, edits_of(applied[-1].edit, URI))
    assert parses(new_text, "java"), new_text
    assert "int unwritten(int x) {}" not in new_text and new_text.rstrip().endswith("}")
