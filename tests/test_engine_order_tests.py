"""blvnet_edu/engine/order_tests.py: reversed clips and shuffled pairs, the paper's Figure 1 measured."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from blvnet_edu import build_model
from blvnet_edu.engine.order_tests import order_report, order_scores, reverse_frames, shuffle_pairs

from conftest import random_video, randomize_


def test_shuffle_pairs_keeps_each_pair_intact_and_never_the_same_order():
    frames = torch.arange(8.0).view(1, 8, 1, 1, 1).expand(3, 8, 3, 2, 2)  # frame t holds value t
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        shuffled = shuffle_pairs(frames, generator)
        for clip in shuffled[:, :, 0, 0, 0]:
            order = clip.tolist()
            pairs = [tuple(order[i : i + 2]) for i in range(0, 8, 2)]
            assert sorted(pairs) == [(0, 1), (2, 3), (4, 5), (6, 7)]  # the pairs, intact and in order
            assert order != list(range(8))  # never the original order
    a = shuffle_pairs(frames, torch.Generator().manual_seed(4))
    assert torch.equal(a, shuffle_pairs(frames, torch.Generator().manual_seed(4)))  # reproducible
    views = frames.unsqueeze(1).expand(3, 2, 8, 3, 2, 2)  # (B, V, T, ...) works too
    assert shuffle_pairs(views, generator).shape == views.shape
    with pytest.raises(ValueError, match="even number of frames"):
        shuffle_pairs(frames[:, :7], generator)


def test_reverse_frames():
    video = random_video(2, 6, 8)
    assert torch.equal(reverse_frames(video)[:, 0], video[:, 5])


@pytest.fixture(scope="module")
def loader():
    videos = random_video(6, 8, 48, seed=1)
    return DataLoader(TensorDataset(videos, torch.arange(6) % 3), batch_size=4)


@pytest.mark.parametrize("name,changed_by", [
    ("tsn_resnet_tiny", set()),                           # a bag of frames
    ("blvnet_tiny", {"reversed"}),                       # a bag of pairs
    ("blvnet_tam_tiny", {"reversed", "shuffled_pairs"}),  # relates distant pairs
])
def test_order_tests_tell_the_three_networks_of_figure_1_apart(name, changed_by, loader):
    model = randomize_(build_model(name, num_classes=3), seed=2)
    with torch.no_grad():  # logits of a few units: a softmax that is not saturated
        model.fc.weight.mul_(3.0 / model.eval()(next(iter(loader))[0]).abs().max())
    scores, labels = order_scores(model, loader, torch.device("cpu"))
    assert set(scores) == {"original", "reversed", "shuffled_pairs"} and labels.tolist() == [0, 1, 2, 0, 1, 2]
    for test in ("reversed", "shuffled_pairs"):
        difference = (scores[test] - scores["original"]).abs().max()
        if test in changed_by:
            assert difference > 1e-4, test
        else:
            assert difference < 1e-5, test
    report = order_report(scores, labels)
    assert set(report) == {"reversed", "shuffled_pairs"}
    for test, row in report.items():
        assert row["top1_drop"] == pytest.approx(
            (scores["original"].argmax(1) == labels).double().mean().item() - row["top1"])
        if test not in changed_by:
            assert row["prediction_changed"] == 0.0
