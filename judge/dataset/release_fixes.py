"""Real bug fixes, written by others: the functions that changed between two releases of
the same code where the later release only fixes bugs (a patch release: CPython 3.11.2 →
3.11.7, a library's x.y.1 → x.y.4).

A function whose code differs between the two (docstrings aside) gives a problem — its
signature and docstring as released later — and two candidates: the later version
(``passed``) and the earlier one (``failed``). That is what a judge trained on mutants has
never seen: the bugs people really made and really fixed. The label is the release's, not
a test's, so it is noisy where a change only refactors, adds a deprecation warning or
widens a type: ``looks_like_fix`` drops the obvious ones (changes to warnings, messages
and logging only), the size limit keeps changes small, and the rest is reported as the
set's known noise. Nothing here is ever trained on: it is a second held-out set.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from winnow.judge.dataset.mining import GENERATED, python_files, task_header
from winnow.judge.dataset.records import LabelRecord, ProblemRecord
from winnow.judge.sites import functions

#: Changed lines (added + removed) a fix may have: larger changes are rewrites, not fixes.
MAX_CHANGED_LINES = 8
_NOT_A_FIX = ("warn", "deprecat", "DeprecationWarning", "log.", "logger.", "__repr__", "raise TypeError(f")


@dataclass(frozen=True)
class FixPair:
    module: str  # path relative to the roots
    qualname: str
    name: str
    before: str  # the earlier release's function (dedented)
    after: str  # the later release's
    prompt: str  # the later signature and docstring: the judge's task
    changed_lines: int

    @property
    def problem_id(self) -> str:
        digest = hashlib.sha256((self.before + self.after).encode()).hexdigest()[:8]
        return f"fix:{self.module}:{self.qualname}@{digest}"


def _without_docstrings(code: str) -> str | None:
    """``ast.dump`` of ``code`` with every docstring removed: equal when only comments,
    layout or docstrings changed."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                body.pop(0)
    return ast.dump(tree)


def _functions_of(path: Path) -> dict[str, tuple[str, str, str]]:
    """qualname → (name, dedented code, dedented header) of a file's functions."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    if GENERATED.search(text[:2000]):
        return {}
    out = {}
    for site in functions(text):
        if site.is_stub or "<locals>" in site.qualname:
            continue
        code = textwrap.dedent(site.code)
        out[site.qualname] = (site.name, code, task_header(site))
    return out


def changed_lines(before: str, after: str) -> int:
    """Lines added plus lines removed (whitespace-only lines ignored)."""
    a = [ln.strip() for ln in before.splitlines() if ln.strip()]
    b = [ln.strip() for ln in after.splitlines() if ln.strip()]
    return sum(1 for d in difflib.ndiff(a, b) if d.startswith(("+ ", "- ")))


def looks_like_fix(before: str, after: str) -> bool:
    """False for the changes that are plainly not bug fixes: only warnings, deprecations,
    logging or messages differ."""
    a = [ln.strip() for ln in before.splitlines()]
    b = [ln.strip() for ln in after.splitlines()]
    diff = [d[2:] for d in difflib.ndiff(a, b) if d.startswith(("+ ", "- "))]
    return bool(diff) and not all(any(marker in line for marker in _NOT_A_FIX) for line in diff if line)


def fix_pairs(
    old_root: str | Path, new_root: str | Path, min_lines: int = 3, max_lines: int = 60,
    max_changed: int = MAX_CHANGED_LINES,
) -> Iterator[FixPair]:
    """Every function of ``new_root`` whose code (docstrings aside) differs from the same
    qualname in the same file under ``old_root``, with a small change that may be a fix."""
    old_root, new_root = Path(old_root).resolve(), Path(new_root).resolve()
    for new_path in python_files(new_root):
        rel = new_path.relative_to(new_root)
        old_path = old_root / rel
        if not old_path.is_file():
            continue
        before_all = _functions_of(old_path)
        for qualname, (name, after, header) in _functions_of(new_path).items():
            if qualname not in before_all or not min_lines <= after.count("\n") <= max_lines:
                continue
            before = before_all[qualname][1]
            a, b = _without_docstrings(before), _without_docstrings(after)
            if a is None or b is None or a == b:
                continue
            n = changed_lines(before, after)
            if n > max_changed or not looks_like_fix(before, after):
                continue
            yield FixPair(str(rel), qualname, name, before, after, header, n)


def records_for(pair: FixPair) -> tuple[ProblemRecord, list[LabelRecord]]:
    """The problem and its two labelled candidates (the release's label, not a test's)."""
    problem: ProblemRecord = {
        "id": pair.problem_id, "language": "python", "prompt": pair.prompt, "tests": "", "entry_point": pair.name,
        "reference": pair.after, "source": {"module": pair.module, "qualname": pair.qualname,
                                            "changed_lines": pair.changed_lines},
    }  # fmt: skip
    labels: list[LabelRecord] = [
        {"problem_id": pair.problem_id, "candidate_id": cid, "code": code, "status": status,
         "label_source": "release-fix", "origin": origin, "bug_class": "real-fix" if origin == "before" else None}
        for cid, code, status, origin in (("after", pair.after, "passed", "after"),
                                          ("before", pair.before, "failed", "before"))
    ]  # fmt: skip
    return problem, labels
