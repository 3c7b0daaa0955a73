"""blvnet_edu/models/fast/convert.py: the fast modules compute the paper's function, and the
switch between them changes nothing but the classes of the modules.

The whole-network test is the proof that every speed trick (pair storage, in-place TAM with
its own backward, TAM read over pairs, views for the odd/even split, in-place
upsample-and-add) computes the function the paper defines: float64, outputs and every
parameter gradient, in training mode (BatchNorm on batch statistics) and in eval mode, for
every preset family, for each switch of `to_fast` on its own and all together.
"""

import copy
import subprocess

import pytest
import torch
from conftest import CUDA, random_video, randomize_

from blvnet_edu.models import PRESETS, TAM, BLModule, build_model
from blvnet_edu.models.fast import FastBLModule, FastTAM, PairStorage, PairTAM, is_fast, to_fast, to_paper
from blvnet_edu.models.temporal import PAIRS, FrameRouting

FAMILIES = sorted({name.removesuffix("_tiny") for name in PRESETS if name.endswith("_tiny")})
SWITCHES = {
    "all": {},
    "tam only": {"pairs": False, "channels_last": False},
    "pairs only": {"tam": False, "channels_last": False},
    "channels_last only": {"tam": False, "pairs": False},
}


def run(model, video):
    """Logits, every parameter gradient and the BatchNorm statistics after one step."""
    model.zero_grad()
    torch.manual_seed(0)  # the same dropout mask on both
    logits = model(video)
    (
        logits * torch.linspace(-1, 1, logits.shape[-1], dtype=logits.dtype, device=logits.device)
    ).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    return logits.detach(), grads, buffers


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("frames,width", [(8, 3), (6, 5)], ids=["8f-w3", "6f-w5"])
@pytest.mark.parametrize("switch", SWITCHES)
def test_fast_equals_the_paper_outputs_and_every_gradient(family, mode, frames, width, switch, device):
    overrides = {} if family.startswith("tsn") else {"blending_frames": width}
    paper_model = build_model(f"{family}_tiny", fast=False, **overrides)
    paper_model = randomize_(paper_model).double().train(mode == "train").to(device)
    video = random_video(2, frames, 64, dtype=torch.float64).to(device)
    fast_model = to_fast(copy.deepcopy(paper_model), **SWITCHES[switch])  # its own BatchNorm statistics
    logits_fast, grads_fast, buffers_fast = run(fast_model, video)
    logits_paper, grads_paper, buffers_paper = run(paper_model, video)
    torch.testing.assert_close(logits_fast, logits_paper, rtol=1e-10, atol=1e-12)
    assert grads_fast.keys() == grads_paper.keys() == dict(paper_model.named_parameters()).keys()
    largest = max(g.abs().max() for g in grads_paper.values())  # some gradients are 0 up to rounding
    for name in grads_paper:
        scale = max(grads_paper[name].abs().max(), 1e-6 * largest)
        assert (grads_fast[name] - grads_paper[name]).abs().max() <= 1e-9 * scale, name
    for name in buffers_paper:
        torch.testing.assert_close(buffers_fast[name], buffers_paper[name], rtol=1e-10, atol=1e-12)


def test_the_switch_back_and_forth_keeps_the_function_and_the_parameters():
    model = randomize_(build_model("blvnet_tam_tiny")).double().eval()
    video = random_video(1, 8, 64, dtype=torch.float64)
    params = {name: p for name, p in model.named_parameters()}
    with torch.no_grad():
        fast = model(video)
        model.fast = False
        assert not model.fast and not any(
            isinstance(m, (FastTAM, PairTAM, FastBLModule, PairStorage)) for m in model.modules()
        )
        paper = model(video)
        model.fast = True
        again = model(video)
    torch.testing.assert_close(fast, paper, rtol=1e-10, atol=1e-12)
    assert torch.equal(fast, again)
    assert all(p is params[name] for name, p in model.named_parameters())  # shared, not copied


def test_odd_feature_sizes_and_a_pair_of_frames():
    model = randomize_(build_model("blvnet_tam_tiny")).double().eval()
    video = random_video(
        1, 2, 72, dtype=torch.float64
    )  # 72 px: odd maps in stage 3 (upsampling by interpolation)
    with torch.no_grad():
        fast = model(video)
        model.fast = False
        torch.testing.assert_close(fast, model(video), rtol=1e-10, atol=1e-12)


def test_build_model_is_fast_by_default_and_print_shows_what_runs():
    fast, paper = build_model("blvnet_tam_tiny"), build_model("blvnet_tam_tiny", fast=False)
    assert fast.fast and not paper.fast
    assert type(fast.layer1) is FastBLModule and type(fast.layer1.tam) is PairTAM
    assert type(fast.layer0.tam) is FastTAM and type(fast.layer4[0].tam) is FastTAM
    assert type(fast.routing) is PairStorage and fast.layer1.routing is fast.routing  # one routing per model
    assert type(paper.layer1) is BLModule and type(paper.layer1.tam) is TAM
    shown = str(fast)
    assert (
        "FastBLModule" in shown
        and "PairTAM" in shown
        and "PairStorage" in shown
        and "ChannelsLastOnCPU" in shown
    )
    assert "Fast" not in str(paper) and "Pair" not in str(paper)
    tsn = build_model("tsn_blresnet_tiny")  # frames are not paired: nothing to store per pair
    assert type(tsn.routing) is FrameRouting and tsn.routing.group_size == 1


def test_a_hand_built_stage_never_changes_the_shared_routing():
    stage = BLModule(16, 64, 2, 2, 4, 2, PAIRS)
    to_fast(stage)
    assert type(PAIRS) is FrameRouting and type(stage.routing) is PairStorage
    to_paper(stage)
    assert type(stage.routing) is FrameRouting and stage.routing.group_size == 2


def test_hooks_fire_on_the_modules_that_run_and_see_their_values():
    """No path depends on hooks: a hook on a fast TAM fires on every call and sees its output."""
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    kept = {}
    for name, tam in model.tams().items():
        tam.register_forward_hook(lambda m, args, out, name=name: kept.__setitem__(name, (args, out)))
    video = random_video(1, 8, 64)
    with torch.no_grad():
        logits = model(video)
    assert list(kept) == list(model.tams())  # every TAM fired, in forward order
    (stem, frames), out = kept.pop("layer0.tam")  # at inference it writes over the stem output,
    assert out.data_ptr() == stem.data_ptr() and model.layer0.tam.inplace  # like ReLU(inplace=True)
    assert "inplace=True" in repr(model.layer0.tam)
    for name, ((x, t), y) in kept.items():
        again = model.tams()[name](x, t)
        for a, b in zip(y if isinstance(y, tuple) else (y,), again if isinstance(again, tuple) else (again,)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)  # not overwritten since
    with torch.no_grad():  # what the stem was, from forward_intermediates (which keeps a copy)
        _, points = model.forward_intermediates(video, ["stem", "layer0.tam"])
        torch.testing.assert_close(out, points["layer0.tam"].maps[0])
        torch.testing.assert_close(model.layer0.tam(points["stem"].maps[0], frames), out)
    with torch.no_grad():
        torch.testing.assert_close(model(video), logits)  # hooks change nothing
    with torch.enable_grad():
        stem = torch.rand(8, 16, 8, 8, requires_grad=True)
        assert (
            model.layer0.tam(stem, 8).data_ptr() != stem.data_ptr()
        )  # never in place when a gradient is needed


def test_a_global_hook_changes_no_path():
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    calls = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, *_: calls.append(type(m).__name__)
    )
    try:
        with torch.no_grad():
            model(random_video(1, 8, 64))
    finally:
        handle.remove()
    assert "FastBLModule" in calls and "PairTAM" in calls and "BLModule" not in calls


def test_no_private_hook_registry_is_read():
    out = subprocess.run(
        [
            "git",
            "grep",
            "-n",
            "-E",
            "|".join(
                f"_{kind}_hooks" for kind in ("global_forward", "global_backward", "forward", "backward")
            ),
            "--",
            "blvnet_edu",
            "app",
            "benchmarks",
            "notebooks",
        ],
        capture_output=True,
        text=True,
    )
    assert out.stdout == "", out.stdout


def test_is_fast():
    model = build_model("blvnet_tam_tiny", fast=False)
    assert not is_fast(model) and is_fast(to_fast(model)) and not is_fast(to_paper(model))
