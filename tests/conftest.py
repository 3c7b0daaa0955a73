"""Shared test helpers: the authors' reference data and small inputs."""

from __future__ import annotations

import json
import math
import socket
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from blvnet_edu import build_model
from blvnet_edu.data.kinetics import make_subset
from blvnet_edu.data.synthetic import make_synthetic
from blvnet_edu.data.video_io import write_video
from blvnet_edu.engine.config import TrainConfig
from blvnet_edu.inference import Predictor
from blvnet_edu.models.fast import prepare_for_inference
from blvnet_edu.saved_run import Preprocessing, SavedRun

REFERENCE_DIR = Path(__file__).parent / "data" / "official_blvnet_tam"
# the CUDA case of a test parametrized by device: skipped where no GPU is present (`pytest -m cuda` runs them)
CUDA = pytest.param(
    "cuda",
    marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")],
)


CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/setup.sh); never `playwright install`
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright):
    """Debian's Chromium, headless, with nothing of its own going to the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def official_manifest() -> dict[str, list[int]]:
    """Every key of the authors' bLVNet-TAM-50 state dict with its shape."""
    return json.loads((REFERENCE_DIR / "state_dict_blvnet_tam_50.json").read_text())


def official_logits() -> dict:
    return json.loads((REFERENCE_DIR / "logits_blvnet_tam_50_f8x2.json").read_text())


def deterministic_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """The reference weights, exactly as described in data/official_blvnet_tam/README.md."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    f64 = torch.float64
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    if key.endswith("running_var"):
        return 1.0 + 0.1 * torch.rand(shape, generator=g, dtype=f64)
    if key.endswith("running_mean") or key.endswith("bias"):
        return 0.1 * torch.randn(shape, generator=g, dtype=f64)
    if len(shape) == 1:
        return 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=f64)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g, dtype=f64) * math.sqrt(2.0 / fan_in)


def official_state_dict(manifest: dict[str, list[int]] | None = None) -> dict[str, torch.Tensor]:
    manifest = official_manifest() if manifest is None else manifest
    return {key: deterministic_tensor(key, shape) for key, shape in manifest.items()}


@pytest.fixture(scope="session")
def reference_state_dict() -> dict[str, torch.Tensor]:
    return official_state_dict()


def save_in_authors_format(state: dict[str, torch.Tensor], path) -> None:
    """Weights saved as the authors' released files are: DataParallel names in a `state_dict`."""
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, path)


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter and BN statistic a generic random value (no zero-init, no identity TAM)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(1.0 + 0.1 * torch.rand(tensor.shape, generator=g))
            elif tensor.ndim == 1 and not name.endswith("running_mean"):
                tensor.copy_(1.0 + 0.1 * torch.randn(tensor.shape, generator=g))
            else:
                fan_in = max(1, math.prod(tensor.shape[1:]))
                tensor.copy_(torch.randn(tensor.shape, generator=g) * math.sqrt(2.0 / fan_in))
    return model


def random_video(batch: int, frames: int, size: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 3, size, size, generator=g, dtype=dtype)


INDEX_BITS = 12  # frames up to 4095


def index_frames(count: int, height: int = 48, width: int = 96, start: int = 0) -> torch.Tensor:
    """`(T, 3, H, W)` uint8 frames whose picture encodes the frame index in binary bars,
    robust to lossy compression."""
    frames = torch.zeros(count, 3, height, width, dtype=torch.uint8)
    bar = width // INDEX_BITS
    for i in range(count):
        for b in range(INDEX_BITS):
            if ((start + i) >> b) & 1:
                frames[i, :, :, b * bar : (b + 1) * bar] = 255
    return frames


def decode_index(frames: torch.Tensor) -> list[int]:
    """Inverse of `index_frames` on decoded (possibly resized) frames."""
    width = frames.shape[-1]
    bar = width / INDEX_BITS
    out = []
    for frame in frames:
        value = 0
        for b in range(INDEX_BITS):
            lo, hi = int(b * bar + bar * 0.3), int((b + 1) * bar - bar * 0.3)
            if frame[:, :, lo:hi].float().mean() > 127:
                value |= 1 << b
        out.append(value)
    return out


def flip_tensor_byte(path, record: int = 0) -> None:
    """Flip one byte in the middle of tensor storage `record` of a `torch.save` file, in place.

    PyTorch's zip records hold the raw bytes of each storage (`<archive>/data/<record>`, numbered
    in the order they were saved) and torch does not check them on load: the file still loads
    with `torch.load`, and only its CRC-32s (`models.checkpoints.check_archive`) tell."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(f"/data/{record}"))
    data = bytearray(Path(path).read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len  # after the local file header
    data[start + info.file_size // 2] ^= 0xFF
    Path(path).write_bytes(data)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for servers in tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def h264_clip(path, frames: np.ndarray, fps: int = 25, keyint: int = 250, rotation: int | None = None) -> str:
    """`(T, H, W, 3)` uint8 as H.264 with key frames every `keyint` frames (and a display rotation)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {
            "preset": "ultrafast",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return str(path)


def ramp_frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    """`(T, H, W, 3)` uint8 frames whose left half is grey level `t % 200`: every frame differs."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[:, :, : width // 2] = (np.arange(count) % 200).reshape(-1, 1, 1, 1)
    return frames


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """32 synthetic clips (24 train, 8 val) through the Kinetics pipeline: a folder of lists."""
    root = tmp_path_factory.mktemp("synthetic")
    csv_path = make_synthetic(root / "raw", 70, seed=0, size=40, frames=8, fps=8, val_fraction=0.2)
    make_subset(
        [csv_path], root / "raw" / "videos", root / "lists", per_class=4, num_classes=8, val_per_class=1
    )
    return root / "lists"


def tiny_config(dataset, out, **overrides):
    """A two-epoch training of the tiny bLVNet-TAM (4 frames, 32 px) on `dataset`."""
    values = dict(
        model="blvnet_tam_tiny",
        model_options={"num_frames": 4, "dropout": 0.0},
        data=str(dataset),
        size=32,
        resize=32,
        scales=(1.0, 0.875),
        epochs=2,
        batch_size=4,
        lr=0.05,
        workers=0,
        threads=1,
        out=str(out),
        seed=3,
    )
    values.update(overrides)
    return TrainConfig(**values)


# A tiny model's checkpoint, a clip file and three architectures ready for inference: what the tests of
# inference.py, clips.py, clip_cache.py, order_comparison.py and model_card.py run on.
CLASSES = [f"class {i}" for i in range(10)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random tiny bLVNet-TAM (8 frames, `CLASSES`) saved with its preprocessing (48 px, short side 56)."""
    model = randomize_(build_model("blvnet_tam_tiny", num_frames=8))
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    SavedRun(model.config, CLASSES, model.state_dict(), Preprocessing(48, 56)).save(path)
    return path


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """40 frames of 60x96, each showing its index (`index_frames`), at 10 fps."""
    return write_video(tmp_path_factory.mktemp("clips") / "clip.mp4", index_frames(40, 60, 96), fps=10)


@pytest.fixture(scope="module")
def three_models():
    """TSN, bLVNet without TAM and bLVNet-TAM with generic random weights (no identity TAM)."""
    predictors = {}
    for seed, name in enumerate(["tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"]):
        model = randomize_(build_model(name, num_classes=len(CLASSES), num_frames=8), seed=seed).eval()
        with torch.no_grad():  # logits of order 1, so that no softmax saturates and hides a change
            scale = model(random_video(1, 8, 48)).std()
            model.fc.weight /= scale
            model.fc.bias /= scale
        predictors[name] = Predictor(name, prepare_for_inference(model), CLASSES, 48, 56)
    return predictors
