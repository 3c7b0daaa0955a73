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
# - state the paper's Figure 1 as three symmetries and check them on freshly built models:
#   TSN is a bag of frames, bLVNet without TAM a bag of frame pairs, bLVNet-TAM relates
#   distant pairs,
# - read the course's two-tier synthetic dataset: which model can solve which tier, and why
#   a bag of pairs is at chance on the long-range tier by construction.
#
# | notebook | topic |
# |---|---|
# | **1** | video recognition, TSN, why order matters |
# | 2 | video as tensors: decoding, sampling, transforms |
# | 3 | TAM from scratch |
# | 4 | Big-Little: two branches, two frames, half the cost |
# | 5 | the full bLVNet-TAM and the paper's cost table |
# | 6 | data: the Kinetics-subset pipeline |
# | 7 | training: TSN, bLVNet and bLVNet-TAM on both tiers |
# | 8 | explaining: attributions and TAM weights |
# | 9 | a real video: decoding, the authors' checkpoints and labels, an explanation |
#
# Every notebook runs on a laptop CPU. With `BLVNET_EDU_QUICK=1` (the tests use it) the
# sizes are smaller and the nine notebooks run in 2-3 minutes together.
#
# **Before you start.** Prerequisites: Python, PyTorch tensors and `nn.Module`; a 2D CNN
# such as ResNet as an image classifier. Run time on 2 CPU cores: quick mode
# (`BLVNET_EDU_QUICK=1`, what the tests run) about 10 s; full mode (the default) about 20 s.

# %%
import numpy as np
import torch
from IPython.display import HTML, Markdown, display

import blvnet_edu
from blvnet_edu.data.sampling import segment_indices
from blvnet_edu.data.synthetic import CLASSES, TIERS, render_clip, sample_params
from blvnet_edu.data.order import reverse_frames, shuffle_pairs
from blvnet_edu.explain.animation import clips_html
from blvnet_edu.explain.figures import frames_figure
from blvnet_edu.clips import load_clips
from blvnet_edu.inference import load_predictor
from blvnet_edu.order_comparison import order_comparison, order_markdown
from course import DEMO, EXAMPLES, check, setup

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
model = blvnet_edu.build_model("tsn_resnet_tiny", num_classes=14)  # a small TSN, random weights
video = torch.randn(2, 8, 3, 64, 64)  # (B, T, C, H, W)
logits = model.eval()(video)
print(tuple(video.shape), "->", tuple(logits.shape))  # (2, 8, 3, 64, 64) -> (2, 14)

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
# ## Why frame order matters: the paper's Figure 1 in three lines
#
# A sum does not depend on the order of its terms. So for **any** weights, TSN gives the same
# output for a clip and for any shuffling of its frames: TSN sees a clip as a **bag of
# frames**. The paper's Figure 1 adds two steps, and each one removes a symmetry.
#
# **bLVNet without TAM** (notebook 4) splits the `T` frames into pairs $(x_0, x_1), (x_2,
# x_3), \dots$ and fuses the two frames of a pair inside the network, the odd frame through
# a deep "big" branch and the even one through a light "little" branch. Everything after the
# fusion is per pair, averaged at the end:
#
# $$ \text{bLVNet}(x_0, \dots, x_{T-1}) = \frac{2}{T} \sum_{i=0}^{T/2-1} g(x_{2i}, x_{2i+1}). $$
#
# A **bag of pairs**: putting the pairs in another order changes nothing. Reversing the clip
# does change it: pair $(x_0, x_1)$ becomes $(x_{T-1}, x_{T-2})$, and $g$ is not symmetric
# (the big and little branches see different frames of a pair).
#
# **bLVNet-TAM** adds temporal aggregation modules (notebook 3) that mix each frame (each
# pair, after the fusion) with its neighbours *before* the average: distant pairs are
# related, and putting the pairs in another order changes the output.
#
# | model | sees the clip as | frames permuted | clip reversed | pairs permuted (each kept intact) |
# |---|---|---|---|---|
# | TSN | a bag of frames | same output | same output | same output |
# | bLVNet without TAM | a bag of pairs | changes | changes | same output |
# | bLVNet-TAM | pairs related in time | changes | changes | changes |
#
# We check every "same" and every "changes" of the last two columns on freshly built tiny
# models (random weights; in float64 so that "same" means equal to rounding), with the
# package's order tests `reverse_frames` and `shuffle_pairs` (which puts each clip's pairs in
# a random order, never the original one).

# %%
tiny = {"TSN": "tsn_resnet_tiny", "bLVNet without TAM": "blvnet_tiny", "bLVNet-TAM": "blvnet_tam_tiny"}
fresh = {label: blvnet_edu.build_model(name, num_classes=14).double().eval() for label, name in tiny.items()}
for m in fresh.values():
    torch.nn.init.normal_(m.fc.weight, std=0.5)  # larger than the training init, to see changes
clips64 = video.double()  # (B, T, C, H, W)
variants = {
    "frames permuted": clips64[:, torch.randperm(8)],
    "reversed": reverse_frames(clips64),
    "pairs permuted": shuffle_pairs(clips64, torch.Generator().manual_seed(0)),
}
change = {}  # (model, test) -> largest change of a logit, relative to the largest logit
with torch.no_grad():
    for label, m in fresh.items():
        logits = m(clips64)
        for test, clips in variants.items():
            change[label, test] = ((m(clips) - logits).abs().max() / logits.abs().max()).item()
print(f"{'':20s}" + "".join(f"{test:>18s}" for test in variants))
for label in fresh:
    print(f"{label:20s}" + "".join(f"{change[label, test]:18.1e}" for test in variants))

same, changes = 1e-10, 1e-3  # float64 rounding is ~1e-16; a real change is many orders above
assert all(change["TSN", test] < same for test in variants), "TSN: a bag of frames"
assert change["bLVNet without TAM", "pairs permuted"] < same, "bLVNet without TAM: a bag of pairs"
assert change["bLVNet without TAM", "reversed"] > changes, "reversing swaps big and little in every pair"
assert change["bLVNet-TAM", "pairs permuted"] > changes, "TAM relates distant pairs"
assert change["bLVNet-TAM", "reversed"] > changes

# %% [markdown]
# ### A dataset that only temporal models can solve, in two tiers
#
# The course's synthetic dataset (`blvnet_edu.data.synthetic`) makes these three lines
# measurable. Every class has an **order-only partner**: a class made of exactly the same
# frames in another order. Backgrounds, colours, sizes, speeds and a static decoy are random
# per clip, so appearance finds the pair, never the order. Fourteen classes in seven pairs,
# in two tiers:
#
# - **short range** (4 pairs): the partner is the clip played backwards ("moving left" /
#   "moving right", "growing" / "shrinking", ...). Each frame pair already shows the
#   direction, so a bag of pairs can solve them;
# - **long range** (3 pairs): the partner is the clip with its two halves swapped ("moving
#   left then right" / "moving right then left", "growing then shrinking" / "shrinking then
#   growing", "turning on" / "turning off").
#
# All fourteen, playing: one clip per class, drawn with the same background, colours, size
# and speed (the rotations turn a hand, so that the angle shows). The two classes of a pair sit side by side, two
# pairs per row, short range first: watch how each partner is the same clip backwards, or
# with its halves swapped.

# %%
preview_params = sample_params(np.random.default_rng(7), size=64, frames=32)
preview = {name: torch.from_numpy(render_clip(name, preview_params)) for name in CLASSES}  # (32, 3, 64, 64) each
display(HTML(clips_html(preview, fps=12, scale=2, columns=4)))

# %%
for tier, pairs in TIERS.items():
    print(f"{tier}:", pairs)
params = sample_params(np.random.default_rng(3), size=64, frames=8)
left = torch.from_numpy(render_clip("moving left", params))  # (T, 3, H, W) uint8
right = torch.from_numpy(render_clip("moving right", params))
assert torch.equal(right, left.flip(0)), "'moving right' is 'moving left' played backwards"
frames_figure(torch.cat([left, right]), [f"left t={t}" for t in range(8)] + [f"right t={t}" for t in range(8)],
              title="Short range: 'moving left' (top) and the same clip reversed, 'moving right' (bottom)").show()

# %% [markdown]
# The long-range pairs are built so that a bag of pairs is **provably at chance**. The
# generated clips have 32 frames, and the models see `T = 8` of them, one per segment of 4
# (notebook 2: TSN segment sampling). Swapping the halves moves frame $j$ to $j \pm 16$,
# i.e. segment $i$ to segment $i \pm 4$, the same place inside the segment: the sampled
# frames of "moving right then left" are those of "moving left then right" with their two
# halves swapped, and since a half is a whole number of pairs, **both classes show exactly
# the same frame pairs, in another order**. bLVNet without TAM cannot tell them apart;
# only a model that relates distant pairs can.

# %%
params32 = sample_params(np.random.default_rng(3), size=64, frames=32)
sampled = segment_indices(32, 8, train=False)  # the evaluation frames of a 32-frame clip
there_and_back = torch.from_numpy(render_clip("moving left then right", params32))[sampled]  # (8, 3, H, W)
back_and_there = torch.from_numpy(render_clip("moving right then left", params32))[sampled]
pairs_of = lambda clip: [clip[i : i + 2] for i in range(0, len(clip), 2)]  # noqa: E731
assert not torch.equal(there_and_back, back_and_there)
assert all(torch.equal(a, b) for a, b in zip(pairs_of(there_and_back), pairs_of(back_and_there)[2:] +
                                             pairs_of(back_and_there)[:2])), "the same pairs, halves swapped"
print("sampled frames:", sampled, "-> both classes hold the same 4 frame pairs, in another order")
frames_figure(torch.cat([there_and_back, back_and_there]),
              [f"then right, pair {t // 2}" for t in range(8)] + [f"then left, pair {t // 2}" for t in range(8)],
              title="Long range: 'moving left then right' (top) and 'moving right then left' (bottom), "
                    "as the models sample them").show()

# %% [markdown]
# ### Trained models under the order tests
#
# `app/demo/` ships tiny models trained on this dataset with the same recipe (notebook 7
# trains them): TSN, bLVNet without TAM and bLVNet-TAM (whichever are there). We take one
# example clip, a long-range one if the demo models know its class, and show each model the
# clip as it is, reversed, and with its pairs shuffled (`order_comparison`, the app's
# "order test" tab).

# %%
demo_files = {"TSN": "tsn_resnet_tiny.pt", "bLVNet without TAM": "blvnet_tiny.pt", "bLVNet-TAM": "blvnet_tam_tiny.pt"}
models = {label: load_predictor(DEMO / f) for label, f in demo_files.items() if (DEMO / f).exists()}
known = set.intersection(*(set(p.classes) for p in models.values()))
label = next(c for c in ("moving left then right", "moving left")
             if c in known and (EXAMPLES / f"{c.replace(' ', '_')}.mp4").exists())
clips = load_clips(EXAMPLES / f"{label.replace(' ', '_')}.mp4", models)
print(f"example clip: {label!r}; models: {', '.join(models)}")
for test in ("reversed", "shuffled_pairs"):
    results = order_comparison(models, clips, test)
    display(Markdown(order_markdown(results, test)))
    for r in results:  # what the architecture rules out cannot happen, whatever was learned
        assert r.can_change or r.largest_shift < 1e-4, f"{r.model} should be blind to {test}"

# %% [markdown]
# TSN's probabilities do not move: whatever it says, it is right on one order of each pair
# and wrong on the other. bLVNet without TAM can react to a reversal (it solves the
# short-range tier) but never to shuffled pairs, so on the long-range tier it can only guess.
# bLVNet-TAM can react to both; whether it does depends on the clip: on a long-range clip
# the order of the pairs is the class, while on a short-range clip such as "moving left"
# every pair already shows the direction, and shuffling the pairs may leave its answer as
# it was. On the whole validation set (notebook 7) TSN stays near 50% within each
# order-only pair of both tiers, bLVNet without TAM near 100% on the short-range pairs and
# near 50% on the long-range ones, bLVNet-TAM near 100% on both. On Something-Something the
# paper reports TSN near 17-18% top-1 however many frames it sees, bLVNet-TAM-50 46.4%.
#
# The rest of the course builds bLVNet-TAM: the temporal aggregation module (notebook 3),
# the Big-Little network that makes twice the frames affordable (notebook 4), and the
# whole network (notebook 5).

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then run the check cell after it: it says whether
# your answer is right. The solutions are hidden below each check.
#
# **Your turn 1.** Fold time into the batch: `(B, T, C, H, W)` -> `(B*T, C, H, W)`, with
# frame `t` of clip `b` at row `b*T + t` (the order the package's `fold_time` uses, so that
# `unfold` gets the clips back).

# %%
def fold_frames(video):
    """(B, T, C, H, W) -> (B*T, C, H, W), clip-major."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.fold_frames(fold_frames))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def fold_frames(video):
#     return video.reshape(-1, *video.shape[2:])  # or video.flatten(0, 1)
# ```
#
# `video.transpose(0, 1).reshape(...)` has the right shape but puts frame `t` of every clip
# together (time-major): unfolding it would mix clips.
#
# </details>
#
# **Your turn 2.** TSN's consensus: per-frame class scores `(B*T, K)`, folded as above, to
# one score per clip `(B, K)`, the mean over its `T` frames.

# %%
def consensus(frame_scores, num_frames):
    """(B*T, K) -> (B, K): the mean over each clip's frames."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.consensus(consensus))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def consensus(frame_scores, num_frames):
#     return frame_scores.view(-1, num_frames, frame_scores.shape[-1]).mean(1)
# ```
#
# `view(num_frames, -1, K).mean(0)` also gives `(B, K)`, but averages rows that belong to
# different clips.
#
# </details>

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

# %% [markdown]
# ## Read next
#
# - the paper's introduction and Fig. 1 (TSN against bLVNet-TAM on the same clips)
# - `blvnet_edu/models/blvnet.py`: `VideoNet` and the presets (`tsn_resnet50`, `blvnet_tam_50`, ...)
# - `blvnet_edu/inference.py`: a checkpoint ready to predict a clip, what `blvnet-edu predict`
#   and the app's predictions call (the app's other views call `clips.py`,
#   `order_comparison.py` and `explanation.py`)
# - next: notebook 2, video as tensors
