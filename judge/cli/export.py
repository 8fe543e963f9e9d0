"""``winnow export``: a trained run → llama.cpp LoRA adapter GGUF + calibrated judge.json."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from winnow.judge.cli import flags

if TYPE_CHECKING:
    from winnow.judge.training.agreement import AgreementFigures


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a trained judge as a llama.cpp adapter GGUF and a judge.json manifest",
        description=(
            "Convert a checkpoint's LoRA (peft) into a llama.cpp adapter GGUF for the quantized base "
            "(nothing merged; for llama bases Q/K rows permuted to llama.cpp's rotary layout), fit calibration "
            "(temperature + bias) on the run's validation scores, and write OUT/judge.json. Then check "
            "that llama.cpp with the adapter scores a few validation examples like transformers+peft; "
            "the figures go into the manifest and OUT/export_report.json. Give --eval-metrics (the JSON "
            "of `winnow eval --json` on held-out problems) to record the judge's figures and let them "
            "decide what the server turns on by default."
        ),
    )
    p.add_argument("--run", required=True, help="a `winnow train --out` folder")
    flags.add_out(p, "folder for judge.json, adapter.gguf and export_report.json")
    p.add_argument("--checkpoint", default="best", help="best | last | step-N | a checkpoint folder (default: best)")
    p.add_argument("--eval-metrics", help="JSON from `winnow eval --json` on held-out problems")
    p.add_argument("--eval-split", default="humaneval:heldout", help="what --eval-metrics measured (default: humaneval:heldout)")
    p.add_argument("--dtype", choices=("f32", "f16"), default="f32", help="adapter tensor type (default: f32)")
    p.add_argument("--name", help="the judge's name in its manifest")
    p.add_argument(
        "--base",
        help="the GGUF to serve the judge on, when not the one it was trained on (e.g. a quantization of the "
             "same model; refused unless architecture, shape, tokenizer and chat template match). Default: the "
             "training base; for a run on a Hugging Face folder, Winnow's GGUF of it, copied to OUT/base.gguf",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the llama.cpp-vs-transformers check")
    p.add_argument("--verify-examples", type=int, default=8, help="examples in that check (default: 8)")
    flags.add_json(p, "print the export report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export the run's checkpoint; print what was written and measured (or the report as JSON)."""
    from winnow.judge.training.export import export

    report = export(
        args.run, args.out, checkpoint=args.checkpoint, eval_metrics=args.eval_metrics, eval_split=args.eval_split,
        dtype=args.dtype, name=args.name, verify=not args.no_verify, n_verify=args.verify_examples, base=args.base,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    cal, written = report.calibration, report.adapter_file
    print(f"adapter  {report.adapter} ({written.tensors} tensors, {written.parameters:,} parameters, "
          f"{written.dtype}, {report.adapter_bytes / 1e6:.1f} MB)")
    print(f"judge    {report.judge}")
    print(f"calibration  {cal.method} T={cal.temperature:.3f} b={cal.bias:+.3f} on {cal.n} validation scores"
          + (f" (ECE {cal.ece_before:.3f} → {cal.ece_after:.3f})" if cal.ece_before is not None else ""))
    agreement = report.agreement
    if agreement is not None and agreement.n and agreement.figures is not None:
        print(_agreement_lines(agreement.n, agreement.figures))
    rec = report.recommended
    diagnostics, reason = (rec.diagnostics, rec.reason) if rec is not None else (None, None)
    print(f"recommended  diagnostics {'on' if diagnostics else 'off'}: {reason}")
    sys.stdout.flush()
    return 0


def _agreement_lines(n: int, a: AgreementFigures) -> str:
    """The llama.cpp-vs-transformers check, for people."""

    def f(value: float | None, digits: int = 4) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    return (
        f"check    llama.cpp vs transformers+peft on {n} validation examples:\n"
        f"         z: corr {f(a.corr)}, max |Δz| {f(a.max_abs_diff, 3)} (bases alone: corr {f(a.base_corr)}, "
        f"max |Δz| {f(a.base_max_abs_diff, 3)}); the adapter moves z by {f(a.adapter_effect_llama_cpp, 3)} "
        f"in llama.cpp, {f(a.adapter_effect_transformers, 3)} in transformers\n"
        f"         logits: corr {f(a.logits_corr)} (bases alone {f(a.base_logits_corr)}); what the adapter "
        f"adds: corr {f(a.delta_logits_corr)}"
    )
