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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl
from winnow.judge.scoring.calibration import Calibration
from winnow.judge.scoring.judge_prompt import SERVED_TEMPLATES
from winnow.judge.scoring.manifest import (
    HELD_OUT_METRICS,
    HeldOutEvaluation,
    JudgeManifest,
    Recommendation,
    TrainingRecord,
)
from winnow.judge.scoring.verdict import VerdictModel
from winnow.judge.training.adapter_gguf import AdapterFile, write_adapter_gguf
from winnow.judge.training.agreement import Agreement, verify_examples, verify_export
from winnow.judge.training.records import CheckpointMetrics, JSONObject

if TYPE_CHECKING:
    from winnow.judge.training.pretrained import GGUFFacts

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


@dataclass(frozen=True)
class TrainedCheckpoint:
    """The checkpoint an export reads: its folder, its run config as written (runs saved by an
    older Winnow lack some keys), its metrics, and the base GGUF it was trained on (for a run on
    a Hugging Face folder, the GGUF Winnow wrote from it)."""

    path: Path
    config: JSONObject
    metrics: CheckpointMetrics
    gguf_path: str


@dataclass(frozen=True)
class ServingBase:
    """The GGUF the exported judge is served on: the manifest's ``base_model`` and its sha256."""

    spec: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote and measured (``export_report.json``, and ``winnow export``'s output)."""

    judge: str
    adapter: str
    adapter_bytes: int
    checkpoint: str
    calibration: Calibration
    recommended: Recommendation | None
    adapter_file: AdapterFile
    #: the llama.cpp-vs-transformers check (None: not run)
    agreement: Agreement | None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "judge": self.judge,
            "adapter": self.adapter,
            "adapter_bytes": self.adapter_bytes,
            "checkpoint": self.checkpoint,
            "calibration": self.calibration.to_dict(),
            "recommended": self.recommended.to_dict() if self.recommended else {},
            **self.adapter_file.to_dict(),
        }
        if self.agreement is not None:
            out["agreement"] = self.agreement.to_dict()
        return out


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
    base: str | None = None,
) -> ExportReport:
    """Write OUT/adapter.gguf and OUT/judge.json (and OUT/export_report.json); return the report.
    ``base``: the GGUF to serve the judge on, when it is not the one it was trained on (another
    quantization of the same model); it must be the same architecture, shape and tokenizer."""
    from winnow.judge.training.pretrained import gguf_facts

    run, out = Path(run_dir), Path(out_dir)
    trained = _trained_checkpoint(run, checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    serving = _serving_base(trained, out, base)
    adapter_path = out / "adapter.gguf"
    # What the judge.json about to be replaced measured or fitted for its adapter.
    previous_agreement = _previous_section(out / "judge.json", "training", "agreement")
    previous_verdict = _previous_section(out / "judge.json", "verdict")
    written = write_adapter_gguf(trained.path / "adapter", gguf_facts(trained.gguf_path), adapter_path, dtype,
                                 name=name or f"winnow judge LoRA ({run.name} {trained.path.name})")
    calibration = _fit_calibration(trained.path)
    manifest = _manifest(run, trained, serving, adapter_path, written, calibration,
                         _evaluation(eval_metrics, eval_split), name, previous_verdict)
    manifest_path = manifest.save(out / "judge.json")
    adapter_bytes = adapter_path.stat().st_size
    agreement = _record_agreement(manifest, manifest_path, trained.path, run, n_verify if verify else None,
                                  previous_agreement)
    report = ExportReport(
        judge=str(manifest_path), adapter=str(adapter_path), adapter_bytes=adapter_bytes,
        checkpoint=str(trained.path), calibration=calibration, recommended=manifest.recommended, adapter_file=written, agreement=agreement,
    )
    (out / "export_report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report


def _fit_calibration(ck: Path) -> Calibration:
    """Temperature and bias fitted on the checkpoint's validation scores (identity without any)."""
    from winnow.judge.scoring.calibration import fit

    scores_path = ck / "validation_scores.jsonl"
    rows = list(read_jsonl(scores_path)) if scores_path.is_file() else []  # z and label of each
    return fit([r["z"] for r in rows], [int(r["label"]) for r in rows])


def _manifest(run: Path, trained: TrainedCheckpoint, serving: ServingBase, adapter_path: Path, written: AdapterFile,
              calibration: Calibration, evaluation: HeldOutEvaluation | None, name: str | None,
              previous_verdict: tuple[str, JSONObject] | None) -> JudgeManifest:
    """The judge's manifest: calibration, the held-out figures and what they switch on, a
    verdict fitted for this very adapter, provenance."""
    from winnow.judge.llm.model_files import sha256_file

    ck, config = trained.path, trained.config
    adapter_sha = sha256_file(adapter_path)
    # A verdict fitted (`winnow combine`) for this very adapter stays with it.
    verdict = (
        VerdictModel.from_dict(dict(previous_verdict[1]))
        if previous_verdict and previous_verdict[0] == adapter_sha else None
    )
    base, train_cfg = config["base"], config["train"]
    return JudgeManifest(
        name=name or f"LoRA judge on the {base['spec']} base ({ck.name} of {run.name})",
        base_model=serving.spec,
        base_sha256=serving.sha256,
        adapter=adapter_path.name,
        adapter_sha256=adapter_sha,
        calibration=calibration,
        evaluation=evaluation,
        recommended=_recommended(evaluation, with_verdict=verdict is not None),
        verdict=verdict,
        training=_training_record(run, trained, written),
        max_task_tokens=int(train_cfg.get("max_task_tokens", 512)),
        max_candidate_tokens=int(train_cfg.get("max_candidate_tokens", 768)),
        prompt_template=config["prompt_template"],
    )


def _trained_checkpoint(run: Path, checkpoint: str) -> TrainedCheckpoint:
    """The checkpoint to export, refused when the prompt template or the base it was trained
    on is not what this Winnow serves."""
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.training.checkpoint import resolve_checkpoint, saved_config

    ck = resolve_checkpoint(run, checkpoint)
    config = saved_config(ck)
    metrics = CheckpointMetrics.from_dict(json.loads((ck / "metrics.json").read_text(encoding="utf-8")))
    if config.get("prompt_template") not in SERVED_TEMPLATES:
        raise WinnowError(
            f"{ck} was trained with prompt {config.get('prompt_template')!r}, this Winnow serves "
            f"{', '.join(SERVED_TEMPLATES)}"
        )
    base = config["base"]
    if base.get("source") == "hf":  # a Hugging Face folder: the GGUF Winnow writes from it (cached)
        from winnow.judge.training.pretrained import convert_base

        converted = convert_base(base["spec"])
        if converted.sha256 != base["sha256"]:
            raise WinnowError(
                f"{ck} was trained on {base['spec']} as it was (sha256 {base['sha256'][:12]}…); the folder has "
                f"changed since ({converted.sha256[:12]}…): export needs the base it was trained on"
            )
        return TrainedCheckpoint(ck, config, metrics, converted.gguf_path)
    info = resolve(base["spec"])
    if info.sha256 != base["sha256"]:
        raise WinnowError(
            f"{ck} was trained on a base with sha256 {base['sha256'][:12]}…, but {base['spec']} now resolves "
            f"to {info.sha256[:12]}…: export needs the base it was trained on"
        )
    return TrainedCheckpoint(ck, config, metrics, info.path)


def _serving_base(trained: TrainedCheckpoint, out: Path, spec: str | None) -> ServingBase:
    """The GGUF the judge is served on: ``spec`` (checked against the training base), else the
    training base; for a run on a Hugging Face folder, Winnow's GGUF of it copied to OUT/base.gguf."""
    from winnow.judge.llm.model_files import resolve, sha256_file

    base = trained.config["base"]
    if spec is not None:
        from winnow.judge.training.hf_gguf import is_hf_folder

        if is_hf_folder(spec):
            raise WinnowError(f"--base {spec}: the judge is served by llama.cpp: name a GGUF")
        info = resolve(spec)
        if info.sha256 != base.get("gguf_sha256", base["sha256"]):
            check_serving_base(trained.gguf_path, info.path)  # same family, shape and prompt tokens, or refused
        return ServingBase(spec, info.path, info.sha256)
    if base.get("source") != "hf":
        return ServingBase(base["spec"], trained.gguf_path, base["sha256"])
    copy = out / "base.gguf"
    sha = base.get("gguf_sha256")
    if not (copy.is_file() and sha and sha256_file(copy) == sha):
        tmp = out / "base.gguf.tmp"
        tmp.unlink(missing_ok=True)
        try:
            os.link(trained.gguf_path, tmp)
        except OSError:
            shutil.copyfile(trained.gguf_path, tmp)
        os.replace(tmp, copy)
    path = str(copy.resolve())
    return ServingBase(path, path, sha or sha256_file(copy))


def _training_record(run: Path, trained: TrainedCheckpoint, written: AdapterFile) -> TrainingRecord:
    """The manifest's provenance section: run, checkpoint, validation figures, data, settings."""
    config, metrics = trained.config, trained.metrics
    train_cfg, data = config["train"], config.get("data", {})
    return TrainingRecord(
        run=str(run.resolve()),
        checkpoint=trained.path.name,
        step=metrics.step,
        val_auc=metrics.validation.val_auc,
        val_loss=metrics.validation.val_loss,
        val_accuracy=metrics.validation.val_accuracy,
        n_val=metrics.validation.n_val,
        data={k: v for k, v in data.items() if k != "val_problems"},
        val_problems=data.get("val_problems"),
        hyperparameters={k: train_cfg.get(k) for k in (
            "epochs", "lr", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "batch_size",
            "grad_accum", "val_fraction", "seed", "warmup", "max_steps", "batching", "task_max",
            "pairwise_weight", "select")},
        schedule=config.get("schedule"),
        elapsed_s=metrics.elapsed_s,
        versions=config.get("versions"),
        adapter=written.to_dict(),
        # Not a field Winnow reads: kept as an extra key, where the manifests on disk have it
        # (after the typed fields, and written even when it is null).
        extra={"val_pairwise": metrics.validation.val_pairwise},
    )


def _record_agreement(manifest: JudgeManifest, manifest_path: Path, ck: Path, run: Path, n_verify: int | None,
                      previous: tuple[str, JSONObject] | None) -> Agreement | None:
    """Check llama.cpp against transformers (``n_verify`` examples; None: no check) and write
    the figures into the manifest; return the check's report."""
    if n_verify is not None:
        agreement = verify_export(ck, manifest_path, verify_examples(run, n_verify))
        checked = JudgeManifest.load(str(manifest_path))
        checked.training = checked.training or TrainingRecord()  # export wrote it: always there
        checked.training.agreement = agreement.manifest_dict()
        checked.save(manifest_path)
        return agreement
    if previous is not None and previous[0] == manifest.adapter_sha256 and manifest.training is not None:
        # Re-exported (e.g. to add held-out figures) without a new check: the adapter is the
        # same file, so the agreement measured before still holds.
        manifest.training.agreement = dict(previous[1])
        manifest.save(manifest_path)
    return None


def _previous_section(path: Path, *keys: str) -> tuple[str, JSONObject] | None:
    """(adapter sha256, the section at ``keys``) of the judge.json an export is about to
    replace; None where there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        section = data
        for key in keys:
            section = section[key]
        return str(data["adapter_sha256"]), dict(section)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def same_model_shape(a: GGUFFacts, b: GGUFFacts) -> list[str]:
    """What differs between two GGUFs' architectures and shapes (empty: an adapter for one fits the other)."""
    keys = ("architecture", "n_layers", "n_head", "n_head_kv", "n_embd", "n_vocab")
    return [f"{k} {getattr(a, k)} vs {getattr(b, k)}" for k in keys
            if getattr(a, k) is not None and getattr(b, k) is not None and getattr(a, k) != getattr(b, k)]


def check_serving_base(trained_gguf: str, serving_gguf: str) -> None:
    """Refuse to serve a judge on a GGUF that is not the model it was trained on: another
    architecture or shape (the adapter would not fit), or another tokenizer or chat template
    (the judge would read prompts it was not trained on). Another quantization passes."""
    from winnow.judge.llm.model import Model
    from winnow.judge.scoring.judge_prompt import judge_token_runs
    from winnow.judge.training.pretrained import PROBE_CANDIDATE, PROBE_TASK, PROBE_TEXTS, gguf_facts

    differs = same_model_shape(gguf_facts(trained_gguf), gguf_facts(serving_gguf))
    if differs:
        raise WinnowError(f"{serving_gguf} is not the model the judge was trained on: {'; '.join(differs)}")
    a, b = Model(trained_gguf), Model(serving_gguf)
    try:
        bad = [t[:30] for t in PROBE_TEXTS if a.tokenize(t, False, False) != b.tokenize(t, False, False)]
        bos_a = a.bos() if a.add_bos() and a.bos() >= 0 else None
        bos_b = b.bos() if b.add_bos() and b.bos() >= 0 else None
        runs_a = judge_token_runs(a, a.chat_template(), PROBE_TASK, PROBE_CANDIDATE, bos_a)
        runs_b = judge_token_runs(b, b.chat_template(), PROBE_TASK, PROBE_CANDIDATE, bos_b)
        if (runs_a.prefix, runs_a.branch) != (runs_b.prefix, runs_b.branch):
            bad.append("the judge prompt (tokenizer, chat template or BOS)")
    finally:
        a.close()
        b.close()
    if bad:
        raise WinnowError(f"{serving_gguf} tokenizes differently from the base the judge was trained on: {bad[:3]}")
