"""blvnet_edu/engine: config, training steps, exact resume, DDP == one process, evaluation."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import CUDA, flip_tensor_byte, index_frames, save_in_authors_format
from conftest import tiny_config as config

from blvnet_edu import build_model
from blvnet_edu.cli import main
from blvnet_edu.engine.config import load_config
from blvnet_edu.engine.evaluate import metrics_from_scores
from blvnet_edu.engine.train import train
from blvnet_edu.saved_run import Preprocessing, SavedRun

pytestmark = pytest.mark.slow  # training runs, DDP, resumes


def quiet(*_args, **_kwargs):
    pass


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: tsn_resnet_tiny\nepochs: 3\nmodel_options:\n  num_frames: 4\n")
    cfg = load_config(path, ["epochs=5", "model_options.dropout=0.2", "scales=[1.0]", "stride=null"])
    assert (cfg.model, cfg.epochs, cfg.model_options, cfg.scales) == (
        "tsn_resnet_tiny",
        5,
        {"num_frames": 4, "dropout": 0.2},
        (1.0,),
    )
    with pytest.raises(ValueError, match="unknown config keys"):
        load_config(None, ["epoch=3"])
    with pytest.raises(ValueError, match="precision"):
        load_config(None, ["precision=fp8"])
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_metrics_from_scores():
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.2, 0.7]])
    m = metrics_from_scores(scores, torch.tensor([0, 1, 1, 2]), 3, loss=0.0)
    assert m.top1 == 0.75 and m.top5 == 1.0
    assert m.confusion == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert m.per_class == [1.0, 0.5, 1.0]


def test_training_lowers_the_loss_and_writes_its_results(dataset, tmp_path):
    cfg = config(dataset, tmp_path / "run", epochs=4, lr=0.02)
    train(cfg, log=quiet)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert set(records[0]["per_class"]) == set((dataset / "classes.txt").read_text().split("\n")[:-1])
    for name in ("config.yaml", "metrics.csv", "confusion.csv", "last.pt", "best.pt"):
        assert (tmp_path / "run" / name).is_file(), name
    assert load_config(tmp_path / "run" / "config.yaml") == cfg  # the run can be repeated
    best = SavedRun.load(tmp_path / "run" / "best.pt")
    model = best.build_model()
    assert len(best.classes) == 8 and model.config.num_frames == 4 and not model.training
    assert best.metrics["top1"] >= 0 and best.optimizer is None  # the best epoch, no training state
    last = SavedRun.load(tmp_path / "run" / "last.pt")
    assert last.train_config == cfg.to_dict() and last.preprocessing == Preprocessing(32, 32, None)
    assert last.epoch == 3 and last.optimizer and last.scheduler and last.scaler is not None and last.rng


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_resume_gives_the_same_result_as_an_uninterrupted_run(dataset, tmp_path, device, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    straight = config(
        dataset, tmp_path / "straight", model_options={"num_frames": 4, "dropout": 0.5}, device=device
    )
    train(straight, log=quiet)

    def crash_after_first_epoch(message):
        if str(message).startswith("epoch 1/"):
            raise Interrupt

    broken = config(
        dataset, tmp_path / "broken", model_options={"num_frames": 4, "dropout": 0.5}, device=device
    )
    with pytest.raises(Interrupt):
        train(broken, log=crash_after_first_epoch)
    assert SavedRun.load(tmp_path / "broken" / "last.pt").epoch == 0
    said = []
    train(broken, resume=True, log=said.append)
    assert any(str(m).startswith("resumed from") and str(m).endswith("after epoch 0") for m in said), said
    assert not any(str(m).startswith("epoch 1/") for m in said), "the resumed run repeated epoch 1"
    a = SavedRun.load(tmp_path / "straight" / "last.pt")
    b = SavedRun.load(tmp_path / "broken" / "last.pt")
    for key, value in a.weights.items():  # dropout masks and data order continue from the saved generators
        if device == "cpu":
            assert torch.equal(value, b.weights[key]), key
        else:  # GPU atomics reorder sums
            torch.testing.assert_close(value, b.weights[key], rtol=1e-4, atol=1e-5, msg=key)
    if device != "cpu":
        return

    def lines(run):
        return [json.loads(x) for x in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]

    assert [r["train_loss"] for r in lines("straight")] == [r["train_loss"] for r in lines("broken")]


def test_resume_refuses_another_model(dataset, tmp_path):
    train(config(dataset, tmp_path / "r", epochs=1), log=quiet)
    with pytest.raises(ValueError, match="trained with another model"):
        train(config(dataset, tmp_path / "r", epochs=2, model="tsn_resnet_tiny"), resume=True, log=quiet)


def test_resume_refuses_a_corrupt_checkpoint(dataset, tmp_path):
    """A byte flipped in the weights or in the optimizer's momentum (the sweep's case: it used
    to resume with exit 0 and ruin the run) is caught by the archive's checksums."""
    train(config(dataset, tmp_path / "r", epochs=1), log=quiet)
    weights = len(SavedRun.load(tmp_path / "r" / "last.pt").weights)
    original = (tmp_path / "r" / "last.pt").read_bytes()
    for record in (0, weights):  # the first weight, the first optimizer state tensor
        (tmp_path / "r" / "last.pt").write_bytes(original)
        flip_tensor_byte(
            tmp_path / "r" / "last.pt", record
        )  # a bit flipped on disk: the file still unpickles
        with pytest.raises(ValueError, match=r"last.pt is corrupt: the archive member .* does not match"):
            train(config(dataset, tmp_path / "r", epochs=2), resume=True, log=quiet)


def test_a_fresh_run_never_overwrites_a_run_and_a_resumed_one_logs_each_epoch_once(dataset, tmp_path):
    out = tmp_path / "r"
    train(config(dataset, out, epochs=1), log=quiet)
    before = (out / "last.pt").read_bytes()
    with pytest.raises(ValueError, match="already holds a training run.*--resume"):
        train(config(dataset, out, epochs=2), log=quiet)
    assert (out / "last.pt").read_bytes() == before  # nothing lost
    # a run killed after logging epoch 2 but before saving its checkpoint: epoch 2 is logged again
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"epoch": 2, "train_loss": -1.0}) + "\n")
    train(config(dataset, out, epochs=2), resume=True, log=quiet)
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2] and records[1]["train_loss"] != -1.0
    assert [row.split(",")[0] for row in (out / "metrics.csv").read_text().splitlines()] == [
        "epoch",
        "1",
        "2",
    ]


def test_two_process_ddp_matches_one_process_on_the_same_global_batch(dataset, tmp_path):
    common = [
        f"data={dataset}",
        "model=blvnet_tam_tiny",
        "model_options={num_frames: 4, dropout: 0.0}",
        "size=32",
        "resize=32",
        "epochs=1",
        "max_steps_per_epoch=3",
        "workers=0",
        "threads=1",
        "freeze_bn=true",
        "lr=0.05",
        "seed=5",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "blvnet_edu.cli",
            "train",
            *common,
            "batch_size=2",
            f"out={tmp_path / 'ddp'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert main(["train", *common, "batch_size=4", f"out={tmp_path / 'one'}"]) == 0
    a = SavedRun.load(tmp_path / "ddp" / "last.pt").weights
    b = SavedRun.load(tmp_path / "one" / "last.pt").weights
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    torch.manual_seed(5)  # the initial weights of both runs
    initial = build_model("blvnet_tam_tiny", num_classes=8, num_frames=4, dropout=0.0).state_dict()
    assert any(not torch.allclose(initial[k], a[k]) for k in a if a[k].is_floating_point())


def test_eval_command_with_clips_and_crops(dataset, tmp_path, capsys):
    train(config(dataset, tmp_path / "run", epochs=1), log=quiet)
    code = main(
        [
            "eval",
            "--checkpoint",
            str(tmp_path / "run" / "best.pt"),
            "--data",
            str(dataset),
            "--clips",
            "2",
            "--crops",
            "3",
            "--workers",
            "0",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 8 and 0.0 <= result["top1"] <= 1.0
    # the order diagnostics: the same metrics, plus reversed clips and shuffled frame pairs
    code = main(
        [
            "eval",
            "--checkpoint",
            str(tmp_path / "run" / "best.pt"),
            "--data",
            str(dataset),
            "--clips",
            "2",
            "--crops",
            "3",
            "--workers",
            "0",
            "--order-tests",
        ]
    )
    assert code == 0
    ordered = json.loads(capsys.readouterr().out)
    assert ordered["top1"] == pytest.approx(result["top1"]) and ordered["count"] == 8
    for test in ("reversed", "shuffled_pairs"):
        row = ordered["order_tests"][test]
        assert set(row) == {"top1", "top1_drop", "prediction_changed"}
        assert 0.0 <= row["top1"] <= 1.0 and 0.0 <= row["prediction_changed"] <= 1.0


def test_eval_rejects_foreign_files(dataset, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    assert main(["eval", "--checkpoint", str(bad), "--data", str(dataset)]) == 2
    assert "not a blvnet-edu checkpoint" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(dataset)]) == 2


def test_a_killed_run_keeps_a_valid_checkpoint_and_resumes(dataset, tmp_path):
    """SIGKILL in the middle of training: last.pt stays readable, --resume finishes the run."""
    import signal
    import time

    out = tmp_path / "killed"
    args = [
        f"data={dataset}",
        "model=blvnet_tam_tiny",
        "model_options={num_frames: 4}",
        "size=32",
        "resize=32",
        "epochs=6",
        "batch_size=4",
        "workers=0",
        "threads=1",
        f"out={out}",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "blvnet_edu.cli", "train", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "last.pt").exists():
            time.sleep(0.05)
        time.sleep(0.3)  # into the next epoch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    done = SavedRun.load(out / "last.pt").epoch
    assert 0 <= done < 5
    assert main(["train", *args, "--resume"]) == 0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["epoch"] == 6 and SavedRun.load(out / "last.pt").epoch == 5


def test_eval_reads_an_authors_checkpoint_with_shipped_labels(tmp_path, capsys):
    """The released models are evaluated like ours: `eval --labels kinetics400` on a list in the
    official order."""
    from blvnet_edu.data.label_maps import load_labels
    from blvnet_edu.data.video_io import write_video

    model = build_model("blvnet_tam_tiny", num_classes=400)
    path = tmp_path / "kinetics400-tiny.pth.tar"
    save_in_authors_format(model.state_dict(), path)
    data = tmp_path / "k400"
    data.mkdir()
    (data / "classes.txt").write_text("\n".join(load_labels("kinetics400")) + "\n")
    clip = write_video(data / "clip.mp4", index_frames(16, 48, 64), fps=8)
    (data / "val.csv").write_text(f"path,label,num_frames\n{clip.name},3,16\n")
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(path),
                "--data",
                str(data),
                "--frames",
                "8",
                "--size",
                "48",
                "--resize",
                "48",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 1 and 0.0 <= summary["top1"] <= 1.0
    assert (
        main(["eval", "--checkpoint", str(path), "--data", str(data), "--labels", "ssv1"]) == 2
    )  # 174 != 400


def test_a_torn_log_line_and_a_leftover_temporary_file_do_not_block_a_resume(tmp_path):
    """A kill while writing leaves a half line in the logs and maybe a `.last.pt.tmp<pid>`."""
    from blvnet_edu.engine.train import _trim_logs

    (tmp_path / "metrics.jsonl").write_text(
        '{"epoch": 0, "loss": 1}\n{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo'
    )
    (tmp_path / "metrics.csv").write_text("epoch,loss\n0,1\n1,0.5\n2,0.")
    (tmp_path / ".last.pt.tmp4242").write_bytes(b"half a checkpoint")
    _trim_logs(tmp_path, 1)
    assert [json.loads(line)["epoch"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [
        0,
        1,
    ]
    assert (tmp_path / "metrics.csv").read_text() == "epoch,loss\n0,1\n1,0.5\n"
    assert not list(tmp_path.glob(".*.tmp*"))


def test_resume_from_best_pt_on_the_command_line_says_to_use_last_pt(dataset, tmp_path, capsys):
    cfg = config(dataset, tmp_path / "r", epochs=1)
    train(cfg, log=quiet)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    best = tmp_path / "r" / "best.pt"
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "epochs=2", "--resume", str(best)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"blvnet-edu train: error: {best} holds no training state (optimizer, random generators): "
        "resume from a run's last.pt"
    )


def test_a_full_disk_while_saving_keeps_the_last_good_checkpoint(dataset, tmp_path):
    """The checkpoint of epoch 2 cannot be written (RLIMIT_FSIZE: as a full disk): one error
    line, no partial file, and last.pt still holds epoch 1, from which the run resumes."""
    cfg = config(dataset, tmp_path / "r", epochs=1)
    train(cfg, log=quiet)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    size = (tmp_path / "r" / "last.pt").stat().st_size
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size // 2}, {size // 2}))\n"
        "from blvnet_edu.cli import main\n"
        f"sys.exit(main(['train', '--config', {str(tmp_path / 'c.yaml')!r}, 'epochs=2', '--resume']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "blvnet-edu train: error: could not write the checkpoint (is the disk full?); the previous file, "
        "if any, "
        f"is unchanged: {tmp_path / 'r' / 'last.pt'}"
    )
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if ".tmp" in p.name) == []
    assert SavedRun.load(tmp_path / "r" / "last.pt").epoch == 0  # epoch 1 (0-based), intact
    train(config(dataset, tmp_path / "r", epochs=2), resume=True, log=quiet)
    assert SavedRun.load(tmp_path / "r" / "last.pt").epoch == 1
