"""``winnow judge show|score``: inspect a judge and score candidates with it."""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl
from winnow.judge.base.pysource import FunctionSite, function_at, function_body
from winnow.judge.scoring.ranking import STRATEGIES


def run_show(args: argparse.Namespace) -> int:
    from winnow.judge.evaluation.report import format_figure as _fmt
    from winnow.judge.scoring.judge_model import JudgeManifest

    manifest = JudgeManifest.load(args.judge)
    data = manifest.to_dict() | {"path": manifest.path}
    adapter = manifest.adapter_path()
    data["adapter_exists"] = adapter.is_file() if adapter else None
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"judge        {manifest.name}")
    print(f"manifest     {manifest.path}")
    print(f"base model   {manifest.base_model}" + (f" (sha256 {manifest.base_sha256[:16]}…)" if manifest.base_sha256 else ""))
    print(f"adapter      {adapter or 'none (zero-shot)'}" + ("" if not adapter or adapter.is_file() else "  MISSING"))
    print(f"prompt       {manifest.prompt_template}; languages {', '.join(manifest.languages)}")
    cal = manifest.calibration or {}
    if cal:
        print(
            f"calibration  {cal.get('method')} T={cal.get('temperature', 1.0):.3f} b={cal.get('bias', 0.0):+.3f}"
            f" (ECE {_fmt(cal.get('ece_before'))} → {_fmt(cal.get('ece_after'))}, n={cal.get('n')})"
        )
    else:
        print("calibration  none")
    for key, value in (manifest.evaluation or {}).items():
        print(f"eval         {key}: {_fmt(value)}")
    for key, value in (manifest.recommended or {}).items():
        print(f"recommended  {key}: {_fmt(value)}")
    return 0


def _load_judge(spec: str, threads: int) -> Any:
    from winnow.judge.scoring.judge_model import Judge

    return Judge.load(spec, n_threads=threads)


def _examples_runner(timeout_s: float) -> Any:
    from winnow.judge.scoring.examples import run_docstring_examples

    return lambda code: run_docstring_examples(code, timeout_s=timeout_s)


class _GeneratorLogprob:
    """The ``logprob`` strategy for candidates of any origin: the generator's mean token
    log-prob of each candidate's body, teacher-forced in the prompt it samples from."""

    def __init__(self, model: str, threads: int) -> None:
        from winnow.judge.llm.engine import Engine, Model
        from winnow.judge.llm.model_files import resolve

        self.engine = Engine(Model(resolve(model).path), n_threads=threads or None)

    def means(self, prompt: str, site: FunctionSite, codes: list[str]) -> list[float | None]:
        """Mean log-prob per candidate of the function at ``site`` in ``prompt``; None
        where the candidate's function is missing, empty or unparseable."""
        from winnow.judge.llm.generation import body_logprobs

        bodies = [function_body(textwrap.dedent(code), site.name) for code in codes]
        todo = [i for i, b in enumerate(bodies) if b is not None and b.strip()]
        out: list[float | None] = [None] * len(codes)
        if todo:
            scored = body_logprobs(self.engine, prompt, site, [bodies[i] or "" for i in todo])
            for i, (mean, _) in zip(todo, scored, strict=True):
                out[i] = mean
        return out


def _as_probability(strategy: str, p_correct: float | None, score: float) -> float:
    """A score file holds numbers in [0, 1]: log-probs become the geometric-mean token
    probability exp(mean log-prob); other heuristic scores are clipped."""
    if p_correct is not None:
        return float(p_correct)
    if strategy == "logprob":
        return math.exp(score) if math.isfinite(score) else 0.0
    return min(1.0, max(0.0, float(score)))


def run_score(args: argparse.Namespace) -> int:
    from winnow.judge.llm.generation import FunctionCandidate
    from winnow.judge.scoring.ranking import rank

    logprob = _GeneratorLogprob(args.model, args.threads) if args.strategy == "logprob" else None

    if args.task or args.candidate:
        if not (args.task and args.candidate):
            raise WinnowError("--task and --candidate go together")
        task = Path(args.task).read_text(encoding="utf-8")
        code = Path(args.candidate).read_text(encoding="utf-8")
        judge = _load_judge(args.judge, args.threads) if args.strategy.startswith("judge") else None
        t0 = time.perf_counter()
        mean = 0.0
        if logprob:
            site = function_at(task)
            if site is None:
                raise WinnowError(f"{args.task}: no Python function to implement")
            mean = logprob.means(task, site, [code])[0]
        ranked = rank(task, [FunctionCandidate(0, code, "", 0, 0.0, mean or 0.0, "given")], strategy=args.strategy,
                      judge=judge, run_examples=_examples_runner(args.timeout) if args.strategy == "judge+exec" else None)
        best = ranked[0]
        p = 0.0 if logprob and mean is None else _as_probability(args.strategy, best.p_correct, best.score)
        out = best.to_dict() | {"p_correct": p, "ms": round((time.perf_counter() - t0) * 1000, 1)}
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            p = out["p_correct"]
            print(f"P(correct) {p:.1%}" if p is not None else "P(correct) n/a", f"— {out['reason']}")
        return 0

    if not (args.problems and args.candidates and args.out):
        raise WinnowError("give --problems, --candidates and --out (or --task and --candidate for one pair)")
    from winnow.judge.dataset.candidate_sampling import target_site
    from winnow.judge.dataset.problems import problems_by_id

    problems = problems_by_id(args.problems)
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in read_jsonl(args.candidates):
        by_problem[str(record["problem_id"])].append(record)
    missing = sorted(set(by_problem) - set(problems))
    if missing:
        raise WinnowError(f"{len(missing)} candidates' problems are not in {args.problems} (e.g. {missing[0]})")
    judge = _load_judge(args.judge, args.threads) if args.strategy.startswith("judge") else None
    runner = _examples_runner(args.timeout) if args.strategy == "judge+exec" else None
    from tqdm import tqdm

    written = 0
    with JsonlAppender(args.out, candidate_key) as out:
        todo = {pid: [r for r in recs if r not in out] for pid, recs in by_problem.items()}
        total = sum(len(v) for v in todo.values())
        with tqdm(total=total, desc="judging", unit="cand", file=sys.stderr, disable=args.quiet) as bar:
            for pid, records in todo.items():
                if not records:
                    continue
                problem = problems[pid]
                codes = [str(r["code"]) for r in records]
                means = (
                    logprob.means(problem.prompt, target_site(problem), codes)
                    if logprob
                    else [float(r.get("mean_logprob", 0.0)) for r in records]
                )
                cands = [
                    FunctionCandidate(i, code, "", 0, 0.0, mean or 0.0, "given")
                    for i, (code, mean) in enumerate(zip(codes, means, strict=True))
                ]
                ranked = rank(problem.prompt, cands, strategy=args.strategy, judge=judge, seed=args.seed,
                              run_examples=runner)
                for r in ranked:
                    rec = records[r.index]
                    record: dict[str, Any] = {
                        "problem_id": pid,
                        "candidate_id": rec["candidate_id"],
                        "p_correct": _as_probability(args.strategy, r.p_correct, r.score),
                        "strategy": args.strategy,
                        "reason": r.reason,
                    }
                    if logprob:
                        if means[r.index] is None:
                            record |= {"p_correct": 0.0, "reason": f"no body of {problem.entry_point} to score"}
                        record["mean_logprob"] = means[r.index]
                    written += out.write(record)
                bar.update(len(records))
    print(f"wrote {written} scores to {args.out}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("judge", help="show a judge, score candidates with it")
    sub = parser.add_subparsers(dest="judge_command", metavar="ACTION")
    show = sub.add_parser("show", help="print a judge manifest: base, adapter, calibration, figures")
    show.add_argument("--judge", default="default", help="default | PATH/judge.json (default: the shipped judge)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)

    score = sub.add_parser(
        "score",
        help="P(correct) for candidates",
        description="Either --problems/--candidates/--out (JSONL, resumable) or --task/--candidate for one pair.",
    )
    score.add_argument("--problems", help="problem set: FILE.jsonl or a named set such as humaneval:heldout")
    score.add_argument("--candidates", help="candidates JSONL ({problem_id, candidate_id, code, ...})")
    score.add_argument("--out", help="scores JSONL to append to ({problem_id, candidate_id, p_correct})")
    score.add_argument("--task", help="a file holding one task (signature + docstring)")
    score.add_argument("--candidate", help="a file holding one candidate (complete function)")
    score.add_argument("--judge", default="default", help="default | PATH/judge.json")
    score.add_argument("--strategy", choices=STRATEGIES, default="judge", help="scoring strategy (default judge)")
    score.add_argument("--timeout", type=float, default=5.0, help="seconds per docstring-example run (judge+exec)")
    score.add_argument(
        "--model", default="default", help="generator for --strategy logprob: default | PATH.gguf | hf:OWNER/REPO/FILE.gguf"
    )
    score.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: physical cores)")
    score.add_argument("--seed", type=int, default=0, help="seed for the random strategy")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    score.add_argument("--json", action="store_true", help="print JSON (one pair)")
    score.set_defaults(func=run_score)
    parser.set_defaults(func=run_show, judge="default", json=False)
