"""Hints from inputs nobody wrote in a docstring, end to end: the real server on a real
workspace in tmp_path, its shipped hint policy, the real sandbox. A call elsewhere in the
workspace passes the literal that breaks one function; a type hint gives the input that
breaks another; a correct function gets nothing. Each hint names its call and where the
input came from."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsp_support import FAST, HOLD_LOAD_CONFIG, open_doc, stats
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.timeout(300)]

GEOMETRY = '''"""Sizes of boxes."""


def aspect(width, height):
    """Width over height of a box."""
    return width / height


def mean(values: list[float]) -> float:
    """The average of some values."""
    return sum(values) / len(values)


def scale(x, factor):
    """x times factor."""
    return x * factor
'''

APP = "from shapes.geometry import aspect, scale\n\nprint(aspect(1920, 0), scale(2, 3))\n"


@pytest_lsp.fixture(config=HOLD_LOAD_CONFIG)  # hints need no model: it never loads here
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def until(client: LanguageClient, predicate, timeout: float = 120.0) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = await stats(client)
        if predicate(found):
            return found
        assert time.monotonic() < deadline, f"condition not met: {found.get('diagnostics')}"
        await asyncio.sleep(0.1)


async def test_call_sites_and_type_hints_give_inputs_and_each_hint_says_which(client: LanguageClient, tmp_path: Path):
    tmp_path.chmod(0o755)  # as root, the sandbox's throw-away user must be able to read the workspace
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "__init__.py").write_text("")
    geometry = tmp_path / "shapes" / "geometry.py"
    geometry.write_text(GEOMETRY)
    (tmp_path / "app.py").write_text(APP)
    # The module is opened as it is, so its crashes were there before any edit: the absolute
    # rule lets them speak (where their inputs came from is what this test is about).
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options=FAST | {"judge": "default", "diagnostics": {"judge": "off", "crashes": "absolute"}},
            workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")],
            root_uri=tmp_path.as_uri(),
        )
    )
    await until(client, lambda s: s["context"]["index"]["scans"] >= 1)
    uri = geometry.as_uri()
    open_doc(client, uri, GEOMETRY)
    await until(client, lambda s: s["diagnostics"]["done"].get(uri) == 1)
    hints = {d.data["function"]: d for d in client.diagnostics.get(uri, [])}
    assert set(hints) == {"aspect", "mean"}
    aspect = hints["aspect"]
    assert aspect.data["kind"] == "crash" and "`aspect(1920, 0)` raised ZeroDivisionError" in aspect.message
    assert "arguments from a call in the workspace" in aspect.message
    assert aspect.data["evidence"]["probe"]["origin"] == "call-site"
    mean = hints["mean"]
    assert "`mean([])` raised ZeroDivisionError" in mean.message and "an input drawn from its type hints" in mean.message

    # Without call sites and typed inputs, nothing reaches either bug.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"winnow": FAST | {"judge": "default", "diagnostics": {"judge": "off", "crashes": "absolute", "callSites": False, "typedInputs": False}}}
        )
    )
    await until(client, lambda s: s["diagnostics"]["sandbox_runs"] >= 2 and not client.diagnostics.get(uri))
