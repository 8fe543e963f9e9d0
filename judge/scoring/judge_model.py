"""The judge: P(candidate is correct) from a small model (GGUF base + optional LoRA).

The judge reads a task (signature + docstring) and a candidate and answers a Yes/No
question; P(correct) = sigmoid((logit(Yes) − logit(No)) / T + b), the calibration
fitted on validation data and stored in the judge manifest (``judge.json``).

The prompt is versioned (``JUDGE_TEMPLATE``) and split in two token runs: the
*task prefix* (shared by every candidate of a task, evaluated once and cached) and
the *candidate branch* (candidate + question + answer cue). Training tokenizes in
exactly the same two runs (see ``judge_token_runs``), so train and serve agree.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from winnow.judge.base.errors import ModelError, WinnowError
from winnow.judge.base.jsonl import write_json
from winnow.judge.base.numeric import logsumexp, sigmoid
from winnow.judge.hints.policy import HintPolicy
from winnow.judge.llm.model_files import ModelInfo, resolve, sha256_file
from winnow.judge.scoring.calibration import Calibration
from winnow.judge.scoring.verdict import VerdictModel

if TYPE_CHECKING:  # the engine imports llama.cpp: loaded only when a judge is
    from winnow.judge.llm.engine import Engine
    from winnow.judge.llm.model import Model

log = logging.getLogger(__name__)

# v1 shows the whole candidate (its copy of the signature and docstring too); v2 shows only
# what the candidate adds to the task (its body, helpers it defines): half the tokens, and
# the judge's attention goes to the code that can be wrong.
JUDGE_TEMPLATE_V1 = "winnow-judge-v1"
JUDGE_TEMPLATE_V2 = "winnow-judge-v2"
JUDGE_TEMPLATE = JUDGE_TEMPLATE_V2  # what training writes now
SERVED_TEMPLATES = (JUDGE_TEMPLATE_V1, JUDGE_TEMPLATE_V2)
MANIFEST_FORMAT = "winnow-judge/1"
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
DEFAULT_MANIFEST = Path(__file__).parent.parent / "data" / "judge.json"


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


# --- the manifest ------------------------------------------------------------------------------

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


def _section_dict(section: _Section | Calibration | VerdictModel | HintPolicy | None) -> dict[str, Any]:
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
            data[name] = _section_dict(data[name])
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
            "evaluation": _section_dict(m.evaluation),
            "recommended": _section_dict(m.recommended),
            "verdict": _section_dict(m.verdict),
        }
