"""Deciding when hints speak, on real code: a corpus of modules as released (correct, as
far as anyone knows) and the same modules with one single-point bug in one function.

For every judged function of every module, the evidence of the module as it is gives the
false alarms of each evidence class; the evidence of the module with a bug in that function
(one function changed at a time, so a hint on it is about its own bug) gives the detection.
``choose_policy`` then admits evidence classes, best detectors first, while the share of
correct functions flagged by any admitted class stays within the limit (1%). Crashes are
admitted per exception class (``crash:ZeroDivisionError``, ``crash-callee:...``), since a ValueError on an odd
input is often by design and a NameError never is.
"""

from __future__ import annotations

import importlib.util
import random
import sysconfig
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.dataset.module_bugs import mutate_function
from winnow.judge.evidence.module_evidence import FunctionEvidence, Target, collect, python_version
from winnow.judge.hints.policy import (
    MAX_FALSE_ALARM_RATE,
    PER_EXCEPTION,
    ClassFigures,
    HintPolicy,
    crash_class,
    example_class,
    judged_functions,
)
from winnow.judge.sites import FunctionSite, judge_task
from winnow.judge.sites.call_sites import own_calls


@dataclass(frozen=True)
class FunctionOutcome:
    """The evidence classes one function showed, as released (``changed`` False) or with
    one injected bug (``changed`` True)."""

    module: str
    qualname: str
    changed: bool
    classes: tuple[str, ...]
    has_examples: bool
    bug_class: str = ""
    seconds: float = 0.0
    p_correct: float | None = None  # the learned judge's, when calibrating with one


@dataclass
class CorpusRun:
    outcomes: list[FunctionOutcome] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # module → why it was not measured


def locate(module: str) -> Path:
    """The source file of an importable module (in this interpreter's environment)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise WinnowError(f"cannot find module {module}: {exc}") from None
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        return Path(spec.origin)
    # Frozen at start-up (posixpath, os...): the source still lies in the standard library.
    stdlib = Path(sysconfig.get_paths()["stdlib"]) / (module.replace(".", "/") + ".py")
    if spec is not None and stdlib.is_file():
        return stdlib
    raise WinnowError(f"module {module} has no Python source here")


def fine_classes(evidence: FunctionEvidence | None) -> tuple[str, ...]:
    """Every evidence class the run shows, crashes split by exception class."""
    if evidence is None:
        return ()
    found = [example_class(e) for e in evidence.examples if e.failed]
    for probe in evidence.probes:
        kind = crash_class(probe)
        if kind in PER_EXCEPTION:
            found.append(f"{kind}:{probe.exception}")
        elif kind is not None:
            found.append(kind)
    return tuple(dict.fromkeys(found))


def _targets(sites: Sequence[FunctionSite]) -> list[Target]:
    return [Target(s.qualname, s.start_line + 1) for s in sites]


JudgeScore = Callable[[str, FunctionSite], float]


def judge_scorer(judge: Any) -> JudgeScore:
    """(module source, function site) → the judge's P(correct) of that function, with the
    task the server gives it (``winnow.judge.sites.judge_task``)."""

    def score(source: str, site: FunctionSite) -> float:
        task = judge_task(source, site)
        return float(judge.score(task, [textwrap.dedent(site.code)])[0])

    return score


def measure_module(
    module: str, seed: int = 0, max_functions: int = 40, probes: int = 24, bugs: bool = True,
    judge: JudgeScore | None = None,
) -> list[FunctionOutcome]:
    """The module as released, then each judged function with one bug (if ``bugs``); with
    ``judge``, every version of every function is also scored by it."""
    path = locate(module)
    source = path.read_text(encoding="utf-8")
    sites = judged_functions(source)[:max_functions]
    names = [s.qualname for s in sites]
    # The module's calls of its own functions, as the server passes them (no workspace here).
    base = collect(source, str(path), _targets(sites), probes=probes, seed=seed, calls=own_calls(source, names))
    if base.status != "loaded":
        raise WinnowError(f"{module} did not load in the sandbox: {base.error}")
    out = []
    for s in sites:
        ev = base.functions.get(s.qualname)
        has_examples = bool(ev and ev.examples_run)
        p = judge(source, s) if judge is not None else None
        out.append(FunctionOutcome(module, s.qualname, False, fine_classes(ev), has_examples, "", base.seconds, p))
        if not bugs:
            continue
        bug = mutate_function(source, s, random.Random(f"{seed}:{module}:{s.qualname}"))
        if bug is None:
            continue
        run = collect(bug.source, str(path), _targets([s]), probes=probes, seed=seed, calls=own_calls(bug.source, names))
        classes = fine_classes(run.functions.get(s.qualname)) if run.status == "loaded" else ("module-broke",)
        changed = next((c for c in judged_functions(bug.source) if c.qualname == s.qualname), None)
        p = judge(bug.source, changed) if judge is not None and changed is not None else None
        out.append(FunctionOutcome(module, s.qualname, True, classes, has_examples, bug.bug_class, run.seconds, p))
    return out


def measure_corpus(
    modules: Iterable[str], progress: Callable[[str], None] | None = None, **kwargs: object
) -> CorpusRun:
    run = CorpusRun()
    for module in modules:
        if progress is not None:
            progress(module)
        try:
            run.outcomes.extend(measure_module(module, **kwargs))  # type: ignore[arg-type]
        except WinnowError as exc:
            run.skipped[module] = str(exc)
    return run


def class_figures(outcomes: Sequence[FunctionOutcome], classes: Iterable[str]) -> dict[str, ClassFigures]:
    correct = [o for o in outcomes if not o.changed]
    changed = [o for o in outcomes if o.changed]
    return {
        c: ClassFigures(
            flagged_correct=sum(c in o.classes for o in correct),
            functions=len(correct),
            detected=sum(c in o.classes for o in changed),
            changed=len(changed),
        )
        for c in classes
    }


def choose_policy(
    outcomes: Sequence[FunctionOutcome], corpus: Sequence[str], max_rate: float = MAX_FALSE_ALARM_RATE
) -> HintPolicy:
    """Admit evidence classes, best detectors first, while the correct functions flagged by
    any admitted class stay within ``max_rate``; a class that detects nothing, or fewer than
    MIN_PRECISION_RATIO changed functions per correct one it flags, stays out."""
    correct = [o for o in outcomes if not o.changed]
    seen = sorted({c for o in outcomes for c in o.classes if c != "module-broke"})
    figures = class_figures(outcomes, seen)
    order = sorted(seen, key=lambda c: (-(figures[c].detected - 10 * figures[c].flagged_correct), c))
    admitted: list[str] = []
    for c in order:
        if figures[c].detected == 0 or figures[c].detected < MIN_PRECISION_RATIO * figures[c].flagged_correct:
            continue  # catches nothing, or flags correct code about as often as broken code
        trial = {*admitted, c}
        flagged = sum(any(k in trial for k in o.classes) for o in correct)
        if correct and flagged / len(correct) <= max_rate:
            admitted.append(c)
    typed = {k: frozenset(c.split(":", 1)[1] for c in admitted if c.startswith(f"{k}:")) for k in PER_EXCEPTION}
    speaks = frozenset(c for c in admitted if c.split(":", 1)[0] not in PER_EXCEPTION) | {k for k in PER_EXCEPTION if typed[k]}
    already = sum(any(k in admitted for k in o.classes) for o in correct)  # the judge gets what is left
    threshold, judge_figures = judge_threshold(outcomes, max_rate, already)
    if judge_figures is not None:
        figures["judge"] = judge_figures
    return HintPolicy(
        speaks=speaks,
        crash_types=typed["crash"],
        callee_crash_types=typed["crash-callee"],
        judge_threshold=threshold,
        corpus=tuple(corpus),
        python=python_version(),
        max_false_alarm_rate=max_rate,
        figures=figures,
    )


#: A class must catch at least this many changed functions per correct one it flags.
MIN_PRECISION_RATIO = 3

#: The least detection the learned judge must show at the allowed false-alarm rate to speak.
MIN_JUDGE_DETECTION = 0.05


def judge_threshold(
    outcomes: Sequence[FunctionOutcome], max_rate: float = MAX_FALSE_ALARM_RATE, already_flagged: int = 0
) -> tuple[float | None, ClassFigures | None]:
    """The P(correct) below which the judge may speak (flagging at most ``max_rate`` of the
    correct functions, less the ``already_flagged`` by other evidence) and what it catches
    there; the threshold is None when it catches less than MIN_JUDGE_DETECTION of the
    changed functions (or was not measured)."""
    correct = sorted(o.p_correct for o in outcomes if not o.changed and o.p_correct is not None)
    changed = [o.p_correct for o in outcomes if o.changed and o.p_correct is not None]
    if not correct or not changed:
        return None, None
    allowed = max(0, int(max_rate * len(correct)) - already_flagged)  # correct ones that may fall below it
    threshold = correct[allowed]  # strictly below: at most ``allowed`` correct ones
    figures = ClassFigures(
        flagged_correct=sum(p < threshold for p in correct), functions=len(correct),
        detected=sum(p < threshold for p in changed), changed=len(changed),
    )  # fmt: skip
    rate = figures.detection_rate or 0.0
    return (threshold if rate >= MIN_JUDGE_DETECTION else None), figures


def rates(outcomes: Sequence[FunctionOutcome], policy: HintPolicy) -> dict[str, float | int | None]:
    """What ``policy`` does on these outcomes: false alarms, detection overall and where
    the function's docstring has examples."""

    def flagged(o: FunctionOutcome) -> bool:
        if policy.judge_threshold is not None and o.p_correct is not None and o.p_correct < policy.judge_threshold:
            return True
        return any(policy.admits_class(c) for c in o.classes)

    correct = [o for o in outcomes if not o.changed]
    changed = [o for o in outcomes if o.changed]
    with_examples = [o for o in changed if o.has_examples]

    def share(items: list[FunctionOutcome]) -> float | None:
        return round(sum(map(flagged, items)) / len(items), 4) if items else None

    return {
        "functions": len(correct),
        "false_alarms": sum(map(flagged, correct)),
        "false_alarm_rate": share(correct),
        "changed": len(changed),
        "detected": sum(map(flagged, changed)),
        "detection_rate": share(changed),
        "changed_with_examples": len(with_examples),
        "detection_rate_with_examples": share(with_examples),
    }
