"""Hints a user can answer: the quick fixes tied to a Winnow diagnostic (``CodeAction.diagnostics``).

A hint on released code is a stale docstring or a precondition as often as a bug. So each
hint offers, besides implementing the function again (code_actions.py):

- **Update the docstring to the observed value** (a failing example): the example's expected
  output becomes what the code printed;
- **Ignore this hint**: ``# winnow: ignore[KIND]`` on the function's ``def`` line (the
  language's own comment), so this kind of evidence on this function stays silent;
- **Ignore every Winnow hint on the function**: ``# winnow: ignore``.

Everything is an LSP workspace edit, so Neovim and Emacs get the same fixes as VS Code.
"""

from __future__ import annotations

from typing import Any, Protocol

from lsprotocol import types

from winnow.judge.hints.ignores import with_ignore
from winnow.judge.sites import FunctionSite, backend
from winnow.server.features import convert
from winnow.server.workspace.documents import Snapshot, function_sites

KIND = types.CodeActionKind.QuickFix
#: The hints whose example has an observed value a docstring can take.
UPDATABLE = frozenset({"example:value", "example:text", "example:output"})


class DocumentsLookup(Protocol):
    def snapshot(self, uri: str) -> Snapshot | None: ...


def _site(snap: Snapshot, data: dict[str, Any], line: int) -> FunctionSite | None:
    """The function a diagnostic is on: by its content hash, else the one named on its line."""
    sites = function_sites(snap, around_line=line)
    return next((s for s in sites if s.content_hash == data.get("hash")), None) or next(
        (s for s in sites if s.def_line == line), None)  # fmt: skip


def _replace_line(snap: Snapshot, row: int, text: str) -> types.TextEdit:
    start = types.Position(line=row, character=0)
    end = types.Position(line=row, character=snap.client_column(row, len(snap.line_text(row))))
    return types.TextEdit(range=types.Range(start=start, end=end), new_text=text)


def ignore_fix(snap: Snapshot, site: FunctionSite, diagnostic: types.Diagnostic, kind: str | None) -> types.CodeAction | None:
    """``# winnow: ignore[kind]`` (every kind when None) on the function's def line."""
    lang = backend(site.language)
    if lang is None:
        return None
    line = snap.line_text(site.def_line)
    new = with_ignore(line, lang.line_comment, kind)
    what = f"this `{kind}` hint" if kind else "every Winnow hint"
    return types.CodeAction(
        title=f"Winnow: ignore {what} on `{site.name}` ({lang.line_comment} winnow: ignore{f'[{kind}]' if kind else ''})",
        kind=KIND,
        diagnostics=[diagnostic],
        edit=convert.workspace_edit(snap.uri, snap.version, _replace_line(snap, site.def_line, new)),
    )


def docstring_fix(snap: Snapshot, site: FunctionSite, diagnostic: types.Diagnostic) -> types.CodeAction | None:
    """The failing example's expected output replaced by what the code printed."""
    example = ((diagnostic.data or {}).get("evidence") or {}).get("example") or {}
    if diagnostic.data.get("kind") not in UPDATABLE or site.docstring_line is None or "line" not in example:
        return None
    prompt_row = site.docstring_line + int(example["line"])
    want_lines = str(example.get("want", "")).splitlines()
    got_lines = str(example.get("got", "")).rstrip("\n").splitlines()
    if not got_lines or prompt_row >= snap.line_count:
        return None
    prompt = snap.line_text(prompt_row)
    indent = prompt[: len(prompt) - len(prompt.lstrip())]
    if ">>>" not in prompt:
        return None
    source_lines = max(1, len(str(example.get("source", "")).rstrip("\n").splitlines()))
    first = prompt_row + source_lines  # the expected output follows the example's own lines
    last = first + len(want_lines)  # exclusive
    start = types.Position(line=first, character=0)
    end = types.Position(line=min(last, snap.line_count), character=0)
    text = "".join(f"{indent}{g}\n" for g in got_lines)
    edit = types.TextEdit(range=types.Range(start=start, end=end), new_text=text)
    shown = got_lines[0] if len(got_lines) == 1 else f"{got_lines[0]} …"
    return types.CodeAction(
        title=f"Winnow: update the {convert.doc_comment(site)} to the observed value ({shown})",
        kind=KIND,
        diagnostics=[diagnostic],
        edit=convert.workspace_edit(snap.uri, snap.version, edit),
    )


class QuickFixes:
    """The quick fixes of the Winnow diagnostics a code-action request carries."""

    def __init__(self, documents: DocumentsLookup) -> None:
        self.documents = documents

    def list(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        only = params.context.only if params.context else None
        if only and not any(str(KIND).startswith(str(o)) for o in only):
            return []
        snap = self.documents.snapshot(params.text_document.uri)
        if snap is None or params.context is None:
            return []
        actions: list[types.CodeAction] = []
        for diagnostic in params.context.diagnostics:
            data = diagnostic.data
            if diagnostic.source != "winnow" or not isinstance(data, dict) or "kind" not in data:
                continue
            site = _site(snap, data, diagnostic.range.start.line)
            if site is None:
                continue
            fixes = [docstring_fix(snap, site, diagnostic), ignore_fix(snap, site, diagnostic, str(data["kind"])),
                     ignore_fix(snap, site, diagnostic, None)]  # fmt: skip
            actions += [f for f in fixes if f is not None]
        return actions
