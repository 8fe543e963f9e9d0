"""Export a trained judge for serving: a llama.cpp LoRA adapter GGUF + ``judge.json``.

Nothing is merged: the quantized base stays as it is and llama.cpp applies the
adapter on top (``Judge.load`` → ``Engine(lora_path=...)``). The adapter file is
written by adapter_gguf.py (``write_adapter_gguf``).

Calibration (temperature + bias) is fitted on the checkpoint's validation scores,
never on held-out problems. The export then checks itself (agreement.py): llama.cpp's
z with the adapter against transformers+peft's z on a few validation examples (and,
for scale, the two bases against each other), and writes the figures into the manifest.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl
from winnow.judge.scoring.judge_prompt import SERVED_TEMPLATES
from winnow.judge.scoring.manifest import (
    HELD_OUT_METRICS,
    HeldOutEvaluation,
    JudgeManifest,
    Recommendation,
    TrainingRecord,
)
from winnow.judge.scoring.verdict import VerdictModel
from winnow.judge.training.adapter_gguf import write_adapter_gguf
from winnow.judge.training.agreement import verify_examples, verify_export

log = logging.getLogger(__name__)

RECOMMEND_MIN_AUC = 0.70
# With a fitted verdict, serving's figure is the combination's (judge + examples + lint): a
# higher bar before it marks code by default.
RECOMMEND_MIN_AUC_VERDICT = 0.80


def _evaluation(eval_metrics: str | None, split: str) -> HeldOutEvaluation | None:
    if not eval_metrics:
        return None
    try:
        data = json.loads(Path(eval_metrics).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WinnowError(f"--eval-metrics {eval_metrics}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict) or "auc" not in data:
        raise WinnowError(f"--eval-metrics {eval_metrics}: expected the JSON of `winnow eval --json` (with 'auc')")
    compare = data.get("compare")
    return HeldOutEvaluation(
        split=split,
        source=os.path.basename(eval_metrics),
        **{k: data[k] for k in HELD_OUT_METRICS if k in data},
        compare=(
            {"name": compare.get("name")} | {k: compare[k] for k in HELD_OUT_METRICS if k in compare}
            if isinstance(compare, dict) else None
        ),
    )


def _recommended(evaluation: HeldOutEvaluation | None, with_verdict: bool = False) -> Recommendation:
    """What the held-out figures switch on; with a verdict they must be the combination's
    (`winnow judge score` with its default strategy) and clear a higher bar."""
    auc = evaluation.auc if evaluation is not None else None
    min_auc = RECOMMEND_MIN_AUC_VERDICT if with_verdict else RECOMMEND_MIN_AUC
    if evaluation is None or auc is None:
        return Recommendation(
            diagnostics=False,
            min_auc=min_auc,
            reason="no held-out evaluation given: run `winnow eval` on humaneval:heldout and export "
                   "again with --eval-metrics",
        )
    diagnostics = bool(auc >= min_auc)
    what = "held-out ROC-AUC of the verdict (judge + examples + lint)" if with_verdict else "held-out ROC-AUC"
    rec = Recommendation(
        diagnostics=diagnostics,
        min_auc=min_auc,
        heldout_auc=auc,
        reason=(f"{what} {auc:.3f} ≥ {min_auc}" if diagnostics
                else f"{what} {auc:.3f} < {min_auc}: too weak to mark code by default"),
    )
    pj, pr = evaluation.pass1_judge, evaluation.pass1_random
    if pj is not None and pr is not None:
        rec.ranking = bool(pj > pr)
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
    from winnow.judge.training.pretrained import gguf_facts

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
    verdict = (
        VerdictModel.from_dict(previous_verdict[1])
        if previous_verdict and previous_verdict[0] == adapter_sha else None
    )
    base, train_cfg = config["base"], config["train"]
    manifest = JudgeManifest(
        name=name or f"LoRA judge on the {base['spec']} base ({ck.name} of {run.name})",
        base_model=base["spec"],
        base_sha256=base["sha256"],
        adapter=adapter_path.name,
        adapter_sha256=adapter_sha,
        calibration=calibration,
        evaluation=evaluation,
        recommended=_recommended(evaluation, with_verdict=verdict is not None),
        verdict=verdict,
        training=_training_record(run, ck, config, metrics, written),
        max_task_tokens=int(train_cfg.get("max_task_tokens", 512)),
        max_candidate_tokens=int(train_cfg.get("max_candidate_tokens", 768)),
        prompt_template=config["prompt_template"],
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
    from winnow.judge.training.checkpoint import resolve_checkpoint

    ck = resolve_checkpoint(run, checkpoint)
    config = json.loads((ck / "config.json").read_text(encoding="utf-8"))
    metrics = json.loads((ck / "metrics.json").read_text(encoding="utf-8"))
    if config.get("prompt_template") not in SERVED_TEMPLATES:
        raise WinnowError(
            f"{ck} was trained with prompt {config.get('prompt_template')!r}, this Winnow serves "
            f"{', '.join(SERVED_TEMPLATES)}"
        )
    base = config["base"]
    info = resolve(base["spec"])
    if info.sha256 != base["sha256"]:
        raise WinnowError(
            f"{ck} was trained on a base with sha256 {base['sha256'][:12]}…, but {base['spec']} now resolves "
            f"to {info.sha256[:12]}…: export needs the base it was trained on"
        )
    return ck, config, metrics, info.path


def _training_record(run: Path, ck: Path, config: dict[str, Any], metrics: dict[str, Any],
                     written: dict[str, Any]) -> TrainingRecord:
    """The manifest's provenance section: run, checkpoint, validation figures, data, settings."""
    train_cfg = config["train"]
    return TrainingRecord(
        run=str(run.resolve()),
        checkpoint=ck.name,
        step=metrics.get("step"),
        val_auc=metrics.get("val_auc"),
        val_loss=metrics.get("val_loss"),
        val_accuracy=metrics.get("val_accuracy"),
        n_val=metrics.get("n_val"),
        data={k: v for k, v in config.get("data", {}).items() if k != "val_problems"},
        val_problems=config.get("data", {}).get("val_problems"),
        hyperparameters={k: train_cfg.get(k) for k in (
            "epochs", "lr", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "batch_size",
            "grad_accum", "val_fraction", "seed", "warmup", "max_steps", "batching", "task_max",
            "pairwise_weight", "select")},
        schedule=config.get("schedule"),
        elapsed_s=metrics.get("elapsed_s"),
        versions=config.get("versions"),
        adapter=written,
        # Not a field Winnow reads: kept as an extra key, where the manifests on disk have it
        # (after the typed fields, and written even when it is null).
        extra={"val_pairwise": metrics.get("val_pairwise")},
    )


def _record_agreement(manifest: JudgeManifest, manifest_path: Path, ck: Path, run: Path, n_verify: int | None,
                      previous: tuple[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    """Check llama.cpp against transformers (``n_verify`` examples; None: no check) and write
    the figures into the manifest; return the check's report."""
    if n_verify is not None:
        agreement = verify_export(ck, manifest_path, verify_examples(run, n_verify))
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
