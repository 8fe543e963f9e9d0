"""Core results → lsprotocol types (and the few ranges the handlers need)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lsprotocol import types

from winnow.judge.evidence.project_tests.verdicts import FunctionTests
from winnow.judge.hints.policy import Hint
from winnow.judge.scoring.manifest import JudgeManifest
from winnow.judge.scoring.ranking import RankedCandidate
from winnow.judge.sites import FunctionSite, backend
from winnow.server.features.hints.reports import FunctionReport, doc_comment
from winnow.server.features.suggestions import Suggestion
from winnow.server.workspace.documents import Snapshot

SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def rewrites_whole_function(site: FunctionSite) -> bool:
    lang = backend(site.language)
    return lang is not None and lang.rewrites_whole_function


def definition_keyword(site: FunctionSite) -> str:
    lang = backend(site.language)
    return lang.definition_keyword if lang is not None else ""


def percent(p: float | None) -> str:
    return "?" if p is None else f"{p:.0%}"


def inline_items(suggestions: list[Suggestion], position: types.Position) -> types.InlineCompletionList:
    at = types.Range(start=position, end=position)
    return types.InlineCompletionList(
        items=[types.InlineCompletionItem(insert_text=s.text, range=at) for s in suggestions]
    )


def completion_items(
    suggestions: list[Suggestion], position: types.Position, markdown: bool = False
) -> types.CompletionList:
    items = []
    at = types.Range(start=position, end=position)
    total = len(suggestions)
    for rank, s in enumerate(suggestions, start=1):
        first = next((ln.strip() for ln in s.text.splitlines() if ln.strip()), s.text.strip())
        label = first if len(first) <= 60 else first[:57] + "..."
        if s.p_correct is not None:
            verdict = f"judge {percent(s.p_correct)}"
        else:
            verdict = f"log-prob {s.mean_logprob:.2f}, no judge on the inline path"
        items.append(
            types.CompletionItem(
                label=label,
                kind=types.CompletionItemKind.Snippet,
                detail=f"Winnow #{rank}/{total} ({verdict})",
                documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```python\n{s.text}\n```")
                if markdown
                else s.text,
                sort_text=f"{rank:04d}",
                filter_text=label,
                insert_text_format=types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(range=at, new_text=s.text),
                data={"winnow": True, "rank": rank},
            )
        )
    return types.CompletionList(is_incomplete=True, items=items)


def body_edit(snap: Snapshot, site: FunctionSite, body: str) -> types.TextEdit:
    """The edit that replaces ``site``'s body (the lines after its header up to its end)
    with ``body``: pysource.replace_body, as an LSP edit. A Java site's whole method is
    rewritten (header as written, the body, its closing brace: ``body`` ends with it), so a
    one-line ``{ }`` opens up too."""
    body = body if body.endswith("\n") else body + "\n"
    lines = snap.line_count  # counts the empty line after a final line break
    if rewrites_whole_function(site):
        code = site.header.rstrip("\n") + "\n" + body
        start = types.Position(line=site.start_line, character=0)
        if site.end_line < lines:
            end = types.Position(line=site.end_line, character=0)
        else:
            end, code = snap.end_position(), code.rstrip("\n")
        return types.TextEdit(range=types.Range(start=start, end=end), new_text=code)
    if site.end_line < lines:
        start = types.Position(line=site.header_end_line, character=0)
        end = types.Position(line=site.end_line, character=0)
        return types.TextEdit(range=types.Range(start=start, end=end), new_text=body)
    # The function runs to the end of a file that has no final line break.
    end = snap.end_position()
    if site.header_end_line < lines:
        start = types.Position(line=site.header_end_line, character=0)
        return types.TextEdit(range=types.Range(start=start, end=end), new_text=body.rstrip("\n"))
    return types.TextEdit(range=types.Range(start=end, end=end), new_text="\n" + body.rstrip("\n"))


def body_of(candidate: RankedCandidate, site: FunctionSite) -> str:
    """The body of a ranked candidate (its code after the header)."""
    header = site.header.rstrip("\n")
    code = candidate.code
    if code.startswith(header):
        return code[len(header) :].lstrip("\r\n")
    return code.split("\n", header.count("\n") + 1)[-1]


def workspace_edit(uri: str, version: int | None, edit: types.TextEdit) -> types.WorkspaceEdit:
    if version is None:
        return types.WorkspaceEdit(changes={uri: [edit]})
    doc = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=doc, edits=[edit])])


def name_range(snap: Snapshot, site: FunctionSite) -> types.Range:
    """The ``def name`` part of a function's first line (where a diagnostic goes); a Java
    method's name, on the line after its Javadoc and annotations."""
    row = site.def_line
    line = snap.line_text(row)
    col = line.find(site.name)
    if col < 0:
        col, end_col = len(line) - len(line.lstrip()), len(line)
    else:
        end_col = col + len(site.name)
        keyword = definition_keyword(site)
        start_def = line.rfind(keyword, 0, col) if keyword else -1
        if start_def >= 0:
            col = start_def
    return types.Range(
        start=types.Position(line=row, character=snap.client_column(row, col)),
        end=types.Position(line=row, character=snap.client_column(row, end_col)),
    )


def judge_quality(judge: JudgeManifest | None) -> str:
    """How well the judge measured on held-out problems (ROC-AUC, accuracy, F1, MCC: the
    first three it has), or "" when its manifest carries no held-out evaluation."""
    figures = judge.evaluation if judge is not None else None
    if figures is None:
        return ""
    named = (("ROC-AUC", figures.auc), ("accuracy", figures.accuracy), ("F1", figures.f1), ("MCC", figures.mcc))
    parts = [f"{label} {value:.2f}" for label, value in named if value is not None]
    if not parts:
        return ""
    if figures.n is not None:
        where = f" on {int(figures.n)} held-out examples"
    else:
        where = f" on {figures.split}" if figures.split else " on held-out problems"
    return "judge measured " + ", ".join(parts[:3]) + where


def hint_diagnostic(snap: Snapshot, site: FunctionSite, hint: Hint) -> types.Diagnostic:
    """A hint as a diagnostic on the function's name: the evidence in ``data``, and the
    docstring example it names in ``relatedInformation``."""
    related = None
    if hint.example_line is not None and site.docstring_line is not None:
        line = min(site.docstring_line + hint.example_line, max(0, snap.line_count - 1))
        text = snap.line_text(line)
        start = len(text) - len(text.lstrip())
        where = types.Range(
            start=types.Position(line=line, character=snap.client_column(line, start)),
            end=types.Position(line=line, character=snap.client_column(line, len(text))),
        )
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=snap.uri, range=where), message=f"the {doc_comment(site)}'s example"
            )
        ]
    if hint.related is not None:
        file, line = hint.related
        at = types.Position(line=max(0, line - 1), character=0)
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=Path(file).resolve().as_uri(), range=types.Range(start=at, end=at)),
                message="the failing line of the test",
            )
        ]
    return types.Diagnostic(
        range=name_range(snap, site),
        message=hint.message,
        severity=SEVERITY.get(hint.severity, types.DiagnosticSeverity.Hint),
        source="winnow",
        code=hint.kind,
        related_information=related,
        data={"kind": hint.kind, "function": site.qualname or site.name, "hash": site.content_hash,
              "evidence": hint.evidence},
    )


def report_markdown(report: FunctionReport) -> str:
    """The hover on a judged function: what ran, what it gave, and the hint if any."""
    ev = report.evidence
    lines = [f"**Winnow** on `{report.site.qualname or report.site.name}`"]
    if report.module_status == "off":
        lines.append(f"- nothing ran ({report.module_error or '`winnow.diagnostics.runCode` is off'})")
    elif report.module_status != "loaded":
        lines.append(f"- the module did not run in the sandbox: no evidence ({report.module_error[:160]})")
    elif ev is not None:
        failed = [e for e in ev.examples if e.failed]
        lines.append(
            f"- {doc_comment(report.site)} examples: {ev.examples_run} run, {ev.examples_passed} passed"
            + (f", {len(failed)} failed" if failed else "")
        )
        origins = Counter(p.origin for p in ev.probes)
        raised = sum(1 for p in ev.probes if p.kind != "annotation" and not p.on_purpose)
        off_type = sum(1 for p in ev.probes if p.kind == "annotation")
        lines.append(
            f"- inputs nobody wrote down: {ev.inputs} tried, {raised} raised unexpectedly"
            + (f", {off_type} returned off their annotation" if off_type else "")
            + (f" (failures by source: {', '.join(f'{k} {v}' for k, v in sorted(origins.items()))})" if origins else "")
        )
    if report.dropped:
        lines.append(f"- {report.dropped} of those failures happened before your edit too: not counted "
                     "(`winnow.diagnostics.crashes`)")
    if report.tests is not None:
        lines.append(tests_line(report.tests))
    if report.p_correct is not None:
        lines.append(f"- learned judge: {percent(report.p_correct)} likely correct")
    if report.ignored is not None:
        lines.append(f"- ignored (`winnow: ignore` on its def line): {report.ignored.message}")
    elif report.hint is not None:
        lines.append(f"- hint: {report.hint.message}")
    else:
        lines.append("- no hint: nothing says it is wrong")
    return "\n".join(lines)


def tests_line(tests: FunctionTests) -> str:
    """The hover's line on a function's tests: how many reach it, and what they did last."""
    if not tests.reaching:
        return "- your tests: none reach it" + (" (none calls it by name)" if tests.how == "by-name" else "")
    found = "by coverage" if tests.how == "coverage" else "calling it by name"
    parts = [f"{tests.passed} passed"]
    if tests.broken:
        parts.append(f"{len(tests.broken)} failed now: " + ", ".join(f"`{t.name}`" for t in tests.broken[:3]))
    if tests.failing_before:
        parts.append(f"{len(tests.failing_before)} failing before the edit too")
    if tests.flaky:
        parts.append(f"{len(tests.flaky)} flaky (not counted)")
    if tests.environment:
        parts.append(f"{len(tests.environment)} could not run here (their environment)")
    return f"- your tests: {len(tests.reaching)} reach it ({found}); last run: " + ", ".join(parts)
