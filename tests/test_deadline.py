"""`budget.Deadline.watching`: the request's deadline checked inside a forward pass (before each
residual block and bL stage), for the thread that asked only, and no hook left behind."""

import threading
import time

import pytest
import torch

from blvnet_edu import build_model
from blvnet_edu.budget import Deadline, RequestTimeout
from blvnet_edu.models.blnet import BLModule
from blvnet_edu.models.blocks import Bottleneck


def hooked(model: torch.nn.Module) -> list[str]:
    """The modules of `model` that still have forward pre-hooks."""
    return [name for name, m in model.named_modules() if m._forward_pre_hooks]


def test_a_deadline_stops_a_forward_pass_at_the_next_block():
    """The deadline passes while the third residual block is about to run (a hook moves the
    clock past it there): the pass stops at that block, not at its end, and the model is left
    without hooks. No timing: the same on any machine."""
    model = build_model("blvnet_tam_50", num_frames=16).eval()
    blocks = sum(isinstance(m, Bottleneck) for m in model.modules())
    assert blocks == 19 and any(isinstance(m, BLModule) for m in model.modules())
    deadline = Deadline(3600)
    ran = [0]

    def count(module, args):
        ran[0] += 1
        if ran[0] == 3:
            deadline.end = time.monotonic() - 1  # the deadline is past from here on

    counting = [m.register_forward_pre_hook(count) for m in model.modules() if isinstance(m, Bottleneck)]
    video = torch.randn(1, 16, 3, 64, 64)
    with pytest.raises(RequestTimeout, match="the prediction took longer than the limit of 3600 s"):
        with torch.inference_mode(), deadline.watching(model, what="the prediction"):
            model(video)
    for handle in counting:
        handle.remove()
    assert ran[0] == 3  # stopped at the block where the deadline passed: 16 of 19 never started
    assert hooked(model) == []


def test_a_deadline_does_not_stop_another_thread_on_the_same_model():
    """Two requests share one model: the one whose deadline has passed stops, the other one's
    passes (with no deadline, or its own later one) run to the end while the first one's hooks
    are on the model; once both are out, no hook is left."""
    model = build_model("blvnet_tam_tiny", num_frames=8).eval()
    video = torch.randn(1, 8, 3, 48, 48)
    inside, done = threading.Event(), threading.Event()
    outcome = {}

    def late_request():
        expired = Deadline(10.0)
        expired.end = 0.0  # already passed
        with expired.watching(model):
            inside.set()
            done.wait(30)  # the other request runs its passes meanwhile
            try:
                with torch.inference_mode():
                    model(video)
                outcome["late"] = "ran"
            except RequestTimeout:
                outcome["late"] = "stopped"

    def other_request():
        inside.wait(30)
        try:
            with torch.inference_mode():
                plain = model(video)  # no deadline of its own
                with Deadline(60.0).watching(model):
                    watched = model(video)
            outcome["other"] = torch.equal(plain, watched)
        except RequestTimeout:
            outcome["other"] = "stopped"
        finally:
            done.set()

    threads = [threading.Thread(target=late_request), threading.Thread(target=other_request)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcome == {"late": "stopped", "other": True}
    assert hooked(model) == []


def test_watching_several_models_and_leaving_on_an_error():
    models = [build_model(name, num_frames=8).eval() for name in ("tsn_resnet_tiny", "blvnet_tam_tiny")]
    deadline = Deadline(60.0)
    with pytest.raises(ValueError, match="inside"):
        with deadline.watching(*models, models[0]):  # the same model twice: hooked once
            assert all(hooked(m) for m in models)
            assert all(len(m._forward_pre_hooks) <= 1 for m in models[0].modules())
            raise ValueError("inside")
    assert [hooked(m) for m in models] == [[], []]
