"""Correctness diagnostics: the server's bookkeeping with a stand-in judge (in
process), and end to end with the real judge (published, cleared, re-published from
the cache, and the code action it enables)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

import pytest
import pytest_lsp
from lsp_support import (
    FAST,
    HOLD_LOAD_CONFIG,
    SAMPLE,
    open_doc,
    release_load,
    replace_all,
    set_settings,
    start,
    stats,
    wait_for,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

from winnow.judge.scoring.judge_model import JudgeManifest
from winnow.judge.scoring.ranking import RankedCandidate
from winnow.server.features import convert
from winnow.server.features.diagnostics import MAX_FUNCTIONS, Diagnostics
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.lsp.settings import Settings, parse
from winnow.server.workspace.documents import OpenDocuments

# --- in process, with a stand-in judge ---------------------------------------------------


class FakeDoc:
    def __init__(self, text: str, version: int = 1) -> None:
        self.source = text
        self.version = version
        self.language_id = "python"


class FakeWorkspace:
    position_encoding = "utf-16"

    def __init__(self) -> None:
        self.text_documents: dict[str, FakeDoc] = {}


class FakeRuntime:
    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[str] = []

    def judge_code(self, task: str, code: str, cancelled: Any = None) -> Future:
        self.calls.append(code)
        name = code.split("def ", 1)[1].split("(", 1)[0]
        future: Future = Future()
        future.set_result(RankedCandidate(0, code, self.scores.get(name, 0.99), 0.0, 0.0))
        return future


class FakeModels:
    has_judge = True

    def __init__(self, runtime: FakeRuntime, info: dict[str, Any] | None = None) -> None:
        self.runtime = runtime
        manifest = info if info is not None else {"name": "stand-in", "recommended": {"diagnostics": True}}
        self.info = JudgeManifest.from_dict(manifest)

    def judge_info(self) -> JudgeManifest:
        return self.info

    async def run(self, submit: Any) -> Any:
        return await asyncio.wrap_future(submit(self.runtime))


class FakeMessages:
    def __init__(self) -> None:
        self.logged: list[str] = []

    def once(self, key: str, text: str, level: Any = None) -> bool:
        self.logged.append(text)
        return True


class FakeWorkspaceContext:
    """No other workspace files: no helper stubs for the judged code."""

    def helpers(self, snap: Any, exclude: str | None = None) -> dict[str, str]:
        return {}


class FakeServer:
    def __init__(self, scores: dict[str, float], settings: dict[str, Any] | None = None, info: Any = None) -> None:
        parsed = parse(settings or {})
        self.settings: Settings = parsed.settings
        self.explicit_settings = parsed.explicit
        self.workspace = FakeWorkspace()
        self.documents = OpenDocuments(self)
        self.runtime = FakeRuntime(scores)
        self.models = FakeModels(self.runtime, info)
        self.messages = FakeMessages()
        self.shutdown = CancelFlag()
        self.workspace_context = FakeWorkspaceContext()
        self.published: list[types.PublishDiagnosticsParams] = []

    def interactive_waiting(self) -> bool:
        return False

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.append(params)


def module(*functions: str) -> str:
    return "import math\n\n\n" + "\n\n".join(functions) + "\n"


def documented(name: str, body: str = "return x + 1") -> str:
    return f'def {name}(x):\n    """Return {name} of x."""\n    {body}\n'


URI = "file:///fake/mod.py"


async def run_once(server: FakeServer, diagnostics: Diagnostics, text: str, version: int) -> None:
    server.workspace.text_documents[URI] = FakeDoc(text, version)
    diagnostics.schedule(URI, 0)
    task = diagnostics.tasks.get(URI)
    if task is not None:
        await task


def current(server: FakeServer) -> list[types.Diagnostic]:
    return list(server.published[-1].diagnostics) if server.published else []


@pytest.mark.asyncio
async def test_low_scores_are_published_with_the_judge_text():
    server = FakeServer({"low": 0.2, "high": 0.9})
    diags = Diagnostics(server)
    text = module(
        documented("low"),
        documented("high"),
        "def plain(x):\n    return x\n",
        'def stub(x):\n    """Not written yet."""\n    pass\n',
    )
    await run_once(server, diags, text, 1)
    assert len(server.runtime.calls) == 2  # documented, implemented functions only
    [d] = current(server)
    assert d.message.startswith("Winnow judge: 20% likely correct (the judge leans this way)")
    assert d.severity == types.DiagnosticSeverity.Hint and d.source == "winnow"
    assert d.data["p_correct"] == 0.2 and d.data["function"] == "low"
    assert d.range.start.line == text.split("\n").index("def low(x):")
    assert diags.low_score(d.data["hash"]) == 0.2


@pytest.mark.asyncio
async def test_unchanged_functions_are_never_judged_twice():
    server = FakeServer({"low": 0.2, "high": 0.9})
    diags = Diagnostics(server)
    text = module(documented("low"), documented("high"))
    await run_once(server, diags, text, 1)
    await run_once(server, diags, text, 2)
    assert len(server.runtime.calls) == 2
    changed = module(documented("low"), documented("high", "return x * 2"))
    await run_once(server, diags, changed, 3)
    assert len(server.runtime.calls) == 3 and "x * 2" in server.runtime.calls[-1]


@pytest.mark.asyncio
async def test_a_changed_function_loses_its_diagnostic_and_a_better_score_clears_it():
    server = FakeServer({"low": 0.2})
    diags = Diagnostics(server)
    text = module(documented("low"))
    await run_once(server, diags, text, 1)
    assert len(current(server)) == 1
    published_before = len(server.published)
    server.runtime.scores["low"] = 0.8
    await run_once(server, diags, module(documented("low", "return x + 2")), 2)
    # Published once with the old verdict gone (before judging), then nothing to add.
    assert [len(p.diagnostics) for p in server.published[published_before:]] == [0]
    assert current(server) == []


@pytest.mark.asyncio
async def test_threshold_and_severity_come_from_the_settings():
    server = FakeServer({"low": 0.2, "high": 0.9}, {"diagnostics": {"threshold": 0.95, "severity": "warning"}})
    diags = Diagnostics(server)
    await run_once(server, diags, module(documented("low"), documented("high")), 1)
    assert [d.severity for d in current(server)] == [types.DiagnosticSeverity.Warning] * 2
    server.settings = parse({"diagnostics": {"threshold": 0.1}}).settings
    await run_once(server, diags, module(documented("low"), documented("high")), 2)
    assert current(server) == []
    assert len(server.runtime.calls) == 2


@pytest.mark.asyncio
async def test_work_per_document_is_bounded():
    server = FakeServer({})
    diags = Diagnostics(server)
    long_body = "\n    ".join(f"x += {i}" for i in range(250)) + "\n    return x"
    functions = [documented("long_one", long_body)] + [documented(f"f{i}") for i in range(MAX_FUNCTIONS + 10)]
    await run_once(server, diags, module(*functions), 1)
    assert len(server.runtime.calls) == MAX_FUNCTIONS
    assert not any("long_one" in c for c in server.runtime.calls)


@pytest.mark.asyncio
async def test_a_judge_that_is_not_recommended_stays_quiet_unless_enabled_explicitly():
    weak = {"name": "zero-shot", "recommended": {"diagnostics": False, "reason": "near chance"}}
    server = FakeServer({"low": 0.1}, {}, weak)
    diags = Diagnostics(server)
    await run_once(server, diags, module(documented("low")), 1)
    assert server.runtime.calls == [] and current(server) == []
    assert any("near chance" in m for m in server.messages.logged)
    server2 = FakeServer({"low": 0.1}, {"diagnostics": {"enabled": True}}, weak)
    diags2 = Diagnostics(server2)
    await run_once(server2, diags2, module(documented("low")), 1)
    assert len(current(server2)) == 1


def test_the_hint_says_how_sure_and_how_good_the_judge_is():
    info = JudgeManifest.from_dict({"evaluation": {"auc": 0.861, "accuracy": 0.79, "split": "humaneval:heldout"}})
    text = convert.judge_hint(0.04, info)
    assert text.startswith("Winnow judge: 4% likely correct (the judge is confident)")
    assert "ROC-AUC 0.86" in text and "accuracy 0.79" in text and "humaneval:heldout" in text
    assert convert.judge_hint(0.45, None) == "Winnow judge: 45% likely correct (the judge is unsure)"
    assert convert.judge_auc(JudgeManifest.from_dict({"recommended": {"heldout_auc": 0.7}})) == 0.7


# --- end to end, with the real judge --------------------------------------------------------

URI_E2E = "file:///winnow-tests/diagnostics.py"
JUDGED = FAST | {"judge": "default", "diagnostics": {"enabled": True, "threshold": 1.0}}


@pytest_lsp.fixture(config=HOLD_LOAD_CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    """A server whose first model load waits for ``release_load`` (the test opens its
    document first: diagnostics asked for before the judge is there)."""
    await start(lsp_client, JUDGED, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


def published(client: LanguageClient) -> list[types.Diagnostic]:
    return list(client.diagnostics.get(URI_E2E, []))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(240)
async def test_diagnostics_are_published_and_cleared(client: LanguageClient):
    # Opened while the models load (held by the test hook): judged once the judge is loaded.
    open_doc(client, URI_E2E, SAMPLE)
    assert (await stats(client))["server"]["state"] == "loading" and published(client) == []
    await release_load(client)
    await wait_for(lambda: any(s["state"] in ("ready", "error") for s in client.winnow_status), timeout=120)  # type: ignore[attr-defined]
    assert (await stats(client))["models"]["judge"], "the judge did not load"
    # threshold 1.0: every documented, implemented function is "below" it.
    diags = await wait_for(lambda: published(client), timeout=120)
    [d] = diags  # mean() is the one documented function with a body
    assert d.source == "winnow" and d.message.startswith("Winnow judge: ")
    assert "likely correct" in d.message and 0.0 <= d.data["p_correct"] <= 1.0
    assert d.severity == types.DiagnosticSeverity.Hint
    judged = (await stats(client))["diagnostics"]["judged"]

    await set_settings(client, JUDGED | {"diagnostics": {"enabled": True, "threshold": 0.0}})
    await wait_for(lambda: published(client) == [], timeout=30)  # cleared: the score is above 0
    await set_settings(client, JUDGED)
    await wait_for(lambda: published(client), timeout=30)
    assert (await stats(client))["diagnostics"]["judged"] == judged  # from the cache, not judged again

    # A judged-low implemented function offers "Implement with Winnow", resolved with the judge.
    mean_line = SAMPLE.split("\n").index("def mean(values):")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI_E2E),
            range=types.Range(start=types.Position(mean_line, 4), end=types.Position(mean_line, 4)),
            context=types.CodeActionContext(diagnostics=published(client)),
        )
    )
    assert actions and actions[0].kind == types.CodeActionKind.QuickFix
    assert "judge gives the current body" in actions[0].title
    resolved = await client.code_action_resolve_async(actions[0])
    assert "— judge " in resolved.title and resolved.edit is not None

    # Changing the function drops its verdict; the new body is judged afresh.
    old_hash = d.data["hash"]
    replace_all(client, URI_E2E, SAMPLE.replace("return total / len(values)", "return total / max(1, len(values))"), 2)
    await wait_for(lambda: published(client) and published(client)[0].data["hash"] != old_hash, timeout=120)
    assert (await stats(client))["diagnostics"]["judged"] == judged + 1
