"""blvnet_edu/demo.py: the synthetic comparison's runs and the app's demo, at a tiny size."""

import json

import pytest

from blvnet_edu.data.kinetics import make_subset
from blvnet_edu.data.lists import read_classes
from blvnet_edu.data.synthetic import CLASSES, LONG_RANGE_PAIRS, SHORT_RANGE_PAIRS, make_synthetic
from blvnet_edu.demo import DEMO_MODELS, example_notice, export_demo, run_summary, train_run
from blvnet_edu.saved_run import SavedRun

TINY = ("epochs=1", "max_steps_per_epoch=2", "batch_size=4", "size=32", "resize=32", "workers=0", "threads=1")


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    """All 14 classes, 2 training and 1 validation clip each."""
    root = tmp_path_factory.mktemp("demo")
    csv_path = make_synthetic(root / "raw", 14 * 3, seed=0, size=40, frames=8, fps=8, val_fraction=1 / 3)
    make_subset(
        [csv_path], root / "raw" / "videos", root / "lists", per_class=2, num_classes=14, val_per_class=1
    )
    return root / "lists"


def test_train_summarise_export_and_reuse(lists, tmp_path):
    runs, app = tmp_path / "runs", tmp_path / "app"
    for model in DEMO_MODELS:
        run = train_run(model, lists, runs, overrides=TINY, log=lambda *_: None)
        summary = run_summary(run, lists)
        assert summary["model"] == model and summary["epochs"] == 1
        assert set(summary) >= {"val_top1", "short_range", "long_range", "train_minutes"}
        assert 0.0 <= summary["long_range"] <= 1.0
        assert json.loads((run / "summary.json").read_text()) == summary
    # a finished run is reused, not trained again
    stamp = (runs / "blvnet_tam_tiny" / "best.pt").stat().st_mtime_ns
    messages = []
    train_run("blvnet_tam_tiny", lists, runs, overrides=TINY, log=messages.append)
    assert (runs / "blvnet_tam_tiny" / "best.pt").stat().st_mtime_ns == stamp
    assert "reusing" in messages[0]

    (app / "examples").mkdir(parents=True)
    (app / "examples" / "a_removed_class.mp4").write_bytes(b"old")
    written = export_demo(runs, lists, app)
    assert {p.name for p in (app / "demo").glob("*.pt")} == {f"{m}.pt" for m in DEMO_MODELS}
    assert read_classes(app / "demo" / "classes.txt") == sorted(CLASSES)
    examples = sorted(p.stem for p in (app / "examples").glob("*.mp4"))
    assert examples == sorted(c.replace(" ", "_") for c in CLASSES)  # one clip per class, no stale ones
    assert all(p.exists() for p in written)
    exported = SavedRun.load(app / "demo" / "blvnet_tiny.pt")
    assert exported.build_model().config.temporal_module is None and exported.classes == sorted(CLASSES)


def test_every_example_class_has_an_order_to_try_and_a_line_on_what_to_notice():
    for first, second in LONG_RANGE_PAIRS:
        test, line = example_notice(first)
        assert (
            test == "halves_swapped" and f"now answers '{second}'" in line and line.startswith("long range")
        )
    for first, second in SHORT_RANGE_PAIRS:
        test, line = example_notice(second)
        assert (
            test == "reversed"
            and f"reversed they answer '{first}'" in line
            and line.startswith("short range")
        )
    assert {example_notice(c)[0] for c in CLASSES} == {"halves_swapped", "reversed"}
    assert example_notice("juggling") == (None, "")
