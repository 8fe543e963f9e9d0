"""Correctness hints: in process with the real sandbox and a stand-in judge (what speaks,
with what evidence; the judge's bookkeeping when it is on), and end to end in the real
server (a failing example names its call and both values, before any model is loaded; a
correct function of the calibration list gets nothing; the implement action it enables)."""

from __future__ import annotations

import asyncio
import sysconfig
import textwrap
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_support import FAST, HOLD_LOAD_CONFIG, open_doc, release_load, replace_all, start, stats
from lsprotocol import types
from pytest_lsp import LanguageClient

from winnow.judge.hints.policy import HintPolicy
from winnow.judge.scoring.manifest import JudgeManifest
from winnow.judge.scoring.ranking import RankedCandidate
from winnow.server.features.hints.judging import MAX_JUDGED
from winnow.server.features.hints.pipeline import Diagnostics
from winnow.server.lsp.cancellation import CancelFlag
from winnow.server.lsp.settings import Settings, parse
from winnow.server.workspace.documents import OpenDocuments
from winnow.server.workspace.test_projects import ProjectSuites

# --- in process ----------------------------------------------------------------------------


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

    def judge_function(self, source: str, site: Any, helpers: Any = None, cancelled: Any = None) -> Future:
        code = textwrap.dedent(site.code)
        self.calls.append(code)
        name = code.split("def ", 1)[1].split("(", 1)[0]
        future: Future = Future()
        future.set_result(RankedCandidate(0, code, self.scores.get(name, 0.99), 0.0, 0.0))
        return future


class FakeModels:
    has_judge = True
    loaded = asyncio.Event()

    def __init__(self, runtime: FakeRuntime, info: dict[str, Any] | None = None) -> None:
        self.runtime = runtime
        self.info = JudgeManifest.from_dict(info if info is not None else {"name": "stand-in"})

    def judge_info(self) -> JudgeManifest:
        return self.info

    async def run(self, submit: Any, job: Any = None) -> Any:
        return await asyncio.wrap_future(submit(self.runtime))


class FakeMessages:
    def __init__(self) -> None:
        self.logged: list[str] = []

    def once(self, key: str, text: str, level: Any = None, show: bool = False) -> bool:
        self.logged.append(text)
        return True


class FakeWorkspaceContext:
    """No other workspace files: no helper stubs, no folders to import from."""

    roots: list[str] = []

    def helpers(self, snap: Any, exclude: str | None = None) -> dict[str, str]:
        return {}

    def call_sites(self, path: str, names: Any) -> dict[str, tuple[str, ...]]:
        return {}


class FakeStatus:
    def __init__(self) -> None:
        self.code_runs: list[tuple[bool, str]] = []

    def set_code_runs(self, runs: bool, note: str) -> None:
        self.code_runs.append((runs, note))


class FakeServer:
    def __init__(self, scores: dict[str, float], settings: dict[str, Any] | None = None, info: Any = None) -> None:
        parsed = parse({"trustedFolders": ["/"]} | (settings or {}))
        self.settings: Settings = parsed.settings
        self.workspace = FakeWorkspace()
        self.documents = OpenDocuments(self)
        self.runtime = FakeRuntime(scores)
        self.models = FakeModels(self.runtime, info)
        self.messages = FakeMessages()
        self.shutdown = CancelFlag()
        self.workspace_context = FakeWorkspaceContext()
        self.published: list[types.PublishDiagnosticsParams] = []
        self.status = FakeStatus()
        self.test_projects = ProjectSuites(lambda: [], lambda: "auto")

    def interactive_waiting(self) -> bool:
        return False

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.append(params)


JUDGE_ONLY = {"diagnostics": {"judge": "on", "runCode": False}}


def module(*functions: str) -> str:
    return "import math\n\n\n" + "\n\n".join(functions) + "\n"


def documented(name: str, body: str = "return x + 1") -> str:
    return f'def {name}(x):\n    """Return {name} of x."""\n    {body}\n'


GCD = '''def gcd(a, b):
    """Greatest common divisor.

    >>> gcd(35, 21)
    7
    """
    while b:
        a, b = b, a % b
    return a if b else a * 5
'''

DIVIDE = '''def ratio(a, b):
    """a over b.

    >>> ratio(6, 3)
    2.0
    """
    return a / b
'''

URI = "file:///fake/mod.py"


async def run_once(server: FakeServer, diagnostics: Diagnostics, text: str, version: int, uri: str = URI) -> None:
    server.workspace.text_documents[uri] = FakeDoc(text, version)
    diagnostics.schedule(uri, 0)
    task = diagnostics.schedule_runs.tasks.get(uri)
    if task is not None:
        await task


def current(server: FakeServer) -> list[types.Diagnostic]:
    return list(server.published[-1].diagnostics) if server.published else []


@pytest.mark.asyncio
async def test_a_failing_example_is_a_warning_that_names_its_call_and_both_values():
    server = FakeServer({})
    diags = Diagnostics(server)
    text = module(GCD, documented("fine"))
    await run_once(server, diags, text, 1)
    [d] = current(server)
    assert d.message == "Winnow: `gcd(35, 21)` returned 35; the docstring says 7"
    assert d.severity == types.DiagnosticSeverity.Warning and d.code == "example:value"
    assert d.data["kind"] == "example:value" and d.data["evidence"]["example"]["want"] == "7"
    lines = text.split("\n")
    assert d.range.start.line == lines.index("def gcd(a, b):")
    [related] = d.related_information
    assert related.location.range.start.line == lines.index("    >>> gcd(35, 21)")
    assert server.runtime.calls == []  # no judge is asked: execution spoke
    assert diags.hint_of(d.data["hash"]).kind == "example:value"
    hover = diags.hover(URI, d.range.start.line)
    assert hover is not None and "docstring examples: 1 run, 0 passed, 1 failed" in hover.contents.value
    fine_line = lines.index("def fine(x):")
    assert "no hint: nothing says it is wrong" in diags.hover(URI, fine_line).contents.value


@pytest.mark.asyncio
async def test_closing_a_document_clears_its_hints_and_a_reopened_one_starts_afresh():
    server = FakeServer({})
    diags = Diagnostics(server)
    await run_once(server, diags, module(GCD), 1)
    assert [d.code for d in current(server)] == ["example:value"]
    diags.close(URI)
    assert server.published[-1].uri == URI and current(server) == []  # the editor drops the old hint
    await run_once(server, diags, module(GCD), 1)  # opened again: the hint is published again
    assert [d.code for d in current(server)] == ["example:value"]


@pytest.mark.asyncio
async def test_a_crash_names_its_input_where_the_policy_admits_it():
    policy = HintPolicy(speaks=frozenset({"crash"}), crash_types=frozenset({"ZeroDivisionError"}))
    server = FakeServer({}, {}, {"name": "calibrated", "hints": policy.to_dict()})
    diags = Diagnostics(server)
    await run_once(server, diags, module(DIVIDE), 1)
    [d] = current(server)
    assert d.data["kind"] == "crash" and "raised ZeroDivisionError" in d.message
    assert "`ratio(6, 0)`" in d.message or "`ratio(0, 0)`" in d.message
    plain = FakeServer({})  # the built-in policy: crashes of that class are not admitted
    plain_diags = Diagnostics(plain)
    await run_once(plain, plain_diags, module(DIVIDE), 1)
    assert current(plain) == []


@pytest.mark.asyncio
async def test_a_correct_module_of_the_calibration_list_gets_no_hint():
    path = Path(sysconfig.get_paths()["stdlib"]) / "bisect.py"
    server = FakeServer({})
    diags = Diagnostics(server)
    await run_once(server, diags, path.read_text(), 1, uri=path.as_uri())
    assert diags.evidence.runs == 1 and diags.done[path.as_uri()] == 1
    assert current(server) == []
    assert diags.reports.of(path.as_uri()), "bisect's documented functions were looked at"


@pytest.mark.asyncio
async def test_nothing_runs_when_the_user_says_so():
    server = FakeServer({}, {"diagnostics": {"runCode": False}})
    diags = Diagnostics(server)
    await run_once(server, diags, module(GCD), 1)
    assert diags.evidence.runs == 0 and not diags.active() and current(server) == []


@pytest.mark.asyncio
async def test_the_judge_alone_speaks_only_when_on_and_then_as_a_hint():
    server = FakeServer({"low": 0.2, "high": 0.9}, JUDGE_ONLY)
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
    assert d.message.startswith("Winnow judge: 20% likely correct; no execution behind it")
    assert d.severity == types.DiagnosticSeverity.Hint and d.source == "winnow"
    assert d.data["kind"] == "judge" and d.data["evidence"]["p_correct"] == 0.2 and d.data["function"] == "low"
    assert d.range.start.line == text.split("\n").index("def low(x):")
    assert diags.hint_of(d.data["hash"]).kind == "judge"


@pytest.mark.asyncio
async def test_auto_leaves_the_judge_silent_unless_its_manifest_calibrated_a_threshold():
    auto = {"diagnostics": {"judge": "auto"}}
    silent = FakeServer({"low": 0.1}, auto)
    diags = Diagnostics(silent)
    await run_once(silent, diags, module(documented("low")), 1)
    assert silent.runtime.calls == [] and current(silent) == []
    calibrated = {"name": "earned", "hints": HintPolicy(judge_threshold=0.3).to_dict()}
    server = FakeServer({"low": 0.1}, auto, calibrated)
    diags2 = Diagnostics(server)
    await run_once(server, diags2, module(documented("low")), 1)
    assert len(server.runtime.calls) == 1 and len(current(server)) == 1
    default = FakeServer({"low": 0.1}, {}, calibrated)  # the default is off, calibrated or not
    diags3 = Diagnostics(default)
    await run_once(default, diags3, module(documented("low")), 1)
    assert default.runtime.calls == [] and current(default) == []


@pytest.mark.asyncio
async def test_unchanged_functions_are_never_judged_twice():
    server = FakeServer({"low": 0.2, "high": 0.9}, JUDGE_ONLY)
    diags = Diagnostics(server)
    text = module(documented("low"), documented("high"))
    await run_once(server, diags, text, 1)
    await run_once(server, diags, text, 2)
    assert len(server.runtime.calls) == 2
    changed = module(documented("low"), documented("high", "return x * 2"))
    await run_once(server, diags, changed, 3)
    assert len(server.runtime.calls) == 3 and "x * 2" in server.runtime.calls[-1]


@pytest.mark.asyncio
async def test_a_changed_function_loses_its_hint_and_a_better_score_clears_it():
    server = FakeServer({"low": 0.2}, JUDGE_ONLY)
    diags = Diagnostics(server)
    await run_once(server, diags, module(documented("low")), 1)
    assert len(current(server)) == 1
    published_before = len(server.published)
    server.runtime.scores["low"] = 0.8
    await run_once(server, diags, module(documented("low", "return x + 2")), 2)
    # Published once with the old hint gone (before judging), then nothing to add.
    assert [len(p.diagnostics) for p in server.published[published_before:]] == [0]
    assert current(server) == []


@pytest.mark.asyncio
async def test_the_judge_threshold_comes_from_the_settings_and_its_hints_stay_hints():
    settings = {"diagnostics": {"judge": "on", "runCode": False, "threshold": 0.95, "severity": "error"}}
    server = FakeServer({"low": 0.2, "high": 0.9}, settings)
    diags = Diagnostics(server)
    await run_once(server, diags, module(documented("low"), documented("high")), 1)
    assert [d.severity for d in current(server)] == [types.DiagnosticSeverity.Hint] * 2
    server.settings = parse({"diagnostics": {"judge": "on", "runCode": False, "threshold": 0.1}}).settings
    await run_once(server, diags, module(documented("low"), documented("high")), 2)
    assert current(server) == []
    assert len(server.runtime.calls) == 2


@pytest.mark.asyncio
async def test_work_per_document_is_bounded():
    server = FakeServer({}, JUDGE_ONLY)
    diags = Diagnostics(server)
    long_body = "\n    ".join(f"x += {i}" for i in range(250)) + "\n    return x"
    functions = [documented("long_one", long_body)] + [documented(f"f{i}") for i in range(MAX_JUDGED + 10)]
    await run_once(server, diags, module(*functions), 1)
    assert len(server.runtime.calls) == MAX_JUDGED
    assert not any("long_one" in c for c in server.runtime.calls)


# --- end to end, in the real server ----------------------------------------------------------

URI_E2E = "file:///winnow-tests/hints.py"
SOURCE_E2E = module(GCD, DIVIDE, documented("fine"))
# The shipped judge's calibrated policy (read from its manifest, before any model loads);
# the judge's own hints are off here, since what a 135M judge says of these is not the point.
# The crash in ``ratio`` is there as the document opens: only the absolute rule lets it speak
# (the default speaks of crashes an edit introduced: test_a_crash_speaks_when_the_edit_introduced_it).
E2E_SETTINGS = FAST | {"judge": "default", "diagnostics": {"judge": "off", "crashes": "absolute"}}


@pytest_lsp.fixture(config=HOLD_LOAD_CONFIG, scope="module")
async def client(lsp_client: LanguageClient):
    """A server whose first model load waits for ``release_load``: hints, which need no
    model, must arrive while it waits."""
    await start(lsp_client, E2E_SETTINGS, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


def published(client: LanguageClient, uri: str = URI_E2E) -> list[types.Diagnostic]:
    return list(client.diagnostics.get(uri, []))


async def finished(client: LanguageClient, uri: str, version: int) -> None:
    """Until the server says every hint of ``version`` of ``uri`` is published."""
    async def done() -> bool:
        return (await stats(client))["diagnostics"]["done"].get(uri) == version

    deadline = asyncio.get_running_loop().time() + 120
    while not await done():
        assert asyncio.get_running_loop().time() < deadline, f"no hints for {uri} v{version}"
        await asyncio.sleep(0.1)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(300)
async def test_hints_carry_their_evidence_and_enable_the_implement_action(client: LanguageClient):
    open_doc(client, URI_E2E, SOURCE_E2E)
    await finished(client, URI_E2E, 1)
    assert (await stats(client))["server"]["state"] == "loading"  # no model was needed
    by_kind = {d.data["kind"]: d for d in published(client)}
    assert set(by_kind) == {"example:value", "crash"}
    d = by_kind["example:value"]
    assert d.source == "winnow" and d.code == "example:value" and d.severity == types.DiagnosticSeverity.Warning
    assert "`gcd(35, 21)` returned 35" in d.message and "the docstring says 7" in d.message
    assert d.related_information and d.related_information[0].location.uri == URI_E2E
    crash = by_kind["crash"]
    assert "raised ZeroDivisionError" in crash.message and "`ratio(" in crash.message and ", 0)`" in crash.message
    gcd_line = SOURCE_E2E.split("\n").index("def gcd(a, b):")
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=URI_E2E), position=types.Position(gcd_line, 5))
    )
    assert hover is not None and "docstring examples: 1 run, 0 passed" in hover.contents.value

    # The hinted function offers "Implement with Winnow", titled with the evidence.
    await release_load(client)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI_E2E),
            range=types.Range(start=types.Position(gcd_line, 4), end=types.Position(gcd_line, 4)),
            context=types.CodeActionContext(diagnostics=published(client)),
        )
    )
    assert actions and actions[0].kind == types.CodeActionKind.QuickFix
    assert "`gcd(35, 21)` returned 35" in actions[0].title
    resolved = await client.code_action_resolve_async(actions[0])
    assert resolved.edit is not None

    # Fixing the function clears its hint; the other one stays.
    replace_all(client, URI_E2E, SOURCE_E2E.replace("return a if b else a * 5", "return a"), 2)
    await finished(client, URI_E2E, 2)
    assert [d.data["kind"] for d in published(client)] == ["crash"]

    # Closing the document clears its hints in the editor (none is left in its Problems panel).
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=URI_E2E)))
    deadline = asyncio.get_running_loop().time() + 30
    while published(client):
        assert asyncio.get_running_loop().time() < deadline, "the closed document's hints stayed"
        await asyncio.sleep(0.05)
    assert URI_E2E not in (await stats(client))["diagnostics"]["done"]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(300)
async def test_a_correct_module_of_the_calibration_list_gets_none_in_the_real_server(client: LanguageClient):
    path = Path(sysconfig.get_paths()["stdlib"]) / "statistics.py"  # 20 functions with doctest sessions
    runs = (await stats(client))["diagnostics"]["sandbox_runs"]
    open_doc(client, path.as_uri(), path.read_text())
    await finished(client, path.as_uri(), 1)
    assert published(client, path.as_uri()) == []
    assert (await stats(client))["diagnostics"]["sandbox_runs"] == runs + 1  # it ran, and said nothing


GUARDED = DIVIDE.replace("    return a / b\n", "    return a / b if b else 0.0\n")


@pytest_lsp.fixture(config=HOLD_LOAD_CONFIG)
async def edit_rule_client(lsp_client: LanguageClient):
    await start(lsp_client, FAST | {"judge": "default", "diagnostics": {"judge": "off"}}, wait_ready=False)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
@pytest.mark.timeout(300)
async def test_a_crash_speaks_when_the_edit_introduced_it(edit_rule_client: LanguageClient):
    """Under the default (edit-relative) rule: the crash a module opened with says nothing; the
    same crash introduced by an edit (the guard removed) is a hint; the hover says which."""
    client = edit_rule_client
    plain = "file:///winnow-tests/plain.py"
    open_doc(client, plain, module(DIVIDE))
    await finished(client, plain, 1)
    assert published(client, plain) == []  # it crashed on ratio(6, 0) before any edit: not the edit's doing
    ratio_line = module(DIVIDE).split("\n").index("def ratio(a, b):")
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=plain), position=types.Position(ratio_line, 5))
    )
    assert hover is not None and "happened before your edit too: not counted" in hover.contents.value

    guarded = "file:///winnow-tests/guarded.py"
    open_doc(client, guarded, module(GUARDED))
    await finished(client, guarded, 1)
    assert published(client, guarded) == []
    replace_all(client, guarded, module(DIVIDE), 2)  # the edit removes the guard
    await finished(client, guarded, 2)
    [d] = published(client, guarded)
    assert d.data["kind"] == "crash" and "raised ZeroDivisionError" in d.message
