"""budget.py and what it prices: decoding from the key frames, networks on the meta device,
explanations in forward passes; rotation metadata and bounded decoding memory (video_io)."""

import argparse
import dataclasses
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from conftest import h264_clip, index_frames, ramp_frames
from PIL import Image

import blvnet_edu.clips as clips_module
import blvnet_edu.inference as inference
from blvnet_edu.budget import (
    BudgetError,
    Deadline,
    Limits,
    RequestTimeout,
    occlusion_positions,
    plan_explanation,
)
from blvnet_edu.clips import load_clip
from blvnet_edu.data import video_io
from blvnet_edu.data.sampling import segment_indices
from blvnet_edu.data.transforms import resize_short_side
from blvnet_edu.data.video_io import VideoDecodeError, decode_work, read_frames, resize_video, write_video
from blvnet_edu.inference import load_predictor
from blvnet_edu.saved_run import SavedRun

DEMO = "app/demo/blvnet_tam_tiny.pt"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("budget")
    return {
        "one key frame": h264_clip(
            folder / "one_key.mp4", ramp_frames(1000), keyint=100000
        ),  # 40 s behind a single key frame
        "key frame every second": h264_clip(folder / "regular.mp4", ramp_frames(1000), keyint=25),
        "short": h264_clip(folder / "short.mp4", ramp_frames(60)),
    }


def decoded_count(path, indices, monkeypatch) -> int:
    """Frames `read_frames` really decodes (its guard counts them)."""
    counters = []
    real = video_io._Counter
    monkeypatch.setattr(video_io, "_Counter", lambda *a: counters.append(real(*a)) or counters[-1])
    read_frames(path, indices)
    monkeypatch.setattr(video_io, "_Counter", real)
    return counters[0].count


@pytest.mark.parametrize("name", ["one key frame", "key frame every second", "short"])
@pytest.mark.parametrize("frames", [8, 16])
def test_decode_work_predicts_the_frames_read_frames_decodes(clips, name, frames, monkeypatch):
    path = clips[name]
    indices = segment_indices(video_io.probe_video(path).num_frames, frames, train=False)
    estimate, actual = decode_work(path, indices), decoded_count(path, indices, monkeypatch)
    assert abs(estimate - actual) <= 2 * frames, (estimate, actual)
    if name == "one key frame":  # every seek lands on frame 0: the cost a small file can hide
        assert actual > 3000


def test_a_clip_over_the_decode_budget_is_refused_before_decoding(clips, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although over budget")

    monkeypatch.setattr("blvnet_edu.clips.read_frames", no_decoding)
    with pytest.raises(
        BudgetError, match=r"decoding \d+ frames \(its key frames are far apart\); the limit is 4000"
    ):
        load_clip(clips["one key frame"], 16, 48, 56, limits=Limits(max_decode_frames=4000))
    with pytest.raises(
        BudgetError, match=r"64x48 \(0.0 Mpixel per frame\); the largest accepted is 0.0 Mpixel"
    ):
        load_clip(clips["short"], 8, 48, 56, limits=Limits(max_frame_pixels=32 * 32))
    with pytest.raises(BudgetError, match=r"Gpixel\); the limit is 1e-05 Gpixel"):
        load_clip(clips["short"], 8, 48, 56, limits=Limits(max_decode_gpix=1e-5))


def test_the_decode_guard_stops_a_walk_the_estimate_missed(clips):
    indices = segment_indices(1000, 8, train=False)
    with pytest.raises(VideoDecodeError, match="decoding stopped after 100 frames"):
        read_frames(clips["one key frame"], indices, max_decoded=100)
    assert read_frames(clips["key frame every second"], indices, max_decoded=400).shape == (8, 3, 48, 64)


def test_within_budget_clips_give_the_same_clip_as_without_limits(clips):
    for path in clips.values():
        free, limited = load_clip(path, 8, 48, 56), load_clip(path, 8, 48, 56, limits=Limits())
        assert torch.equal(free.input, limited.input) and free.indices == limited.indices


def test_rotation_metadata_is_applied_as_players_do(tmp_path):
    """A phone's portrait video: landscape pixels and a display matrix. FFmpeg's players turn
    it counter-clockwise by the angle (checked here once against `ffmpeg -i` autorotation:
    the top-left corner of the pixels ends bottom-left)."""
    pixels = np.zeros((4, 48, 96, 3), np.uint8)
    pixels[:, :16, :16] = 255  # a white top-left corner
    for angle, corner in ((90, (-8, 8)), (-90, (8, -8)), (180, (-8, -8)), (0, (8, 8))):
        path = h264_clip(tmp_path / f"rot{angle}.mp4", pixels, rotation=angle)
        frames = read_frames(path, [0, 3])  # (T, 3, H, W)
        expected = (96, 48) if angle in (90, -90) else (48, 96)
        assert tuple(frames.shape[-2:]) == expected, angle
        assert frames[0, 0, corner[0], corner[1]] > 200 and frames[0, 0].float().mean() < 60, angle
        clip = load_clip(path, 4, 32, 32)  # the model sees the upright picture too
        assert clip.frames.shape == (4, 3, 32, 32)
    upright = resize_video(
        tmp_path / "rot90.mp4", tmp_path / "small.mp4", 24
    )  # dataset prep keeps it upright
    assert tuple(read_frames(upright, [0]).shape[-2:]) == (48, 24)


def test_exif_orientation_of_frame_folder_images(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    image = np.zeros((48, 96, 3), np.uint8)
    image[:16, :16] = 255
    for i in (1, 2):
        exif = Image.Exif()
        exif[0x0112] = 8  # EXIF orientation 8: turn 90 degrees counter-clockwise to display
        Image.fromarray(image).save(folder / f"{i:05d}.jpg", exif=exif, quality=95)
    frames = read_frames(folder, [0, 1])
    assert tuple(frames.shape[-2:]) == (96, 48) and frames[0, 0, -8, 8] > 200


def test_large_frames_are_scaled_down_while_decoding(tmp_path):
    """`max_short_side` (what load_clip asks: twice the short side it needs) and the final
    antialiased resize give nearly the clip of the full-size path."""
    frames = index_frames(6, height=720, width=1280)
    path = write_video(tmp_path / "hd.mp4", frames, fps=5)
    small = read_frames(path, [0, 5], max_short_side=256)
    assert tuple(small.shape[-2:]) == (256, 455)
    full = read_frames(path, [0, 5])
    resize = resize_short_side
    assert (resize(small, 128).float() - resize(full, 128).float()).abs().mean() < 1.5  # grey levels


def test_decoding_a_4k_clip_holds_no_4k_frames(tmp_path):
    """Peak memory of `load_clip` on 16 frames of 3840x2160 (a fresh process): about 1.2 GB
    when every RGB frame was kept at full size, about 0.1 GB now (docs/benchmarks/app_limits.md)."""
    frames = np.zeros((16, 2160, 3840, 3), np.uint8)
    frames[:, :, :1920] = 120
    path = h264_clip(tmp_path / "uhd.mp4", frames, keyint=8)
    code = textwrap.dedent(f"""
        import resource
        from blvnet_edu.clips import load_clip
        from blvnet_edu.budget import Limits
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        clip = load_clip({path!r}, 16, 112, 128, limits=Limits())
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    grew_mb = int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert grew_mb < 400, grew_mb


def test_networks_and_label_lists_over_the_limits_are_refused_before_allocation(tmp_path):
    run = SavedRun.load(DEMO)
    huge = tmp_path / "huge_classes.pt"  # the tiny weights, with a config that declares 300,000 classes
    names = [f"class {i}" for i in range(300_000)]
    dataclasses.replace(run, config=dataclasses.replace(run.config, num_classes=300_000), classes=names).save(
        huge
    )
    assert huge.stat().st_size < 10_000_000  # the weights stay the tiny ones: the file is small
    with pytest.raises(
        ValueError,
        match=r"its structure .* is 6\.5 MB, more than a checkpoint within the limits needs \(4\.0 MB\)",
    ):
        load_predictor(huge, limits=Limits())  # refused before its 300,000 names are unpickled
    many = tmp_path / "many_classes.pt"  # small enough to read: its class count is refused
    names = [f"class {i}" for i in range(20_000)]
    dataclasses.replace(run, config=dataclasses.replace(run.config, num_classes=20_000), classes=names).save(
        many
    )
    with pytest.raises(BudgetError, match="declares 20000 classes; the limit is 10000"):
        load_predictor(many, limits=Limits())
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(300_000)))
    with pytest.raises(BudgetError, match="list 300000 classes; the limit is 10000"):
        load_predictor(DEMO, labels=labels, limits=Limits())
    with pytest.raises(BudgetError, match="network of 1M parameters; the limit is 0.5M"):
        load_predictor(DEMO, limits=Limits(max_params_m=0.5))
    assert load_predictor(DEMO, limits=Limits()).classes == run.classes


def test_occlusion_is_scaled_down_then_refused_and_ig_takes_fewer_steps():
    limits = Limits(max_explain_gflop=100, max_explain_passes=10_000)
    fine = plan_explanation("occlusion", 8, 48, 0.01, 16, limits)  # 8 x 225 patches: fits
    assert fine.occlusion_window == 6 and fine.note == ""
    coarse = plan_explanation("occlusion", 32, 48, 0.1, 16, limits)  # 32 x 225 patches at 0.1 GFLOP: too many
    assert coarse.occlusion_window > 6 and "patches instead of 6" in coarse.note
    assert occlusion_positions(32, 48, 48, coarse.occlusion_window) * 0.1 <= 100
    with pytest.raises(BudgetError, match="choose Saliency or Grad-CAM, or fewer frames"):
        plan_explanation("occlusion", 16, 224, 23.8, 16, Limits())  # bLVNet-TAM-50 at 16 frames
    ig = plan_explanation("integrated_gradients", 16, 224, 23.8, 16, Limits())
    assert ig.steps == 8 and "8 steps instead of 16" in ig.note and ig.gflop <= 1000
    assert plan_explanation("saliency", 16, 224, 23.8, 16, Limits()).note == ""
    with pytest.raises(
        BudgetError,
        match=r"about 476 GFLOP in 20 forward passes; the limits are 100 GFLOP and 600 passes: "
        r"choose fewer frames$",
    ):
        plan_explanation("saliency", 16, 224, 23.8, 16, Limits(max_explain_gflop=100))
    # the demo model at 32 frames: 0.14 GFLOP a pass, but 7,200 patches: the pass limit decides
    demo = plan_explanation("occlusion", 32, 48, 0.14, 16, Limits())
    assert demo.occlusion_window == 24 and occlusion_positions(32, 48, 48, 24) + 33 <= 600


def test_explain_follows_the_plan_and_stops_at_the_deadline():
    predictor = load_predictor(DEMO).at_frames(32)
    clip = load_clip("app/examples/moving_left.mp4", 32, predictor.size, predictor.resize)
    result = inference.explain(predictor, clip, None, "occlusion", limits=Limits())
    assert "24-pixel patches instead of 6" in result.note and result.maps.shape == (32, 48, 48)
    deadline = Deadline(0.001)
    time.sleep(0.01)
    with pytest.raises(RequestTimeout, match="the explanation took longer than the limit of 0.001 s"):
        inference.explain(predictor, clip, None, "saliency", deadline=deadline)


def test_limits_are_validated_and_become_options():
    with pytest.raises(ValueError, match="max_classes must be > 0"):
        Limits(max_classes=0)
    parser = argparse.ArgumentParser()
    Limits.add_arguments(parser)
    args = parser.parse_args(["--max-decode-frames", "100", "--timeout-s", "5"])
    assert Limits.from_args(args) == Limits(max_decode_frames=100, timeout_s=5.0)


def test_the_work_of_a_method_in_forward_passes_with_and_without_frame_removal():
    with_removal = plan_explanation("saliency", 8, 48, 0.04, 16, Limits())
    alone = plan_explanation("saliency", 8, 48, 0.04, 16, Limits(), frame_test=False)
    assert (with_removal.passes, alone.passes) == (3 + 9, 3) and alone.gflop == pytest.approx(3 * 0.04)


def test_time_estimates_from_a_measured_forward_pass():
    from blvnet_edu.budget import (
        ForwardTiming,
        explanation_seconds,
        fit_occlusion_window,
        fit_steps,
        occlusion_batch,
    )

    timing = ForwardTiming(single=0.4, extra=0.35)  # a large model: batching saves little
    assert timing.batch(4) == pytest.approx(0.4 + 3 * 0.35)
    assert explanation_seconds("saliency", 16, 224, timing) == pytest.approx(4 * 0.4)
    assert explanation_seconds("gradcam", 16, 224, timing) == pytest.approx(8 * 0.4)
    assert explanation_seconds("integrated_gradients", 16, 224, timing, steps=6) == pytest.approx(
        4 * (timing.batch(4) + timing.batch(2))
    )
    assert fit_steps(16, 224, timing, 8.0, 32) == 5  # batches of 4 and 1 clips: 7.4 s; 6 steps: 8.2 s
    assert fit_steps(16, 224, ForwardTiming(0.01, 0.002), 8.0, 32) == 32  # a tiny model: every step
    assert occlusion_batch(16, 224, 224) == 8 and occlusion_batch(8, 48, 48) == 32
    assert occlusion_batch(32, 48, 48) == 8  # 256 frames at most
    patches = occlusion_positions(8, 48, 48, 6)  # 1800
    assert explanation_seconds("occlusion", 8, 48, ForwardTiming(0.01, 0.001), window=6) == pytest.approx(
        0.01 + patches // 32 * (0.01 + 31 * 0.001) + (0.01 + (patches % 32 - 1) * 0.001)
    )
    small = ForwardTiming(0.01, 0.001)
    window = fit_occlusion_window(8, 48, small, 1.0)
    assert window > 6 and explanation_seconds("occlusion", 8, 48, small, window=window) <= 1.0
    # nothing fits: 28, 42, 63, 95 px (<= half the frame)
    assert fit_occlusion_window(16, 224, timing, 1.0) == 95
    with pytest.raises(ValueError, match="unknown method"):
        explanation_seconds("magic", 8, 48, small)


@pytest.mark.parametrize("width, height", [(4000, 8), (8, 4000)])
def test_a_sliver_of_a_frame_is_refused_before_decoding(tmp_path, width, height, monkeypatch):
    """The sweep's 30000x4 clip passed the frame-pixel limit (120,000 pixels) and resizing its
    short side to the model's made 1,920,000x256 frames: 5 GB for 32 frames. The aspect ratio
    and what the pipeline would make are checked on the header, before decoding."""
    path = h264_clip(tmp_path / "sliver.mp4", ramp_frames(16, height, width))
    monkeypatch.setattr(clips_module, "read_frames", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(
        BudgetError,
        match=rf"the video is {width}x{height}: its long side is 500 times its short side; the limit is 8",
    ):
        load_clip(path, 8, 48, 48, limits=Limits())
    frames = torch.zeros(16, 3, height, width, dtype=torch.uint8)  # frames in memory: the same check
    with pytest.raises(BudgetError, match="500 times its short side"):
        load_clip(frames, 8, 48, 48, limits=Limits())
    monkeypatch.undo()
    assert load_clip(path, 8, 48, 48).frames.shape == (8, 3, 48, 48)  # without limits: the library's choice


def test_what_the_pipeline_makes_is_bounded(tmp_path):
    """Resized frames plus the model input, per clip: T x 3 x (resized pixels + 4 x crop pixels)."""
    frames = torch.zeros(16, 3, 64, 256, dtype=torch.uint8)  # 4:1, within the aspect limit
    limits = Limits(max_clip_mb=1.0)
    # 8 frames resized to 448x112 and cropped to 112: 8 x 3 x (448 x 112 + 4 x 112 x 112) bytes = 2.3 MB
    with pytest.raises(
        BudgetError, match=r"resized to 448x112 and cropped to 112x112 would take 2 MB; the limit"
    ):
        load_clip(frames, 8, 112, 112, limits=limits)
    assert load_clip(frames, 2, 48, 48, limits=limits).input.shape == (1, 2, 3, 48, 48)


@pytest.mark.parametrize("frames", [0, -2, 100_000, 2.0])
def test_a_clip_length_out_of_range_is_refused(frames):
    clip = torch.zeros(16, 3, 48, 48, dtype=torch.uint8)
    with pytest.raises(BudgetError, match="frames"):
        load_clip(clip, frames, 48, 48, limits=Limits())
    predictor = load_predictor(DEMO)
    with pytest.raises((BudgetError, ValueError), match="frames"):
        predictor.at_frames(frames, limits=Limits())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"size": 0}, "size must be a whole number >= 32, got 0"),
        ({"resize": -5}, "resize must be a whole number >= 32, got -5"),
        ({"size": 100_000, "resize": 100_000}, "takes 100000x100000 input; the limit is 640"),
        ({"num_frames": 100_000}, "100000 frames per clip is over the limit of 64"),
        (
            {"num_frames": 64, "size": 640},
            r"costs \d+ GFLOPs per clip of 64 frames at 640 px; the limit is 1",
        ),
    ],
)
def test_options_of_load_predictor_are_checked(options, message):
    limits = Limits(max_clip_gflop=1.0)
    with pytest.raises(ValueError, match=message):
        load_predictor(DEMO, limits=limits, **options)
