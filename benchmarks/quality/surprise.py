"""``winnow bench surprise``: does the generator's surprise at a body tell bugs, or only edits?

A language model finds the text it was trained on likely, and any edit of that text less
likely — a bug and a behaviour-keeping rewrite alike. So a log-prob signal measured on
published code (the standard library, installed packages, HumanEval) may detect *edits of
familiar text*, which says nothing about a user's own code, where a bug has no original
to deviate from. Two measures keep that apart:

- ``--modules M…``: the hints' setting. Each documented function of each module, as
  released and with one single-point bug (the dataset's mutators), teacher-forced through
  the generator in the prompt the server samples bodies from (the module around it).
  ``--group NAME`` names the group, so that modules the model has read (the standard library) and modules
  it cannot have (code written after its training, e.g. this repository's own) are
  reported side by side. Prints per feature: the share of functions whose bug reads as
  more surprising than the original, and the bugs flagged at the largest surprise of any
  original (no false alarm among them) — a threshold fitted on the group itself, so
  optimistic.
- ``--set NAME=LABELS:SCORES…``: labelled candidates and their score records. Per
  signal, within-task pairwise accuracy over all pairs, over (original, bug) pairs only
  and over (rewrite, bug) pairs only: a signal that tells bugs ranks rewrites above bugs
  too. The signals: the records' ``p_correct`` (any ``winnow judge score`` file: a learned
  judge split the same way) and, where the records carry ``surprise`` (``--strategy
  logprob``), each surprise feature. ``--fit NAME`` fits a pairwise ranker (logistic
  regression on standardised feature differences) on that set's surprise features and
  reports it on every set, with and without the body's length.

``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from winnow.judge.base.errors import WinnowError
from winnow.judge.base.jsonl import read_jsonl
from winnow.judge.evaluation.metrics import within_task_pairwise
from winnow.judge.scoring.surprise import SURPRISE_FEATURES
from winnow.judge.sites import FunctionSite, source_lines

#: +1: a higher value reads as more likely correct; -1: as more likely a bug.
DIRECTION = {"mean_logprob": 1, "min_logprob": 1, "log_tokens": 1, "p_correct": 1}
PAIR_KINDS = {"all": None, "original-bug": "canonical", "rewrite-bug": "rewrite"}


def direction(feature: str) -> int:
    return DIRECTION.get(feature, -1)


# --- the hints' setting: functions in their modules ---------------------------------------


@dataclass(frozen=True)
class FunctionSurprise:
    group: str
    module: str
    qualname: str
    released: dict[str, float]
    bugged: dict[str, float]
    bug_class: str


def _body(source: str, site: FunctionSite) -> str:
    return "".join(source_lines(source)[site.header_end_line : site.end_line])


def measure_modules(
    engine: Any, modules: Sequence[str], group: str, per_module: int, seed: int = 0
) -> tuple[list[FunctionSurprise], dict[str, str]]:
    """Each module's first ``per_module`` documented functions, as released and with one bug
    (one forward pass each, sharing the prompt); modules that cannot be read are skipped."""
    from winnow.judge.dataset.module_bugs import mutate_function
    from winnow.judge.evaluation.hint_calibration import locate
    from winnow.judge.hints.policy import judged_functions
    from winnow.judge.llm.generation import body_token_scores
    from winnow.judge.scoring.surprise import surprise_features

    out: list[FunctionSurprise] = []
    skipped: dict[str, str] = {}
    for module in modules:
        try:
            source = locate(module).read_text(encoding="utf-8")
        except (WinnowError, OSError) as exc:
            skipped[module] = str(exc)
            continue
        for site in judged_functions(source)[:per_module]:
            bug = mutate_function(source, site, random.Random(f"{seed}:{module}:{site.qualname}"))
            if bug is None:
                continue
            changed = next((s for s in judged_functions(bug.source) if s.qualname == site.qualname), None)
            released = _body(source, site)
            if changed is None or changed.header != site.header or not released.strip():
                continue  # the bug touched the signature or docstring: not the same prompt
            (p0, s0), (p1, s1) = body_token_scores(engine, source, site, [released, _body(bug.source, changed)])
            out.append(FunctionSurprise(group, module, site.qualname, surprise_features(s0, p0),
                                        surprise_features(s1, p1), bug.bug_class))  # fmt: skip
    return out, skipped


def module_figures(rows: Sequence[FunctionSurprise]) -> dict[str, dict[str, Any]]:
    """Per feature: the share of functions whose bug reads worse than the original (ties
    half), and the bugs beyond every original's value (flagged with no false alarm)."""
    figures: dict[str, dict[str, Any]] = {}
    for f in SURPRISE_FEATURES:
        d = direction(f)
        worse = [1.0 if d * r.bugged[f] < d * r.released[f] else 0.5 if r.bugged[f] == r.released[f] else 0.0
                 for r in rows]  # fmt: skip
        worst_original = min((d * r.released[f] for r in rows), default=0.0)
        flagged = sum(d * r.bugged[f] < worst_original for r in rows)
        figures[f] = {"bug_reads_worse": round(sum(worse) / len(worse), 3) if worse else None,
                      "flagged_without_false_alarm": flagged, "functions": len(rows)}  # fmt: skip
    return figures


# --- labelled candidate sets ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    problem_id: str
    origin: str
    passed: int
    features: dict[str, float]


def load_set(labels: str, scores: str) -> list[Candidate]:
    """Labelled candidates joined with their score records: ``p_correct`` and, where the
    record has them, the ``surprise`` features (unscored or unlabelled ones dropped)."""
    status = {(str(r["problem_id"]), str(r["candidate_id"])): r for r in read_jsonl(labels)}
    out = []
    for s in read_jsonl(scores):
        label = status.get((str(s["problem_id"]), str(s["candidate_id"])))
        if label is None or label.get("status") not in ("passed", "failed", "timeout", "error"):
            continue
        features = {k: float(v) for k, v in (s.get("surprise") or {}).items()} | {"p_correct": float(s["p_correct"])}
        out.append(Candidate(str(s["problem_id"]), str(label.get("origin", "")), int(label["status"] == "passed"),
                             features))  # fmt: skip
    if not out:
        raise WinnowError(f"no labelled candidate of {labels} is scored in {scores}")
    return out


def pairwise(cands: Sequence[Candidate], scores: Sequence[float], kind: str | None = None) -> float | None:
    """Within-task pairwise accuracy; with ``kind``, of that origin's passing candidates
    against the failing ones only."""
    keep = [i for i, c in enumerate(cands) if not c.passed or kind is None or c.origin == kind]
    return within_task_pairwise([cands[i].problem_id for i in keep], [cands[i].passed for i in keep],
                                [scores[i] for i in keep])  # fmt: skip


def fit_ranker(cands: Sequence[Candidate], features: Sequence[str]) -> Any:
    """The verdict's pairwise ranker (``verdict.fit_pairwise``) on standardised features;
    returns score(candidates) -> list[float]."""
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    from winnow.judge.scoring.verdict import fit_pairwise

    scaler = StandardScaler().fit([[c.features[f] for f in features] for c in cands])

    def vectors(items: Sequence[Candidate]) -> Any:
        return scaler.transform([[c.features[f] for f in features] for c in items])

    coef = np.asarray(fit_pairwise(vectors(cands), [c.passed for c in cands], [c.problem_id for c in cands]))

    def score(items: Sequence[Candidate]) -> list[float]:
        return list(vectors(items) @ coef)

    return score


def set_figures(sets: dict[str, list[Candidate]], fit: str | None) -> dict[str, Any]:
    """Per signal and set: pairwise over all pairs, (original, bug) and (rewrite, bug) pairs;
    None where the set's records lack what the signal reads."""
    signals: dict[str, tuple[Any, tuple[str, ...]]] = {
        f: ((lambda items, f=f: [direction(f) * c.features[f] for c in items]), (f,))
        for f in ("p_correct", *SURPRISE_FEATURES)
    }
    if fit:
        train = _having(sets[fit], SURPRISE_FEATURES)
        if not train:
            raise WinnowError(f"--fit {fit}: its scores carry no `surprise` (score with --strategy logprob)")
        no_length = tuple(f for f in SURPRISE_FEATURES if f != "log_tokens")
        signals[f"ranker fitted on {fit}"] = (fit_ranker(train, SURPRISE_FEATURES), SURPRISE_FEATURES)
        signals[f"ranker fitted on {fit}, without length"] = (fit_ranker(train, no_length), no_length)
    rows: dict[str, dict[str, Any]] = {}
    for name, (score, reads) in signals.items():
        rows[name] = {}
        for set_name, all_cands in sets.items():
            cands = _having(all_cands, reads)
            if not cands:
                rows[name][set_name] = dict.fromkeys(PAIR_KINDS)
                continue
            values = score(cands)
            rows[name][set_name] = {k: _round(pairwise(cands, values, kind)) for k, kind in PAIR_KINDS.items()}
    return rows


def _having(cands: Sequence[Candidate], features: Sequence[str]) -> list[Candidate]:
    """The candidates whose records carry every one of ``features`` (a log-prob score file
    has no surprise for a candidate without a body to score)."""
    return [c for c in cands if all(f in c.features for f in features)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- the verb -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modules", nargs="*", default=[], help="modules to measure in the hints' setting")
    parser.add_argument("--group", default="modules", help="name of the --modules group in the report")
    parser.add_argument("--per-module", type=int, default=12, help="documented functions per module (default: 12)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=LABELS:SCORES",
                        help="a labelled candidate set and its `--strategy logprob` scores (repeatable)")  # fmt: skip
    parser.add_argument("--fit", help="fit a pairwise ranker on this --set and report it on all")
    parser.add_argument("--model", default="default", help="the generator (default: the embedded one)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: physical cores)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _parse_sets(specs: Sequence[str]) -> dict[str, list[Candidate]]:
    sets = {}
    for spec in specs:
        name, sep, paths = spec.partition("=")
        labels, sep2, scores = paths.partition(":")
        if not (sep and sep2 and name and labels and scores):
            raise WinnowError(f"--set {spec!r}: expected NAME=LABELS:SCORES")
        sets[name] = load_set(labels, scores)
    return sets


def run(args: argparse.Namespace) -> int:
    if not args.modules and not args.set:
        raise WinnowError("give --modules M… (the hints' setting) or --set NAME=LABELS:SCORES (scored candidates)")
    sets = _parse_sets(args.set)
    if args.fit and args.fit not in sets:
        raise WinnowError(f"--fit {args.fit!r} is not a --set name ({', '.join(sets) or 'none given'})")
    report: dict[str, Any] = {}
    if args.modules:
        from winnow.judge.llm.engine import Engine
        from winnow.judge.llm.model import Model
        from winnow.judge.llm.model_files import resolve

        engine = Engine(Model(resolve(args.model).path), n_threads=args.threads or None)
        rows, skipped = measure_modules(engine, args.modules, args.group, args.per_module)
        report["modules"] = {"group": args.group, "figures": module_figures(rows), "skipped": skipped}
    if sets:
        report["sets"] = {name: len(c) for name, c in sets.items()}
        report["pairwise"] = set_figures(sets, args.fit)
    if args.json:
        print(json.dumps(report))
        return 0
    _print(report)
    return 0


def _print(report: dict[str, Any]) -> None:
    if "modules" in report:
        m = report["modules"]
        n = next(iter(m["figures"].values()))["functions"]
        print(f"{m['group']}: {n} functions, each as released and with one bug")
        print(f"{'feature':20} {'bug reads worse':>16} {'flagged, no false alarm':>24}")
        for f, row in m["figures"].items():
            print(f"{f:20} {row['bug_reads_worse'] if row['bug_reads_worse'] is not None else '-':>16} "
                  f"{row['flagged_without_false_alarm']:>18}/{row['functions']}")  # fmt: skip
        for module, why in m["skipped"].items():
            print(f"skipped {module}: {why}", file=sys.stderr)
    if "pairwise" in report:
        names = list(report["sets"])
        print("within-task pairwise (all pairs / original vs bug / rewrite vs bug); candidates: "
              + ", ".join(f"{k} {v}" for k, v in report["sets"].items()))  # fmt: skip
        print(f"{'signal':44}" + "".join(f"{n:>22}" for n in names))
        for signal, cells in report["pairwise"].items():
            text = ["/".join("-" if cells[n][k] is None else f"{cells[n][k]:.2f}" for k in PAIR_KINDS) for n in names]
            print(f"{signal:44}" + "".join(f"{t:>22}" for t in text))
