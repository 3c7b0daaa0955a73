"""blvnet_edu/models/blvnet.py (+ blnet.py): presets, shapes, errors and the paper's properties."""

import dataclasses

import pytest
import torch
from conftest import random_video, randomize_

from blvnet_edu import BLVNetConfig, build_model, list_models
from blvnet_edu.models import TAM, BLModule

TINY = ["blvnet_tam_tiny", "blvnet_tiny", "tsn_blresnet_tiny", "tsn_resnet_tiny"]


def test_list_models_has_the_paper_presets_and_tiny_baselines():
    names = set(list_models())
    assert {
        "blvnet_tam_50",
        "blvnet_tam_101",
        "blvnet_tam_tiny",
        "tsn_resnet50",
        "tsn_blresnet50",
        "blvnet_50",
    } <= names
    assert set(TINY) <= names


def test_paper_preset_defaults():
    cfg = build_model("blvnet_tam_50").config
    assert (cfg.alpha, cfg.beta, cfg.num_frames, cfg.blending_frames) == (2, 4, 16, 3)
    assert build_model("blvnet_tam_101").config.layers == (4, 8, 18, 3)


@pytest.mark.parametrize("name", TINY)
def test_tiny_presets_map_a_video_to_logits(name):
    model = build_model(name, num_classes=7).eval()
    video = random_video(2, model.config.num_frames, 64)
    with torch.no_grad():
        logits = model(video)
        features = model.forward_features(video)
    assert logits.shape == (2, 7)
    assert features.shape == (2, model.config.output_frames, model.fc.in_features)
    torch.testing.assert_close(model.forward_head(features), logits)


def test_stage4_sees_one_frame_per_pair_only_with_pair_routing():
    assert build_model("blvnet_tam_tiny", num_frames=12).config.output_frames == 6
    assert build_model("tsn_blresnet_tiny", num_frames=12).config.output_frames == 12


@pytest.mark.parametrize("frames,width", [(2, 3), (6, 5), (10, 7), (4, 1)])
def test_any_even_number_of_frames_and_any_odd_blending_width(frames, width):
    model = build_model("blvnet_tam_tiny", num_frames=frames, blending_frames=width, num_classes=3).eval()
    assert all(t.blending_frames == width for t in model.tams().values())
    with torch.no_grad():
        assert model(random_video(1, frames, 48)).shape == (1, 3)


def test_alpha_beta_shape_the_little_branch():
    model = build_model("blvnet_tam_101", alpha=4, beta=2)
    layer3 = model.layer3
    assert isinstance(layer3, BLModule)
    assert len(layer3.big) == 17 and len(layer3.little) == 18 // 2 - 1
    assert layer3.little[0].conv3.out_channels == 1024 // 4


def test_tams_sit_where_the_paper_puts_them():
    model = build_model("blvnet_tam_50")
    names = list(model.tams())
    assert names == [
        "layer0.tam",
        "layer1.tam",
        "layer2.tam",
        "layer3.tam",
        "layer4.0.tam",
        "layer4.1.tam",
        "layer4.2.tam",
    ]
    assert all(t.blending_frames == 3 and not hasattr(t, "num_frames") for t in model.tams().values())
    assert not build_model("blvnet_50").tams() and not build_model("tsn_resnet50").tams()


def test_a_forward_hook_on_every_tam_fires_with_the_papers_shapes():
    model = build_model("blvnet_tam_tiny", fast=False).eval()
    seen = {}
    for name, tam in model.tams().items():
        tam.register_forward_hook(
            lambda _m, args, out, name=name: seen.__setitem__(name, (tuple(out.shape), args[1]))
        )
    with torch.no_grad():
        model(torch.randn(2, 8, 3, 64, 64))
    assert list(seen) == list(model.tams())  # in forward order
    assert seen["layer0.tam"] == ((16, 16, 32, 32), 8)  # the stem output: every frame (B*T), T = 8
    assert seen["layer1.tam"] == ((16, 16, 16, 16), 8)  # every frame, both frames of a pair equal before TAM
    assert seen["layer4.0.tam"] == ((8, 256, 4, 4), 4)  # stage 4: one frame per pair (layer3 output)


def test_a_model_built_once_runs_any_even_clip_length_as_models_built_for_it():
    """Frames are an input: one model at 8, 16 and 32 frames equals a model built for each."""
    model = randomize_(build_model("blvnet_tam_tiny")).eval()  # built with num_frames=8
    for frames in (8, 16, 32):
        video = random_video(1, frames, 64, seed=frames)
        own = build_model("blvnet_tam_tiny", num_frames=frames).eval()
        own.load_state_dict(model.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(model(video), own(video), rtol=0, atol=0)
            paper = build_model("blvnet_tam_tiny", num_frames=frames, fast=False).eval()
            paper.load_state_dict(model.state_dict())
            torch.testing.assert_close(model(video), paper(video), rtol=1e-4, atol=1e-5)
    video = random_video(1, 16, 64)
    no_tam = randomize_(build_model("blvnet_tiny")).eval()
    with torch.no_grad():  # TAM relates the two halves of a 16-frame clip: not two clips of 8
        whole, first = model.forward_features(video), model.forward_features(video[:, :8])
        assert not torch.allclose(whole[:, :4], first, rtol=1e-3, atol=1e-4)
        # without TAM (a bag of pairs) the first 8 frames' features are the same either way
        torch.testing.assert_close(
            no_tam.forward_features(video)[:, :4], no_tam.forward_features(video[:, :8])
        )


@pytest.mark.parametrize("name", TINY)
def test_forward_intermediates_gives_the_papers_tensors_on_both_paths(name):
    model = randomize_(build_model(name)).double().eval()
    video = random_video(2, 8, 64, dtype=torch.float64)
    points = ["stem", "layer0", "layer1", "layer2", "layer3", "layer4", *model.tams()]
    with torch.no_grad():
        features, fast = model.forward_intermediates(video, points)
        torch.testing.assert_close(features, model.forward_features(video))
        model.fast = False
        _, paper = model.forward_intermediates(video, points)
    pairs = name in ("blvnet_tam_tiny", "blvnet_tiny")
    assert list(fast) == list(paper) and set(fast) == set(points)  # in forward order
    for point in points:
        torch.testing.assert_close(fast[point].maps, paper[point].maps, rtol=1e-10, atol=1e-12)
        assert fast[point].frames_per_map == paper[point].frames_per_map
    g = 2 if pairs else 1
    assert fast["stem"].maps.shape[:2] == (2, 8) and fast["stem"].frames_per_map == 1
    assert fast["layer1"].maps.shape[:2] == (2, 8 // g) and fast["layer1"].frames_per_map == g
    assert fast["layer4"].maps.shape[:2] == (2, 8 // g) and fast["layer4"].per_frame().shape[:2] == (2, 8)
    for tam in model.tams():
        frames = 8 if not tam.startswith("layer4") else 8 // g
        assert fast[tam].maps.shape[:2] == (2, frames)


def test_forward_intermediates_equal_what_hooks_see_and_carry_the_gradient():
    model = randomize_(build_model("blvnet_tam_tiny", fast=False)).double().eval()
    video = random_video(1, 8, 64, dtype=torch.float64)
    hooked = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _a, out, name=name: hooked.__setitem__(name, out)
        )
        for name in ("layer2.tam", "layer4.0.tam", "layer2")
    ]
    logits = model(video)
    for handle in handles:
        handle.remove()
    model.fast = True
    features, kept = model.forward_intermediates(video, ["layer2", "layer2.tam", "layer4.0.tam"])
    torch.testing.assert_close(
        kept["layer2"].maps[0], hooked["layer2"]
    )  # one fused map per pair, before merge
    torch.testing.assert_close(kept["layer2.tam"].maps[0], hooked["layer2.tam"])
    torch.testing.assert_close(kept["layer4.0.tam"].maps[0], hooked["layer4.0.tam"])
    torch.testing.assert_close(model.forward_head(features), logits)
    (grad,) = torch.autograd.grad(model.forward_head(features)[0, 1], kept["layer2"].maps)
    assert grad.shape == kept["layer2"].maps.shape and grad.abs().sum() > 0  # in the graph of the output


def test_forward_intermediates_stops_early_and_names_unknown_points():
    model = build_model("blvnet_tam_tiny").eval()
    calls = []
    model.layer3.register_forward_pre_hook(lambda *_: calls.append("layer3"))
    with torch.no_grad():
        features, kept = model.forward_intermediates(random_video(1, 8, 64), ["layer1"], stop_early=True)
    assert features is None and list(kept) == ["layer1"] and not calls
    with pytest.raises(ValueError, match="unknown point"):
        model.forward_intermediates(random_video(1, 8, 64), ["layer9"])


def test_overrides_and_unknown_names_or_options():
    model = build_model("blvnet_tam_tiny", num_classes=5, dropout=0.0, num_frames=4)
    assert model.fc.out_features == 5 and model.config.num_frames == 4
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet9000")
    with pytest.raises(ValueError, match="unknown option"):
        build_model("blvnet_tam_tiny", frames=8)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (dict(num_frames=7), "even number of frames"),
        (dict(blending_frames=4), "blending_frames must be odd"),
        (dict(dropout=1.0), "dropout"),
        (dict(num_classes=0), "num_classes"),
        (dict(layers=(1, 2, 2, 1)), "bL stages need >= 2 blocks"),
        (dict(alpha=3), "divisible by alpha"),
    ],
)
def test_invalid_configs_are_rejected_with_a_reason(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_model("blvnet_tam_tiny", **overrides)


def test_tsn_can_take_an_odd_number_of_frames():
    model = build_model("tsn_resnet_tiny", num_frames=3).eval()
    with torch.no_grad():
        assert model(random_video(1, 3, 32)).shape == (1, 10)


@pytest.mark.parametrize(
    "video,message",
    [
        (torch.zeros(8, 3, 64, 64), r"expected \(B, T, 3, H, W\)"),
        (torch.zeros(1, 7, 3, 64, 64), "T must be even"),
        (torch.zeros(1, 8, 1, 64, 64), "3 colour channels"),
        (torch.zeros(1, 8, 3, 16, 64), "too small"),
        (torch.zeros(1, 8, 3, 64, 64, dtype=torch.uint8), "normalise"),
    ],
)
def test_bad_inputs_raise_value_errors_that_say_what_was_expected(video, message):
    model = build_model("blvnet_tam_tiny").eval()
    with pytest.raises(ValueError, match=message):
        model(video)


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    model = randomize_(build_model("blvnet_tam_tiny"))
    video = random_video(2, 8, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(video), model(video))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(video), model(video))


@pytest.mark.parametrize("name", TINY)
def test_every_parameter_receives_a_gradient(name):
    model = randomize_(build_model(name)).train()
    model(random_video(2, model.config.num_frames, 64)).logsumexp(dim=1).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


def test_training_and_inference_paths_agree():
    """Under no_grad and with autograd the network gives the same output."""
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    video = random_video(2, 8, 64)
    with torch.no_grad():
        inference = model(video)
    torch.testing.assert_close(model(video), inference)  # autograd path


def test_reversing_frames_changes_blvnet_tam_but_not_tsn():
    """The paper's point: TSN averages frames and is blind to order; bLVNet-TAM is not."""
    video = random_video(2, 8, 64, seed=3, dtype=torch.float64)
    reverse = video.flip(1)
    for name in ("tsn_resnet_tiny", "tsn_blresnet_tiny"):
        tsn = randomize_(build_model(name)).double().eval()
        with torch.no_grad():
            assert (tsn(video) - tsn(reverse)).abs().max() < 1e-10  # float rounding only
    blvnet = randomize_(build_model("blvnet_tam_tiny")).double().eval()
    with torch.no_grad():
        assert (blvnet(video) - blvnet(reverse)).abs().max() > 1e-3  # 100x the rounding


def permute_pairs(video: torch.Tensor, order: list[int]) -> torch.Tensor:
    """`(B, T, ...)` -> the frame pairs `(x_0, x_1), (x_2, x_3), ...` in `order`, each kept intact."""
    pairs = video.unflatten(1, (-1, 2))  # (B, T/2, 2, ...)
    return pairs[:, order].flatten(1, 2)


PERMUTATION_SEEDS = [0, 1, 2]


@pytest.mark.parametrize("name", ["tsn_resnet_tiny", "tsn_blresnet_tiny"])
@pytest.mark.parametrize("seed", PERMUTATION_SEEDS)
def test_tsn_is_a_bag_of_frames(name, seed):
    """The paper's Figure 1, TSN: any permutation of the frames leaves the logits unchanged."""
    model = randomize_(build_model(name), seed).double().eval()
    video = random_video(2, 8, 64, seed=seed, dtype=torch.float64)
    order = torch.randperm(8, generator=torch.Generator().manual_seed(seed))
    assert not torch.equal(order, torch.arange(8))
    with torch.no_grad():
        torch.testing.assert_close(model(video[:, order]), model(video), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", PERMUTATION_SEEDS)
def test_blvnet_without_tam_is_a_bag_of_pairs(seed):
    """bLVNet without TAM: any permutation of the frame pairs leaves the logits unchanged
    (local fusion only), but swapping the two frames of a pair does not."""
    model = randomize_(build_model("blvnet_tiny", num_frames=12), seed).double().eval()
    video = random_video(2, 12, 64, seed=seed, dtype=torch.float64)
    order = [int(i) for i in torch.randperm(6, generator=torch.Generator().manual_seed(seed + 10))]
    assert order != sorted(order)
    with torch.no_grad():
        logits = model(video)
        torch.testing.assert_close(model(permute_pairs(video, order)), logits, rtol=1e-10, atol=1e-12)
        within = video.unflatten(1, (-1, 2)).flip(2).flatten(1, 2)  # (x_1, x_0), (x_3, x_2), ...
        assert (model(within) - logits).abs().max() > 1e-3  # big and little branches differ


@pytest.mark.parametrize("weights", ["randomised", "fresh", "fresh identity TAM"])
@pytest.mark.parametrize("seed", PERMUTATION_SEEDS)
def test_blvnet_tam_depends_on_the_order_of_pairs(seed, weights):
    """bLVNet-TAM relates distant pairs: permuting the pairs changes its logits, with any
    weights and from the authors' initialisation. An identity TAM mixes nothing (its input
    is a ReLU's output), so from that start the network is a bag of pairs until trained."""
    torch.manual_seed(seed)
    model = build_model(
        "blvnet_tam_tiny", num_frames=12, tam_init="identity" if "identity" in weights else "kaiming"
    )
    if weights == "randomised":
        randomize_(model, seed)
    model = model.double().eval()
    video = random_video(2, 12, 64, seed=seed, dtype=torch.float64)
    order = [int(i) for i in torch.randperm(6, generator=torch.Generator().manual_seed(seed + 10))]
    with torch.no_grad():
        logits = model(video)
        change = (model(permute_pairs(video, order)) - logits).abs().max() / logits.abs().max()
    if "identity" in weights:
        assert change < 1e-10  # float64 rounding only
    else:
        assert change > 1e-6  # a million times the rounding


def test_pair_fusion_is_local_without_tam():
    """bLVNet without TAM only mixes the two frames of a pair: changing pair 0 leaves the
    per-frame features of the other pairs untouched."""
    model = randomize_(build_model("blvnet_tiny")).eval()
    video = random_video(1, 8, 64)
    changed = video.clone()
    changed[:, 1] += 1.0
    with torch.no_grad():
        a, b = model.forward_features(video), model.forward_features(changed)
    assert not torch.allclose(a[:, 0], b[:, 0])
    torch.testing.assert_close(a[:, 1:], b[:, 1:])


def test_model_is_dtype_agnostic_float64():
    model = randomize_(build_model("blvnet_tam_tiny")).double().eval()
    with torch.no_grad():
        assert model(random_video(1, 8, 64, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_runs_under_cpu_autocast(dtype):
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    video = random_video(1, 8, 64)
    with torch.no_grad():
        expected = model(video)
        with torch.autocast("cpu", dtype=dtype):
            out = model(video)
    assert torch.isfinite(out).all()
    assert (out.float() - expected).abs().max() < 0.1 * expected.abs().max()


def test_channels_last_gives_the_same_output():
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    video = random_video(2, 8, 64)
    with torch.no_grad():
        expected = model(video)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(video)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # torch.compile
def test_compiles_without_graph_breaks():
    model = randomize_(build_model("blvnet_tam_tiny", dropout=0.0)).train()
    video = random_video(2, 8, 64)
    expected = model(video)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    out = compiled(video)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_config_is_frozen_and_kept_on_the_model():
    model = build_model("blvnet_tam_tiny", num_classes=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config.num_classes = 5
    assert isinstance(model.config, BLVNetConfig) and model.config.name == "blvnet_tam_tiny"
    assert isinstance(model.layer0.tam, TAM)
