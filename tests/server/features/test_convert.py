"""Body edits (server.features.convert) and which functions the implement action offers."""

from __future__ import annotations

import ast

from lsp_support import apply_edits

from winnow.judge.sites import functions
from winnow.server.features import convert
from winnow.server.features.code_actions import implementable
from winnow.server.workspace.documents import (
    Snapshot,
)


def test_body_edits_replace_exactly_the_body():
    source = 'def f(x):\n    """Doc."""\n    pass\n\n\ndef g():\n    return 1'
    for site in functions(source):
        snap = Snapshot("file:///e.py", source, 1, "python", "utf-16")
        edit = convert.body_edit(snap, site, " " * (site.indent + 4) + "return 42\n")
        new = apply_edits(source, [edit])
        ast.parse(new)
        assert new.count("return 42") == 1
    stub_at_end = 'def h():\n    """Doc."""'
    site = functions(stub_at_end)[0]
    edit = convert.body_edit(Snapshot("file:///e.py", stub_at_end, 1, "python", "utf-16"), site, "    return 0\n")
    assert apply_edits(stub_at_end, [edit]) == 'def h():\n    """Doc."""\n    return 0'


def test_one_line_functions_are_not_offered():
    sites = functions("def a(): pass\n\n\nclass C:\n    def b(self):\n        ...\n")
    assert [implementable(s) for s in sites] == [False, True]
