"""Train → export → serve for each supported base family, on tiny random models.

For llama, qwen2 and gemma3 a tiny random model (transformers' own config class, 2–6 layers,
hidden 64) is saved as a Hugging Face folder and written as an f32 GGUF; the project's trainer
takes two LoRA steps on it, the export writes the adapter GGUF and runs its agreement check
(llama.cpp with the base and the adapter against transformers+peft on the same prompts). With
an f32 base the two engines agree on the base alone to ~1e-7, so the adapter must keep that
agreement: its correlation stays within 0.002 of the base's own. The same adapter written
with the other Q/K layout (llama without the permutation, qwen2/gemma3 with it) must fall
outside that bound, so a wrong layout fails here.

Each family's model switches on what could go wrong: Llama-3's rotary scaling (a
``rope_freqs`` tensor transformers' GGUF loader ignores), grouped KV heads; Qwen2's Q/K/V
biases and tied embeddings; Gemma-3's sentencepiece tokenizer, norms stored shifted, a head
size unlike hidden/heads, a sliding window shorter than the prompts, a global layer with
linear rope scaling. The tokenizers are checked token for token against llama.cpp by
``winnow train`` itself (it refuses a mismatch).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import write_jsonl

FAMILIES = ("llama", "qwen2", "gemma3")
LAYERS = {"llama": 2, "qwen2": 2, "gemma3": 6}
#: How far the adapter's llama.cpp-vs-transformers correlation may fall below the base's own.
BOUND = 0.002
#: Two Adam steps at this rate move every LoRA weight by about 2 × lr: an adapter that moves
#: the judge's z by ~1.8 on the tiny models, enough for a wrong Q/K layout to show (measured:
#: docs/training.md#supported-bases).
LR = 5e-3

TASKS = [
    ("add", "def add(a: int, b: int) -> int:\n    \"\"\"Return the sum of a and b.\"\"\"\n",
     "    return a + b\n", "    return a - b\n"),
    ("is_even", "def is_even(n: int) -> bool:\n    \"\"\"Return True if n is even.\"\"\"\n",
     "    return n % 2 == 0\n", "    return n % 2 == 1\n"),
    ("largest", "def largest(xs: list) -> int:\n    \"\"\"Return the largest number in xs.\"\"\"\n",
     "    return max(xs)\n", "    return min(xs)\n"),
    ("first", "def first(s: str) -> str:\n    \"\"\"Return the first character of s.\"\"\"\n",
     "    return s[0]\n", "    return s[-1]\n"),
]


@pytest.fixture(scope="module")
def torch_stack():  # type: ignore[no-untyped-def]
    for module in ("torch", "transformers", "peft", "accelerate", "sentencepiece"):
        pytest.importorskip(module)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("family-data")
    problems, labels = [], []
    for name, prompt, right, wrong in TASKS:
        pid = f"tiny/{name}"
        problems.append({"id": pid, "language": "python", "prompt": prompt, "tests": "", "entry_point": name})
        labels.append({"problem_id": pid, "candidate_id": "right", "code": prompt + right, "status": "passed"})
        labels.append({"problem_id": pid, "candidate_id": "wrong", "code": prompt + wrong, "status": "failed"})
    write_jsonl(root / "problems.jsonl", problems)
    write_jsonl(root / "labels.jsonl", labels)
    return root / "problems.jsonl", root / "labels.jsonl"


@functools.cache
def _models(root: str, family: str) -> tuple[Path, Path]:
    from gguf_factory import write_tiny_family

    return write_tiny_family(Path(root), family)


@pytest.fixture(scope="module")
def models(torch_stack, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """family → (Hugging Face folder, f32 GGUF), written on first use."""
    root = str(tmp_path_factory.mktemp("family-models"))
    return lambda family: _models(root, family)


def _train(base: str, data: tuple[Path, Path], out: Path) -> Path:
    from winnow.judge.training.config import TrainConfig
    from winnow.judge.training.loop import train

    problems, labels = data
    cfg = TrainConfig(labels=str(labels), problems=str(problems), out=str(out), base=base, lr=LR, batch_size=4,
                      grad_accum=2, val_fraction=0.0, epochs=2, eval_every=2, lora_dropout=0.0, seed=0, lora_r=8,
                      lora_alpha=16)
    summary = train(cfg, progress=False)
    assert summary.finished and summary.steps == 2
    return out


def _agreement(run: Path, out: Path, **kw):  # type: ignore[no-untyped-def]
    from winnow.judge.training.export import export

    report = export(run, out, checkpoint="last", n_verify=8, **kw)
    assert report.agreement is not None and report.agreement.figures is not None
    print(out.name, json.dumps({k: round(v, 7) for k, v in report.agreement.manifest_dict().items()
                                if isinstance(v, float)}))
    return report, report.agreement.figures


def _assert_agrees(a) -> None:  # type: ignore[no-untyped-def]
    # The f32 base: both engines compute the same model.
    assert a.base_logits_corr > 0.99999 and a.base_corr > 0.9999
    # The adapter moves z, alike in both ...
    assert a.adapter_effect_transformers > 0.1
    assert abs(a.adapter_effect_llama_cpp - a.adapter_effect_transformers) <= 0.02 * a.adapter_effect_transformers
    # ... and keeps the engines as close as the base alone.
    assert a.logits_corr >= a.base_logits_corr - BOUND
    assert a.corr >= a.base_corr - BOUND
    assert a.delta_logits_corr >= 1 - BOUND / 10


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_gguf_base_trains_exports_and_serves_what_it_learned(family: str, models, data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import gguf

    from winnow.judge.training import export as export_module
    from winnow.judge.training.adapter_gguf import write_adapter_gguf
    from winnow.judge.training.checkpoint import resolve_checkpoint

    _, gguf_path = models(family)
    run = _train(str(gguf_path), data, tmp_path / "run")
    base = json.loads((resolve_checkpoint(run, "last") / "config.json").read_text())["base"]
    assert base["architecture"] == family and base["source"] == "gguf" and base["tokenizer_check"]["ok"]
    fixes = " ".join(base["config_fixes"])
    if family == "llama":  # the rope_freqs tensor became transformers' llama3 rope parameters
        assert "'rope_type': 'llama3'" in fixes and "'factor': 8.0" in fixes
    if family == "gemma3":
        assert "attention scalar 32" in fixes and "'rope_type': 'linear'" in fixes

    report, a = _agreement(run, tmp_path / "judge")
    names = {t.name for t in gguf.GGUFReader(report.adapter).tensors}
    assert len(names) == LAYERS[family] * 7 * 2
    assert {"blk.0.attn_q.weight.lora_a", "blk.0.attn_k.weight.lora_b", "blk.1.ffn_down.weight.lora_b"} <= names
    assert report.adapter_file.permuted_qk is (family == "llama")
    _assert_agrees(a)

    # The other Q/K layout loads in llama.cpp just as well, and computes something else.
    wrong = functools.partial(write_adapter_gguf, permute_qk=family != "llama")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(export_module, "write_adapter_gguf", wrong)
        _, w = _agreement(run, tmp_path / "wrong")
    assert w.logits_corr < w.base_logits_corr - BOUND or w.corr < w.base_corr - BOUND
    assert w.delta_logits_corr < a.delta_logits_corr and w.delta_corr < a.delta_corr


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_hugging_face_folder_trains_as_it_is_and_serves_on_its_gguf(family: str, models, data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from winnow.judge.llm.model_files import sha256_file
    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.manifest import JudgeManifest
    from winnow.judge.training.checkpoint import resolve_checkpoint

    hf_dir, _ = models(family)
    run = _train(str(hf_dir), data, tmp_path / "run")
    base = json.loads((resolve_checkpoint(run, "last") / "config.json").read_text())["base"]
    assert base["source"] == "hf" and base["converted_dir"] == str(hf_dir.resolve())
    assert base["tokenizer_check"]["ok"] and base["architecture"] == family

    report, a = _agreement(run, tmp_path / "judge")
    _assert_agrees(a)
    manifest = JudgeManifest.load(tmp_path / "judge" / "judge.json")
    served = tmp_path / "judge" / "base.gguf"  # the GGUF written from the folder travels with the judge
    assert Path(manifest.base_model) == served.resolve() and manifest.base_sha256 == sha256_file(served)
    judge = Judge.load(str(tmp_path / "judge" / "judge.json"), n_threads=1)
    try:
        task, right, wrong = TASKS[0][1], TASKS[0][1] + TASKS[0][2], TASKS[0][1] + TASKS[0][3]
        assert all(0.0 <= v.p_correct <= 1.0 for v in judge.verdicts(task, [right, wrong]))
    finally:
        judge.close()


@pytest.mark.slow
def test_a_judge_is_served_on_another_quantization_of_its_base_and_refused_on_another_model(models, data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``export --base`` and ``judge score --base``: an f16 GGUF of the same weights serves the
    judge (the agreement check still passes, within f16's noise); another family is refused."""
    from winnow.judge.training.hf_gguf import write_gguf

    hf_dir, gguf_path = models("qwen2")
    f16 = write_gguf(hf_dir, tmp_path / "qwen2-f16.gguf", dtype="f16")
    run = _train(str(gguf_path), data, tmp_path / "run")
    _, a = _agreement(run, tmp_path / "judge", base=str(f16))
    assert a.base_logits_corr > 0.999 and a.logits_corr >= a.base_logits_corr - BOUND
    from winnow.judge.scoring.manifest import JudgeManifest

    assert JudgeManifest.load(tmp_path / "judge" / "judge.json").base_model == str(f16)
    _, other = models("llama")
    with pytest.raises(WinnowError, match="not the model the judge was trained on"):
        _agreement(run, tmp_path / "refused", base=str(other))

    task = tmp_path / "task.py"
    cand = tmp_path / "cand.py"
    task.write_text(TASKS[0][1])
    cand.write_text(TASKS[0][1] + TASKS[0][2])
    args = [sys.executable, "-m", "winnow.cli", "judge", "score", "--task", str(task), "--candidate", str(cand),
            "--judge", str(tmp_path / "judge" / "judge.json"), "--strategy", "judge", "--threads", "1", "--json"]
    done = subprocess.run([*args, "--base", str(gguf_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 0.0 <= json.loads(done.stdout)["p_correct"] <= 1.0 and "instead of" in done.stderr
    refused = subprocess.run([*args, "--base", str(other)], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "not the model the judge was trained on" in refused.stderr


# --- cheap checks ----------------------------------------------------------------------------------


def test_llama3_rope_parameters_are_recovered_from_rope_freqs() -> None:
    import numpy as np

    from winnow.judge.training.families import llama3_rope_factors, llama3_rope_from_freqs

    freqs = llama3_rope_factors(500000.0, 64, 32.0, 1.0, 4.0, 8192)  # Llama-3.2's
    assert llama3_rope_from_freqs(freqs, 500000.0, 64) == {
        "rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192}
    with pytest.raises(WinnowError, match="rope_freqs"):
        llama3_rope_from_freqs(np.linspace(1.0, 3.0, 32), 500000.0, 64)


def test_families_say_what_they_are_and_refuse_what_is_not_supported() -> None:
    from winnow.judge.training.families import family, family_of_hf, unverified_note

    assert family("llama").permute_qk and not family("qwen2").permute_qk and not family("gemma3").permute_qk
    assert family("gemma3").norm_shift == 1.0
    assert unverified_note("qwen2") is None and "phi3" in (unverified_note("phi3") or "")
    assert family_of_hf("gemma3_text").arch == "gemma3"
    with pytest.raises(WinnowError, match="vision"):
        family_of_hf("gemma3")
    with pytest.raises(WinnowError, match="convert_hf_to_gguf"):
        family_of_hf("mistral")
