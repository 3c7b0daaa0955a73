"""The `blvnet-edu` command line: one entry point, one subcommand per job.

    blvnet-edu profile blvnet_tam_50 --frames 16 --classes 174
    blvnet-edu models
"""

from __future__ import annotations

import argparse
import sys

from .models.blvnet import build_model, list_models
from .profiling import format_profile, profile_model


def _cmd_models(args: argparse.Namespace) -> int:
    print("\n".join(list_models()))
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    overrides = {"num_classes": args.classes}
    if args.frames is not None:
        overrides["num_frames"] = args.frames
    model = build_model(args.model, **overrides)
    print(format_profile(profile_model(model, size=args.size)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blvnet-edu", description="bLVNet-TAM: models, data, training and explanations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="list the model presets")
    models.set_defaults(run=_cmd_models)

    profile = commands.add_parser(
        "profile", help="parameters, GFLOPs and per-stage output shapes of a model"
    )
    profile.add_argument("model", help="a preset name (see `blvnet-edu models`)")
    profile.add_argument("--frames", type=int, default=None, help="frames per clip (default: the preset's)")
    profile.add_argument("--size", type=int, default=224, help="frame height and width in pixels")
    profile.add_argument("--classes", type=int, default=174, help="number of classes")
    profile.set_defaults(run=_cmd_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"blvnet-edu {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
