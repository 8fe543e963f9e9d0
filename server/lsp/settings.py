"""The server's settings: one typed, fully defaulted tree parsed from JSON.

The contract (paths, types, defaults) is docs/settings.md, shared with every client.
``parse()`` never raises: an invalid value is replaced by its default and described
in a message the server shows to the user; unknown keys are returned separately
(clients may send their own keys next to ours, so they are logged, not shown).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any

SEVERITIES = ("error", "warning", "information", "hint")
JUDGE_MODES = ("auto", "on", "off")
TEST_RUNNERS = ("auto", "pytest", "unittest")
CRASH_RULES = ("edit", "absolute")


@dataclass(frozen=True)
class InlineCompletionSettings:
    enabled: bool = True
    # Fewer than the code action's N: inline latency grows with every sequence in the
    # batch (docs/inline-completion.md has the measurements).
    candidates: int = 3


@dataclass(frozen=True)
class CodeActionSettings:
    enabled: bool = True


@dataclass(frozen=True)
class DiagnosticSettings:
    """Correctness hints (docs/settings.md, "diagnostics"): what runs, and how loud."""

    enabled: bool = True
    # The sandbox runs the document's functions (docstring sessions, nearby inputs); off:
    # nothing of the user's runs, and only the learned judge (if it is on) can speak.
    run_code: bool = True
    examples: bool = True  # run docstring sessions (``>>>``) as doctest would
    probes: int = 24  # inputs tried per function beyond its written examples (0: none)
    typed_inputs: bool = True  # some of them drawn from the type hints (Hypothesis)
    call_sites: bool = True  # some of them the literal arguments of calls in the workspace
    # The learned judge alone: off by default (it costs 1-6 s of the two cores per function of
    # real code, and its false alarms off the calibration corpus are not measured yet);
    # auto: only if its manifest's calibration admits it; on: below ``threshold``.
    judge: str = "off"
    threshold: float = 0.5  # with judge "on": a hint below this P(correct)
    severity: str = "warning"  # the most a hint with execution behind it shows as (the judge alone: hint)
    # The project's own tests: after an edit, those that reach the edited functions run
    # (docs/hints.md, "Evidence from your tests"); their runner as the project's files say it,
    # unless set; the time one run of them may take.
    tests: bool = True
    test_runner: str = "auto"
    test_timeout: int = 60
    # A crash on an input nobody wrote down speaks when the edit introduced it (the version the
    # document started from did not fail so on the same input), or always ("absolute").
    crashes: str = "edit"
    # Files no hint speaks of (gitignore-style globs, relative to a workspace folder: ``tests/**``,
    # ``**/migrations/*.py``; or absolute).
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContextSettings:
    """Other workspace files in the prompt (docs/settings.md, "context")."""

    enabled: bool = True
    # About a quarter of the inline prompt (a ~416-token window around the cursor).
    max_tokens: int = 128
    max_files: int = 5000  # files the workspace index holds at most


@dataclass(frozen=True)
class Settings:
    generator_model: str = "default"
    judge: str = "default"
    allow_download: bool = False
    candidates: int = 5
    temperature: float = 0.8
    max_tokens: int = 64
    debounce_ms: int = 150
    threads: int = 0
    # Folders whose code Winnow may run (hints, examples, tests), each with what is below it;
    # nothing of a folder outside them runs (docs/sandbox.md, "Workspace trust"). VS Code's
    # extension sends the workspace's folders here once the workspace is trusted.
    trusted_folders: tuple[str, ...] = ()
    inline_completion: InlineCompletionSettings = field(default_factory=InlineCompletionSettings)
    code_actions: CodeActionSettings = field(default_factory=CodeActionSettings)
    diagnostics: DiagnosticSettings = field(default_factory=DiagnosticSettings)
    context: ContextSettings = field(default_factory=ContextSettings)

    def to_json(self) -> dict[str, Any]:
        """The settings as the client spells them (camelCase paths)."""
        return _to_json(self)

    def model_key(self) -> tuple[str, str, bool]:
        """What decides which models are loaded: a change here means a reload."""
        return (self.generator_model, self.judge, self.allow_download)


@dataclass(frozen=True)
class ParsedSettings:
    settings: Settings
    errors: list[str]  # one message per invalid value (shown to the user)
    unknown: list[str]  # paths we do not know (logged)
    explicit: frozenset[str]  # paths the client set to a valid value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _to_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        out[_camel(f.name)] = _to_json(value) if is_dataclass(value) else list(value) if isinstance(value, tuple) else value
    return out


# --- value checks: (value) -> (ok, cleaned value, what was expected) ---------------------


def _check(path: str, value: Any) -> tuple[bool, Any, str]:
    rule = _RULES[path]
    kind = rule[0]
    if kind == "bool":
        return isinstance(value, bool), value, "true or false"
    if kind == "str":
        ok = isinstance(value, str) and value.strip() != ""
        return ok, value.strip() if ok else value, "a non-empty string"
    if kind == "int":
        lo, hi = rule[1], rule[2]
        span = f"an integer from {lo} to {hi}" if hi is not None else f"an integer ≥ {lo}"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= lo and (hi is None or value <= hi)
        return ok, value, span
    if kind == "float":
        lo, hi = rule[1], rule[2]
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and lo <= value <= hi
        )
        return ok, float(value) if ok else value, f"a number from {lo} to {hi}"
    if kind == "enum":
        ok = isinstance(value, str) and value.strip().lower() in rule[1]
        return ok, value.strip().lower() if ok else value, "one of " + ", ".join(f'"{v}"' for v in rule[1])
    if kind == "paths":  # blank entries are dropped, not a reason to lose the others
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return ok, tuple(v.strip() for v in value if v.strip()) if ok else value, "a list of folder paths"
    raise AssertionError(kind)  # pragma: no cover


_RULES: dict[str, tuple[Any, ...]] = {
    "generatorModel": ("str",),
    "judge": ("str",),
    "allowDownload": ("bool",),
    "candidates": ("int", 1, 16),
    "temperature": ("float", 0.0, 2.0),
    "maxTokens": ("int", 1, 1024),
    "debounceMs": ("int", 0, 5000),
    "threads": ("int", 0, 512),
    "trustedFolders": ("paths",),
    "inlineCompletion.enabled": ("bool",),
    "inlineCompletion.candidates": ("int", 1, 16),
    "codeActions.enabled": ("bool",),
    "diagnostics.enabled": ("bool",),
    "diagnostics.runCode": ("bool",),
    "diagnostics.examples": ("bool",),
    "diagnostics.probes": ("int", 0, 200),
    "diagnostics.typedInputs": ("bool",),
    "diagnostics.callSites": ("bool",),
    "diagnostics.judge": ("enum", JUDGE_MODES),
    "diagnostics.threshold": ("float", 0.0, 1.0),
    "diagnostics.severity": ("enum", SEVERITIES),
    "diagnostics.tests": ("bool",),
    "diagnostics.testRunner": ("enum", TEST_RUNNERS),
    "diagnostics.testTimeout": ("int", 5, 600),
    "diagnostics.crashes": ("enum", CRASH_RULES),
    "diagnostics.exclude": ("paths",),
    "context.enabled": ("bool",),
    "context.maxTokens": ("int", 0, 2048),
    "context.maxFiles": ("int", 1, 200_000),
}
_GROUPS = {
    "inlineCompletion": "inline_completion",
    "codeActions": "code_actions",
    "diagnostics": "diagnostics",
    "context": "context",
}


_JSON_TYPES = {
    "bool": "boolean", "str": "string", "int": "integer", "float": "number", "enum": "string", "paths": "array",
}  # fmt: skip


def schema() -> dict[str, dict[str, Any]]:
    """Every setting by its path, as a JSON-schema property (type, default, bounds, enum):
    the one source that the extension's package.json and settings.ts and
    docs/settings.md are checked against (tests/server/lsp/test_settings_schema.py)."""
    defaults = Settings()
    out: dict[str, dict[str, Any]] = {}
    for path, rule in _RULES.items():
        default = _default_at(defaults, path)
        prop: dict[str, Any] = {"type": _JSON_TYPES[rule[0]], "default": list(default) if isinstance(default, tuple) else default}
        if rule[0] in ("int", "float"):
            prop["minimum"] = rule[1]
            if rule[2] is not None:
                prop["maximum"] = rule[2]
        if rule[0] == "enum":
            prop["enum"] = list(rule[1])
        if rule[0] == "paths":
            prop["items"] = {"type": "string"}
        out[path] = prop
    return out


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unwrap(raw: Any) -> Any:
    """``didChangeConfiguration`` may nest our object under a ``"winnow"`` key."""
    if isinstance(raw, dict) and isinstance(raw.get("winnow"), dict):
        return raw["winnow"]
    return raw


def parse(raw: Any) -> ParsedSettings:
    """Settings from a client's JSON object; never raises."""
    defaults = Settings()
    raw = unwrap(raw)
    if raw is None:
        return ParsedSettings(defaults, [], [], frozenset())
    if not isinstance(raw, dict):
        return ParsedSettings(
            defaults,
            [f"Winnow settings must be a JSON object, got {type(raw).__name__}: using the defaults"],
            [],
            frozenset(),
        )
    found = _Found(defaults)
    for key, value in raw.items():
        if isinstance(key, str):
            found.entry(key, value)
    settings = replace(
        defaults,
        **found.top,
        inline_completion=replace(defaults.inline_completion, **found.groups["inline_completion"]),
        code_actions=replace(defaults.code_actions, **found.groups["code_actions"]),
        diagnostics=replace(defaults.diagnostics, **found.groups["diagnostics"]),
        context=replace(defaults.context, **found.groups["context"]),
    )
    return ParsedSettings(settings, found.errors, found.unknown, frozenset(found.explicit))


class _Found:
    """What ``parse`` found in a client's object: valid values by field, and what was wrong."""

    def __init__(self, defaults: Settings) -> None:
        self.defaults = defaults
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self.explicit: set[str] = set()
        self.top: dict[str, Any] = {}
        self.groups: dict[str, dict[str, Any]] = {g: {} for g in _GROUPS.values()}

    def entry(self, key: str, value: Any) -> None:
        """One top-level key: a setting, a group of them, or unknown (null means "unset")."""
        if key in _GROUPS:
            if value is None:
                return
            if not isinstance(value, dict):
                self.errors.append(f"Winnow setting {key} must be an object, got {_short(value)}; using its defaults")
                return
            for sub, sub_value in value.items():
                path = f"{key}.{sub}"
                if path not in _RULES:
                    self.unknown.append(path)
                elif sub_value is not None:
                    self.take(path, sub_value)
        elif key in _RULES:
            if value is not None:  # null means "unset": the default
                self.take(key, value)
        else:
            self.unknown.append(key)

    def take(self, path: str, value: Any) -> None:
        ok, cleaned, expected = _check(path, value)
        if not ok:
            self.errors.append(
                f"Winnow setting {path} = {_short(value)} is invalid (expected {expected}); "
                f"using the default {_short(_default_at(self.defaults, path))}"
            )
            return
        self.explicit.add(path)
        head, _, leaf = path.partition(".")
        if leaf:
            self.groups[_GROUPS[head]][_snake(leaf)] = cleaned
        else:
            self.top[_snake(head)] = cleaned


def _default_at(settings: Settings, path: str) -> Any:
    return _dig(asdict(settings), path)


def _dig(tree: dict[str, Any], path: str) -> Any:
    head, _, leaf = path.partition(".")
    if leaf:
        return tree[_GROUPS[head]][_snake(leaf)]
    return tree[_snake(head)]
