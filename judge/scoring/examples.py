"""Run a candidate's docstring examples (``>>>``) in the sandbox: a cheap, strong signal.

The examples come from the task's own docstring, so a candidate that fails one is
almost surely wrong. The candidate never runs in this process.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from winnow.judge.base.pysource import function_at

_DRIVER = '''

import doctest as _winnow_doctest
_winnow_runner = _winnow_doctest.DocTestRunner(
    optionflags=_winnow_doctest.ELLIPSIS | _winnow_doctest.NORMALIZE_WHITESPACE
)
for _winnow_test in _winnow_doctest.DocTestFinder(recurse=False).find(
    {name}, "{name}", globs=dict(globals())
):
    _winnow_runner.run(_winnow_test, out=lambda _text: None)
_winnow_result = _winnow_runner.summarize(verbose=False)
print("{marker}", _winnow_result.attempted, _winnow_result.failed)
'''


def run_docstring_examples(code: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """``{"total": examples, "passed": passing, "status": sandbox status}``; total 0 when
    the function has no examples or the candidate could not run them."""
    from winnow.judge.base.sandbox import run_python

    site = function_at(code)
    if site is None or not site.docstring or ">>>" not in site.docstring:
        return {"total": 0, "passed": 0, "status": "no-examples"}
    marker = "WINNOW-DOCTEST-" + secrets.token_hex(8)
    result = run_python(code + _DRIVER.format(name=site.name, marker=marker), timeout_s=timeout_s)
    found = re.search(re.escape(marker) + r" (\d+) (\d+)", result.stdout_tail)
    if not found:
        expected = site.docstring.count(">>>")
        return {"total": expected, "passed": 0, "status": result.status, "reason": result.reason}
    attempted, failed = int(found.group(1)), int(found.group(2))
    return {"total": attempted, "passed": attempted - failed, "status": result.status}
