"""Does the exported judge compute under llama.cpp what it learned under transformers?

``verify_export`` runs llama.cpp (quantized base + adapter GGUF) and transformers+peft
(dequantized base + adapter) on the same few validation examples, with and without the
adapter, and compares the judge's z and the whole vocabulary's logits at the answer
position; the figures go into the manifest (``training.agreement``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from winnow.judge.base.jsonl import read_jsonl


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def verify_export(checkpoint: Path, manifest_path: Path, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """llama.cpp (quantized base + adapter GGUF) vs transformers+peft (dequantized base +
    adapter) on the same prompts, with and without the adapter: the judge's z, and the
    whole vocabulary's logits at the answer position (49k numbers per example, so a
    wrong Q/K layout shows even when z barely moves)."""
    from winnow.judge.llm.engine import Engine
    from winnow.judge.llm.model import Model
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.judge_prompt import yes_no_z
    from winnow.judge.scoring.manifest import JudgeManifest
    from winnow.judge.training.checkpoint import load_checkpoint_model
    from winnow.judge.training.encoding import last_logits

    if not examples:
        return {"n": 0, "note": "no examples to verify on"}
    model, enc, _config = load_checkpoint_model(checkpoint)
    seqs = [enc.encode(e["task"], e["code"], e.get("language", "python")) for e in examples]
    hf = np.stack([last_logits(model, s) for s in seqs])
    with model.disable_adapter():
        hf0 = np.stack([last_logits(model, s) for s in seqs])
    del model

    def llama_run(judge: Any) -> tuple[np.ndarray, np.ndarray]:
        z = np.zeros(len(examples))
        rows = []
        for i, e in enumerate(examples):
            z[i] = judge.verdicts(e["task"], [e["code"]])[0].z
            r = judge.runs(e["task"], e["code"])
            rows.append(judge.engine.branch_logits(r.prefix, [r.branch])[0].astype(np.float64))
        return z, np.stack(rows)

    judge = Judge.load(str(manifest_path))
    try:
        z_cpp, cpp = llama_run(judge)
        base_manifest = JudgeManifest.load(str(manifest_path))
        base_manifest.adapter = None
        info = resolve(base_manifest.base_model)
        zero = Judge(Engine(Model(info.path), n_ctx=4096, n_seq_max=17), base_manifest, info)
        try:
            z_cpp0, cpp0 = llama_run(zero)
        finally:
            zero.close()
    finally:
        judge.close()
    yes, no = enc.yes_ids, enc.no_ids

    def z_of(rows: np.ndarray) -> np.ndarray:
        return np.array([yes_no_z(r, yes, no) for r in rows])

    z_hf, z_hf0 = z_of(hf), z_of(hf0)

    def mean_corr(a: np.ndarray, b: np.ndarray) -> float | None:
        values = [_corr(x, y) for x, y in zip(a, b, strict=True)]
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    labels = np.array([int(e.get("label", 0)) for e in examples])
    return {
        "n": len(examples),
        "positives": int(labels.sum()),
        "corr": _corr(z_cpp, z_hf),
        "max_abs_diff": float(np.max(np.abs(z_cpp - z_hf))),
        "mean_abs_diff": float(np.mean(np.abs(z_cpp - z_hf))),
        "base_corr": _corr(z_cpp0, z_hf0),
        "base_max_abs_diff": float(np.max(np.abs(z_cpp0 - z_hf0))),
        # What the adapter adds to z, with the bases' quantization difference taken out:
        "delta_corr": _corr(z_cpp - z_cpp0, z_hf - z_hf0),
        "adapter_effect_llama_cpp": float(np.mean(np.abs(z_cpp - z_cpp0))),
        "adapter_effect_transformers": float(np.mean(np.abs(z_hf - z_hf0))),
        "logits_corr": mean_corr(cpp, hf),
        "base_logits_corr": mean_corr(cpp0, hf0),
        "delta_logits_corr": mean_corr(cpp - cpp0, hf - hf0),
        "z_llama_cpp": [round(float(v), 4) for v in z_cpp],
        "z_transformers": [round(float(v), 4) for v in z_hf],
        "z_llama_cpp_base": [round(float(v), 4) for v in z_cpp0],
        "z_transformers_base": [round(float(v), 4) for v in z_hf0],
        "note": "llama.cpp runs the Q4_1-quantized base, transformers its dequantized copy: they differ "
                "even without an adapter (base_* figures); delta_* compare what the adapter adds",
    }


def verify_examples(run: Path, n: int) -> list[dict[str, Any]]:
    """Up to ``n`` of the run's ``verify_examples.jsonl``: up to ``n // 2`` positives, negatives for the rest."""
    path = run / "verify_examples.jsonl"
    if not path.is_file():
        return []
    rows = list(read_jsonl(path))
    pos = [r for r in rows if r.get("label")][: n // 2]
    neg = [r for r in rows if not r.get("label")][: n - len(pos)]
    return pos + neg
