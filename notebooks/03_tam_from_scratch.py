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
# # 3. TAM from scratch: depthwise temporal aggregation
#
# TSN (notebook 1) never lets frames meet before the final average, so it cannot tell a clip
# from the same clip played backwards. bLVNet-TAM's answer is the **Temporal Aggregation
# Module** (TAM, paper Sec. 3.2): a layer that lets each frame's features borrow from
# its neighbours, with a few learned weights per channel and nearly no compute.
#
# **Objectives.** After this notebook you can
# - write TAM from the paper's recipe (per offset a depthwise 1x1 convolution, a shift along
#   time with zero padding, a sum, a ReLU) and prove it equals the package's `TAM` and its
#   fast in-place version, outputs and gradients, for any width,
# - explain why TAM *is* a depthwise temporal convolution, and write it as one `conv3d` call,
#   kernel orientation included,
# - show that TSM's fixed channel shift (Lin et al., 2019) is TAM with fixed one-hot weights,
# - explain why TAM's initialisation decides whether it learns anything: check the authors'
#   $\mathcal N(0, 2/C)$ start on a built model, and prove that an identity start makes a fresh
#   bLVNet-TAM exactly bLVNet without TAM, a bag of frame pairs,
# - say what TAM costs: `(2k+1)*C` parameters and a negligible share of the network's
#   multiply-adds.
#
# **Before you start.** Prerequisites: notebook 1; convolutions with `groups` (depthwise
# convolution). Run time on 2 CPU cores: quick mode (`BLVNET_EDU_QUICK=1`, what the tests
# run) about 10 s; full mode (the default) about 35 s.

# %%
import json
import time

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

import blvnet_edu
from blvnet_edu.data.order import shuffle_pairs
from blvnet_edu.explain.figures import tam_layer_heatmap
from blvnet_edu.inference import load_predictor
from blvnet_edu.models import TAM, fold_time, unfold_time
from blvnet_edu.models.fast import tam_frames
from course import DEMO, ROOT, check, pick, record, setup

setup()

# %% [markdown]
# ## The recipe
#
# Inside the network a clip of `T` frames is a batch of folded frames `(B*T, C, H, W)`
# (notebook 1): frame `t` of clip `b` sits at row `b*T + t`. Take the feature maps
# $x_1, \dots, x_T$ of one clip, each `(C, H, W)`. TAM with blending width $2k+1$ learns one
# weight per channel and per temporal offset $o \in \{-k, \dots, k\}$, a vector
# $w_o \in \mathbb{R}^C$, and computes
#
# $$ y_t = \mathrm{ReLU}\Big( \sum_{o=-k}^{k} w_o \odot x_{t+o} \Big),
#    \qquad x_{t+o} = 0 \text{ when } t+o \text{ is outside the clip}, $$
#
# where $w_o \odot x$ scales channel $c$ of every pixel by $w_o[c]$. The paper builds this
# from parts every framework has:
#
# 1. for every offset $o$, a **depthwise 1x1 convolution** (`groups=C`, one weight per
#    channel) computes $w_o \odot x_t$ for all frames;
# 2. **shift** the result by $o$ frames along time, filling the frames that fall off the clip
#    with zeros, so that frame $t$ holds $w_o \odot x_{t+o}$;
# 3. **sum** over the $2k+1$ offsets, and apply a **ReLU**.
#
# The package keeps the weights as one tensor `weight` of shape `(2k+1, C)`: row `i` holds
# offset `i - k`, so row 0 looks furthest into the past. We start with the shift.

# %%
def shift_time(clips, offset):
    """Frame t of the result is frame t + offset of `clips` `(B, T, ...)`; zeros outside the clip."""
    num_frames = clips.shape[1]
    out = torch.zeros_like(clips)
    if abs(offset) < num_frames:
        if offset >= 0:
            out[:, : num_frames - offset] = clips[:, offset:]
        else:
            out[:, -offset:] = clips[:, : num_frames + offset]
    return out


frame_ids = torch.arange(1.0, 7.0).view(1, 6)  # one clip of 6 "frames" numbered 1..6, (B, T)
for offset in (-2, -1, 0, 1, 2):
    print(f"offset {offset:+d}: frame t reads", shift_time(frame_ids, offset)[0].int().tolist())

# %% [markdown]
# With offset $-1$ frame $t$ reads frame $t-1$ (the past); frame 1 has no past and reads zeros.
# Now the whole recipe: depthwise 1x1 convolution, shift, stack, sum, ReLU.


# %%
def tam_from_scratch(x, weight, num_frames):
    """TAM by the paper's recipe. x: folded frames `(B*T, C, H, W)`; weight: `(2k+1, C)`, row i = offset i - k."""
    num_offsets, channels = weight.shape
    k = num_offsets // 2
    terms = []
    for i, offset in enumerate(range(-k, k + 1)):
        kernel = weight[i].view(channels, 1, 1, 1)  # (C_out, C_in / groups, 1, 1): one weight per channel
        scaled = F.conv2d(x, kernel, groups=channels)  # w_o (.) x_t, (B*T, C, H, W)
        clips = unfold_time(scaled, num_frames)  # (B, T, C, H, W)
        terms.append(shift_time(clips, offset))  # frame t now holds w_o (.) x_{t+o}
    out = torch.stack(terms).sum(dim=0)  # (B, T, C, H, W)
    return fold_time(F.relu(out))  # (B*T, C, H, W)


B, T, C, H, W = 2, 8, 6, 5, 4
x = torch.randn(B * T, C, H, W)  # folded frames
weight = torch.randn(3, C)  # k = 1: offsets -1, 0, +1
y = tam_from_scratch(x, weight, T)
print(tuple(x.shape), "->", tuple(y.shape))  # (16, 6, 5, 4) -> (16, 6, 5, 4)

# %% [markdown]
# A check against the formula written out, frame by frame, channel by channel, for one pixel:

# %%
b, t, c, h, w = 1, 0, 2, 3, 1  # first frame of the second clip: it has no past
clip = unfold_time(x, T)[b, :, c, h, w]  # (T,) one pixel of one channel through time
by_hand = weight[1, c] * clip[t] + weight[2, c] * clip[t + 1]  # offset -1 falls off the clip
print(f"by hand {max(by_hand.item(), 0.0):.6f}   recipe {unfold_time(y, T)[b, t, c, h, w].item():.6f}")
assert torch.isclose(unfold_time(y, T)[b, t, c, h, w], by_hand.clamp_min(0))

# %% [markdown]
# ## TAM is a depthwise temporal convolution
#
# Put time back as a dimension of its own, `(B, C, T, H, W)`. A 3D convolution with kernel
# `(2k+1, 1, 1)` looks at $2k+1$ consecutive frames of the *same* pixel, and with `groups=C`
# each channel only sees itself: that is a depthwise temporal convolution, and with padding
# `k` along time it pads with zeros exactly as our shift does.
#
# Orientation: PyTorch's "convolution" is a cross-correlation,
#
# $$ \texttt{conv3d}(x, K)_t = \sum_{j=0}^{2k} K_j\, x_{t - k + j}, $$
#
# so kernel tap $j$ reads offset $o = j - k$: **row `i` of `weight` is tap `i`**, no flip.
# A textbook convolution $\sum_j K_j x_{t-j}$ (e.g. `np.convolve`) runs the kernel the other
# way; using it, or flipping the kernel, gives $\sum_o w_o \odot x_{t-o}$, which is TAM on the
# clip played backwards.


# %%
def tam_as_conv3d(x, weight, num_frames, flip=False):
    """TAM as one depthwise conv3d with kernel (2k+1, 1, 1) on `(B, C, T, H, W)`, then ReLU."""
    num_offsets, channels = weight.shape
    clips = unfold_time(x, num_frames).transpose(1, 2)  # (B, T, C, H, W) -> (B, C, T, H, W)
    taps = weight.flip(0) if flip else weight  # (2k+1, C)
    kernel = taps.t().reshape(channels, 1, num_offsets, 1, 1)  # (C_out, C_in / groups, kT, kH, kW)
    out = F.conv3d(clips, kernel, padding=(num_offsets // 2, 0, 0), groups=channels)  # (B, C, T, H, W)
    return fold_time(F.relu(out).transpose(1, 2))  # (B*T, C, H, W)


y_conv = tam_as_conv3d(x, weight, T)
print("recipe vs conv3d, largest difference:", (y - y_conv).abs().max().item())
assert torch.allclose(y, y_conv, atol=1e-6)

# Flipping the kernel = TAM on the reversed clip, reversed back.
reverse = lambda frames: fold_time(unfold_time(frames, T).flip(1))  # noqa: E731
y_flipped = tam_as_conv3d(x, weight, T, flip=True)
assert not torch.allclose(y, y_flipped, atol=1e-3), "a flipped kernel is a different layer"
assert torch.allclose(y_flipped, reverse(tam_from_scratch(reverse(x), weight, T)), atol=1e-6)

# The same along one pixel with numpy's textbook convolution: it needs the kernel reversed.
pixel = unfold_time(x, T)[0, :, 0, 0, 0].numpy()  # (T,) clip 0, channel 0, pixel (0, 0)
textbook = np.maximum(np.convolve(pixel, weight[:, 0].flip(0).numpy(), mode="same"), 0)
assert np.allclose(textbook, unfold_time(y, T)[0, :, 0, 0, 0].numpy(), atol=1e-6)
print("np.convolve needs weight[::-1]; conv3d (a cross-correlation) takes weight as it is")

# %% [markdown]
# So TAM is a 3D convolution with a very particular kernel: size 1 in space, one channel in
# and out per group. A full 3D convolution (I3D) has $C_{in} \cdot C_{out} \cdot k_T k_H k_W$
# weights; TAM has $(2k+1) \cdot C$. The paper calls it *depthwise temporal aggregation*.
#
# ## TAM equals the package's `TAM` and its fast version
#
# The package computes TAM in two ways from the same parameter `weight` `(2k+1, C)`:
#
# - `TAM` (`blvnet_edu/models/tam.py`): the recipe above, as the authors wrote it, built as
#   `TAM(channels, blending_frames=2k+1)` and called as `tam(x, num_frames)`: the clip
#   length comes with the input, so one module runs any clip;
# - `tam_frames(x, weight, num_frames)` (`blvnet_edu/models/fast/tam.py`): the same sum
#   accumulated in place into one output tensor, with a hand-written backward. It is what
#   `FastTAM`, a subclass of `TAM`, runs: the models hold it unless built with `fast=False`.
#
# Both take folded frames `(B*T, C, H, W)`. We prove all four versions (recipe, `conv3d`,
# `TAM`, the fast one) give
# the same outputs **and** the same gradients for the input and the weights, in float64,
# for widths 1, 3, 5, 7, on a clip of 8 frames and on a clip of 3 frames (where the widest
# offsets fall entirely off the clip).


# %%
def outputs_and_grads(fn, x, weight, upstream):
    """fn(x, weight) and the gradients of <fn(x, weight), upstream> for x and weight."""
    x = x.clone().requires_grad_()
    weight = weight.clone().requires_grad_()
    out = fn(x, weight)
    out.backward(upstream)
    return out.detach(), x.grad, weight.grad


def as_module(cls, channels, frames, width):
    """fn(x, weight) running the package's module `cls` with `weight` as its parameter."""
    module = cls(channels, blending_frames=width).double()
    return lambda x, weight: torch.func.functional_call(module, {"weight": weight}, (x, frames))


rows = []
for frames in (8, 3):
    for width in (1, 3, 5, 7):
        x64 = torch.randn(2 * frames, C, H, W, dtype=torch.float64)  # (B*T, C, H, W)
        w64 = torch.randn(width, C, dtype=torch.float64)  # (2k+1, C)
        upstream = torch.randn_like(x64)  # dL/dy for some loss L
        versions = {
            "recipe": lambda x, w: tam_from_scratch(x, w, frames),
            "conv3d": lambda x, w: tam_as_conv3d(x, w, frames),
            "TAM": as_module(TAM, C, frames, width),
            "fast": lambda x, w: tam_frames(x, w, frames),
        }
        results = {name: outputs_and_grads(fn, x64, w64, upstream) for name, fn in versions.items()}
        worst = 0.0
        for name, (out, gx, gw) in results.items():
            for mine, theirs in zip((out, gx, gw), results["recipe"]):
                worst = max(worst, (mine - theirs).abs().max().item())
                torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12, msg=f"{name} T={frames} w={width}")
        rows.append((frames, width, worst))
        print(f"T={frames} width={width}: outputs, dL/dx, dL/dw agree; largest difference {worst:.1e}")
record("03.tam_versions_largest_difference", max(worst for *_, worst in rows))  # for the README

# %% [markdown]
# The package's fast version computes its gradients by hand. The recipe tells us what they
# must be: $y_t = \sum_o w_o \odot x_{t+o}$ before the ReLU, so with $g_t = \partial L /
# \partial y_t$ masked by the ReLU,
#
# $$ \frac{\partial L}{\partial w_o} = \sum_{b,t,h,w} g_t \odot x_{t+o}, \qquad
#    \frac{\partial L}{\partial x_s} = \sum_o w_o \odot g_{s-o}, $$
#
# the same aggregation with the offsets mirrored. Autograd's numerical check agrees:

# %%
weight = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)  # (2k+1, C)
small = (torch.rand(8, 3, 2, 2, dtype=torch.float64) + 0.1).requires_grad_()  # (B*T, C, H, W)
assert torch.autograd.gradcheck(lambda x, w: tam_frames(x, w, num_frames=4), (small, weight))
print("gradcheck: the fast TAM's hand-written backward matches finite differences")

# %% [markdown]
# ## TSM is TAM with fixed one-hot weights
#
# The Temporal Shift Module (TSM, Lin et al., 2019) mixes frames with no weights at all: it
# moves 1/8 of the channels one frame back in time, another 1/8 one frame forward, and leaves
# the rest. In the authors' code, with `fold = C // 8`:
#
# - channels `[0, fold)`: frame $t$ receives $x_{t+1}$ (the next frame's features move back),
# - channels `[fold, 2*fold)`: frame $t$ receives $x_{t-1}$ (the previous frame's move forward),
# - channels `[2*fold, C)`: unchanged; zeros where a shift falls off the clip; no ReLU.
#
# That is TAM with $k = 1$ and weights fixed to one-hot columns: $w_{+1}[c] = 1$ on the first
# eighth, $w_{-1}[c] = 1$ on the second, $w_0[c] = 1$ on the rest, 0 elsewhere. TAM also
# applies a ReLU, but TAM's input is always the output of a ReLU, and a sum of non-negative
# features with 0/1 weights is non-negative, so the ReLU changes nothing there.


# %%
def tsm_shift(x, num_frames, fold_div=8):
    """TSM (Lin et al., 2019): `(B*T, C, H, W)` -> same, 1/fold_div channels shifted each way."""
    clips = unfold_time(x, num_frames)  # (B, T, C, H, W)
    fold = clips.shape[2] // fold_div
    out = torch.zeros_like(clips)
    out[:, :-1, :fold] = clips[:, 1:, :fold]  # frame t <- frame t+1
    out[:, 1:, fold : 2 * fold] = clips[:, :-1, fold : 2 * fold]  # frame t <- frame t-1
    out[:, :, 2 * fold :] = clips[:, :, 2 * fold :]  # unchanged
    return fold_time(out)


def tsm_weights(channels, fold_div=8):
    """TSM as TAM weights `(3, C)`: rows for offsets -1, 0, +1."""
    fold = channels // fold_div
    weight = torch.zeros(3, channels)
    weight[2, :fold] = 1.0  # offset +1
    weight[0, fold : 2 * fold] = 1.0  # offset -1
    weight[1, 2 * fold :] = 1.0  # offset 0
    return weight


C_tsm = 32
features = F.relu(torch.randn(B * T, C_tsm, H, W))  # post-ReLU features, >= 0
tsm_as_tam = TAM(C_tsm, blending_frames=3)
with torch.no_grad():
    tsm_as_tam.weight.copy_(tsm_weights(C_tsm))
    print("TAM with one-hot weights vs TSM on non-negative features:",
          (tsm_as_tam(features, T) - tsm_shift(features, T)).abs().max().item())
    assert torch.equal(tsm_as_tam(features, T), tsm_shift(features, T))
    # On features that can be negative the only difference is TAM's ReLU.
    raw = torch.randn(B * T, C_tsm, H, W)
    assert torch.equal(tsm_as_tam(raw, T), F.relu(tsm_shift(raw, T)))
    assert not torch.equal(tsm_as_tam(raw, T), tsm_shift(raw, T))

# %% [markdown]
# Two pictures of the difference. Left: the weights as TAM stores them, offset by channel
# (`tam_layer_heatmap`): TSM's are one-hot and fixed. Right: the same TAM on a clip whose
# frame $t$ holds the number $t$ in every channel, so each cell shows which frame channel $c$
# of output frame $t$ reads (empty: the shift fell off the clip, zero padding).

# %%
heat = tam_layer_heatmap("TSM written as a TAM", tsm_weights(C_tsm))
heat.update_layout(height=300)
heat.show()

frame_numbers = torch.arange(1.0, T + 1).view(1, T, 1, 1, 1).expand(1, T, C_tsm, 1, 1)  # frame t holds t
with torch.no_grad():
    reads = unfold_time(tsm_as_tam(fold_time(frame_numbers), T), T)[0, :, :, 0, 0]  # (T, C)
reads = torch.where(reads > 0, reads - 1, torch.nan)  # back to 0-based frame numbers
shifts = go.Figure(go.Heatmap(z=reads.tolist(), x=list(range(C_tsm)), y=list(range(T)), colorscale="Viridis",
                              text=[[("" if np.isnan(v) else f"{v:.0f}") for v in row] for row in reads.tolist()],
                              texttemplate="%{text}", colorbar=dict(title="frame read")))
shifts.update_layout(title="TSM: which frame each channel of each output frame reads",
                     xaxis_title="channel (first 1/8 read t+1, next 1/8 read t-1)",
                     yaxis_title="output frame t", yaxis=dict(autorange="reversed"), template="plotly_white",
                     height=380)
shifts.show()

# %% [markdown]
# TSM moves a quarter of the channels and copies the rest; every weight is 0 or 1 and nothing
# is learned. TAM blends **every** channel with learned weights, which may be negative (a
# channel can respond to *change*, $x_t - x_{t-1}$), and adds a ReLU. TSM is one point in
# TAM's weight space, so a network with TAM can learn TSM's behaviour if it helps.

# %% [markdown]
# ## Initialisation decides whether TAM learns anything
#
# TAM has a choice that a layer of a few weights per channel would not seem to need: where
# its weights start. It matters more than anything else in this notebook.
#
# **The authors' start.** In their code each offset is a depthwise 1x1 `nn.Conv2d`,
# initialised like every convolution with `kaiming_normal_(mode="fan_out",
# nonlinearity="relu")`: standard deviation $\text{gain}/\sqrt{\text{fan-out}}$ with
# $\text{gain} = \sqrt2$ for ReLU. A depthwise kernel has shape `(C, 1, 1, 1)`, so its fan-out
# (output channels times kernel size) is $C$, and every weight, past, current and future
# alike, is drawn from
#
# $$ w_{o,c} \sim \mathcal N\!\left(0, \tfrac{2}{C}\right). $$
#
# This is the package's default (`TAM(..., init="kaiming")`, `BLVNetConfig.tam_init`). We
# rebuild one offset the authors' way, read its fan-out, and check the standard deviation of
# every TAM of a freshly built bLVNet-TAM.

# %%
channels = 4096  # many weights, so that the sample's standard deviation is close to the true one
authors = torch.nn.Conv2d(channels, channels, kernel_size=1, groups=channels, bias=False)  # one offset
torch.nn.init.kaiming_normal_(authors.weight, mode="fan_out", nonlinearity="relu")
fan_out = authors.weight.shape[0] * authors.weight[0, 0].numel()  # C_out x kH x kW = C
print(f"depthwise kernel {tuple(authors.weight.shape)}: fan-out {fan_out}, std {authors.weight.std():.5f}, "
      f"sqrt(2/C) = {(2 / channels) ** 0.5:.5f}")
assert fan_out == channels and abs(authors.weight.std() / (2 / channels) ** 0.5 - 1) < 0.05

net = blvnet_edu.build_model("blvnet_tam_tiny")  # default: the authors' initialisation
standardised = []
for name, tam in net.tams().items():
    w = tam.weight.detach()  # (2k+1, C)
    print(f"{name:11s} C={tam.channels:4d}  std {w.std():.4f}  sqrt(2/C) {(2 / tam.channels) ** 0.5:.4f}")
    standardised.append((w / (2 / tam.channels) ** 0.5).flatten())  # each ~ N(0, 1)
standardised = torch.cat(standardised)
print(f"all {standardised.numel()} TAM weights, divided by sqrt(2/C): mean {standardised.mean():+.3f}, "
      f"std {standardised.std():.3f}")
assert abs(standardised.mean()) < 0.1 and abs(standardised.std() - 1) < 0.1

# %% [markdown]
# **The identity start.** The other natural choice is the identity on the current frame:
# $w_0 = 1$, all other offsets 0 (`init="identity"`). TAM's input is the output of a ReLU,
# so then $y_t = \mathrm{ReLU}(x_t) = x_t$: a fresh identity TAM changes nothing, and a
# backbone fine-tuned from ImageNet starts out as exactly the image model it came from.

# %%
identity_tam = TAM(C, blending_frames=5, init="identity")
print(identity_tam)
print(identity_tam.offset_weights()[:, :4])  # rows: offsets -2..+2, first 4 channels
features = F.relu(torch.randn(B * T, C, H, W))
with torch.no_grad():
    assert torch.equal(identity_tam(features, T), features), "a fresh identity TAM passes post-ReLU features through"

# %% [markdown]
# The same holds for the whole network: a freshly built, identity-initialised bLVNet-TAM **is**
# bLVNet without TAM. Copy its other weights into `blvnet_tiny` and the logits agree; and like
# bLVNet without TAM it is a bag of pairs (notebook 1): putting the frame pairs in another
# order changes nothing. The authors' start is order-sensitive from the first step.

# %%
identity_net = blvnet_edu.build_model("blvnet_tam_tiny", tam_init="identity").double().eval()
kaiming_net = net.double().eval()
for m in (identity_net, kaiming_net):
    torch.nn.init.normal_(m.fc.weight, std=0.5)  # larger than the training init, to see changes
without_tam = blvnet_edu.build_model("blvnet_tiny").double().eval()
without_tam.load_state_dict({k: v for k, v in identity_net.state_dict().items() if ".tam." not in k})  # strict
clips = torch.randn(2, 8, 3, 64, 64, dtype=torch.float64)  # (B, T, C, H, W)
shuffled = shuffle_pairs(clips, torch.Generator().manual_seed(0))  # each clip's pairs in another order


def relative_change(model, changed):
    """Largest change of a logit between `clips` and `changed`, relative to the largest logit."""
    logits = model(clips)
    return ((changed - logits).abs().max() / logits.abs().max()).item()


with torch.no_grad():
    same_as_without = relative_change(identity_net, without_tam(clips))
    identity_shuffled = relative_change(identity_net, identity_net(shuffled))
    kaiming_shuffled = relative_change(kaiming_net, kaiming_net(shuffled))
print(f"identity bLVNet-TAM vs bLVNet without TAM: {same_as_without:.1e}")
print(f"identity bLVNet-TAM, pairs shuffled:        {identity_shuffled:.1e}")
print(f"authors' bLVNet-TAM, pairs shuffled:        {kaiming_shuffled:.1e}")
assert same_as_without < 1e-12, "a fresh identity bLVNet-TAM is bLVNet without TAM"
assert identity_shuffled < 1e-12, "...so it is a bag of pairs"
assert kaiming_shuffled > 1e-3, "the authors' start relates distant pairs from the first step"

# %% [markdown]
# **Why it decides learning.** Training amplifies differences the network already makes. On
# the dataset's long-range tier (notebook 1) the two classes of a pair hold exactly the same
# frame pairs in another order, so a bag of pairs gives both the same distribution of
# outputs. From the identity start the network *is* such a bag. Everything else in the data
# (appearance, and the short-range direction through the pairs) can be fitted through the
# other weights; the only route to the long-range order is the gradient on the neighbour
# weights, $\partial L / \partial w_{\pm1} = \sum_t g_t \odot x_{t\pm1}$, a weak signal at
# the start, while weight decay pulls those weights back to 0. From the authors' start every
# TAM already gives past and future frames as much weight as the current one: the network
# begins order-sensitive, the two long-range classes already reach the classifier
# differently, and gradient descent keeps what helps.
#
# `benchmarks/tam_init.py` measures it: tiny bLVNet-TAM trained on the long-range tier from
# each start, over several seeds, with the learned share of each offset per TAM layer
# (`summarize_tams`, notebook 8). Its results are read here when they exist.

# %%
study_file = ROOT / "docs" / "benchmarks" / "tam_init.json"
if study_file.exists():
    study = json.loads(study_file.read_text())["runs"]
    inits = sorted({r["init"] for r in study}, key=lambda i: (i != "kaiming", i))
    layers = list(study[0]["shares"])
    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], subplot_titles=[
        "long-range order-pair accuracy, per seed", "weight on other frames (past + future), mean over seeds"])
    for init in inits:
        runs = [r for r in study if r["init"] == init]
        fig.add_scatter(x=[init] * len(runs), y=[r["long_range"] for r in runs], mode="markers+text",
                        text=[f"seed {r['seed']}" for r in runs], textposition="middle right",
                        marker=dict(size=10), name=init, legendgroup=init, row=1, col=1)
        other = [sum(r["shares"][layer]["past"] + r["shares"][layer]["future"] for r in runs) / len(runs)
                 for layer in layers]
        fig.add_bar(x=layers, y=other, name=f"{init}: past + future share", legendgroup=init, row=1, col=2)
    fig.add_hline(y=0.5, line=dict(color="grey", dash="dash"), annotation_text="chance", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02])
    fig.update_layout(title="TAM initialisation study (benchmarks/tam_init.py)", template="plotly_white", height=420)
    fig.show()
    for init in inits:
        accuracies = [r["long_range"] for r in study if r["init"] == init]
        print(f"{init:9s} long-range order-pair accuracy over {len(accuracies)} seeds: "
              + ", ".join(f"{a:.0%}" for a in accuracies))
else:
    print(f"{study_file.relative_to(ROOT)} does not exist yet: `python benchmarks/tam_init.py` "
          "(several trainings of tiny bLVNet-TAM) writes it.")

# %% [markdown]
# A trained TAM shows what training kept. The demo bLVNet-TAM in `app/demo/` (trained on
# the course's synthetic set, notebook 7) in its first TAM: the mean weight per offset, how
# many channels have a **negative** weight on both neighbours ($x_t$ minus a share of
# $x_{t-1}$ and $x_{t+1}$, a difference along time that responds to what changes between
# frames), and the whole `(3, C)` matrix. Notebook 8 looks at all its TAMs.

# %%
demo = load_predictor(DEMO / "blvnet_tam_tiny.pt").model
learned = demo.tams()["layer0.tam"].offset_weights()  # (3, C)
print("mean weight per offset -1, 0, +1:", learned.mean(dim=1))
print(f"channels with a negative weight on both neighbours: {int(((learned[0] < 0) & (learned[2] < 0)).sum())} "
      f"of {learned.shape[1]}")
tam_layer_heatmap("layer0.tam of the trained demo bLVNet-TAM", learned).update_layout(height=300).show()

# %% [markdown]
# ## Stacked TAMs see further
#
# One TAM of width $2k+1$ sees $2k+1$ frames. bLVNet-TAM has a TAM on the stem output, at the
# input of stages 1-3 and in every block of stage 4, so their reach adds up: after $L$ TAMs a
# frame depends on up to $2kL + 1$ frames (more than that in bLVNet, whose local fusion also
# merges frame pairs, notebook 4). The figure sends one spike through a stack of TAMs with
# positive weights and shows where it arrives.

# %%
T_field, depth = 16, 4
spike = torch.zeros(1, T_field, 1, 1, 1)  # (B, T, C, H, W)
spike[0, T_field // 2] = 1.0
layer = TAM(1, blending_frames=3)
with torch.no_grad():
    layer.weight.fill_(1 / 3)
    signal, rows_field = fold_time(spike), []
    for _ in range(depth):
        signal = layer(signal, T_field)  # (T, 1, 1, 1)
        rows_field.append(signal.flatten().tolist())
field = go.Figure(go.Heatmap(z=rows_field, x=list(range(T_field)), y=[f"after {i + 1} TAM" for i in range(depth)],
                             colorscale="Blues", colorbar=dict(title="response")))
field.update_layout(title=f"A spike at frame {T_field // 2} through stacked TAMs of width 3",
                    xaxis_title="frame", template="plotly_white", height=320)
field.show()
reach = [sum(v > 0 for v in row) for row in rows_field]
print("frames reached:", reach)
assert reach == [2 * (i + 1) + 1 for i in range(depth)]

# %% [markdown]
# ## What TAM costs
#
# **Parameters**: $(2k+1) \cdot C$ per TAM. **Multiply-adds**: $2k+1$ per element of the
# feature maps it reads, against $9\,C_{in}$ per output element for a 3x3 convolution
# $C_{in} \to C_{out}$. On the same map, with as many output channels as input channels, TAM
# costs a fraction $(2k+1) / (9\,C_{in})$ of one 3x3 convolution: 0.5% at $C = 64$, the
# narrowest place it sits. FLOP counts (ours, by `torch.utils.flop_counter`, and the paper's)
# count only convolutions and matrix products; element-wise work such as BatchNorm, ReLU and
# TAM is left out, as usual.
#
# For the whole bLVNet-TAM-50 (16 frames, 174 classes) we count TAM's parameters and, with
# forward hooks, the elements each TAM reads. We build the paper's modules (`fast=False`):
# the fast ones read each frame pair's map once, half the elements, for the same result
# (notebook 4). The model is built on PyTorch's `meta` device: tensors with shapes and no
# data, so the "forward" pass only propagates shapes and costs nothing.

# %%
with torch.device("meta"):
    big_model = blvnet_edu.build_model("blvnet_tam_50", num_frames=16, num_classes=174, fast=False)
tams = big_model.tams()
tam_params = sum(m.weight.numel() for m in tams.values())
total_params = sum(p.numel() for p in big_model.parameters())
tam_macs = []


def count_tam(module, args):
    x = args[0]  # the TAM's input, (B*T, C, H, W): every frame (args[1] is T)
    tam_macs.append(module.blending_frames * x.numel())  # one multiply-add per offset and element


hooks = [m.register_forward_pre_hook(count_tam) for m in tams.values()]
with torch.no_grad():
    big_model.eval()(torch.zeros(1, 16, 3, 224, 224, device="meta"))
for h in hooks:
    h.remove()
print(f"TAMs in bLVNet-TAM-50: {len(tams)}; parameters {tam_params:,} of {total_params:,} "
      f"({tam_params / total_params:.3%})")
print(f"TAM multiply-adds per clip: {sum(tam_macs) / 1e9:.3f} G, against 23.78 GFLOPs for the model "
      f"({sum(tam_macs) / 1e9 / 23.78:.2%})")
# the prose's figures: a thousandth of the parameters, 0.3% of the multiply-adds, 0.5% of a 3x3 conv at C = 64
assert tam_params / total_params < 0.001 and 0.0025 <= sum(tam_macs) / 1e9 / 23.78 < 0.0035
assert f"{3 / (9 * 64):.1%}" == "0.5%"
record("03.tam_params", tam_params)  # for the README (benchmarks/course_figures.py)
record("03.total_params", total_params)
record("03.tam_gmacs", sum(tam_macs) / 1e9)

# %% [markdown]
# Less than a thousandth of the parameters and well under 1% of the multiply-adds. Few
# FLOPs do not guarantee a fast layer, though: element-wise work is limited by memory
# traffic, and the recipe as written allocates a full-size tensor per offset and then a stack
# of all of them. The fast version accumulates the sum in place in one output tensor. A
# small timing on this machine (an illustration only: CPU timings on shared cores are noisy,
# `benchmarks/` has the careful ones):

# %%
shape = pick((16, 64, 28, 28), (16, 64, 112, 112))  # full: a stem-sized map, 16 frames x 64 channels
repeats = pick(3, 5)
frames_in = F.relu(torch.randn(shape))
timings = {}
module = TAM(shape[1], blending_frames=3)
fast_tam = lambda x: tam_frames(x, module.weight, num_frames=16)  # noqa: E731
for name, run in (("fast (in place)", fast_tam), ("TAM, the recipe (stack and sum)", lambda x: module(x, 16))):
    best_fwd = best_bwd = float("inf")
    for _ in range(repeats):
        x_t = frames_in.clone().requires_grad_()
        start = time.perf_counter()
        out = run(x_t)
        mid = time.perf_counter()
        out.sum().backward()
        end = time.perf_counter()
        best_fwd, best_bwd = min(best_fwd, mid - start), min(best_bwd, end - mid)
    timings[name] = (best_fwd * 1e3, best_bwd * 1e3)
    print(f"{name:30s} forward {best_fwd * 1e3:7.1f} ms   backward {best_bwd * 1e3:7.1f} ms   on {shape}")

# %% [markdown]
# ## Summary
#
# - TAM: $y_t = \mathrm{ReLU}(\sum_{o=-k}^{k} w_o \odot x_{t+o})$, zero padding in time,
#   weights `(2k+1, C)`, row `i` = offset `i - k`.
# - It is a depthwise temporal convolution: `conv3d` with `groups=C`, kernel `(2k+1, 1, 1)`,
#   padding `(k, 0, 0)` on `(B, C, T, H, W)`, kernel taps in the order of the rows (PyTorch
#   cross-correlates), then ReLU.
# - TSM is TAM with $k = 1$ and fixed one-hot weights.
# - It starts from the authors' random $\mathcal N(0, 2/C)$: an identity start would make a
#   fresh bLVNet-TAM exactly bLVNet without TAM, a bag of pairs, which learned long-range
#   order late or not at all in our runs (`benchmarks/tam_init.py`).
# - It costs $(2k+1) C$ parameters and a negligible share of the FLOPs.
#
# Notebook 4 puts TAM where bLVNet uses it: on the input of Big-Little stages that see two
# frames for the price of one.

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it.
#
# **Your turn 1.** TAM as one `torch.nn.functional.conv1d` call (plus reshapes and the
# ReLU). `conv1d` wants `(N, C, L)`: which dimensions of the folded frames `(B*T, C, H, W)`
# go where, and which way round does the kernel go?

# %%
def tam_conv1d(x, weight, num_frames):
    """TAM of folded frames `(B*T, C, H, W)` with weights `(2k+1, C)` (row i = offset i - k)."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.tam_conv1d(tam_conv1d))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def tam_conv1d(x, weight, num_frames):
#     num_offsets, channels = weight.shape
#     _, _, h, w = x.shape
#     clips = unfold_time(x, num_frames)  # (B, T, C, H, W)
#     series = clips.permute(0, 3, 4, 2, 1).reshape(-1, channels, num_frames)  # (B*H*W, C, T)
#     kernel = weight.t().unsqueeze(1)  # (C, 1, 2k+1): one temporal filter per channel
#     out = F.conv1d(series, kernel, padding=num_offsets // 2, groups=channels)  # (B*H*W, C, T)
#     out = out.view(-1, h, w, channels, num_frames).permute(0, 4, 3, 1, 2)  # (B, T, C, H, W)
#     return fold_time(F.relu(out))
# ```
#
# PyTorch's convolutions are cross-correlations: tap `i` multiplies input `t + i - k`, which
# is exactly TAM's row `i`, offset `i - k`. Flipping the kernel (`weight.flip(0)`) gives a
# TAM that reads the past where it should read the future.
#
# </details>
#
# **Your turn 2.** Played backwards, a clip meets TAM's kernel backwards. Which weights
# `w'` make TAM on the reversed clip give the reversed output of TAM with `w`:
# `TAM(reverse(x), w') = reverse(TAM(x, w))`?

# %%
def reversed_weights(weight):
    """`(2k+1, C)` -> the weights that undo a reversal of the clip."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.reversed_weights(reversed_weights))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def reversed_weights(weight):
#     return weight.flip(0)  # offset o becomes offset -o
# ```
#
# A TAM whose weights are symmetric ($w_{-o} = w_o$ for every channel) cannot tell a clip
# from its reverse; learned weights are not symmetric, which is how bLVNet-TAM tells
# "moving left" from "moving right then left".
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** TAM's weights are `(2k+1, C)`: the same at every pixel and every frame. Which
# symmetries does that give it? Is TAM equivariant to shifting the clip in time?
#
# <details><summary>Solution</summary>
#
# It commutes with any spatial permutation of pixels (it acts on each pixel alone) and with
# shifting the clip in time *away from the ends* (a convolution is shift-equivariant); at the
# ends the zero padding breaks it. It is **not** invariant to reversing the clip unless every
# channel's weights are symmetric ($w_{-o} = w_o$): reversing flips the kernel, as we proved.
#
# </details>
#
# **2.** Mixed TSM: use `fold_div=4` (1/4 of the channels each way). Write its TAM weights and
# check them against `tsm_shift(x, T, fold_div=4)`. What share of the channels still sees
# only the current frame?
#
# <details><summary>Solution</summary>
#
# `tsm_weights(C, fold_div=4)` and the same `torch.equal` check on non-negative features.
# Half the channels (`[2*fold, C)` with `fold = C/4`) keep offset 0 only.
#
# </details>
#
# **3.** How many parameters do all the TAMs of bLVNet-TAM-50 have with blending width 5
# (`build_model("blvnet_tam_50", blending_frames=5)`)? Guess first from the numbers above.
#
# <details><summary>Solution</summary>
#
# $5/3$ times as many: the count is linear in $2k+1$ and the channels at each TAM do not
# change. `sum(m.weight.numel() for m in model.tams().values())`.
#
# </details>

# %% [markdown]
# ## Read next
#
# - the paper's Sec. 3.2 (temporal aggregation module)
# - `blvnet_edu/models/tam.py` (the paper's recipe) and `models/fast/tam.py` (in place, hand-written backward)
# - TSM (Lin et al., ICCV 2019), the fixed shift that TAM generalises
# - next: notebook 4, Big-Little
