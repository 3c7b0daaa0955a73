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
# # 4. Big-Little: two branches, two frames, half the cost
#
# TAM (notebook 3) lets frames talk to each other, but a video model still runs a 2D CNN on
# every frame, so its cost grows with the number of frames. bLVNet's second idea makes frames
# cheaper: it takes the image network **Big-Little Net** (bLNet, Chen et al., ICLR 2019),
# whose stages have a deep branch at low resolution and a light branch at full resolution,
# and feeds the two branches **different frames**. Each stage then digests two frames for
# about the price of one.
#
# **Objectives.** After this notebook you can
# - describe a bL stage (big branch at half resolution, little branch with $C/\alpha$
#   channels and fewer blocks set by $\beta$, nearest upsampling, sum, fusion block) and
#   predict its shapes,
# - write a bL stage's forward pass from its parts for bLVNet's pair routing (big: odd
#   frames, little: even frames, local fusion) and for plain frame routing, and prove it
#   equals the package's `BLModule` and `BLLayer0`,
# - prove that the package's fast path, which keeps one map per pair instead of two copies,
#   computes the same TAM and the same network (`blvnet_edu.models.fast`),
# - count FLOPs and explain why bLVNet-TAM on 16 frames costs less than TSN-ResNet-50 on 8,
#   and how $\alpha$ and $\beta$ move that cost.
# - measure training memory per clip on a CPU (`saved_tensors_hooks`) and check the paper's
#   Fig. 3b claim: bLVNet-TAM on 16 frames keeps no more activations than TSN on 8.
#
# **Before you start.** Prerequisites: notebooks 1 and 3; ResNet's bottleneck block. Run
# time on 2 CPU cores: quick mode (`BLVNET_EDU_QUICK=1`, what the tests run) about 20 s;
# full mode (the default) about 1 minute.

# %%
from functools import partial

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

import blvnet_edu
from blvnet_edu.models import PAIRS, SINGLE_FRAMES, TAM, BLLayer0, BLModule
from blvnet_edu.models.fast import pair_weights, tam_pairs
from blvnet_edu.profiling import format_profile, profile_model
from course import check, pick, record, setup

setup()

# %% [markdown]
# ## A Big-Little stage
#
# A ResNet stage is a stack of Bottleneck blocks at one resolution. bLNet splits a stage of
# `blocks` Bottlenecks with output width $C$ into two branches that see the same input $x$:
#
# - **big** $\mathcal{B}$: `blocks - 1` Bottlenecks, the first with stride 2, so the deep part
#   runs at **half resolution** (a quarter of the pixels); its last block has no final ReLU,
#   since its output is summed first;
# - **little** $\mathcal{L}$: $\max(1, \lfloor \text{blocks}/\beta \rfloor - 1)$ Bottlenecks
#   with $C/\alpha$ channels at **full resolution**, then $E$, a 1x1 convolution (+BN) back to
#   $C$ channels;
# - **merge**: the big output is upsampled (nearest neighbour, each pixel copied to a 2x2
#   block), added to the little output, passed through a ReLU and one more Bottleneck $F$,
#   the *fusion block*, which applies the stage's own stride:
#
# $$ y = F\Big(\mathrm{ReLU}\big(\mathrm{up}_2(\mathcal{B}(x)) + E(\mathcal{L}(x))\big)\Big). $$
#
# Fine details come from the light branch, depth from the branch that works on a quarter of
# the pixels. bLVNet-TAM-50 uses $\alpha = 2$, $\beta = 4$. In the package this is `BLModule`;
# its parts are `module.big`, `module.little`, `module.little_e`, `module.fusion` (stacks of
# `Bottleneck`s from `blvnet_edu.models.blocks.make_layer`) and `module.tam`.

# %%
stage = BLModule(in_channels=64, out_channels=256, blocks=3, alpha=2, beta=4, stride=2, routing=SINGLE_FRAMES)
print(f"big: {len(stage.big)} Bottlenecks   little: {len(stage.little)} Bottleneck(s) with "
      f"{stage.little[0].conv3.out_channels} channels   fusion: {len(stage.fusion)}")

x = torch.randn(2, 64, 56, 56)  # (N, C_in, H, W): the input of bLResNet-50's stage 1
stage.eval()
with torch.no_grad():
    big = stage.big(x)  # (N, 256, 28, 28): half resolution
    little = stage.little(x)  # (N, 128, 56, 56): C / alpha channels, full resolution
    little_e = stage.little_e(little)  # (N, 256, 56, 56)
    up = F.interpolate(big, size=little_e.shape[-2:], mode="nearest")  # (N, 256, 56, 56)
    out = stage.fusion(F.relu(up + little_e))  # (N, 256, 28, 28): the stage's stride
for name, t in (("big", big), ("little", little), ("little_e", little_e), ("upsampled big", up), ("stage output", out)):
    print(f"{name:14s} {tuple(t.shape)}")
# Nearest upsampling by 2 copies each pixel to a 2x2 block.
assert torch.equal(up, big.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1))

# %% [markdown]
# How many blocks each branch gets in the ResNet-50 and ResNet-101 layouts (stage 4 stays a
# plain ResNet stage in bLVNet):

# %%
alpha, beta = 2, 4
print(f"{'depth':6s} {'stage':6s} {'blocks':>6s} {'big':>4s} {'little':>6s} {'C_out':>6s} {'C_little':>8s}")
for depth, layers in ((50, (3, 4, 6)), (101, (4, 8, 18))):
    for i, (blocks, width) in enumerate(zip(layers, (64, 128, 256))):
        little_blocks = max(1, blocks // beta - 1)
        print(f"{depth:<6d} {i + 1:<6d} {blocks:6d} {blocks - 1:4d} {little_blocks:6d} {4 * width:6d} {4 * width // alpha:8d}")

# %% [markdown]
# Before stage 1, **bL layer 0** (`BLLayer0`) does the same with single convolutions on the
# stem output: big, one strided 3x3 convolution; little, a 3x3 convolution to $C/\alpha$
# channels, a strided 3x3 and a 1x1 back to $C$; the sum goes through a 1x1 convolution.
#
# ## bLVNet: odd frames to big, even frames to little
#
# In bLNet both branches see the same image. bLVNet (paper Sec. 3.1) feeds them **different
# frames**: with $2T'$ frames, the big branch gets frames $1, 3, 5, \dots$ and the little
# branch frames $0, 2, 4, \dots$ (0-based). The sum at the merge then combines two adjacent
# frames: **local fusion**. The paper copies the fused map back to both frames of the pair,
# so the next stage (and its TAM) again reads the clip as $T$ frames; stage 4 keeps one frame
# per pair.
#
# The package calls this routing `PAIRS` (`FrameRouting(2)`, in `blvnet_edu/models/temporal.py`:
# `split` odd/even, `merge` copies back, `select` one frame per pair for stage 4);
# `SINGLE_FRAMES` (`FrameRouting(1)`) sends every frame through both branches (TSN on a bLNet
# backbone: frames never meet).

# %%
T_demo = 8
fig = make_subplots(rows=1, cols=2, subplot_titles=("bLVNet: PAIRS (local fusion)", "TSN-bLNet: SINGLE_FRAMES"),
                    horizontal_spacing=0.06)
colours = {"little": "#2a9d8f", "big": "#e76f51", "fused": "#264653"}
for col, pairs in ((1, True), (2, False)):
    frames_x = list(range(T_demo))
    # input frames (top row)
    fig.add_trace(go.Scatter(x=frames_x, y=[3] * T_demo, mode="markers+text", text=[f"{t}" for t in frames_x],
                             textposition="top center", marker=dict(size=18, color="#adb5bd"), showlegend=False),
                  row=1, col=col)
    outputs = [(2 * i + 0.5, (2 * i, 2 * i + 1)) for i in range(T_demo // 2)] if pairs else [(t, (t,)) for t in frames_x]
    for x_out, sources in outputs:
        for t in sources:
            branches = [("little" if t % 2 == 0 else "big")] if pairs else ["little", "big"]
            for b in branches:
                y_branch = 2.2 if b == "big" else 1.8
                x_branch = t + (0.15 if b == "big" else -0.15) * (not pairs)
                fig.add_trace(go.Scatter(x=[t, x_branch, x_out], y=[3, y_branch, 1], mode="lines+markers",
                                         line=dict(color=colours[b], width=2),
                                         marker=dict(size=[0, 12, 0], color=colours[b]), showlegend=False),
                              row=1, col=col)
        fig.add_trace(go.Scatter(x=[x_out], y=[1], mode="markers", marker=dict(size=18, color=colours["fused"], symbol="square"),
                                 showlegend=False), row=1, col=col)
    n_out = T_demo // 2 if pairs else T_demo
    text = f"{n_out} fused maps, each copied to both frames" if pairs else f"{n_out} maps, one per frame"
    fig.add_annotation(x=(T_demo - 1) / 2, y=0.5, text=text, showarrow=False, row=1, col=col)
for name, colour in colours.items():
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(size=12, color=colour), name=name))
fig.update_yaxes(tickvals=[1, 2, 3], ticktext=["merged", "branches", "input frames"], range=[0.3, 3.5])
fig.update_xaxes(showticklabels=False)
fig.update_layout(title="Which frame goes through which branch, in one bL stage", template="plotly_white", height=380)
fig.show()

# %% [markdown]
# ### A bL stage from its parts
#
# Here is the stage's forward pass written from the paper, using only the package's
# submodules (`module.tam`, `module.big`, `module.little`, `module.little_e`,
# `module.fusion`). The input is every frame `(B*T, C, H, W)` and the clip length $T$ comes
# with it (`stage(x, num_frames)`): TAM runs over all $T$ frames; with pairs the odd frames
# go to big and the even frames to little, and the stage returns one fused map per pair. The
# network (`VideoNet`) then copies each back to both frames of its pair
# (`model.routing.merge`). With single frames both branches see each frame.


# %%
def bl_stage_from_scratch(module, frames, num_frames, pairs):
    """A bL stage by the paper: `(B*T, C_in, H, W)` -> `(N, C_out, H/stride, W/stride)`, N = B*T/2 with pairs."""
    if module.tam is not None:
        frames = module.tam(frames, num_frames)  # TAM over all T frames
    if pairs:
        big_in, little_in = frames[1::2], frames[0::2]  # odd frames -> big, even frames -> little
    else:
        big_in = little_in = frames  # every frame through both branches
    big = module.big(big_in)  # (N, C_out, H/2, W/2), N = B*T/2 with pairs
    little = module.little_e(module.little(little_in))  # (N, C_out, H, W)
    big = F.interpolate(big, size=little.shape[-2:], mode="nearest")  # (N, C_out, H, W)
    return module.fusion(F.relu(big + little))  # local fusion of each pair, (N, C_out, H/s, W/s)


def randomize_(module):
    """Random TAM weights and BatchNorm statistics, so that no part can hide behind an identity."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, TAM):
                m.weight.normal_()
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return module.double().eval()


B, T, H = 2, 8, 16
tam = partial(TAM, blending_frames=3)  # the temporal module factory: channels -> TAM
for name, routing in (("PAIRS", PAIRS), ("SINGLE_FRAMES", SINGLE_FRAMES)):
    pairs = routing is PAIRS
    torch.manual_seed(0)
    module = randomize_(BLModule(16, 64, blocks=3, alpha=2, beta=2, stride=2, routing=routing, temporal=tam))
    x = torch.rand(B * T, 16, H, H, dtype=torch.float64)  # (B*T, C_in, H, W), post-ReLU like a real stage input
    with torch.no_grad():
        ours, theirs = bl_stage_from_scratch(module, x, T, pairs), module(x, T)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    print(f"{name:13s} input {tuple(x.shape)} -> output {tuple(theirs.shape)}; "
          f"from scratch = BLModule, largest difference {(ours - theirs).abs().max().item():.1e}")
    assert len(theirs) == (B * T // 2 if pairs else B * T)  # one fused map per pair

# %% [markdown]
# The stage takes every frame, `(B*T, C, H, W)`; with pairs it computes only `B*T/2` fused
# maps, and the network copies each to both frames of its pair before the next stage. bL
# layer 0, after the stem, is the first to route frames. The same proof for `BLLayer0`:


# %%
def bl_layer0_from_scratch(m, x, num_frames, pairs):
    """bL layer 0: frames `(B*T, C, H, W)` -> one map per pair `(B*T/2, C, H/2, W/2)` (per frame without pairs)."""
    if m.tam is not None:
        x = m.tam(x, num_frames)  # TAM over the stem output, all T frames
    big, little = (x[1::2], x[0::2]) if pairs else (x, x)
    big = m.bn_b0(m.b_conv0(big))  # one strided 3x3 conv, (N, C, H/2, W/2)
    little = F.relu(m.bn_l0(m.l_conv0(little)))  # (N, C/alpha, H, W)
    little = F.relu(m.bn_l1(m.l_conv1(little)))  # (N, C/alpha, H/2, W/2)
    little = m.bn_l2(m.l_conv2(little))  # (N, C, H/2, W/2)
    fused = F.relu(big + little)  # local fusion of each pair (pairs)
    return F.relu(m.bn_bl_init(m.bl_init(fused)))  # (N, C, H/2, W/2), N = B*T/2 with pairs


for name, routing in (("PAIRS", PAIRS), ("SINGLE_FRAMES", SINGLE_FRAMES)):
    pairs = routing is PAIRS
    torch.manual_seed(0)
    layer0 = randomize_(BLLayer0(16, alpha=2, routing=routing, temporal=tam))
    frames = torch.rand(B * T, 16, 2 * H, 2 * H, dtype=torch.float64)  # (B*T, C, H, W): stem output
    with torch.no_grad():
        ours, theirs = bl_layer0_from_scratch(layer0, frames, T, pairs), layer0(frames, T)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    print(f"{name:13s} {tuple(frames.shape)} -> {tuple(theirs.shape)}: from scratch = BLLayer0")

# %% [markdown]
# ### Speed: one map per pair instead of two copies
#
# The copies cost memory and time: each stage writes $T$ maps of which $T/2$ are duplicates,
# and the next TAM reads both. By default the models run the package's **fast path**
# (`blvnet_edu/models/fast/`, swapped in by `build_model(..., fast=True)`), which stores one
# map per pair, `(B*T/2, C, H, W)` (`PairStorage`: no copy back, no selection before stage 4),
# and computes the big (odd) and little (even) inputs after TAM directly from it with
# `tam_pairs` (`PairTAM`). Why is that exact?
#
# After a stage both frames of pair $i$ hold the same map, $x_{2i} = x_{2i+1} = f_i$. Frame
# $2i + e$ ($e = 0$ even/little, $e = 1$ odd/big) receives from TAM
#
# $$ \sum_{o=-k}^{k} w_o \odot x_{2i+e+o} = \sum_{o=-k}^{k} w_o \odot f_{\,i + \lfloor (e+o)/2 \rfloor}, $$
#
# a TAM over the *pairs* whose weight for pair offset $d$ is the sum of the $w_o$ with
# $\lfloor (e+o)/2 \rfloor = d$ (`pair_weights(weight, e)`), and zero padding over frames is
# zero padding over pairs. For $k = 1$:
#
# | frame | pair offset $-1$ | $0$ | $+1$ |
# |---|---|---|---|
# | odd ($e=1$, big) | $0$ | $w_{-1} + w_0$ | $w_{+1}$ |
# | even ($e=0$, little) | $w_{-1}$ | $w_0 + w_{+1}$ | $0$ |
#
# The odd frame's past neighbour is its own pair; the even frame's future neighbour is.

# %%
w = torch.randn(3, 5, dtype=torch.float64)  # (2k+1, C), k = 1
zero = torch.zeros(5, dtype=torch.float64)
torch.testing.assert_close(pair_weights(w, 1), torch.stack([zero, w[0] + w[1], w[2]]))
torch.testing.assert_close(pair_weights(w, 0), torch.stack([w[0], w[1] + w[2], zero]))

for width in (3, 5, 7):
    tam_t = TAM(5, blending_frames=width).double()
    with torch.no_grad():
        tam_t.weight.normal_()
        pairs_maps = torch.randn(B * T // 2, 5, 4, 4, dtype=torch.float64)  # (B*T/2, C, H, W)
        copied = tam_t(pairs_maps.repeat_interleave(2, dim=0), T)  # the paper: copy back, TAM over T frames
        odd, even = tam_pairs(pairs_maps, tam_t.weight, T)  # the fast path: (B*T/2, C, H, W) each
        torch.testing.assert_close(odd, copied[1::2], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(even, copied[0::2], rtol=1e-12, atol=1e-12)
        # ...which is two TAMs over T/2 "pair frames" with the folded weights:
        for parity, result in ((1, odd), (0, even)):
            pair_weight = pair_weights(tam_t.weight, parity)  # (2D+1, C), D = ceil(k / 2)
            over_pairs = TAM(5, blending_frames=pair_weight.shape[0]).double()
            over_pairs.weight.copy_(pair_weight)
            torch.testing.assert_close(over_pairs(pairs_maps, T // 2), result, rtol=1e-12, atol=1e-12)
    print(f"width {width}: copy back + TAM = tam_pairs = TAM over pairs with "
          f"pair_weights ({tuple(pair_weights(tam_t.weight, 1).shape)})")

# %% [markdown]
# The same holds for the whole network. Each fast module is a subclass of the paper's, with
# the same parameters and another `forward` (`FastBLModule`, `PairTAM`, `FastTAM`,
# `PairStorage`); `model.fast` swaps the classes, and `print(model)` shows which run. (The
# package's test `tests/test_models_fast_convert.py` checks outputs and every parameter
# gradient, for every model family; a forward hook fires on whichever module runs and sees
# what it computes: on the fast modules, one map per pair.)

# %%
net = randomize_(blvnet_edu.build_model("blvnet_tam_tiny"))
print(net.layer1.tam, net.routing, type(net.layer1).__name__, sep="\n")
clip = torch.randn(2, 8, 3, 64, 64, dtype=torch.float64)
with torch.no_grad():
    net.fast = False
    paper_logits = net(clip)
    net.fast = True
    fast_logits = net(clip)
torch.testing.assert_close(fast_logits, paper_logits, rtol=1e-10, atol=1e-10)
print(f"fast path = paper path on bLVNet-TAM tiny: largest logit difference "
      f"{(fast_logits - paper_logits).abs().max().item():.1e}")

# %% [markdown]
# ## The whole network's shapes
#
# `profile_model` runs one forward pass and records every stage's output. On the tiny
# bLVNet-TAM (8 frames): the stem sees all 8 frames, bL layer 0 fuses them into 4 pairs, and
# from there on the network computes 4 distinct maps per clip (the "maps" column; the paper
# copies each to both frames of its pair, hence 8 rows in a bL stage's output shape). Stage 4 is a plain
# ResNet stage with a TAM in each block (global fusion) over the $T/2$ maps; the classifier
# averages the 4 per-map logits.

# %%
tiny = blvnet_edu.build_model("blvnet_tam_tiny")
print(format_profile(profile_model(tiny, size=64)))

# %% [markdown]
# ## Why 2T frames cost about what T frames cost in TSN
#
# FLOPs here are multiply-adds of convolutions and matrix products, the paper's convention,
# counted by `torch.utils.flop_counter` on a forward pass (`blvnet_edu.profiling.profile_model`).
# FLOPs depend only on shapes, so we build the full-size models on PyTorch's `meta` device
# (tensors with shapes and no data): the counting pass is instant at the paper's 224 px,
# in quick mode too. Below, one real forward pass checks that the meta count is the real one.
#
# The four networks of the paper's Figure 1, with 174 classes (Something-Something V1):

# %%
def profile_on_meta(name, size=224, **overrides):
    with torch.device("meta"):
        model = blvnet_edu.build_model(name, num_classes=174, **overrides)
    return profile_model(model, size=size)


runs = {
    "TSN-ResNet-50, 8 frames": profile_on_meta("tsn_resnet50", num_frames=8),
    "TSN-ResNet-50, 16 frames": profile_on_meta("tsn_resnet50", num_frames=16),
    "TSN-bLResNet-50, 8 frames": profile_on_meta("tsn_blresnet50", num_frames=8),
    "bLVNet-50, 16 frames (8x2)": profile_on_meta("blvnet_50", num_frames=16),
    "bLVNet-TAM-50, 16 frames (8x2)": profile_on_meta("blvnet_tam_50", num_frames=16),
}
print(f"{'model':32s} {'params':>8s} {'GFLOPs':>7s}   per stage: " + " ".join(f"{r.name:>6s}" for r in runs["TSN-ResNet-50, 8 frames"].stages))
for label, p in runs.items():
    print(f"{label:32s} {p.params / 1e6:7.2f}M {p.gflops:7.2f}   " + " " * 11 + " ".join(f"{r.gflops:6.2f}" for r in p.stages))

ours = runs["bLVNet-TAM-50, 16 frames (8x2)"]
print(f"\nbLVNet-TAM-50 8x2: {ours.params / 1e6:.2f}M parameters, {ours.gflops:.2f} GFLOPs (paper: 25.0M, 23.8)")
assert round(ours.params / 1e6, 1) == 25.0 and round(ours.gflops, 1) == 23.8

# %% [markdown]
# Reading the table:
#
# - **bLVNet-TAM-50 on 16 frames costs 23.8 GFLOPs, less than TSN-ResNet-50 on 8 frames**
#   (32.7) and about a third of TSN on 16 frames (65.4).
# - The stem (`conv1`) runs on every frame: bLVNet pays it 16 times (1.89 = 2 x 0.94).
#   Everything after it runs on 8 maps: bL layer 0 turns 16 frames into 8 pairs. So
#   bLVNet-50 on 16 frames is TSN-bLResNet-50 on 8 frames plus 8 stems, exactly.
# - TAM adds no counted FLOPs (element-wise, 0.3% of the multiply-adds, notebook 3) and
#   no parameters worth counting.
# - The bLResNet backbone itself is cheaper than ResNet-50 per frame (22.8 against 32.7 for 8
#   frames): that is bLNet's contribution; the pairs are bLVNet's. (The stages of the two
#   backbones do not sit at the same resolutions: ResNet-50's stage 1 runs at 56x56 after a
#   max-pool, bLResNet's bL layer 0 takes the max-pool's place and its stage 1 ends at 28x28.)

# %%
tsn_bl, blv, blv_tam = (runs[k] for k in ("TSN-bLResNet-50, 8 frames", "bLVNet-50, 16 frames (8x2)",
                                          "bLVNet-TAM-50, 16 frames (8x2)"))
extra_stems = blv.stages[0].gflops - tsn_bl.stages[0].gflops
print(f"bLVNet-50 (16) - TSN-bLResNet-50 (8) = {blv.gflops - tsn_bl.gflops:.4f} GFLOPs; 8 more stems = {extra_stems:.4f}")
assert abs(blv.gflops - tsn_bl.gflops - extra_stems) < 1e-3
assert blv_tam.gflops < runs["TSN-ResNet-50, 8 frames"].gflops
tsn8, tsn16 = runs["TSN-ResNet-50, 8 frames"].gflops, runs["TSN-ResNet-50, 16 frames"].gflops
# the figures read above: 23.8 < 32.7, a third of 65.4; 1.89 = 2 x 0.94; 22.8
assert [f"{g:.1f}" for g in (blv_tam.gflops, tsn8, tsn16, tsn_bl.gflops)] == ["23.8", "32.7", "65.4", "22.8"]
assert f"{blv.stages[0].gflops:.2f}" == "1.89" and f"{tsn_bl.stages[0].gflops:.2f}" == "0.94"
assert 0.3 < blv_tam.gflops / tsn16 < 0.37
for key, value in {"blvnet_50_16": blv.gflops, "tsn_blresnet50_8": tsn_bl.gflops, "extra_stems": extra_stems,
                   "tsn_resnet50_8": tsn8, "tsn_resnet50_16": tsn16}.items():
    record(f"04.gflops.{key}", value)  # for the README (benchmarks/course_figures.py)

# One real forward pass: the meta count is the count of the real computation.
size_check = pick(112, 224)
real = profile_model(blvnet_edu.build_model("blvnet_tam_50", num_frames=16, num_classes=174), size=size_check)
meta = profile_on_meta("blvnet_tam_50", size=size_check, num_frames=16)
print(f"at {size_check} px: real forward {real.gflops:.4f} GFLOPs, meta {meta.gflops:.4f}")
assert abs(real.gflops - meta.gflops) < 1e-6 and real.params == meta.params

# %%
bars = go.Figure()
for label, p in runs.items():
    bars.add_bar(name=label, x=[r.name for r in p.stages], y=[r.gflops for r in p.stages],
                 hovertemplate="%{x}: %{y:.2f} GFLOPs")
bars.update_layout(barmode="group", title="Multiply-adds per stage for one clip (224 px, 174 classes)",
                   xaxis_title="stage", yaxis_title="GFLOPs (multiply-adds)", template="plotly_white",
                   legend=dict(orientation="h", y=-0.25), height=450)
bars.show()

# %% [markdown]
# ## How $\alpha$ and $\beta$ move the cost
#
# $\alpha$ divides the little branch's width: a Bottleneck's cost goes with the square of its
# width, so the little branch costs about $1/\alpha^2$. $\beta$ cuts its depth to
# $\max(1, \lfloor \text{blocks}/\beta \rfloor - 1)$ blocks. With $\alpha = \beta = 1$ the
# little branch is as wide as the big one, as deep, and at four times its resolution.
# A sweep over bLVNet-TAM-50 with 16 frames at 224 px (on the meta device, so quick mode runs
# the full size too):

# %%
alphas, betas = (1, 2, 4), (1, 2, 4)
profiles = [[profile_on_meta("blvnet_tam_50", num_frames=16, alpha=a, beta=b) for b in betas] for a in alphas]
gflops = [[p.gflops for p in row] for row in profiles]
params = [[p.params / 1e6 for p in row] for row in profiles]
for a, row_g, row_p in zip(alphas, gflops, params):
    print(f"alpha={a}: " + "   ".join(f"beta={b}: {g:5.2f} GFLOPs {p:5.2f}M" for b, g, p in zip(betas, row_g, row_p)))
print("little blocks per stage (3, 4, 6):",
      {b: [max(1, n // b - 1) for n in (3, 4, 6)] for b in betas})
assert gflops[1][2] == ours.gflops  # alpha=2, beta=4 is the preset
assert all(gflops[i][j] >= gflops[i + 1][j] for i in range(2) for j in range(3)), "wider little, more FLOPs"
assert gflops[0][2] - gflops[1][2] > gflops[1][0] - gflops[1][2], "most of the saving comes from alpha"

sweep = make_subplots(rows=1, cols=2, subplot_titles=("GFLOPs per clip", "parameters (millions)"),
                      horizontal_spacing=0.12)
for col, (z, fmt) in enumerate(((gflops, ".1f"), (params, ".1f")), start=1):
    sweep.add_trace(go.Heatmap(z=z, x=[f"beta={b}" for b in betas], y=[f"alpha={a}" for a in alphas],
                               colorscale="Viridis", showscale=False,
                               text=[[format(v, fmt) for v in row] for row in z], texttemplate="%{text}"),
                    row=1, col=col)
sweep.update_layout(title="bLVNet-TAM-50, 16 frames, 224 px: the little branch's width (alpha) and depth (beta)",
                    template="plotly_white", height=360)
sweep.show()

# %% [markdown]
# Most of the saving comes from $\alpha$. $\beta = 4$ already leaves the little branch a
# single block in each of ResNet-50's stages (3, 4, 6 blocks), so a larger $\beta$ changes
# nothing there. The paper
# uses $\alpha = 2$, $\beta = 4$, the setting of bLNet's ImageNet models, which lets bLVNet
# start from their weights.
#
# Memory follows the same pattern as FLOPs: from bL layer 0 on, bLVNet stores one activation
# map per pair, so the paper fits as many 16-frame clips of bLVNet-TAM on a GPU as 8-frame
# clips of TSN. On Something-Something V1 those 16 frames buy 46.4% top-1 (bLVNet-TAM-50 8x2)
# where TSN stays near 17-18%.
#
# Time need not follow the FLOPs. On a GPU, bLVNet-TAM-50 with 16 frames trained at best about
# as fast as TSN-ResNet-50 with 16 frames, not 8 (batches of 32 in bf16; slower than both at
# batch 8; `docs/benchmarks/gpu_findings.md`, measured on an H200), probably because its thin little branch and the merges and TAMs between stages are
# many small kernels that leave a large GPU idle (not profiled). What the design reliably
# saves is multiply-adds and memory.
#
# ## Measuring the memory claim (paper, Fig. 3b)
#
# "As many 16-frame clips as TSN fits 8-frame clips" is a statement about training memory,
# and most of it is what autograd keeps for the backward pass: the activations. PyTorch
# lets us see every tensor it saves, with `torch.autograd.graph.saved_tensors_hooks`; no GPU
# needed. We add up the storages saved during one training forward pass of one clip (each
# storage once, since views share storage; the weights, which do not grow with the batch,
# left out), for TSN-ResNet-50 and bLVNet-TAM-50 at 8 and 16 frames.


# %%
def saved_mib_per_clip(name, frames, size):
    """MiB of activations autograd saves for the backward pass of one clip (weights excluded)."""
    model = blvnet_edu.build_model(name, num_frames=frames, num_classes=174).train()
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.randn(1, frames, 3, size, size)).sum()
    return sum(saved.values()) / 2**20


MEMORY_SIZE = pick(112, 224)
memory = {(name, frames): saved_mib_per_clip(name, frames, MEMORY_SIZE)
          for name in ("tsn_resnet50", "blvnet_tam_50") for frames in (8, 16)}
for (name, frames), mib in memory.items():
    print(f"{name:14s} {frames:2d} frames: {mib:7.1f} MiB saved per clip at {MEMORY_SIZE} px")
ratios = {f: memory[("blvnet_tam_50", f)] / memory[("tsn_resnet50", f)] for f in (8, 16)}
print("bLVNet-TAM / TSN at equal frames:", {f: round(r, 2) for f, r in ratios.items()})
assert all(0.4 < r < 0.6 for r in ratios.values()), "about half of TSN's activations at equal frames"
assert memory[("blvnet_tam_50", 16)] <= memory[("tsn_resnet50", 8)], "16 frames of bLVNet-TAM <= 8 of TSN"
for (name, frames), mib in memory.items():
    record(f"04.saved_mib.{name}_{frames}", mib)  # for the README (benchmarks/course_figures.py)
go.Figure([go.Bar(name=name, x=[f"{f} frames" for f in (8, 16)], y=[memory[(name, f)] for f in (8, 16)])
           for name in ("tsn_resnet50", "blvnet_tam_50")],
          layout=dict(title=f"Activations saved for the backward pass, one clip at {MEMORY_SIZE} px",
                      yaxis_title="MiB per clip", template="plotly_white", height=340)).show()

# %% [markdown]
# bLVNet-TAM keeps about half of TSN's activations at equal frames, so its 16-frame clip
# needs no more than TSN's 8-frame one: the claim of Fig. 3b, measured. The share is the
# same at any resolution (every map scales with $H \cdot W$). A real training step also holds
# the weights, their gradients and the optimizer's state, which do not grow with the batch;
# `benchmarks/memory.py` measures the whole process (docs/benchmarks/memory.md).
#
# Notebook 5 assembles the whole bLVNet-TAM from these parts and reproduces the paper's cost
# table.

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it.
#
# **Your turn 1.** bLVNet's frame routing: of folded frames `(B*T, C, H, W)` (clip-major,
# `T` even), the big branch gets the second frame of every pair (frames 1, 3, 5, ... of each
# clip) and the little branch the first (0, 2, 4, ...).

# %%
def split_pairs(frames):
    """(B*T, C, H, W) -> (big input, little input), (B*T/2, C, H, W) each."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.split_pairs(split_pairs))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def split_pairs(frames):
#     return frames[1::2], frames[0::2]
# ```
#
# With `T` even, clip-major folding keeps pairs inside clips, so strided views are enough:
# no copy. Swapping the two gives a network that runs, but not the paper's (and not the
# authors' weights' network).
#
# </details>
#
# **Your turn 2.** The merge copies each pair's fused map back to both of its frames:
# `(B*T/2, C, H, W)` -> `(B*T, C, H, W)`, in the order `f0 f0 f1 f1 ...`.

# %%
def copy_back(fused):
    """(B*T/2, C, H, W) -> (B*T, C, H, W): each fused map on both frames of its pair."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.copy_back(copy_back))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def copy_back(fused):
#     return fused.repeat_interleave(2, dim=0)
# ```
#
# `fused.repeat(2, 1, 1, 1)` has the right shape but tiles the whole batch (`f0 f1 ... f0 f1
# ...`): frame 1 would get pair 1's map, and frames would move between clips.
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** Without any TAM (`blvnet_tiny`), frames still interact: each pair is fused. Can
# bLVNet without TAM tell a clip from the same clip played backwards? Can it tell a clip from
# one whose *pairs* are shuffled, each pair kept intact? What does that mean for the
# long-range classes of the course's dataset (notebook 1), whose two classes hold the same
# frame pairs in another order?
#
# <details><summary>Solution</summary>
#
# Reversing 8 frames turns pair (0, 1) into (7, 6): frame 7 now goes to the little branch
# and frame 6 to the big one, so the fused maps change and so (in general) does the output.
# Shuffling whole pairs only reorders the per-pair maps, and without TAM everything after the
# fusion is per map, averaged at the end: the output does not change. bLVNet without TAM is
# a **bag of pairs**, $\frac{2}{T}\sum_i g(x_{2i}, x_{2i+1})$.
#
# ```python
# from blvnet_edu.data.order import reverse_frames, shuffle_pairs
# m = blvnet_edu.build_model("blvnet_tiny").double().eval()
# torch.nn.init.normal_(m.fc.weight, std=0.5)
# v = torch.randn(1, 8, 3, 64, 64, dtype=torch.float64)
# shuffled = shuffle_pairs(v, torch.Generator().manual_seed(0))  # pairs in another order, each intact
# print((m(v) - m(reverse_frames(v))).abs().max(), (m(v) - m(shuffled)).abs().max())  # > 0, ~1e-16
# ```
#
# So it solves the short-range tier (each pair shows the direction of a motion: reversing
# changes the pairs) and is at chance on the long-range tier **by construction**: a clip of
# "moving left then right" and one of "moving right then left" give it the same bag of pairs,
# hence the same output distribution. Notebook 7 measures it: near 100% within the
# short-range pairs, near 50% within the long-range ones, where only bLVNet-TAM, whose TAMs
# relate distant pairs, succeeds.
#
# </details>
#
# **2.** Why must $T$ be even for bLVNet, and what does the package do with $T = 7$?
#
# <details><summary>Solution</summary>
#
# Frames are fused in pairs (odd to big, even to little), and the folded batch is split with
# `x[1::2]`, `x[0::2]`: an odd $T$ would pair the last frame of one clip with the first frame
# of the next. `VideoNet.check_input` raises a `ValueError` ("bLVNet takes frames in pairs, so
# T must be even"), and `BLVNetConfig` refuses `num_frames=7` with pair routing.
#
# </details>
#
# **3.** How do the GFLOPs of bLVNet-TAM-50 grow with the number of frames? Predict 32 frames
# (16x2) from the table, then check with `profile_on_meta`.
#
# <details><summary>Solution</summary>
#
# Every term is proportional to the number of frames (the stem) or of pairs (everything
# after it, the classifier included), so 32 frames cost twice 16: 47.56 GFLOPs (paper: 47.7).
# `profile_on_meta("blvnet_tam_50", num_frames=32).gflops`.
#
# </details>
#
# **4.** `tam_pairs` (the fast path) gives the big branch the odd frames. For width 5 ($k = 2$),
# write the pair weights of the odd frames by hand and check them with `pair_weights`.
#
# <details><summary>Solution</summary>
#
# $\lfloor (1+o)/2 \rfloor$ for $o = -2, -1, 0, 1, 2$ is $-1, 0, 0, 1, 1$: pair offsets
# $(-1, 0, +1)$ get $(w_{-2},\ w_{-1} + w_0,\ w_{+1} + w_{+2})$. For the even frames
# $\lfloor o/2 \rfloor = -1, -1, 0, 0, 1$: $(w_{-2} + w_{-1},\ w_0 + w_{+1},\ w_{+2})$.
#
# </details>

# %% [markdown]
# ## Read next
#
# - the paper's Sec. 3.1 (bLVNet) and Fig. 3b (memory); Big-Little Net (Chen et al., ICLR 2019)
# - `blvnet_edu/models/temporal.py` (frame routing), `models/blnet.py` (bL stages), `models/fast/network.py` (pair storage)
# - `benchmarks/memory.py` (the whole training step's memory, docs/benchmarks/memory.md)
# - next: notebook 5, the full model
