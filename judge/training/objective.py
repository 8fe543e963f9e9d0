"""What training minimizes: binary cross-entropy on the judge's z, plus (optionally) a
within-task pairwise ranking term.

The pairwise term is W × mean over the step's (passing, failing) pairs of one task of
softplus(z_fail − z_pass). A step's candidates go through the model in micro-batches
(gradient accumulation), so a pair's two candidates may sit in different micro-batches.
:func:`pairwise_surrogate` makes the accumulated gradient the full term's anyway: each
micro-batch computes the term with its own z live and every other candidate's z fixed
at a reference value measured before the step (no gradients, dropout off); a pair with
one candidate in the micro-batch then contributes exactly its gradient for that side,
and a pair with both contributes once, in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def bce(z: np.ndarray, y: np.ndarray, pos_weight: float = 1.0) -> float:
    """Mean binary cross-entropy with logits (torch's formula, pos_weight on positives)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if z.size == 0:
        return float("nan")
    log_sig = -np.logaddexp(0.0, -z)
    log_one_minus = -np.logaddexp(0.0, z)
    return float(np.mean(-(pos_weight * y * log_sig + (1 - y) * log_one_minus)))


def pairwise_loss(z: torch.Tensor, pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """mean over pairs of softplus(z[fail] − z[pass]) (a torch scalar; 0 without pairs)."""
    import torch
    import torch.nn.functional as F

    if not pairs:
        return z.sum() * 0.0
    p = torch.tensor([a for a, _ in pairs], dtype=torch.long, device=z.device)
    f = torch.tensor([b for _, b in pairs], dtype=torch.long, device=z.device)
    return F.softplus(z[f] - z[p]).mean()


def pairwise_surrogate(
    z_live: torch.Tensor, live: Sequence[int], z_ref: torch.Tensor, pairs: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """The pairwise term for one micro-batch: ``z_live`` are the z of the step's candidates
    at positions ``live``, ``z_ref`` every candidate's reference z. Summed over the step's
    micro-batches, its gradient is that of ``pairwise_loss`` over the whole step."""
    import torch
    import torch.nn.functional as F

    inside = set(live)
    touching = [(p, f) for p, f in pairs if p in inside or f in inside]
    if not touching:
        return z_live.sum() * 0.0
    index = torch.tensor(list(live), dtype=torch.long, device=z_ref.device)
    z = z_ref.detach().to(z_live.dtype).index_put((index,), z_live)
    p = torch.tensor([a for a, _ in touching], dtype=torch.long, device=z.device)
    f = torch.tensor([b for _, b in touching], dtype=torch.long, device=z.device)
    return F.softplus(z[f] - z[p]).sum() / len(pairs)
