"""``winnow sample``: candidates for problems from a generator model, with their log-probs.

Each problem's prompt (signature + docstring, after any imports and helpers) is given
to ``generate.implement_function``, which samples N bodies in one batch. A candidate's
``code`` is the complete program: the prompt's text before the function (imports,
helper functions), the function's header and the sampled body, and anything the
prompt had after the function.

Records are appended one by one, keyed on (problem_id, candidate_id) with
candidate_id = ``s{seed}-{i}``; every problem is sampled with a seed derived from
(--seed, problem id), so a killed run that resumes draws the same candidates and
writes only those that are missing.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import JsonlAppender, candidate_key
from winnow.judge.dataset.problems import Problem
from winnow.judge.dataset.records import CandidateRecord, SampleSettings
from winnow.judge.sites import FunctionSite, functions, source_lines

if TYPE_CHECKING:  # the engine imports llama.cpp: loaded only when sampling starts
    from winnow.judge.llm.engine import Engine


def problem_seed(seed: int, problem_id: str) -> int:
    """The sampling seed of one problem: stable across runs and resumes."""
    digest = hashlib.sha256(f"{seed}\0{problem_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def target_site(problem: Problem) -> FunctionSite:
    """The function to implement: the entry point, else the first documented stub. A Java
    prompt stops after the method's ``{``: its site is read from the reference (which starts
    with the prompt), else from the prompt closed with a stub body."""
    if problem.language != "python":
        text = problem.reference or problem.prompt + "        throw new UnsupportedOperationException();\n    }\n}\n"
        named = [s for s in functions(text, problem.language) if s.name == problem.entry_point]
        if not named:
            raise WinnowError(f"{problem.id}: no method {problem.entry_point} in its prompt")
        return named[-1]
    # A bare signature (a mined function without a docstring) has no body to parse: give it one.
    sites = functions(problem.prompt) or functions(problem.prompt.rstrip("\n") + "\n    ...\n")
    named = [s for s in sites if s.name == problem.entry_point]
    stubs = [s for s in sites if s.is_stub]
    if named:
        return named[-1]
    if stubs or sites:
        return (stubs or sites)[0]
    raise WinnowError(f"{problem.id}: its prompt has no Python function to implement")


def complete_code(prompt: str, site: FunctionSite, function_code: str) -> str:
    """The prompt with the function at ``site`` replaced by ``function_code`` (header + body)."""
    lines = source_lines(prompt)
    before = "".join(lines[: site.start_line])
    after = "".join(lines[site.end_line :])
    code = function_code if function_code.endswith("\n") else function_code + "\n"
    return before + code + after


def candidate_ids(seed: int, n: int) -> list[str]:
    return [f"s{seed}-{i}" for i in range(n)]


@dataclass
class SampleSummary:
    written: int = 0
    already: int = 0
    problems_sampled: int = 0
    skipped_problems: int = 0

    def line(self, out: str | os.PathLike[str]) -> str:
        return (
            f"wrote {self.written} candidates for {self.problems_sampled} problems "
            f"({self.already} already there"
            + (f", {self.skipped_problems} non-Python problems skipped" if self.skipped_problems else "")
            + f"); candidates in {out}"
        )


def sample_problems(
    problems: Sequence[Problem],
    out: str | os.PathLike[str],
    n: int = 5,
    model: str = "default",
    max_tokens: int = 256,
    temperature: float = 0.8,
    top_p: float = 0.95,
    seed: int = 0,
    threads: int = 0,
    allow_download: bool = False,
    progress: bool = True,
) -> SampleSummary:
    """Append ``n`` sampled candidates per problem to ``out`` (those not already there)."""
    if n < 1:
        raise WinnowError("--n must be at least 1")
    if max_tokens < 1:
        raise WinnowError("--max-tokens must be at least 1")
    if temperature < 0:
        raise WinnowError("--temperature must be >= 0")
    from tqdm import tqdm

    from winnow.judge.llm.engine import Engine
    from winnow.judge.llm.model import Model
    from winnow.judge.llm.model_files import resolve

    summary = SampleSummary()
    ids = candidate_ids(seed, n)
    with JsonlAppender(out, key=candidate_key) as appender:
        todo = _pending(problems, ids, appender, summary)
        if not todo:
            return summary
        info = resolve(model, allow_download=allow_download)
        engine = Engine(Model(info.path), n_ctx=4096, n_seq_max=n + 1, n_threads=threads or None)
        settings: SampleSettings = {
            "model": model,
            "model_sha256": info.sha256,
            "n": n,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
        }
        bar = tqdm(total=len(todo), unit="problem", desc="sample", file=sys.stderr, disable=not progress)
        try:
            for problem in todo:
                for record in _sample_problem(engine, problem, ids, seed, settings):
                    summary.written += appender.write(record)
                summary.problems_sampled += 1
                bar.update(1)
        finally:
            bar.close()
            engine.close()
    return summary


def _pending(problems: Sequence[Problem], ids: list[str], appender: JsonlAppender, summary: SampleSummary) -> list[Problem]:
    """The Python problems some of whose candidates are not in the output yet."""
    todo: list[Problem] = []
    for problem in problems:
        if problem.language != "python":
            summary.skipped_problems += 1
            continue
        have = sum((problem.id, cid) in appender for cid in ids)
        summary.already += have
        if have < len(ids):
            todo.append(problem)
    return todo


def _sample_problem(
    engine: Engine, problem: Problem, ids: list[str], seed: int, settings: SampleSettings
) -> list[CandidateRecord]:
    """One problem's candidate records, sampled in one batch with the problem's own seed."""
    from winnow.judge.llm.generation import implement_function

    site = target_site(problem)
    pseed = problem_seed(seed, problem.id)
    gen = implement_function(
        engine, problem.prompt, site, n=len(ids), max_tokens=settings["max_tokens"],
        temperature=settings["temperature"], top_p=settings["top_p"], seed=pseed,
    )
    return [
        {
            "problem_id": problem.id,
            "candidate_id": cid,
            "code": complete_code(problem.prompt, site, cand.code),
            "origin": "sample",
            "mean_logprob": cand.mean_logprob,
            "sum_logprob": cand.sum_logprob,
            "n_tokens": cand.n_tokens,
            "finish_reason": cand.finish_reason,
            "seed": seed,
            "sample_seed": pseed,
            "settings": settings | {"prompt_mode": gen.prompt_mode},
        }
        for cand, cid in zip(gen.candidates, ids, strict=True)
    ]
