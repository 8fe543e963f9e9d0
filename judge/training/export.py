"""Export a trained judge for serving: a llama.cpp LoRA adapter GGUF + ``judge.json``.

Nothing is merged: the quantized base stays as it is and llama.cpp applies the
adapter on top (``Judge.load`` → ``Engine(lora_path=...)``).

The adapter GGUF is what llama.cpp's own ``convert_lora_to_gguf.py`` writes: arch of
the base, ``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha``,
and for every adapted projection two tensors named ``<gguf tensor name>.lora_a``
(r × in, as peft stores A) and ``.lora_b`` (out × r), the gguf names from
``gguf.get_tensor_name_map``. For llama bases the rows of ``lora_b`` of ``q_proj`` and
``k_proj`` are permuted exactly as llama.cpp's converter permutes the Q and K weights
for its rotary layout (heads × 2 × half-dim, middle axes swapped; ``n_head`` for Q,
``n_head_kv`` for K). transformers undoes that permutation when it loads a GGUF, so the
LoRA is learned in the unpermuted layout; without permuting it back the adapter loads
and silently computes something else.

Calibration (temperature + bias) is fitted on the checkpoint's validation scores,
never on held-out problems. The export then checks itself: llama.cpp's z with the
adapter against transformers+peft's z on a few validation examples (and, for scale,
the two bases against each other), and writes the figures into the manifest.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl

log = logging.getLogger(__name__)

#: Architectures whose Q/K weights llama.cpp's converter permutes (convert_hf_to_gguf.py's LlamaModel).
PERMUTED_QK_ARCHS = {"llama"}
RECOMMEND_MIN_AUC = 0.70
# With a fitted verdict, serving's figure is the combination's (judge + examples + lint): a
# higher bar before it marks code by default.
RECOMMEND_MIN_AUC_VERDICT = 0.80
EVAL_KEYS = (
    "accuracy", "precision", "recall", "f1", "kappa", "mcc", "auc", "ece", "brier",
    "pass1_judge", "pass1_random", "pass1_logprob", "passk_oracle", "n_problems_ranked", "n", "n_positive",
    "pairwise", "subtle_auc", "subtle_pairwise", "n_subtle",
)


def permute_rows(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's Q/K row permutation (convert_hf_to_gguf ``LlamaModel.permute``)."""
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise WinnowError(f"cannot permute {rows} rows into {n_head} heads × 2 halves")
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _base_name(peft_key: str) -> tuple[str, str] | None:
    """``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`` →
    (``model.layers.0.self_attn.q_proj.weight``, ``a``)."""
    key = peft_key.removeprefix("base_model.model.")
    for marker, which in ((".lora_A.weight", "a"), (".lora_B.weight", "b")):
        if key.endswith(marker):
            return key[: -len(marker)] + ".weight", which
    return None


def write_adapter_gguf(
    adapter_dir: str | os.PathLike[str], facts: dict[str, Any], path: str | os.PathLike[str],
    dtype: str = "f32", name: str = "winnow judge LoRA", permute_qk: bool = True,
) -> dict[str, Any]:
    """Write peft's adapter (``adapter_model.safetensors`` + ``adapter_config.json``) as a
    llama.cpp LoRA GGUF for the base described by ``facts`` (``base_model.gguf_facts``).
    ``permute_qk=False`` exists only to show what goes wrong without the permutation."""
    import gguf
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora"):
        raise WinnowError(f"{adapter_dir}: only plain LoRA adapters can be exported for llama.cpp (no DoRA)")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise WinnowError(f"{adapter_dir}: per-module ranks/alphas cannot be expressed in a llama.cpp adapter")
    if config.get("modules_to_save"):
        raise WinnowError(f"{adapter_dir}: modules_to_save cannot be exported as a LoRA adapter")
    r = int(config["r"])
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha = alpha * math.sqrt(r)  # llama.cpp scales by alpha / r; rsLoRA by alpha / sqrt(r)
    arch = facts["architecture"]
    by_name = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in by_name:
        raise WinnowError(f"the base's architecture {arch!r} is unknown to the gguf package")
    tmap = gguf.get_tensor_name_map(by_name[arch], int(facts["n_layers"]))
    n_head, n_head_kv = int(facts["n_head"]), int(facts["n_head_kv"] or facts["n_head"])

    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for key, value in weights.items():
        parsed = _base_name(key)
        if parsed is None:
            raise WinnowError(f"{adapter_dir}: unexpected tensor {key!r} (not a lora_A / lora_B weight)")
        hf_name, which = parsed
        gguf_name = tmap.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None:
            raise WinnowError(f"{adapter_dir}: no llama.cpp tensor corresponds to {hf_name}")
        value = value.astype(np.float32)
        if which == "b" and arch in PERMUTED_QK_ARCHS and permute_qk:
            if hf_name.endswith("self_attn.q_proj.weight"):
                value = permute_rows(value, n_head)
            elif hf_name.endswith("self_attn.k_proj.weight"):
                value = permute_rows(value, n_head_kv)
        pairs[gguf_name][which] = value
    if not pairs:
        raise WinnowError(f"{adapter_dir}: the adapter holds no LoRA tensors")
    np_dtype = {"f32": np.float32, "f16": np.float16}[dtype]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(name)
    n_params = 0
    for gguf_name in sorted(pairs, key=_tensor_order):
        ab = pairs[gguf_name]
        if set(ab) != {"a", "b"}:
            raise WinnowError(f"{adapter_dir}: {gguf_name} lacks its lora_{'b' if 'a' in ab else 'a'} half")
        if ab["a"].shape[0] != ab["b"].shape[1]:
            raise WinnowError(f"{adapter_dir}: {gguf_name} has mismatched ranks {ab['a'].shape} / {ab['b'].shape}")
        writer.add_tensor(gguf_name + ".lora_a", ab["a"].astype(np_dtype))
        writer.add_tensor(gguf_name + ".lora_b", ab["b"].astype(np_dtype))
        n_params += ab["a"].size + ab["b"].size
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return {"tensors": 2 * len(pairs), "parameters": int(n_params), "rank": r, "alpha": alpha, "dtype": dtype,
            "permuted_qk": arch in PERMUTED_QK_ARCHS and permute_qk}


def _tensor_order(name: str) -> tuple[int, str]:
    parts = name.split(".")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1, name)


# --- agreement between llama.cpp and transformers ---------------------------------------------


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def verify_export(checkpoint: Path, manifest_path: Path, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """llama.cpp (quantized base + adapter GGUF) vs transformers+peft (dequantized base +
    adapter) on the same prompts, with and without the adapter: the judge's z, and the
    whole vocabulary's logits at the answer position (49k numbers per example, so a
    wrong Q/K layout shows even when z barely moves)."""
    from winnow.judge.llm.engine import Engine, Model
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.scoring.judge_model import Judge, JudgeManifest, yes_no_z
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


# --- the manifest ----------------------------------------------------------------------------


def _evaluation(eval_metrics: str | None, split: str) -> dict[str, Any]:
    if not eval_metrics:
        return {}
    try:
        data = json.loads(Path(eval_metrics).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WinnowError(f"--eval-metrics {eval_metrics}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict) or "auc" not in data:
        raise WinnowError(f"--eval-metrics {eval_metrics}: expected the JSON of `winnow eval --json` (with 'auc')")
    out: dict[str, Any] = {"split": split, "source": os.path.basename(eval_metrics)}
    out |= {k: data[k] for k in EVAL_KEYS if k in data}
    compare = data.get("compare")
    if isinstance(compare, dict):
        out["compare"] = {"name": compare.get("name")} | {k: compare[k] for k in EVAL_KEYS if k in compare}
    return out


def _recommended(evaluation: dict[str, Any], with_verdict: bool = False) -> dict[str, Any]:
    """What the held-out figures switch on; with a verdict they must be the combination's
    (`winnow judge score` with its default strategy) and clear a higher bar."""
    auc = evaluation.get("auc")
    min_auc = RECOMMEND_MIN_AUC_VERDICT if with_verdict else RECOMMEND_MIN_AUC
    if auc is None:
        return {
            "diagnostics": False,
            "min_auc": min_auc,
            "reason": "no held-out evaluation given: run `winnow eval` on humaneval:heldout and export "
                      "again with --eval-metrics",
        }
    diagnostics = bool(auc >= min_auc)
    what = "held-out ROC-AUC of the verdict (judge + examples + lint)" if with_verdict else "held-out ROC-AUC"
    rec: dict[str, Any] = {
        "diagnostics": diagnostics,
        "min_auc": min_auc,
        "heldout_auc": auc,
        "reason": (f"{what} {auc:.3f} ≥ {min_auc}" if diagnostics
                   else f"{what} {auc:.3f} < {min_auc}: too weak to mark code by default"),
    }
    pj, pr = evaluation.get("pass1_judge"), evaluation.get("pass1_random")
    if pj is not None and pr is not None:
        rec["ranking"] = bool(pj > pr)
    return rec


def export(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    checkpoint: str = "best",
    eval_metrics: str | None = None,
    eval_split: str = "humaneval:heldout",
    dtype: str = "f32",
    name: str | None = None,
    verify: bool = True,
    n_verify: int = 8,
) -> dict[str, Any]:
    """Write OUT/adapter.gguf and OUT/judge.json (and OUT/export_report.json); return the report."""
    from winnow.judge.llm.model_files import sha256_file
    from winnow.judge.scoring.calibration import fit
    from winnow.judge.scoring.judge_model import JudgeManifest
    from winnow.judge.training.base_model import gguf_facts

    run = Path(run_dir)
    ck, config, metrics, gguf_path = _trained_checkpoint(run, checkpoint)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adapter_path = out / "adapter.gguf"
    previous = _previous_agreement(out / "judge.json")
    previous_verdict = _previous_verdict(out / "judge.json")
    written = write_adapter_gguf(ck / "adapter", gguf_facts(gguf_path), adapter_path, dtype,
                                 name=name or f"winnow judge LoRA ({run.name} {ck.name})")

    scores_path = ck / "validation_scores.jsonl"
    rows = list(read_jsonl(scores_path)) if scores_path.is_file() else []
    calibration = fit([r["z"] for r in rows], [int(r["label"]) for r in rows])
    evaluation = _evaluation(eval_metrics, eval_split)
    adapter_sha = sha256_file(adapter_path)
    # A verdict fitted (`winnow combine`) for this very adapter stays with it.
    verdict = previous_verdict[1] if previous_verdict and previous_verdict[0] == adapter_sha else None
    base, train_cfg = config["base"], config["train"]
    manifest = JudgeManifest(
        name=name or f"LoRA judge on the {base['spec']} base ({ck.name} of {run.name})",
        base_model=base["spec"],
        base_sha256=base["sha256"],
        adapter=adapter_path.name,
        adapter_sha256=adapter_sha,
        calibration=calibration.to_dict(),
        evaluation=evaluation,
        recommended=_recommended(evaluation, with_verdict=verdict is not None),
        verdict=verdict,
        training=_training_record(run, ck, config, metrics, written),
        max_task_tokens=int(train_cfg.get("max_task_tokens", 512)),
        max_candidate_tokens=int(train_cfg.get("max_candidate_tokens", 768)),
    )
    manifest_path = manifest.save(out / "judge.json")
    report: dict[str, Any] = {
        "judge": str(manifest_path),
        "adapter": str(adapter_path),
        "adapter_bytes": adapter_path.stat().st_size,
        "checkpoint": str(ck),
        "calibration": calibration.to_dict(),
        "recommended": manifest.recommended.to_dict() if manifest.recommended else {},
        **written,
    }
    agreement = _record_agreement(manifest, manifest_path, ck, run, n_verify if verify else None, previous)
    if agreement is not None:
        report["agreement"] = agreement
    (out / "export_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _trained_checkpoint(run: Path, checkpoint: str) -> tuple[Path, dict[str, Any], dict[str, Any], str]:
    """(checkpoint folder, its config, its metrics, the base GGUF's path), refused when the
    prompt template or the base it was trained on is not what this Winnow serves."""
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.scoring.judge_model import JUDGE_TEMPLATE
    from winnow.judge.training.checkpoint import resolve_checkpoint

    ck = resolve_checkpoint(run, checkpoint)
    config = json.loads((ck / "config.json").read_text(encoding="utf-8"))
    metrics = json.loads((ck / "metrics.json").read_text(encoding="utf-8"))
    if config.get("prompt_template") != JUDGE_TEMPLATE:
        raise WinnowError(f"{ck} was trained with prompt {config.get('prompt_template')!r}, this Winnow serves {JUDGE_TEMPLATE!r}")
    base = config["base"]
    info = resolve(base["spec"])
    if info.sha256 != base["sha256"]:
        raise WinnowError(
            f"{ck} was trained on a base with sha256 {base['sha256'][:12]}…, but {base['spec']} now resolves "
            f"to {info.sha256[:12]}…: export needs the base it was trained on"
        )
    return ck, config, metrics, info.path


def _training_record(run: Path, ck: Path, config: dict[str, Any], metrics: dict[str, Any],
                     written: dict[str, Any]) -> dict[str, Any]:
    """The manifest's provenance section: run, checkpoint, validation figures, data, settings."""
    train_cfg = config["train"]
    return {
        "run": str(run.resolve()),
        "checkpoint": ck.name,
        "step": metrics.get("step"),
        "val_auc": metrics.get("val_auc"),
        "val_pairwise": metrics.get("val_pairwise"),
        "val_loss": metrics.get("val_loss"),
        "val_accuracy": metrics.get("val_accuracy"),
        "n_val": metrics.get("n_val"),
        "data": {k: v for k, v in config.get("data", {}).items() if k != "val_problems"},
        "val_problems": config.get("data", {}).get("val_problems"),
        "hyperparameters": {k: train_cfg.get(k) for k in (
            "epochs", "lr", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "batch_size",
            "grad_accum", "val_fraction", "seed", "warmup", "max_steps", "batching", "task_max",
            "pairwise_weight", "select")},
        "schedule": config.get("schedule"),
        "elapsed_s": metrics.get("elapsed_s"),
        "versions": config.get("versions"),
        "adapter": written,
    }


def _record_agreement(manifest: Any, manifest_path: Path, ck: Path, run: Path, n_verify: int | None,
                      previous: tuple[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    """Check llama.cpp against transformers (``n_verify`` examples; None: no check) and write
    the figures into the manifest; return the check's report."""
    from winnow.judge.scoring.judge_model import JudgeManifest

    if n_verify is not None:
        agreement = verify_export(ck, manifest_path, _verify_examples(run, n_verify))
        manifest = JudgeManifest.load(str(manifest_path))
        manifest.training.agreement = {k: v for k, v in agreement.items() if not k.startswith("z_")}
        manifest.save(manifest_path)
        return agreement
    if previous is not None and previous[0] == manifest.adapter_sha256:
        # Re-exported (e.g. to add held-out figures) without a new check: the adapter is the
        # same file, so the agreement measured before still holds.
        manifest.training.agreement = previous[1]
        manifest.save(manifest_path)
    return None


def _previous_agreement(path: Path) -> tuple[str, dict[str, Any]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        agreement = data["training"]["agreement"]
        return str(data["adapter_sha256"]), dict(agreement)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _previous_verdict(path: Path) -> tuple[str, dict[str, Any]] | None:
    """(adapter sha256, verdict section) of the judge.json an export is about to replace."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["adapter_sha256"]), dict(data["verdict"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _verify_examples(run: Path, n: int) -> list[dict[str, Any]]:
    path = run / "verify_examples.jsonl"
    if not path.is_file():
        return []
    rows = list(read_jsonl(path))
    pos = [r for r in rows if r.get("label")][: n // 2]
    neg = [r for r in rows if not r.get("label")][: n - len(pos)]
    return pos + neg
