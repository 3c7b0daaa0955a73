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
# # 5. The full bLVNet-TAM and the paper's cost table
#
# Notebook 3 built TAM, notebook 4 the Big-Little stage that fuses two frames at the cost
# of one. This notebook puts them together into the network of the paper, measures what it
# costs, and loads weights in the format the authors released.
#
# **Objectives.** After this notebook you can
# - name the three parts that turn one skeleton into bLVNet-TAM or any of its baselines
#   (backbone, frame routing, temporal module), and write the whole forward pass by hand,
# - say where every TAM of bLVNet-TAM sits and how many frames each one sees,
# - follow a clip's shape stage by stage, count multiply-adds yourself, and reproduce the
#   paper's parameter and GFLOP table (bLVNet-TAM-50 8x2: 25.0M, 23.8 GFLOPs),
# - load a checkpoint in the authors' released format, prove that it gives the authors'
#   logits, and recognise a checkpoint that does not fit.
#
# **Before you start.** Prerequisites: notebooks 3 and 4. Run time on 2 CPU cores: quick
# mode (`BLVNET_EDU_QUICK=1`, what the tests run) about 15 s; full mode (the default) about
# 45 s.

# %%
import json
import math
import zlib

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from blvnet_edu import CheckpointMismatchError, build_model, load_imagenet_backbone, load_official_checkpoint
from blvnet_edu.explain.architecture import network_diagram, network_shapes
from blvnet_edu.models.blvnet import PRESETS, BLVNetConfig, VideoNet, preset_config
from blvnet_edu.models.checkpoints import convert_official
from blvnet_edu.profiling import PAPER_COST, format_profile, profile_model
from course import ROOT, WORK, check, pick, record, setup

setup()

# %% [markdown]
# ## One skeleton, three parts
#
# The paper's Figure 1 compares four networks: TSN, TSN on a Big-Little backbone, bLVNet
# (Big-Little with frame pairs, no TAM) and bLVNet-TAM. In `blvnet_edu` they are one class,
# `VideoNet`, configured by a frozen dataclass, `BLVNetConfig`. Three fields pick the network:
#
# | part | choices | what it decides |
# |---|---|---|
# | `backbone` | `resnet`, `blresnet` | plain ResNet stages, or Big-Little stages (notebook 4) |
# | `frame_routing` | `frames`, `pairs` | every frame through both branches (TSN), or big <- odd frames, little <- even frames, fused per pair (bLVNet) |
# | `temporal_module` | `None`, `"tam"` | no exchange between frames, or TAM on the stem output, at the input of stages 1-3 and in every stage-4 block |
#
# Everything else (depth `layers`, `widths`, `alpha`, `beta`, `num_frames`,
# `blending_frames`, `num_classes`, `dropout`) is shared. The presets:

# %%
print(f"{'preset':<18} {'backbone':<9} {'routing':<8} {'temporal':<9} {'layers':<15} {'frames':>6}")
for name, c in PRESETS.items():
    print(f"{name:<18} {c.backbone:<9} {c.frame_routing:<8} {c.temporal_module or '-':<9} "
          f"{str(c.layers):<15} {c.num_frames:>6}")

# %% [markdown]
# `build_model(name, **overrides)` is `VideoNet(dataclasses.replace(PRESETS[name], ...))`, and
# the config refuses combinations that are not networks (a plain ResNet with pair routing,
# an odd number of frames for pairs, an even TAM width):

# %%
config = BLVNetConfig(name="blvnet_tam_50", num_frames=16, num_classes=174)
assert config == PRESETS["blvnet_tam_50"]  # the preset is nothing but a config
print(VideoNet(PRESETS["blvnet_tam_tiny"]).config)
for bad in (dict(backbone="resnet", frame_routing="pairs"), dict(num_frames=15), dict(blending_frames=4)):
    try:
        BLVNetConfig(**bad)
    except ValueError as err:
        print(f"{bad}: {err}")

# %% [markdown]
# ## The forward pass, by hand
#
# The forward pass of bLVNet-TAM, as the paper describes it (`VideoNet.forward_features`):
#
# | step | module | shape |
# |---|---|---|
# | fold time into the batch | | `(B, T, 3, H, W)` -> `(B*T, 3, H, W)` |
# | stem | `conv1`, `bn1`, `relu` | `(B*T, 64, H/2, W/2)` |
# | bL layer 0: TAM, big <- odd / little <- even frames, fuse each pair | `layer0` | `(B*T/2, 64, H/4, W/4)` |
# | copy each pair's map back to both of its frames | `routing.merge` | `(B*T, 64, H/4, W/4)` |
# | bL stages 1-3: TAM on the input, big/little, local fusion; copy back | `layer1`..`layer3`, `routing.merge` | `(B*T, 256, H/8)`, `(B*T, 512, H/16)`, `(B*T, 1024, H/16)` |
# | one frame per pair into stage 4 | `routing.select` | `(B*T/2, 1024, H/16, W/16)` |
# | stage 4: Bottlenecks with TAM in every block (global fusion) | `layer4` | `(B*T/2, 2048, H/32, W/32)` |
# | pool, dropout, classifier | `avgpool`, `dropout`, `fc` | `(B, T/2, K)` |
# | average over frames (TSN's consensus) | | `(B, K)` |
#
# (Stage 3 keeps the resolution of stage 2, as in Big-Little Net.) The clip length `T` is an
# input: the network reads it from the video and hands it to every stage, whose TAMs need
# it. Written out with the modules of a small bLVNet-TAM, it must give the package's output.
# We take the paper's modules (`fast=False`); the default fast ones keep one map per pair
# instead of the copies (notebook 4) and give the same output. A fresh network is a
# poor test: every residual branch starts as zero and BatchNorm as the identity (and with
# `tam_init="identity"` every TAM too), so we give every weight a random value first.


# %%
def forward_by_hand(model, video):
    """bLVNet-TAM's forward pass, step by step: `(B, T, 3, H, W)` -> `(B, K)`."""
    b, t = video.shape[:2]
    x = video.flatten(0, 1)  # (B*T, 3, H, W), frame t of clip b at b*T + t
    x = model.relu(model.bn1(model.conv1(x)))  # (B*T, 64, H/2, W/2)
    for stage in (model.layer0, model.layer1, model.layer2, model.layer3):
        x = stage(x, t)  # (B*T/2, C, h, w): one fused map per pair
        x = x.repeat_interleave(2, dim=0)  # (B*T, C, h, w): copied to both frames (model.routing.merge)
    x = x[1::2]  # (B*T/2, C, h, w): stage 4 sees one frame per pair (model.routing.select)
    x = model.layer4(x, t // 2)  # (B*T/2, 2048 or 512 here, H/32, W/32): its TAMs mix T/2 maps
    features = model.avgpool(x).flatten(1).unflatten(0, (b, -1))  # (B, T/2, C)
    return model.fc(features).mean(dim=1)  # per-frame logits, averaged: (B, K)


tiny = build_model("blvnet_tam_tiny", num_classes=8, fast=False).eval()
generator = torch.Generator().manual_seed(0)
with torch.no_grad():
    for name, tensor in tiny.state_dict().items():
        noise = torch.randn(tensor.shape, generator=generator)
        if name.endswith("running_var"):
            tensor.copy_(1.0 + 0.1 * noise.abs())
        elif name.endswith("tam.weight"):  # (3, C): any mixture of the three frames
            tensor.copy_(0.5 * noise)
        elif tensor.is_floating_point():
            tensor.copy_(1.0 + 0.2 * noise if tensor.ndim == 1 else noise * math.sqrt(2 / tensor[0].numel()))
video = torch.randn(2, 8, 3, 64, 64, generator=generator)  # (B, T, C, H, W)
with torch.no_grad():
    ours, theirs = forward_by_hand(tiny, video), tiny(video)
    tiny.fast = True  # the fast modules, same parameters
    fast = tiny(video)
print(tuple(ours.shape), "largest difference:", (ours - theirs).abs().max().item(),
      "; fast modules:", (fast - theirs).abs().max().item())
assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5) and torch.allclose(fast, theirs, rtol=1e-5, atol=1e-5)

# %% [markdown]
# ## Where every TAM sits
#
# The whole network first, as one diagram: `network_diagram` runs the network the config
# builds on the meta device and draws what each part outputs, as frames (maps per clip),
# channels and resolution. Big branches on the top lane, little ones below; each bL stage
# ends in a merge of `T/2` fused maps, and the orange diamonds are the TAMs, with the number
# of frames each mixes.

# %%
config_50 = preset_config("blvnet_tam_50", num_frames=16, num_classes=174)
network_diagram(config_50).show()
shapes = network_shapes(config_50)  # what the diagram shows: (maps per clip, C, h, w) of each part
for stage in ("layer1", "layer2", "layer3"):  # the big branch at half the little branch's resolution
    assert shapes[f"{stage}.big"][-1] * 2 == shapes[f"{stage}.little_e"][-1], stage
assert shapes["layer0.b_conv0"][-1] == shapes["layer0.bn_l2"][-1] == 56  # layer 0: both branches end at 56 px

# %% [markdown]
# Read it left to right: 16 frames at 224 px; the stem keeps all 16 (112 px); from layer 0
# on, the odd frames go to the big branch and the even ones to the little branch, and each
# stage merges the pair into one map. In layer 0 both branches end at 56 px; from layer 1 on
# the big branch works at half the little branch's resolution. Each merged map is copied
# back to both frames of its pair, which is why the next TAM mixes 16 frames though a stage
# outputs 8 maps. Stage 4 runs on the 8 merged maps and the 8 per-frame logits are averaged.
# The frames each TAM mixes are counted below from a forward pass.
#
# `model.tams()` lists the temporal modules in forward order. For bLVNet-TAM-50 at 16 frames:
#
# - `layer0.tam`: on the stem output, over all 16 frames, before the first Big-Little split;
# - `layer1.tam` .. `layer3.tam`: on the input of each bL stage, over 16 frames. Both frames
#   of a pair hold the same map there, and TAM gives the big (odd) and little (even) frame
#   different mixtures (the fast path reads the pair's map once, `tam_pairs`, notebook 4);
# - `layer4.0.tam` .. `layer4.2.tam`: in every stage-4 Bottleneck, on the block input,
#   over the 8 frames left (one per pair). The paper calls this **global fusion**, against
#   the **local fusion** of the two frames of a pair inside each bL stage.
#
# Each TAM has `(2k+1) x C` weights: with `k = 1`, three per channel. A TAM does not store a
# number of frames: it is called as `tam(x, num_frames)`, so the frames it mixes are counted
# on a forward pass (on the `meta` device, shapes only, see below).

# %%
model = build_model("blvnet_tam_50", num_frames=16, num_classes=174)
tams = model.tams()
frames_seen = {}
with torch.device("meta"):
    paper_model = build_model("blvnet_tam_50", num_frames=16, num_classes=174, fast=False)
hooks = [tam.register_forward_pre_hook(lambda m, args, name=name: frames_seen.__setitem__(name, args[1]))
         for name, tam in paper_model.tams().items()]
with torch.no_grad():
    paper_model.eval()(torch.zeros(1, 16, 3, 224, 224, device="meta"))
for h in hooks:
    h.remove()
print(f"{'TAM':<14} {'channels':>8} {'frames':>7} {'weights':>8}")
for name, tam in tams.items():
    print(f"{name:<14} {tam.channels:>8} {frames_seen[name]:>7} {tam.weight.numel():>8}")
tam_params = sum(t.weight.numel() for t in tams.values())
total = sum(p.numel() for p in model.parameters())
print(f"all TAMs: {tam_params:,} of {total:,} parameters ({tam_params / total:.3%})")
assert list(tams) == ["layer0.tam", "layer1.tam", "layer2.tam", "layer3.tam",
                      "layer4.0.tam", "layer4.1.tam", "layer4.2.tam"]
assert list(frames_seen.values()) == [16] * 4 + [8] * 3
assert f"{tam_params / total:.2%}" == "0.07%"  # the figure quoted below

# %% [markdown]
# TAM costs 0.07% of the parameters. Its arithmetic, `(2k+1)` multiply-adds per element of
# its input, is element-wise work that the paper (and `profile_model`) leaves out of GFLOPs,
# like BatchNorm and ReLU; in wall time it is not free, which is what the benchmarks
# measure.
#
# ## Shapes, stage by stage
#
# A forward hook runs after a module's `forward` and sees its output. Hooks on the stages
# give the shape summary. We don't even need numbers: on PyTorch's **meta device** tensors
# have shapes and dtypes but no data, so a 224-px forward pass of bLVNet-TAM-50 costs
# nothing. (Without hooks, `model.forward_intermediates(video, points)` returns the same
# stage outputs, in the timm style: the package's explanations use it.)

# %%
STAGES = ("conv1", "layer0", "layer1", "layer2", "layer3", "layer4", "fc")


def stage_shapes(model, size=224):
    """Output shape of every stage for one clip `(1, T, 3, size, size)`."""
    shapes = {}
    hooks = [getattr(model, name).register_forward_hook(
        lambda module, inputs, out, name=name: shapes.__setitem__(name, tuple(out.shape))) for name in STAGES]
    param = next(model.parameters())
    with torch.no_grad():
        model.eval()(torch.zeros(1, model.config.num_frames, 3, size, size, device=param.device))
    for h in hooks:
        h.remove()
    return shapes


with torch.device("meta"):  # shapes only: no memory, no arithmetic
    meta_models = {name: build_model(name, num_frames=16, num_classes=174)
                   for name in ("blvnet_tam_50", "tsn_resnet50")}
for name, m in meta_models.items():
    print(name)
    for stage, shape in stage_shapes(m).items():
        print(f"  {stage:<7} {shape}")
assert [shape[0] for shape in stage_shapes(meta_models["blvnet_tam_50"]).values()][:6] == [16] + [8] * 5

# %% [markdown]
# Read the first dimension: TSN keeps 16 maps per clip all the way; bLVNet-TAM has 16 after
# the stem and 8 from layer 0 on. A bL stage returns one fused map per pair; the network
# copies it to both frames before the next stage (the copy back of notebook 4), so the
# paper's stage output has 16 rows holding 8 distinct maps; stage 4 runs on one frame per
# pair. Its big branch works at half the resolution of the little
# one, and the little branch is thin (`C / alpha`) and shallow, so a bL stage on one fused
# pair costs less than a ResNet stage on one frame.
#
# `blvnet_edu.profiling.profile_model` takes the stage outputs from `forward_intermediates`,
# writes them as the paper does (the copies included: `(B*T, C, h, w)`) with the distinct
# maps per clip beside them, and counts the FLOPs of each stage; `format_profile` prints it
# (the README's table):

# %%
profile = profile_model(meta_models["blvnet_tam_50"])
print(format_profile(profile))
hooked = stage_shapes(meta_models["blvnet_tam_50"])
assert [row.frames for row in profile.stages][:6] == [hooked[name][0] for name in STAGES[:6]]  # distinct maps
assert [row.output_shape[1:] for row in profile.stages] == [shape[1:] for shape in hooked.values()]

# %% [markdown]
# ## Counting multiply-adds yourself
#
# The paper's GFLOPs are billions of **multiply-adds** (one multiply-add = 2 FLOPs) for one
# clip, counting convolutions and the classifier only. A convolution with `C_in` input
# channels, `groups` groups and a `k_h x k_w` kernel does, per output value, one multiply-add
# per weight it reads:
#
# $$ \text{MACs}(\text{conv}) = \underbrace{N \cdot C_{out} \cdot H_{out} \cdot W_{out}}_{\text{output elements}}
#    \cdot \frac{C_{in}}{\text{groups}} \cdot k_h k_w, \qquad
#    \text{MACs}(\text{linear}) = \text{output elements} \cdot C_{in}. $$
#
# The stem alone: 16 frames, `7x7x3` weights per output, `64 x 112 x 112` outputs per frame:
# $16 \cdot 64 \cdot 112^2 \cdot 147 = 1.89$ G. A hook on every convolution and linear
# layer adds these up; it must agree with `torch.utils.flop_counter`, which the package
# uses. (TAM's weighted sums are element-wise work: no multiply-add counted, as in the
# paper's convention.)


# %%
def count_macs(model, size=224):
    """Multiply-adds of convolutions and linear layers for one clip, from output shapes."""
    total = 0

    def hook(module, inputs, out):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total += out.numel() * module.in_channels // module.groups * kh * kw
        else:
            total += out.numel() * module.in_features

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    hooks = [m.register_forward_hook(hook) for m in layers]
    stage_shapes(model, size)
    for h in hooks:
        h.remove()
    return total


stem = 16 * 64 * 112 * 112 * 7 * 7 * 3
print(f"stem by the formula: {stem / 1e9:.3f} G; profile: {profile.stages[0].gflops:.3f} G")
assert abs(stem / 1e9 - profile.stages[0].gflops) < 1e-9
for name, m in meta_models.items():
    ours, package = count_macs(m), round(profile_model(m).gflops * 1e9)
    print(f"{name:<14} hooks: {ours:,} MACs; torch.utils.flop_counter: {package:,}")
    assert ours == package

# %% [markdown]
# ## The paper's cost table
#
# Table 1 of the paper (Something-Something V1, 174 classes, 224 px, one clip): bLVNet-TAM-50
# with 8x2 = 16 frames has **25.0M** parameters and costs **23.8** GFLOPs; bLVNet-TAM-101 8x2
# **40.2M** and **32.1** GFLOPs. Next to them the baselines of Figure 1 from the same
# skeleton: TSN-ResNet-50 at 8 and 16 frames, bLVNet-50 without TAM, and TSN on the
# bLResNet-50 backbone. On the meta device the whole table takes a second.

# %%
ROWS = [("blvnet_tam_50", 16), ("blvnet_tam_50", 32), ("blvnet_tam_101", 16), ("blvnet_50", 16),
        ("tsn_blresnet50", 8), ("tsn_blresnet50", 16), ("tsn_resnet50", 8), ("tsn_resnet50", 16)]
profiles = {}
for name, frames in ROWS:
    with torch.device("meta"):
        m = build_model(name, num_frames=frames, num_classes=174)
    profiles[name, frames] = profile_model(m)

print(f"{'model':<16} {'frames':>6} {'params':>8} {'GFLOPs':>7}   paper")
for (name, frames), p in profiles.items():
    paper = PAPER_COST.get((name, frames))
    quoted = f"{paper[0]:.1f}M, {paper[1]:.1f}" if paper else ""
    print(f"{name:<16} {frames:>6} {p.params / 1e6:>7.2f}M {p.gflops:>7.2f}   {quoted}")
    if paper:  # within 1% of the paper's rounded numbers
        assert abs(p.params / 1e6 - paper[0]) / paper[0] < 0.01 and abs(p.gflops - paper[1]) / paper[1] < 0.01
    record(f"05.params_m.{name}_{frames}", p.params / 1e6)  # for the README (benchmarks/course_figures.py)
    record(f"05.gflops.{name}_{frames}", p.gflops)

# %% [markdown]
# The meta device only propagates shapes. To be sure that it counts what a real forward
# pass does, we recount on the CPU (a real 224-px forward pass each: one model in quick mode,
# all of them in full mode) and require the same numbers.

# %%
for name, frames in pick(ROWS[:1], ROWS):
    real = profile_model(build_model(name, num_frames=frames, num_classes=174))
    assert (real.params, real.gflops) == (profiles[name, frames].params, profiles[name, frames].gflops)
    print(f"{name} {frames} frames on the CPU: {real.params / 1e6:.2f}M, {real.gflops:.2f} GFLOPs (same)")

# %%
labels = [f"{name}<br>{frames} frames" for name, frames in profiles]
fig = make_subplots(rows=1, cols=2,
                    subplot_titles=("GFLOPs per clip (multiply-adds)", "parameters (millions)"))
colours = ["#d1495b" if name.startswith("blvnet_tam") else "#8d99ae" for name, _ in profiles]
fig.add_bar(x=labels, y=[p.gflops for p in profiles.values()], marker_color=colours, showlegend=False,
            text=[f"{p.gflops:.1f}" for p in profiles.values()], row=1, col=1)
fig.add_bar(x=labels, y=[p.params / 1e6 for p in profiles.values()], marker_color=colours, showlegend=False,
            text=[f"{p.params / 1e6:.1f}" for p in profiles.values()], row=1, col=2)
for col, index in ((1, 1), (2, 0)):
    paper = [(label, PAPER_COST[key][index]) for label, key in zip(labels, profiles) if key in PAPER_COST]
    fig.add_scatter(x=[l for l, _ in paper], y=[v for _, v in paper], mode="markers", name="paper (Table 1)",
                    marker=dict(symbol="diamond", size=11, color="black"), showlegend=col == 1,
                    row=1, col=col)
fig.update_layout(title="The cost of bLVNet-TAM and its baselines (224 px, 174 classes)",
                  template="plotly_white", height=480)
fig.show()

# %% [markdown]
# What the table says:
#
# - **More frames for less.** bLVNet-TAM-50 sees 16 frames for 23.8 GFLOPs; TSN-ResNet-50
#   pays 32.7 for 8 frames and 65.4 for 16. That is the paper's title: more (frames) is less
#   (compute).
# - **TAM is free in this count.** bLVNet-50 and bLVNet-TAM-50 have the same GFLOPs and
#   differ by 18k parameters.
# - **Pairs halve the cost.** TSN on the same bLResNet backbone (every frame through both
#   branches) at 16 frames costs about twice bLVNet's 16 frames: the saving comes from
#   routing one frame of each pair to each branch, not from the backbone alone.
# - **Parameters do not depend on frames**: they are the same at 8, 16 or 32 frames; GFLOPs
#   grow linearly.

# %%
cost = {key: (p.params, p.gflops) for key, p in profiles.items()}
assert [f"{cost[key][1]:.1f}" for key in (("blvnet_tam_50", 16), ("tsn_resnet50", 8), ("tsn_resnet50", 16))] == [
    "23.8", "32.7", "65.4"]
assert cost["blvnet_tam_50", 16][1] == cost["blvnet_50", 16][1]  # TAM: no counted FLOPs
assert 17_000 < cost["blvnet_tam_50", 16][0] - cost["blvnet_50", 16][0] < 19_000  # "18k parameters"
assert 1.8 < cost["tsn_blresnet50", 16][1] / cost["blvnet_50", 16][1] < 2.0  # "about twice"
assert cost["tsn_resnet50", 8][0] == cost["tsn_resnet50", 16][0]  # parameters do not depend on frames
assert cost["blvnet_tam_50", 16][0] == cost["blvnet_tam_50", 32][0]
assert abs(cost["blvnet_tam_50", 32][1] - 2 * cost["blvnet_tam_50", 16][1]) < 0.01  # GFLOPs grow linearly
print("the figures above hold")

# %% [markdown]
# Where the saving happens, stage by stage:

# %%
fig = go.Figure()
for key in (("tsn_resnet50", 16), ("tsn_resnet50", 8), ("blvnet_tam_50", 16)):
    p = profiles[key]
    fig.add_bar(name=f"{key[0]}, {key[1]} frames", x=[r.name for r in p.stages],
                y=[r.gflops for r in p.stages])
fig.update_layout(barmode="group", title="GFLOPs per stage", yaxis_title="GFLOPs (multiply-adds)",
                  template="plotly_white")
fig.show()
stage = {key: {r.name: r.gflops for r in profiles[key].stages} for key in profiles}
assert stage["blvnet_tam_50", 16]["conv1"] == stage["tsn_resnet50", 16]["conv1"]  # the stem on all 16 frames
assert stage["blvnet_tam_50", 16]["layer4"] == stage["tsn_resnet50", 8]["layer4"]  # stage 4 on 8 frames

# %% [markdown]
# The stem runs on all 16 frames in bLVNet-TAM (it costs as much as TSN's at 16 frames);
# from layer 0 on, each pair costs one cheap Big-Little stage, and stage 4 runs on 8
# frames, like TSN at 8 frames.
#
# ## Loading the authors' weights
#
# The authors released their trained networks as PyTorch state dicts of their own code.
# `tests/data/official_blvnet_tam/` describes that format without shipping the (large)
# files: a manifest of every key with its shape, and the logits of one float64 forward pass of
# the authors' implementation on weights and an input that anyone can regenerate. Its
# README gives the recipe.

# %%
REFERENCE = ROOT / "tests" / "data" / "official_blvnet_tam"
readme = (REFERENCE / "README.md").read_text()
print(readme[readme.index("## `logits"):readme.index("Copy these files")])
manifest = json.loads((REFERENCE / "state_dict_blvnet_tam_50.json").read_text())
reference = json.loads((REFERENCE / "logits_blvnet_tam_50_f8x2.json").read_text())
print(len(manifest), "keys; config:", {k: v for k, v in reference.items() if k != "logits"})
print([k for k in manifest if ".tam." in k][:6], [k for k in manifest if "fc" in k])

# %% [markdown]
# Four naming differences from ours: a `baseline_model.` prefix (and `module.` when saved
# from `DataParallel`), layer 0's modules at the top level (`baseline_model.b_conv0` is our
# `layer0.b_conv0`), the classifier `new_fc`, and each TAM as three depthwise convolutions
# `tam.prev`, `tam.curr`, `tam.next` of shape `(C, 1, 1, 1)` where we keep one
# `tam.weight` of shape `(3, C)` (row `i` = offset `i - 1`).
#
# The weights, following the README: a generator seeded with the CRC-32 of each key, and a
# distribution by the kind of tensor. Convolution and linear weights get He scaling,
# $\mathcal{N}(0, 2/\text{fan}_\text{in})$, so that the activations stay of the same size
# through 50 layers.


# %%
def reference_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """One tensor of the README's deterministic weights (float64)."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    if key.endswith("running_var"):
        return 1.0 + 0.1 * torch.rand(shape, generator=g, dtype=torch.float64)
    if key.endswith("running_mean") or key.endswith("bias"):
        return 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    if len(shape) == 1:  # a BatchNorm weight
        return 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g, dtype=torch.float64) * math.sqrt(2.0 / fan_in)


official = {key: reference_tensor(key, shape) for key, shape in manifest.items()}
print(f"{sum(v.numel() for v in official.values()):,} numbers;",
      "new_fc.weight", tuple(official["new_fc.weight"].shape))

# %% [markdown]
# `convert_official` renames the keys and merges each TAM's three convolutions into one
# `(3, C)` tensor. After it, the keys and shapes are exactly those of our model:

# %%
converted = convert_official(official)
reference_config = dict(num_frames=reference["num_frames"], num_classes=reference["num_classes"],
                        blending_frames=reference["blending_frames"], alpha=reference["alpha"],
                        beta=reference["beta"], dropout=reference["dropout"])
model = build_model("blvnet_tam_50", **reference_config).double().eval()
assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in model.state_dict().items()}
for part, row in (("prev", 0), ("curr", 1), ("next", 2)):  # offsets -1, 0, +1
    authors = official[f"baseline_model.layer4.1.tam.{part}.weight"]  # (C, 1, 1, 1)
    assert torch.equal(converted["layer4.1.tam.weight"][row], authors.flatten())
print(len(official), "authors' keys ->", len(converted), "of ours (each TAM's 3 keys become 1)")

# %% [markdown]
# Now the proof that this network *is* the authors': load the weights strictly, run the
# README's input through it in float64, and compare with the authors' logits. The logits
# are large (random weights), so we compare relative to the largest magnitude. Float64
# leaves room for nothing but summation order: anything above ~1e-6 would be a different
# network. Both clips of the reference, `(2, 16, 3, 112, 112)`, take about a second and a
# half on 2 CPU cores, so quick mode runs them too.

# %%
load_official_checkpoint(model, official)
generator = torch.Generator().manual_seed(reference["input_seed"])
video = torch.randn(reference["input_shape"], generator=generator, dtype=torch.float64)  # (B, T, C, H, W)
with torch.no_grad():
    logits = model(video)  # (2, 174)
expected = torch.tensor(reference["logits"], dtype=torch.float64)
relative = ((logits - expected).abs().max() / expected.abs().max()).item()
print(f"input {tuple(video.shape)}; logits {tuple(logits.shape)}; largest |logit| {expected.abs().max():.3g}")
print(f"relative difference to the authors' implementation: {relative:.1e}")
assert logits.shape == expected.shape and relative < 1e-6
record("05.authors_logits_relative_difference", relative)

# %%
fig = go.Figure()
fig.add_scatter(x=expected[0].tolist(), y=logits[0].tolist(), mode="markers", name="clip 0")
fig.add_scatter(x=expected[1].tolist(), y=logits[1].tolist(), mode="markers", name="clip 1")
fig.update_layout(title=f"Our logits against the authors' (174 classes x 2 clips; "
                        f"relative difference {relative:.0e})",
                  xaxis_title="authors' implementation", yaxis_title="blvnet_edu", template="plotly_white")
fig.show()

# %% [markdown]
# Released files come from `torch.save` and often from `DataParallel` (every key prefixed
# `module.`), sometimes wrapped as `{"state_dict": ...}`. `load_official_checkpoint` takes a
# path or a mapping, with or without the prefix, and reads files with `weights_only=True`
# (a checkpoint can hold tensors, never code). We check that on the tiny network, whose file
# is small: we write its weights in the authors' naming (the inverse of `convert_official`),
# save them as a `DataParallel` checkpoint, and load the file.


# %%
def to_official(state):
    """Our state dict in the authors' naming (width-3 TAMs): the inverse of `convert_official`."""
    out = {}
    for key, value in state.items():
        name = key.removeprefix("layer0.") if key.startswith("layer0.") else key
        name = "new_fc." + name.removeprefix("fc.") if name.startswith("fc.") else "baseline_model." + name
        if name.endswith("tam.weight"):  # (3, C) -> three (C, 1, 1, 1) depthwise kernels
            for row, part in enumerate(("prev", "curr", "next")):
                kernel = value[row].reshape(-1, 1, 1, 1).clone()  # (C, 1, 1, 1)
                out[name.replace("tam.weight", f"tam.{part}.weight")] = kernel
        else:
            out[name] = value.clone()
    return out


released = {f"module.{k}": v for k, v in to_official(tiny.state_dict()).items()}
assert set(to_official(converted)) == set(official)  # the same naming as the authors' manifest
path = WORK / "blvnet_tam_tiny_official_format.pth"
torch.save({"state_dict": released, "epoch": 50}, path)
copy = load_official_checkpoint(build_model("blvnet_tam_tiny", num_classes=8).eval(), path)
clip = torch.randn(1, 8, 3, 64, 64)  # (B, T, C, H, W)
with torch.no_grad():
    assert torch.equal(copy(clip), tiny(clip))
print(f"{path.name}: {len(released)} keys like {next(iter(released))!r}; loads and gives the same logits")

# %% [markdown]
# ### A checkpoint that does not fit
#
# The most common mistake is a checkpoint for another configuration: another depth, another
# number of classes, another TAM width. A non-strict `load_state_dict` would load what fits
# and silently keep random weights for the rest. `load_official_checkpoint` is strict: it
# raises a `CheckpointMismatchError` that lists **every** missing key, unexpected key and
# shape mismatch, and leaves the model as it was.

# %%
deeper = build_model("blvnet_tam_101", **reference_config).eval()
before = {k: v.clone() for k, v in deeper.state_dict().items()}
try:
    load_official_checkpoint(deeper, official)  # a ResNet-50 checkpoint into bLVNet-TAM-101
    raise AssertionError("a depth-50 checkpoint was accepted by a depth-101 model")
except CheckpointMismatchError as err:
    print(str(err)[:900], "...")
assert all(torch.equal(before[k], v) for k, v in deeper.state_dict().items()), "the model was changed"

# %%
fresh = build_model("blvnet_tam_50", **{**reference_config, "num_classes": 10}).eval()
before = {k: v.clone() for k, v in fresh.state_dict().items()}
dropped = "baseline_model.layer3.big.2.conv2.weight"
broken = {k: v for k, v in official.items() if k != dropped}  # one key dropped
try:
    load_official_checkpoint(fresh, broken)
    raise AssertionError("an incomplete checkpoint was accepted")
except CheckpointMismatchError as err:
    message = str(err)
    print(message.split(":\n", 1)[1])
assert "missing from the checkpoint (1): layer3.big.2.conv2.weight" in message
assert "fc.weight: checkpoint (174, 2048) vs model (10, 2048)" in message
assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items()), "the model was changed"

# %% [markdown]
# ### Starting from ImageNet instead
#
# To train bLVNet-TAM yourself (notebook 7), the paper starts from the Big-Little Net
# release's ImageNet bLResNet weights. That checkpoint has no TAMs and a 1000-class
# classifier, so `load_imagenet_backbone` is deliberately **not** strict: it loads every
# tensor that fits and returns a `LoadReport` saying what it loaded, what it left as
# initialised, and what it skipped. The TAMs keep their initialisation: the authors' random
# $\mathcal N(0, 2/C)$ by default, which notebook 3 shows is what lets them learn long-range
# order; `tam_init="identity"` would start the network as exactly the image model instead.
# We imitate such a file with the reference weights.

# %%
imagenet = {f"module.{k.removeprefix('baseline_model.')}": v.float() for k, v in official.items()
            if ".tam." not in k and not k.startswith("new_fc")}
imagenet |= {"module.fc.weight": torch.zeros(1000, 2048), "module.fc.bias": torch.zeros(1000)}
student = build_model("blvnet_tam_50", num_classes=174)
initial_tams = {name: t.weight.detach().clone() for name, t in student.tams().items()}
report = load_imagenet_backbone(student, {"state_dict": imagenet, "epoch": 100})
print(report)
assert set(report.missing) == {f"{name}.weight" for name in student.tams()} | {"fc.weight", "fc.bias"}
# the TAMs are left as initialised (the authors' N(0, 2/C))
assert all(torch.equal(t.weight, initial_tams[name]) for name, t in student.tams().items())

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it.
#
# **Your turn 1.** The paper's GFLOPs are multiply-adds, and almost all of them are in
# convolutions. Count those of one `nn.Conv2d` on an `h x w` input (batch 1): output
# positions x output channels x the multiply-adds per output (input channels per group x
# kernel area). Mind the stride, the padding and the groups.

# %%
def conv_macs(conv, h, w):
    """Multiply-adds of `conv` (an nn.Conv2d, no dilation) on a (1, C_in, h, w) input."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.conv_macs(conv_macs))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def conv_macs(conv, h, w):
#     kh, kw = conv.kernel_size
#     out_h = (h + 2 * conv.padding[0] - kh) // conv.stride[0] + 1
#     out_w = (w + 2 * conv.padding[1] - kw) // conv.stride[1] + 1
#     return out_h * out_w * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw
# ```
#
# The depthwise convolution (`groups=32`) is why TAM costs nearly nothing: each output sees
# one input channel, not all of them.
#
# </details>
#
# **Your turn 2.** Stage 4 of bLVNet runs on one frame per pair, so the classifier gives
# `B*T/2` rows of class scores. Average them into one score per clip, `(B, K)`.

# %%
def clip_scores(pair_scores, num_frames):
    """(B*T/2, K) scores of stage 4's frames -> (B, K) per clip, for clips of `num_frames` frames."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.clip_scores(clip_scores))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def clip_scores(pair_scores, num_frames):
#     return pair_scores.view(-1, num_frames // 2, pair_scores.shape[-1]).mean(1)
# ```
#
# Grouping by `num_frames` rows instead would merge two clips into one (and fail for an odd
# number of clips): after stage 3 a clip of `T` frames is `T/2` rows.
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** Before running anything: how many GFLOPs does bLVNet-TAM-50 cost at 224 px with
# 8 frames (4x2), and how many parameters does it have? Check with `profile_model`.
#
# <details><summary>Solution</summary>
#
# Every convolution runs on a number of maps proportional to `T`, so GFLOPs are linear in
# the number of frames: about 23.78 / 2 = 11.9 (the classifier is negligible). Parameters do
# not depend on `T`: 25.02M.
#
# ```python
# with torch.device("meta"):
#     m = build_model("blvnet_tam_50", num_frames=8, num_classes=174)
# p = profile_model(m); print(p.params / 1e6, p.gflops)   # 25.02, 11.89
# ```
#
# </details>
#
# **2.** With `blending_frames=5` every TAM has five weights per channel. How many
# parameters does that add to bLVNet-TAM-50, and which keys would the authors' checkpoint
# use for the TAMs?
#
# <details><summary>Solution</summary>
#
# Two more rows per TAM: `2 x 6,016 = 12,032` parameters (the seven TAMs see
# 64 + 64 + 256 + 512 + 1024 + 2048 + 2048 = 6,016 channels). The authors name a width other
# than 3 `tam.blending_layers.0` .. `tam.blending_layers.4` (row `i` = offset `i - 2`);
# `convert_official` handles both namings.
#
# ```python
# m5 = build_model("blvnet_tam_50", blending_frames=5)
# print(sum(p.numel() for p in m5.parameters()) - sum(p.numel() for p in model.parameters()))
# ```
#
# </details>
#
# **3.** Why do the stage-4 TAMs have `num_frames=8` when the clip has 16 frames, and what
# does one step of their offset mean in the video?
#
# <details><summary>Solution</summary>
#
# Stage 4 runs on one map per frame pair (`routing.select`): 8 maps for 16 frames. An offset
# of +1 in a stage-4 TAM is the next *pair*, two frames later; with width 3 it reaches from
# pair `i - 1` to `i + 1`, a window of 6 input frames. Stacked over three blocks and the
# earlier TAMs, the receptive field in time covers much of the clip: global fusion.
#
# </details>
#
# **4.** Load the reference checkpoint into a model built with `dropout=0.0`. What must you
# rename, and why?
#
# <details><summary>Solution</summary>
#
# With dropout 0 the authors' classifier is `baseline_model.fc`, not `new_fc`: rename the two
# classifier keys. Dropout has no parameters, so nothing else changes (and in eval mode it
# does nothing, so the logits are the same).
#
# ```python
# state = dict(official)
# state["baseline_model.fc.weight"] = state.pop("new_fc.weight")
# state["baseline_model.fc.bias"] = state.pop("new_fc.bias")
# load_official_checkpoint(build_model("blvnet_tam_50", **{**reference_config, "dropout": 0.0}).double(), state)
# ```
#
# </details>

# %% [markdown]
# ## Read next
#
# - the paper's Table 1 (cost and accuracy on Something-Something V1) and Sec. 3
# - `blvnet_edu/models/blvnet.py`, `models/checkpoints.py` (the authors' format), `profiling.py`
# - next: notebook 6, data
