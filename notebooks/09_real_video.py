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
# # 9. A real video: from a file to an explained prediction
#
# Every clip so far was synthetic: shapes that move on a plain background. This notebook
# takes a real one, five seconds of *Big Buck Bunny* (an open film: (c) 2008 Blender
# Foundation, www.bigbuckbunny.org, licensed CC BY 3.0; `notebooks/data/README.md`), in
# which a large rabbit climbs out of its burrow and stretches. It goes through the same
# steps a Something-Something or Kinetics clip takes: decoding and sampling, the authors'
# test preprocessing, a network loaded from a checkpoint with its label map, a prediction
# and an explanation.
#
# **Objectives.** After this notebook you can
# - decode and sample a real clip the way the authors' test pipeline does (16 frames, short
#   side 256, centre crop 224) and say what the model sees of it,
# - say why the course's demo models give an arbitrary answer on it (a classifier only knows
#   its classes) and what `demo_notice` tells a user,
# - load one of the authors' released checkpoints with its labels (`ssv1`, `ssv2`,
#   `kinetics400`): the network is read from the file's tensor shapes, the frames from its
#   name; here on a stand-in file of the same format, since the released weights cannot be
#   downloaded in this course,
# - explain a prediction on the real clip, and know what to expect from the real checkpoints.
#
# **Before you start.** Prerequisites: notebooks 2, 5 and 8. Run time on 2 CPU cores: quick
# mode (`BLVNET_EDU_QUICK=1`, what the tests run) about 15 s; full mode (the default) about
# 45 s.

# %%
import numpy as np
import torch

from blvnet_edu import build_model
from blvnet_edu.data.label_maps import load_labels
from blvnet_edu.data.sampling import segment_indices
from blvnet_edu.data.video_io import probe_video, read_frames
from blvnet_edu.explain.figures import frames_figure, temporal_importance_figure, topk_figure
from blvnet_edu.clips import load_clip
from blvnet_edu.inference import explain, load_predictor, predict_clip
from blvnet_edu.model_card import demo_notice, model_card
from course import DEMO, ROOT, WORK, check, pick, setup

setup()
CLIP = ROOT / "notebooks" / "data" / "big_buck_bunny.mp4"

# %% [markdown]
# ## The file
#
# `probe_video` reads the container's header: nothing is decoded. The evaluation sampling of
# notebook 2 takes the centre of each of 16 equal segments; `read_frames` decodes only
# those frames (seeking to key frames where it pays).

# %%
info = probe_video(CLIP)
print(info)
indices = segment_indices(info.num_frames, 16, train=False)
frames = read_frames(CLIP, indices)  # (16, 3, H, W) uint8, as decoded
print("sampled frames", indices, "->", tuple(frames.shape))
assert tuple(frames.shape) == (16, 3, info.height, info.width)
frames_figure(frames, [f"frame {i}" for i in indices], title="Big Buck Bunny: the 16 sampled frames").show()

# %% [markdown]
# ## What the course's demo model says
#
# The demo bLVNet-TAM was trained on the synthetic set: 14 classes of moving shapes. Its
# softmax must share all probability among them, whatever the clip. The answer below is
# therefore arbitrary, and confident answers are possible too: confidence is not
# competence outside the training distribution. The app and `blvnet-edu predict` print
# `demo_notice` for that reason.

# %%
demo = load_predictor(DEMO / "blvnet_tam_tiny.pt")
demo_clip = load_clip(CLIP, demo.num_frames, demo.size, demo.resize)
demo_probs = predict_clip(demo, demo_clip)
topk_figure(demo_probs, k=5, title="the demo model on Big Buck Bunny (its 14 synthetic classes only)").show()
print(demo_notice(demo))
assert abs(sum(demo_probs.values()) - 1) < 1e-5 and set(demo_probs) == set(demo.classes)

# %% [markdown]
# ## The authors' released checkpoints
#
# The authors released bLVNet-TAM models trained on Something-Something V1 and V2 (174
# classes of hand-object interactions) and Kinetics-400 (human actions), as files such as
# `st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar` (github.com/IBM/bLVNet-TAM). With one of them
# downloaded, this is all it takes:
#
# ```python
# model = load_predictor("st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar", labels="ssv2")
# probs = predict_clip(model, load_clip("clip.mp4", model.num_frames, model.size, model.resize))
# ```
#
# ```bash
# blvnet-edu predict clip.mp4 --checkpoint st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar --labels ssv2
# ```
#
# The files hold weights only. `load_predictor` reads the network from the tensor shapes
# (depth, $\alpha$, $\beta$, blending width, classes), the frames from the name (`f8x2`:
# 16), and uses the authors' test preprocessing: short side 256, centre crop 224
# (`tests/test_authors_pipeline.py` checks it against their pipeline's logits). The class
# names come from the label map: 400 classes mean Kinetics-400; 174 classes can be V1 or V2,
# whose orders differ, so `labels` must say which.
#
# Downloads are not possible here, so we write a **stand-in** in the same file layout: the
# network the name describes with random weights, in a `state_dict` with DataParallel's
# `module.` names and the classifier named `new_fc`, as in the released files. Everything
# below is the real loading path; only the weights are not trained, so its answers are
# meaningless.

# %%
name = pick("blvnet_tam_tiny", "blvnet_tam_50")  # quick mode: a small network, the same format
stand_in = build_model(name, num_classes=174, num_frames=16)
state = {("new_fc." + k[3:] if k.startswith("fc.") else k): v for k, v in stand_in.state_dict().items()}
checkpoint = WORK / "st2stv2-stand-in-f8x2.pth.tar"
torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, checkpoint)

released = load_predictor(checkpoint, labels="ssv2")
print(model_card(released))
assert released.num_frames == 16 and (released.size, released.resize) == (224, 256)
assert released.classes == load_labels("ssv2") and released.model.config.num_classes == 174

# %% [markdown]
# The network read from the file is the one that was saved, and the class names are those of
# Something-Something V2. Its prediction on the real clip goes through the authors'
# preprocessing:

# %%
real_clip = load_clip(CLIP, released.num_frames, released.size, released.resize)
print("model input", tuple(real_clip.input.shape), "from frames", real_clip.indices)
with torch.no_grad():
    same = stand_in.eval()(real_clip.input)  # the network before saving
probs = predict_clip(released, real_clip)
assert torch.allclose(torch.tensor(list(probs.values())), same.softmax(-1)[0], atol=1e-5), "the file holds the network"
topk_figure(probs, k=5, title="the stand-in (random weights, SSv2 labels): the pipeline works, the answer is noise").show()

# %% [markdown]
# **What to expect with the real checkpoints.** A Something-Something model knows 174
# hand-object interactions ("Pushing something from left to right", ...); a rabbit
# stretching is none of them, so expect a flat top-5 with low probabilities. Kinetics-400 has
# classes for it (`stretching arm`, `yawning`), so a Kinetics model has a fair chance. On a
# Something-Something clip, the released bLVNet-TAM-50 8x2 is right about half the time at
# top-1 (46.4% on V1 in the paper) and usually has the right class in its top-5.
#
# ## Explaining the prediction
#
# The same attribution as in notebook 8, on the real clip, for the demo model's top-1 (any
# model works; the demo model is small enough for integrated gradients on a laptop). Where
# does the model look, and which frames matter?

# %%
steps = pick(8, 32)
result = explain(demo, demo_clip, None, method="integrated_gradients", baseline="black", steps=steps)
frames_figure(result.overlays, result.captions, title=f"integrated gradients for '{result.target}'").show()
temporal_importance_figure(result.importance, [f"frame {i}" for i in demo_clip.indices]).show()
print("explained class:", result.target, "| frame importance:", [round(v, 3) for v in result.importance.tolist()])
assert result.maps.shape == (demo.num_frames, demo.size, demo.size) and float(result.maps.max()) == 1.0

# %% [markdown]
# The maps say what the *demo* model reacts to: edges and motion of large shapes, the only
# thing its synthetic training taught it. An explanation describes the model, not the
# video: a released Kinetics or Something-Something checkpoint would attend elsewhere.

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it.
#
# **Your turn 1.** The authors' test sampling, from their code (`core/video_dataset.py`):
# for a video of `N > 16` frames the 0-based index of sample `x` is
# $\lfloor \text{tick}/2 + \text{tick} \cdot x \rfloor$ with $\text{tick} = N / 16$. Write it
# with integers only (no floating point).

# %%
def authors_indices(num_frames):
    """The 16 frame indices the authors' test pipeline reads from a video of `num_frames` > 16 frames."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.authors_indices(authors_indices))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def authors_indices(num_frames):
#     return [((2 * x + 1) * num_frames) // 32 for x in range(16)]
# ```
#
# $\text{tick}/2 + \text{tick}\, x = (2x + 1) N / 32$, and the floor of a non-negative
# fraction is integer division. `x * num_frames // 16` takes the *start* of each segment
# instead of its middle.
#
# </details>
#
# **Your turn 2.** Phones store a portrait video as landscape pixels plus a rotation (the
# display matrix; PyAV gives it as `frame.rotation`, in degrees, counter-clockwise).
# `read_frames` turns frames upright as players do. Write the turn for one `(H, W, 3)` image.

# %%
def upright(image, rotation):
    """An (H, W, 3) image turned counter-clockwise by `rotation` degrees (a multiple of 90)."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.upright(upright))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def upright(image, rotation):
#     return np.rot90(image, k=round(rotation / 90) % 4)
# ```
#
# `np.rot90` turns counter-clockwise for positive `k`, as the display matrix counts. A
# clockwise turn (`k=-1` for 90) shows the video upside down after the player's own turn:
# this is the mistake that makes a phone video "classified sideways".
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** Run the demo model on the clip reversed (`demo_clip.input.flip(1)`). Does its
# answer change? Would you expect a real Kinetics model's answer to change?
#
# <details><summary>Solution</summary>
#
# The demo bLVNet-TAM can change its answer (its TAMs see the order; notebook 1), but on a
# clip outside its classes any change is as arbitrary as the answer itself. A Kinetics model
# classifies "stretching" nearly the same backwards: most Kinetics classes are recognisable
# from appearance, which is why the paper evaluates temporal modelling on
# Something-Something, where reversing a clip often turns one class into another.
#
# </details>
#
# **2.** `load_predictor(checkpoint, labels="ssv1")` also loads the stand-in. What goes
# wrong if you pick the wrong one of V1 and V2 for a real checkpoint?
#
# <details><summary>Solution</summary>
#
# Nothing you can see: both lists have 174 names, so the model loads and predicts, but index
# $i$ gets the name of another class (V1 is in the order of its CSV file, V2 sorted; only
# index 82 means the same in both). The answers look plausible and are wrong. The loader
# therefore refuses to guess for 174 classes.
#
# </details>

# %% [markdown]
# ## Read next
#
# - the paper's experiments on Something-Something and Kinetics (Sec. 4, Tables 1-2)
# - README, "Real videos and the authors' models"; `blvnet_edu/loading.py` (any checkpoint to a
#   network), `data/label_maps.py`, `tests/test_authors_pipeline.py`
# - the app: `blvnet-edu app`, then "your own checkpoint" with a released file and its labels
