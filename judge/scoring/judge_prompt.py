"""The judge's prompt: the Yes/No question around a task and a candidate, as token runs.

The prompt is versioned (``JUDGE_TEMPLATE``) and split in two token runs: the *task prefix*
(shared by every candidate of a task, evaluated once and cached) and the *candidate branch*
(candidate + question + answer cue). Training tokenizes in exactly the same two runs
(``judge_token_runs``), so train and serve agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from winnow.judge.base.errors import ModelError, WinnowError
from winnow.judge.base.numeric import logsumexp

if TYPE_CHECKING:  # the engine imports llama.cpp: loaded only when a judge is
    pass

log = logging.getLogger(__name__)

# v1 shows the whole candidate (its copy of the signature and docstring too); v2 shows only
# what the candidate adds to the task (its body, helpers it defines): half the tokens, and
# the judge's attention goes to the code that can be wrong.
JUDGE_TEMPLATE_V1 = "winnow-judge-v1"
JUDGE_TEMPLATE_V2 = "winnow-judge-v2"
JUDGE_TEMPLATE = JUDGE_TEMPLATE_V2  # what training writes now
SERVED_TEMPLATES = (JUDGE_TEMPLATE_V1, JUDGE_TEMPLATE_V2)
CANDIDATE_SLOT = "\uE000CANDIDATE\uE000"  # a private-use marker no real code contains

SYSTEM_TEXT = "You are a careful code reviewer. You answer with a single word: Yes or No."
USER_TEXTS = {
    JUDGE_TEMPLATE_V1: (
        "Task:\n```{language}\n{task}\n```\n\n"
        "Candidate:\n```{language}\n" + CANDIDATE_SLOT + "\n```\n\n"
        "Is the candidate a correct implementation of the task? Answer Yes or No."
    ),
    JUDGE_TEMPLATE_V2: (
        "Task:\n```{language}\n{task}\n```\n\n"
        "Candidate body:\n```{language}\n" + CANDIDATE_SLOT + "\n```\n\n"
        "Is the candidate body a correct implementation of the task? Answer Yes or No."
    ),
}
ANSWER_YES = ("Yes", " Yes", "yes", " yes")
ANSWER_NO = ("No", " No", "no", " no")
MAX_TASK_TOKENS = 512
MAX_CANDIDATE_TOKENS = 768


class Tokenizer(Protocol):
    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True) -> list[int]: ...


def _user_text(template: str) -> str:
    try:
        return USER_TEXTS[template]
    except KeyError:
        raise WinnowError(
            f"unknown judge prompt {template!r}; this Winnow knows {', '.join(SERVED_TEMPLATES)}"
        ) from None


def judge_texts(
    chat_template: str | None, task: str, language: str = "python", template: str = JUDGE_TEMPLATE
) -> tuple[str, str]:
    """The judge prompt around the candidate: (text before it, text after it)."""
    user = _user_text(template).format(language=language, task=task.strip("\n"))
    if chat_template:
        from winnow.judge.llm.prompts import render_chat

        full = render_chat(
            chat_template,
            [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": user}],
            add_generation_prompt=True,
        )
    else:
        full = SYSTEM_TEXT + "\n\n" + user + "\nAnswer: "
    before, sep, after = full.partition(CANDIDATE_SLOT)
    if not sep:
        raise WinnowError("the model's chat template dropped the candidate: cannot build a judge prompt")
    return before, after


def _squash(text: str) -> str:
    return " ".join(text.split())


def candidate_body(task: str, candidate: str) -> str:
    """What ``candidate`` adds to ``task`` (template v2): the candidate without its copy of
    the task function's signature and docstring, and without a preamble (imports, helpers)
    that the task already shows. A candidate whose function cannot be found stays whole."""
    from winnow.judge.sites import functions, source_lines

    task_sites = [s for s in functions(task) if s.indent == 0]
    if not task_sites:
        return candidate
    name = task_sites[-1].name
    sites = [s for s in functions(candidate) if s.name == name and s.indent == 0]
    if not sites:
        return candidate
    site = sites[-1]
    lines = source_lines(candidate)
    preamble = "".join(lines[: site.start_line])
    if _squash(preamble) and _squash(preamble) in _squash(task):
        preamble = ""
    body = "".join(lines[site.header_end_line :])
    return (preamble.rstrip("\n") + "\n\n" + body) if preamble.strip() else body


@dataclass
class TokenRuns:
    prefix: list[int]
    branch: list[int]
    task_truncated: bool
    candidate_truncated: bool


def _keep_head(tokens: list[int], limit: int) -> tuple[list[int], bool]:
    return (tokens[:limit], True) if len(tokens) > limit else (tokens, False)


def _keep_tail(tokens: list[int], limit: int) -> tuple[list[int], bool]:
    return (tokens[len(tokens) - limit :], True) if len(tokens) > limit else (tokens, False)


def judge_token_runs(
    tok: Tokenizer,
    chat_template: str | None,
    task: str,
    candidate: str,
    bos: int | None = None,
    language: str = "python",
    max_task_tokens: int = MAX_TASK_TOKENS,
    max_candidate_tokens: int = MAX_CANDIDATE_TOKENS,
    template: str = JUDGE_TEMPLATE,
) -> TokenRuns:
    """Tokens of the judge prompt, as (shared prefix, per-candidate branch).

    Long inputs are cut, and the flags report it: the task keeps its first
    ``max_task_tokens`` tokens (the signature and the start of the docstring), the
    candidate its LAST ``max_candidate_tokens`` (the body: the candidate's copy of the
    signature and docstring is what goes first, and the task already shows those).
    """
    before, after = judge_texts(chat_template, "\uE001", language, template)
    head, _, tail = before.partition("\uE001")
    if template == JUDGE_TEMPLATE_V2:
        candidate = candidate_body(task, candidate)
    task_ids, task_cut = _keep_head(tok.tokenize(task.strip("\n"), False, False), max_task_tokens)
    cand_ids, cand_cut = _keep_tail(tok.tokenize(candidate.strip("\n"), False, False), max_candidate_tokens)
    prefix = tok.tokenize(head, False, True) + task_ids + tok.tokenize(tail, False, True)
    if bos is not None and (not prefix or prefix[0] != bos):
        prefix = [bos] + prefix
    branch = cand_ids + tok.tokenize(after, False, True)
    return TokenRuns(prefix, branch, task_cut, cand_cut)


def answer_token_ids(tok: Tokenizer, token_text: Callable[[int], str], words: Sequence[str]) -> list[int]:
    """Ids of the single-token spellings of an answer word (with/without leading space)."""
    ids: list[int] = []
    for word in words:
        t = tok.tokenize(word, False, False)
        if len(t) == 1 and t[0] not in ids:
            ids.append(t[0])
    if not ids:
        raise ModelError(f"the judge model's vocabulary has no single token for {words[0]!r}")
    return ids


def yes_no_z(logits: np.ndarray, yes_ids: Sequence[int], no_ids: Sequence[int]) -> float:
    """The judge's raw score z = logsumexp(logits[yes]) − logsumexp(logits[no]): every
    single-token spelling of each answer counts (training's loss uses the same z)."""
    return logsumexp(logits[list(yes_ids)]) - logsumexp(logits[list(no_ids)])


