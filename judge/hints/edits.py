"""Evidence relative to the version the user started from: a crash that the edit introduced.

An exception on an input nobody wrote down cannot tell a bug from a precondition (an
``IndexError`` on an empty string a function's contract excludes), but the edit can: the
same call on the version the document started from (the file as saved when opened) either
did the same — the edit did not introduce it, it is no evidence — or did not. Inputs are
the same on both versions when the function's signature and docstring are (they are drawn
from its examples, its type hints and the workspace's calls, seeded); where those changed,
or the function is new, no earlier run says anything and the calibrated rule stands alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from winnow.judge.evidence.module_evidence import FunctionEvidence, ModuleEvidence, ProbeFailure
from winnow.judge.sites import FunctionSite

#: How a probe's failure relates to the version the document started from.
INTRODUCED = "introduced"  # that version did not fail so on the same input: the edit did
ALSO_BEFORE = "also before"  # it failed the same way there: not the edit's doing
NO_EARLIER = "no earlier version"  # a new function, or one whose inputs changed: cannot say


def _key(probe: ProbeFailure) -> tuple[str, str, str]:
    return (probe.call, probe.exception, probe.kind)


def relations(
    current: ModuleEvidence, before: ModuleEvidence | None, sites: Sequence[FunctionSite],
    before_sites: Mapping[str, FunctionSite],
) -> dict[str, dict[tuple[str, str, str], str]]:
    """For each function's probe failures now: introduced, also before, or no earlier version."""
    out: dict[str, dict[tuple[str, str, str], str]] = {}
    for site in sites:
        ev = current.functions.get(site.qualname)
        if ev is None or not ev.probes:
            continue
        earlier = before_sites.get(site.qualname)
        comparable = before is not None and before.status == "loaded" and earlier is not None and (
            earlier.header == site.header)  # fmt: skip
        old = before.functions.get(site.qualname) if comparable and before is not None else None
        failed_before = {_key(p) for p in old.probes} if old is not None else set()
        out[site.qualname] = {
            _key(p): (ALSO_BEFORE if _key(p) in failed_before else INTRODUCED) if comparable else NO_EARLIER
            for p in ev.probes
        }
    return out


def introduced_only(evidence: FunctionEvidence, related: Mapping[tuple[str, str, str], str]) -> FunctionEvidence:
    """``evidence`` without the probe failures the version before failed the same way."""
    kept = tuple(p for p in evidence.probes if related.get(_key(p), NO_EARLIER) != ALSO_BEFORE)
    return evidence if len(kept) == len(evidence.probes) else replace(evidence, probes=kept)


def relation_of(probe: ProbeFailure, related: Mapping[tuple[str, str, str], str]) -> str:
    return related.get(_key(probe), NO_EARLIER)
