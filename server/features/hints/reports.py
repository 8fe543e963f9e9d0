"""Deciding: what ran on each function and the judge's score, turned into a hint or silence
under the policy (``winnow.judge.hints.policy.hint_for``), kept per document until the next run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from winnow.judge.evidence.module_evidence import FunctionEvidence, ModuleEvidence
from winnow.judge.evidence.project_tests.verdicts import FunctionTests
from winnow.judge.hints.edits import introduced_only
from winnow.judge.hints.ignores import silences
from winnow.judge.hints.policy import Hint, HintPolicy, hint_for
from winnow.judge.sites import FunctionSite, backend


@dataclass(frozen=True)
class FunctionReport:
    """Everything known of one function's content: what ran, the judge, the hint."""

    site: FunctionSite
    evidence: FunctionEvidence | None
    module_status: str  # "loaded" | "failed" | "error" | "off"
    module_error: str
    p_correct: float | None
    hint: Hint | None
    tests: FunctionTests | None = None
    dropped: int = 0  # probe failures the version before had too (edit-relative rule): not counted
    ignored: Hint | None = None  # the hint a ``winnow: ignore`` comment on its def line silenced


def doc_comment(site: FunctionSite) -> str:
    """What the function's language calls the comment its examples come from."""
    lang = backend(site.language)
    return lang.doc_comment if lang is not None else "docstring"


def decide(
    sites: Sequence[FunctionSite],
    evidence: ModuleEvidence,
    policy: HintPolicy,
    scores: Mapping[str, float],
    severity: str,
    figures: str,
    tests: Mapping[str, FunctionTests] | None = None,
    related: Mapping[str, Mapping[tuple[str, str, str], str]] | None = None,
    ignored: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, FunctionReport]:
    """Each function's report, by content hash: its evidence, its tests' verdict (``tests``, by
    qualname), the judge's score (``scores``, by content hash) and the hint ``policy`` gives
    them, if any. With ``related`` (edit-relative crashes, ``judge.hints.edits``), a probe
    failure the version before failed the same way says nothing."""
    reports: dict[str, FunctionReport] = {}
    for site in sites:
        ev = evidence.functions.get(site.qualname) or FunctionEvidence(site.qualname)
        if related is not None:
            ev = introduced_only(ev, related.get(site.qualname, {}))
        p = scores.get(site.content_hash)
        own = (tests or {}).get(site.qualname)
        hint = hint_for(ev, policy, p, figures, severity, doc=doc_comment(site), tests=own)
        silenced = None
        if hint is not None and silences((ignored or {}).get(site.qualname, frozenset()), hint.kind):
            hint, silenced = None, hint  # the user answered it: ``winnow: ignore`` on its def line
        reports[site.content_hash] = FunctionReport(
            site, ev, evidence.status, evidence.error, p, hint, own,
            dropped=len((evidence.functions.get(site.qualname) or ev).probes) - len(ev.probes), ignored=silenced,
        )  # fmt: skip
    return reports


class Reports:
    """The last reports of every open document: uri → content hash → report."""

    def __init__(self) -> None:
        self.by_uri: dict[str, dict[str, FunctionReport]] = {}

    def of(self, uri: str) -> dict[str, FunctionReport]:
        return self.by_uri.get(uri, {})

    def set(self, uri: str, reports: dict[str, FunctionReport]) -> None:
        self.by_uri[uri] = reports

    def forget(self, uri: str) -> None:
        self.by_uri.pop(uri, None)

    def hint_of(self, digest: str) -> Hint | None:
        """The hint published on a function content, in any open document."""
        for reports in self.by_uri.values():
            report = reports.get(digest)
            if report is not None and report.hint is not None:
                return report.hint
        return None

    def at_line(self, uri: str, line: int) -> FunctionReport | None:
        """The report of the function whose name is on ``line``."""
        return next((r for r in self.of(uri).values() if r.site.def_line == line), None)
