"""The flags that several ``winnow`` verbs share, defined once: the same name, type, default
and wording everywhere. Each ``add_*`` takes the parser and, where the verbs differ, what
the flag means to this one (``help``) or whether it is required."""

from __future__ import annotations

import argparse

from winnow.judge.dataset.problems import NAMED_SETS

MODEL_SPEC = "default | PATH.gguf | hf:OWNER/REPO/FILE.gguf"


def add_problems(p: argparse.ArgumentParser, required: bool = True, help: str | None = None) -> None:
    p.add_argument(
        "--problems", required=required,
        help=help or f"problems JSONL file or a named set ({', '.join(NAMED_SETS)})",
    )


def add_out(p: argparse.ArgumentParser, help: str, required: bool = True) -> None:
    p.add_argument("--out", required=required, help=help)


def add_labels(p: argparse.ArgumentParser, help: str = "labels JSONL (from `winnow label`)") -> None:
    p.add_argument("--labels", required=True, help=help)


def add_candidates(p: argparse.ArgumentParser, required: bool = True,
                   help: str = "candidates JSONL: problem_id, candidate_id, code") -> None:
    p.add_argument("--candidates", required=required, help=help)


def add_model(p: argparse.ArgumentParser, help: str = f"generator: {MODEL_SPEC}") -> None:
    p.add_argument("--model", default="default", help=help)


def add_judge(p: argparse.ArgumentParser, help: str = "default | PATH/judge.json") -> None:
    p.add_argument("--judge", default="default", help=help)


def add_threads(p: argparse.ArgumentParser, help: str = "llama.cpp threads (default: physical cores)") -> None:
    p.add_argument("--threads", type=int, default=0, help=help)


def add_workers(p: argparse.ArgumentParser, help: str = "sandboxes run at once (default: number of cores)") -> None:
    p.add_argument("--workers", type=int, default=None, help=help)


def add_timeout(p: argparse.ArgumentParser, default: float, help: str) -> None:
    p.add_argument("--timeout", type=float, default=default, help=help)


def add_seed(p: argparse.ArgumentParser, help: str = "random seed (default: 0)") -> None:
    p.add_argument("--seed", type=int, default=0, help=help)


def add_download(p: argparse.ArgumentParser) -> None:
    p.add_argument("--download", action="store_true", help="allow downloading hf: models")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_json(p: argparse.ArgumentParser, help: str = "print JSON") -> None:
    p.add_argument("--json", action="store_true", help=help)


def add_allow_weak_sandbox(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-weak-sandbox", action="store_true",
        help="where no sandbox keeps your files read-only and the network unreachable (no bubblewrap), run the "
        "generated code under a weaker one (unshare: no network, files writable; or none) instead of refusing",
    )


def apply_allow_weak_sandbox(args: argparse.Namespace) -> None:
    """Honour ``--allow-weak-sandbox`` for this process's runs (docs/sandbox.md)."""
    if getattr(args, "allow_weak_sandbox", False):
        from winnow.judge.sandbox.choice import allow_weak_isolation

        allow_weak_isolation()
