"""Does the exported judge compute under llama.cpp what it learned under transformers?

``verify_export`` runs llama.cpp (quantized base + adapter GGUF) and transformers+peft
(dequantized base + adapter) on the same few validation examples, with and without the
adapter, and compares the judge's z and the whole vocabulary's logits at the answer
position; the figures go into the manifest (``training.agreement``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from winnow.judge.base.jsonl import read_jsonl
from winnow.judge.training.records import VerifyExample

if TYPE_CHECKING:
    from winnow.judge.scoring.judge_model import Judge

NOTE = ("llama.cpp runs the base as its GGUF stores it (quantized or not), transformers its dequantized "
        "copy: they differ even without an adapter (base_* figures); delta_* compare what the adapter adds; "
        "where z barely varies over the examples, its correlations mean little: read logits_corr")


@dataclass(frozen=True)
class AgreementFigures:
    """llama.cpp against transformers+peft on the same examples: z (correlation, differences),
    the adapter's effect on z in each, and the answer position's logits (mean correlation
    per example); ``base_*`` without the adapter, ``delta_*`` what the adapter adds."""

    positives: int
    corr: float | None
    max_abs_diff: float
    mean_abs_diff: float
    base_corr: float | None
    base_max_abs_diff: float
    # What the adapter adds to z, with the bases' quantization difference taken out:
    delta_corr: float | None
    adapter_effect_llama_cpp: float
    adapter_effect_transformers: float
    logits_corr: float | None
    base_logits_corr: float | None
    delta_logits_corr: float | None
    z_llama_cpp: list[float]
    z_transformers: list[float]
    z_llama_cpp_base: list[float]
    z_transformers_base: list[float]


@dataclass(frozen=True)
class Agreement:
    """The check's report (``export_report.json``'s ``agreement``)."""

    n: int
    #: None: there were no examples to verify on
    figures: AgreementFigures | None
    note: str

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n} | (asdict(self.figures) if self.figures is not None else {}) | {"note": self.note}

    def manifest_dict(self) -> dict[str, object]:
        """What the manifest keeps (``training.agreement``): the figures without the per-example z."""
        return {k: v for k, v in self.to_dict().items() if not k.startswith("z_")}


@dataclass(frozen=True)
class _Scores:
    """One engine's z and answer-position logits on the examples, with and without the adapter."""

    z: np.ndarray
    logits: np.ndarray
    z_base: np.ndarray
    logits_base: np.ndarray


def verify_export(checkpoint: Path, manifest_path: Path, examples: list[VerifyExample]) -> Agreement:
    """llama.cpp (quantized base + adapter GGUF) vs transformers+peft (dequantized base +
    adapter) on the same prompts, with and without the adapter: the judge's z, and the
    whole vocabulary's logits at the answer position (49k numbers per example, so a
    wrong Q/K layout shows even when z barely moves)."""
    if not examples:
        return Agreement(0, None, "no examples to verify on")
    hf = _transformers_scores(checkpoint, examples)
    cpp = _llama_cpp_scores(manifest_path, examples)
    return Agreement(len(examples), _compare(examples, cpp, hf), NOTE)


def _transformers_scores(checkpoint: Path, examples: list[VerifyExample]) -> _Scores:
    """The checkpoint under transformers+peft (z from the logits, as the judge computes it)."""
    from winnow.judge.scoring.judge_prompt import yes_no_z
    from winnow.judge.training.checkpoint import load_checkpoint_model
    from winnow.judge.training.encoding import last_logits

    model, enc, _config = load_checkpoint_model(checkpoint)
    seqs = [enc.encode(e.task, e.code, e.language) for e in examples]
    hf = np.stack([last_logits(model, s) for s in seqs])
    with model.disable_adapter():
        hf0 = np.stack([last_logits(model, s) for s in seqs])
    del model

    def z_of(rows: np.ndarray) -> np.ndarray:
        return np.array([yes_no_z(r, enc.yes_ids, enc.no_ids) for r in rows])

    return _Scores(z_of(hf), hf, z_of(hf0), hf0)


def _llama_cpp_scores(manifest_path: Path, examples: list[VerifyExample]) -> _Scores:
    """The exported judge under llama.cpp, and its base alone (the manifest without the adapter)."""
    from winnow.judge.llm.engine import Engine
    from winnow.judge.llm.model import Model
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.manifest import JudgeManifest

    judge = Judge.load(str(manifest_path))
    try:
        z_cpp, cpp = _llama_run(judge, examples)
        base_manifest = JudgeManifest.load(str(manifest_path))
        base_manifest.adapter = None
        info = resolve(base_manifest.base_model)
        zero = Judge(Engine(Model(info.path), n_ctx=4096, n_seq_max=17), base_manifest, info)
        try:
            z_cpp0, cpp0 = _llama_run(zero, examples)
        finally:
            zero.close()
    finally:
        judge.close()
    return _Scores(z_cpp, cpp, z_cpp0, cpp0)


def _llama_run(judge: Judge, examples: list[VerifyExample]) -> tuple[np.ndarray, np.ndarray]:
    """(z as the judge serves it, the answer position's logits) of every example."""
    z = np.zeros(len(examples))
    rows = []
    for i, e in enumerate(examples):
        z[i] = judge.verdicts(e.task, [e.code])[0].z
        r = judge.runs(e.task, e.code)
        rows.append(judge.engine.branch_logits(r.prefix, [r.branch])[0].astype(np.float64))
    return z, np.stack(rows)


def _compare(examples: list[VerifyExample], cpp: _Scores, hf: _Scores) -> AgreementFigures:
    labels = np.array([e.label for e in examples])
    return AgreementFigures(
        positives=int(labels.sum()),
        corr=_corr(cpp.z, hf.z),
        max_abs_diff=float(np.max(np.abs(cpp.z - hf.z))),
        mean_abs_diff=float(np.mean(np.abs(cpp.z - hf.z))),
        base_corr=_corr(cpp.z_base, hf.z_base),
        base_max_abs_diff=float(np.max(np.abs(cpp.z_base - hf.z_base))),
        delta_corr=_corr(cpp.z - cpp.z_base, hf.z - hf.z_base),
        adapter_effect_llama_cpp=float(np.mean(np.abs(cpp.z - cpp.z_base))),
        adapter_effect_transformers=float(np.mean(np.abs(hf.z - hf.z_base))),
        logits_corr=_mean_corr(cpp.logits, hf.logits),
        base_logits_corr=_mean_corr(cpp.logits_base, hf.logits_base),
        delta_logits_corr=_mean_corr(cpp.logits - cpp.logits_base, hf.logits - hf.logits_base),
        z_llama_cpp=_rounded(cpp.z),
        z_transformers=_rounded(hf.z),
        z_llama_cpp_base=_rounded(cpp.z_base),
        z_transformers_base=_rounded(hf.z_base),
    )


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _mean_corr(a: np.ndarray, b: np.ndarray) -> float | None:
    """The mean over rows of their correlation (rows where it is undefined left out)."""
    values = [v for v in (_corr(x, y) for x, y in zip(a, b, strict=True)) if v is not None]
    return float(np.mean(values)) if values else None


def _rounded(z: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in z]


def verify_examples(run: Path, n: int) -> list[VerifyExample]:
    """Up to ``n`` of the run's ``verify_examples.jsonl``: up to ``n // 2`` positives, negatives for the rest."""
    path = run / "verify_examples.jsonl"
    if not path.is_file():
        return []
    rows = [VerifyExample.from_dict(r) for r in read_jsonl(path)]
    pos = [r for r in rows if r.label][: n // 2]
    neg = [r for r in rows if not r.label][: n - len(pos)]
    return pos + neg
