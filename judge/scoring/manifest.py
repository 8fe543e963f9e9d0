"""The judge manifest (``judge.json``): what a judge is (base, adapter, prompt), how it was
trained, how well it measured on held-out problems, and the sections serving reads (its
calibration, the fitted verdict, the hints' policy), each typed and checked on load."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import write_json
from winnow.judge.hints.policy import HintPolicy
from winnow.judge.llm.model_files import sha256_file
from winnow.judge.scoring.calibration import Calibration
from winnow.judge.scoring.judge_prompt import (
    ANSWER_NO,
    ANSWER_YES,
    JUDGE_TEMPLATE,
    MAX_CANDIDATE_TOKENS,
    MAX_TASK_TOKENS,
    SERVED_TEMPLATES,
)
from winnow.judge.scoring.verdict import VerdictModel

if TYPE_CHECKING:  # the engine imports llama.cpp: loaded only when a judge is
    pass

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "winnow-judge/1"
DEFAULT_MANIFEST = Path(__file__).parent.parent / "data" / "judge.json"

_S = TypeVar("_S", bound="_Section")


class _Section:
    """A manifest section: typed fields for what Winnow reads, ``extra`` for any other key
    (kept as written, so a newer manifest's figures survive a rewrite). Unset (None) fields
    are not written."""

    extra: dict[str, Any]

    @classmethod
    def from_dict(cls: type[_S], data: Mapping[str, Any] | None) -> _S | None:
        if not data:
            return None
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an object, not {data!r}")
        names = {f.name for f in fields(cls)} - {"extra"}  # type: ignore[arg-type]
        return cls(
            **{k: v for k, v in data.items() if k in names},
            extra={k: v for k, v in data.items() if k not in names},
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}  # type: ignore[arg-type]
        return {k: v for k, v in out.items() if v is not None} | self.extra


@dataclass
class HeldOutEvaluation(_Section):
    """The manifest's ``evaluation``: what ``winnow eval --json`` measured on held-out problems."""

    split: str | None = None
    source: str | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    kappa: float | None = None
    mcc: float | None = None
    auc: float | None = None  # ROC-AUC
    ece: float | None = None
    brier: float | None = None
    pass1_judge: float | None = None
    pass1_random: float | None = None
    pass1_logprob: float | None = None
    passk_oracle: float | None = None
    n_problems_ranked: int | None = None
    n: int | None = None  # held-out examples
    n_positive: int | None = None
    pairwise: float | None = None  # within-task pairwise accuracy
    subtle_auc: float | None = None  # ROC-AUC over references, rewrites and single-point bugs only
    subtle_pairwise: float | None = None
    n_subtle: int | None = None
    compare: dict[str, Any] | None = None  # the same figures of the judge it was compared with
    extra: dict[str, Any] = field(default_factory=dict)


#: The figures of ``winnow eval --json`` that ``HeldOutEvaluation`` keeps: its fields but
#: where they came from (``split``, ``source``), ``compare`` and ``extra``.
HELD_OUT_METRICS: tuple[str, ...] = tuple(
    f.name for f in fields(HeldOutEvaluation) if f.name not in ("split", "source", "compare", "extra")
)


@dataclass
class Recommendation(_Section):
    """The manifest's ``recommended``: what the judge's figures switch on by default."""

    diagnostics: bool | None = None
    min_auc: float | None = None
    heldout_auc: float | None = None
    reason: str | None = None
    ranking: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingRecord(_Section):
    """The manifest's ``training``: where the adapter came from (provenance, for people)."""

    run: str | None = None
    checkpoint: str | None = None
    step: int | None = None
    val_auc: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    n_val: int | None = None
    data: dict[str, Any] | None = None
    val_problems: list[str] | None = None
    hyperparameters: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    elapsed_s: float | None = None
    versions: dict[str, Any] | None = None
    adapter: dict[str, Any] | None = None
    agreement: dict[str, Any] | None = None  # llama.cpp vs transformers on the same prompts
    extra: dict[str, Any] = field(default_factory=dict)


def section_dict(section: _Section | Calibration | VerdictModel | HintPolicy | None) -> dict[str, Any]:
    return section.to_dict() if section is not None else {}


@dataclass
class JudgeManifest:
    """What a judge is, where its files are, and how good it measured."""

    name: str = "zero-shot"
    base_model: str = "default"
    base_sha256: str | None = None
    adapter: str | None = None  # path relative to the manifest's folder
    adapter_sha256: str | None = None
    adapter_scale: float = 1.0
    prompt_template: str = JUDGE_TEMPLATE
    languages: list[str] = field(default_factory=lambda: ["python"])
    answer_tokens: dict[str, list[str]] = field(
        default_factory=lambda: {"yes": list(ANSWER_YES), "no": list(ANSWER_NO)}
    )
    calibration: Calibration | None = None  # None: identity (the raw sigmoid)
    evaluation: HeldOutEvaluation | None = None
    recommended: Recommendation | None = None
    training: TrainingRecord | None = None
    verdict: VerdictModel | None = None  # judge + examples + lint, fitted on validation problems
    hints: HintPolicy | None = None  # when correctness hints speak, calibrated on real code
    #: Held-out figures on other languages, by language ("java": {"set", "n", "auc", ...}): why a
    #: language is (or is not) in ``languages``, where the judge speaks.
    language_figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_task_tokens: int = MAX_TASK_TOKENS
    max_candidate_tokens: int = MAX_CANDIDATE_TOKENS
    path: str | None = None  # where it was read from (not stored)

    def __post_init__(self) -> None:
        """Sections given as plain objects (as the JSON holds them) become their types;
        an empty one is None. Raises ValueError or TypeError for a malformed section."""
        if isinstance(self.calibration, Mapping):
            self.calibration = Calibration.from_dict(self.calibration) if self.calibration else None
        if isinstance(self.evaluation, Mapping):
            self.evaluation = HeldOutEvaluation.from_dict(self.evaluation)
        if isinstance(self.recommended, Mapping):
            self.recommended = Recommendation.from_dict(self.recommended)
        if isinstance(self.training, Mapping):
            self.training = TrainingRecord.from_dict(self.training)
        if isinstance(self.verdict, Mapping):
            try:
                self.verdict = VerdictModel.from_dict(self.verdict)
            except WinnowError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(self.hints, Mapping):
            try:
                self.hints = HintPolicy.from_dict(self.hints)
            except WinnowError as exc:
                raise ValueError(str(exc)) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeManifest:
        """A manifest from its JSON object (unknown top-level keys are ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"})

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "path"}
        for name in ("calibration", "evaluation", "recommended", "training", "verdict", "hints"):
            data[name] = section_dict(data[name])
        return {"format": MANIFEST_FORMAT} | data

    def save(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        write_json(p, self.to_dict())
        return p

    @classmethod
    def load(cls, spec: str | os.PathLike[str]) -> JudgeManifest:
        """Read ``default``, a ``judge.json`` path, or a folder holding one."""
        p = DEFAULT_MANIFEST if str(spec) == "default" else Path(os.path.expanduser(str(spec)))
        if p.is_dir():
            p = p / "judge.json"
        if not p.is_file():
            raise WinnowError(f"judge manifest {p} does not exist: name a judge.json, `default`, or `none`")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WinnowError(f"judge manifest {p} is not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise WinnowError(f"{p} is not a Winnow judge manifest (expected \"format\": \"{MANIFEST_FORMAT}\")")
        if data.get("prompt_template") not in SERVED_TEMPLATES:
            raise WinnowError(
                f"{p} uses judge prompt {data.get('prompt_template')!r}; this Winnow serves "
                f"{' or '.join(map(repr, SERVED_TEMPLATES))}: retrain or export the judge with this version"
            )
        try:
            manifest = cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise WinnowError(f"{p}: {exc}") from exc
        manifest.path = str(p)
        return manifest

    def adapter_path(self) -> Path | None:
        if not self.adapter:
            return None
        base = Path(self.path).parent if self.path else Path.cwd()
        return (base / self.adapter).resolve()

    def check_files(self, base_sha256: str | None) -> None:
        """A missing or mismatched adapter/base is a clear error, not a silent wrong score."""
        adapter = self.adapter_path()
        if adapter is not None:
            if not adapter.is_file():
                raise WinnowError(f"judge manifest {self.path} names adapter {adapter}, which does not exist")
            if self.adapter_sha256 and sha256_file(adapter) != self.adapter_sha256:
                raise WinnowError(
                    f"adapter {adapter} does not match the sha256 in {self.path}: re-export the judge"
                )
        if self.base_sha256 and base_sha256 and base_sha256 != self.base_sha256:
            raise WinnowError(
                f"judge manifest {self.path} was trained on a base model with sha256 {self.base_sha256[:12]}…, "
                f"but {self.base_model} resolves to {base_sha256[:12]}…: use the base it was trained on"
            )
