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
    return subprocess.run([sys.executable, "-m", "winnow.cli", *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def torch_stack():  # type: ignore[no-untyped-def]
    for module in ("torch", "transformers", "peft", "accelerate", "sklearn"):
        pytest.importorskip(module)


@pytest.fixture(scope="module")
def converted(torch_stack):  # type: ignore[no-untyped-def]
    from winnow.judge.training.pretrained import convert_base

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
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.loop import train

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
    assert summary.finished and summary.steps == 6
    return out


@pytest.fixture(scope="module")
def strong_run(tiny_data: tuple[Path, Path], converted, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """Two full-batch steps at a high learning rate: an adapter that moves every logit far
    enough that llama.cpp-vs-transformers agreement says something about the export
    (a gentle adapter's effect drowns in the Q4_1-vs-dequantized difference)."""
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.loop import train

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
    from winnow.judge.training.training_examples import load_examples

    problem = Problem("HumanEval/120", "python", "def f():\n", "", "f")
    labels = [{"problem_id": "HumanEval/120", "candidate_id": "c", "code": "def f(): pass", "status": "passed"}]
    with pytest.raises(WinnowError, match="held-out"):
        load_examples(labels, {"HumanEval/120": problem})


def test_split_is_by_problem_and_seeded() -> None:
    from winnow.judge.training.training_examples import split_by_problem

    ids = [f"p{i}" for i in range(20)]
    train, val = split_by_problem(ids * 3, 0.15, seed=1)
    assert len(val) == 3 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_by_problem(ids, 0.15, seed=1) == (train, val)
    assert split_by_problem(ids, 0.15, seed=2) != (train, val)


def test_permute_rows_is_llama_cpp_rotary_layout() -> None:
    from winnow.judge.training.adapter_gguf import permute_rows

    n_head, half = 3, 2
    w = np.arange(n_head * 2 * half * 5).reshape(n_head * 2 * half, 5)
    p = permute_rows(w, n_head)
    # within each head the rows go from [first half, second half] to interleaved pairs
    assert p[:4, 0].tolist() == [w[0, 0], w[2, 0], w[1, 0], w[3, 0]]
    assert sorted(p[:, 0].tolist()) == sorted(w[:, 0].tolist())


def test_within_task_pairwise_on_a_hand_made_example() -> None:
    from winnow.judge.evaluation.metrics import task_pairs, within_task_pairwise

    ids = ["a", "a", "a", "b", "b", "c", "c"]
    y = [1, 0, 0, 1, 0, 1, 1]
    z = [0.9, 0.1, 0.95, 0.3, 0.3, 0.0, 5.0]
    # Pairs: (a0, a1) win, (a0, a2) loss, (b3, b4) tie; c has no failing candidate.
    assert task_pairs(ids, y) == [(0, 1), (0, 2), (3, 4)]
    assert within_task_pairwise(ids, y, z) == (1 + 0 + 0.5) / 3
    assert within_task_pairwise(["a", "b"], [1, 0], [0.0, 1.0]) is None  # no task has both labels


def test_task_steps_hold_both_labels_where_the_task_has_both() -> None:
    from winnow.judge.training.batching import micro_batches, step_at, task_plan

    ids = ["big"] * 20 + ["fails"] * 3 + ["small"] * 4
    y = [1] * 5 + [0] * 15 + [0] * 3 + [1, 0, 1, 0]
    plan = task_plan(ids, y, task_max=6, batch_size=4, seed=0, epoch=0, rank=0, world=1)
    assert len(plan) == 3  # one step per task
    seen = []
    for step in plan:
        flat = [i for batch in step for i in batch]
        assert all(len(batch) <= 4 for batch in step) and len(flat) == len(set(flat)) <= 6
        task = {ids[i] for i in flat}
        assert len(task) == 1
        seen += task
        labels = {y[i] for i in flat}
        assert labels == ({0} if task == {"fails"} else {0, 1})
    assert sorted(seen) == ["big", "fails", "small"]
    big = next(step for step in plan if ids[step[0][0]] == "big")
    assert sum(y[i] for batch in big for i in batch) == 3  # capped at 6, balanced
    assert plan == task_plan(ids, y, 6, 4, seed=0, epoch=0, rank=0, world=1)
    assert plan != task_plan(ids, y, 6, 4, seed=0, epoch=1, rank=0, world=1)
    # Two processes: every process gets as many steps, the tasks dealt round-robin.
    halves = [task_plan(ids, y, 6, 4, 0, 0, rank, 2) for rank in (0, 1)]
    assert [len(h) for h in halves] == [2, 2]
    # A checkpoint's position (micro-batches done) finds the next step.
    assert [step_at(plan, n) for n in (0, len(plan[0]), micro_batches(plan))] == [0, 1, 3]


def test_example_steps_are_the_seeded_micro_batches_in_groups() -> None:
    from winnow.judge.training.batching import epoch_batches, example_plan

    batches = epoch_batches(10, 2, seed=3, epoch=1, rank=0, world=1)
    assert sorted(i for b in batches for i in b) == list(range(10))
    assert example_plan(10, 2, 2, seed=3, epoch=1, rank=0, world=1) == [batches[0:2], batches[2:4], batches[4:5]]


def test_new_training_flags_are_checked_and_saved_runs_resume_only_with_theirs() -> None:
    from winnow.judge.training.config import TrainConfig

    base = dict(labels="l", problems="p", out="o")
    for bad, message in (({"batching": "problem"}, "--batching"), ({"task_max": 1}, "--task-max"),
                         ({"pairwise_weight": -1.0}, "--pairwise-weight"), ({"select": "loss"}, "--select"),
                         ({"prompt_template": "winnow-judge-v0"}, "--prompt")):
        with pytest.raises(WinnowError, match=message):
            TrainConfig(**base, **bad).validate()
    saved = TrainConfig(**base).to_dict()
    assert TrainConfig(**base).changes_from(saved) == {}
    assert TrainConfig(**base, pairwise_weight=0.5).changes_from(saved) == {"pairwise_weight": (0.0, 0.5)}
    assert TrainConfig(**(base | {"out": "elsewhere"}), threads=2).changes_from(saved) == {}  # may change
    # A run saved before these flags existed trained per example, without the pairwise term,
    # and selected checkpoints by AUC.
    legacy = {k: v for k, v in saved.items() if k not in ("batching", "task_max", "pairwise_weight", "select")}
    assert TrainConfig(**base).changes_from(legacy) == {"select": ("auc", "pairwise")}
    assert TrainConfig(**base, select="auc").changes_from(legacy) == {}


def test_a_run_saved_before_prompt_existed_resumes_only_with_its_prompt(tmp_path: Path) -> None:
    from winnow.judge.training.checkpoint import check_resumable
    from winnow.judge.training.config import TrainConfig

    cfg = TrainConfig(labels="l", problems="p", out="o")
    train = {k: v for k, v in cfg.to_dict().items() if k != "prompt_template"}
    (tmp_path / "config.json").write_text(json.dumps({"train": train, "prompt_template": "winnow-judge-v1"}))
    with pytest.raises(WinnowError, match="prompt_template"):
        check_resumable(tmp_path, cfg, tmp_path)
    check_resumable(tmp_path, TrainConfig(labels="l", problems="p", out="o", prompt_template="winnow-judge-v1"), tmp_path)


def test_run_records_write_their_files_keys_and_read_them_back() -> None:
    from winnow.judge.training.checkpoint import TrainerState
    from winnow.judge.training.records import (
        CheckpointMetrics,
        DataSummary,
        RunSummary,
        StepLog,
        ValidationFigures,
    )

    figures = ValidationFigures(0.6, 0.7, 0.75, 1.0, 0.5, 2)
    metrics = CheckpointMetrics(figures, 3, 1, 1e-4, 0.69, 24, 12.3, 3, 0.75, 1.0, "pairwise", "val_pairwise")
    written = metrics.to_dict()
    assert list(written) == [
        "val_loss", "val_logloss", "val_auc", "val_pairwise", "val_accuracy", "n_val", "step", "epoch", "lr",
        "train_loss", "examples_seen", "elapsed_s", "best_step", "best_val_auc", "best_val_pairwise", "select",
        "selected_by",
    ]
    assert CheckpointMetrics.from_dict(json.loads(json.dumps(written))) == metrics
    # Without a validation split there is no log-loss; a step without the pairwise term logs none.
    assert list(ValidationFigures.without_split().to_dict()) == ["val_loss", "val_auc", "val_pairwise", "val_accuracy", "n_val"]
    assert list(StepLog(1, 0, 0.5, 1e-4, 1.0).to_dict()) == ["step", "epoch", "loss", "lr", "elapsed_s"]
    # A checkpoint saved before --select and the pairwise figure existed still reads.
    legacy = {k: v for k, v in written.items() if k not in ("val_pairwise", "best_val_pairwise", "select", "selected_by")}
    old = CheckpointMetrics.from_dict(legacy)
    assert old.select is None and old.validation.val_pairwise is None and old.step == 3
    data = DataSummary("l.jsonl", "a", "b", "c", 8, 6, 2, 3, 3, 1, 1, 3, ["tiny/add"], 0, 50.5, 60)
    summary = RunSummary(3, 3, False, 3, "pairwise", 0.75, 1.0, metrics, 12.3, ["step-2"], data)
    assert summary.to_dict()["best_checkpoint"] == "checkpoints/step-3" and summary.to_dict()["finished"] is True
    assert RunSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary

    state = TrainerState()
    state.finish_step(2, 8, epoch_length=2)
    assert (state.step, state.epoch, state.position, state.examples_seen) == (1, 1, 0, 8)
    assert state.record_validation(figures, 0.75, 0.69, 12.3) and state.best_step == 1
    state.finish_step(1, 4, epoch_length=2)
    assert not state.record_validation(figures, 0.70, 0.6, 13.0) and (state.bad_evals, state.best_step) == (1, 1)
    saved = json.loads(json.dumps(state.to_dict()))
    assert saved["history"][1] == {"step": 2, "train_loss": 0.6, "val_loss": 0.6, "val_auc": 0.75, "val_pairwise": 1.0}
    assert TrainerState.from_dict(saved) == state
    for entry in saved["history"]:  # a state saved before the pairwise figure
        del entry["val_pairwise"]
    assert TrainerState.from_dict(saved).history[0].val_pairwise is None


def test_pairwise_surrogate_accumulates_the_full_gradient(torch_stack) -> None:  # type: ignore[no-untyped-def]
    """Micro-batches that split a task's pairs still accumulate the whole pairwise term's gradient."""
    import torch

    from winnow.judge.evaluation.metrics import task_pairs
    from winnow.judge.training.objective import pairwise_loss, pairwise_surrogate

    torch.manual_seed(0)
    x = torch.randn(5, 3)
    ids, y = ["a", "a", "a", "b", "b"], [1, 0, 0, 0, 1]
    pairs = task_pairs(ids, y)
    w = torch.randn(3, requires_grad=True)
    pairwise_loss(x @ w, pairs).backward()
    full = w.grad.clone()
    w.grad = None
    z_ref = (x @ w).detach()
    for live in ([0, 3], [1], [2, 4]):
        pairwise_surrogate(x[live] @ w, live, z_ref, pairs).backward()
    assert torch.allclose(w.grad, full, atol=1e-6)
    assert float(pairwise_loss(z_ref, pairs)) > 0


def test_resume_refuses_a_changed_pairwise_weight(torch_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from winnow.judge.base.jsonl import write_json
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.loop import train

    cfg = TrainConfig(labels="l.jsonl", problems="p.jsonl", out=str(tmp_path / "run"), batching="task")
    ck = tmp_path / "run" / "checkpoints" / "step-1"
    ck.mkdir(parents=True)
    write_json(ck / "trainer_state.json", {"step": 1})
    write_json(ck / "config.json", {"train": cfg.to_dict()})
    cfg.pairwise_weight = 0.5
    with pytest.raises(WinnowError, match=r"pairwise_weight: 0.0 → 0.5"):
        train(cfg, progress=False)


# --- on the real base ------------------------------------------------------------------------------


@pytest.mark.slow
def test_converted_weights_permute_back_to_the_gguf(converted) -> None:  # type: ignore[no-untyped-def]
    """transformers un-permutes Q/K when it reads a GGUF; export's permutation restores llama.cpp's rows."""
    import gguf
    from gguf.quants import dequantize
    from safetensors.numpy import load_file

    from winnow.judge.training.adapter_gguf import permute_rows

    hf = load_file(str(Path(converted.dir) / "model.safetensors"))
    reader = gguf.GGUFReader(converted.gguf_path)
    tensors = {t.name: t for t in reader.tensors}
    n_head, n_head_kv = converted.facts.n_head, converted.facts.n_head_kv
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
    from winnow.judge.scoring.judge_prompt import (
        ANSWER_NO,
        ANSWER_YES,
        answer_token_ids,
        judge_token_runs,
    )
    from winnow.judge.training.pretrained import HFTokenizer

    assert converted.tokenizer_check["ok"], converted.tokenizer_check
    assert converted.chat_template == model.chat_template()
    hf = HFTokenizer(AutoTokenizer.from_pretrained(converted.dir), converted.bos)
    bos = model.bos() if model.add_bos() else None
    assert converted.bos == bos
    template = converted.chat_template
    from winnow.judge.scoring.judge_prompt import SERVED_TEMPLATES
    from winnow.judge.training.encoding import PromptEncoder

    for prompt in SERVED_TEMPLATES:  # what `winnow train --prompt` trains is what serving builds
        encoder = PromptEncoder(AutoTokenizer.from_pretrained(converted.dir), template, converted.bos, template=prompt)
        for problem in load_problems("humaneval")[::8]:
            for code in (problem.reference, problem.prompt + "    return [x for x in range(10) if x % 3]\n"):
                a = judge_token_runs(hf, template, problem.prompt, code, converted.bos, template=prompt)
                b = judge_token_runs(model, template, problem.prompt, code, bos, template=prompt)
                assert (a.prefix, a.branch) == (b.prefix, b.branch), problem.id
                assert encoder.encode(problem.prompt, code) == a.prefix + a.branch
    for words in (ANSWER_YES, ANSWER_NO):
        assert answer_token_ids(hf, hf.token_text, words) == answer_token_ids(model, model.token_text, words)


@pytest.mark.slow
def test_a_few_lora_steps_lower_the_loss(trained_run: Path, tiny_data: tuple[Path, Path]) -> None:
    from winnow.judge.training.checkpoint import load_checkpoint_model, resolve_checkpoint
    from winnow.judge.training.encoding import score_sequences
    from winnow.judge.training.objective import bce

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
def test_task_batching_with_the_pairwise_term_trains(tiny_data: tuple[Path, Path], converted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One step per task over its (right, wrong) pair, micro-batches of one so the pair spans
    two of them, BCE + pairwise term: finite losses, the new settings saved, validation by
    within-task pairwise accuracy, and the training pairs ranked better than before."""
    from winnow.judge.training.checkpoint import load_checkpoint_model, resolve_checkpoint
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.encoding import score_sequences
    from winnow.judge.training.loop import train

    problems, labels = tiny_data
    out = tmp_path / "run"
    cfg = TrainConfig(
        labels=str(labels), problems=str(problems), out=str(out), lr=1e-4, batch_size=1, val_fraction=0.25,
        epochs=2, eval_every=3, lora_dropout=0.0, seed=0, batching="task", task_max=4, pairwise_weight=1.0,
    )
    summary = train(cfg, progress=False)
    assert summary.finished and summary.steps == 6 and summary.select == "pairwise"
    log = list(read_jsonl(out / "log.jsonl"))
    assert [r["step"] for r in log] == list(range(1, 7))
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["pairwise"]) and r["loss"] > r["pairwise"] for r in log)
    last = resolve_checkpoint(out, "last")
    config = json.loads((last / "config.json").read_text())
    assert {k: config["train"][k] for k in ("batching", "task_max", "pairwise_weight", "select")} == {
        "batching": "task", "task_max": 4, "pairwise_weight": 1.0, "select": "pairwise"}
    assert config["schedule"]["batching"] == "task" and config["schedule"]["steps_per_epoch"] == 3
    metrics = json.loads((last / "metrics.json").read_text())
    assert metrics["selected_by"] == "val_pairwise" and metrics["val_pairwise"] in (0.0, 0.5, 1.0)
    assert metrics["val_auc"] is not None and metrics["examples_seen"] == 12

    model, enc, _ = load_checkpoint_model(last)
    val = set(config["data"]["val_problems"])
    rows = [r for r in read_jsonl(labels) if r["problem_id"] not in val]
    prompts = {r["id"]: r["prompt"] for r in read_jsonl(problems)}
    seqs = [enc.encode(prompts[r["problem_id"]], r["code"]) for r in rows]
    after = score_sequences(model, enc, seqs)
    with model.disable_adapter():
        before = score_sequences(model, enc, seqs)

    def margin(z: np.ndarray) -> float:  # mean z_pass - z_fail over the training tasks' pairs
        by = {(r["problem_id"], r["status"]): v for r, v in zip(rows, z, strict=True)}
        return float(np.mean([by[(p, "passed")] - by[(p, "failed")] for p, _ in by if _ == "passed"]))

    print(f"pairwise margin on the training tasks: {margin(before):.4f} -> {margin(after):.4f}")
    assert margin(after) > margin(before)


@pytest.mark.slow
def test_export_loads_in_llama_cpp_and_matches_transformers(strong_run: Path, tmp_path: Path) -> None:
    import gguf

    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.manifest import JudgeManifest
    from winnow.judge.training.export import export

    report = export(strong_run, tmp_path / "judge", checkpoint="last", n_verify=8)
    names = {t.name for t in gguf.GGUFReader(report.adapter).tensors}
    assert {"blk.0.attn_q.weight.lora_a", "blk.0.attn_k.weight.lora_b", "blk.29.ffn_down.weight.lora_b"} <= names
    assert len(names) == 30 * 7 * 2
    manifest = JudgeManifest.load(tmp_path / "judge" / "judge.json")
    assert manifest.adapter == "adapter.gguf" and manifest.recommended.diagnostics is False
    assert manifest.training.agreement["n"] == 8
    assert report.agreement is not None and report.agreement.figures is not None
    a = report.agreement.figures
    print("agreement:", report.agreement.manifest_dict())
    # The adapter changes llama.cpp's scores ...
    assert a.adapter_effect_llama_cpp > 0.3
    # ... the way it changes transformers'. Measured with this adapter (the bases alone: logits
    # corr 0.9995, z corr 0.969, max |Δz| 0.106):
    #                        logits corr   adapter-delta logits corr   z corr   max |Δz|
    #   this export             0.9995             0.992                 0.93     0.23
    #   without Q/K permute     0.9980             0.981                 0.78     0.59
    # Another CPU (same adapter): bases z corr 0.969; export z corr 0.834, delta z corr 0.807,
    # adapter effect 3.89 (llama.cpp) vs 3.84 (transformers). Each bound is relative to the
    # bases' own disagreement measured in this run (1 - base corr: the CPU's Q4_1 noise), so
    # it holds on any CPU; the ratio each bound allows, for this export / without the permute:
    base_noise = 1.0 - a.base_logits_corr
    assert 1.0 - a.logits_corr <= 2.5 * base_noise  # ratio ~1.0 / 4.0
    assert 1.0 - a.delta_logits_corr <= 25.0 * base_noise  # ratio 16 / 38
    # z over 8 examples is coarse (ratio 2.3 here, 5.4 on the other CPU, 7.1 without the
    # permute): a guard against a broken export; the logits rows above tell the permute apart.
    assert 1.0 - a.corr <= 8.0 * (1.0 - a.base_corr)
    assert a.max_abs_diff <= 6.0 * a.base_max_abs_diff  # ratio 2.2 / 5.6
    effect_cpp, effect_hf = a.adapter_effect_llama_cpp, a.adapter_effect_transformers
    assert abs(effect_cpp - effect_hf) <= 0.25 * effect_hf  # 1.3% apart on the other CPU
    judge = Judge.load(str(tmp_path / "judge" / "judge.json"))
    try:
        v = judge.verdicts(TINY[0][1], [TINY[0][1] + TINY[0][2], TINY[0][1] + TINY[0][3]])
        assert all(0.0 <= x.p_correct <= 1.0 for x in v)
    finally:
        judge.close()
    # A verdict fitted for this adapter (`winnow combine`) survives exporting it again with
    # held-out figures, and then the figures are the verdict's, held to its higher bar.
    from winnow.judge.scoring.verdict import VerdictModel

    manifest.verdict = VerdictModel(coef=[1.0, -2.0, 1.0, 0.5, -0.5], intercept=0.1, n=9, fitted_on="test")
    manifest.save(tmp_path / "judge" / "judge.json")
    metrics = tmp_path / "eval.json"
    metrics.write_text(json.dumps({"auc": 0.85, "n": 10, "pass1_judge": 0.9, "pass1_random": 0.5}))
    export(strong_run, tmp_path / "judge", checkpoint="last", eval_metrics=str(metrics), verify=False)
    again = JudgeManifest.load(tmp_path / "judge" / "judge.json")
    assert again.verdict is not None and again.verdict.coef == [1.0, -2.0, 1.0, 0.5, -0.5]
    assert again.recommended.min_auc == 0.80 and again.recommended.diagnostics is True
    # a verdict fitted for another adapter is not inherited
    stale = json.loads((tmp_path / "judge" / "judge.json").read_text())
    (tmp_path / "judge" / "judge.json").write_text(json.dumps(stale | {"adapter_sha256": "0" * 64}))
    export(strong_run, tmp_path / "judge", checkpoint="last", eval_metrics=str(metrics), verify=False)
    other = JudgeManifest.load(tmp_path / "judge" / "judge.json")
    assert other.verdict is None and other.recommended.min_auc == 0.70


@pytest.mark.slow
def test_train_resumes_after_sigkill(tiny_data: tuple[Path, Path], converted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    problems, labels = tiny_data
    out = tmp_path / "run"
    args = ["train", "--labels", str(labels), "--problems", str(problems), "--out", str(out),
            "--batch-size", "1", "--grad-accum", "1", "--val-fraction", "0", "--eval-every", "1",
            "--epochs", "2", "--lr", "1e-3", "--lora-r", "4", "--target-modules", "q_proj,v_proj", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "winnow.cli", *args],
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


@pytest.mark.slow
def test_mined_functions_train_a_judge_end_to_end(converted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``winnow mine`` on real standard-library code, then ``winnow train`` on what it wrote:
    the smoke run of the self-supervised pipeline (mechanics only: a tiny model, two steps)."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    mined = tmp_path / "mined"
    done = _cli("mine", str(stdlib / "heapq.py"), str(stdlib / "bisect.py"), "--out", str(mined),
                "--max-functions", "4", "--variants", "3", "--heldout-share", "0", "--quiet", timeout=300)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "run"
    done = _cli("train", "--problems", str(mined / "problems.jsonl"), "--labels", str(mined / "train.jsonl"),
                "--out", str(run), "--batching", "task", "--task-max", "4", "--pairwise-weight", "1",
                "--max-steps", "2", "--val-fraction", "0.25", "--lora-layers", "2", "--time-budget", "3600",
                "--prompt", "winnow-judge-v1", "--quiet", timeout=900)
    assert done.returncode == 0, done.stderr
    log = list(read_jsonl(run / "log.jsonl"))
    assert [r["step"] for r in log] == [1, 2] and all(np.isfinite(r["loss"]) for r in log)
    last = resolve_checkpoint_path(run)
    config = json.loads((last / "config.json").read_text())
    assert config["data"]["labels_path"].endswith("train.jsonl") and config["train"]["lora_layers"] == 2
    assert config["prompt_template"] == config["train"]["prompt_template"] == "winnow-judge-v1"
    from safetensors.numpy import load_file

    layers = {int(k.split(".layers.")[1].split(".")[0]) for k in load_file(last / "adapter" / "adapter_model.safetensors")}
    assert layers == {28, 29}  # SmolLM2-135M has 30 layers: only the top two learn
    budget = tmp_path / "budget"
    done = _cli("train", "--problems", str(mined / "problems.jsonl"), "--labels", str(mined / "train.jsonl"),
                "--out", str(budget), "--batching", "task", "--task-max", "4", "--max-steps", "5",
                "--val-fraction", "0.25", "--lora-layers", "2", "--time-budget", "0.01", "--quiet", timeout=900)
    assert done.returncode == 0, done.stderr
    assert [r["step"] for r in read_jsonl(budget / "log.jsonl")] == [1]  # stopped by the clock, validated
    assert resolve_checkpoint_path(budget).name == "step-1" and "time budget" in done.stderr


def resolve_checkpoint_path(run: Path) -> Path:
    from winnow.judge.training.checkpoint import resolve_checkpoint

    return resolve_checkpoint(run, "last")


@pytest.mark.slow
def test_two_processes_with_accelerate_train_the_same_run(tiny_data: tuple[Path, Path], converted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The multi-GPU path, smoke-tested on CPU: ``accelerate launch`` with two processes runs
    ``winnow train`` as one data-parallel run (one log, one checkpoint, the two processes'
    validation gathered)."""
    problems, labels = tiny_data
    run = tmp_path / "run"
    launcher = Path(sys.executable).with_name("accelerate")
    done = subprocess.run(
        [str(launcher), "launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "winnow.cli", "train",
         "--problems", str(problems), "--labels", str(labels), "--out", str(run), "--batch-size", "2",
         "--epochs", "2", "--val-fraction", "0.25", "--lora-layers", "2", "--seed", "0", "--quiet"],
        capture_output=True, text=True, timeout=900, env=dict(os.environ) | {"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    # 3 training problems × 2 candidates = 6 examples, 3 to each process: one step an epoch
    # (one process alone takes 3 steps of 2), and each step counts both processes' examples.
    log = list(read_jsonl(run / "log.jsonl"))
    assert [r["step"] for r in log] == [1, 2] and all(np.isfinite(r["loss"]) for r in log)
    metrics = json.loads((resolve_checkpoint_path(run) / "metrics.json").read_text())
    assert metrics["examples_seen"] == 2 * 6, metrics
    assert metrics["n_val"] == 2 and metrics["val_auc"] is not None
