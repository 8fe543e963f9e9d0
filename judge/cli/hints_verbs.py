"""``winnow hints``: the correctness hints of a file, and the calibration that decides when
hints speak.

- ``winnow hints check FILE``: run FILE's functions in the sandbox (docstring sessions,
  inputs nobody wrote down: the examples' nudged, FILE's own literal calls, draws from type
  hints) and print the hints the editor would show, with their evidence;
- ``winnow hints calibrate``: measure every evidence class on a corpus of real modules (as
  released: false alarms; with one bug per function: detection), admit classes while at most
  1% of the correct functions are flagged, and store the policy in a judge manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from winnow.judge.cli import flags


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("hints", help="correctness hints: check a file, or calibrate when hints speak")
    sub = p.add_subparsers(dest="hints_command", metavar="ACTION")
    check = sub.add_parser("check", help="the hints the editor would show on FILE, with their evidence")
    check.add_argument("file", help="a Python file")
    flags.add_judge(check, "default | PATH/judge.json: whose hint policy applies (manifest `hints`)")
    check.add_argument("--probes", type=int, default=24, help="inputs tried per function (default: 24; 0: none)")
    flags.add_json(check)
    check.set_defaults(func=run_check)

    cal = sub.add_parser(
        "calibrate",
        help="measure false alarms and detection per evidence class on real modules; choose the policy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cal.add_argument("--modules", nargs="*", help="importable modules (default: the shipped calibration list)")
    cal.add_argument("--max-rate", type=float, default=0.01, help="largest share of correct functions flagged")
    cal.add_argument("--max-functions", type=int, default=40, help="judged functions per module (default: 40)")
    cal.add_argument("--probes", type=int, default=24, help="inputs tried per function (default: 24)")
    cal.add_argument("--write", metavar="JUDGE_JSON", help="store the policy in this manifest's `hints` section")
    cal.add_argument(
        "--score-judge", default=None, metavar="JUDGE",
        help="also score every function with this judge (default | PATH/judge.json) and give it a threshold "
        "only if it catches something at the allowed false-alarm rate",
    )
    flags.add_threads(cal)
    flags.add_seed(cal)
    flags.add_json(cal)
    cal.set_defaults(func=run_calibrate)
    p.set_defaults(func=lambda _args: p.print_help() or 2)


def run_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from winnow.judge.base.errors import WinnowError
    from winnow.judge.evidence.documents import EvidenceRequest, document_evidence
    from winnow.judge.evidence.module_evidence import TYPED_INPUTS
    from winnow.judge.hints.policy import HintPolicy, hint_for, judged_functions
    from winnow.judge.sandbox.choice import isolation
    from winnow.judge.scoring.manifest import JudgeManifest
    from winnow.judge.sites import backend, language_of
    from winnow.judge.sites.call_sites import own_calls

    path = Path(args.file).resolve()
    source = path.read_text(encoding="utf-8")
    policy = JudgeManifest.load(args.judge).hints or HintPolicy()
    language = language_of(str(path)) or "python"
    way, lang = document_evidence(language), backend(language)
    if way is None or lang is None:
        raise WinnowError(f"{path}: no correctness hints for {language} files")
    why_not = way.unavailable()  # never under a sandbox weaker than read-only files and no network
    if why_not is not None:
        raise WinnowError(f"{path}: {why_not}")
    sandbox = isolation().describe()
    sites = judged_functions(source, language)
    calls = own_calls(source, [s.qualname for s in sites]) if way.takes_call_sites else {}
    request = EvidenceRequest(probes=args.probes, typed=TYPED_INPUTS, calls=calls)
    evidence = way.collect(source, str(path), sites, request)  # Java: Javadoc examples with the JDK
    doc = lang.doc_comment
    rows: list[dict[str, Any]] = []
    for s in sites:
        ev = evidence.functions.get(s.qualname)
        hint = hint_for(ev, policy, doc=doc) if ev is not None else None
        rows.append({"function": s.qualname, "line": s.def_line + 1,
                     "examples_run": ev.examples_run if ev else 0, "examples_passed": ev.examples_passed if ev else 0,
                     "inputs": ev.inputs if ev else 0, "hint": None if hint is None else
                     {"kind": hint.kind, "message": hint.message, "severity": hint.severity}})
    if args.json:
        print(json.dumps({"file": str(path), "module": evidence.status, "error": evidence.error, "sandbox": sandbox,
                          "seconds": round(evidence.seconds, 2), "functions": rows}, indent=2))
        return 0
    print(f"sandbox: {sandbox}")
    if evidence.status != "loaded":
        print(f"{path}: no evidence ({evidence.status}: {evidence.error})")
        return 0
    for row in rows:
        if row["hint"]:
            print(f"{path}:{row['line']}: {row['hint']['severity']}: {row['hint']['message']}")
    quiet = sum(1 for r in rows if not r["hint"])
    print(f"{len(rows)} functions judged in {evidence.seconds:.1f} s: {len(rows) - quiet} hints, {quiet} silent")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from winnow.judge.evaluation.hint_calibration import choose_policy, measure_corpus, rates
    from winnow.judge.hints.policy import CALIBRATION_MODULES
    from winnow.judge.scoring.manifest import JudgeManifest

    modules = args.modules or list(CALIBRATION_MODULES)
    judge = None
    if args.score_judge:
        from winnow.judge.evaluation.hint_calibration import judge_scorer
        from winnow.judge.scoring.judge_model import Judge

        judge = judge_scorer(Judge.load(args.score_judge, n_threads=args.threads))
    run = measure_corpus(
        modules, progress=lambda m: print(f"calibrating on {m}", file=sys.stderr),
        seed=args.seed, max_functions=args.max_functions, probes=args.probes, judge=judge,
    )  # fmt: skip
    measured = [m for m in modules if m not in run.skipped]
    policy = choose_policy(run.outcomes, measured, args.max_rate)
    report = {"policy": policy.to_dict(), "rates": rates(run.outcomes, policy), "skipped": run.skipped}
    if args.write:
        manifest = JudgeManifest.load(args.write)
        manifest.hints = policy
        manifest.save(manifest.path or args.write)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'evidence class':28} {'false alarms':>14} {'detected':>12}")
    for name, f in sorted(policy.figures.items()):
        admitted = policy.admits_class(name)
        mark = "*" if admitted or (name == "judge" and policy.judge_threshold is not None) else " "
        print(f"{mark} {name:26} {f.flagged_correct:5}/{f.functions:<8} {f.detected:5}/{f.changed:<6}")
    r = report["rates"]
    print(f"* speaks: {', '.join(sorted(policy.speaks)) or 'nothing'}"
          + (f" (crashes: {', '.join(sorted(policy.crash_types))})" if policy.crash_types else "")
          + (f" (in callees: {', '.join(sorted(policy.callee_crash_types))})" if policy.callee_crash_types else ""))
    if "judge" in policy.figures:
        print(f"learned judge: threshold {policy.judge_threshold} (None: silent; it must catch >= 5% at the rate)")
    print(f"false alarms {r['false_alarms']}/{r['functions']} ({r['false_alarm_rate']}), detection "
          f"{r['detected']}/{r['changed']} ({r['detection_rate']}), with examples {r['detection_rate_with_examples']}")
    for module, why in run.skipped.items():
        print(f"skipped {module}: {why}")
    return 0
