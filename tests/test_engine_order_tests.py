"""blvnet_edu/engine/order_tests.py: reversed clips and shuffled pairs, the paper's Figure 1 measured."""

import pytest
import torch
from conftest import random_video, randomize_
from torch.utils.data import DataLoader, TensorDataset

from blvnet_edu import build_model
from blvnet_edu.engine.order_tests import order_report, order_scores


@pytest.fixture(scope="module")
def loader():
    videos = random_video(6, 8, 48, seed=1)
    return DataLoader(TensorDataset(videos, torch.arange(6) % 3), batch_size=4)


@pytest.mark.parametrize(
    "name,changed_by",
    [
        ("tsn_resnet_tiny", set()),  # a bag of frames
        ("blvnet_tiny", {"reversed"}),  # a bag of pairs
        ("blvnet_tam_tiny", {"reversed", "shuffled_pairs", "halves_swapped"}),  # relates distant pairs
    ],
)
def test_order_tests_tell_the_three_networks_of_figure_1_apart(name, changed_by, loader):
    model = randomize_(build_model(name, num_classes=3), seed=2)
    with torch.no_grad():  # logits of a few units: a softmax that is not saturated
        model.fc.weight.mul_(3.0 / model.eval()(next(iter(loader))[0]).abs().max())
    scores, labels = order_scores(model, loader, torch.device("cpu"))
    tests = {"reversed", "shuffled_pairs", "halves_swapped"}
    assert set(scores) == {"original", *tests} and labels.tolist() == [0, 1, 2, 0, 1, 2]
    for test in tests:
        difference = (scores[test] - scores["original"]).abs().max()
        if test in changed_by:
            assert difference > 1e-4, test
        else:
            assert difference < 1e-5, test
    report = order_report(scores, labels)
    assert set(report) == tests
    for test, row in report.items():
        assert row["top1_drop"] == pytest.approx(
            (scores["original"].argmax(1) == labels).double().mean().item() - row["top1"]
        )
        if test not in changed_by:
            assert row["prediction_changed"] == 0.0
