"""The `blvnet-edu` command line: one entry point, one subcommand per job.

blvnet-edu models
blvnet-edu profile blvnet_tam_50 --frames 16 --classes 174
blvnet-edu make-synthetic --out data/synthetic-raw --clips 2000 --seed 0
blvnet-edu kinetics-subset --csv train.csv --csv validate.csv --videos clips/ --classes 10 \\
    --per-class 50 --out data/k10
blvnet-edu ssv1-lists --root ssv1 --frames ssv1/20bn-something-something-v1 --out data/ssv1
blvnet-edu ssv2-lists --root ssv2/labels --videos ssv2/20bn-something-something-v2 --out data/ssv2
blvnet-edu folder-list --videos my_videos/ --out data/mine
blvnet-edu train --config configs/synthetic_tiny.yaml epochs=5 out=runs/tam
blvnet-edu eval --checkpoint runs/tam/best.pt --data data/synthetic --clips 2 --crops 3 --order-tests
blvnet-edu predict clip.mp4 --checkpoint st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar --labels ssv2 --json
blvnet-edu make-demo
blvnet-edu app
blvnet-edu course
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .budget import Limits, check_frames
from .models.blvnet import MIN_INPUT_SIZE, build_model, list_models, preset_config
from .profiling import format_profile, profile_model


def _cmd_models(args: argparse.Namespace) -> int:
    print("\n".join(list_models()))
    return 0


def _in_range(option: str, value: int | None, low: int, high: int) -> None:
    """Refuse an option's value outside `[low, high]` (`None`: not given)."""
    if value is not None and not low <= value <= high:
        raise ValueError(f"{option} must be between {low} and {high}, got {value}")


def _check_frames_option(frames: int | None, limits: Limits) -> None:
    """`--frames`: at least 1 (0 is not "the default") and at most `limits.max_frames`; the
    model says later whether it takes them in pairs."""
    if frames is not None:
        if frames < 1:
            raise ValueError(f"--frames must be >= 1, got {frames}")
        check_frames(frames, limits, pairs=False)


UNVERIFIED_HELP = (
    "read a blvnet-edu checkpoint that has no digest of the whole file (written by an earlier "
    "version, or edited): only for a file you trust"
)


def _check_cost(name: str, overrides: dict, size: int, limits: Limits) -> None:
    """Refuse a network (parameters) or a forward pass (GFLOPs per clip) over `limits`,
    counted by arithmetic from the config (`checkpoint_checks.check_budget`): nothing built."""
    from .checkpoint_checks import check_budget

    config = preset_config(name, **overrides)
    check_budget(config, config.num_classes, size, config.num_frames, limits, name)


def _cmd_profile(args: argparse.Namespace) -> int:
    limits = Limits()
    _in_range("--size", args.size, MIN_INPUT_SIZE, limits.max_input_size)
    _in_range("--classes", args.classes, 1, limits.max_classes)
    _check_frames_option(args.frames, limits)
    overrides = {"num_classes": args.classes}
    if args.frames is not None:
        overrides["num_frames"] = args.frames
    _check_cost(args.model, overrides, args.size, limits)
    model = build_model(args.model, **overrides)
    print(format_profile(profile_model(model, size=args.size)))
    return 0


def _progress(total: int, desc: str):
    from tqdm import tqdm

    bars = []  # the bar appears with the first update: an input refused up front prints one line only

    def update(done: int, _total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc=desc, dynamic_ncols=True))
        bar = bars[0]
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    return update


def _cmd_make_synthetic(args: argparse.Namespace) -> int:
    from .data.synthetic import CLASSES, make_synthetic

    csv_path = make_synthetic(
        args.out,
        args.clips,
        args.seed,
        args.size,
        args.frames,
        args.fps,
        progress=_progress(args.clips, "rendering clips"),
    )
    print(f"wrote {args.clips} clips and {csv_path}")
    n = len(CLASSES)
    print(
        f"next: blvnet-edu kinetics-subset --csv {csv_path} --videos {Path(args.out) / 'videos'} "
        f"--classes {n} --per-class {max(1, args.clips // n)} --out DIR"
    )
    return 0


def _cmd_make_demo(args: argparse.Namespace) -> int:
    from . import demo

    models = args.models or list(demo.DEMO_MODELS)
    unknown = sorted(set(models) - set(list_models()))
    if unknown:  # before rendering the data (minutes)
        raise ValueError(
            f"unknown model(s) {unknown}; the demo's are {' '.join(demo.DEMO_MODELS)} "
            "(all presets: blvnet-edu models)"
        )
    lists = demo.synthetic_lists(args.data, progress=_progress(demo.CLIPS, "rendering clips"))
    for model in models:
        demo.train_run(model, lists, Path(args.runs), fresh=args.fresh)
        summary = demo.run_summary(Path(args.runs) / model, lists)
        print(
            f"{model}: val top-1 {summary['val_top1']:.1%}, order-only pairs: short-range "
            f"{summary['short_range']:.1%}, long-range {summary['long_range']:.1%}"
        )
    written = demo.export_demo(Path(args.runs), lists, Path(args.app), tuple(models))
    print(f"wrote {len(written)} files to {Path(args.app) / 'demo'} and {Path(args.app) / 'examples'}")
    return 0


def _print_report(report: dict, out: str) -> None:
    print(
        f"{report['classes']} classes; clips: {report['clips']}; "
        f"skipped {len(report['skipped_clips'])} clips, {len(report['bad_annotation_rows'])} bad rows"
    )
    for item in report["skipped_clips"][:10]:
        print(f"  skipped {item['clip']}: {item['reason']}")
    if report.get("classes_short_of_clips"):
        print(f"  classes with fewer clips than asked: {report['classes_short_of_clips']}")
    print(f"lists, classes.txt and report.json in {out}")


def _cmd_kinetics_subset(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .data.kinetics import make_subset
    from .data.lists import read_classes

    report = make_subset(
        args.csv,
        args.videos,
        args.out,
        args.per_class,
        num_classes=args.classes,
        class_list=read_classes(args.class_list) if args.class_list else None,
        val_per_class=args.val_per_class,
        short_side=args.short_side,
        seed=args.seed,
        progress=lambda items: tqdm(items, desc="checking clips (per class)", dynamic_ncols=True),
    )
    _print_report(report, args.out)
    return 0


def _cmd_ssv1_lists(args: argparse.Namespace) -> int:
    from .data.something_something import ssv1_lists

    return _something_something_lists(ssv1_lists, args, frames=args.frames)


def _cmd_ssv2_lists(args: argparse.Namespace) -> int:
    from .data.something_something import ssv2_lists

    return _something_something_lists(ssv2_lists, args, videos=args.videos)


def _something_something_lists(make_lists, args: argparse.Namespace, **where) -> int:
    from tqdm import tqdm

    from .data.lists import read_classes

    report = make_lists(
        args.root,
        args.out,
        num_classes=args.classes,
        class_list=read_classes(args.class_list) if args.class_list else None,
        per_class=args.per_class,
        val_per_class=args.val_per_class,
        seed=args.seed,
        progress=lambda items: tqdm(items, desc="checking videos (per class)", dynamic_ncols=True),
        **where,
    )
    _print_report(report, args.out)
    return 0


def _cmd_folder_list(args: argparse.Namespace) -> int:
    from .data.lists import make_folder_dataset

    if not 0.0 <= args.val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    report = make_folder_dataset(args.videos, args.out, args.val_fraction, args.seed)
    _print_report(report, args.out)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .engine.config import load_config
    from .engine.train import train

    if isinstance(args.resume, str) and not Path(args.resume).is_file():
        raise FileNotFoundError(f"checkpoint to resume from not found: {args.resume}")
    config = load_config(args.config, args.overrides)
    train(config, resume=args.resume or False, allow_unverified=args.allow_unverified)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .engine.evaluate_cli import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.checkpoint,
        args.data,
        args.split,
        args.clips,
        args.crops,
        args.size,
        args.resize,
        args.batch_size,
        args.device,
        args.workers,
        order_tests=args.order_tests,
        labels=args.labels,
        model_name=args.model,
        num_frames=args.frames,
        allow_unverified=args.allow_unverified,
    )
    if args.order_tests:
        metrics, report = result
        print(json.dumps({**metrics.summary(), "order_tests": report}, indent=2))
    else:
        print(json.dumps(result.summary(), indent=2))
    return 0


def demo_checkpoint() -> Path:
    """The bundled demo bLVNet-TAM (package `blvnet_edu_app`, folder app/demo/ of a clone)."""
    from importlib import resources

    return Path(str(resources.files("blvnet_edu_app") / "demo" / "blvnet_tam_tiny.pt"))


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from .clips import load_clip
    from .inference import explain, load_predictor, predict_clip
    from .model_card import demo_notice

    if args.explain and len(args.clips) != 1:
        raise ValueError("--explain writes one overlay video: give one clip")
    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    limits = Limits()  # the app's per-request budgets apply here too
    _check_frames_option(args.frames, limits)
    _in_range("--resize", args.resize, MIN_INPUT_SIZE, limits.max_input_size)
    checkpoint = args.checkpoint or demo_checkpoint()
    predictor = load_predictor(
        checkpoint,
        args.labels,
        args.model,
        resize=args.resize,
        num_frames=args.frames,
        limits=limits,
        allow_unverified=args.allow_unverified,
    )
    notice = None if args.checkpoint else demo_notice(predictor)
    results = []
    for path in args.clips:
        clip = load_clip(path, predictor.num_frames, predictor.size, predictor.resize, limits=limits)
        probs = predict_clip(predictor, clip)
        top = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)[: args.top]
        results.append({"clip": str(path), "top": [{"class": c, "probability": p} for c, p in top]})
        if args.explain:
            from .explain.overlays import overlay_video

            result = explain(predictor, clip, top[0][0], "saliency")
            overlay_video(
                args.explain, clip.frames, result.maps, fps=4, upscale=max(1, 256 // predictor.size)
            )
    if args.json:
        print(
            json.dumps(
                {
                    "model": predictor.name,
                    "frames": predictor.num_frames,
                    "size": predictor.size,
                    "resize": predictor.resize,
                    "notice": notice,
                    "clips": results,
                },
                indent=2,
            )
        )
        return 0
    if notice:
        print(notice, file=sys.stderr)
    for item in results:
        print(item["clip"])
        for rank, entry in enumerate(item["top"], start=1):
            print(f"  {rank}. {entry['probability']:7.2%}  {entry['class']}")
    if args.explain:
        print(f"saliency overlay of the top-1 class written to {args.explain}")
    return 0


APP_EXTRA = "the app needs Gradio: pip install 'blvnet-edu[app]' (in a clone: pip install -e '.[app]')"
COURSE_EXTRA = "the course needs the course extra: pip install -e '.[course]'"
COURSE_MODULES = ("jupyterlab", "jupytext")  # what `course` imports or runs
COURSE_EXPORT_MODULES = (
    "jupytext",
    "nbformat",
    "nbclient",
    "nbconvert",
    "ipykernel",
    "latex2mathml",
)  # --export


def check_host(host: str) -> None:
    """Refuse a `--host` that is neither an IP address nor a name this machine resolves
    (before anything binds to it: a bind on `300.1.1.1` fails as if the port were taken)."""
    import ipaddress
    import socket

    problem = None
    if not host or host.strip() != host:
        problem = "empty or padded with spaces"
    elif all(part.isdigit() for part in host.split(".")):  # numbers only: an IPv4 address or nothing
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            problem = "not an IPv4 address"
    else:
        try:
            socket.getaddrinfo(host, None)
        except (OSError, ValueError):  # socket.gaierror: an unknown name; ValueError: a NUL, bad IDNA
            problem = "not an IP address or a name this machine resolves"
    if problem:
        raise ValueError(f"invalid --host {host!r}: {problem} (e.g. 127.0.0.1, 0.0.0.0, localhost)")


def _missing_modules(names) -> list[str]:
    import importlib.util

    return [name for name in names if importlib.util.find_spec(name) is None]


def _cmd_app(args: argparse.Namespace) -> int:
    check_host(args.host)
    try:
        from blvnet_edu_app import app
    except ModuleNotFoundError as err:
        if err.name not in ("gradio", "blvnet_edu_app"):
            raise
        print(f"blvnet-edu app: {APP_EXTRA}", file=sys.stderr)
        return 2
    app.launch(
        args.checkpoint,
        args.labels,
        args.model,
        host=args.host,
        port=args.port,
        max_upload_mb=args.max_upload_mb,
        limits=Limits.from_args(args),
        max_cache_mb=args.max_cache_mb,
        max_checkpoints=args.max_checkpoints,
        allow_unverified=args.allow_unverified,
    )
    return 0


def course_sources(root: Path | None = None, only: list[str] | None = None) -> list[Path]:
    """The course's percent-format sources `notebooks/NN_name.py`, in order (`only`: these NN)."""
    folder = (root or Path(__file__).resolve().parents[1]) / "notebooks"
    sources = sorted(folder.glob("[0-9][0-9]_*.py"))
    if not sources:
        raise FileNotFoundError(f"the course lives in the repository ({folder}); run it from a clone")
    chosen = [p for p in sources if only is None or p.name[:2] in only]
    if not chosen:
        raise FileNotFoundError(f"no course notebooks in {folder} matching {only}")
    return chosen


def course_notebooks(root: Path | None = None) -> list[Path]:
    """Make the course's .ipynb files from their paired .py sources (jupytext --sync).

    A notebook edited and saved in JupyterLab is newer than its source: sync then keeps
    the edits and writes them back to the .py file, so nothing is lost.
    """
    import jupytext.cli

    sources = course_sources(root)
    jupytext.cli.jupytext(["--sync", "--quiet", *map(str, sources)])
    return [s.with_suffix(".ipynb") for s in sources]


def _cmd_course(args: argparse.Namespace) -> int:
    import os
    import subprocess

    missing = _missing_modules(COURSE_EXPORT_MODULES if args.export else COURSE_MODULES)
    if missing:  # checked first: not a "No module named ..." from JupyterLab's process
        raise ValueError(f"{COURSE_EXTRA} ({', '.join(missing)} not installed)")
    if args.render_only and not args.export:
        raise ValueError("--render-only goes with --export DIR (the folder of an earlier export)")
    if args.export:
        from .course_export import export_course, render_pages

        if args.render_only:  # the pages again from the executed notebooks, nothing run
            executed = sorted(
                p
                for p in Path(args.export).glob("[0-9][0-9]_*.ipynb")
                if not args.only or p.name[:2] in args.only
            )
            if not executed:
                raise FileNotFoundError(f"no executed course notebooks (NN_name.ipynb) in {args.export}")
            written = render_pages(executed, args.export)
        else:
            written = export_course(args.export, course_sources(only=args.only), quick=args.quick)
        print(f"wrote {written[0]} and {len(written) - 1} files beside it")
        return 0
    check_host(args.host)
    notebooks = course_notebooks()
    root = notebooks[0].parents[1]
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ip={args.host}",
        f"--port={args.port}",
        str(notebooks[0].relative_to(root)),
    ]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers often run as root; Jupyter refuses it otherwise
    return subprocess.call(command, cwd=root)


def port(text: str) -> int:
    """An argparse type: a TCP port number."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blvnet-edu", description="bLVNet-TAM: models, data, training and explanations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="list the model presets")
    models.set_defaults(run=_cmd_models)

    profile = commands.add_parser("profile", help="parameters, GFLOPs and per-stage output shapes of a model")
    profile.add_argument("model", help="a preset name (see `blvnet-edu models`)")
    profile.add_argument("--frames", type=int, default=None, help="frames per clip (default: the preset's)")
    profile.add_argument("--size", type=int, default=224, help="frame height and width in pixels")
    profile.add_argument("--classes", type=int, default=174, help="number of classes")
    profile.set_defaults(run=_cmd_profile)

    syn = commands.add_parser(
        "make-synthetic", help="render the synthetic temporal dataset (Kinetics layout)"
    )
    syn.add_argument("--out", required=True, help="output folder (videos/ and annotations.csv)")
    syn.add_argument(
        "--clips", type=int, required=True, help="number of clips (balanced over the 14 classes)"
    )
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--size", type=int, default=80, help="frame size in pixels")
    syn.add_argument("--frames", type=int, default=32, help="frames per clip")
    syn.add_argument("--fps", type=int, default=16)
    syn.set_defaults(run=_cmd_make_synthetic)

    md = commands.add_parser(
        "make-demo",
        help="the app's demo: synthetic data, tiny TSN / bLVNet / bLVNet-TAM, example clips",
        description="Generate the synthetic dataset (once), train the tiny TSN, bLVNet and bLVNet-TAM with "
        "configs/synthetic_tiny.yaml (a finished run is reused, an interrupted one resumed) and "
        "write their checkpoints to APP/demo and one validation clip per class to APP/examples.",
    )
    md.add_argument("--data", default="data", help="where data/synthetic-raw and data/synthetic go")
    md.add_argument("--runs", default="runs/synthetic", help="one run folder per model")
    md.add_argument(
        "--app",
        default=str(Path(__file__).resolve().parents[1] / "app"),
        help="the app folder (demo/ and examples/ inside)",
    )
    md.add_argument(
        "--models", nargs="+", default=None, help="default: tsn_resnet_tiny blvnet_tiny blvnet_tam_tiny"
    )
    md.add_argument("--fresh", action="store_true", help="train again even where a finished run exists")
    md.set_defaults(run=_cmd_make_demo)

    kin = commands.add_parser("kinetics-subset", help="a checked Kinetics subset: lists and label map")
    kin.add_argument("--csv", action="append", required=True, help="annotation CSV (repeat for several)")
    kin.add_argument("--videos", required=True, help="folder of downloaded clips (flat or per class)")
    which = kin.add_mutually_exclusive_group(required=True)
    which.add_argument("--classes", type=int, help="the first N classes in alphabetical order")
    which.add_argument("--class-list", help="file with one class name per line (e.g. Mini-Kinetics-200)")
    kin.add_argument("--per-class", type=int, required=True, help="training clips per class")
    kin.add_argument("--val-per-class", type=int, default=None, help="validation clips per class")
    kin.add_argument("--short-side", type=int, default=None, help="re-encode clips to this short side")
    kin.add_argument("--seed", type=int, default=0)
    kin.add_argument("--out", required=True)
    kin.set_defaults(run=_cmd_kinetics_subset)

    for name, run, media, media_help in (
        ("ssv1-lists", _cmd_ssv1_lists, "--frames", "folder of <video_id>/00001.jpg frame folders"),
        ("ssv2-lists", _cmd_ssv2_lists, "--videos", "folder of <video_id>.webm files"),
    ):
        ss = commands.add_parser(name, help=f"checked Something-Something {name[2:4].upper()} lists")
        ss.add_argument("--root", required=True, help="folder with the official label and split files")
        ss.add_argument(media, default=None, help=f"{media_help} (default: --root)")
        which = ss.add_mutually_exclusive_group()
        which.add_argument("--classes", type=int, help="the first N classes in official order (default: all)")
        which.add_argument("--class-list", help="file with one class name per line (kept in official order)")
        ss.add_argument("--per-class", type=int, default=None, help="training videos per class (default all)")
        ss.add_argument("--val-per-class", type=int, default=None, help="validation videos per class")
        ss.add_argument("--seed", type=int, default=0)
        ss.add_argument("--out", required=True)
        ss.set_defaults(run=run)

    folder = commands.add_parser(
        "folder-list", help="lists for a folder with one sub-folder of videos per class"
    )
    folder.add_argument("--videos", required=True)
    folder.add_argument("--out", required=True)
    folder.add_argument("--val-fraction", type=float, default=0.2)
    folder.add_argument("--seed", type=int, default=0)
    folder.set_defaults(run=_cmd_folder_list)

    tr = commands.add_parser("train", help="train a model (YAML config + key=value overrides)")
    tr.add_argument("--config", default=None, help="YAML file (see configs/)")
    tr.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        help="continue from out/last.pt, or from the checkpoint given",
    )
    tr.add_argument("--allow-unverified", action="store_true", help=UNVERIFIED_HELP)
    tr.add_argument(
        "overrides",
        nargs="*",
        help="key=value, e.g. epochs=5 model_options.num_frames=16; recipe=authors trains as the authors' "
        "code does (flip, Nesterov, decay on every parameter, cosine per epoch, no clipping)",
    )
    tr.set_defaults(run=_cmd_train)

    ev = commands.add_parser("eval", help="evaluate a checkpoint on a clip list")
    ev.add_argument(
        "--checkpoint", required=True, help="a blvnet-edu checkpoint or an authors' released file"
    )
    ev.add_argument("--data", required=True, help="dataset folder (with <split>.csv)")
    ev.add_argument(
        "--labels", default=None, help="an authors' checkpoint: ssv1, ssv2, kinetics400 or a file"
    )
    ev.add_argument(
        "--model", default=None, help="build an authors' checkpoint as this preset instead of reading it"
    )
    ev.add_argument(
        "--frames", type=int, default=None, help="an authors' checkpoint: frames per clip (default 16)"
    )
    ev.add_argument("--split", default="val")
    ev.add_argument("--clips", type=int, default=1, help="clips per video")
    ev.add_argument("--crops", type=int, default=1, choices=(1, 3))
    ev.add_argument(
        "--size", type=int, default=None, help="crop size (default: the checkpoint's; authors': 224)"
    )
    ev.add_argument(
        "--resize",
        type=int,
        default=None,
        help="short side (default: the checkpoint's; authors': 256, 224 = their --disable_scaleup)",
    )
    ev.add_argument("--batch-size", type=int, default=4)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--workers", type=int, default=2)
    ev.add_argument(
        "--order-tests",
        action="store_true",
        help="also evaluate on reversed clips, clips with shuffled frame pairs and clips with "
        "swapped halves (how much the model depends on frame order)",
    )
    ev.add_argument("--allow-unverified", action="store_true", help=UNVERIFIED_HELP)
    ev.set_defaults(run=_cmd_eval)

    pr = commands.add_parser("predict", help="top-k classes of clips (the demo model unless --checkpoint)")
    pr.add_argument("clips", nargs="+", help="video files")
    pr.add_argument(
        "--checkpoint",
        default=None,
        help="a blvnet-edu checkpoint or an authors' released file (its network is read from it)",
    )
    pr.add_argument(
        "--labels", default=None, help="ssv1, ssv2, kinetics400 or a file with one class name per line"
    )
    pr.add_argument(
        "--model", default=None, help="build an authors' checkpoint as this preset instead of reading it"
    )
    pr.add_argument("--frames", type=int, default=None, help="frames per clip (authors' models: 16)")
    pr.add_argument(
        "--resize",
        type=int,
        default=None,
        help="short side before the centre crop (authors' test: 256; 224 = their --disable_scaleup)",
    )
    pr.add_argument("--top", type=int, default=5)
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    pr.add_argument(
        "--explain", default=None, metavar="OUT.mp4", help="write a saliency overlay video of the top-1"
    )
    pr.add_argument("--allow-unverified", action="store_true", help=UNVERIFIED_HELP)
    pr.set_defaults(run=_cmd_predict)

    app = commands.add_parser("app", help="the explainer app (Gradio), on the demo models by default")
    app.add_argument(
        "--checkpoint", default=None, help="a blvnet-edu checkpoint, or the authors' (with --model, --labels)"
    )
    app.add_argument(
        "--labels", default=None, help="ssv1, ssv2, kinetics400 or a file with one class name per line"
    )
    app.add_argument(
        "--model", default=None, help="build an authors' checkpoint as this preset instead of reading it"
    )
    app.add_argument("--host", default="127.0.0.1")
    app.add_argument("--port", type=port, default=7860)
    app.add_argument("--max-upload-mb", type=int, default=200, help="largest clip or checkpoint upload (MB)")
    app.add_argument(
        "--max-cache-mb",
        type=float,
        default=2000,
        help="uploads and outputs kept on disk, in MB (oldest deleted first)",
    )
    app.add_argument(
        "--max-checkpoints",
        type=int,
        default=4,
        help="visitors' own checkpoints held in memory at once (least recently used unloaded)",
    )
    app.add_argument("--allow-unverified", action="store_true", help=UNVERIFIED_HELP + " (--checkpoint only)")
    limits = app.add_argument_group("per-request limits (checked before the work starts; README)")
    Limits.add_arguments(limits)
    app.set_defaults(run=_cmd_app)

    course = commands.add_parser("course", help="the notebook course in JupyterLab (notebooks/)")
    course.add_argument("--host", default="127.0.0.1")
    course.add_argument("--port", type=port, default=8888)
    course.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    course.add_argument(
        "--export",
        metavar="DIR",
        default=None,
        help="instead of JupyterLab: run every notebook and write it as .ipynb and .html to DIR",
    )
    course.add_argument("--quick", action="store_true", help="with --export: quick mode (as the tests)")
    course.add_argument("--only", nargs="+", metavar="NN", help="with --export: these notebooks (01 ... 09)")
    course.add_argument(
        "--render-only",
        action="store_true",
        help="with --export: only make DIR's pages and index again from its executed .ipynb (nothing runs)",
    )
    course.set_defaults(run=_cmd_course)
    return parser


def one_line(err: BaseException) -> str:
    """An error's message on one line. An error raised in a DataLoader worker arrives with
    the worker's traceback in its message ("Caught X in DataLoader worker process 0. Original
    Traceback ..."): its last line holds the original message."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Caught ") and "Original Traceback" in lines[1]:
        kind = type(err)
        for prefix in (f"{kind.__module__}.{kind.__qualname__}: ", f"{kind.__qualname__}: "):
            if lines[-1].startswith(prefix):
                return lines[-1][len(prefix) :]
        return lines[-1]
    return " ".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a user error (`ValueError`, which `BudgetError` is, or `OSError`: a
    missing file, a full disk, a port in use) ends with one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"blvnet-edu {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # a full or read-only disk, a port in use, a folder where a file should be
        where = f": {err.filename}" if err.filename else ""
        print(f"blvnet-edu {args.command}: error: {err.strerror or one_line(err)}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
