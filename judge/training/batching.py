"""Which examples go into which optimizer step: an epoch's plan of steps of micro-batches.

A plan is a list of steps, each a list of micro-batches (lists of example indices), for
one process. ``example`` batching cuts a seeded permutation into micro-batches of
``batch_size`` and groups ``grad_accum`` of them per step (as every run before task
batching did). ``task`` batching gives each task (problem) one step over its candidates,
at most ``task_max`` of them — when a task has more, passing and failing ones alternate
so that both labels stay in the step — cut into micro-batches of ``batch_size``. With
several processes, steps (or micro-batches) are dealt round-robin, padded by wrap-around
so that every process gets as many.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Plan = list[list[list[int]]]


def _rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng(seed * 1_000_003 + epoch)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int) -> list[list[int]]:
    """This process's micro-batches of one epoch: a seeded permutation, cut into batches,
    dealt round-robin to the processes (padded by wrap-around so every process gets as many)."""
    order = _rng(seed, epoch).permutation(n).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if world > 1 and len(batches) % world:
        batches += batches[: world - len(batches) % world]
    return batches[rank::world]


def example_plan(n: int, batch_size: int, grad_accum: int, seed: int, epoch: int, rank: int, world: int) -> Plan:
    batches = epoch_batches(n, batch_size, seed, epoch, rank, world)
    return [batches[i : i + grad_accum] for i in range(0, len(batches), grad_accum)]


def capped_task(indices: Sequence[int], labels: Sequence[int], cap: int, rng: np.random.Generator) -> list[int]:
    """A task's candidates in a seeded order, at most ``cap``; when it has more, passing and
    failing candidates alternate, so both labels stay in (and the cut is balanced)."""
    shuffled = [indices[i] for i in rng.permutation(len(indices)).tolist()]
    if len(shuffled) <= cap:
        return shuffled
    passing = [i for i in shuffled if labels[i]]
    failing = [i for i in shuffled if not labels[i]]
    mixed: list[int] = []
    for k in range(max(len(passing), len(failing))):
        mixed += passing[k : k + 1] + failing[k : k + 1]
    return mixed[:cap]


def task_plan(
    problem_ids: Sequence[str], labels: Sequence[int], task_max: int, batch_size: int,
    seed: int, epoch: int, rank: int, world: int,
) -> Plan:
    """One step per task, in a seeded order of the tasks (see the module docstring)."""
    by_task: dict[str, list[int]] = {}
    for i, pid in enumerate(problem_ids):
        by_task.setdefault(pid, []).append(i)
    rng = _rng(seed, epoch)
    tasks = sorted(by_task)
    steps = []
    for t in rng.permutation(len(tasks)).tolist():
        chosen = capped_task(by_task[tasks[t]], labels, task_max, rng)
        steps.append([chosen[i : i + batch_size] for i in range(0, len(chosen), batch_size)])
    if world > 1 and len(steps) % world:
        steps += steps[: world - len(steps) % world]
    return steps[rank::world]


def step_at(plan: Plan, position: int) -> int:
    """The index of the step that starts after ``position`` micro-batches of the epoch
    (a checkpoint's ``position``); ``len(plan)`` when the epoch is done."""
    seen = 0
    for k, step in enumerate(plan):
        if seen >= position:
            return k
        seen += len(step)
    return len(plan)


def micro_batches(plan: Plan) -> int:
    return sum(len(step) for step in plan)
