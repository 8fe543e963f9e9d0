"""The judge prompt as token ids, and the judge's raw score z under transformers.

Exactly the serving prompt: ``judge_token_runs`` over a tokenizer adapter, prefix +
branch, the chat template read from the GGUF. z = logsumexp(logits[yes ids]) −
logsumexp(logits[no ids]) at the last position, as ``Judge`` computes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from winnow.judge.scoring.judge_prompt import (
    ANSWER_NO,
    ANSWER_YES,
    JUDGE_TEMPLATE,
    MAX_CANDIDATE_TOKENS,
    MAX_TASK_TOKENS,
    TokenRuns,
    answer_token_ids,
    judge_token_runs,
)
from winnow.judge.training.pretrained import HFTokenizer

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


class PromptEncoder:
    """Token ids of the judge prompt exactly as ``Judge`` builds them when serving."""

    def __init__(
        self,
        hf_tokenizer: PreTrainedTokenizerBase,
        chat_template: str | None,
        bos: int | None,
        max_task_tokens: int = MAX_TASK_TOKENS,
        max_candidate_tokens: int = MAX_CANDIDATE_TOKENS,
        template: str = JUDGE_TEMPLATE,
    ) -> None:
        self.tok = HFTokenizer(hf_tokenizer, bos)
        self.chat_template = chat_template
        self.bos = bos
        self.max_task_tokens = max_task_tokens
        self.max_candidate_tokens = max_candidate_tokens
        self.template = template
        self.yes_ids = answer_token_ids(self.tok, self.tok.token_text, ANSWER_YES)
        self.no_ids = answer_token_ids(self.tok, self.tok.token_text, ANSWER_NO)
        pad = getattr(hf_tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0

    def runs(self, task: str, candidate: str, language: str = "python") -> TokenRuns:
        return judge_token_runs(
            self.tok, self.chat_template, task, candidate, self.bos, language=language,
            max_task_tokens=self.max_task_tokens, max_candidate_tokens=self.max_candidate_tokens,
            template=self.template,  # what the run's config records, and export writes into the manifest
        )

    def encode(self, task: str, candidate: str, language: str = "python") -> list[int]:
        """The whole prompt's ids (prefix + branch), as the judge scores it."""
        r = self.runs(task, candidate, language)
        return r.prefix + r.branch


def batch_z(
    model: torch.nn.Module, sequences: Sequence[Sequence[int]], yes_ids: Sequence[int], no_ids: Sequence[int],
    pad_id: int,
) -> torch.Tensor:
    """z = logsumexp(logits[yes]) − logsumexp(logits[no]) after each sequence (right-padded
    batch; the LM head runs only at the positions that are some row's last token)."""
    import torch

    device = next(p for p in model.parameters()).device
    lengths = [len(s) for s in sequences]
    width = max(lengths)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    last = [n - 1 for n in lengths]
    keep = sorted(set(last))
    if len(sequences) == 1:
        out = model(input_ids=ids.to(device), attention_mask=mask.to(device), logits_to_keep=1)
        rows = out.logits[:, -1, :]
    else:
        where = {p: k for k, p in enumerate(keep)}
        out = model(
            input_ids=ids.to(device), attention_mask=mask.to(device),
            logits_to_keep=torch.tensor(keep, dtype=torch.long, device=device),
        )
        index = torch.tensor([where[p] for p in last], dtype=torch.long, device=device)
        rows = out.logits[torch.arange(len(sequences), device=device), index]
    rows = rows.float()
    yes = torch.logsumexp(rows[:, list(yes_ids)], dim=-1)
    no = torch.logsumexp(rows[:, list(no_ids)], dim=-1)
    return yes - no


def last_logits(model: torch.nn.Module, sequence: Sequence[int]) -> np.ndarray:
    """The whole vocabulary's logits after ``sequence`` (float64, no gradients)."""
    import torch

    device = next(p for p in model.parameters()).device
    with torch.no_grad():
        out = model(input_ids=torch.tensor([list(sequence)], device=device), logits_to_keep=1)
    return out.logits[0, -1].double().cpu().numpy()


def score_sequences(
    model: torch.nn.Module, encoder: PromptEncoder, sequences: Sequence[Sequence[int]], batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """z for every sequence (no gradients; batches of similar length)."""
    import torch

    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = np.zeros(len(sequences), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), max(1, batch_size)):
                chunk = order[start : start + batch_size]
                z = batch_z(model, [sequences[i] for i in chunk], encoder.yes_ids, encoder.no_ids, encoder.pad_id)
                out[chunk] = z.detach().cpu().double().numpy()
                if progress is not None:
                    progress(len(chunk))
    finally:
        model.train(was_training)
    return out

