"""The evidence of a document's functions, per language: what ran on them and what it did.

A hint rests on something that happened. For a Python module that is its docstring
sessions and calls on inputs nobody wrote down, in one sandboxed process
(``module_evidence.collect``); for a Java file, its Javadoc examples with the JDK
(``java.runs.java_evidence``). ``DOCUMENT_EVIDENCE`` names each language's way; the editor
asks ``document_evidence`` and never branches on a language.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from winnow.judge.evidence.examples import Example, find_examples
from winnow.judge.evidence.java.examples import find_java_examples
from winnow.judge.evidence.java.probe import parameter_count
from winnow.judge.evidence.java.runs import NO_JDK, java_evidence, jdk_available
from winnow.judge.evidence.module_evidence import ModuleEvidence, Target, collect
from winnow.judge.sandbox.choice import isolation
from winnow.judge.sites import FunctionSite


@dataclass(frozen=True)
class EvidenceRequest:
    """What to run on a document's functions (the editor's settings, resolved)."""

    examples: bool = True  # the docstring's (Javadoc's) examples
    probes: int = 24  # calls on inputs nobody wrote down, per function
    typed: int = 0  # of those, drawn from type hints
    calls: Mapping[str, Sequence[str]] = field(default_factory=dict)  # qualname → literal call arguments
    extra_paths: Sequence[str] = ()  # folders the code may import from (the workspace's)


class DocumentEvidence(Protocol):
    """One language's way to gather evidence on the functions of a document."""

    #: Whether it calls functions on the literal arguments of the workspace's call sites.
    takes_call_sites: bool

    def unavailable(self) -> str | None:
        """Why nothing can run on this machine (no JDK), or None."""
        ...

    def examples(self, site: FunctionSite) -> list[Example]:
        """The examples ``site``'s docstring (Javadoc) writes down."""
        ...

    def collect(
        self, text: str, path: str | None, sites: Sequence[FunctionSite], request: EvidenceRequest
    ) -> ModuleEvidence: ...


class PythonEvidence:
    """The module as the editor has it, run in the sandbox (``module_evidence``)."""

    takes_call_sites = True

    def unavailable(self) -> str | None:
        return no_strong_sandbox()

    def examples(self, site: FunctionSite) -> list[Example]:
        return find_examples(textwrap.dedent(site.header), site.name)

    def collect(
        self, text: str, path: str | None, sites: Sequence[FunctionSite], request: EvidenceRequest
    ) -> ModuleEvidence:
        targets = [Target(s.qualname, s.start_line + 1) for s in sites]
        return collect(
            text, path, targets, probes=request.probes, sessions=request.examples, extra_paths=request.extra_paths,
            typed=request.typed, calls=request.calls,
        )  # fmt: skip


class JavaEvidence:
    """Javadoc examples with the JDK, all of a class's in one ``javac`` + JVM (no probes yet)."""

    takes_call_sites = False

    def unavailable(self) -> str | None:
        return no_strong_sandbox() or (None if jdk_available() else NO_JDK)

    def examples(self, site: FunctionSite) -> list[Example]:
        return find_java_examples(site.docstring, site.name, parameter_count(site))

    def collect(
        self, text: str, path: str | None, sites: Sequence[FunctionSite], request: EvidenceRequest
    ) -> ModuleEvidence:
        return java_evidence(text, sites if request.examples else [])


def no_strong_sandbox() -> str | None:
    """Why no code of a workspace may run here (no sandbox keeps the user's files read-only
    and the network unreachable), or None: it never runs under a weaker one."""
    iso = isolation()
    return None if iso.strong else iso.why_not_strong()


#: By language: how the evidence of a document's functions is gathered.
DOCUMENT_EVIDENCE: dict[str, DocumentEvidence] = {"python": PythonEvidence(), "java": JavaEvidence()}


def document_evidence(language: str) -> DocumentEvidence | None:
    """The way to gather evidence on ``language``'s functions; None where there is none."""
    return DOCUMENT_EVIDENCE.get(language)
