# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Video as tensors: decoding, sampling, transforms
#
# A video file is not a tensor. Between the mp4 on disk and the `(B, T, C, H, W)` batch a
# model eats there are three decisions: **which frames** to decode (sampling), **how** to
# decode them cheaply (seeking), and **what** to do to their pixels (crops, normalisation).
# This notebook makes each of them visible.
#
# **Objectives.** After this notebook you can
# - read a video's header, decode the frames you ask for with PyAV, and write an H.264 mp4
#   (`blvnet_edu.data.video_io`),
# - explain what a key frame is and why seeking makes sampling a few frames of a long video
#   cheap,
# - write TSN segment sampling from its formula and prove it equals
#   `blvnet_edu.data.sampling.segment_indices`, in evaluation and in training mode; use
#   dense sampling and several clips per video,
# - apply the training and evaluation transforms (multi-scale crop, 3 crops, ImageNet
#   normalisation) and say why horizontal flipping is off,
# - move between the `(B, T, C, H, W)` layout and the `(B*T, C, H, W)` batch of frames that
#   a 2D CNN sees (`fold_time` / `unfold_time`).
#
# **Before you start.** Prerequisites: notebook 1 (folding time into the batch). Run time on
# 2 CPU cores: quick mode (`BLVNET_EDU_QUICK=1`, what the tests run) about 15 s; full mode
# (the default) about 80 s.

# %%
import math
import time
from fractions import Fraction

import av
import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw, ImageFont

from blvnet_edu.data.sampling import dense_indices, multi_clip_indices, segment_indices
from blvnet_edu.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    EvalTransform,
    TrainTransform,
    center_crop,
    hflip,
    multi_scale_crop,
    normalize,
    resize_short_side,
    three_crops,
)
from blvnet_edu.data.video_io import probe_video, read_frames, read_video, write_video
from blvnet_edu.explain.figures import frames_figure
from blvnet_edu.inference import load_predictor, predict
from blvnet_edu.models.temporal import fold_time, unfold_time
from course import DEMO, EXAMPLES, WORK, check, pick, setup

setup()

# %% [markdown]
# ## Reading a video: header first, pixels later
#
# An mp4 file is a *container* (it holds streams and an index of where each compressed
# frame sits) around a *codec* stream (here H.264). `probe_video` reads only the header:
# how many frames, at what rate, how large. Nothing is decoded, so it is cheap even for an
# hour-long file.
#
# The course ships one example clip per class of its synthetic dataset in `app/examples/`.

# %%
for path in sorted(EXAMPLES.glob("*.mp4")):
    info = probe_video(path)
    print(f"{path.name:28s} {info.num_frames} frames, {info.fps:g} fps, {info.duration:g} s, "
          f"{info.width}x{info.height}")

# %% [markdown]
# `read_video` decodes everything. Frames come back as a `uint8` tensor `(T, 3, H, W)`:
# time first, then RGB channels, then pixels, the layout torchvision's transforms and our
# models use.

# %%
clip = read_video(EXAMPLES / "moving_left.mp4")  # (T, 3, H, W) uint8
print(tuple(clip.shape), clip.dtype)  # (32, 3, 80, 80) torch.uint8
frames_figure(clip[::4], [f"frame {t}" for t in range(0, len(clip), 4)],
              title="moving_left.mp4, every 4th frame").show()

# %% [markdown]
# ## A video that shows its own frame numbers
#
# To *see* what sampling and seeking do, we write our own test video: frame `i` shows the
# number `i` in large digits and, in a strip at the bottom, the same number in binary
# (12 black/white blocks), so that code can read the number back from the decoded pixels.
# The background colour drifts slowly so that neighbouring frames differ a little, as in
# real video.
#
# `write_video` encodes `(T, 3, H, W)` uint8 frames as H.264 in an mp4 (yuv420p, the format
# every browser plays). H.264 is lossy, which is why the code uses large blocks and
# thresholds their mean brightness.

# %%
H, W, BITS, FPS = 96, 128, 12, 30
FONT = ImageFont.load_default(size=40)


def counter_frame(i: int, n: int) -> np.ndarray:
    """Frame `i` of `n`: its number in digits and in binary. `(3, H, W)` uint8."""
    colour = tuple(int(80 + 60 * math.sin(2 * math.pi * (i / n + k / 3))) for k in range(3))
    image = Image.new("RGB", (W, H), colour)
    draw = ImageDraw.Draw(image)
    draw.text((W / 2, 38), str(i), fill="white", font=FONT, anchor="mm")
    draw.rectangle([0, H - 18, W, H], fill=(128, 128, 128))
    for b in range(BITS):  # most significant bit first
        on = (i >> (BITS - 1 - b)) & 1
        draw.rectangle([4 + 10 * b, H - 16, 13 + 10 * b, H - 3], fill=(255,) * 3 if on else (0,) * 3)
    return np.asarray(image).transpose(2, 0, 1)  # (3, H, W)


def frame_numbers(frames: torch.Tensor) -> list[int]:
    """Read the binary strip of decoded counter frames `(T, 3, H, W)` back as numbers."""
    blocks = torch.stack([frames[:, :, H - 12 : H - 7, 7 + 10 * b : 11 + 10 * b].float().mean((1, 2, 3))
                          for b in range(BITS)], dim=1)  # (T, BITS) mean brightness
    bits = (blocks > 128).long()
    return (bits * (2 ** torch.arange(BITS - 1, -1, -1))).sum(1).tolist()


N = pick(600, 3000)  # frames: 20 s or 100 s at 30 fps
counter_path = WORK / f"counter_{N}.mp4"
if not counter_path.exists():
    write_video(counter_path, np.stack([counter_frame(i, N) for i in range(N)]), fps=FPS)
info = probe_video(counter_path)
print(info)
assert info.num_frames == N and (info.width, info.height) == (W, H)

# %%
every_frame = read_video(counter_path)  # (N, 3, H, W): decodes all of them
assert frame_numbers(every_frame) == list(range(N)), "the binary strip survives H.264"
print(f"decoded {len(every_frame)} frames; every frame reads back its own number")

# %% [markdown]
# ## Key frames, and why seeking is cheap
#
# H.264 stores a few **key frames** (I-frames) completely; every other frame is stored as
# the difference from frames already decoded. So you cannot decode frame 2000 alone: the
# decoder has to start at the key frame before it and decode forward. A *group of
# pictures* (GOP) is a key frame and the frames that depend on it.
#
# The container's index says where the key frames are. Let's list them without decoding
# anything (`demux` reads compressed packets only).


# %%
def key_frames(path) -> list[int]:
    """Indices of the key frames, from the compressed packets (nothing decoded)."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(video=0) if p.size > 0]  # the last packet is empty
        packets.sort(key=lambda p: p.pts)  # packets come in decoding order; show order is pts order
        return [i for i, p in enumerate(packets) if p.is_keyframe]


print("key frames of the counter video:", key_frames(counter_path))

# %% [markdown]
# `write_video` leaves the key-frame spacing to libx264 (at most 250 frames apart, closer
# where the picture changes a lot). Web video usually has a key frame every 1-4 seconds,
# so, for comparison, we also write the same frames with a key frame every second: the
# `g` (GOP size) option of libx264, set directly through PyAV.


# %%
def write_with_gop(path, frames: np.ndarray, fps: int, gop: int):
    """Like `write_video`, with a key frame at least every `gop` frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[-1], frames.shape[-2], "yuv420p"
        stream.options = {"g": str(gop), "crf": "20", "preset": "veryfast"}
        for image in frames:  # (3, H, W) -> (H, W, 3) for PyAV
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image.transpose(1, 2, 0)), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())  # flush the encoder


gop_path = WORK / f"counter_{N}_gop{FPS}.mp4"
if not gop_path.exists():
    write_with_gop(gop_path, every_frame.numpy(), FPS, gop=FPS)
print("key frames, one per second:", key_frames(gop_path)[:12], "...")

# %% [markdown]
# `read_frames(path, indices)` decodes only what it needs: for each wanted frame that lies
# more than `seek_threshold` seconds (default 1 s) ahead, it *seeks* to the key frame
# before it and decodes forward from there; otherwise it keeps decoding. Frame `i` is the
# frame on screen at time `start + i / fps`.
#
# Reading back the binary strip proves that we get exactly the frames asked for, in the
# order asked, repeats included.

# %%
wanted = [5, 2000 % N, 123, 123, N - 1]
got = read_frames(counter_path, wanted)  # (5, 3, H, W)
print("asked for", wanted, "-> the frames say", frame_numbers(got))
assert frame_numbers(got) == wanted
assert torch.equal(got, every_frame[wanted]), "the same pixels as decoding everything"

# %% [markdown]
# How much does it save? We time four ways to get the 8 evaluation frames of the video:
# `read_frames` as it is (seeking), `read_frames` told never to seek (it decodes straight
# through and converts the 8 frames it returns), decoding every frame without converting
# any to RGB, and `read_video` (decode and convert every frame), then pick. Best of 3, on
# this machine, now: an illustration, not a benchmark (`benchmarks/data_decode.py` is
# the benchmark, on a 2-minute 640x360 video).


# %%
def decode_all_no_rgb(path) -> int:
    """Decode every frame but convert none: the cost of decoding alone."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def best_of(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


indices = segment_indices(N, 8, train=False)
timing = go.Figure()
for name, path in (("libx264's default key frames", counter_path), ("a key frame every second", gop_path)):
    seconds = {
        "read_frames (seek)": best_of(lambda: read_frames(path, indices)),
        "read_frames, never seek": best_of(lambda: read_frames(path, indices, seek_threshold=math.inf)),
        "decode all, no RGB": best_of(lambda: decode_all_no_rgb(path)),
        "read_video, then pick": best_of(lambda: read_video(path)[indices]),
    }
    print(f"{name:30s}", "  ".join(f"{k}: {1000 * v:6.1f} ms" for k, v in seconds.items()),
          f"  seek speed-up vs read_video: {seconds['read_video, then pick'] / seconds['read_frames (seek)']:.1f}x")
    timing.add_bar(name=name, x=list(seconds), y=[1000 * v for v in seconds.values()])
timing.update_layout(title=f"8 frames out of {N} ({N // FPS} s at {FPS} fps, {W}x{H})", barmode="group",
                     yaxis_title="milliseconds (best of 3)", template="plotly_white")
timing.show()

# %% [markdown]
# Two effects add up. First, converting a decoded frame to an RGB array costs more than
# decoding it (compare the last two bars): `read_video` converts every frame,
# `read_frames` only those it returns. Second, seeking skips whole GOPs, which pays when
# key frames are close together. When they are far apart (250 frames here) a seek for
# the next frame can land on the same key frame as the one before and decode the same
# frames again, so seeking saves less, and on a short video it can cost more than
# decoding straight through (compare the first two bars of each group, in quick mode's
# 20-second video and in full mode's 100 seconds). The longer the video and the larger
# its frames, the more both effects matter: on 640x360 frames they decide whether a data
# loader keeps up with the GPU.

# %% [markdown]
# ## Which frames? TSN segment sampling
#
# A model sees a fixed number `T` of frames, but videos have any number `N` of frames. TSN
# (Wang et al., 2016) splits the video into `T` segments of equal length $\ell = N / T$ and
# takes one frame from each:
#
# $$ i_k = \min\!\big(N - 1,\ \lfloor \ell\,(k + o_k) \rfloor\big), \qquad k = 0, \dots, T-1, $$
#
# with $o_k = \tfrac12$ for evaluation (the centre of each segment; `position` moves it) and
# $o_k \sim \mathcal{U}[0, 1)$ drawn independently per segment for training (a different
# frame of each segment every epoch, a form of augmentation). Since
# $\ell k \le \ell(k + o_k) < \ell(k + 1)$, frame $i_k$ lies in
# $[\lfloor \ell k \rfloor, \ell(k + 1))$: in segment $k$, up to the rounding down at its
# start, so two neighbouring segments can pick the same frame when $\ell$ is not a whole
# number. The clip spans the whole video whatever its length, and the frames stay in order. When $N < T$,
# $\ell < 1$ and frames repeat. This is what `blvnet_edu.data.sampling.segment_indices`
# does, and what our engine trains with.
#
# The authors' bLVNet-TAM code samples its training clips differently
# (`core/video_dataset.py`, `_sample_indices`, with one frame per segment): it draws **one**
# offset $o \in \{0, \dots, \lfloor N/T \rfloor - 1\}$ and reuses it for every segment,
# $i_k = k \lfloor N/T \rfloor + o$. Its frames are evenly spaced, at a random phase; ours are
# jittered independently inside their segments. We compare both after the package's check.


# %%
def tsn_segments(num_frames, clip_frames, train, generator=None, position=0.5):
    """TSN segment sampling from the formula above."""
    length = num_frames / clip_frames  # ℓ = N / T
    if train:
        offsets = torch.rand(clip_frames, generator=generator).tolist()  # o_k ~ U[0, 1)
    else:
        offsets = [position] * clip_frames
    return [min(num_frames - 1, math.floor(length * (k + o))) for k, o in enumerate(offsets)]


print("N=300, T=8, eval :", tsn_segments(300, 8, train=False))
print("N=5,   T=8, eval :", tsn_segments(5, 8, train=False), "(frames repeat)")
assert tsn_segments(5, 8, train=False) == [0, 0, 1, 2, 2, 3, 4, 4]  # exercise 1 below

# evaluation: equal to the package for every length, clip size and position
for n in range(1, 301):
    for t in (1, 2, 3, 4, 7, 8, 16, 32):
        for position in (0.0, 0.25, 0.5, 0.9):
            assert tsn_segments(n, t, False, position=position) == segment_indices(n, t, False, position=position)

# training: the same random draws give the same frames, and each lies in its own segment
for seed in range(200):
    n, t = 1 + seed * 7 % 400, (4, 8, 16)[seed % 3]
    ours = tsn_segments(n, t, True, torch.Generator().manual_seed(seed))
    theirs = segment_indices(n, t, True, torch.Generator().manual_seed(seed))
    assert ours == theirs
    assert all(math.floor(n / t * k) <= i < n / t * (k + 1) for k, i in enumerate(theirs)), "one frame per segment"
print("tsn_segments == segment_indices (eval and train); training frames stay inside their segments "
      "(up to rounding down)")


# %% [markdown]
# The authors' variant, written from their description above, next to ours: the gaps between
# consecutive training frames. One shared offset keeps every gap equal to $\lfloor N/T \rfloor$;
# independent offsets make the gaps vary from draw to draw (between 0, the same frame twice,
# and about $2\ell$).


# %%
def authors_segments(num_frames, clip_frames, generator=None):
    """One offset for every segment (the authors' training sampling, when N >= T)."""
    step = num_frames // clip_frames  # ⌊N / T⌋
    offset = int(torch.randint(step, (1,), generator=generator))  # o, shared by all segments
    return [k * step + offset for k in range(clip_frames)]


def gaps(indices):
    return sorted({b - a for a, b in zip(indices, indices[1:])})


generator = torch.Generator().manual_seed(0)
ours_gaps, theirs_gaps = set(), set()
for _ in range(200):
    ours_gaps.update(gaps(segment_indices(300, 8, True, generator)))
    theirs_gaps.update(gaps(authors_segments(300, 8, generator)))
print("N=300, T=8, 200 training draws: gaps between frames, ours:", f"{min(ours_gaps)}..{max(ours_gaps)}",
      "| the authors':", sorted(theirs_gaps))
assert theirs_gaps == {300 // 8}, "one shared offset: every gap is ⌊N/T⌋"
assert min(ours_gaps) < 300 // 8 < max(ours_gaps), "independent offsets: the gaps vary"
theirs_last = max(max(authors_segments(300, 8, generator)) for _ in range(200))
assert theirs_last <= 8 * (300 // 8) - 1 == 295, "the authors' frames end at 295: 296..299 never drawn"

# %% [markdown]
# Both keep one frame per segment. Ours spans the whole video; the authors' segments are
# $\lfloor N/T \rfloor$ frames long, so their training clips never reach the last
# $N - T \lfloor N/T \rfloor$ frames (for $N = 300$, $T = 8$: frames 296 to 299). Independent offsets show the model more
# different frame combinations (more augmentation, uneven spacing, so uneven apparent speed);
# the shared offset keeps the spacing, and so the apparent speed of a motion, fixed, as at
# evaluation. We keep TSN's independent offsets as our default; no measurement here says
# which trains better on the synthetic set.

# %% [markdown]
# On the counter video each sampled frame shows its own number. Evaluation takes the centre
# of each segment; every training draw takes some other frame of each segment.

# %%
generator = torch.Generator().manual_seed(0)
eval_indices = segment_indices(N, 8, train=False)
train_indices = segment_indices(N, 8, train=True, generator=generator)
sampled = read_frames(counter_path, eval_indices + train_indices)  # (16, 3, H, W)
assert frame_numbers(sampled) == eval_indices + train_indices
frames_figure(sampled, [f"eval {i}" for i in eval_indices] + [f"train {i}" for i in train_indices],
              title=f"TSN segments of a {N}-frame video: evaluation (top) and one training draw (bottom)").show()

# %% [markdown]
# The same on a timeline, with the segment boundaries $\ell k$ and 20 training draws.

# %%
timeline = go.Figure()
length = N / 8
for k in range(9):
    timeline.add_vline(x=k * length, line=dict(color="lightgrey", dash="dot"))
timeline.add_scatter(x=eval_indices, y=["evaluation"] * 8, mode="markers", name="evaluation (centres)",
                     marker=dict(size=12, symbol="diamond"))
draws = [segment_indices(N, 8, True, generator) for _ in range(20)]
timeline.add_scatter(x=[i for d in draws for i in d], y=[f"train draw {j:2d}" for j, d in enumerate(draws) for _ in d],
                     mode="markers", name="training draws", marker=dict(size=6))
timeline.update_layout(title="TSN segment sampling: one frame per segment", xaxis_title="frame index",
                       height=520, template="plotly_white")
timeline.show()

# %% [markdown]
# ## Dense sampling and several clips per video
#
# **Dense sampling** (I3D, SlowFast) takes `T` *consecutive* frames `stride` apart from one
# window of span $s = (T-1)\cdot\text{stride} + 1$: with room $r = \max(0, N - s)$ the
# window starts at a uniform $\text{start} \in \{0, \dots, r\}$ for training or at
# $\text{round}(r \cdot \text{position})$ for evaluation, and
# $i_j = \min(N-1,\ \text{start} + j\cdot\text{stride})$. It sees a short moment in detail,
# not the whole video.
#
# **Several clips per video** (testing): `multi_clip_indices` places `C` evaluation clips at
# positions $(c + \tfrac12)/C$, with segment sampling (each clip shifts the offset inside
# every segment) or with dense sampling (each clip is a window at another place). Their
# scores are averaged.


# %%
def dense_from_formula(num_frames, clip_frames, stride, position=0.5):
    span = (clip_frames - 1) * stride + 1
    room = max(0, num_frames - span)
    start = round(room * position)
    return [min(num_frames - 1, start + j * stride) for j in range(clip_frames)]


for n in (1, 5, 20, 100, N):
    for stride in (1, 2, 4, 8):
        for position in (0.0, 0.5, 1.0):
            assert dense_from_formula(n, 8, stride, position) == dense_indices(n, 8, stride, False, position=position)
print("dense, stride 4, eval:", dense_indices(N, 8, 4, train=False))
print("3 segment clips      :", multi_clip_indices(N, 8, 3))
print("3 dense clips        :", multi_clip_indices(N, 8, 3, stride=4))

# %%
rows = {"segments, eval": [segment_indices(N, 8, False)],
        "segments, 3 clips": multi_clip_indices(N, 8, 3),
        "dense stride 4, eval": [dense_indices(N, 8, 4, False)],
        "dense stride 4, 3 clips": multi_clip_indices(N, 8, 3, stride=4)}
samplers = go.Figure()
for name, clips in rows.items():
    for c, clip_indices in enumerate(clips):
        samplers.add_scatter(x=clip_indices, y=[name] * len(clip_indices), mode="markers+lines",
                             name=f"{name}, clip {c}", marker=dict(size=9), showlegend=False)
samplers.update_layout(title=f"Which 8 frames of {N} each sampler takes (one line per clip)",
                       xaxis=dict(title="frame index", range=[-10, N + 10]), template="plotly_white", height=350)
samplers.show()

dense_clip = read_frames(counter_path, dense_indices(N, 8, 4, False))
frames_figure(dense_clip, title="a dense clip (stride 4): a moment, not the whole video").show()

# %% [markdown]
# ## Transforms: the same crop for every frame
#
# The transforms work on a whole clip `(T, 3, H, W)` at once (torchvision.transforms.v2),
# and every frame gets the **same** resize and crop: cropping each frame at a different
# place would shift the content from frame to frame, motion that is not in the video.
#
# **Training** (`TrainTransform`, TSN's recipe): `multi_scale_crop` picks crop sides among
# $\lfloor s \cdot \min(H, W) \rfloor$ for the scales $s \in \{1, 0.875, 0.75, 0.66\}$
# (height and width from the same or neighbouring scales, so the aspect ratio changes a
# little), places it at one of 5 positions (4 corners, centre), and resizes it to
# `size x size`. **Evaluation** (`EvalTransform`): resize the short side to `resize`, take
# the centre crop, or 3 crops along the long side for 3-crop testing.

# %%
clip = read_frames(counter_path, eval_indices)  # (8, 3, 96, 128) uint8
crops = [multi_scale_crop(clip, 64, generator=torch.Generator().manual_seed(s))[0] for s in range(8)]
frames_figure(torch.stack(crops), [f"seed {s}" for s in range(8)],
              title="multi_scale_crop of frame 0: 8 random draws, each resized to 64x64").show()

# the window is shared by all frames: cropping each frame alone with the same draw gives the same pixels
seed = 3
whole = multi_scale_crop(clip, 64, generator=torch.Generator().manual_seed(seed))  # (8, 3, 64, 64)
alone = torch.cat([multi_scale_crop(clip[t : t + 1], 64, generator=torch.Generator().manual_seed(seed))
                   for t in range(len(clip))])
assert torch.equal(whole, alone), "one crop window for the whole clip"
print(tuple(clip.shape), "->", tuple(whole.shape))

# %% [markdown]
# Pixels then become floats and are normalised with the ImageNet statistics (the 2D
# backbones start from ImageNet weights), per channel $c$:
#
# $$ \hat x_c = \frac{x_c / 255 - \mu_c}{\sigma_c}, \quad
# \mu = (0.485, 0.456, 0.406),\ \sigma = (0.229, 0.224, 0.225). $$

# %%
mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
ours = (whole.float() / 255 - mean) / std  # (T, 3, 64, 64) float32
assert torch.allclose(ours, normalize(whole), atol=1e-6)

# TrainTransform = multi_scale_crop (+ optional flip) + normalize, with one generator
train_tf = TrainTransform(size=64)
assert torch.equal(train_tf(clip, torch.Generator().manual_seed(seed)), normalize(whole))
print("TrainTransform:", tuple(clip.shape), clip.dtype, "->", tuple(normalize(whole).shape), torch.float32)

# %% [markdown]
# Three crops along the long side, from scratch by slicing, against `three_crops`, and the
# evaluation transform that stacks them: `(crops, T, 3, size, size)`.

# %%
resized = resize_short_side(clip, 72)  # (8, 3, 72, 96): short side 96 -> 72
size = 64
h, w = resized.shape[-2:]
top = (h - size) // 2
by_slicing = [resized[..., top : top + size, left : left + size] for left in (0, (w - size) // 2, w - size)]
assert all(torch.equal(a, b) for a, b in zip(by_slicing, three_crops(resized, size)))

eval_tf = EvalTransform(size=64, resize=72, crops=3)
views = eval_tf(clip)  # (3, 8, 3, 64, 64)
assert torch.equal(views, torch.stack([normalize(c) for c in by_slicing]))
assert torch.equal(EvalTransform(size=64, resize=72)(clip), normalize(center_crop(resized, 64)))
print("EvalTransform(crops=3):", tuple(views.shape))
frames_figure(torch.stack([c[0] for c in by_slicing]), ["left", "centre", "right"], columns=3,
              title="3-crop testing: three 64x64 crops along the long side (frame 0)").show()

# %% [markdown]
# ### Why horizontal flipping is off
#
# Image classifiers are trained with random horizontal flips: a flipped cat is a cat. A
# flipped video of "moving left" is a video of "moving right": the flip changes the
# *label* of every direction-sensitive class (Something-Something has many: "pushing
# something from left to right"). `TrainTransform(flip=False)` is the default for this
# reason. The bundled bLVNet-TAM shows it: it reads a flipped "moving left" as "moving
# right" and a flipped clockwise rotation as anticlockwise, while "growing" is unchanged.

# %%
predictor = load_predictor(DEMO / "blvnet_tam_tiny.pt")
for name in ("moving_left", "rotating_clockwise", "growing"):
    video = read_video(EXAMPLES / f"{name}.mp4")  # (32, 3, 80, 80) uint8
    for how, frames in (("as recorded", video), ("flipped", hflip(video))):
        probs = predict(frames, predictor)
        best = max(probs, key=probs.get)
        print(f"{name:20s} {how:12s} -> {best:24s} p={probs[best]:.2f}")
        if name == "moving_left":
            assert best == ("moving left" if how == "as recorded" else "moving right")

video = read_video(EXAMPLES / "moving_left.mp4")[::8]
frames_figure(torch.cat([video, hflip(video)]), [f"t={t}" for t in range(0, 32, 8)] + [f"flipped t={t}" for t in range(0, 32, 8)],
              columns=4, title="moving left (top); flipped, it is moving right (bottom)").show()

# %% [markdown]
# ## The `(B, T, C, H, W)` layout, and folding time into the batch
#
# A `DataLoader` stacks `B` clips `(T, 3, H, W)` into `(B, T, C, H, W)`: batch, time,
# channels, height, width. (3D CNNs such as I3D use `(B, C, T, H, W)` because `Conv3d`
# wants channels first; bLVNet-TAM is a 2D CNN and keeps time next to the batch.)
#
# A 2D convolution takes `(N, C, H, W)`. To run it on every frame of every clip, fold time
# into the batch: `(B, T, C, H, W)` -> `(B*T, C, H, W)`, **clip-major**, so frame `t` of
# clip `b` lands at row $b \cdot T + t$. The reshape is free (no copy for a contiguous
# tensor) and `unfold_time` undoes it. Temporal modules (TAM, notebook 3) unfold, mix
# frames along `T`, and fold back.

# %%
B, T = 2, 8
batch = torch.stack([normalize(center_crop(resize_short_side(read_frames(EXAMPLES / f"{n}.mp4", segment_indices(32, T, False)), 64), 64))
                     for n in ("moving_left", "growing")])  # (B, T, C, H, W) = (2, 8, 3, 64, 64)
folded = fold_time(batch)  # (B*T, C, H, W) = (16, 3, 64, 64)
print(tuple(batch.shape), "-> fold_time ->", tuple(folded.shape), "-> unfold_time ->", tuple(unfold_time(folded, T).shape))

assert torch.equal(folded, batch.reshape(B * T, *batch.shape[2:])), "fold_time is a reshape"
assert all(torch.equal(folded[b * T + t], batch[b, t]) for b in range(B) for t in range(T)), "row b*T + t"
assert torch.equal(unfold_time(folded, T), batch), "unfold_time inverts it"
assert folded.data_ptr() == batch.data_ptr(), "no copy"

# a 2D conv on the folded batch is the same conv applied frame by frame
conv = torch.nn.Conv2d(3, 4, 3, padding=1)
with torch.no_grad():
    per_frame = torch.stack([conv(batch[:, t]) for t in range(T)], dim=1)  # (B, T, 4, H, W)
    assert torch.allclose(unfold_time(conv(folded), T), per_frame, atol=1e-6)

# the wrong fold: time-major rows interleave the clips, and unfolding mixes frames of different videos
wrong = batch.transpose(0, 1).reshape(B * T, *batch.shape[2:])
assert not torch.equal(unfold_time(wrong, T), batch)
print("clip-major fold: row b*T+t is frame t of clip b; a time-major fold would mix the two clips")

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it.
#
# **Your turn 1.** The last step of the preprocessing: uint8 frames `(T, 3, H, W)` to the
# float input the ImageNet-trained networks expect, `(x / 255 - mean) / std` per channel
# (`IMAGENET_MEAN`, `IMAGENET_STD` in `blvnet_edu.data.transforms`).

# %%
def to_model_input(frames):
    """(T, 3, H, W) uint8 -> (T, 3, H, W) float32, normalised with ImageNet's mean and std."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.to_model_input(to_model_input))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from blvnet_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD
#
# def to_model_input(frames):
#     mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
#     std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
#     return (frames.float() / 255 - mean) / std
# ```
#
# </details>
#
# **Your turn 2.** The centre crop of evaluation: `size x size` pixels from the middle of
# `(T, 3, H, W)` frames, where the margin is split as torchvision splits it when it is odd
# (top and left get `round((H - size) / 2)`, Python's rounding).

# %%
def centre_crop(frames, size):
    """(T, 3, H, W) -> (T, 3, size, size) from the centre."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.centre_crop(centre_crop))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def centre_crop(frames, size):
#     h, w = frames.shape[-2:]
#     top, left = round((h - size) / 2), round((w - size) / 2)
#     return frames[..., top : top + size, left : left + size]
# ```
#
# `(h - size) // 2` is a pixel off where the margin is odd (7 - 4 = 3: `round(1.5) = 2`,
# `3 // 2 = 1`). One pixel changes no prediction much, but a check against a reference
# pipeline (as the authors' test pipeline, notebook 5) fails on it.
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** Which frames does evaluation segment sampling take from a 5-frame video for `T = 8`?
# Why repeat frames instead of padding with black frames?
#
# <details><summary>Solution</summary>
#
# `segment_indices(5, 8, False)` is `[0, 0, 1, 2, 2, 3, 4, 4]` ($\ell = 0.625$,
# $\lfloor 0.625 (k + 0.5) \rfloor$). Repeating keeps the clip in order and at the model's
# frame rate as closely as possible; black frames would be content the model never saw in
# training, and a temporal model would read "the scene goes black" as an event.
#
# </details>
#
# **2.** Crop every frame of `clip` at an independent random position (use
# `random_crop(clip[t:t+1], 64, generator)` per frame) and look at it with `frames_figure`.
# What would a temporal model learn from such clips?
#
# <details><summary>Solution</summary>
#
# ```python
# from blvnet_edu.data.transforms import random_crop
# g = torch.Generator().manual_seed(0)
# jitter = torch.cat([random_crop(clip[t:t+1], 64, g) for t in range(len(clip))])
# frames_figure(jitter).show()
# ```
# The digits jump around from frame to frame: the crop adds camera shake that is not in
# the video. A model that relates frames (TAM) would see motion in every clip, unrelated
# to the class; for "moving left" against "moving right" it would even contradict the
# true motion. One window per clip keeps the only motion the video's own.
#
# </details>
#
# **3.** A Kinetics clip lasts 10 s at 30 fps (300 frames). How many seconds does a clip of
# 8 frames cover with segment sampling, and with dense sampling at stride 2? Which suits
# "someone opens a door, then walks through it"?
#
# <details><summary>Solution</summary>
#
# Segments: the whole 10 s (one frame every 1.25 s; `segment_indices(300, 8, False)` gives
# 18, 56, ..., 281). Dense, stride 2: a span of 15 frames, 0.5 s. An action made of steps
# spread over the clip needs the long view, which is why TSN and bLVNet-TAM use segments;
# dense sampling sees fine motion in one moment (and needs several clips per video to
# cover it).
#
# ```python
# print(segment_indices(300, 8, False), dense_indices(300, 8, 2, False))
# ```
#
# </details>
#
# **4.** Flipping is useful augmentation for "playing guitar". How would you keep it for a
# dataset that also has "moving left" and "moving right"?
#
# <details><summary>Solution</summary>
#
# Flip with a *label map*: when a clip is flipped, swap the labels of mirror classes
# ("moving left" <-> "moving right", "rotating clockwise" <-> "rotating anticlockwise"), and
# keep the label for symmetric classes ("growing"). Something-Something needs such a map for
# every "left"/"right" class; without one, leave flipping off.
#
# </details>

# %% [markdown]
# ## Read next
#
# - the paper's experimental set-up (Sec. 4): 8x2 frames, TSN sampling, 224-pixel crops
# - `blvnet_edu/data/video_io.py` (PyAV decoding, seeking to key frames), `data/sampling.py`, `data/transforms.py`
# - next: notebook 3, TAM from scratch
