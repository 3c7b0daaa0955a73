"""blvnet_edu/cli.py: the `blvnet-edu` command."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import save_in_authors_format

from blvnet_edu import build_model
from blvnet_edu.cli import build_parser, main
from blvnet_edu.saved_run import SavedRun


def test_profile_prints_the_paper_numbers(capsys):
    assert main(["profile", "blvnet_tam_50", "--frames", "16", "--classes", "174"]) == 0
    out = capsys.readouterr().out
    assert "parameters  25.02M" in out and "GFLOPs      23.78" in out
    assert "paper       25.0M parameters, 23.8 GFLOPs" in out
    assert "layer4   (8, 2048, 7, 7)" in out


def test_models_lists_presets(capsys):
    assert main(["models"]) == 0
    assert "blvnet_tam_tiny" in capsys.readouterr().out.split()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["profile", "nonexistent"], "unknown model 'nonexistent'"),
        (["profile", "blvnet_tam_tiny", "--frames", "5"], "even number of frames"),
        (["profile", "blvnet_tam_tiny", "--size", "16"], "--size must be between 32 and 640, got 16"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "blvnet-edu"  # installed by `pip install -e .`
    done = subprocess.run([exe, "profile", "blvnet_tam_tiny", "--size", "64"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "model       blvnet_tam_tiny" in done.stdout


def test_app_with_a_bad_checkpoint_exits_with_a_message(tmp_path, capsys):
    assert main(["app", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_app_without_gradio_says_in_one_line_how_to_install_it():
    code = (
        "import sys; sys.modules['gradio'] = None  # as if not installed\n"
        "from blvnet_edu.cli import main, build_parser; sys.exit(main(['app']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "blvnet-edu app: the app needs Gradio: pip install 'blvnet-edu[app]' "
        "(in a clone: pip install -e '.[app]')"
    ]


@pytest.mark.slow
def test_the_app_is_a_package_of_its_own_with_its_demo(tmp_path):
    code = "import blvnet_edu_app.app as a; print(a.__name__, len(a.EXAMPLES), sorted(a.DEMO_FILES.values()))"
    # from another folder: the installed package, not the repository's app/ folder
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 2)[:2] == ["blvnet_edu_app.app", "14"]
    assert "blvnet_tam_tiny.pt" in done.stdout


@pytest.mark.slow
def test_course_notebooks_are_made_from_sources_and_keep_edits(tmp_path):
    import shutil

    import jupytext
    import nbformat

    from blvnet_edu.cli import course_notebooks

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "notebooks").mkdir()
    for f in [*(root / "notebooks").glob("[0-9][0-9]_*.py"), root / "notebooks" / "jupytext.toml"]:
        shutil.copy(f, tmp_path / "notebooks")
    made = course_notebooks(tmp_path)
    assert [p.name for p in made][:1] == ["01_welcome.ipynb"] and all(p.exists() for p in made)
    source = jupytext.read(tmp_path / "notebooks" / "01_welcome.py")
    notebook = nbformat.read(made[0], as_version=4)
    assert [c.source for c in notebook.cells] == [c.source for c in source.cells]
    # an edit saved in JupyterLab (the .ipynb is newer) goes back into the source
    notebook.cells.append(nbformat.v4.new_code_cell("print('my edit')"))
    nbformat.write(notebook, made[0])
    stamp = made[0].stat().st_mtime + 5
    os.utime(made[0], (stamp, stamp))
    course_notebooks(tmp_path)
    assert "print('my edit')" in (tmp_path / "notebooks" / "01_welcome.py").read_text()
    with pytest.raises(FileNotFoundError, match="run it from a clone"):
        course_notebooks(tmp_path / "elsewhere")


@pytest.mark.slow
def test_course_command_serves_the_notebooks_in_jupyterlab():
    import json
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "blvnet-edu"
    env = {**os.environ, "JUPYTER_TOKEN": "course-test"}
    server = subprocess.Popen(
        [exe, "course", "--no-browser", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api/contents/notebooks/01_welcome.ipynb?token=course-test"
    try:
        deadline, reply = time.monotonic() + 120, None
        while time.monotonic() < deadline and reply is None:
            assert server.poll() is None, "JupyterLab exited"
            try:
                reply = json.load(urllib.request.urlopen(url, timeout=5))
            except OSError:
                time.sleep(1)
        assert reply is not None, "JupyterLab did not answer within 2 minutes"
        assert reply["type"] == "notebook"
        cells = reply["content"]["cells"]
        assert cells[0]["source"].startswith("# 1. Welcome")
        lab = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=course-test", timeout=10)
        assert lab.status == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.slow
def test_course_export_writes_html_with_static_figures(tmp_path, capsys):
    """`blvnet-edu course --export DIR`: executed notebooks as .ipynb and .html, figures as PNGs
    (plotly + kaleido + Chromium) that show where no JavaScript runs, and an index."""
    import re

    out = tmp_path / "course"
    assert main(["course", "--export", str(out), "--quick", "--only", "03"]) == 0
    page = (out / "03_tam_from_scratch.html").read_text()
    assert page.count("data:image/png;base64,") >= 3, "the plotly figures as static pictures"
    assert "3. TAM from scratch" in page and "Your turn 1: not done yet" in page  # executed as shipped
    index = (out / "index.html").read_text()
    assert re.search(r'<a href="03_tam_from_scratch.html">3\. TAM from scratch', index)
    assert "quick mode" in index and (out / "03_tam_from_scratch.ipynb").exists()
    assert main(["course", "--export", str(out), "--only", "42"]) == 2  # no such notebook: one line
    assert "no course notebooks" in capsys.readouterr().err


def test_predict_on_the_demo_model_says_what_it_knows(capsys):
    from blvnet_edu.cli import main

    example = sorted((Path(__file__).resolve().parents[1] / "app" / "examples").glob("moving_left*.mp4"))[0]
    assert main(["predict", str(example), "--top", "3"]) == 0
    out, err = capsys.readouterr()
    assert "arbitrary answer" in err and "1." in out and "moving left" in out.splitlines()[1]
    assert main(["predict", str(example), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"][0]["top"][0]["class"] == "moving left" and len(result["clips"][0]["top"]) == 5
    assert "arbitrary answer" in result["notice"]


def test_predict_with_an_authors_checkpoint_and_shipped_labels(tmp_path, capsys):
    from blvnet_edu.cli import main

    model = build_model("blvnet_tam_tiny", num_classes=174)
    path = tmp_path / "st2stv2-tiny.pth.tar"
    save_in_authors_format(model.state_dict(), path)
    clip = sorted((Path(__file__).resolve().parents[1] / "app" / "examples").glob("*.mp4"))[0]
    assert main(["predict", str(clip), "--checkpoint", str(path), "--frames", "8", "--json"]) == 2
    assert "'ssv1'" in capsys.readouterr().err  # 174 classes: the user must say V1 or V2
    out_video = tmp_path / "overlay.mp4"
    assert (
        main(
            [
                "predict",
                str(clip),
                "--checkpoint",
                str(path),
                "--labels",
                "ssv2",
                "--frames",
                "8",
                "--explain",
                str(out_video),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    top = [line for line in out.splitlines() if line.strip().startswith(("1.", "2.", "3.", "4.", "5."))]
    assert len(top) == 5 and out_video.stat().st_size > 0
    from blvnet_edu.data.label_maps import load_labels

    assert all(line.split("%", 1)[1].strip() in load_labels("ssv2") for line in top)
    assert main(["predict", "missing.mp4"]) == 2


BAD_INPUTS = {  # command line (with {tmp} for the test's folder) -> what the one error line must say
    "train --config {tmp}/bad.yaml": "bad.yaml, line 2: not valid YAML",
    "train --config {tmp}/ok.yaml lr=abc": "lr must be float, got 'abc'",
    "train --config {tmp}/ok.yaml epochs=1.5": "epochs must be int, got 1.5",
    "train --config {tmp}/ok.yaml epochs=[": "override 'epochs=[': the value is not valid YAML",
    "train --config {tmp}/ok.yaml colour=red": "unknown config keys ['colour']",
    "make-synthetic --out {tmp}/s --frames 1 --clips 2": "frames must be between 4 and 1024, got 1",
    "make-synthetic --out {tmp}/s --size 100000 --clips 2": "size must be between 32 and 1024 pixels",
    "eval --checkpoint {demo} --data {tmp} --clips 0": "--clips must be >= 1 (0)",
    "eval --checkpoint {tmp}/none.pt --data {tmp}": "checkpoint not found",
    "predict {tmp}/notes.txt": "not a video file",
    "predict {tmp}/none.mp4": "not found",
    "predict {demo} --checkpoint {tmp}/bad.yaml": "could not read",
    "kinetics-subset --csv {tmp}/stray.csv --videos {tmp} --classes 1 --per-class 1 --out {tmp}/k": (
        "line 2: not UTF-8"
    ),
    "kinetics-subset --csv {tmp}/none.csv --videos {tmp} --classes 1 --per-class 1 --out {tmp}/k": (
        "not found"
    ),
    "make-demo --models blvnet_tam_tinyy --data {tmp}/d --runs {tmp}/r --app {tmp}/a": (
        "unknown model(s) ['blvnet_tam_tinyy']"
    ),
    "ssv1-lists --root {tmp}/none --out {tmp}/o": "not found: ",
    "ssv2-lists --root {tmp}/none --out {tmp}/o": "not found: ",
    "folder-list --videos {tmp}/none --out {tmp}/o": "video folder not found",
    "folder-list --videos {tmp} --out {tmp}/o --val-fraction 2": "--val-fraction must be in [0, 1), got 2.0",
    "train --config {tmp}/ok.yaml --resume {tmp}/none.pt": "checkpoint to resume from not found",
    "eval --checkpoint {demo} --data {tmp}/none": "not found",
    "predict {clip} --top 0": "--top must be at least 1",
    "predict {clip} --frames 3": "even number of frames",
    "make-synthetic --out {tmp}/notes.txt/s --clips 2": "Not a directory: ",
    "app --checkpoint {tmp}/none.pt": "checkpoint not found",
    "app --max-classes 0": "max_classes must be > 0",
    "app --max-upload-mb 0": "--max-upload-mb and --max-cache-mb must be > 0, --max-checkpoints >= 1",
    "profile blvnet_tam_tinyy": "unknown model 'blvnet_tam_tinyy'",
    # the hostile-input sweep: each refused before anything is allocated, read or bound
    "profile blvnet_tam_50 --size 100000": "--size must be between 32 and 640, got 100000",
    "profile blvnet_tam_50 --classes 300000000": "--classes must be between 1 and 10000, got 300000000",
    "profile blvnet_tam_50 --classes 0": "--classes must be between 1 and 10000, got 0",
    "profile blvnet_tam_50 --frames 100000": "100000 frames per clip is over the limit of 64",
    "profile blvnet_tam_50 --frames 0": "--frames must be >= 1, got 0",
    "profile blvnet_tam_101 --frames 64 --size 640": "GFLOPs per clip of 64 frames at 640 px; the limit",
    "train --config {tmp}/huge.yaml": (
        "size must be between 32 and 640 pixels (Limits.max_input_size), got 1000000"
    ),
    "train --config {tmp}/ok.yaml model_options.num_frames=x": (
        "model_options.num_frames must be a whole number >= 1, got 'x'"
    ),
    "train --config {tmp}/ok.yaml model_options.num_frames=100000": (
        "model_options.num_frames: 100000 frames per clip is over the limit of 64"
    ),
    "train --config {tmp}/ok.yaml model_options.num_classes=3": "model_options.num_classes cannot be set",
    "train --config {tmp}/ok.yaml lr=0": "lr must be > 0, got 0",
    "train --config {tmp}/ok.yaml resize=16": "resize must be between size (224) and 640 pixels",
    "train --config {tmp}/ok.yaml model=nope": "model must be one of blvnet_101, ",
    "train --config {tmp}/ok.yaml epochs.x=1": "override 'epochs.x=1': epochs is not a mapping",
    "train --config {tmp}/ok.yaml out={tmp}/half --resume": (
        "holds no last.pt although metrics.jsonl lists epoch 1: the run stopped before it saved its first "
        "checkpoint"
    ),
    "train --config {tmp}/ok.yaml out={tmp}/none --resume": "nothing to resume in ",
    "eval --checkpoint {demo} --data {tmp}/passwd": (
        "passwd/val.csv, line 2: /etc/passwd is not a video file (.mp4, .webm, .mkv, .avi, .mov, .m4v) or a "
        "frame folder"
    ),
    "eval --checkpoint {demo} --data {tmp}/missing": "missing/val.csv, line 3: clip not found: ",
    "eval --checkpoint {demo} --data {tmp}/escape": (
        "escape/val.csv, line 2: ../notes.txt leaves the dataset folder"
    ),
    "eval --checkpoint {demo} --data {tmp}/label": (
        "label/val.csv, line 2: label 14 is not a class (the dataset has 14"
    ),
    "eval --checkpoint {demo} --data {tmp}/corrupt --workers 1": "corrupt/val.csv, line 2: ",
    "eval --checkpoint {demo} --data {tmp} --frames 0": "--frames must be >= 1, got 0",
    "eval --checkpoint {demo} --data {tmp} --resize 100000": (
        "--resize must be between 32 and 640, got 100000"
    ),
    "predict {clip} --frames 100000": "100000 frames per clip is over the limit of 64",
    "predict {clip} --frames 0": "--frames must be >= 1, got 0",
    "predict {clip} --resize 0": "--resize must be between 32 and 640, got 0",
    "predict {clip} --checkpoint {demo} --resize 32": "resize 32 is smaller than the model's crop (48)",
    "kinetics-subset --csv {tmp}/k.csv --videos {tmp} --classes 0 --per-class 1 --out {tmp}/k": (
        "the number of classes (--classes) must be >= 1, got 0"
    ),
    "kinetics-subset --csv {tmp}/k.csv --videos {tmp} --classes 1 --per-class 1 --out {tmp}/k": (
        "no usable clips for the train split (2 clip(s) skipped, 0 bad annotation row(s)"
    ),
    "app --host 300.1.1.1": "invalid --host '300.1.1.1': not an IPv4 address",
    "course --host 300.1.1.1": "invalid --host '300.1.1.1': not an IPv4 address",
    "course --render-only": "--render-only goes with --export DIR",
}


@pytest.mark.parametrize("command", sorted(BAD_INPUTS))
def test_a_user_error_is_one_clear_line_and_exit_code_2(command, tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("epochs: [1\n")
    (tmp_path / "ok.yaml").write_text("epochs: 1\n")
    (tmp_path / "notes.txt").write_text(("The quick brown fox jumps over the lazy dog. " * 40 + "\n") * 200)
    (tmp_path / "stray.csv").write_bytes(b"label,youtube_id,time_start,time_end,split\nab\xffc,x,0,1,train\n")
    root = Path(__file__).resolve().parents[1]
    demo, clip = root / "app" / "demo" / "blvnet_tam_tiny.pt", root / "app" / "examples" / "moving_left.mp4"
    (tmp_path / "huge.yaml").write_text("size: 1000000\n")
    (tmp_path / "half").mkdir()  # a run killed before its first checkpoint: logged, no last.pt
    (tmp_path / "half" / "metrics.jsonl").write_text('{"epoch": 1, "val_top1": 0.5}\n')
    (tmp_path / "k.csv").write_text(  # annotations whose clips were never downloaded
        "label,youtube_id,time_start,time_end,split\nwaving,abc,0,10,train\nwaving,def,0,10,validate\n"
    )
    (tmp_path / "corrupt.mp4").write_text("not a video\n")
    lists = {  # eval lists, one bad line each
        "passwd": "/etc/passwd,0,16",
        "missing": f"{clip},0,16\nnone.mp4,0,16",
        "escape": "../notes.txt,0,16",
        "label": f"{clip},14,16",
        "corrupt": f"{tmp_path / 'corrupt.mp4'},0,16",
    }
    classes = "".join(name + "\n" for name in SavedRun.load(demo).classes)
    for name, rows in lists.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "classes.txt").write_text(classes)
        (tmp_path / name / "val.csv").write_text(f"path,label,num_frames\n{rows}\n")
    argv = command.format(tmp=tmp_path, demo=demo, clip=clip).split()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith(f"blvnet-edu {argv[0]}: error: ") and BAD_INPUTS[command] in err[-1]


def test_every_command_has_a_bad_input_case():
    covered = {command.split()[0] for command in BAD_INPUTS} | {"models", "course"}  # models takes no input
    assert covered == set(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", ["app --port 0", "app --port http", "course --port 70000"])
def test_a_bad_port_is_an_argument_error(command, capsys):
    with pytest.raises(SystemExit) as done:
        main(command.split())
    assert done.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith(f"blvnet-edu {command.split()[0]}: error: argument --port")
    )


def test_app_on_a_port_in_use_says_so_before_loading_anything(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["app", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"blvnet-edu app: error: port {port} on 127.0.0.1 is already in use: choose another with --port"
    ]


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    """Writes past RLIMIT_FSIZE fail as on a full disk (EFBIG instead of ENOSPC: the same OSError path)."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))\n"
        "from blvnet_edu.cli import main, build_parser\n"
        f"sys.exit(main(['make-synthetic', '--out', {str(tmp_path / 's')!r}, '--clips', '14', '--size', "
        "'64']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("blvnet-edu make-synthetic: error: File too large: ")
        and "Traceback" not in done.stderr
    )
    assert not [p for p in (tmp_path / "s").rglob("*") if p.is_file() and ".tmp" in p.name]


@pytest.mark.parametrize(
    "argv,missing",
    [(["course", "--no-browser"], "jupyterlab"), (["course", "--export", "out", "--quick"], "nbclient")],
)
def test_course_without_the_course_extra_says_how_to_install_it(argv, missing, monkeypatch, capsys):
    import importlib.util

    import blvnet_edu.cli as cli

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else find_spec(name, *a)
    )
    # what would follow without the check: JupyterLab fails to start, the export to import
    monkeypatch.setattr(cli, "course_notebooks", lambda root=None: [Path("/r/notebooks/01_welcome.ipynb")])
    monkeypatch.setattr(
        subprocess, "call", lambda *a, **k: print(f"No module named {missing}", file=sys.stderr) or 1
    )
    monkeypatch.setitem(
        sys.modules, "blvnet_edu.course_export", None
    )  # importing it fails, as without nbclient
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"blvnet-edu course: error: the course needs the course extra: pip install -e '.[course]' "
        f"({missing} not installed)"
    ]


class Killed(Exception):
    pass


@pytest.mark.slow
def test_a_kill_while_best_pt_is_written_leaves_a_run_that_resumes(dataset, tmp_path, monkeypatch, capsys):
    """The first epoch's best.pt is never written (as a kill in the middle of its save): last.pt,
    written first, holds the epoch; `--resume` rewrites best.pt from it and finishes the run."""
    import yaml
    from conftest import tiny_config

    from blvnet_edu.engine.train import train

    cfg = tiny_config(dataset, tmp_path / "run", epochs=2)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    save = SavedRun.save

    def killed_while_saving_best(run, path):
        if Path(path).name == "best.pt":
            raise Killed
        return save(run, path)

    monkeypatch.setattr(SavedRun, "save", killed_while_saving_best)
    with pytest.raises(Killed):
        train(cfg, log=lambda *_: None)
    monkeypatch.setattr(SavedRun, "save", save)
    logged = [
        json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert logged == [1] and not (tmp_path / "run" / "best.pt").exists()
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--resume"]) == 0
    assert "best.pt rewritten from" in capsys.readouterr().out
    logged = [
        json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    last, best = SavedRun.load(tmp_path / "run" / "last.pt"), SavedRun.load(tmp_path / "run" / "best.pt")
    assert logged == [1, 2] and last.epoch == 1
    assert best.metrics["top1"] == last.best_top1 and best.optimizer is None
