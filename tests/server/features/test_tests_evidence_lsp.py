"""Evidence from the project's own tests, through the real server on a real tree with a real
pytest suite: after an edit, the tests that reach the edited functions run against the
editor's text.

- a broken function names the failing test and its assertion, and points at the test's line;
- a function without a docstring is judged once tests reach it;
- a correct function gets none;
- a test that was failing before the edit is never pinned on the edited function;
- a flaky test (fails in one round, passes in the other) gives no evidence;
- the implement action on a stub whose only evidence is a test file runs every candidate
  against that file and says how the body it applies fared, which the same tests confirm.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

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

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (.ci/setup.sh installs it)"),
    pytest.mark.asyncio,
    pytest.mark.timeout(300),
]

MODULE = '''"""Text helpers."""


def slugify(text):
    return "-".join(text.lower().split())


def shout(text):
    """The text, loud."""
    return text.upper() + "!"


def broken_already(x):
    """One more than x (its test expects two more: failing as saved)."""
    return x + 1


def flaky_target(x):
    """x itself."""
    return x


def untested(x):
    """Nobody tests this one."""
    return x * 2
'''

TESTS = '''from textutil import broken_already, flaky_target, shout, slugify

_calls = []


def test_slugify():
    assert slugify("Hello World") == "hello-world"


def test_shout():
    assert shout("hi") == "HI!"


def test_broken_already():
    assert broken_already(1) == 3


def test_flaky():
    _calls.append(1)
    assert flaky_target(1) == 1 and len(_calls) != 1  # fails once per process: then passes
'''

EDITED = (
    MODULE.replace('return "-".join(text.lower().split())', 'return "_".join(text.lower().split())')
    .replace('return text.upper() + "!"', 'return text.upper() + "?"')
    .replace("return x + 1", "return 1 + x")
    .replace("    return x\n", "    return x + 0\n")
    .replace("return x * 2", "return 2 * x")
)


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    (root / "textutil.py").write_text(MODULE)
    (root / "tests" / "test_textutil.py").write_text(TESTS)
    return root


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, tmp_path: Path):
    root = project(tmp_path)
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.applied = capture_apply_edit(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, FAST | {"diagnostics": {"judge": "off", "probes": 0}}, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


async def until(client: LanguageClient, predicate, what: str, timeout: float = 180.0) -> dict:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        now = await stats(client)
        if predicate(now):
            return now
        assert asyncio.get_running_loop().time() < deadline, f"{what}: {now['diagnostics']}"
        await asyncio.sleep(0.2)


async def test_a_test_that_passed_before_and_fails_now_names_itself(client: LanguageClient) -> None:
    root: Path = client.root  # type: ignore[attr-defined]
    uri = (root / "textutil.py").as_uri()
    open_doc(client, uri, MODULE)
    await until(client, lambda s: s["diagnostics"]["test_maps"], "the module's tests were never mapped")
    now = await stats(client)
    mapped = now["diagnostics"]["test_maps"][str(root / "textutil.py")]
    assert mapped["error"] == "" and mapped["tests"] == 4 and mapped["functions"] == 4
    assert client.diagnostics.get(uri, []) == []  # as saved: nothing changed, nothing to say

    replace_all(client, uri, EDITED, 2)
    await until(client, lambda s: s["diagnostics"]["done"].get(uri) == 2, "no hints for the edit")
    hints = {d.data["function"]: d for d in client.diagnostics.get(uri, [])}
    assert set(hints) == {"shout", "slugify"}, {k: d.message for k, d in hints.items()}

    shout = hints["shout"]
    assert shout.data["kind"] == "test" and shout.code == "test"
    assert shout.message.startswith("Winnow: `test_shout` failed: ") and "'HI?' == 'HI!'" in shout.message
    assert "test_textutil.py:" in shout.message
    assert shout.data["evidence"]["test"]["id"] == "tests/test_textutil.py::test_shout"
    [related] = shout.related_information
    assert related.location.uri == (root / "tests" / "test_textutil.py").as_uri()
    assert related.location.range.start.line == TESTS.split("\n").index('    assert shout("hi") == "HI!"')

    # A function without a docstring is judged once tests reach it.
    assert "`test_slugify` failed" in hints["slugify"].message

    lines = EDITED.split("\n")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(lines.index("def broken_already(x):"), 5)))  # fmt: skip
    assert hover is not None and "1 failing before the edit too" in hover.contents.value
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(lines.index("def flaky_target(x):"), 5)))  # fmt: skip
    assert hover is not None and "1 flaky (not counted)" in hover.contents.value

    # Fixing the function clears its hint.
    replace_all(client, uri, EDITED.replace('return text.upper() + "?"', 'return text.upper() + "!"'), 3)
    await until(client, lambda s: s["diagnostics"]["done"].get(uri) == 3, "no hints for the fix")
    assert {d.data["function"] for d in client.diagnostics.get(uri, [])} == {"slugify"}


STUB = '''"""Arithmetic."""


def add(a, b):
    pass
'''
STUB_TESTS = """from calc import add


def test_small():
    assert add(2, 3) == 5


def test_negative():
    assert add(-1, 1) == 0
"""


async def test_a_stub_whose_only_evidence_is_a_test_file_is_implemented_against_it(client: LanguageClient) -> None:
    """No docstring, no example: the tests that call ``add`` by name are the evidence. Which
    body SmolLM2 writes is not asserted (a tiny model); that the tests ran on the candidates,
    and that the applied body passes as many of them as the action says, is."""
    root: Path = client.root  # type: ignore[attr-defined]
    (root / "calc.py").write_text(STUB)
    (root / "tests" / "test_calc.py").write_text(STUB_TESTS)
    uri = (root / "calc.py").as_uri()
    open_doc(client, uri, STUB)
    applied = client.applied  # type: ignore[attr-defined]
    line = STUB.split("\n").index("def add(a, b):")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="winnow.implementFunction", arguments=[uri, {"line": line, "character": 0}])
    )
    assert result["function"] == "add" and result["applied"] is True, result
    assert result["tests"] is not None and result["tests"]["total"] == 2, result
    new_text = apply_edits(STUB, edits_of(applied[-1].edit, uri))
    assert "    pass\n" not in new_text
    (root / "calc.py").write_text(new_text)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "tests/test_calc.py"], cwd=root, capture_output=True, text=True, timeout=120)  # fmt: skip
    words = run.stdout.split()
    counts = {word.strip(","): int(n) for n, word in zip(words, words[1:], strict=False) if n.isdigit()}
    assert counts.get("passed", 0) == result["tests"]["passed"], (result, run.stdout[-800:], new_text)
