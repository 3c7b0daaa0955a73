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
# # 8. Explaining: attributions, frame importance and TAM weights
#
# A trained bLVNet-TAM says "moving left". Which pixels, which frames, which temporal
# connections made it say so? This notebook answers with the tools of the explainer app
# (`blvnet_edu.inference.explain` and `blvnet_edu.explain`), opens each of them up, and
# shows where explanations of *video* models mislead.
#
# **Objectives.** After this notebook you can
# - compute per-frame attribution maps (saliency, integrated gradients, occlusion,
#   Grad-CAM) of a whole clip, and explain why a frame of bLVNet-TAM cannot be explained
#   on its own,
# - write integrated gradients from scratch, prove it equals Captum's and the package's, and
#   check its completeness property,
# - measure each frame's importance and read the learned TAM weights (which layers look
#   back, which look ahead),
# - avoid the pitfalls: the baseline decides the answer, per-frame normalisation exaggerates,
#   Grad-CAM on bLVNet has half the temporal resolution, saturated outputs hide gradients,
#   and TSN and bLVNet-TAM look at the same clip differently.
#
# We use two tiny models bundled with the app, bLVNet-TAM and TSN (trained on the synthetic
# set of notebooks 1 and 7, where notebook 7 reports their accuracy), and its example clips:
# 8 small frames, so that everything runs on a CPU in seconds.
#
# **Before you start.** Prerequisites: notebooks 3, 5 and 7; gradients with autograd. Run
# time on 2 CPU cores: quick mode (`BLVNET_EDU_QUICK=1`, what the tests run) about 20 s;
# full mode (the default) about 1.5 minutes.

# %%
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from blvnet_edu.explain.attributions import (BASELINES, REPLACEMENT_NAMES, attribute, baseline_clip,
                                             frame_removal, grad_cam, normalise_clip, temporal_importance)
from blvnet_edu.explain.figures import (frames_figure, tam_layer_heatmap, tam_summary_figure,
                                        temporal_importance_figure, topk_figure)
from blvnet_edu.explain.overlays import overlay
from blvnet_edu.explain.tam_weights import summarize_tams, tam_weights
from blvnet_edu.clips import load_clip
from blvnet_edu.data.synthetic import LONG_RANGE_PAIRS
from blvnet_edu.inference import explain, load_predictor, predict_clip
from blvnet_edu.models.checkpoints import load_file
from course import DEMO, EXAMPLES, WORK, check, pick, record, setup
from captum.attr import IntegratedGradients, LayerGradCam  # after the package, which quiets tqdm's notebook warning

setup()

# %% [markdown]
# ## The models and a clip
#
# `load_predictor` reads a checkpoint with its classes and input size; `load_clip` samples
# `T` frames the way evaluation does (the centre of each of `T` segments), resizes, crops and
# normalises. `clip.frames` is what the model sees as uint8 `(T, 3, S, S)`, `clip.input` the
# normalised model input `(1, T, 3, S, S)`.

# %%
steps = 64  # integrated gradients' steps
blv = load_predictor(DEMO / "blvnet_tam_tiny.pt")
tsn = load_predictor(DEMO / "tsn_resnet_tiny.pt")
clip = load_clip(EXAMPLES / "moving_left.mp4", blv.num_frames, blv.size, blv.resize)
T = blv.num_frames
target = blv.classes.index("moving left")
print(blv.name, "and", tsn.name, "|", len(blv.classes), "classes | clip", tuple(clip.input.shape),
      "| frames", clip.indices)
frames_figure(clip.frames, [f"t={t} (frame {i})" for t, i in enumerate(clip.indices)],
              title="app/examples/moving_left.mp4 as the models see it").show()

# %%
probs = {name: predict_clip(p, clip) for name, p in (("bLVNet-TAM", blv), ("TSN", tsn))}
fig = make_subplots(rows=1, cols=2, subplot_titles=list(probs))
for col, (name, pr) in enumerate(probs.items(), start=1):
    fig.add_traces(topk_figure(pr, k=5).data, rows=1, cols=col)
fig.update_layout(title="Top-5 on the same 'moving left' clip", showlegend=False, template="plotly_white",
                  height=350, xaxis=dict(range=[0, 1]), xaxis2=dict(range=[0, 1]))
fig.show()
for name, pr in probs.items():
    print(f"{name:11s} p(moving left) = {pr['moving left']:.3f}   p(moving right) = {pr['moving right']:.3f}")
assert probs["bLVNet-TAM"]["moving left"] > 0.9  # sure
left, right = probs["TSN"]["moving left"], probs["TSN"]["moving right"]
assert min(left, right) > 0.15 and abs(left - right) < 0.1  # a bet spread over the two

# %% [markdown]
# bLVNet-TAM is sure; TSN, which averages frames and so cannot see their order (notebook 1),
# spreads its bet over "moving left" and "moving right".
#
# ## The explainer in one call
#
# `explain(predictor, clip, method=..., baseline=..., steps=...)` is what the app calls:
# one attribution map per frame (normalised across the clip), the maps blended over the
# frames, and each frame's importance. The rest of the notebook takes it apart.

# %%
result = explain(blv, clip, target="moving left", method="integrated_gradients", baseline="frozen",
                 steps=steps)
print(result.target, tuple(result.maps.shape), tuple(result.overlays.shape))
frames_figure(result.overlays, result.captions,
              title="Integrated gradients (frozen baseline), bLVNet-TAM").show()
temporal_importance_figure(result.importance, [f"t={t}" for t in range(T)]).show()

# %% [markdown]
# ## A frame cannot be explained on its own
#
# For TSN the score is $s(x) = \frac{1}{T}\sum_t f(x_t)$, so the gradient with respect to
# frame $t$, $\frac{1}{T}\nabla f(x_t)$, depends on frame $t$ only: TSN could be explained
# frame by frame with any image method. In bLVNet-TAM frames meet twice: the two frames of a
# pair are fused in every bL stage (local fusion), and TAMs exchange information between
# neighbouring frames and pairs (global fusion). The explanation of frame 0 then depends on
# every other frame.
#
# We check it: replace frame $u$ by a grey frame (ImageNet's mean colour, zeros after
# normalisation) and measure
# how much the gradient on **frame 0** changes,
# $\lVert g_0(x^{(u)}) - g_0(x) \rVert / \lVert g_0(x) \rVert$.


# %%
def input_gradient(model, video, target):
    """d score_target / d input, `(1, T, 3, H, W)`."""
    video = video.detach().clone().requires_grad_()
    return torch.autograd.grad(model(video)[0, target], video)[0]


change = {}
for name, predictor in (("bLVNet-TAM", blv), ("TSN", tsn)):
    g0 = input_gradient(predictor.model, clip.input, target)[0, 0]  # (3, H, W): frame 0
    change[name] = []
    for u in range(1, T):
        altered = clip.input.clone()
        altered[:, u] = 0.0  # frame u replaced by a grey frame
        g0_altered = input_gradient(predictor.model, altered, target)[0, 0]
        change[name].append(((g0_altered - g0).norm() / g0.norm()).item())
    print(f"{name:11s}", " ".join(f"u={u}: {c:.3f}" for u, c in enumerate(change[name], start=1)))
assert max(change["TSN"]) < 1e-5, "TSN's frame-0 gradient should not depend on other frames"
assert min(change["bLVNet-TAM"]) > 1e-3, "every frame should reach frame 0's explanation in bLVNet-TAM"
reach = change["bLVNet-TAM"]
assert reach[-1] >= reach[0] and any(b > a for a, b in zip(reach, reach[1:])), "influence does not fade with distance"

fig = go.Figure([go.Bar(name=name, x=[f"u={u}" for u in range(1, T)], y=c) for name, c in change.items()])
fig.update_layout(title="How much frame 0's gradient changes when frame u is removed", barmode="group",
                  yaxis_title="relative change", template="plotly_white")
fig.show()

# %% [markdown]
# Every frame reaches frame 0's explanation in bLVNet-TAM (frame 1 through the local fusion of
# pair 0, frames 2 and up through the TAMs), and not in order of distance: the influence
# does not fade with it, and even frame 7 changes how frame 0 is explained as much as
# frame 1 does (stacked TAMs reach far, notebook 3). In TSN no other frame changes it at
# all. So every method below takes the **whole clip** `(1, T, 3, H, W)` in one pass and
# returns one map per frame, `(T, H, W)`.
#
# ## Four attribution methods
#
# For a clip $x$ and the target logit $F(x)$:
#
# - **saliency**: $\sum_c \left|\partial F / \partial x_{t,c,h,w}\right|$, one backward pass;
# - **integrated gradients** (IG): the gradient averaged along a path from a baseline clip
#   $x'$ to $x$, times $(x - x')$ (next section);
# - **occlusion**: the drop of $F$ when a square patch of one frame is set to the mean
#   colour, for every patch position and frame (many forward passes);
# - **Grad-CAM** on a layer's feature maps $A^k$: $\mathrm{ReLU}\left(\sum_k \alpha_k A^k\right)$
#   with $\alpha_k$ the spatial mean of $\partial F / \partial A^k$, upsampled to the frame.
#
# `attribute` normalises every method by the largest value of the *clip* (one scale for all
# frames). Saliency from scratch, to see exactly what it returns:

# %%
model = blv.model
saliency = input_gradient(model, clip.input, target)[0].abs().sum(1)  # (T, H, W): |gradient|, colours summed
package = attribute(model, clip.input, target, method="saliency")
assert torch.allclose(normalise_clip(saliency), package, atol=1e-6)
print("saliency", tuple(saliency.shape), "equals the package's")

# %% [markdown]
# Occlusion is the expensive one: `T x (positions per frame)` forward passes. We cache its
# maps under `WORK` (quick mode uses a coarse 16-px patch).

# %%
window = pick(16, 8)
cached = WORK / f"occlusion_moving_left_w{window}.pt"
if cached.exists():
    occlusion = load_file(cached)  # the project's one safe loader (weights_only=True)
else:
    occlusion = attribute(model, clip.input, target, method="occlusion", occlusion_window=window)
    torch.save(occlusion, cached)
maps = {
    "saliency": attribute(model, clip.input, target, method="saliency"),
    "integrated gradients (black)": attribute(model, clip.input, target, method="integrated_gradients",
                                              baseline="black", steps=steps),
    f"occlusion ({window} px)": occlusion,
    "Grad-CAM (layer2)": attribute(model, clip.input, target, method="gradcam", layer="layer2"),
}
panels = torch.cat([overlay(clip.frames, m) for m in maps.values()])  # (4*T, 3, H, W)
captions = [f"{name[:14]} t={t}" for name in maps for t in range(T)]
frames_figure(panels, captions, title="Four methods, one row each (normalised across the clip)").show()

# %% [markdown]
# They do not agree, and they should not: each answers a different question (local
# sensitivity, contribution relative to a reference, effect of hiding a region, what a layer
# responds to). Saliency is noisy and also lights up the static decoy; occlusion and Grad-CAM
# are coarse. The next sections make two of them precise.
#
# ## Integrated gradients from scratch
#
# Saliency asks how the score changes for an infinitesimal change of a pixel. Integrated
# gradients (Sundararajan et al., 2017) asks how much each input element contributes to the
# difference between the score of the clip $x$ and of a baseline clip $x'$. Along the
# straight path $x' + \alpha (x - x')$, $\alpha \in [0, 1]$:
#
# $$ \mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1 \frac{\partial F\big(x' + \alpha (x - x')\big)}{\partial x_i}\, d\alpha
#    \;\approx\; (x_i - x'_i) \sum_{j=1}^{m} w_j \, \frac{\partial F\big(x' + \alpha_j (x - x')\big)}{\partial x_i}. $$
#
# The integral becomes a weighted sum over $m$ points of the path. The Riemann midpoint rule
# takes $\alpha_j = (j - \tfrac12)/m$ and $w_j = 1/m$; Gauss-Legendre takes the roots of the
# Legendre polynomial (mapped to $[0, 1]$) and their weights, and is exact for polynomials of
# degree up to $2m - 1$. Each point is one forward and backward pass; we batch them.


# %%
def integrated_gradients(forward, video, baseline, target, alphas, weights, batch=8):
    """IG of `forward(clips)[:, target]` for `video` `(1, T, 3, H, W)`: a weighted sum of
    gradients at `baseline + alpha * (video - baseline)`, times `(video - baseline)`."""
    total = torch.zeros_like(video)
    for start in range(0, len(alphas), batch):
        a = torch.tensor(alphas[start:start + batch], dtype=video.dtype).view(-1, 1, 1, 1, 1)
        w = torch.tensor(weights[start:start + batch], dtype=video.dtype).view(-1, 1, 1, 1, 1)
        path = (baseline + a * (video - baseline)).requires_grad_()  # (n, T, 3, H, W)
        grads = torch.autograd.grad(forward(path)[:, target].sum(), path)[0]  # each clip's own gradient
        total += (w * grads).sum(dim=0, keepdim=True)
    return (video - baseline) * total  # (1, T, 3, H, W)


def riemann_midpoint(m):
    return [(j + 0.5) / m for j in range(m)], [1.0 / m] * m


def gauss_legendre(m):
    nodes, weights = np.polynomial.legendre.leggauss(m)  # on [-1, 1]
    return (0.5 * (nodes + 1)).tolist(), (0.5 * weights).tolist()


x, x_black = clip.input, baseline_clip(clip.input, "black")
ours = integrated_gradients(model, x, x_black, target, *riemann_midpoint(steps))
captum = IntegratedGradients(model).attribute(x, baselines=x_black, target=target, n_steps=steps,
                                              method="riemann_middle", internal_batch_size=8)
error = ((ours - captum).abs().max() / captum.abs().max()).item()
print(f"{steps} steps, Riemann midpoint: largest difference to Captum {error:.1e} "
      "(relative to the largest value)")
assert error < 1e-4
record("08.ig_captum_relative_difference", error)  # for the README (benchmarks/course_figures.py)

# %% [markdown]
# The package calls Captum with its default rule, Gauss-Legendre, then sums the attribution
# over the colour channels, takes the absolute value and normalises across the clip
# (`attributions.py`: `maps[0].sum(1).abs()`, `normalise_clip`). The same steps from scratch
# give the package's maps:

# %%
ours_gl = integrated_gradients(model, x, x_black, target, *gauss_legendre(steps))
ours_maps = normalise_clip(ours_gl[0].sum(1).abs())  # (T, H, W)
package = attribute(model, x, target, method="integrated_gradients", baseline="black", steps=steps)
print("largest difference to attribute(..., 'integrated_gradients'):",
      (ours_maps - package).abs().max().item())
assert torch.allclose(ours_maps, package, atol=1e-4)

# %% [markdown]
# ### Completeness
#
# Along the path, $\frac{d}{d\alpha} F = \nabla F \cdot (x - x')$, so summing IG over all
# input elements gives, by the fundamental theorem of calculus,
#
# $$ \sum_i \mathrm{IG}_i(x) = F(x) - F(x'). $$
#
# The attributions share out exactly the change of the score between baseline and clip.
# With finitely many steps the equality is approximate, and its error measures how good the
# quadrature is: a free check on the number of steps.

# %%
with torch.no_grad():
    f_x, f_black = model(x)[0, target].item(), model(x_black)[0, target].item()
print(f"F(x) = {f_x:.3f}, F(black) = {f_black:.3f}, F(x) - F(black) = {f_x - f_black:.3f}")
print(f"sum of IG ({steps} steps): Riemann midpoint {ours.sum().item():.3f}, "
      f"Gauss-Legendre {ours_gl.sum().item():.3f}")
gap = {"midpoint": abs(ours.sum().item() - (f_x - f_black)) / abs(f_x - f_black),
       "Gauss-Legendre": abs(ours_gl.sum().item() - (f_x - f_black)) / abs(f_x - f_black)}
print({rule: f"{g:.1%}" for rule, g in gap.items()})
assert gap["midpoint"] < 0.01 and gap["Gauss-Legendre"] < 0.1, "too few steps"
record("08.ig_steps", steps)
record("08.completeness.midpoint", gap["midpoint"])
record("08.completeness.gauss_legendre", gap["Gauss-Legendre"])

step_counts = pick([2, 8, 32], [2, 4, 8, 16, 32, 64, 128])
gaps = {"Riemann midpoint": [], "Gauss-Legendre": []}
for m in step_counts:
    for rule, nodes in (("Riemann midpoint", riemann_midpoint), ("Gauss-Legendre", gauss_legendre)):
        total = integrated_gradients(model, x, x_black, target, *nodes(m)).sum().item()
        gaps[rule].append(abs(total - (f_x - f_black)) / abs(f_x - f_black))
fig = go.Figure([go.Scatter(x=step_counts, y=g, name=rule, mode="lines+markers") for rule, g in gaps.items()])
fig.update_layout(title="Completeness error of IG: |sum IG - (F(x) - F(x'))| / |F(x) - F(x')|",
                  xaxis=dict(title="steps m", type="log"), yaxis=dict(title="relative error", type="log"),
                  template="plotly_white")
fig.show()
print({rule: [f"{v:.1e}" for v in g] for rule, g in gaps.items()})
assert min(gaps["Riemann midpoint"][0], gaps["Gauss-Legendre"][0]) > 0.1, "tens of percent at 2 steps"
if 64 in step_counts:  # full mode
    assert gaps["Riemann midpoint"][step_counts.index(64)] < 0.01, "below 1% at 64 steps (midpoint)"

# %% [markdown]
# The error falls from tens of percent at 2-4 steps to a few percent at 32 and, for the
# midpoint rule, below 1% at 64 (asserted above), but not smoothly,
# and Gauss-Legendre does not beat the midpoint rule reliably. Its high order assumes a smooth
# integrand; along the path a ReLU network's score is piecewise linear, with a kink each time
# a unit switches on or off, so no rule converges faster than roughly $1/m$. Check
# completeness on your own clips and pick the steps where the error is small enough.

# %% [markdown]
# ## Temporal importance
#
# A coarser question than pixels: how much does the probability of the target class drop
# when frame $t$ is removed, here replaced by a grey frame $g$ (ImageNet's mean colour, zeros
# after normalisation)?
#
# $$ I_t = p(y \mid x) - p(y \mid x \text{ with } x_t = g). $$
#
# `temporal_importance` computes it with Captum's `FeatureAblation`, one feature per frame.
# From scratch it is a loop:


# %%
def importance_from_scratch(model, video, target):
    with torch.no_grad():
        p = model(video).softmax(-1)[0, target]
        drops = []
        for t in range(video.shape[1]):
            removed = video.clone()
            removed[:, t] = 0.0  # a grey frame: ImageNet's mean colour, after normalisation
            drops.append(p - model(removed).softmax(-1)[0, target])
    return torch.stack(drops)  # (T,)


importance = {name: temporal_importance(p.model, x, target)
              for name, p in (("bLVNet-TAM", blv), ("TSN", tsn))}
assert torch.allclose(importance_from_scratch(model, x, target), importance["bLVNet-TAM"], atol=1e-6)
fig = go.Figure([go.Bar(name=name, x=[f"t={t}" for t in range(T)], y=imp.tolist())
                 for name, imp in importance.items()])
fig.update_layout(title="Probability drop of 'moving left' when a frame is removed", barmode="group",
                  yaxis_title="drop of p(moving left)", template="plotly_white")
fig.show()

# %% [markdown]
# Replacing one frame with grey moves bLVNet-TAM a lot on this clip, although it is sure of
# the class ($p \approx 1$) and every other frame still shows the motion. Does it need each of
# those frames, or is it the grey that moves it? The next section asks. First, all example
# clips, in the true class of each:

# %%
assert int((importance["bLVNet-TAM"] > 0.5).sum()) >= T // 2, "the prose above: removing a frame moves it a lot"
examples = {p.stem.replace("_", " "): load_clip(p, T, blv.size, blv.resize).input
            for p in sorted(EXAMPLES.glob("*.mp4"))
            if p.stem.replace("_", " ") in blv.classes}  # label -> (1, T, 3, S, S)
rows = {label: temporal_importance(model, v, blv.classes.index(label)).tolist()
        for label, v in examples.items()}
fig = go.Figure(go.Heatmap(z=list(rows.values()), y=list(rows), x=[f"t={t}" for t in range(T)],
                           colorscale="RdBu", zmid=0, colorbar=dict(title="drop")))
fig.update_layout(title="bLVNet-TAM: temporal importance on each example clip (its own class)",
                  template="plotly_white", height=420)
fig.show()

# %% [markdown]
# ### What replaces a removed frame decides the answer
#
# "Removing" a frame means replacing it with something, and a grey frame is not nothing: in
# the middle of a clip, the whole picture changes for one frame and changes back. That is
# itself an event, and on this dataset, where the long-range classes are two halves with a
# change between them, it can look like one. So a large drop can mean "the model needs this
# frame" or "the replacement looks like another class". `frame_removal` (what the app's frame-removal view calls) offers three
# replacements; each changes what the question is:
#
# - **grey**: ImageNet's mean colour, what `temporal_importance` uses: no content, a new event;
# - **neighbour**: the previous frame repeated: no new content, and no event beyond a pause;
# - **mean**: the clip's mean frame: its colours, blurred along its motion.

# %%
drops = {r: {label: frame_removal(model, v, blv.classes.index(label), r).probability_drop
             for label, v in examples.items()} for r in REPLACEMENT_NAMES}  # replacement -> label -> (T,)
frames_total = len(examples) * T
large = {r: sum(int((d > 0.5).sum()) for d in by_label.values()) for r, by_label in drops.items()}
for r, name in REPLACEMENT_NAMES.items():
    print(f"{r:9s} ({name}): p drops by more than 0.5 for {large[r]:3d} of {frames_total} frames")

moved_to = {}  # where the prediction goes when a grey frame costs the true class its top place
with torch.no_grad():
    for label, v in examples.items():
        greyed = v.expand(T, *v.shape[1:]).clone()  # (T, T, 3, S, S): clip t has frame t grey
        greyed[torch.arange(T), torch.arange(T)] = 0.0
        for predicted in (blv.classes[i] for i in model(greyed).argmax(1).tolist()):
            if predicted != label:
                moved_to[predicted] = moved_to.get(predicted, 0) + 1
two_halves = {c for pair in LONG_RANGE_PAIRS for c in pair}  # the long-range classes
into_two_halves = sum(n for c, n in moved_to.items() if c in two_halves)
print(f"a grey frame changes the prediction for {sum(moved_to.values())} frames; it goes to",
      dict(sorted(moved_to.items(), key=lambda kv: -kv[1])))
# the prose above and below
assert large["grey"] >= frames_total // 4 and large["neighbour"] <= frames_total // 20
assert large["mean"] < large["grey"] / 2
assert into_two_halves > sum(moved_to.values()) / 2, "most flips go to long-range classes"
for r in REPLACEMENT_NAMES:  # for the README (benchmarks/course_figures.py)
    record(f"08.large_drops.{r}", large[r])
record("08.large_drops.frames", frames_total)

fig = make_subplots(rows=1, cols=len(drops), subplot_titles=list(REPLACEMENT_NAMES.values()),
                    shared_yaxes=True, horizontal_spacing=0.03)
for col, by_label in enumerate(drops.values(), start=1):
    fig.add_trace(go.Heatmap(z=[d.tolist() for d in by_label.values()], y=list(by_label),
                             x=[f"t={t}" for t in range(T)], colorscale="RdBu", zmid=0, zmin=-1, zmax=1,
                             showscale=col == len(drops)), row=1, col=col)
fig.update_layout(title="The same removal, three replacements: drop of p(true class)", template="plotly_white",
                  height=460, margin=dict(l=170))
fig.show()

# %% [markdown]
# The grey frame makes more than a quarter of all frames look decisive, and most of the
# predictions it changes go to long-range classes, whose clips are two halves with a change
# between them: a grey frame adds such a change. The replacement, not the removal, is what
# the model answers. Repeating the neighbour changes almost nothing: with the motion still
# visible in the other pairs, no single frame's new content is needed, except at the instant
# a light turns on or off, where repeating the frame before it moves the switch by one
# frame. The mean frame sits in between. For a frame-importance
# question, prefer a replacement that stays inside what the model saw in training (the
# neighbour), and say which one you used: the answer is about the question as much as the
# model. The same holds for occlusion's patch colour and for integrated gradients' baseline
# (below).

# %% [markdown]
# ## The learned TAM weights
#
# Each TAM holds $w_{o,c}$ for offsets $o \in \{-1, 0, +1\}$ and channels $c$, and computes
# $y_t = \mathrm{ReLU}\left(\sum_o w_o \odot x_{t+o}\right)$: $o = -1$ takes from the
# **previous** frame (looks back), $o = +1$ from the **next** one (looks ahead). Training
# starts every weight from the authors' $\mathcal N(0, 2/C)$ (notebook 3), all offsets
# alike, so a share that differs from a third per offset is what training made of them.
# `tam_weights` returns the `(offsets, C)` weights of every TAM and `summarize_tams` the share of each offset in the total magnitude,
# $\text{share}_o = \overline{|w_{o,\cdot}|} / \sum_{o'} \overline{|w_{o',\cdot}|}$.

# %%
weights = tam_weights(model)
summaries = summarize_tams(model)
for name, tam in model.tams().items():
    assert torch.equal(weights[name], tam.weight.detach())
for s in summaries:  # from scratch: mean |w| per offset, normalised
    magnitude = weights[s.layer].abs().mean(dim=1)
    assert torch.allclose(torch.tensor(s.share), magnitude / magnitude.sum(), atol=1e-6)
print(f"{'TAM':<13} {'channels':>8} {'frames':>6} {'past':>6} {'current':>8} {'future':>7}")
for s, tam in zip(summaries, model.tams().values()):
    frames = model.output_frames(T) if s.layer.startswith("layer4.") else T  # what it mixes on this clip
    print(f"{s.layer:<13} {s.channels:>8} {frames:>6} "
          f"{s.past:>6.1%} {s.current:>8.1%} {s.future:>7.1%}")
tam_summary_figure(summaries).show()
most_temporal = max(summaries, key=lambda s: s.past + s.future)
print(f"looks around most: {most_temporal.layer}; "
      f"looks back most: {max(summaries, key=lambda s: s.past).layer}; "
      f"looks ahead most: {max(summaries, key=lambda s: s.future).layer}")
tam_layer_heatmap(most_temporal.layer, weights[most_temporal.layer]).show()

# %% [markdown]
# The table and the bar chart say which TAMs draw most on other frames, and whether on the
# previous or the next one. The heat map shows why averages say little: per channel, some weights
# are negative (a channel that *subtracts* its neighbour computes a temporal difference,
# i.e. motion), some channels look only back, others only ahead. Remember two details:
# stage TAMs (`layer1`..`layer3`) see each fused pair as two equal frames, and the stage-4
# TAM (`layer4.0`) works on one map per pair, so its offset $\pm 1$ is two frames away.
# TSN has no TAM:

# %%
assert summarize_tams(tsn.model) == []
tam_summary_figure(summarize_tams(tsn.model)).show()

# %% [markdown]
# Shares describe the weights, not what the network needs. A direct test is an **ablation**:
# set one TAM's off-centre weights ($w_{-1}, w_{+1}$) to zero, so that it no longer mixes
# frames, and look at the probability of the true class on each example clip.

# %%
def true_class_probabilities(network):
    with torch.no_grad():
        return [network(v).softmax(-1)[0, blv.classes.index(label)].item() for label, v in examples.items()]


ablation = {"none": true_class_probabilities(model)}
for name, tam in model.tams().items():
    kept = tam.weight.detach().clone()
    with torch.no_grad():
        tam.weight[[0, 2]] = 0.0  # no past, no future: this TAM only rescales the current frame
    ablation[name] = true_class_probabilities(model)
    with torch.no_grad():
        tam.weight.copy_(kept)  # restore
assert ablation["none"] == true_class_probabilities(model)
fig = go.Figure(go.Heatmap(z=list(ablation.values()), y=[f"ablated: {k}" for k in ablation], x=list(examples),
                           colorscale="Viridis", zmin=0, zmax=1, texttemplate="%{z:.2f}",
                           colorbar=dict(title="p(true class)")))
fig.update_layout(title="p(true class) when one TAM stops mixing frames", template="plotly_white",
                  yaxis=dict(autorange="reversed"), height=380)
fig.show()
for name, row in ablation.items():
    print(f"{name:13s} lowest p(true class) {min(row):.3f} ({list(examples)[row.index(min(row))]})")

# %% [markdown]
# Compare the rows with the shares above: a TAM with a large share on its neighbours is
# not necessarily one the network cannot do without on these clips, and a TAM with small
# neighbour weights can still matter where a class depends on it. Ablations and weight
# summaries are complementary: one says what the weights are, the other what the trained
# network does with them.

# %% [markdown]
# ## Pitfalls of attributing video models
#
# ### 1. The baseline decides the answer
#
# Completeness says IG distributes $F(x) - F(x')$: it explains the clip **relative to the
# baseline**. The package offers three:
#
# - `black`: black frames. "Why this clip rather than nothing?" Appearance counts.
# - `frozen`: the middle frame repeated. Appearance is kept, motion removed: "why this clip
#   rather than the same scene standing still?" Where the clip equals the baseline,
#   $x - x' = 0$ and the attribution is exactly zero: the middle frame and every pixel that
#   does not change get nothing.
# - `blurred`: every frame blurred. Removes detail but keeps coarse motion.
#
# For a motion class the difference is large. We measure the share of the attribution that
# falls on pixels that change during the clip.

# %%
moving = (clip.frames.float() - clip.frames[T // 2].float()).abs().sum(1) > 30  # (T, H, W)
print(f"pixels that differ from the middle frame: {moving.float().mean():.1%}")
ig_by_baseline = {}
for kind in BASELINES:
    reference = baseline_clip(x, kind)
    raw = integrated_gradients(model, x, reference, target, *gauss_legendre(steps))
    with torch.no_grad():
        f_ref = model(reference)[0, target].item()
    maps_kind = raw[0].sum(1).abs()  # (T, H, W), as the package
    ig_by_baseline[kind] = normalise_clip(maps_kind)
    print(f"{kind:8s} F(x') = {f_ref:6.2f}  F(x) - F(x') = {f_x - f_ref:6.2f}  sum IG = {raw.sum():6.2f}  "
          f"on changing pixels: {(maps_kind * moving).sum() / maps_kind.sum():.0%}  "
          f"middle frame: {maps_kind[T // 2].sum() / maps_kind.sum():.0%}")
assert ig_by_baseline["frozen"][T // 2].max() == 0  # x - x' = 0 on the frozen frame
panels = torch.cat([overlay(clip.frames, ig_by_baseline[k]) for k in ("black", "frozen")])
frames_figure(panels, [f"{k} t={t}" for k in ("black", "frozen") for t in range(T)],
              title="Integrated gradients, black baseline (top) and frozen baseline (bottom)").show()

# %% [markdown]
# With black frames most of the attribution goes to things that do not move (the
# background, the static decoy): they are part of "this clip rather than nothing". With the
# frozen baseline nearly all of it goes to the moving object, and most to the frames far
# from the middle. The blurred clip is itself classified "moving left" almost as confidently
# as the clip ($F(x) - F(x')$ is small): blur keeps the motion, so there is little left to
# explain. None of these is wrong; say which question you asked.
#
# ### 2. Normalising per frame exaggerates
#
# `normalise_clip` divides all maps by the largest value of the clip. Dividing each frame by
# its own maximum instead makes every frame peak at 1: a frame the model barely uses looks
# as important as the decisive one.

# %%
raw_saliency = saliency  # (T, H, W), not normalised
per_clip = normalise_clip(raw_saliency)
per_frame = raw_saliency / raw_saliency.amax(dim=(1, 2), keepdim=True)
print("frame peaks, across the clip:", [f"{v:.2f}" for v in per_clip.amax(dim=(1, 2)).tolist()])
print("frame peaks, per frame:      ", [f"{v:.2f}" for v in per_frame.amax(dim=(1, 2)).tolist()])
panels = torch.cat([overlay(clip.frames, per_clip), overlay(clip.frames, per_frame)])
frames_figure(panels, [f"{k} t={t}" for k in ("clip", "frame") for t in range(T)],
              title="Saliency normalised across the clip (top) and per frame (bottom)").show()

# %% [markdown]
# ### 3. Grad-CAM on bLVNet has half the temporal resolution
#
# Grad-CAM reads a layer's feature maps. A bL stage computes one **fused map per pair**,
# which the network then copies back to both frames of the pair (`model.routing.merge`), and
# stage 4 sees one frame per pair. So a layer-level map exists per pair, not per frame. The
# stage returns the pair's map before the copies, so Captum's `LayerGradCam` on the stage
# and the package's `grad_cam` (which reads the same tensor from `forward_intermediates`,
# used by `attribute(method="gradcam")`) agree: one map per pair. (A Grad-CAM on the copies
# would be misled: after `layer3` only the odd copy goes on to stage 4, so every even copy
# would get a zero gradient and an empty map.) `attribute` shows the pair's map on both
# frames. TSN keeps one map per frame. The maps are also coarse in space: `layer3` is at
# 1/16 of the frame (3x3 for these 48-pixel frames).

# %%
captum_maps = LayerGradCam(blv.model, blv.model.layer3).attribute(x, target=target, relu_attributions=True)
print(f"Captum's LayerGradCam on bLVNet-TAM's layer3: {tuple(captum_maps.shape)} (pairs, 1, h, w)")
pair_maps = grad_cam(blv.model, x, target, "layer3")
print(f"grad_cam on bLVNet-TAM's layer3: {tuple(pair_maps.shape)} (pairs, 1, h, w); "
      f"TSN: {tuple(grad_cam(tsn.model, x, target, 'layer3').shape)} (frames, 1, h, w)")
assert pair_maps.shape[0] == T // 2
assert torch.allclose(pair_maps, captum_maps, atol=1e-6), "the same tensor, the same gradient"
assert tuple(pair_maps.shape[-2:]) == (x.shape[-2] // 16, x.shape[-1] // 16) == (3, 3)
cam_blv = attribute(model, x, target, method="gradcam", layer="layer3")
cam_tsn = attribute(tsn.model, x, target, method="gradcam", layer="layer3")
assert torch.equal(cam_blv[0::2], cam_blv[1::2]), "bLVNet: both frames of a pair get the same map"
assert not torch.equal(cam_tsn[0::2], cam_tsn[1::2])
panels = torch.cat([overlay(clip.frames, cam_blv), overlay(clip.frames, cam_tsn)])
frames_figure(panels, [f"{k} t={t}" for k in ("bLVNet", "TSN") for t in range(T)],
              title="Grad-CAM on layer3: bLVNet-TAM (top, one map per pair) and TSN (bottom)").show()

# %% [markdown]
# Pixel-level methods (saliency, IG, occlusion) keep one map per frame: use them when the
# question is *which frame*.
#
# ### 4. Saturation, and how many steps
#
# bLVNet-TAM gives "moving left" a probability of almost exactly 1. The softmax is then
# flat: $\partial p / \partial z = p (1 - p) \approx 0$, so the gradient of the probability
# at the clip is nearly zero even though the clip is what makes the probability 1. This is
# **saturation**, and it is why gradients at a single point (saliency) can say "nothing
# matters". Along the IG path the probability rises from $p(x')$ to $p(x)$ somewhere; the
# gradient is large there, and IG collects it.

# %%
def probability(clips):
    return model(clips).softmax(-1)


alphas = torch.linspace(0, 1, pick(17, 65))
with torch.no_grad():
    path = x_black + alphas.view(-1, 1, 1, 1, 1) * (x - x_black)  # (n, T, 3, H, W)
    logits_path = model(path)[:, target]
    probs_path = model(path).softmax(-1)[:, target]
fig = make_subplots(specs=[[{"secondary_y": True}]])
fig.add_scatter(x=alphas.tolist(), y=probs_path.tolist(), name="p(moving left)", mode="lines+markers")
fig.add_scatter(x=alphas.tolist(), y=logits_path.tolist(), name="logit", mode="lines+markers",
                secondary_y=True)
fig.update_layout(title="Along the IG path from black frames (alpha=0) to the clip (alpha=1)",
                  xaxis_title="alpha", template="plotly_white")
fig.update_yaxes(title_text="probability", secondary_y=False)
fig.update_yaxes(title_text="logit", secondary_y=True)
fig.show()

v = x.clone().requires_grad_()
grad_p = torch.autograd.grad(probability(v)[0, target], v)[0]
grad_logit = input_gradient(model, x, target)
p_x, p_black = probs_path[-1].item(), probs_path[0].item()
print(f"p(x) = {p_x:.6f}; largest |dp/dx| = {grad_p.abs().max():.1e}; "
      f"largest |dlogit/dx| = {grad_logit.abs().max():.1e}")
print(f"sum of IG of the probability; completeness asks for p(x) - p(black) = {p_x - p_black:.4f}")
miss = {}  # relative completeness error of (midpoint, Gauss-Legendre) per number of steps
for m in pick([4, 16, 64], [4, 16, 64, 256]):
    sums = [integrated_gradients(probability, x, x_black, target, *rule(m)).sum().item()
            for rule in (riemann_midpoint, gauss_legendre)]
    miss[m] = [abs(total - (p_x - p_black)) / (p_x - p_black) for total in sums]
    print(f"  {m:3d} steps: Riemann midpoint {sums[0]:.4f}, Gauss-Legendre {sums[1]:.4f}   "
          f"off by {miss[m][0]:.1%} and {miss[m][1]:.1%}")
# the figures in the text below
crossing = alphas[(probs_path > 0.5).nonzero()[0, 0]].item()
print(f"dlogit/dx is {grad_logit.abs().max() / grad_p.abs().max():.0f} times dp/dx; p passes 0.5 at alpha = {crossing:.2f}")
assert 100 < grad_logit.abs().max() / grad_p.abs().max() < 1000, "hundreds of times smaller"
assert 0.3 <= crossing <= 0.45, "the jump around alpha = 0.4"
assert min(miss[4]) > 1.0, "4 steps: off by more than 100%"
assert miss[64][0] < 0.01 < 0.05 < miss[64][1], "64 steps: midpoint within 1%, Gauss-Legendre not"

# %% [markdown]
# The gradient of the probability at the clip is hundreds of times smaller than that of the
# logit: saliency of a saturated probability is almost all noise. IG on the probability
# still sums to $p(x) - p(x')$, provided enough steps fall where the probability jumps
# (around $\alpha \approx 0.4$ here): with 4 steps the quadrature misses the jump and
# completeness fails badly (by more than 100%); with 64 steps the midpoint rule holds to
# better than 1%, while Gauss-Legendre, whose nodes crowd at the two ends of the path, is
# still about 10% off. Two habits follow:
# attribute **logits**, not probabilities, and check completeness to choose the number of
# steps. Temporal importance, which uses probabilities, has the same blind spot: removing one
# frame of a clip the model is certain about changes little.
#
# ### 5. TSN and bLVNet-TAM on the same clip
#
# Same clip, same target, same method (IG, frozen baseline):

# %%
frozen = baseline_clip(x, "frozen")
ig_models = {name: attribute(p.model, x, target, method="integrated_gradients", baseline="frozen",
                             steps=steps)
             for name, p in (("bLVNet-TAM", blv), ("TSN", tsn))}
panels = torch.cat([overlay(clip.frames, m) for m in ig_models.values()])
frames_figure(panels, [f"{k} t={t}" for k in ("bLVNet", "TSN") for t in range(T)],
              title="IG (frozen baseline) for 'moving left': bLVNet-TAM (top), TSN (bottom)").show()
right = blv.classes.index("moving right")
with torch.no_grad():
    for name, p in (("bLVNet-TAM", blv), ("TSN", tsn)):
        budget = (p.model(x) - p.model(frozen))[0]  # F(x) - F(x') for every class
        print(f"{name:11s} F(x) - F(frozen): 'moving left' {budget[target]:+6.2f}, "
              f"'moving right' {budget[right]:+6.2f}   p(moving left) = {probs[name]['moving left']:.2f}")

# %% [markdown]
# With the frozen baseline both maps can only light up what moves, and they look alike: the
# maps alone cannot tell which model understands the direction. The budgets can: for
# bLVNet-TAM the motion raises the logit of "moving left" and lowers that of "moving right";
# TSN, blind to the direction, gives the two similar budgets. TSN's attribution of each frame is
# the attribution of an image model on that frame (its gradient does not depend on the other
# frames, as we proved); bLVNet-TAM's is the attribution of the clip. Read attributions
# together with the prediction, the completeness budget $F(x) - F(x')$ and the frame
# importance, never alone.

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it. Both take the demo
# bLVNet-TAM (`model`, in eval mode), one normalised clip `video` `(1, T, 3, H, W)` and a
# class index `target`.
#
# **Your turn 1.** Saliency: the absolute gradient of the target's score with respect to
# every input value, summed over the three colour channels, one map per frame `(T, H, W)`,
# divided by the largest value of the whole clip (one scale for all frames).

# %%
def saliency_map(model, video, target):
    """(T, H, W) in [0, 1]: |d score / d pixel| summed over colours, scaled by the clip's maximum."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.saliency_map(saliency_map))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def saliency_map(model, video, target):
#     video = video.detach().requires_grad_()
#     model(video)[0, target].backward()
#     maps = video.grad[0].abs().sum(1)  # (T, H, W)
#     return maps / maps.max()
# ```
#
# `video.grad[0].sum(1).abs()` looks alike, but where the red and blue gradients of a pixel
# have opposite signs they cancel: the map misses pixels the score is sensitive to.
#
# </details>
#
# **Your turn 2.** Temporal importance: for each frame, how much the target's probability
# drops when that frame is replaced by a grey frame (zeros after normalisation), the rest
# of the clip unchanged. One value per frame, `(T,)`.

# %%
def frame_importance(model, video, target):
    """(T,): p(target | clip) - p(target | clip with frame t set to 0)."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.frame_importance(frame_importance))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def frame_importance(model, video, target):
#     with torch.no_grad():
#         p = model(video).softmax(-1)[0, target]
#         drops = []
#         for t in range(video.shape[1]):
#             hidden = video.clone()
#             hidden[:, t] = 0
#             drops.append(p - model(hidden).softmax(-1)[0, target])
#     return torch.stack(drops)
# ```
#
# A drop of the logit instead ranks the frames similarly but is not a probability: it
# cannot say that without frame 3 the model would be 40 points less sure.
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** Explain "moving right" (a class the model does *not* predict) on the same clip
# with IG and the frozen baseline. What does completeness tell you before you look at the
# maps?
#
# <details><summary>Solution</summary>
#
# ```python
# right = blv.classes.index("moving right")
# ig = integrated_gradients(model, x, baseline_clip(x, "frozen"), right, *gauss_legendre(32))
# with torch.no_grad():
#     print(ig.sum(), model(x)[0, right] - model(baseline_clip(x, "frozen"))[0, right])
# ```
#
# The sum is negative: the motion in the clip *lowers* the score of "moving right" relative
# to the frozen scene. The package's maps take `abs()` after summing colours, so they show
# *where* the evidence is, not its sign: look at the raw attributions to tell evidence for
# from evidence against.
#
# </details>
#
# **2.** Reverse the clip (`x.flip(1)`) and compute the temporal importance of "moving
# right" for both models. Why is TSN's importance vector the reverse of its importance
# for "moving right" on the original clip?
#
# <details><summary>Solution</summary>
#
# TSN's output is the same for the clip and its reverse (the mean over frames ignores order),
# and removing frame `t` of the reversed clip is removing frame `T-1-t` of the original. So
# `temporal_importance(tsn.model, x.flip(1), c) == temporal_importance(tsn.model, x, c).flip(0)`
# for every class `c`. bLVNet-TAM has no such symmetry: it predicts "moving right" on the
# reversed clip, with its own importance pattern.
#
# </details>
#
# **3.** Captum reports the completeness error itself:
# `IntegratedGradients(model).attribute(..., return_convergence_delta=True)` returns the
# attributions and a `delta`. Find what `delta` is, with the frozen baseline and 16 steps,
# and use it to choose the number of steps for this clip.
#
# <details><summary>Solution</summary>
#
# ```python
# ig, delta = IntegratedGradients(model).attribute(x, baselines=frozen, target=target, n_steps=16,
#                                                  return_convergence_delta=True)
# with torch.no_grad():
#     budget = (model(x) - model(frozen))[0, target]
# print(delta.item(), (ig.sum() - budget).item())   # the same number
# ```
#
# `delta` is $\sum_i \mathrm{IG}_i - (F(x) - F(x'))$, the completeness error; compare it with
# the budget $F(x) - F(x')$ printed above. Double the steps until `|delta|` is a small fraction of
# `F(x) - F(x')`; as the figure above shows, the error does not always fall monotonically.
#
# </details>
#
# **4.** Repeat the ablation with the neighbours of **all** TAMs zeroed at once (on a copy:
# `copy.deepcopy(model)`). Notebook 7 trains a tiny bLVNet *without* TAM on the same data,
# and it solves the short-range classes ("moving left", "growing", ...). Does the ablated
# network behave like it? Why not?
#
# <details><summary>Solution</summary>
#
# ```python
# import copy
# ablated = copy.deepcopy(model)
# with torch.no_grad():
#     for tam in ablated.tams().values():
#         tam.weight[[0, 2]] = 0.0
# print(dict(zip(examples, true_class_probabilities(ablated))))
# ```
#
# It typically fails on several clips, short-range ones included. Zeroing
# the neighbours does not turn the network into bLVNet without TAM: every other weight was
# trained to read features in which frames are mixed, and each TAM still rescales the
# current frame by its learned `w_0`, not 1. A network *trained* without TAM learns other
# weights, which use the local fusion of frame pairs instead. An ablation tells what this
# trained network relies on, not what the architecture needs.
#
# </details>

# %% [markdown]
# ## Read next
#
# - Integrated Gradients (Sundararajan et al., ICML 2017), Grad-CAM (Selvaraju et al., ICCV 2017), Captum's documentation
# - `blvnet_edu/explain/attributions.py`, `explain/tam_weights.py`
# - the app: `blvnet-edu app` shows the same attributions and TAM weights on your clips
