"""The whole course in full mode, once: the published copy and the figures the README quotes.

Runs the nine notebooks top to bottom in full mode (the default) with a fresh results folder,
as a student's first run, through `blvnet-edu course --export`'s code, and writes:

- `docs/course/`: the executed notebooks as HTML (the copy the README links; the `.ipynb` beside
  them stay out of git);
- `docs/benchmarks/course_figures.json`: every figure the notebooks `record` (`notebooks/course.py`),
  and each notebook's run time;
- `docs/benchmarks/course_figures.md`: the same as a table;
- the README's course figures (the block between the `course figures` markers) and the run
  times in its table of notebooks, rendered from that file by `readme_with_figures`.

Then it runs the course once more in quick mode (`BLVNET_EDU_QUICK=1`, what the tests run), into
a temporary folder, and keeps each notebook's quick-mode time (`"quick.NN.seconds"`) and the
total: the README's table and each notebook's stated quick-mode time come from it
(`--quick-only` reruns just this part).

`tests/test_notebooks.py` checks that the README equals what `readme_with_figures` renders
from `course_figures.json`, and that the notebooks in quick mode still record every figure of the
file: the README and the notebooks cannot drift apart.

    python benchmarks/course_figures.py                     # about 15 min on 2 cores
    python benchmarks/course_figures.py --quick-only        # only the quick-mode times (about 3 min)
    python benchmarks/course_figures.py --render-only       # the README from the existing course_figures.json
                                                            # and docs/course's pages from its .ipynb

Notebook 7 loads the synthetic comparison's trained models (`runs/synthetic/`, written by
`python benchmarks/synthetic_comparison.py`) when they exist, and trains them (about 30 min)
otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "benchmarks" / "course_figures.json"
BEGIN = "<!-- course figures: written by benchmarks/course_figures.py from docs/benchmarks/course_figures.json -->"  # noqa: E501 (a marker in README.md)
END = "<!-- end of course figures -->"
TIME_NOTES = {
    True: {
        "07": " with the synthetic comparison's trained models (`runs/synthetic/`); three trainings "
        "of about 10 min each without them"
    },
    False: {"07": ", three trainings included"},
}  # whether notebook 7 found the trained runs
MODE_FREE = ("03.tam_params", "03.total_params", "03.tam_gmacs", "04.gflops.", "05.params_m.", "05.gflops.")
# ^ figures counted on the meta device at 224 px in quick mode too: the tests compare their values
TRAINED_RUNS = [
    ROOT / "runs" / "synthetic" / name / "best.pt"
    for name in ("tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny")
]
MODELS_07 = {"tsn_resnet_tiny": "TSN", "blvnet_tiny": "bLVNet without TAM", "blvnet_tam_tiny": "bLVNet-TAM"}


def render_figures(f: dict) -> str:
    """The README's list of course figures, from a full run's `course_figures.json`."""
    tam_share = f["03.tam_params"] / f["03.total_params"]
    gflops_tam50 = f["05.gflops.blvnet_tam_50_16"]
    saved = {key.split(".")[-1]: value for key, value in f.items() if key.startswith("04.saved_mib.")}
    ratio = {n: saved[f"blvnet_tam_50_{n}"] / saved[f"tsn_resnet50_{n}"] for n in (8, 16)}
    step = f["07.hand_step_largest_difference"]
    tiers = "; ".join(
        f"{label} {f[f'07.{name}.short-range']:.1%} / {f[f'07.{name}.long-range']:.1%} "
        f"(top-1 {f[f'07.{name}.top-1']:.1%}, {f[f'07.{name}.gflops'] * 1000:.1f} MFLOPs per clip)"
        for name, label in MODELS_07.items()
    )
    items = [
        f"notebook 3: the from-scratch TAM, its `conv3d` form, `TAM` and the fast in-place version agree to "
        f"{f['03.tam_versions_largest_difference']:.1e} (float64) in outputs and both gradients; the seven "
        "TAMs "
        f"of bLVNet-TAM-50 hold {f['03.tam_params']:,} parameters ({tam_share:.2%}) and do "
        f"{f['03.tam_gmacs']:.3f} of its {gflops_tam50:.2f} GFLOPs ({f['03.tam_gmacs'] / gflops_tam50:.1%});",
        f"notebook 4: bLVNet-50 on 16 frames costs {f['04.gflops.blvnet_50_16']:.2f} GFLOPs, "
        "TSN-bLResNet-50 on "
        f"8 frames {f['04.gflops.tsn_blresnet50_8']:.2f} plus {f['04.gflops.extra_stems']:.2f} for the 8 "
        "extra "
        f"stems; TSN-ResNet-50 costs {f['04.gflops.tsn_resnet50_8']:.2f} on 8 frames and "
        f"{f['04.gflops.tsn_resnet50_16']:.2f} on 16; activations saved for the backward pass of one 224-px "
        f"clip: TSN-ResNet-50 {saved['tsn_resnet50_8']:.0f} MiB (8 frames) and "
        f"{saved['tsn_resnet50_16']:.0f} "
        f"(16), bLVNet-TAM-50 {saved['blvnet_tam_50_8']:.0f} and {saved['blvnet_tam_50_16']:.0f}, a ratio of "
        f"{ratio[8]:.2f} at 8 frames and {ratio[16]:.2f} at 16, so 16 frames of bLVNet-TAM keep less than 8 "
        "of "
        "TSN (Fig. 3b; asserted: ratio between 0.4 and 0.6, and 16 frames of bLVNet-TAM at most 8 of TSN);",
        f"notebook 5: bLVNet-TAM-50 {f['05.params_m.blvnet_tam_50_16']:.2f}M parameters / {gflops_tam50:.2f} "
        f"GFLOPs (16 frames) and {f['05.gflops.blvnet_tam_50_32']:.2f} (32 frames), bLVNet-TAM-101 "
        f"{f['05.params_m.blvnet_tam_101_16']:.2f}M / {f['05.gflops.blvnet_tam_101_16']:.2f} (paper: 25.0M / "
        f"23.8, 47.7, 40.2M / 32.1); the authors' checkpoint format gives their logits to "
        f"{f['05.authors_logits_relative_difference']:.1e} (relative, float64);",
        f"notebook 6: {f['06.generated_clips']} generated clips become {f['06.train_clips']} training and "
        f"{f['06.val_clips']} validation clips; a missing and a corrupt clip are skipped, reported and "
        "replaced;",
        "notebook 7: the hand-written training step equals the engine's "
        + ("exactly" if step == 0 else f"to {step:.1e}")
        + "; order-pair accuracy per tier on the validation "
        f"set (short range / long range, chance 50%): {tiers} (asserted: bLVNet without "
        "TAM at least 95% / 45-55%, TSN 45-55% on both, bLVNet-TAM at least 95% on both); TSN finds the "
        f"family of {f['07.tsn_resnet_tiny.family']:.1%} of the clips (motion, size, visibility, rotation), "
        "and its top-1 stays near 4/14 = 28.6%, the level of finding the family and guessing within it; "
        "with its frame pairs shuffled, "
        f"bLVNet-TAM falls to {f['07.blvnet_tam_tiny.top-1 pairs shuffled']:.1%} top-1 and "
        f"{f['07.blvnet_tam_tiny.short-range, pairs shuffled']:.1%} on the short-range pairs (it still "
        f"finds the family of {f['07.blvnet_tam_tiny.family, pairs shuffled']:.1%});",
        f"notebook 8: integrated gradients written from scratch equal Captum's to "
        f"{f['08.ig_captum_relative_difference']:.1e} (relative); completeness with {f['08.ig_steps']} steps "
        f"holds to {f['08.completeness.midpoint']:.2%} with the midpoint rule and "
        f"{f['08.completeness.gauss_legendre']:.2%} with Gauss-Legendre (asserted: under 1% and 10%); "
        "removing one frame of an example clip drops the true class's probability by more than 0.5 for "
        f"{f['08.large_drops.grey']} of {f['08.large_drops.frames']} frames when a grey frame replaces it, "
        f"{f['08.large_drops.mean']} with the clip's mean frame and {f['08.large_drops.neighbour']} with the "
        "previous frame.",
    ]
    meta = f["run"]
    head = (
        f"Figures of the last full run ({meta['date']}, {meta['machine']}, torch {meta['torch']}; "
        "`python benchmarks/course_figures.py` wrote them here from `docs/benchmarks/course_figures.json`, "
        "and `docs/course/` in the same run, whose run times in the table above include rendering every "
        "figure as a PNG):"
    )
    return "\n".join([head, "", *(f"- {item}" for item in items)])


def source_digests() -> dict[str, str]:
    """sha256 of each notebook's source: which notebooks a run (and `docs/course/`) was made from."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / "notebooks").glob("0*.py"))
    }


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def readme_with_figures(readme: str, figures: dict) -> str:
    """`readme` with its course figures and its notebooks' run times rendered from `figures`."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    readme = readme[:start] + "\n" + render_figures(figures) + "\n" + readme[end:]

    def run_time(match: re.Match) -> str:
        number = match["name"][:2]
        note = TIME_NOTES[figures["run"]["reused_trained_runs"]].get(number, "")
        quick, full = figures[f"quick.{number}.seconds"], figures[f"{number}.seconds"]
        return f"{match['row']}{duration(quick)} | {duration(full)}{note} |"

    readme = re.sub(
        r"^(?P<row>\| `(?P<name>\d\d_\w+)` \|[^|]*\| )[^|]*\|[^|]*\|$", run_time, readme, flags=re.M
    )
    total = sum(v for k, v in figures.items() if k.startswith("quick.") and k.endswith(".seconds"))
    return re.sub(
        r"(<!-- quick total -->).*?(<!-- end -->)", rf"\g<1>{duration(total)}\g<2>", readme, flags=re.S
    )


def report_lines(figures: dict) -> list[str]:
    meta = figures["run"]
    lines = [
        "# The course in full mode: its figures and run times",
        "",
        f"`python benchmarks/course_figures.py` — {meta['machine']}, torch {meta['torch']}, {meta['date']}; "
        "every "
        "notebook run top to bottom in full mode with a fresh results folder (a first run"
        + (
            ", notebook 7 with the synthetic comparison's trained models"
            if meta["reused_trained_runs"]
            else ""
        )
        + "). The figures are "
        "those the notebooks pass to `record`; the README's course figures are rendered from "
        "`course_figures.json`.",
        "",
        "| notebook | quick mode | full mode |",
        "|---|---|---|",
    ]
    lines += [
        f"| {key[:2]} | {duration(figures[f'quick.{key}'])} | {duration(value)} |"
        for key, value in sorted(figures.items())
        if key.endswith(".seconds") and not key.startswith("quick.")
    ]
    quick = [v for k, v in figures.items() if k.startswith("quick.") and k.endswith(".seconds")]
    lines += [f"| all | {duration(sum(quick))} | |"]
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [
        f"| `{key}` | {value:.6g} |"
        for key, value in sorted(figures.items())
        if key != "run" and not key.endswith(".seconds")
    ]
    return lines


def quick_times() -> dict[str, float]:
    """Each notebook in quick mode, as the tests run it (a Jupyter kernel, `BLVNET_EDU_QUICK=1`, a
    fresh results folder, interactive figures only), one after the other: `{"quick.NN.seconds": s}`,
    the kernel's start included."""
    import jupytext
    from nbclient import NotebookClient

    from blvnet_edu.cli import course_sources
    from blvnet_edu.course_export import environment

    times = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        environment(
            {
                "BLVNET_EDU_QUICK": "1",
                "BLVNET_EDU_COURSE_DIR": str(Path(tmp) / "work"),
                "PYTHONPATH": os.pathsep.join([str(ROOT / "notebooks"), os.environ.get("PYTHONPATH", "")]),
            }
        ),
    ):
        for source in course_sources():
            start = time.perf_counter()
            nb = jupytext.read(source)
            NotebookClient(
                nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
            ).execute()
            key = f"quick.{source.stem[:2]}.seconds"
            times[key] = time.perf_counter() - start
            print(f"quick mode {source.stem}: {times[key]:.0f} s", flush=True)
    return times


def render_pages_again(export: Path, figures: dict) -> None:
    """The pages and index of `export` made again from its executed `.ipynb` (out of git: there
    after a full run on this machine), with the run times and machine of `figures`."""
    from blvnet_edu.course_export import render_pages

    executed = sorted(export.glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        print(f"{export} holds no executed notebooks: its pages stay as they are")
        return
    seconds = {
        key[:2]: value for key, value in figures.items() if key.endswith(".seconds") and key[:2].isdigit()
    }
    cores = int(figures["run"]["machine"].split()[0])  # "2 x86_64 CPU cores"
    render_pages(executed, export, seconds=seconds, quick=False, cores=cores, log=lambda *_: None)
    print(f"wrote the pages of {export} from its {len(executed)} executed notebooks")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite the README from course_figures.json, and the pages of --export from its executed "
        ".ipynb where they are there (nothing runs)",
    )
    parser.add_argument(
        "--quick-only",
        action="store_true",
        help="only rerun quick mode and keep its times in course_figures.json",
    )
    parser.add_argument("--export", type=Path, default=ROOT / "docs" / "course", help="the executed copy")
    parser.add_argument(
        "--work", type=Path, help="the notebooks' results folder (default: a fresh temporary one)"
    )
    args = parser.parse_args()
    if not args.render_only and not args.quick_only:
        reused = all(path.is_file() for path in TRAINED_RUNS)
        if not reused:
            print(
                "runs/synthetic/ lacks the trained models: notebook 7 trains them (about 30 min more)",
                flush=True,
            )
        from blvnet_edu.cli import course_sources
        from blvnet_edu.course_export import export_course

        with tempfile.TemporaryDirectory() as tmp:
            recorded = Path(tmp) / "figures.json"
            export_course(
                args.export, course_sources(), work=args.work or Path(tmp) / "work", figures=recorded
            )
            figures = json.loads(recorded.read_text())
        figures["run"] = {
            "date": datetime.date.today().isoformat(),
            "torch": torch.__version__.split("+")[0],
            "machine": f"{os.cpu_count()} {platform.machine()} CPU cores",
            "reused_trained_runs": reused,
            "sources": source_digests(),
        }
        FIGURES.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.export} and {FIGURES}")
    if not args.render_only:
        figures = json.loads(FIGURES.read_text())
        figures.update(quick_times())
        FIGURES.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        write_report(FIGURES.with_suffix(".md"), report_lines(figures), echo=False)
        print(f"wrote the quick-mode times to {FIGURES} and {FIGURES.with_suffix('.md')}")
    else:
        render_pages_again(args.export, json.loads(FIGURES.read_text()))
    readme = ROOT / "README.md"
    readme.write_text(readme_with_figures(readme.read_text(), json.loads(FIGURES.read_text())))
    print(f"wrote the course figures and run times of {readme} from {FIGURES}")


if __name__ == "__main__":
    main()
