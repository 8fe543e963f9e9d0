"""The training stack around the model: is it installed, which versions, seeds and RNG states."""

from __future__ import annotations

import platform
import random
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from winnow.judge.base.errors import WinnowError

if TYPE_CHECKING:
    import torch


class _RngStateRequired(TypedDict):
    python: tuple[Any, ...]  # random.getstate()'s own (untyped) tuple
    numpy: dict[str, Any] | tuple[Any, ...]  # np.random.get_state()'s, as numpy types it
    torch: torch.Tensor


class RngState(_RngStateRequired, total=False):
    """Every RNG a run draws from (saved in ``optimizer.pt``); ``cuda`` only where there is one."""

    cuda: list[torch.Tensor]


def require_training_stack() -> None:
    """Fail with the install command when the ``[train]`` extras are missing."""
    missing = []
    for module in ("torch", "transformers", "peft", "accelerate", "sklearn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise WinnowError(
            f"training needs {', '.join(missing)}: install the CPU torch wheel first "
            "(`pip install torch==2.13.0`), then `pip install 'winnow-lsp[train]'`"
        )


def versions() -> dict[str, str]:
    """Versions of everything a run depends on (recorded in its config)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("winnow-lsp", "torch", "transformers", "peft", "accelerate", "gguf", "llama-cpp-python"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def set_seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's RNGs (the split, the data order and LoRA's init)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> RngState:
    """Every RNG a run draws from, so that a resumed run is the run that would have been."""
    import torch

    state: RngState = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: RngState) -> None:
    """Put back what ``rng_state`` saved."""
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
