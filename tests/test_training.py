"""Training, export and sampling on the real embedded SmolLM2 base.

The converted transformers copy of the base is made once per test session (about a
minute; WINNOW_CACHE points at a session folder, see conftest.py) and shared by every
test here and by the `winnow train` subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl, write_jsonl

TINY = [
    ("add", "def add(a: int, b: int) -> int:\n    \"\"\"Return the sum of a and b.\"\"\"\n",
     "    return a + b\n", "    return a - b\n", "assert add(2, 3) == 5\n"),
    ("is_even", "def is_even(n: int) -> bool:\n    \"\"\"Return True if n is even.\"\"\"\n",
     "    return n % 2 == 0\n", "    return n % 2 == 1\n", "assert is_even(4) and not is_even(3)\n"),
    ("largest", "def largest(xs: list) -> int:\n    \"\"\"Return the largest number in xs.\"\"\"\n",
     "    return max(xs)\n", "    return min(xs)\n", "assert largest([1, 5, 2]) == 5\n"),
    ("first", "def first(s: str) -> str:\n    \"\"\"Return the first character of s.\"\"\"\n",
     "    return s[0]\n", "    return s[-1]\n", "assert first('abc') == 'a'\n"),
]


def _cli(*args: str, **kw):  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "winnow.server.cli", *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def torch_stack():  # type: ignore[no-untyped-def]
    for module in ("torch", "transformers", "peft", "accelerate", "sklearn"):
        pytest.importorskip(module)


@pytest.fixture(scope="module")
def converted(torch_stack):  # type: ignore[no-untyped-def]
    from winnow.judge.training.trainer import convert_base

    return convert_base("default")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """4 small problems × (right, wrong) = 8 labelled candidates."""
    root = tmp_path_factory.mktemp("tiny-data")
    problems, labels = [], []
    for name, prompt, right, wrong, tests in TINY:
        pid = f"tiny/{name}"
        problems.append({"id": pid, "language": "python", "prompt": prompt, "tests": tests, "entry_point": name})
        labels.append({"problem_id": pid, "candidate_id": "right", "code": prompt + right, "status": "passed", "reason": ""})
        labels.append({"problem_id": pid, "candidate_id": "wrong", "code": prompt + wrong, "status": "failed", "reason": "assert"})
    write_jsonl(root / "problems.jsonl", problems)
    write_jsonl(root / "labels.jsonl", labels)
    return root / "problems.jsonl", root / "labels.jsonl"


@pytest.fixture(scope="module")
def trained_run(tiny_data: tuple[Path, Path], converted, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    from winnow.judge.training.trainer import TrainConfig, train

    problems, labels = tiny_data
    out = tmp_path_factory.mktemp("run") / "run"
    # Full-batch steps (4 × 2 = all 8 examples): Adam's first steps move every LoRA weight by
    # about lr, so with mini-batches of 2 or lr ≥ 3e-4 the loss of 8 examples overshoots
    # and oscillates (measured); 1e-4 lowers it steadily.
    cfg = TrainConfig(
        labels=str(labels), problems=str(problems), out=str(out), lr=1e-4, batch_size=4, grad_accum=2,
        val_fraction=0.0, epochs=6, eval_every=3, lora_dropout=0.0, seed=0,
    )
    summary = train(cfg, progress=False)
    assert summary["finished"] and summary["steps"] == 6
    return out


@pytest.fixture(scope="module")
def strong_run(tiny_data: tuple[Path, Path], converted, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """Two full-batch steps at a high learning rate: an adapter that moves every logit far
    enough that llama.cpp-vs-transformers agreement says something about the export
    (a gentle adapter's effect drowns in the Q4_1-vs-dequantized difference)."""
    from winnow.judge.training.trainer import TrainConfig, train

    problems, labels = tiny_data
    out = tmp_path_factory.mktemp("strong") / "run"
    cfg = TrainConfig(
        labels=str(labels), problems=str(problems), out=str(out), lr=2e-3, batch_size=4, grad_accum=2,
        val_fraction=0.0, epochs=2, eval_every=2, lora_dropout=0.0, seed=0,
    )
    train(cfg, progress=False)
    return out


# --- cheap checks --------------------------------------------------------------------------------


def test_heldout_labels_are_refused() -> None:
    from winnow.judge.dataset.problems import Problem
    from winnow.judge.training.trainer import load_examples

    problem = Problem("HumanEval/120", "python", "def f():\n", "", "f")
    labels = [{"problem_id": "HumanEval/120", "candidate_id": "c", "code": "def f(): pass", "status": "passed"}]
    with pytest.raises(WinnowError, match="held-out"):
        load_examples(labels, {"HumanEval/120": problem})


def test_split_is_by_problem_and_seeded() -> None:
    from winnow.judge.training.trainer import split_by_problem

    ids = [f"p{i}" for i in range(20)]
    train, val = split_by_problem(ids * 3, 0.15, seed=1)
    assert len(val) == 3 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_by_problem(ids, 0.15, seed=1) == (train, val)
    assert split_by_problem(ids, 0.15, seed=2) != (train, val)


def test_permute_rows_is_llama_cpp_rotary_layout() -> None:
    from winnow.judge.training.export import permute_rows

    n_head, half = 3, 2
    w = np.arange(n_head * 2 * half * 5).reshape(n_head * 2 * half, 5)
    p = permute_rows(w, n_head)
    # within each head the rows go from [first half, second half] to interleaved pairs
    assert p[:4, 0].tolist() == [w[0, 0], w[2, 0], w[1, 0], w[3, 0]]
    assert sorted(p[:, 0].tolist()) == sorted(w[:, 0].tolist())


# --- on the real base ------------------------------------------------------------------------------


@pytest.mark.slow
def test_converted_weights_permute_back_to_the_gguf(converted) -> None:  # type: ignore[no-untyped-def]
    """transformers un-permutes Q/K when it reads a GGUF; export's permutation restores llama.cpp's rows."""
    import gguf
    from gguf.quants import dequantize
    from safetensors.numpy import load_file

    from winnow.judge.training.export import permute_rows

    hf = load_file(str(Path(converted.dir) / "model.safetensors"))
    reader = gguf.GGUFReader(converted.gguf_path)
    tensors = {t.name: t for t in reader.tensors}
    n_head, n_head_kv = converted.facts["n_head"], converted.facts["n_head_kv"]
    for hf_name, gguf_name, heads in (
        ("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", n_head),
        ("model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", n_head_kv),
    ):
        t = tensors[gguf_name]
        ref = dequantize(t.data, t.tensor_type).reshape(hf[hf_name].shape)
        assert np.allclose(permute_rows(hf[hf_name], heads), ref, atol=1e-6)
        assert not np.allclose(hf[hf_name], ref, atol=1e-3)


@pytest.mark.slow
def test_judge_prompt_tokens_match_llama_cpp(converted, model) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from winnow.judge.dataset.problems import load_problems
    from winnow.judge.scoring.judge_model import ANSWER_NO, ANSWER_YES, answer_token_ids, judge_token_runs
    from winnow.judge.training.trainer import HFTokenizer

    assert converted.tokenizer_check["ok"], converted.tokenizer_check
    assert converted.chat_template == model.chat_template()
    hf = HFTokenizer(AutoTokenizer.from_pretrained(converted.dir), converted.bos)
    bos = model.bos() if model.add_bos() else None
    assert converted.bos == bos
    template = converted.chat_template
    for problem in load_problems("humaneval")[::8]:
        for code in (problem.reference, problem.prompt + "    return [x for x in range(10) if x % 3]\n"):
            a = judge_token_runs(hf, template, problem.prompt, code, converted.bos)
            b = judge_token_runs(model, template, problem.prompt, code, bos)
            assert (a.prefix, a.branch) == (b.prefix, b.branch), problem.id
    for words in (ANSWER_YES, ANSWER_NO):
        assert answer_token_ids(hf, hf.token_text, words) == answer_token_ids(model, model.token_text, words)


@pytest.mark.slow
def test_a_few_lora_steps_lower_the_loss(trained_run: Path, tiny_data: tuple[Path, Path]) -> None:
    from winnow.judge.training.trainer import bce, load_checkpoint_model, resolve_checkpoint, score_sequences

    last = resolve_checkpoint(trained_run, "last")
    assert last.name == "step-6"
    for name in ("config.json", "metrics.json", "trainer_state.json", "optimizer.pt", "adapter/adapter_model.safetensors"):
        assert (last / name).is_file(), name
    config = json.loads((last / "config.json").read_text())
    assert config["base"]["sha256"] and config["versions"]["torch"] and config["data"]["examples_sha256"]
    assert json.loads((last / "trainer_state.json").read_text())["step"] == 6
    assert (trained_run / "best").exists() and (trained_run / "best.json").is_file()

    model, enc, _ = load_checkpoint_model(last)
    labels = list(read_jsonl(tiny_data[1]))
    problems = {r["id"]: r for r in read_jsonl(tiny_data[0])}
    seqs = [enc.encode(problems[r["problem_id"]]["prompt"], r["code"]) for r in labels]
    y = np.array([int(r["status"] == "passed") for r in labels])
    after = score_sequences(model, enc, seqs)
    with model.disable_adapter():
        before = score_sequences(model, enc, seqs)
    one_by_one = score_sequences(model, enc, seqs, batch_size=1)
    assert np.allclose(after, one_by_one, atol=2e-3)  # right-padded batches score like single prompts
    loss_before, loss_after = bce(before, y), bce(after, y)
    print(f"loss on the 8 examples: {loss_before:.4f} -> {loss_after:.4f}")
    assert loss_after < loss_before - 0.01


@pytest.mark.slow
def test_export_loads_in_llama_cpp_and_matches_transformers(strong_run: Path, tmp_path: Path) -> None:
    import gguf

    from winnow.judge.scoring.judge_model import Judge, JudgeManifest
    from winnow.judge.training.export import export

    report = export(strong_run, tmp_path / "judge", checkpoint="last", n_verify=8)
    names = {t.name for t in gguf.GGUFReader(report["adapter"]).tensors}
    assert {"blk.0.attn_q.weight.lora_a", "blk.0.attn_k.weight.lora_b", "blk.29.ffn_down.weight.lora_b"} <= names
    assert len(names) == 30 * 7 * 2
    manifest = JudgeManifest.load(tmp_path / "judge" / "judge.json")
    assert manifest.adapter == "adapter.gguf" and manifest.recommended["diagnostics"] is False
    assert manifest.training["agreement"]["n"] == 8
    a = report["agreement"]
    print("agreement:", {k: v for k, v in a.items() if not k.startswith("z_")})
    # The adapter changes llama.cpp's scores ...
    assert a["adapter_effect_llama_cpp"] > 0.3
    # ... the way it changes transformers'. Measured with this adapter (the bases alone: logits
    # corr 0.9995, z corr 0.969, max |Δz| 0.106):
    #                        logits corr   adapter-delta logits corr   z corr   max |Δz|
    #   this export             0.9995             0.992                 0.93     0.23
    #   without Q/K permute     0.9980             0.981                 0.78     0.59
    assert a["logits_corr"] > a["base_logits_corr"] - 0.0008
    assert a["delta_logits_corr"] > 0.987
    assert a["corr"] > 0.85 and a["max_abs_diff"] < 0.4
    judge = Judge.load(str(tmp_path / "judge" / "judge.json"))
    try:
        v = judge.verdicts(TINY[0][1], [TINY[0][1] + TINY[0][2], TINY[0][1] + TINY[0][3]])
        assert all(0.0 <= x.p_correct <= 1.0 for x in v)
    finally:
        judge.close()


@pytest.mark.slow
def test_train_resumes_after_sigkill(tiny_data: tuple[Path, Path], converted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    problems, labels = tiny_data
    out = tmp_path / "run"
    args = ["train", "--labels", str(labels), "--problems", str(problems), "--out", str(out),
            "--batch-size", "1", "--grad-accum", "1", "--val-fraction", "0", "--eval-every", "1",
            "--epochs", "2", "--lr", "1e-3", "--lora-r", "4", "--target-modules", "q_proj,v_proj", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "winnow.server.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    try:
        while not (out / "checkpoints" / "step-1" / "trainer_state.json").is_file():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "run.json").exists()
    done = sorted(int(p.name[5:]) for p in (out / "checkpoints").glob("step-*"))
    killed_at = done[-1]
    assert killed_at < 16
    result = _cli(*args, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"from step-{killed_at} (step {killed_at} of 16)" in result.stderr
    state = json.loads((out / "checkpoints" / "step-16" / "trainer_state.json").read_text())
    assert state["step"] == 16 and state["resumed_from"] == [f"step-{killed_at}"]
    steps = [r["step"] for r in read_jsonl(out / "log.jsonl")]
    assert steps == list(range(1, 17))
    # A finished run is not trained again.
    again = _cli(*args, timeout=120)
    assert again.returncode == 0 and "nothing to do" in again.stderr


@pytest.mark.slow
def test_sample_resumes_without_duplicates(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    problems, _ = tiny_data
    two = tmp_path / "two.jsonl"
    write_jsonl(two, list(read_jsonl(problems))[:2])
    out = tmp_path / "cands.jsonl"
    args = ["sample", "--problems", str(two), "--out", str(out), "--n", "3", "--max-tokens", "16", "--quiet"]
    first = _cli(*args, timeout=180)
    assert first.returncode == 0, first.stderr
    full = list(read_jsonl(out))
    assert [(r["problem_id"], r["candidate_id"]) for r in full] == [
        (f"tiny/{p}", f"s0-{i}") for p in ("add", "is_even") for i in range(3)
    ]
    for r in full:
        assert r["origin"] == "sample"
        assert r["code"].startswith("def " + r["problem_id"].split("/")[1])
        assert {"mean_logprob", "sum_logprob", "n_tokens", "finish_reason", "seed", "settings"} <= r.keys()
    # What a kill leaves: the first records and a torn line.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:4]) + lines[4][:20])
    second = _cli(*args, timeout=180)
    assert second.returncode == 0, second.stderr
    again = list(read_jsonl(out))
    assert len(again) == 6 and len({(r["problem_id"], r["candidate_id"]) for r in again}) == 6
    assert [r["code"] for r in again] == [r["code"] for r in full]  # same seed per problem → same candidates
