"""The `winnow` command end to end: models, complete, version (real subprocesses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_support import assert_clean_error, winnow


def test_version() -> None:
    proc = winnow("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("winnow ")


def test_models_resolve_default_records_sha256(tmp_path: Path) -> None:
    proc = winnow("models", "resolve", "default", "--json", env={"WINNOW_CACHE": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["source"] == "embedded"
    assert info["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert len(info["sha256"]) == 64 and info["size"] > 50_000_000
    manifest = json.loads((tmp_path / "models.json").read_text())
    assert manifest[info["path"]]["sha256"] == info["sha256"]
    listed = winnow("models", "list", "--json", env={"WINNOW_CACHE": str(tmp_path)})
    assert info["path"] in [m["path"] for m in json.loads(listed.stdout)]


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    assert_clean_error(winnow("models", "resolve", str(missing)), str(missing), "does not exist")


def test_text_file_renamed_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_text("these are my notes, not a model\n")
    assert_clean_error(winnow("models", "resolve", str(fake)), str(fake), "not a GGUF")


def test_truncated_gguf(tmp_path: Path, default_model_path: str) -> None:
    cut = tmp_path / "cut.gguf"
    with open(default_model_path, "rb") as src:
        cut.write_bytes(src.read(5_000_000))
    assert_clean_error(winnow("models", "resolve", str(cut)), str(cut), "truncated")


def test_truncated_header(tmp_path: Path, default_model_path: str) -> None:
    cut = tmp_path / "header.gguf"
    with open(default_model_path, "rb") as src:
        cut.write_bytes(src.read(3000))
    assert_clean_error(winnow("models", "resolve", str(cut)), str(cut))


def test_hub_model_not_downloaded_without_permission(tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    spec = "hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert_clean_error(winnow("models", "resolve", spec, env=env), "not downloaded", "winnow models download")
    assert_clean_error(winnow("models", "resolve", "hf:just-a-name", env=env), "hf:OWNER/REPO/FILE.gguf")


def test_complete_with_bad_model_is_one_clear_line(tmp_path: Path, repo_root: Path) -> None:
    fake = tmp_path / "bad.gguf"
    fake.write_bytes(b"GGUF" + b"\x00" * 64)
    proc = winnow("complete", str(repo_root / "docs/examples/stats.py"), "--model", str(fake), "--judge", "none")
    assert_clean_error(proc, str(fake))


def test_complete_end_to_end_json(repo_root: Path) -> None:
    example = repo_root / "docs/examples/stats.py"
    proc = winnow("complete", f"{example}:15", "-n", "3", "--max-tokens", "48", "--judge", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["function"] == "count_vowels"
    assert report["strategy"] == "logprob"
    cands = report["candidates"]
    assert len(cands) == 3
    assert [c["rank"] for c in cands] == [1, 2, 3]
    scores = [c["score"] for c in cands]
    assert scores == sorted(scores, reverse=True)
    for c in cands:
        assert c["code"].startswith("def count_vowels(text: str) -> int:")
    t = report["timings"]
    assert t["prompt_tokens"] > 0 and t["prefill_ms"] > 0 and t["decode_tok_s"] > 0


def test_complete_human_output(repo_root: Path) -> None:
    proc = winnow("complete", str(repo_root / "docs/examples/stats.py"), "-n", "2", "--max-tokens", "24", "--judge", "none")
    assert proc.returncode == 0, proc.stderr
    assert "running_max" in proc.stdout
    assert "prefill" in proc.stdout and "tok/s" in proc.stdout
    assert "#1" in proc.stdout and "#2" in proc.stdout


@pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac) on PATH")
def test_complete_a_java_stub_ranks_by_its_javadoc_examples(tmp_path: Path) -> None:
    source = tmp_path / "Digits.java"
    source.write_text(
        "public class Digits {\n    /**\n     * The sum of the digits of n.\n     *\n"
        "     * @return 6 for 123, 0 for 0\n     */\n    public static int digitSum(int n) {\n"
        "        throw new UnsupportedOperationException();\n    }\n}\n"
    )
    proc = winnow("complete", str(source), "-n", "2", "--max-tokens", "48", "--judge", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["function"] == "digitSum" and report["strategy"] == "examples"
    for cand in report["candidates"]:
        assert cand["code"].lstrip().startswith("/**") and cand["code"].rstrip().endswith("}")
        assert cand["signals"]["examples"]["total"] == 2  # both examples ran on every body


def test_complete_errors(tmp_path: Path) -> None:
    assert_clean_error(winnow("complete", str(tmp_path / "missing.py")), "no such file")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert_clean_error(winnow("complete", str(empty), "--judge", "none"), "no Python function")
    java = tmp_path / "Empty.java"
    java.write_text("public class Empty { }\n")
    assert_clean_error(winnow("complete", str(java), "--judge", "none"), "no Java method")


@pytest.mark.parametrize("target, expected", [("a.py", ("a.py", None)), ("a.py:12", ("a.py", 11)), ("C:/x.py", ("C:/x.py", None))])
def test_parse_target(target: str, expected: tuple[str, int | None]) -> None:
    from winnow.judge.cli.complete import parse_target

    path, line = parse_target(target)
    assert (str(path), line) == expected


def test_shared_flags_mean_the_same_in_every_verb() -> None:
    """The flags several verbs share (judge/cli/flags.py) have one type, action and default
    wherever they are optional, and every flag of every verb says what it does."""
    import argparse

    from winnow.judge.cli import register_all

    parser = argparse.ArgumentParser()
    register_all(parser.add_subparsers())
    shared = {"--problems", "--candidates", "--labels", "--out", "--model", "--judge", "--threads",
              "--workers", "--timeout", "--seed", "--download", "--quiet", "--json"}
    seen: dict[str, set[tuple[object, ...]]] = {}
    verbs = 0

    def walk(p: argparse.ArgumentParser) -> None:
        nonlocal verbs
        verbs += 1
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in set(action.choices.values()):
                    walk(sub)
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (p.prog, action.option_strings)
            name = next((o for o in action.option_strings if o in shared), None)
            if name and not action.required and name != "--timeout":  # timeouts differ by what they bound
                seen.setdefault(name, set()).add((type(action).__name__, action.type, action.default))

    walk(parser)
    assert verbs >= 10 and {"--problems", "--threads", "--quiet", "--json", "--model"} <= set(seen)
    assert {name: kinds for name, kinds in seen.items() if len(kinds) > 1} == {}
