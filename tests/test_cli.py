"""blvnet_edu/cli.py: the `blvnet-edu` command."""

import subprocess
import sys
from pathlib import Path

import pytest

from blvnet_edu.cli import main


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
        (["profile", "blvnet_tam_tiny", "--size", "16"], "too small"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "blvnet-edu"  # installed by `pip install -e .`
    done = subprocess.run([exe, "profile", "blvnet_tam_tiny", "--size", "64"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "model       blvnet_tam_tiny" in done.stdout


def test_app_with_a_bad_checkpoint_exits_with_a_message(tmp_path, capsys):
    assert main(["app", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
