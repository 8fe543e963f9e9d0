"""Training data from real Java on disk: the methods of a Java tree (a team's repository, or
the JDK's own sources, ``lib/src.zip``), as problems with self-labelled candidates — the
Java front end of ``winnow mine`` (judge.dataset.mining is the Python one).

Each method with a body becomes a problem shaped like the Java problems (``java:humaneval``):
the declarations of the classes around it, its Javadoc and signature; its reference is the
method inside those classes (a compilation unit that parses alone). Candidates: the method
as released (``passed``) and single-point bugs of its body (``failed``,
judge.dataset.java.mutations), self-supervised like the Python miner's. A package is a
top-level folder (in src.zip, a JDK module such as ``java.base``), and splits never share one.
"""

from __future__ import annotations

import hashlib
import os
import random
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from winnow.judge.dataset.java.mutations import java_mutants
from winnow.judge.dataset.java.program import java_normalized
from winnow.judge.dataset.mining import GENERATED, unique_sample
from winnow.judge.dataset.records import LabelRecord, ProblemRecord
from winnow.judge.sites import functions

_SKIP_PARTS = frozenset({"test", "tests", "testdata", "examples", "demo", "sample"})
MAX_FILE_CHARS = 1_000_000


@dataclass(frozen=True)
class MinedMethod:
    package: str
    path: str
    line: int  # 1-based line of the method's name
    qualname: str
    name: str
    code: str  # the method inside the classes around it: parses alone
    prompt: str  # those classes' declarations, its Javadoc and signature

    @property
    def problem_id(self) -> str:
        return f"mined-java:{self.package}:{self.qualname}@{hashlib.sha256(self.code.encode()).hexdigest()[:8]}"


def java_sources(root: str | os.PathLike[str]) -> Iterator[tuple[str, str, str]]:
    """(package, path, text) of every ``.java`` file under ``root`` (a folder, one file, or a
    ``.zip`` such as the JDK's src.zip), tests and samples left out."""
    root = Path(root)
    if root.suffix == ".zip":
        with zipfile.ZipFile(root) as z:
            for name in sorted(z.namelist()):
                parts = name.split("/")
                if name.endswith(".java") and not _SKIP_PARTS & set(parts[:-1]):
                    info = z.getinfo(name)
                    if info.file_size <= MAX_FILE_CHARS:
                        yield parts[0] if len(parts) > 1 else "", f"{root}!{name}", z.read(name).decode("utf-8", "replace")
        return
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*.java") if not _SKIP_PARTS & set(p.parts))
    for path in files:
        rel = path.relative_to(root) if path != root else Path(path.name)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if len(text) <= MAX_FILE_CHARS:
            yield (rel.parts[0] if len(rel.parts) > 1 else path.stem), str(path), text


def mine_java_text(text: str, package: str, path: str, min_lines: int = 3, max_lines: int = 40) -> list[MinedMethod]:
    """The methods of one file worth training on: written (not stubs), ``min_lines`` to
    ``max_lines`` long, in a named class; none from a generated file."""
    if GENERATED.search(text[:2000]):
        return []
    out = []
    for site in functions(text, "java"):
        body_lines = site.end_line - site.header_end_line
        if site.is_stub or not site.outer or not min_lines <= body_lines <= max_lines:
            continue
        closers = "".join(
            line[: len(line) - len(line.lstrip())] + "}\n" for line in reversed(site.outer.splitlines())
        )
        code = site.outer + site.code + closers
        out.append(MinedMethod(package, path, site.def_line + 1, site.qualname, site.name, code, site.outer + site.header))
    return out


def mine_java(
    roots: Sequence[str | os.PathLike[str]], max_functions: int | None = None, seed: int = 0, **limits: int
) -> list[MinedMethod]:
    """Every worthwhile method under ``roots``, deduplicated by their tokens, in a seeded order."""
    found = (
        method
        for root in roots
        for package, path, text in java_sources(root)
        for method in mine_java_text(text, package, path, **limits)
    )
    return unique_sample(found, lambda m: java_normalized(m.code), max_functions, seed)


def java_records_for(method: MinedMethod, k: int, seed: int) -> tuple[ProblemRecord, list[LabelRecord]]:
    """The problem and its labelled candidates: the method as released passed, bugs failed."""
    problem: ProblemRecord = {
        "id": method.problem_id, "language": "java", "prompt": method.prompt, "tests": "",
        "entry_point": method.name, "reference": method.code,
        "source": {"package": method.package, "path": method.path, "line": method.line, "qualname": method.qualname},
    }  # fmt: skip
    labels: list[LabelRecord] = [{
        "problem_id": method.problem_id, "candidate_id": "canonical", "code": method.code, "status": "passed",
        "label_source": "self-supervised", "origin": "canonical", "bug_class": None, "seed": seed,
    }]  # fmt: skip
    rng = random.Random(f"{seed}:{method.problem_id}")
    for i, (code, site) in enumerate(java_mutants(method.code, method.name, k, rng), start=1):
        labels.append({
            "problem_id": method.problem_id, "candidate_id": f"mut-{i}", "code": code, "status": "failed",
            "label_source": "self-supervised", "origin": "mutant", "bug_class": site.bug_class, "seed": seed,
        })  # fmt: skip
    return problem, labels
