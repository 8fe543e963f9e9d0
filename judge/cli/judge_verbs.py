"""``winnow judge show|score``: inspect a judge and score candidates with it."""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key, read_jsonl
from winnow.judge.cli import flags
from winnow.judge.evidence.batch_examples import problem_examples
from winnow.judge.evidence.example_runs import examples_runner
from winnow.judge.scoring.ranking import JUDGE_STRATEGIES, STRATEGIES, ExamplesRunner
from winnow.judge.sites import FunctionSite, function_at, function_body

if TYPE_CHECKING:
    from winnow.judge.scoring.judge_model import Judge


def run_show(args: argparse.Namespace) -> int:
    from winnow.judge.evaluation.report import format_figure
    from winnow.judge.scoring.manifest import JudgeManifest

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
    cal = manifest.calibration
    if cal is not None:
        print(
            f"calibration  {cal.method} T={cal.temperature:.3f} b={cal.bias:+.3f}"
            f" (ECE {format_figure(cal.ece_before)} → {format_figure(cal.ece_after)}, n={cal.n})"
        )
    else:
        print("calibration  none")
    for key, value in (manifest.evaluation.to_dict() if manifest.evaluation else {}).items():
        print(f"eval         {key}: {format_figure(value)}")
    for language, figures in manifest.language_figures.items():
        shown = ", ".join(f"{k} {format_figure(v) if isinstance(v, float) else v}" for k, v in figures.items())
        speaks = "speaks" if language in manifest.languages else "silent"
        print(f"{language:12} {speaks}: {shown}")
    for key, value in (manifest.recommended.to_dict() if manifest.recommended else {}).items():
        print(f"recommended  {key}: {format_figure(value)}")
    v = manifest.verdict
    if v is not None:
        terms = ", ".join(f"{n} {c:+.2f}" for n, c in zip(v.features, v.coef, strict=True))
        print(f"verdict      {terms}, intercept {v.intercept:+.2f} (fitted on {v.n} candidates: {v.fitted_on})")
    else:
        print("verdict      none: `combined` ranks as judge+exec (fit one with `winnow combine`)")
    return 0


def _load_judge(spec: str, threads: int, base: str | None = None) -> Judge:
    from winnow.judge.scoring.judge_model import Judge

    if base is None:
        return Judge.load(spec, n_threads=threads)
    return _judge_on_base(spec, threads, base)


def _judge_on_base(spec: str, threads: int, base: str) -> Judge:
    """The judge of manifest ``spec`` served on another GGUF than its manifest names (another
    quantization of its base; a Hugging Face folder is written as a GGUF first, which needs the
    [train] extras): refused unless it is the same model, shape and tokenizer."""
    from winnow.judge.llm.engine import Engine
    from winnow.judge.llm.model import Model
    from winnow.judge.llm.model_files import resolve
    from winnow.judge.scoring.judge_model import Judge
    from winnow.judge.scoring.manifest import JudgeManifest

    manifest = JudgeManifest.load(spec)
    trained = resolve(manifest.base_model)
    path = base
    if Path(base).is_dir():
        from winnow.judge.training.pretrained import convert_base

        path = convert_base(base).gguf_path
    info = resolve(path)
    if info.sha256 != trained.sha256:
        from winnow.judge.training.export import check_serving_base

        check_serving_base(trained.path, info.path)
        print(f"judge: serving {manifest.name} on {base} instead of {manifest.base_model} (same model and "
              "tokenizer; its figures were measured on the other)", file=sys.stderr)
    manifest.base_model, manifest.base_sha256 = info.spec, info.sha256
    manifest.check_files(info.sha256)
    engine = Engine(Model(info.path), n_ctx=4096, n_seq_max=17, n_threads=threads or None,
                    lora_path=manifest.adapter_path(), lora_scale=manifest.adapter_scale)
    return Judge(engine, manifest, info)


class _GeneratorLogprob:
    """The ``logprob`` strategy for candidates of any origin: the generator's mean token
    log-prob of each candidate's body, teacher-forced in the prompt it samples from."""

    def __init__(self, model: str, threads: int) -> None:
        from winnow.judge.llm.engine import Engine
        from winnow.judge.llm.model import Model
        from winnow.judge.llm.model_files import resolve

        self.engine = Engine(Model(resolve(model).path), n_threads=threads or None)

    def surprise(self, prompt: str, site: FunctionSite, codes: list[str]) -> list[dict[str, float] | None]:
        """Per candidate the generator's surprise at its body (judge.scoring.surprise: the
        mean token log-prob and the token-level gaps); None where the candidate's function
        is missing, empty or unparseable."""
        from winnow.judge.llm.generation import body_token_scores
        from winnow.judge.scoring.surprise import surprise_features

        # A Java problem's candidates are whole classes: the method's body as written.
        bodies = [function_body(textwrap.dedent(code), site.name, site.language) for code in codes]
        todo = [i for i, b in enumerate(bodies) if b is not None and b.strip()]
        out: list[dict[str, float] | None] = [None] * len(codes)
        if todo:
            scored = body_token_scores(self.engine, prompt, site, [bodies[i] or "" for i in todo])
            for i, (pieces, scores) in zip(todo, scored, strict=True):
                out[i] = surprise_features(scores, pieces)
        return out

    def means(self, prompt: str, site: FunctionSite, codes: list[str]) -> list[float | None]:
        """Mean log-prob per candidate (None as in ``surprise``)."""
        return [None if f is None else f["mean_logprob"] for f in self.surprise(prompt, site, codes)]


def _as_probability(strategy: str, p_correct: float | None, score: float) -> float:
    """A score file holds numbers in [0, 1]: log-probs become the geometric-mean token
    probability exp(mean log-prob); other heuristic scores are clipped."""
    if p_correct is not None:
        return float(p_correct)
    if strategy == "logprob":
        return math.exp(score) if math.isfinite(score) else 0.0
    return min(1.0, max(0.0, float(score)))


def run_score(args: argparse.Namespace) -> int:
    """Score one pair (``--task``/``--candidate``) or a candidates file (``--problems``/``--candidates``/``--out``)."""
    if args.task or args.candidate:
        if not (args.task and args.candidate):
            raise WinnowError("--task and --candidate go together")
        return _score_pair(args)
    if not (args.problems and args.candidates and args.out):
        raise WinnowError("give --problems, --candidates and --out (or --task and --candidate for one pair)")
    return _score_file(args)


@dataclass
class _Scorers:
    """What a strategy needs besides the candidates: the generator, the judge, the examples runner."""

    logprob: _GeneratorLogprob | None
    judge: Any
    run_examples: ExamplesRunner | None

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> _Scorers:
        return cls(
            _GeneratorLogprob(args.model, args.threads) if args.strategy == "logprob" else None,
            _load_judge(args.judge, args.threads, args.base) if args.strategy in JUDGE_STRATEGIES else None,
            examples_runner(args.timeout) if args.strategy in ("combined", "judge+exec", "examples") else None,
        )


def _score_pair(args: argparse.Namespace) -> int:
    from winnow.judge.llm.generation import FunctionCandidate
    from winnow.judge.scoring.ranking import rank

    task = Path(args.task).read_text(encoding="utf-8")
    code = Path(args.candidate).read_text(encoding="utf-8")
    scorers = _Scorers.for_args(args)
    t0 = time.perf_counter()
    mean = 0.0
    if scorers.logprob:
        site = function_at(task)
        if site is None:
            raise WinnowError(f"{args.task}: no Python function to implement")
        mean = scorers.logprob.means(task, site, [code])[0]
    ranked = rank(task, [FunctionCandidate.given(code, mean or 0.0)], strategy=args.strategy,
                  judge=scorers.judge, run_examples=scorers.run_examples)
    best = ranked[0]
    p = 0.0 if scorers.logprob and mean is None else _as_probability(args.strategy, best.p_correct, best.score)
    out = best.to_dict() | {"p_correct": p, "ms": round((time.perf_counter() - t0) * 1000, 1)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        p = out["p_correct"]
        print(f"P(correct) {p:.1%}" if p is not None else "P(correct) n/a", f"— {out['reason']}")
    return 0


def _score_file(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from winnow.judge.dataset.problems import problems_by_id

    problems = problems_by_id(args.problems)
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in read_jsonl(args.candidates):
        by_problem[str(record["problem_id"])].append(record)
    missing = sorted(set(by_problem) - set(problems))
    if missing:
        raise WinnowError(f"{len(missing)} candidates' problems are not in {args.problems} (e.g. {missing[0]})")
    scorers = _Scorers.for_args(args)
    written = 0
    with JsonlAppender(args.out, candidate_key) as out:
        todo = {pid: [r for r in recs if r not in out] for pid, recs in by_problem.items()}
        total = sum(len(v) for v in todo.values())
        with tqdm(total=total, desc="judging", unit="cand", file=sys.stderr, disable=args.quiet) as bar:
            for pid, records in todo.items():
                if not records:
                    continue
                for record in _score_problem(problems[pid], records, args, scorers):
                    written += out.write(record)
                bar.update(len(records))
    print(f"wrote {written} scores to {args.out}", file=sys.stderr)
    return 0


def _score_problem(problem: Any, records: list[dict[str, Any]], args: argparse.Namespace,
                   scorers: _Scorers) -> list[dict[str, Any]]:
    """The score records of one problem's candidates, ranked together."""
    from winnow.judge.dataset.candidate_sampling import target_site
    from winnow.judge.llm.generation import FunctionCandidate
    from winnow.judge.scoring.ranking import rank

    codes = [str(r["code"]) for r in records]
    language = problem.language
    surprise = scorers.logprob.surprise(problem.prompt, target_site(problem), codes) if scorers.logprob else None
    means = (
        [None if f is None else f["mean_logprob"] for f in surprise]
        if surprise is not None
        else [float(r.get("mean_logprob", 0.0)) for r in records]
    )
    cands = [FunctionCandidate.given(code, mean or 0.0, index=i) for i, (code, mean) in enumerate(zip(codes, means, strict=True))]
    run_examples = scorers.run_examples
    if run_examples is not None:  # each language runs a problem's examples its own way
        run_examples = problem_examples(language, problem.entry_point, args.timeout)
    # Each problem its own seed: one seed for all would give every task's first candidate (the
    # reference, in augmented sets) the same draw, and "random" would rank by position.
    seed = zlib.crc32(f"{args.seed}:{problem.id}".encode())
    ranked = rank(problem.prompt, cands, strategy=args.strategy, judge=scorers.judge, seed=seed,
                  run_examples=run_examples, language=language)
    out = []
    for r in ranked:
        record: dict[str, Any] = {
            "problem_id": problem.id,
            "candidate_id": records[r.index]["candidate_id"],
            "p_correct": _as_probability(args.strategy, r.p_correct, r.score),
            "strategy": args.strategy,
            "reason": r.reason,
        }
        if args.strategy == "combined" and r.p_correct is not None and r.score != r.p_correct:
            record["rank_score"] = round(r.score, 6)  # the manifest's ranker orders the batch (winnow eval's pick)
        if scorers.logprob:
            if means[r.index] is None:
                record |= {"p_correct": 0.0, "reason": f"no body of {problem.entry_point} to score"}
            record["mean_logprob"] = means[r.index]
            features = surprise[r.index] if surprise is not None else None
            if features is not None:  # the token-level surprise (docs/training.md: not a lever at 135M)
                record["surprise"] = {k: round(v, 5) for k, v in features.items()}
        out.append(record)
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("judge", help="show a judge, score candidates with it")
    sub = parser.add_subparsers(dest="judge_command", metavar="ACTION")
    show = sub.add_parser("show", help="print a judge manifest: base, adapter, calibration, figures")
    flags.add_judge(show, "default | PATH/judge.json (default: the shipped judge)")
    flags.add_json(show)
    show.set_defaults(func=run_show)

    score = sub.add_parser(
        "score",
        help="P(correct) for candidates",
        description="Either --problems/--candidates/--out (JSONL, resumable) or --task/--candidate for one pair.",
    )
    flags.add_problems(score, required=False, help="problem set: FILE.jsonl or a named set such as humaneval:heldout")
    flags.add_candidates(score, required=False, help="candidates JSONL ({problem_id, candidate_id, code, ...})")
    flags.add_out(score, "scores JSONL to append to ({problem_id, candidate_id, p_correct})", required=False)
    score.add_argument("--task", help="a file holding one task (signature + docstring)")
    score.add_argument("--candidate", help="a file holding one candidate (complete function)")
    flags.add_judge(score)
    score.add_argument(
        "--base",
        help="serve the judge on this GGUF instead of the base its manifest names: another quantization of "
             "the same model (or a Hugging Face folder of it, written as a GGUF once); refused unless the "
             "architecture, shape, tokenizer and chat template match",
    )
    score.add_argument(
        "--strategy", choices=STRATEGIES, default="combined",
        help="scoring strategy (default: combined, what serving uses: the manifest's fitted verdict over the "
        "judge, docstring examples and lint; judge: the learned judge alone)",
    )
    flags.add_timeout(score, 5.0, "seconds per docstring-example run (judge+exec)")
    flags.add_model(score, f"generator for --strategy logprob: {flags.MODEL_SPEC}")
    flags.add_threads(score)
    flags.add_seed(score, "seed for the random strategy")
    flags.add_quiet(score)
    flags.add_json(score, "print JSON (one pair)")
    score.set_defaults(func=run_score)
    parser.set_defaults(func=run_show, judge="default", json=False)
