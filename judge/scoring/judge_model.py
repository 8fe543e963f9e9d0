"""The judge: P(candidate is correct) from a small model (GGUF base + optional LoRA).

The judge reads a task (signature + docstring) and a candidate and answers a Yes/No
question (``judge_prompt``); P(correct) = sigmoid((logit(Yes) − logit(No)) / T + b), the
calibration fitted on validation data and stored in the judge manifest (``manifest``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from winnow.judge.base.numeric import sigmoid
from winnow.judge.llm.model_files import ModelInfo, resolve
from winnow.judge.scoring.calibration import Calibration
from winnow.judge.scoring.judge_prompt import (
    ANSWER_NO,
    ANSWER_YES,
    TokenRuns,
    answer_token_ids,
    judge_token_runs,
    yes_no_z,
)
from winnow.judge.scoring.manifest import JudgeManifest, section_dict

if TYPE_CHECKING:  # the engine imports llama.cpp: loaded only when a judge is
    from winnow.judge.llm.engine import Engine
    from winnow.judge.llm.model import Model

log = logging.getLogger(__name__)

@dataclass
class Verdict:
    p_correct: float
    p_raw: float
    z: float  # logit(yes) - logit(no)
    task_truncated: bool = False
    candidate_truncated: bool = False


class Judge:
    """Scores candidates with a judge model on its own llama.cpp context."""

    def __init__(self, engine: Engine, manifest: JudgeManifest, base_info: ModelInfo | None = None) -> None:
        self.engine = engine
        self.manifest = manifest
        self.base_info = base_info
        self.calibration = manifest.calibration or Calibration()
        self.verdict_model = manifest.verdict  # what ranking's "combined" strategy applies
        model = engine.model
        self.chat_template = model.chat_template()
        self.bos = model.bos() if model.add_bos() and model.bos() >= 0 else None
        self.yes_ids = answer_token_ids(model, model.token_text, manifest.answer_tokens.get("yes", ANSWER_YES))
        self.no_ids = answer_token_ids(model, model.token_text, manifest.answer_tokens.get("no", ANSWER_NO))

    @classmethod
    def load(
        cls,
        spec: str,
        n_threads: int = 0,
        allow_download: bool = False,
        model_cache: Callable[[str], Model] | None = None,
        n_ctx: int = 4096,
    ) -> Judge:
        """Load the manifest, check its files, and make an engine with the adapter."""
        from winnow.judge.llm.engine import Engine
        from winnow.judge.llm.model import Model

        manifest = JudgeManifest.load(spec)
        info = resolve(manifest.base_model, allow_download=allow_download)
        manifest.check_files(info.sha256)
        model = model_cache(info.path) if model_cache is not None else Model(info.path)
        engine = Engine(
            model, n_ctx=n_ctx, n_seq_max=17, n_threads=n_threads or None,
            lora_path=manifest.adapter_path(), lora_scale=manifest.adapter_scale,
        )
        return cls(engine, manifest, info)

    def close(self) -> None:
        self.engine.close()

    def runs(self, task: str, candidate: str) -> TokenRuns:
        return judge_token_runs(
            self.engine.model, self.chat_template, task, candidate, self.bos,
            max_task_tokens=self.manifest.max_task_tokens,
            max_candidate_tokens=self.manifest.max_candidate_tokens,
            template=self.manifest.prompt_template,
        )

    def _z(self, logits: np.ndarray) -> float:
        return yes_no_z(logits, self.yes_ids, self.no_ids)

    def verdicts(
        self, task: str, codes: Sequence[str], cancel: Callable[[], bool] | None = None
    ) -> list[Verdict]:
        """One verdict per candidate; the task prefix is evaluated once for all."""
        if not codes:
            return []
        runs = [self.runs(task, code) for code in codes]
        cut = [i for i, r in enumerate(runs) if r.candidate_truncated]
        if cut or runs[0].task_truncated:  # one line a batch: the verdicts record it per candidate
            log.info(
                "judge: task cut to its first %d tokens: %s; %d of %d candidates cut to their last %d",
                self.manifest.max_task_tokens, "yes" if runs[0].task_truncated else "no", len(cut), len(runs),
                self.manifest.max_candidate_tokens,
            )
        logits = self.engine.branch_logits(runs[0].prefix, [r.branch for r in runs], cancel)
        out: list[Verdict] = []
        for r, row in zip(runs, logits, strict=True):
            z = self._z(row)
            out.append(
                Verdict(
                    p_correct=float(self.calibration.apply(z)),
                    p_raw=float(sigmoid(z)),
                    z=z,
                    task_truncated=r.task_truncated,
                    candidate_truncated=r.candidate_truncated,
                )
            )
        return out

    def score(self, task: str, codes: Sequence[str], cancel: Callable[[], bool] | None = None) -> list[float]:
        return [v.p_correct for v in self.verdicts(task, codes, cancel)]

    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "name": m.name,
            "manifest": m.path,
            "base_model": m.base_model,
            "adapter": str(m.adapter_path()) if m.adapter else None,
            "prompt_template": m.prompt_template,
            "calibration": self.calibration.to_dict(),
            "evaluation": section_dict(m.evaluation),
            "recommended": section_dict(m.recommended),
            "verdict": section_dict(m.verdict),
        }

