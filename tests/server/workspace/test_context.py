"""Workspace context, below the server: definition stubs, the index's bounds and safety,
the budgeted block, its rendering in prompts, and the judge's task with helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from winnow.judge.base.definitions import called_names, helper_stubs, imported_names, module_definitions
from winnow.judge.base.snippets import ContextFile, jaccard, line_chunks, pack, rank_chunks, words
from winnow.judge.llm.prompts import PromptContext, completion_prompt, render_context, repo_tokens
from winnow.judge.sites import function_at, judge_task
from winnow.server.lsp_verb import check_listen_address, is_loopback
from winnow.server.workspace.index import Limits, WorkspaceIndex, module_names

HELPERS = '''"""Path helpers."""
import os

SEPARATOR = "/"
_CACHE = {}


def normalize_path(path: str, *, strict: bool = False) -> str:
    """Collapse repeated separators in path.

    A second paragraph the stub leaves out."""
    return path.replace("//", "/")


@decorated
async def fetch_blob(url, timeout=3.0):
    return None


class PathSet(Base):
    """A set of paths."""

    root: str

    def add(self, p: str) -> None:
        pass

    def _private(self):
        pass

    @property
    def size(self) -> int:
        return 0
'''


def wait_idle(index: WorkspaceIndex, timeout: float = 60.0) -> bool:
    """Until the index has no queued or running job (its ``pending`` count, which stats show)."""
    deadline = time.monotonic() + timeout
    while index.pending:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def scanned(roots: list[Path], limits: Limits | None = None) -> WorkspaceIndex:
    index = WorkspaceIndex(limits)
    index.set_roots(roots)
    assert wait_idle(index, 120)
    return index


# --- definitions ---------------------------------------------------------------------------


def test_module_definitions_are_stubs_with_the_first_docstring_line():
    defs = {d.name: d for d in module_definitions(HELPERS)}
    assert list(defs) == ["SEPARATOR", "_CACHE", "normalize_path", "fetch_blob", "PathSet"]
    assert defs["normalize_path"].stub == (
        'def normalize_path(path: str, *, strict: bool=False) -> str:\n    """Collapse repeated separators in path."""\n    ...\n'
    )
    assert defs["fetch_blob"].stub == "async def fetch_blob(url, timeout=3.0):\n    ...\n"  # decorator dropped
    cls = defs["PathSet"].stub
    assert cls.startswith('class PathSet(Base):\n    """A set of paths."""\n    root: str\n')
    assert "def add(self, p: str) -> None: ..." in cls and "@property\n    def size(self) -> int: ..." in cls
    assert "_private" not in cls and "return" not in cls
    assert defs["SEPARATOR"].stub == "SEPARATOR = '/'\n"
    with pytest.raises(SyntaxError):
        module_definitions("def broken(:\n")


def test_imported_names_called_names_and_helper_stubs():
    source = "from .paths import normalize_path as norm, PathSet\nfrom . import paths\nimport pkg.util as u\nimport os.path\n"
    imps = imported_names(source)
    assert [(i.module, i.name, i.bound, i.level) for i in imps] == [
        ("paths", "normalize_path", "norm", 1),
        ("paths", "PathSet", "PathSet", 1),
        ("", "paths", "paths", 1),
        ("pkg.util", None, "u", 0),
        ("os.path", None, "os", 0),
    ]
    code = "    def m(self, x):\n        s = PathSet()\n        return u.join(norm(x), paths.SEP.lower())\n"
    assert called_names(code) == ["PathSet", "u.join", "norm", "paths.SEP.lower"]
    known = {"norm": "def normalize_path(p): ...\n", "PathSet": "class PathSet: ...\n", "u.join": "def join(*a): ...\n"}
    assert helper_stubs([code], known) == "class PathSet: ...\n\ndef join(*a): ...\n\ndef normalize_path(p): ...\n"
    assert helper_stubs(["def f():\n    return 1\n"], known) == ""
    assert helper_stubs([code], known, limit=40) == "class PathSet: ...\n\ndef join(*a): ...\n"


def test_judge_task_carries_helpers_before_the_header():
    source = "from typing import List\nfrom .paths import normalize_path\n\n\ndef clean(items: List[str]) -> List[str]:\n    \"\"\"Normalize every path.\"\"\"\n    ...\n"
    site = function_at(source, 4)
    assert site is not None
    plain = judge_task(source, site)
    assert plain == "from typing import List\n\n\n" + site.header  # unchanged without helpers
    stub = 'def normalize_path(path: str) -> str:\n    """Collapse separators."""\n    ...\n'
    task = judge_task(source, site, stub)
    assert task == "from typing import List\n\n\n" + stub + "\n\n" + site.header
    assert task.endswith(site.header)  # the function to judge stays the task's last one
    assert judge_task(source.replace("from typing import List\n", ""), site, stub) == stub + "\n\n" + site.header


# --- snippets and the block ---------------------------------------------------------------


def test_chunks_rank_by_jaccard_and_the_block_keeps_its_budget():
    assert jaccard(words("a b c"), words("b c d")) == pytest.approx(2 / 4)
    text = "\n".join(f"line_{i} = compute_total(values_{i})" for i in range(40))
    chunks = line_chunks("calc.py", text, lines=16)
    assert [c.start_line for c in chunks] == [0, 16, 32]
    other = line_chunks("other.py", "alpha beta\ngamma\n")
    ranked = rank_chunks("total = compute_total(values_3)", other + chunks)
    assert ranked[0].start_line == 0  # the chunk that holds values_3 ranks first
    assert {c.path for c in ranked} == {"calc.py"}  # the unrelated file is left out
    assert rank_chunks("total = compute_total(values_3)", other + chunks) == ranked  # deterministic
    defs = [("pkg/paths.py", ["def a(x): ...", "def b(y): ..."]), ("pkg/io.py", ["def c(): ..."])]
    block = pack(defs, ranked, budget_chars=400)
    assert block[0] == ContextFile("pkg/paths.py", "def a(x): ...\ndef b(y): ...\n", "definitions")
    assert block[1].path == "pkg/io.py"
    assert sum(len(f.text) + len(f.path) + 2 for f in block) <= 400
    assert pack(defs, ranked, budget_chars=400) == block  # deterministic: same inputs, same block
    assert pack(defs, ranked, budget_chars=0) == []
    assert all(f.kind == "definitions" for f in pack(defs, ranked, 60))


class _Vocab:
    """Just the vocabulary surface prompts.py reads, for formats no test GGUF has."""

    def __init__(self, tokens: dict[str, int], name: str = "qwen2.5-coder-0.5b") -> None:
        self.tokens = tokens
        self.metadata = {"general.name": name}

    def special_token(self, name: str) -> int | None:
        spelled = {"fim_pre": "<|fim_prefix|>", "fim_suf": "<|fim_suffix|>", "fim_mid": "<|fim_middle|>",
                   "fim_rep": "<|repo_name|>", "fim_sep": "<|file_sep|>"}.get(name)
        return self.tokens.get(spelled) if spelled else None

    def find_token(self, text: str) -> int | None:
        return self.tokens.get(text)

    def token_text(self, token: int) -> str:
        return next(t for t, i in self.tokens.items() if i == token)

    def chat_template(self) -> str | None:
        return None


CONTEXT = PromptContext(
    (ContextFile("pkg/paths.py", "def normalize_path(path: str) -> str: ...\n", "definitions"),),
    path="pkg/app.py",
    repo="demo",
)


def test_repo_level_fim_format_from_the_vocabulary():
    qwen = _Vocab({t: i for i, t in enumerate(
        ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"])})
    assert repo_tokens(qwen) is not None
    prompt = completion_prompt(qwen, "x = norm", "\n", CONTEXT)
    assert prompt.text == (
        "<|repo_name|>demo\n<|file_sep|>pkg/paths.py\ndef normalize_path(path: str) -> str: ...\n"
        "<|file_sep|>pkg/app.py\n<|fim_prefix|>x = norm<|fim_suffix|>\n<|fim_middle|>"
    )
    assert completion_prompt(qwen, "x = norm", "\n").text == "<|fim_prefix|>x = norm<|fim_suffix|>\n<|fim_middle|>"


def test_context_is_commented_code_for_smollm2(model):  # type: ignore[no-untyped-def]
    assert repo_tokens(model) is None
    prompt = completion_prompt(model, "x = norm", "", CONTEXT)
    assert prompt.mode == "prefix"
    assert prompt.text == (
        "# Context from other files of this workspace:\n# pkg/paths.py:\n"
        "# def normalize_path(path: str) -> str: ...\n\nx = norm"
    )
    assert render_context(model, None) == ""


def test_fim_model_without_file_separator_gets_comments_inside_the_prefix(tmp_path: Path):
    from gguf_factory import write_tiny_llama

    from winnow.judge.llm.model import Model

    tiny = Model(write_tiny_llama(tmp_path / "fim.gguf", fim=True))
    try:
        prompt = completion_prompt(tiny, "x = norm", "\n", CONTEXT)
        assert prompt.mode == "fim"
        assert prompt.text.startswith("<|fim_prefix|># Context from other files of this workspace:\n")
        assert prompt.text.endswith("\nx = norm<|fim_suffix|>\n<|fim_middle|>")
    finally:
        tiny.close()


# --- the index -----------------------------------------------------------------------------


def test_module_names_cover_packages_and_src_layouts():
    assert module_names("pkg/paths.py") == ["pkg.paths"]
    assert module_names("pkg/__init__.py") == ["pkg"]
    assert module_names("src/pkg/io.py") == ["src.pkg.io", "pkg.io"]
    assert module_names("my-scripts/run.py") == []


def test_index_resolves_imports_and_skips_what_it_must(tmp_path: Path):
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "paths.py", HELPERS)
    write(root / "pkg" / "broken.py", "def broken(:\n")
    write(root / "pkg" / "notes.ts", "export function shout(s: string) { return s.toUpperCase(); }\n")
    write(root / ".gitignore", "generated/\n*.tmp.py\n")
    write(root / "generated" / "gen.py", "def generated_fn(): pass\n")
    write(root / "pkg" / "scratch.tmp.py", "def scratch_fn(): pass\n")
    write(root / ".venv" / "pyvenv.cfg", "home = /usr\n")
    write(root / ".venv" / "lib" / "v.py", "def venv_fn(): pass\n")
    write(root / "env2" / "pyvenv.cfg", "home = /usr\n")
    write(root / "env2" / "w.py", "def venv2_fn(): pass\n")
    write(root / "node_modules" / "m.js", "function nm() {}\n")
    write(outside / "secret.py", "def secret_outside_fn(): pass\n")
    os.symlink(outside / "secret.py", root / "pkg" / "secret.py")
    os.symlink(outside, root / "linked")
    index = scanned([root])
    info = index.describe()
    rels = sorted(e.rel for e in (index.entry(str(p)) for p in (root / "pkg").iterdir()) if e is not None)
    assert rels == ["pkg/__init__.py", "pkg/notes.ts", "pkg/paths.py"]
    assert info["files"] == 3
    assert info["skipped_outside"] == 2  # the file link and the folder link, never opened
    assert info["skipped_broken"] == 1 and info["last_broken"] == "pkg/broken.py"
    assert info["skipped_ignored"] >= 4  # generated/, *.tmp.py, .venv, env2 (a venv), node_modules
    assert info["truncated"] is None and info["scans"] == 1
    everything = " ".join(d.stub for p in index._files.values() for d in p.definitions)
    for name in ("secret_outside_fn", "generated_fn", "scratch_fn", "venv_fn", "venv2_fn"):
        assert name not in everything
    app = str(root / "pkg" / "app.py")
    found = index.imported_definitions(
        app, imported_names("from .paths import normalize_path as norm\nimport pkg.paths as P\nfrom .secret import x\n")
    )
    assert len(found) == 1 and found[0][0].rel == "pkg/paths.py"
    spelled = [s for s, _ in found[0][1]]
    assert spelled[0] == "norm" and "P.PathSet" in spelled


def test_watched_changes_inside_are_read_and_outside_never(tmp_path: Path):
    root = tmp_path / "ws"
    write(root / "helpers.py", "def first_version(a): pass\n")
    write(tmp_path / "elsewhere.py", "def elsewhere_fn(): pass\n")
    os.symlink(tmp_path / "elsewhere.py", root / "link.py")
    index = scanned([root])
    gen = index.other_generation(str(root / "main.py"))
    write(root / "helpers.py", "def second_version(a, b): pass\n")
    index.file_changed(str(root / "helpers.py"))
    index.file_changed(str(tmp_path / "elsewhere.py"))  # an event for a file outside the root
    index.file_changed(str(root / "link.py"))  # and for a link inside that points out
    assert wait_idle(index, 60)
    names = [d.name for d in index.entry(str((root / "helpers.py").resolve())).definitions]  # type: ignore[union-attr]
    assert names == ["second_version"]
    assert index.entry(str(tmp_path / "elsewhere.py")) is None
    assert index.describe()["skipped_outside"] == 3  # the link at scan time, then both events
    assert index.other_generation(str(root / "main.py")) > gen
    assert index.other_generation(str(root / "helpers.py")) == gen  # its own change is not its input
    index.file_changed(str(root / "helpers.py"), deleted=True)
    assert wait_idle(index, 60)
    assert index.entry(str((root / "helpers.py").resolve())) is None


def test_a_huge_tree_stays_within_its_bounds(tmp_path: Path):
    root = tmp_path / "big"
    write(root / "big.py", "x = 1\n" * 60_000)  # 360 KB: over the per-file limit
    for d in range(12):
        for f in range(25):
            write(root / f"d{d:02d}" / f"m{f:02d}.py", f"def fn_{d}_{f}(x):\n    return x + {f}\n")
    index = scanned([root], Limits(max_files=100))
    info = index.describe()
    assert info["files"] == 100 and info["truncated"] == "max_files"
    assert info["skipped_large"] == 1
    by_bytes = scanned([root], Limits(max_files=1000, max_total_bytes=3000))
    assert by_bytes.describe()["truncated"] == "max_total_bytes"
    assert by_bytes.describe()["bytes"] <= 3000


def test_open_documents_win_and_closing_restores_the_disk_version(tmp_path: Path):
    root = tmp_path / "ws"
    path = write(root / "h.py", "def on_disk(): pass\n").resolve()
    index = scanned([root])
    index.update_document(str(path), "def in_editor(x): pass\n")
    index.update_document(str(path), "def in_editor(x, y): pass\n")  # coalesced: the last text wins
    assert wait_idle(index, 60)
    assert index.entry(str(path)).definitions[0].stub.startswith("def in_editor(x, y)")  # type: ignore[union-attr]
    assert [c.path for c in index.recent_chunks(exclude="nothing")] == ["h.py"]
    index.close_document(str(path))
    assert wait_idle(index, 60)
    assert index.entry(str(path)).definitions[0].name == "on_disk"  # type: ignore[union-attr]


# --- the socket ------------------------------------------------------------------------------


def test_remote_tcp_is_refused_without_allow_remote():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.8")
    check_listen_address("127.0.0.1", allow_remote=False)
    check_listen_address("0.0.0.0", allow_remote=True)
    proc = subprocess.run(
        [sys.executable, "-m", "winnow.cli", "lsp", "--tcp", "0.0.0.0:39871"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "not a loopback address" in proc.stderr and "--allow-remote" in proc.stderr


def test_a_java_file_shows_its_declarations_first(tmp_path: Path):
    root = tmp_path / "ws"
    write(root / "src" / "Calc.java", "public class Calc {\n    /** Doc. */\n    public static int twice(int x) {\n"
          "        return 2 * x;\n    }\n}\n")
    index = scanned([root])
    entry = index.entry(str(root / "src" / "Calc.java"))
    assert entry is not None and entry.definitions == ()
    assert entry.chunks[0].text == "public class Calc {\n    public static int twice(int x);\n"
    assert "twice" in entry.chunks[0].words and len(entry.chunks) >= 2  # then the file's own lines


def test_call_sites_come_from_the_files_that_import_the_module(tmp_path: Path):
    root = tmp_path / "ws"
    geometry = write(root / "shapes" / "geometry.py", "def aspect(w, h):\n    return w / h\n")
    write(root / "shapes" / "__init__.py", "")
    write(root / "tests" / "test_geometry.py", "from shapes.geometry import aspect\n\ndef test():\n    assert aspect(16, 9)\n")
    write(root / "app.py", "from shapes import geometry\n\nprint(geometry.aspect(4, 3))\n")
    write(root / "elsewhere.py", "def aspect(a, b):\n    return a\n\naspect(1, 0)\n")  # its own aspect, not ours
    write(root / "shapes" / "rel.py", "from .geometry import aspect\n\naspect(2, 1)\n")
    index = scanned([root])
    found = index.call_sites(str(geometry.resolve()), ["aspect"])
    assert sorted(found["aspect"]) == ["16, 9", "2, 1", "4, 3"]
    assert index.call_sites(str(geometry.resolve()), ["other"]) == {}
