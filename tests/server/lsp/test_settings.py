"""Settings: the typed tree (unit) and bad initializationOptions (end to end)."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsp_support import CONFIG, start, stats, wait_for
from pytest_lsp import LanguageClient

from winnow.server.lsp.settings import Settings, parse


def test_defaults_follow_the_contract():
    s = Settings()
    assert s.to_json() == {
        "generatorModel": "default",
        "judge": "default",
        "allowDownload": False,
        "candidates": 5,
        "temperature": 0.8,
        "maxTokens": 64,
        "debounceMs": 150,
        "threads": 0,
        "trustedFolders": [],
        "inlineCompletion": {"enabled": True, "candidates": 3},
        "codeActions": {"enabled": True},
        "diagnostics": {
            "enabled": True, "runCode": True, "examples": True, "probes": 24, "typedInputs": True,
            "callSites": True, "judge": "off",
            "threshold": 0.5, "severity": "warning",
            "tests": True, "testRunner": "auto", "testTimeout": 60, "crashes": "edit", "exclude": [],
        },
        "context": {"enabled": True, "maxTokens": 128, "maxFiles": 5000},
    }


def test_valid_values_and_nesting_under_winnow():
    parsed = parse({"winnow": {"candidates": 3, "temperature": 1, "diagnostics": {"severity": "Warning"}}})
    assert not parsed.errors
    assert parsed.settings.candidates == 3
    assert parsed.settings.temperature == 1.0
    assert parsed.settings.diagnostics.severity == "warning"
    assert parsed.explicit == {"candidates", "temperature", "diagnostics.severity"}


@pytest.mark.parametrize(
    "raw, path",
    [
        ({"candidates": 0}, "candidates"),
        ({"candidates": 17}, "candidates"),
        ({"candidates": True}, "candidates"),
        ({"candidates": 2.5}, "candidates"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"maxTokens": "64"}, "maxTokens"),
        ({"debounceMs": -1}, "debounceMs"),
        ({"threads": -2}, "threads"),
        ({"generatorModel": ""}, "generatorModel"),
        ({"judge": 5}, "judge"),
        ({"allowDownload": "yes"}, "allowDownload"),
        ({"inlineCompletion": {"enabled": 1}}, "inlineCompletion.enabled"),
        ({"diagnostics": {"threshold": 1.5}}, "diagnostics.threshold"),
        ({"diagnostics": {"severity": "loud"}}, "diagnostics.severity"),
        ({"diagnostics": "off"}, "diagnostics"),
    ],
)
def test_invalid_values_take_the_default_and_say_so(raw, path):
    parsed = parse(raw)
    assert len(parsed.errors) == 1 and path in parsed.errors[0]
    assert parsed.settings == Settings()


def test_garbage_and_unknown_keys_never_raise():
    assert parse(None).settings == Settings()
    assert parse([1, 2]).errors and parse([1, 2]).settings == Settings()
    parsed = parse({"serverPath": "/x", "trace": {"server": "verbose"}, "codeActions": {"maybe": 1}, "candidates": None})
    assert not parsed.errors and parsed.settings == Settings()
    assert set(parsed.unknown) == {"serverPath", "trace", "codeActions.maybe"}


@pytest_lsp.fixture(config=CONFIG)
async def bad_client(lsp_client: LanguageClient):
    await start(lsp_client, {"judge": "none", "threads": 1, "candidates": "many", "maxTokens": 0})
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_bad_initialization_options_produce_a_message_and_defaults(bad_client: LanguageClient):
    await wait_for(lambda: bad_client.messages, timeout=30)
    text = " ".join(m.message for m in bad_client.messages)
    assert "candidates" in text and "maxTokens" in text and "default" in text
    result = await stats(bad_client)
    assert result["server"]["settings"]["candidates"] == 5
    assert result["server"]["settings"]["maxTokens"] == 64
    assert result["server"]["state"] == "ready"
