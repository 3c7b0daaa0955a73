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
# # 1. Welcome: video recognition, TSN, and why frame order matters
#
# This course builds **bLVNet-TAM** (Fan et al., *More Is Less*, NeurIPS 2019) piece by
# piece, checks every piece against the `blvnet_edu` package, trains it, and explains what
# it learned. You need PyTorch and CNNs; nothing about video.
#
# **Objectives.** After this notebook you can
# - describe a video classifier's input and output as tensors,
# - write a TSN (Temporal Segment Network) in a few lines and prove it equals the package's,
# - prove that a TSN cannot tell a clip from the same clip played backwards, and see a
#   trained TSN and a trained bLVNet-TAM disagree on exactly that.
#
# | notebook | topic |
# |---|---|
# | **1** | video recognition, TSN, why order matters |
# | 2 | video as tensors: decoding, sampling, transforms |
# | 3 | TAM from scratch |
# | 4 | Big-Little: two branches, two frames, half the cost |
# | 5 | the full bLVNet-TAM and the paper's cost table |
# | 6 | data: the Kinetics-subset pipeline |
# | 7 | training: bLVNet-TAM against TSN |
# | 8 | explaining: attributions and TAM weights |
#
# Every notebook runs on a laptop CPU. With `BLVNET_EDU_QUICK=1` (the tests use it) the
# sizes are smaller and it runs in a minute or so.

# %%
import numpy as np
import plotly.graph_objects as go
import torch

import blvnet_edu
from blvnet_edu.data.synthetic import CLASSES, ORDER_PAIRS, render_clip, sample_params
from blvnet_edu.explain.figures import frames_figure
from blvnet_edu.inference import load_clip, load_predictor, predict_clip
from course import DEMO, EXAMPLES, setup

setup()

# %% [markdown]
# ## A video classifier, as tensors
#
# A clip is a stack of `T` RGB frames. The models here take a batch of clips
# `(B, T, 3, H, W)` of normalised floats and return one score per class, `(B, K)`.
#
# Image classifiers already solve "what is in this frame". Video adds *when*: "opening a
# drawer" and "closing a drawer" show the same objects; only the order of the frames tells
# them apart. Datasets differ in how much that matters: Kinetics can mostly be solved from
# appearance (a guitar means "playing guitar"), Something-Something (the paper's main
# benchmark) cannot.

# %%
model = blvnet_edu.build_model("tsn_resnet_tiny", num_classes=8)  # a small TSN, random weights
video = torch.randn(2, 8, 3, 64, 64)  # (B, T, C, H, W)
logits = model.eval()(video)
print(tuple(video.shape), "->", tuple(logits.shape))  # (2, 8, 3, 64, 64) -> (2, 8)

# %% [markdown]
# ## TSN in a few lines
#
# TSN (Wang et al., 2016) samples `T` frames spread over the video, runs the **same 2D CNN**
# `f` on each, and averages the per-frame class scores (the *consensus*):
#
# $$ \text{TSN}(x_1, \dots, x_T) = \frac{1}{T} \sum_{t=1}^{T} f(x_t). $$
#
# Written frame by frame it is a loop. The package does the same thing in one batched call by
# *folding* time into the batch: `(B, T, C, H, W)` -> `(B*T, C, H, W)`, which is faster and
# gives the same numbers.


# %%
def tsn_from_scratch(trunk, fc, video):
    """TSN by its definition: the same 2D CNN on every frame, class scores averaged."""
    scores = [fc(trunk(video[:, t])) for t in range(video.shape[1])]  # T x (B, K)
    return torch.stack(scores, dim=1).mean(dim=1)  # (B, K)


def resnet_trunk(frames):
    """The package's per-frame ResNet, one frame batch `(B, 3, H, W)` -> features `(B, C)`."""
    x = model.relu(model.bn1(model.conv1(frames)))
    x = model.layer4(model.layer3(model.layer2(model.layer1(model.layer0(x)))))
    return model.avgpool(x).flatten(1)


with torch.no_grad():
    ours = tsn_from_scratch(resnet_trunk, model.fc, video)
    theirs = model(video)
print("largest difference:", (ours - theirs).abs().max().item())
assert torch.allclose(ours, theirs, atol=1e-5), "the loop and the package's TSN differ"

# %% [markdown]
# ## Why frame order matters
#
# A sum does not depend on the order of its terms. So for **any** weights, TSN gives the same
# output for a clip and for any shuffling of its frames, in particular the clip played
# backwards. Let's check it, and check that bLVNet-TAM, whose layers mix neighbouring frames,
# does not have this blind spot.

# %%
tsn = blvnet_edu.build_model("tsn_resnet_tiny", num_classes=8).eval()
blvnet_tam = blvnet_edu.build_model("blvnet_tam_tiny", num_classes=8).eval()
for m in (tsn, blvnet_tam):
    torch.nn.init.normal_(m.fc.weight, std=0.5)  # larger than the training init, to see changes
with torch.no_grad():
    reversed_video = video.flip(1)  # frames in the opposite order
    for name, m in (("TSN", tsn), ("bLVNet-TAM", blvnet_tam)):
        change = (m(video) - m(reversed_video)).abs().max().item()
        print(f"{name:11s} largest change of a score when the clip is reversed: {change:.2e}")

# %% [markdown]
# ### A dataset that only temporal models can solve
#
# The course's synthetic dataset (`blvnet_edu.data.synthetic`) makes this concrete. It has
# eight classes in four **order-only pairs**: the second class of each pair is the first one
# played backwards. Backgrounds, colours, sizes, speeds and a static decoy are random per
# clip, so appearance alone tells the pair, never its direction.

# %%
print(ORDER_PAIRS)
params = sample_params(np.random.default_rng(3), size=64, frames=8)
left = torch.from_numpy(render_clip("moving left", params))  # (T, 3, H, W) uint8
right = torch.from_numpy(render_clip("moving right", params))
assert torch.equal(right, left.flip(0)), "'moving right' is 'moving left' played backwards"
frames_figure(torch.cat([left, right]), [f"left t={t}" for t in range(8)] + [f"right t={t}" for t in range(8)],
              title="'moving left' (top) and the same clip reversed, 'moving right' (bottom)").show()

# %% [markdown]
# ### Trained models on a clip and on its reverse
#
# `app/demo/` ships a tiny TSN and a tiny bLVNet-TAM trained on this dataset with the same
# recipe (notebook 7 trains them). We show both the example clip of "moving left" and the
# same clip reversed.

# %%
models = {"TSN": load_predictor(DEMO / "tsn_resnet_tiny.pt"), "bLVNet-TAM": load_predictor(DEMO / "blvnet_tam_tiny.pt")}
example = EXAMPLES / "moving_left.mp4"
bars = go.Figure()
for name, predictor in models.items():
    clip = load_clip(example, predictor.num_frames, predictor.size, predictor.resize)
    forward = predict_clip(predictor, clip)
    clip.input = clip.input.flip(1)  # the same frames, backwards
    backward = predict_clip(predictor, clip)
    for direction, probs in (("as recorded", forward), ("reversed", backward)):
        best = max(probs, key=probs.get)
        print(f"{name:11s} {direction:12s} -> {best:24s} p={probs[best]:.2f}  "
              f"p(moving left)={probs['moving left']:.2f}  p(moving right)={probs['moving right']:.2f}")
        bars.add_bar(name=f"{name}, {direction}", x=["moving left", "moving right"],
                     y=[probs["moving left"], probs["moving right"]])
bars.update_layout(title="A 'moving left' clip, as recorded and reversed", yaxis_title="probability",
                   template="plotly_white")
bars.show()

# %% [markdown]
# TSN gives **identical** probabilities to both orders: whatever it says, it is right on one
# direction and wrong on the other. bLVNet-TAM flips its answer with the order. On the full
# synthetic validation set (notebook 7) TSN stays near 50% within each pair, bLVNet-TAM
# near 100%; on Something-Something the paper reports TSN near 17-18% top-1 however many
# frames it sees, bLVNet-TAM-50 46.4%.
#
# The rest of the course builds bLVNet-TAM: the temporal aggregation module (notebook 3),
# the Big-Little network that makes twice the frames affordable (notebook 4), and the
# whole network (notebook 5).

# %% [markdown]
# ## Exercises
#
# **1.** Which changes of the input leave a TSN's output unchanged? Only reversal?
#
# <details><summary>Solution</summary>
#
# Every permutation of the frames: the mean over frames does not depend on their order.
# Check it with `tsn(video[:, torch.randperm(8)])`.
#
# </details>
#
# **2.** Replace TSN's mean by a max over frames. Can it now tell a clip from its reverse?
#
# <details><summary>Solution</summary>
#
# No: a max is also symmetric in its arguments. Any consensus that treats frames as a *set*
# (mean, max, attention pooling without positions) is blind to order. Order enters only
# when frames interact in a way that depends on their positions: concatenation (TRN),
# temporal convolutions (I3D, TAM), shifts (TSM).
#
# </details>
#
# **3.** Show that the frame-by-frame loop in `tsn_from_scratch` and the package's folded
# batch give the same result also in training mode. What changes, and why?
#
# <details><summary>Solution</summary>
#
# In training mode BatchNorm normalises with the statistics of the batch it is given: the
# loop gives it `B` frames at a time, the folded batch `B*T` frames, so the outputs differ.
# Evaluation mode uses running statistics and the two agree. Dropout also differs in
# training mode.
#
# </details>
