"""The course's "your turn" exercises as the tests see them: read from the notebooks' sources,
with typical wrong answers that each check must reject with its own hint.

Shared by `test_course_checks.py` (each check against the hidden solution and the mistakes,
in seconds) and `test_notebooks.py` (the notebooks run with the solutions, then the
mistakes).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from blvnet_edu.models.temporal import fold_time, unfold_time

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
STUB = 'raise NotImplementedError("your turn")'
CHECK_CELL = r'import checks\ncheck\("Your turn (\d)", checks\.(\w+)\((\w+)\)\)'  # the whole check cell


def your_turns(nb) -> list[dict]:
    """Each "your turn" exercise: its stub cell, its check cell, the solution's code, the function."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or STUB not in cell.source:
            continue
        name = re.search(r"^def (\w+)\(", cell.source, re.M)[1]
        check = next(j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code")
        solution = next(
            c.source for c in nb.cells[check + 1 :] if c.cell_type == "markdown" and "```python" in c.source
        )
        code = re.search(r"```python\n(.*?)```", solution, re.S)[1]
        found.append({"stub": i, "check": check, "solution": code, "name": name})
    return found


def notebook_namespace() -> dict:
    """What a check cell's function may use from its notebook: the imports the solutions rely on."""
    return {
        "torch": torch,
        "F": F,
        "np": np,
        "math": math,
        "fold_time": fold_time,
        "unfold_time": unfold_time,
    }


def _tam(conv):
    """A `tam_conv1d` built like the solution, with `conv` (a line of code) for the solution's conv1d line."""
    return (
        "def tam_conv1d(x, weight, num_frames):\n"
        "    k2, c = weight.shape\n"
        "    h, w = x.shape[-2:]\n"
        "    s = unfold_time(x, num_frames).permute(0, 3, 4, 2, 1).reshape(-1, c, num_frames)\n"
        f"    {conv}\n"
        "    return fold_time(F.relu(o.view(-1, h, w, c, num_frames).permute(0, 4, 3, 1, 2)))"
    )


_TAM_CONV = "o = F.conv1d(s, weight.t().unsqueeze(1), padding=k2 // 2, groups=c)"

# For every "your turn" function: typical wrong answers, each with a regex of the hint its check
# must give (the first is the one the notebook test also runs). An exercise's regexes differ, and
# each mistake's message matches only its own.
MISTAKES: dict[str, list[tuple[str, str]]] = {
    "fold_frames": [
        (
            "def fold_frames(video):\n    return video.transpose(0, 1).reshape(-1, *video.shape[2:])",
            "time-major",
        ),
        ("def fold_frames(video):\n    return video.flatten(1, 2)", "merged time with the channels"),
    ],
    "consensus": [
        (
            "def consensus(s, t):\n    return s.view(t, -1, s.shape[-1]).mean(0)",
            "clips are averaged together",
        ),
        ("def consensus(s, t):\n    return s.view(-1, t, s.shape[-1]).sum(1)", "T times too large"),
        ("def consensus(s, t):\n    return s.view(t, -1, s.shape[-1]).sum(0)", "clips are added up"),
        ("def consensus(s, t):\n    return s.view(-1, t, s.shape[-1]).mean(0)", "averaged over the clips"),
        ("def consensus(s, t):\n    return s.view(-1, t, s.shape[-1]).mean(2)", "averaged over the classes"),
    ],
    "to_model_input": [
        (
            "def to_model_input(frames):\n"
            "    from blvnet_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD\n"
            "    m = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)\n"
            "    s = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)\n"
            "    return (frames.float() - m) / s",
            "255 times",
        ),
        ("def to_model_input(frames):\n    return frames.float() / 255", r"In \[0, 1\] only"),
        (
            "def to_model_input(frames):\n"
            "    m = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)\n"
            "    return frames.float() / 255 - m",
            "Centred but not scaled",
        ),
        (
            "def to_model_input(frames):\n"
            "    m = torch.tensor([0.406, 0.456, 0.485]).view(1, 3, 1, 1)\n"
            "    s = torch.tensor([0.225, 0.224, 0.229]).view(1, 3, 1, 1)\n"
            "    return (frames.float() / 255 - m) / s",
            "wrong order",
        ),
        (
            "def to_model_input(frames):\n"
            "    m = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)\n"
            "    s = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)\n"
            "    return (frames.double() / 255 - m) / s",
            "float32",
        ),
    ],
    "centre_crop": [
        (
            "def centre_crop(frames, size):\n    h, w = frames.shape[-2:]\n"
            "    t, l = (h - size) // 2, (w - size) // 2\n    return frames[..., t:t + size, l:l + size]",
            "integer division",
        ),
        (
            "def centre_crop(frames, size):\n    h, w = frames.shape[-2:]\n"
            "    t, l = math.ceil((h - size) / 2), math.ceil((w - size) / 2)\n"
            "    return frames[..., t:t + size, l:l + size]",
            "every half pixel up",
        ),
        (
            "def centre_crop(frames, size):\n    h, w = frames.shape[-2:]\n"
            "    t, l = round((w - size) / 2), round((h - size) / 2)\n"
            "    return frames[..., t:t + size, l:l + size]",
            "swapped",
        ),
        ("def centre_crop(frames, size):\n    return frames[..., :size, :size]", "top-left corner"),
    ],
    "tam_conv1d": [
        (_tam(_TAM_CONV.replace("weight.t()", "weight.flip(0).t()")), "reads the past"),
        (_tam(_TAM_CONV).replace("fold_time(F.relu(o", "fold_time((o"), "Negative values"),
        (
            _tam(_TAM_CONV)
            .replace("unfold_time(x,", "unfold_time(F.relu(x),")
            .replace("fold_time(F.relu(o", "fold_time((o"),
            "after the weighted sum",
        ),
        (
            _tam(
                "o = F.conv1d(F.pad(s, (k2 // 2,) * 2, mode='replicate'), weight.t().unsqueeze(1), groups=c)"
            ),
            "first and last k frames",
        ),
        (
            _tam(_TAM_CONV).replace(
                "unfold_time(x, num_frames)", "x.view(num_frames, -1, *x.shape[1:]).transpose(0, 1)"
            ),
            "different clips are mixed",
        ),
        (_tam(_TAM_CONV.replace("weight.t().unsqueeze(1)", "weight.reshape(c, 1, k2)")), "memory order"),
        (_tam(_TAM_CONV).replace("permute(0, 4, 3, 1, 2)", "permute(0, 4, 3, 2, 1)"), "wrong places"),
    ],
    "reversed_weights": [
        ("def reversed_weights(weight):\n    return weight", "The same weights"),
        ("def reversed_weights(weight):\n    return weight.flip(1)", "reversed the channels"),
        ("def reversed_weights(weight):\n    return -weight", "Negated"),
        ("def reversed_weights(weight):\n    return weight.t()", "layout"),
    ],
    "split_pairs": [
        ("def split_pairs(frames):\n    return frames[0::2], frames[1::2]", "swapped"),
        ("def split_pairs(frames):\n    n = len(frames) // 2\n    return frames[n:], frames[:n]", "halves"),
        ("def split_pairs(frames):\n    return frames[1::2]", "two tensors"),
    ],
    "copy_back": [
        ("def copy_back(fused):\n    return fused.repeat(2, 1, 1, 1)", "tiled the whole batch"),
        ("def copy_back(fused):\n    return fused.repeat_interleave(2)", "Flattened"),
        ("def copy_back(fused):\n    return torch.cat([fused, fused], 1)", "along the channels"),
    ],
    "conv_macs": [
        (
            "def conv_macs(conv, h, w):\n    kh, kw = conv.kernel_size\n"
            "    oh = (h + 2 * conv.padding[0] - kh) // conv.stride[0] + 1\n"
            "    ow = (w + 2 * conv.padding[1] - kw) // conv.stride[1] + 1\n"
            "    return oh * ow * conv.out_channels * conv.in_channels * kh * kw",
            "grouped",
        ),
        (
            "def conv_macs(conv, h, w):\n    kh, kw = conv.kernel_size\n"
            "    oh = (h + 2 * conv.padding[0] - kh) + 1\n    ow = (w + 2 * conv.padding[1] - kw) + 1\n"
            "    return oh * ow * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw",
            "strided",
        ),
        (
            "def conv_macs(conv, h, w):\n    kh, kw = conv.kernel_size\n"
            "    oh = (h - kh) // conv.stride[0] + 1\n    ow = (w - kw) // conv.stride[1] + 1\n"
            "    return oh * ow * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw",
            "padding adds",
        ),
        (
            "def conv_macs(conv, h, w):\n    kh, kw = conv.kernel_size\n"
            "    oh = (h + 2 * conv.padding[0] - kh) // conv.stride[0] + 1\n"
            "    ow = (w + 2 * conv.padding[1] - kw) // conv.stride[1] + 1\n"
            "    return 2 * oh * ow * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw",
            "Twice",
        ),
        (
            "def conv_macs(conv, h, w):\n    kh, kw = conv.kernel_size\n"
            "    oh = (h + 2 * conv.padding[0] - kh) / conv.stride[0] + 1\n"
            "    ow = (w + 2 * conv.padding[1] - kw) / conv.stride[1] + 1\n"
            "    return oh * ow * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw",
            r"Output positions x output channels",
        ),
    ],
    "clip_scores": [
        ("def clip_scores(s, t):\n    return s.view(-1, t, s.shape[-1]).mean(1)", "Two clips merged"),
        (
            "def clip_scores(s, t):\n    return s.view(t // 2, -1, s.shape[-1]).mean(0)",
            "different clips averaged",
        ),
        ("def clip_scores(s, t):\n    return s.view(-1, t // 2, s.shape[-1]).sum(1)", "T/2 times too large"),
    ],
    "clip_name": [
        ("def clip_name(i, a, b):\n    return f'{i}_{a}_{b}'", "leading zeros"),
        ("def clip_name(i, a, b):\n    return f'{i}_{a:06d}_{b:06d}.mp4'", "extension"),
        ("def clip_name(i, a, b):\n    return f'{i}-{a:06d}-{b:06d}'", "underscores"),
        ("def clip_name(i, a, b):\n    return f'{i}_{a:6d}_{b:6d}'", "spaces"),
    ],
    "kinetics_classes": [
        ("def kinetics_classes(labels):\n    return list(dict.fromkeys(labels))", "first appearance"),
        ("def kinetics_classes(labels):\n    return sorted(labels)", "more than once"),
        ("def kinetics_classes(labels):\n    return sorted(set(labels), reverse=True)", "Reverse order"),
        ("def kinetics_classes(labels):\n    return set(labels)", "A set has no order"),
    ],
    "lr_factor": [
        (
            "def lr_factor(step, total, warmup):\n    return 0.5 * (1 + math.cos(math.pi * step / total))",
            "No warm-up",
        ),
        (
            "def lr_factor(step, total, warmup):\n    if step < warmup:\n        return (step + 1) / warmup\n"
            "    return 0.5 * (1 + math.cos(math.pi * step / total))",
            "does not start where the warm-up ends",
        ),
        (
            "def lr_factor(step, total, warmup):\n    if step < warmup:\n        return step / warmup\n"
            "    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))",
            "a step late",
        ),
        (
            "def lr_factor(step, total, warmup):\n    if step < warmup:\n        return (step + 1) / warmup\n"
            "    return 1 - (step - warmup) / (total - warmup)",
            "straight line",
        ),
        (
            "def lr_factor(step, total, warmup):\n    w = min(1.0, (step + 1) / warmup)\n"
            "    return w * 0.5 * (1 + math.cos(math.pi * max(0, step - warmup) / (total - warmup)))",
            "Division by zero",
        ),
    ],
    "decay_groups": [
        (
            "def decay_groups(model, wd):\n"
            "    return [{'params': list(model.parameters()), 'weight_decay': wd}]",
            "Biases and BatchNorm parameters are decayed",
        ),
        (
            "def decay_groups(model, wd):\n"
            "    named = list(model.named_parameters())\n"
            "    return [{'params': [p for n, p in named if not n.endswith('bias')], 'weight_decay': wd},\n"
            "            {'params': [p for n, p in named if n.endswith('bias')], 'weight_decay': 0.0}]",
            "BatchNorm's scales",
        ),
        (
            "def decay_groups(model, wd):\n"
            "    ps = list(model.parameters())\n"
            "    return [{'params': [p for p in ps if p.ndim > 2], 'weight_decay': wd},\n"
            "            {'params': [p for p in ps if p.ndim <= 2], 'weight_decay': 0.0}]",
            "2-D weights",
        ),
        (
            "def decay_groups(model, wd):\n"
            "    ps = list(model.parameters())\n"
            "    return [{'params': [p for p in ps if p.ndim >= 2], 'weight_decay': 1e-4},\n"
            "            {'params': [p for p in ps if p.ndim < 2], 'weight_decay': 0.0}]",
            "rate passed in",
        ),
        (
            "def decay_groups(model, wd):\n"
            "    ps = list(model.parameters())\n"
            "    return [{'params': [p for p in ps if p.ndim < 2], 'weight_decay': wd},\n"
            "            {'params': [p for p in ps if p.ndim >= 2], 'weight_decay': 0.0}]",
            "swapped",
        ),
        (
            "def decay_groups(model, wd):\n"
            "    ps = list(model.parameters())\n"
            "    return [{'params': [p for p in ps if p.ndim >= 2], 'weight_decay': wd},\n"
            "            {'params': [p for p in ps if p.ndim >= 2]}]",
            "its own weight_decay",
        ),
    ],
    "saliency_map": [
        (
            "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
            "    model(video)[0, target].backward()\n    m = video.grad[0].sum(1).abs()\n"
            "    return m / m.max()",
            "before their absolute value",
        ),
        (
            "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
            "    model(video)[0, target].backward()\n    m = video.grad[0].abs().amax(1)\n"
            "    return m / m.max()",
            "by their maximum",
        ),
        (
            "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
            "    model(video)[0, target].backward()\n    m = video.grad[0].abs().sum(1)\n"
            "    return m / m.amax((1, 2), keepdim=True)",
            "scaled on its own",
        ),
        (
            "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
            "    model(video)[0, target].backward()\n    return video.grad[0].abs().sum(1)",
            "Not scaled",
        ),
        (
            "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
            "    model(video).softmax(-1)[0, target].backward()\n    m = video.grad[0].abs().sum(1)\n"
            "    return m / m.max()",
            "gradient of the probability",
        ),
        (
            "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
            "    model(video)[0, target].backward()\n    m = video.grad[0].sum(1)\n"
            "    return m / m.abs().max()",
            "Negative values",
        ),
    ],
    "frame_importance": [
        (
            "def frame_importance(model, video, target):\n    p = model(video)[0, target]\n    out = []\n"
            "    for t in range(video.shape[1]):\n        v = video.clone()\n        v[:, t] = 0\n"
            "        out.append(p - model(v)[0, target])\n    return torch.stack(out)",
            "drop of the logit",
        ),
        (
            "def frame_importance(model, video, target):\n"
            "    from blvnet_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD\n"
            "    black = (-torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)).view(1, 3, 1, 1)\n"
            "    p = model(video).softmax(-1)[0, target]\n    out = []\n"
            "    for t in range(video.shape[1]):\n        v = video.clone()\n        v[:, t] = black\n"
            "        out.append(p - model(v).softmax(-1)[0, target])\n    return torch.stack(out)",
            "black pixels",
        ),
        (
            "def frame_importance(model, video, target):\n    p = model(video).softmax(-1)[0, target]\n"
            "    out = []\n    for t in range(video.shape[1]):\n        v = video.clone()\n"
            "        v[:, t] = video.mean(1)\n        out.append(p - model(v).softmax(-1)[0, target])\n"
            "    return torch.stack(out)",
            "this clip's average frame",
        ),
        (
            "def frame_importance(model, video, target):\n    p = model(video).softmax(-1)[0, target]\n"
            "    out = []\n    for t in range(video.shape[1]):\n        v = video.clone()\n"
            "        v[:, t] = 0\n        out.append(model(v).softmax(-1)[0, target] - p)\n"
            "    return torch.stack(out)",
            "sign is reversed",
        ),
        (
            "def frame_importance(model, video, target):\n    p = model(video).softmax(-1)[0, target]\n"
            "    return p - model(video).softmax(-1)[0, target]",
            r"One value per frame",
        ),
    ],
    "authors_indices": [
        (
            "def authors_indices(n):\n    return [x * n // 16 for x in range(16)]",
            "first frame of its segment",
        ),
        ("def authors_indices(n):\n    return [((2 * x + 1) * n) / 32 // 1 for x in range(16)]", "Floats"),
        (
            "def authors_indices(n):\n    return [round((2 * x + 1) * n / 32) for x in range(16)]",
            "nearest frame",
        ),
        ("def authors_indices(n):\n    return [-(-(2 * x + 1) * n // 32) for x in range(16)]", "Rounded up"),
        ("def authors_indices(n):\n    return [((2 * x + 1) * n) // 32 + 1 for x in range(16)]", "0-based"),
        (
            "def authors_indices(n):\n    t = n // 16\n    return [t // 2 + t * x for x in range(16)]",
            "divide last",
        ),
    ],
    "upright": [
        (
            "def upright(image, rotation):\n    return np.rot90(image, k=-round(rotation / 90) % 4)",
            "clockwise",
        ),
        ("def upright(image, rotation):\n    return image", "Not turned"),
        (
            "def upright(image, rotation):\n    return image.transpose(1, 0, 2) if rotation % 180 else image",
            "Mirrored",
        ),
        ("def upright(image, rotation):\n    return np.rot90(image, k=rotation)", "quarter turns"),
    ],
}
