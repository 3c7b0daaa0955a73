"""The tests behind the course's "your turn" check cells, kept out of the notebooks.

A check cell reads

    import checks
    check("Your turn 1", checks.fold_frames(fold_frames))

`checks.NAME(answer)` gives the test that `course.check` runs. The test builds inputs,
computes the expected result with the package (or a reference written here), and compares.
On a difference it raises an `AssertionError` whose first line is a hint and whose second
says where the answer first differs (`first_difference`: the element, what was expected and
what came, with their types where these differ). The hint names the mistake where the answer
equals a typical wrong variant of the reference, computed here (a flipped kernel, a sum
instead of a mean, ...); otherwise it recalls the idea the exercise is about. Hints point at
ideas, not at the code of the solution.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from course import DEMO, EXAMPLES

Mistake = tuple[str, Callable[[object], bool]]  # (hint, does the answer show this mistake?)


# --- comparing and diagnosing ------------------------------------------------------------


def first_difference(expected, got, *, atol: float = 1e-5) -> str | None:
    """None where `got` is `expected` (floats within `atol`, plus 1e-5 relative); otherwise
    where they first differ, e.g. "element [3]: expected 5 (int), got 5.0 (float)".

    Tensors and numpy arrays are compared element by element (shape first), lists and tuples
    item by item (an int is expected where the reference has ints), strings character by
    character, and numbers by value.
    """
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        return _array_difference(expected, got, atol)
    if isinstance(expected, str):
        return _string_difference(expected, got)
    if isinstance(expected, (list, tuple)):
        return _sequence_difference(expected, got, atol)
    return _scalar_difference(expected, got, atol)


def _array_difference(expected, got, atol: float) -> str | None:
    if not isinstance(got, (torch.Tensor, np.ndarray)):
        wanted = "tensor" if isinstance(expected, torch.Tensor) else "numpy array"
        return f"expected a {wanted}, got a {type(got).__name__}"
    e, g = _as_tensor(expected), _as_tensor(got)
    if e.shape != g.shape:
        return f"shape: expected {tuple(e.shape)}, got {tuple(g.shape)}"
    if e.is_floating_point() or g.is_floating_point():
        common = torch.promote_types(torch.promote_types(e.dtype, g.dtype), torch.float32)
        same = torch.isclose(g.to(common), e.to(common), rtol=1e-5, atol=atol)
    else:
        same = g == e
    wrong = (~same).nonzero()
    if not len(wrong):
        return None
    index = tuple(wrong[0].tolist())
    types = e.dtype != g.dtype
    expected_value = _show(e[index].item()) + (f" ({_dtype(expected)})" if types else "")
    got_value = _show(g[index].item()) + (f" ({_dtype(got)})" if types else "")
    where = f"element [{', '.join(map(str, index))}]" if index else "value"
    return (
        f"{where}: expected {expected_value}, got {got_value} ({len(wrong)} of {e.numel()} elements differ)"
    )


def _sequence_difference(expected, got, atol: float) -> str | None:
    if not isinstance(got, (list, tuple)):
        return f"expected a list, got a {type(got).__name__}"
    for i, (e, g) in enumerate(zip(expected, got)):
        difference = first_difference(e, g, atol=atol)
        if difference is not None:
            return f"element [{i}]: {difference}"
    if len(got) != len(expected):
        return f"length: expected {len(expected)} elements, got {len(got)}"
    return None


def _string_difference(expected: str, got) -> str | None:
    if not isinstance(got, str):
        return f"expected a str, got a {type(got).__name__} ({got!r})"
    if got == expected:
        return None
    i = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), min(len(expected), len(got)))
    at = f"{expected[i]!r}" if i < len(expected) else "the end"
    came = f"{got[i]!r}" if i < len(got) else "the end"
    return f"expected {expected!r}, got {got!r} (character {i}: expected {at}, got {came})"


def _scalar_difference(expected, got, atol: float) -> str | None:
    if isinstance(got, (torch.Tensor, np.ndarray)) and got.ndim == 0:
        got = got.item()
    expected_kind, got_kind = _kind(expected), _kind(got)
    if expected_kind == "int" and got_kind == "int" and expected == got:
        return None
    if expected_kind == "float" and got_kind in ("int", "float"):
        if math.isclose(got, expected, rel_tol=1e-5, abs_tol=atol):
            return None
    elif expected_kind not in ("int", "float") and expected == got:
        return None
    if expected_kind != got_kind:
        return (
            f"expected {_show(expected)} ({type(expected).__name__}), got {_show(got)} ({type(got).__name__})"
        )
    return f"expected {_show(expected)}, got {_show(got)}"


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    return value.detach().cpu()


def _dtype(value) -> str:
    return str(value.dtype).removeprefix("torch.")


def _kind(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return type(value).__name__


def _show(value) -> str:
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
        return text if any(c in text for c in ".einf") else text + ".0"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return repr(value)


def _like(make: Callable[[], object], atol: float = 1e-5) -> Callable[[object], bool]:
    """Does the answer equal what `make()` computes (a typical wrong variant of the reference)?"""
    return lambda got: first_difference(make(), got, atol=atol) is None


def _diagnose(got, mistakes: Sequence[Mistake]) -> str | None:
    """The hint of the first mistake the answer shows, if any."""
    for hint, shows in mistakes:
        try:
            if shows(got):
                return hint
        except Exception:  # a variant that cannot be compared with this answer: not this mistake
            continue
    return None


def _judge(expected, got, *, otherwise: str, mistakes: Sequence[Mistake] = (), where: str = "", atol=1e-5):
    """Pass where `got` is `expected`; else raise the hint of its mistake (or `otherwise`) and
    where it first differs."""
    difference = first_difference(expected, got, atol=atol)
    if difference is not None:
        _fail(_diagnose(got, mistakes) or otherwise, where + difference)


def _judge_cases(cases, *, otherwise: str, mistakes: Sequence[Mistake] = (), atol=1e-5, largest=False):
    """`_judge` for an exercise tried on several inputs: `cases` are `(where, expected, got)`, and
    a mistake's test gets the list of answers: a mistake is one the answer makes on every input.
    With `largest` (numbers), the case of the largest difference is named too: the first one
    may be tiny where a later one is large."""
    answers = [got for _, _, got in cases]
    for where, expected, got in cases:
        difference = first_difference(expected, got, atol=atol)
        if difference is not None:
            if largest:
                gaps = [
                    (abs(float(g) - float(e)), w, e, g)
                    for w, e, g in cases
                    if isinstance(g, (int, float, np.number)) and not isinstance(g, bool)
                ]
                if gaps:
                    _, w, e, g = max(gaps, key=lambda item: item[0])
                    difference += f"; the largest difference at {w.rstrip(': ')}: expected {_show(e)}, got {_show(g)}"
            _fail(_diagnose(answers, mistakes) or otherwise, where + difference)


def _on_every(answers, wrong: Callable[[int], object], atol=1e-5) -> bool:
    """Does each answer equal the wrong variant `wrong(i)` of its input `i`?"""
    return all(first_difference(wrong(i), got, atol=atol) is None for i, got in enumerate(answers))


def _fail(hint: str, difference: str):
    raise AssertionError(f"{hint}\n  {difference}")


def _exercise(test: Callable) -> Callable:
    """`checks.NAME(answer)` -> the test of `answer` that `course.check` runs (no arguments)."""

    @functools.wraps(test)
    def bind(answer):
        def run():
            with torch.random.fork_rng(devices=[]):  # the notebook's random state stays as it was
                torch.manual_seed(0)  # the same inputs every time
                test(answer)

        return run

    return bind


def _fold(video: torch.Tensor) -> torch.Tensor:
    return video.flatten(0, 1)  # the package's fold_time: (B, T, ...) -> (B*T, ...), clip-major


def _unfold(frames: torch.Tensor, num_frames: int) -> torch.Tensor:
    return frames.unflatten(0, (-1, num_frames))


# --- notebook 1 ---------------------------------------------------------------------------


@_exercise
def fold_frames(answer):
    """(B, T, C, H, W) -> (B*T, C, H, W), frame t of clip b at row b*T + t."""
    from blvnet_edu.models import fold_time

    video = torch.randn(3, 4, 2, 5, 5)
    got = answer(video.clone())
    _judge(
        fold_time(video),
        got,
        mistakes=[
            (
                "Right shape, wrong order: your rows go time-major, frame t of every clip together. "
                "Row b*T + t must hold frame t of clip b, so that each clip's frames stay together.",
                _like(lambda: video.transpose(0, 1).reshape(12, 2, 5, 5)),
            ),
            (
                "You merged time with the channels: fold the first two dimensions (clips and "
                "frames) into one, and keep (C, H, W) as they are.",
                lambda got: tuple(got.shape) in ((3, 8, 5, 5), (12 * 2, 5, 5)),
            ),
        ],
        otherwise="Not the folded clips: row b*T + t must hold frame t of clip b, with (C, H, W) unchanged.",
    )


@_exercise
def consensus(answer):
    """(B*T, K) -> (B, K): the mean over each clip's frames."""
    b, t, k = 3, 4, 5
    scores = torch.randn(b * t, k)
    got = answer(scores.clone(), t)
    mixed = "Rows of different clips are averaged together: clip b's frames are the T rows from b*T on."
    _judge(
        _unfold(scores, t).mean(1),
        got,
        mistakes=[
            (
                "Each clip's score is T times too large: the consensus averages its frames' scores.",
                _like(lambda: _unfold(scores, t).sum(1)),
            ),
            (mixed, _like(lambda: scores.view(t, -1, k).mean(0))),
            (
                mixed.replace("averaged", "added up") + " And the consensus is an average, not a sum.",
                _like(lambda: scores.view(t, -1, k).sum(0)),
            ),
            (
                "One row per frame position: you averaged over the clips. Average over each clip's frames.",
                _like(lambda: _unfold(scores, t).mean(0)),
            ),
            (
                "One value per frame: you averaged over the classes. Every class keeps its own score.",
                lambda got: tuple(got.shape) in ((b, t), (b * t,)),
            ),
            (
                "One row for the whole batch: each clip gets its own average.",
                lambda got: tuple(got.shape) in ((k,), (1, k)),
            ),
        ],
        otherwise="Not each clip's plain mean of its frames' scores: check the reduction (a mean of the raw "
        "scores, nothing before it) and the grouping (clip b's frames are rows b*T ... b*T + T-1).",
    )


# --- notebook 2 ---------------------------------------------------------------------------


@_exercise
def to_model_input(answer):
    """uint8 (T, 3, H, W) -> float32 (T, 3, H, W), (x / 255 - mean) / std per channel."""
    from blvnet_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize

    frames = torch.randint(0, 256, (2, 3, 6, 7), dtype=torch.uint8)
    got = answer(frames.clone())
    if isinstance(got, torch.Tensor) and got.dtype != torch.float32:
        _fail(
            "The networks' weights are float32, and so must be their input.",
            f"dtype: expected float32, got {_dtype(got)}",
        )
    x = frames.float()
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    _judge(
        normalize(frames),
        got,
        mistakes=[
            (
                "About 255 times too far from 0: ImageNet's mean and std are for pixel values in [0, 1], "
                "not [0, 255].",
                _like(lambda: (x - mean) / std, atol=1e-3),
            ),
            (
                "Scaled to [0, 1] after normalising: the statistics are those of pixels already in [0, 1].",
                _like(lambda: (x - mean) / std / 255),
            ),
            ("In [0, 1] only: each channel's mean and std are still to be used.", _like(lambda: x / 255)),
            (
                "Centred but not scaled: each channel is also divided by its standard deviation.",
                _like(lambda: x / 255 - mean),
            ),
            (
                "The channels' statistics are in the wrong order: the frames are RGB, and so are "
                "IMAGENET_MEAN and IMAGENET_STD.",
                _like(lambda: (x / 255 - mean.flip(1)) / std.flip(1)),
            ),
        ],
        otherwise="Not the normalised input: (x / 255 - mean) / std, with each channel's own mean and std.",
    )


@_exercise
def centre_crop(answer):
    """(T, 3, H, W) -> (T, 3, size, size) from the centre, odd margins split as torchvision does."""
    from blvnet_edu.data.transforms import center_crop

    frames = torch.arange(2 * 3 * 7 * 10).view(2, 3, 7, 10)
    h, w = frames.shape[-2:]

    sizes = (4, 5, 7)
    cases = [(f"size {size}: ", center_crop(frames, size), answer(frames.clone(), size)) for size in sizes]

    def like(top, left):  # a wrong variant, from the margins (h - size, w - size) to the crop's corner
        return lambda answers: _on_every(
            answers,
            lambda i: frames[..., top(h - sizes[i]) :, left(w - sizes[i]) :][..., : sizes[i], : sizes[i]],
        )

    def half(margin):
        return round(margin / 2)

    _judge_cases(
        cases,
        mistakes=[
            (
                "A pixel off where the margin is odd: integer division always drops the half "
                "pixel; the exercise says which rounding decides it.",
                like(lambda m: m // 2, lambda m: m // 2),
            ),
            (
                "A pixel off where the margin is odd: rounding every half pixel up is not "
                "Python's rounding (look at round(2.5)).",
                like(lambda m: math.ceil(m / 2), lambda m: math.ceil(m / 2)),
            ),
            (
                "The margins of height and width are swapped: the top one comes from H, the left from W.",
                lambda answers: _on_every(
                    answers,
                    lambda i: frames[..., half(w - sizes[i]) :, half(h - sizes[i]) :][
                        ..., : sizes[i], : sizes[i]
                    ],
                ),
            ),
            ("The crop starts at the top-left corner: centre it.", like(lambda m: 0, lambda m: 0)),
        ],
        otherwise="Not the centre crop: top and left margins are half of what is left over, rounded.",
    )


# --- notebook 3 ---------------------------------------------------------------------------


def _tam(x, weight, num_frames, *, relu=True):
    """TAM written here, for wrong variants: y_t = ReLU(sum_o w_o * x_{t+o}), zero padding."""
    k, channels = weight.shape[0] // 2, weight.shape[1]
    clips = F.pad(_unfold(x, num_frames), (0, 0, 0, 0, 0, 0, k, k))  # (B, T + 2k, C, H, W)
    out = sum(weight[i].view(1, 1, channels, 1, 1) * clips[:, i : i + num_frames] for i in range(2 * k + 1))
    return _fold(F.relu(out) if relu else out)


@_exercise
def tam_conv1d(answer):
    """TAM of folded frames (B*T, C, H, W) with weights (2k+1, C), row i = offset i - k."""
    from blvnet_edu.models import TAM

    b, frames, channels = 2, 6, 4
    x, weight = torch.randn(b * frames, channels, 3, 2), torch.randn(5, channels)
    k = weight.shape[0] // 2
    tam = TAM(channels, blending_frames=5)
    with torch.no_grad():
        tam.weight.copy_(weight)
        expected = tam(x, frames)
    got = answer(x.clone(), weight.clone(), frames)

    def read_time_major(y):  # row t*B + b taken for frame t of clip b: to clip-major rows
        return y.view(frames, b, *y.shape[1:]).transpose(0, 1).reshape(y.shape)

    def write_time_major(y):  # the inverse: clip-major rows to rows t*B + b
        return y.view(b, frames, *y.shape[1:]).transpose(0, 1).reshape(y.shape)

    def inner(y):  # the frames at least k away from both ends of their clip
        return _unfold(y, frames)[:, k : frames - k]

    def right_in_the_middle(got):
        return first_difference(inner(expected), inner(got)) is None

    def clips_mixed(got):
        mixed = _tam(read_time_major(x), weight, frames)
        return any(first_difference(v, got) is None for v in (write_time_major(mixed), mixed))

    def same_numbers(got):
        return first_difference(expected.flatten().sort().values, got.flatten().sort().values) is None

    _judge(
        expected,
        got,
        mistakes=[
            (
                "Your TAM reads the past where it should read the future (offset -o instead of +o): "
                "conv1d is a cross-correlation and does not flip its kernel, so tap i already "
                "multiplies input t + i - k.",
                _like(lambda: _tam(x, weight.flip(0), frames)),
            ),
            (
                "Negative values where TAM has zeros: the weighted sum over the neighbours is "
                "followed by TAM's nonlinearity.",
                _like(lambda: _tam(x, weight, frames, relu=False)),
            ),
            (
                "The nonlinearity comes after the weighted sum of the neighbours, not before it.",
                _like(lambda: _tam(F.relu(x), weight, frames, relu=False)),
            ),
            (
                "Right in the middle of each clip, wrong at its first and last k frames: what does "
                "TAM see beyond the ends of a clip? (Its padding in time.)",
                right_in_the_middle,
            ),
            (
                "Frames of different clips are mixed: the folded rows are clip-major (row b*T + t "
                "is frame t of clip b), so a clip's frames are consecutive rows.",
                clips_mixed,
            ),
            (
                "Each channel's filter holds weights of other channels: reshaping (2k+1, C) into "
                "(C, 1, 2k+1) regroups the numbers in memory order, it does not swap the axes.",
                _like(lambda: _tam(x, weight.reshape(channels, -1).t(), frames)),
            ),
            (
                "The right numbers in the wrong places: check the permutation back from conv1d's "
                "(N, C, T) to the folded frames (B*T, C, H, W), and which dimension is which.",
                same_numbers,
            ),
        ],
        otherwise="Not TAM: y_t = ReLU(sum over o of w_o * x_(t+o)) in each clip, per channel, with "
        "zeros beyond the ends of the clip.",
    )


@_exercise
def reversed_weights(answer):
    """(2k+1, C) -> w' with TAM(reverse(x), w') = reverse(TAM(x, w))."""
    from blvnet_edu.models import TAM

    frames, channels = 6, 4
    x, weight = torch.randn(2 * frames, channels, 3, 2), torch.randn(3, channels)

    def reverse(y):
        return _fold(_unfold(y, frames).flip(1))

    def run(w, clip):
        tam = TAM(channels, blending_frames=w.shape[0])
        with torch.no_grad():
            tam.weight.copy_(w)
            return tam(clip, frames)

    got = answer(weight.clone())
    if not isinstance(got, torch.Tensor) or got.shape != weight.shape:
        _fail(
            "The new weights have TAM's layout, (2k+1, C): one row per offset, one column per channel.",
            first_difference(weight, got) or "",
        )
    _judge(
        reverse(run(weight, x)),
        run(got, reverse(x)),
        where="TAM(reverse(x), w') against reverse(TAM(x, w)), ",
        mistakes=[
            (
                "The same weights: played backwards, a frame's past neighbours become its future "
                "ones. Where does the weight of offset o have to go?",
                lambda _: torch.equal(got, weight),
            ),
            (
                "You reversed the channels: a reversal acts on time, and each channel keeps its own filter.",
                lambda _: torch.equal(got, weight.flip(1)),
            ),
            (
                "Negated: a reversal moves a weight to another offset, it does not change its sign.",
                lambda _: torch.equal(got, -weight),
            ),
        ],
        otherwise="These weights do not undo the reversal: what does reversing the clip do to offset o?",
    )


# --- notebook 4 ---------------------------------------------------------------------------


@_exercise
def split_pairs(answer):
    """(B*T, C, H, W) -> (big input, little input): big the second frame of each pair."""
    from blvnet_edu.models.temporal import PAIRS

    frames = torch.arange(2 * 8).float().view(16, 1, 1, 1)  # 2 clips of 8 frames, numbered
    got = answer(frames.clone())
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        _fail("Return two tensors: (big input, little input).", f"got a {type(got).__name__}")
    halves = [(frames[8:], frames[:8]), (frames[:8], frames[8:])]
    per_clip = frames.view(2, 2, 4, 1, 1, 1)  # clip, half, frame
    halves += [(per_clip[:, 1].flatten(0, 1), per_clip[:, 0].flatten(0, 1))]
    halves += [(per_clip[:, 0].flatten(0, 1), per_clip[:, 1].flatten(0, 1))]
    mistakes = [
        (
            "Big and little are swapped: which frame of each pair does the big branch see?",
            lambda _: torch.equal(got[0], frames[0::2]) and torch.equal(got[1], frames[1::2]),
        ),
        (
            "You split into halves: a pair is two neighbouring frames (0 and 1, 2 and 3, ...), "
            "and each branch gets one frame of every pair.",
            lambda _: any(torch.equal(got[0], h[0]) and torch.equal(got[1], h[1]) for h in halves),
        ),
    ]
    expected = PAIRS.split(frames)
    other = "Each branch gets one frame of every pair (the frames are numbered: look at which came)."
    for name, e, g in zip(("big", "little"), expected, got):
        _judge(e, g, where=f"{name} input, ", mistakes=mistakes, otherwise=other)


@_exercise
def copy_back(answer):
    """(B*T/2, C, H, W) -> (B*T, C, H, W): each fused map on both frames of its pair."""
    from blvnet_edu.models.temporal import PAIRS

    fused = torch.arange(8).float().view(8, 1, 1, 1)  # 8 pairs, numbered
    got = answer(fused.clone())
    _judge(
        PAIRS.merge(fused),
        got,
        mistakes=[
            (
                "You tiled the whole batch (f0 f1 ... f0 f1 ...): each pair's map goes on two "
                "neighbouring rows, the frames of that pair.",
                _like(lambda: torch.cat([fused, fused])),
            ),
            (
                "Flattened to one dimension: copy along the batch dimension only, (C, H, W) stay.",
                lambda got: got.ndim == 1 and got.numel() == 2 * fused.numel(),
            ),
            (
                "Copied along the channels: the copies are new rows of the batch, one per frame.",
                lambda got: tuple(got.shape) == (8, 2, 1, 1),
            ),
            ("One row per pair: each pair has two frames to receive its map.", _like(lambda: fused)),
        ],
        otherwise="Not f0 f0 f1 f1 ...: each fused map copied to both frames of its pair.",
    )


# --- notebook 5 ---------------------------------------------------------------------------


def _macs(conv, h, w, *, groups=True, stride=True, padding=True, per_position=1):
    kh, kw = conv.kernel_size
    sh, sw = conv.stride if stride else (1, 1)
    ph, pw = conv.padding if padding else (0, 0)
    out = ((h + 2 * ph - kh) // sh + 1) * ((w + 2 * pw - kw) // sw + 1)
    inputs = conv.in_channels // (conv.groups if groups else 1)
    return out * conv.out_channels * inputs * kh * kw * per_position


@_exercise
def conv_macs(answer):
    """Multiply-adds of an nn.Conv2d (no dilation) on a (1, C_in, h, w) input."""
    from torch.utils.flop_counter import FlopCounterMode

    h, w = 56, 40
    convs = [
        torch.nn.Conv2d(3, 64, 7, stride=2, padding=3),
        torch.nn.Conv2d(64, 64, 3, padding=1),
        torch.nn.Conv2d(64, 256, 1),
        torch.nn.Conv2d(128, 128, 3, stride=2, padding=1),
        torch.nn.Conv2d(32, 32, 3, groups=32),
    ]
    expected = []
    for conv in convs:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            conv(torch.zeros(1, conv.in_channels, h, w))
        expected.append(counter.get_total_flops() // 2)  # the counter counts a multiply-add as 2 FLOPs
    got = [answer(conv, h, w) for conv in convs]

    def like(**wrong):
        return lambda answers: _on_every(answers, lambda i: _macs(convs[i], h, w, **wrong))

    def input_positions(i):
        c = convs[i]
        return h * w * c.out_channels * c.in_channels // c.groups * c.kernel_size[0] * c.kernel_size[1]

    _judge_cases(
        [(f"{c} on 1 x {c.in_channels} x {h} x {w}: ", e, g) for c, e, g in zip(convs, expected, got)],
        mistakes=[
            (
                "Too many for the grouped (depthwise) convolution: with groups, each output sees only "
                "its own group's input channels.",
                like(groups=False),
            ),
            ("Twice the count: a multiply-add counts once here, not as two FLOPs.", like(per_position=2)),
            ("Too many for the strided convolutions: a stride skips output positions.", like(stride=False)),
            ("Too few where there is padding: padding adds output positions.", like(padding=False)),
            (
                "You counted the input's positions: the output's size depends on kernel, stride and padding.",
                lambda answers: _on_every(answers, input_positions),
            ),
        ],
        otherwise="Output positions x output channels x (input channels per group x kernel area).",
    )


@functools.cache
def _demo():
    """The demo bLVNet-TAM and the normalised moving-left clip `(1, T, 3, H, W)`."""
    from blvnet_edu.clips import load_clip
    from blvnet_edu.inference import load_predictor

    predictor = load_predictor(DEMO / "blvnet_tam_tiny.pt")
    clip = load_clip(EXAMPLES / "moving_left.mp4", 8, predictor.size, predictor.resize)
    return predictor.model, clip.input


@functools.cache
def _pair_scores():
    """Stage 4's class scores `(B*T/2, K)` of 4 random clips of 8 frames, and the model's output `(B, K)`,
    with the demo bLVNet-TAM (trained: its scores differ from clip to clip, unlike a fresh model's)."""
    model, clip = _demo()
    with torch.no_grad():
        video = torch.randn(4, *clip.shape[1:], generator=torch.Generator().manual_seed(0))
        features = model.forward_features(video)  # (B, T/2, C): one row per pair after stage 4
        return model.fc(features.flatten(0, 1)), model(video)  # (B*T/2, K) clip-major, (B, K)


@_exercise
def clip_scores(answer):
    """(B*T/2, K) scores of stage 4's frames -> (B, K) per clip, for clips of `num_frames` frames."""
    pair_scores, expected = _pair_scores()
    t, k = 8, pair_scores.shape[-1]
    got = answer(pair_scores.clone(), t)
    _judge(
        expected,
        got,
        mistakes=[
            (
                "Two clips merged into one: after stage 3 each clip has one row per pair of frames, "
                "not one per frame.",
                lambda got: tuple(got.shape) == (2, k),
            ),
            (
                "Rows of different clips averaged together: a clip's rows are consecutive (clip-major).",
                _like(lambda: pair_scores.view(t // 2, -1, k).mean(0)),
            ),
            (
                "Each clip's score is T/2 times too large: a clip's score is the average of its rows.",
                _like(lambda: pair_scores.view(-1, t // 2, k).sum(1)),
            ),
        ],
        otherwise="Not the model's output: the average of each clip's rows, which come together.",
    )


# --- notebook 6 ---------------------------------------------------------------------------


@_exercise
def clip_name(answer):
    """The file name (no extension) of a Kinetics clip in the official layout."""
    from blvnet_edu.data.kinetics import KineticsRow, clip_stem

    rows = (
        KineticsRow("abseiling", "abc", 12, 22, "train"),
        KineticsRow("x", "-_0Aa9", 0, 10, "val"),
        KineticsRow("y", "q", 123456, 123466, "train"),
    )

    cases = [
        (
            f"{r.youtube_id!r}, {r.time_start}, {r.time_end}: ",
            clip_stem(r),
            answer(r.youtube_id, r.time_start, r.time_end),
        )
        for r in rows
    ]

    def like(name):  # a wrong variant, from (youtube_id, time_start, time_end)
        return lambda answers: _on_every(
            answers, lambda i: name(rows[i].youtube_id, rows[i].time_start, rows[i].time_end)
        )

    _judge_cases(
        cases,
        mistakes=[
            (
                "The seconds need six digits each, filled with leading zeros.",
                like(lambda i, a, b: f"{i}_{a}_{b}"),
            ),
            (
                "Padded with spaces: the file names fill with zeros.",
                like(lambda i, a, b: f"{i}_{a:6d}_{b:6d}"),
            ),
            (
                "The name comes without its extension.",
                lambda answers: all(a.endswith(".mp4") for a in answers),
            ),
            *[
                (
                    "The id and the two times are joined by underscores.",
                    like(lambda i, a, b, s=s: f"{i}{s}{a:06d}{s}{b:06d}"),
                )
                for s in ("-", " ", ".", "")
            ],
        ],
        otherwise="Not the official name: id, start and end joined by underscores, six-digit seconds.",
    )


@_exercise
def kinetics_classes(answer):
    """Class names in label-index order, from the label column of a Kinetics CSV."""
    labels = ["zumba", "abseiling", "zumba", "bowling", "abseiling", "air drumming"]
    got = answer(list(labels))
    if isinstance(got, (set, frozenset)):
        _fail(
            "A set has no order, and a class's label is its position in the list: return a list.",
            f"got a {type(got).__name__}",
        )
    got = list(got)
    _judge(
        sorted(set(labels)),
        got,
        mistakes=[
            (
                "In order of first appearance, which depends on how the CSV happens to be sorted: "
                "the label map's order is a fixed convention.",
                lambda got: got == list(dict.fromkeys(labels)),
            ),
            ("A class appears more than once: each class once.", lambda got: len(set(got)) < len(got)),
            (
                "Reverse order: label 0 is the first class in alphabetical order.",
                lambda got: got == sorted(set(labels), reverse=True),
            ),
        ],
        otherwise="Not the class list: each class once, in alphabetical order.",
    )


# --- notebook 7 ---------------------------------------------------------------------------


def _lr(step, total, warmup, *, shifted=True, late=False, cosine=True, span=True):
    if step < warmup:
        return (step + (0 if late else 1)) / warmup
    start = warmup if shifted else 0
    progress = min(1.0, (step - start) / max(1, (total - start) if span else total))
    return 0.5 * (1 + math.cos(math.pi * progress)) if cosine else 1 - progress


@_exercise
def lr_factor(answer):
    """The factor of the base learning rate at optimizer step `step` (0-based)."""
    from blvnet_edu.engine.train import _lr_factor

    cases = ((100, 10), (50, 0), (7, 3))
    got = {}
    for total, warmup in cases:
        for step in range(total):
            try:
                got[total, warmup, step] = answer(step, total, warmup)
            except ZeroDivisionError:
                _fail(
                    "Division by zero without warm-up: with warmup = 0 every step is already on the cosine.",
                    f"total {total}, warm-up {warmup}, step {step}: ZeroDivisionError",
                )

    keys = list(got)

    def like(wrong):  # a wrong variant, from (step, total, warmup)
        return lambda answers: _on_every(
            answers, lambda i: wrong(keys[i][2], keys[i][0], keys[i][1]), atol=1e-9
        )

    _judge_cases(
        [(f"total {t}, warm-up {w}, step {s}: ", _lr_factor(t, w)(s), got[t, w, s]) for t, w, s in keys],
        mistakes=[
            (
                "No warm-up: during the first `warmup` steps the factor rises linearly to 1.",
                like(lambda s, t, w: 0.5 * (1 + math.cos(math.pi * s / t))),
            ),
            (
                "The cosine does not start where the warm-up ends: yours jumps down after the warm-up.",
                like(functools.partial(_lr, shifted=False)),
            ),
            (
                "The warm-up is a step late: step 0 gets factor 0, an update that does nothing.",
                like(functools.partial(_lr, late=True)),
            ),
            (
                "A straight line down: the recipe decays along a cosine.",
                like(functools.partial(_lr, cosine=False)),
            ),
            (
                "The cosine reaches 0 after step `total`: it runs over the steps after the warm-up.",
                like(functools.partial(_lr, span=False)),
            ),
        ],
        otherwise="Not the recipe's factor: a linear warm-up to 1, then a cosine to 0 at `total`.",
        atol=1e-9,
        largest=True,
    )


@_exercise
def decay_groups(answer):
    """Two parameter groups for torch.optim: weight decay for >= 2-D tensors, 0 for 1-D ones."""
    from blvnet_edu import build_model
    from blvnet_edu.engine.train import _param_groups

    rate = 5e-4
    model = build_model("blvnet_tam_tiny", num_classes=5)
    groups = answer(model, rate)
    named = dict(model.named_parameters())
    names = {id(p): n for n, p in named.items()}
    if not isinstance(groups, list | tuple) or not all(isinstance(g, dict) and "params" in g for g in groups):
        _fail(
            'Return a list of dicts, each {"params": [...], "weight_decay": ...}.',
            f"got {type(groups).__name__}",
        )
    if not all("weight_decay" in g for g in groups):
        _fail(
            "Give every group its own weight_decay: a group without one gets the optimizer's default.",
            f"groups with a weight_decay: {sum('weight_decay' in g for g in groups)} of {len(groups)}",
        )
    got = {}
    for group in groups:
        for p in group["params"]:
            if id(p) in got:
                _fail("Every parameter must be in exactly one group.", f"{names.get(id(p))} is in two groups")
            got[id(p)] = group.get("weight_decay")
    expected = {id(p): g["weight_decay"] for g in _param_groups(model, rate) for p in g["params"]}
    missing = [names[i] for i in expected if i not in got]
    if missing:
        _fail("Every parameter must be in a group.", f"{len(missing)} missing, e.g. {missing[:3]}")
    wrong = [names[i] for i in expected if got[i] != expected[i]]
    if not wrong:
        return
    rates = {v for i, v in got.items() if expected.get(i)}
    kinds = {
        "bias": [n for n in wrong if named[n].ndim == 1 and n.endswith("bias")],
        "scale": [n for n in wrong if named[n].ndim == 1 and not n.endswith("bias")],
        "matrix": [n for n in wrong if named[n].ndim == 2],
        "conv": [n for n in wrong if named[n].ndim > 2],
    }
    difference = (
        f"wrong weight decay for {len(wrong)} of {len(expected)} parameters, e.g. {wrong[0]}: "
        f"expected {expected[id(named[wrong[0]])]}, got {got[id(named[wrong[0]])]}"
    )
    if rates and rates != {rate} and not kinds["bias"] and not kinds["scale"] and all(rates):
        hint = f"The decayed group must use the rate passed in ({rate}), not {sorted(rates)}."
    elif kinds["conv"] and kinds["bias"]:
        hint = "The two rates are swapped: the multi-dimensional weights are the ones to decay."
    elif kinds["conv"]:
        hint = "The weights of two or more dimensions (convolutions, classifier, TAM) are not decayed."
    elif kinds["bias"] and kinds["scale"]:
        hint = (
            "Biases and BatchNorm parameters are decayed too: decay pulls them towards 0, which "
            "they should not be (a BatchNorm scale of 0 switches its channel off)."
        )
    elif kinds["scale"]:
        hint = "BatchNorm's scales are decayed: they are 1-D too, even if their name ends in 'weight'."
    elif kinds["bias"]:
        hint = "The biases are decayed: they are 1-D."
    else:
        hint = "The 2-D weights (classifier, TAM) are not decayed: 'two or more dimensions' includes 2."
    _fail(hint, difference)


# --- notebook 8 ---------------------------------------------------------------------------


def _predicted(model, video) -> int:
    """The class the model predicts for the clip: its probability and its drops are large."""
    with torch.no_grad():
        return int(model.eval()(video).argmax())


def _input_gradient(model, video, target, probability=False):
    video = video.detach().clone().requires_grad_()
    score = model(video)
    (score.softmax(-1) if probability else score)[0, target].backward()
    model.zero_grad(set_to_none=True)
    return video.grad[0]  # (T, 3, H, W)


@_exercise
def saliency_map(answer):
    """(T, H, W) in [0, 1]: |d score / d pixel| summed over colours, scaled by the clip's maximum."""
    from blvnet_edu.explain.attributions import attribute

    model, video = _demo()
    target = _predicted(model, video)
    expected = attribute(model.eval(), video, target, method="saliency")
    got = answer(model, video.clone(), target)
    model.zero_grad(set_to_none=True)
    if isinstance(got, torch.Tensor):
        got = got.detach()
    gradient = functools.cache(lambda: _input_gradient(model, video, target))

    def clip_scale(maps):
        return maps / maps.max()

    _judge(
        expected,
        got,
        mistakes=[
            (
                "One map per frame, (T, H, W): sum over the colours, and leave out the batch dimension.",
                lambda got: got.ndim != 3,
            ),
            (
                "The colours' gradients are summed before their absolute value: where they have "
                "opposite signs they cancel, and the map misses pixels the score is sensitive to.",
                _like(lambda: clip_scale(gradient().sum(1).abs())),
            ),
            (
                "Negative values: saliency measures how sensitive the score is, whichever way.",
                lambda got: got.min() < 0,
            ),
            (
                "The colours are combined by their maximum: the exercise sums them.",
                _like(lambda: clip_scale(gradient().abs().amax(1))),
            ),
            (
                "Each frame is scaled on its own: one scale for the whole clip, so that frames compare.",
                _like(lambda: (lambda m: m / m.amax((1, 2), keepdim=True))(gradient().abs().sum(1))),
            ),
            ("Not scaled: the clip's largest value should be 1.", _like(lambda: gradient().abs().sum(1))),
            (
                "The gradient of the probability: saliency here differentiates the target's score (logit).",
                _like(lambda: clip_scale(_input_gradient(model, video, target, True).abs().sum(1))),
            ),
        ],
        otherwise="Not the saliency map: |gradient| of each colour, summed, divided by the clip's maximum.",
    )


@_exercise
def frame_importance(answer):
    """(T,): p(target | clip) - p(target | clip with frame t set to 0)."""
    from blvnet_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from blvnet_edu.explain.attributions import temporal_importance

    model, video = _demo()
    target = _predicted(model, video)
    expected = temporal_importance(model.eval(), video, target)
    with torch.no_grad():
        got = answer(model, video.clone(), target)
    if isinstance(got, (list, tuple)):
        got = torch.stack([torch.as_tensor(v) for v in got])
    got = torch.as_tensor(got).detach().float()
    black = (-torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)).view(1, 3, 1, 1)

    @functools.cache
    def scores(replacement, output="probability"):
        """The full clip's output and, for each frame, the output with that frame replaced."""
        with torch.no_grad():
            out = {
                "probability": lambda v: model(v).softmax(-1),
                "logit": model,
                "log": lambda v: model(v).log_softmax(-1),
            }[output]
            hidden = []
            for t in range(video.shape[1]):
                clip = video.clone()
                clip[:, t] = {"zeros": 0.0, "black": black, "clip mean": video.mean(1)}[replacement]
                hidden.append(out(clip)[0, target])
            return out(video)[0, target], torch.stack(hidden)

    def drop(replacement, output="probability"):
        full, hidden = scores(replacement, output)
        return full - hidden

    _judge(
        expected,
        got,
        mistakes=[
            ("One value per frame, (T,).", lambda got: tuple(got.shape) != (video.shape[1],)),
            (
                "A drop of the logit, not of the probability: the importance says how much less sure "
                "the model is.",
                _like(lambda: drop("zeros", "logit")),
            ),
            (
                "A drop of the log-probability: the importance is a drop of the probability.",
                _like(lambda: drop("zeros", "log")),
            ),
            (
                "The sign is reversed: a frame whose removal lowers the probability is important (> 0).",
                _like(lambda: -drop("zeros")),
            ),
            (
                "The frame is replaced with black pixels: the mean frame is ImageNet's mean colour, "
                "which the normalisation turns into zeros.",
                _like(lambda: drop("black")),
            ),
            (
                "The frame is replaced with this clip's average frame: the exercise's mean frame is "
                "ImageNet's mean colour (zeros in the normalised clip), the same for every clip.",
                _like(lambda: drop("clip mean")),
            ),
            (
                "The probability without each frame: the importance is how far it drops from the clip's.",
                _like(lambda: scores("zeros")[1]),
            ),
        ],
        otherwise="Not the importance: p(target | clip) - p(target | clip with frame t replaced by zeros).",
    )


# --- notebook 9 ---------------------------------------------------------------------------


def _as_list(value):
    """A list of what `value` holds (tensors and arrays as Python numbers)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return value.tolist()
    return list(value)


@_exercise
def authors_indices(answer):
    """The 16 frame indices the authors' test pipeline reads from a video of `num_frames` > 16 frames."""
    from blvnet_edu.data.sampling import segment_indices

    sizes = (17, 61, 132, 300, 4999, 64)  # 64: a multiple of 32, where rounding up and down agree

    def like(wrong):  # a wrong variant, from (x, N)
        return lambda answers: _on_every(answers, lambda i: [wrong(x, sizes[i]) for x in range(16)])

    _judge_cases(
        [(f"N = {n}: ", segment_indices(n, 16, train=False), _as_list(answer(n))) for n in sizes],
        mistakes=[
            ("Sixteen indices, one per segment.", lambda answers: any(len(a) != 16 for a in answers)),
            (
                "Floats: frame indices are integers, and integer arithmetic gives them exactly.",
                lambda answers: any(isinstance(v, (float, np.floating)) for a in answers for v in a),
            ),
            (
                "Each index is the first frame of its segment: the authors look half a segment "
                "(tick / 2) further.",
                like(lambda x, n: x * n // 16),
            ),
            (
                "Rounded to the nearest frame: the formula takes the floor.",
                like(lambda x, n: round((2 * x + 1) * n / 32)),
            ),
            (
                "One too many everywhere: the indices are 0-based.",
                like(lambda x, n: (2 * x + 1) * n // 32 + 1),
            ),
            (
                "Rounded up: the formula takes the floor.",
                like(lambda x, n: -(-(2 * x + 1) * n // 32)),
            ),
            (
                "The tick is rounded before it is multiplied, and its error grows with x: divide last.",
                like(lambda x, n: n // 16 // 2 + n // 16 * x),
            ),
        ],
        otherwise="Not the authors' indices: floor(tick / 2 + tick * x) with tick = N / 16, in integers.",
    )


@_exercise
def upright(answer):
    """An (H, W, 3) image turned counter-clockwise by `rotation` degrees (a multiple of 90)."""
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)  # every value once: any misplacement shows

    rotations = (90, -90, 180, 270, 0)

    def turned(rotation):
        got = answer(image.copy(), rotation)
        return got.numpy() if isinstance(got, torch.Tensor) else got

    def like(wrong):  # a wrong variant, from the rotation
        return lambda answers: _on_every(answers, lambda i: wrong(rotations[i]))

    _judge_cases(
        [(f"rotation {r}: ", np.rot90(image, round(r / 90) % 4), turned(r)) for r in rotations],
        mistakes=[
            (
                "Turned about the wrong axes: the colours (the last axis) stay where they are.",
                lambda answers: any(a.shape[-1] != 3 for a in answers),
            ),
            (
                "Turned clockwise: the rotation is counter-clockwise. Which way does np.rot90 turn for "
                "a positive k?",
                like(lambda r: np.rot90(image, -round(r / 90))),
            ),
            ("Not turned: the image must be turned by `rotation` degrees.", like(lambda r: image)),
            (
                "Mirrored, not turned: a transpose flips the image over its diagonal.",
                like(lambda r: image.transpose(1, 0, 2) if r % 180 else image),
            ),
            (
                "Turned by the wrong number of quarter turns: the rotation is in degrees.",
                like(lambda r: np.rot90(image, r)),
            ),
        ],
        otherwise="Not the upright image: turn it counter-clockwise by `rotation` degrees.",
    )


# --- notebook 7: the capstone -------------------------------------------------------------

CAPSTONE_TARGET = 0.9  # the long-range pair accuracy the kept TAMs must reach on their own


@functools.cache
def _long_range_clips(per_class: int = 8):
    """The demo bLVNet-TAM's classes and `per_class` fresh clips of each long-range class,
    rendered (no codec) and sampled as evaluation does: `(N, 8, 3, S, S)`, targets, partners."""
    from blvnet_edu.data.sampling import segment_indices
    from blvnet_edu.data.synthetic import LONG_RANGE_PAIRS, render_clip, sample_params
    from blvnet_edu.data.transforms import EvalTransform
    from blvnet_edu.inference import load_predictor

    predictor = load_predictor(DEMO / "blvnet_tam_tiny.pt")
    rng, frames = np.random.default_rng(2019), segment_indices(32, 8, train=False)
    transform = EvalTransform(predictor.size, predictor.resize)
    clips, targets, partners = [], [], []
    for first, second in LONG_RANGE_PAIRS:
        for label, partner in ((first, second), (second, first)):
            for _ in range(per_class):
                clip = torch.from_numpy(render_clip(label, sample_params(rng, size=80, frames=32)))[frames]
                clips.append(transform(clip))
                targets.append(predictor.classes.index(label))
                partners.append(predictor.classes.index(partner))
    return predictor.model, torch.stack(clips), torch.tensor(targets), torch.tensor(partners)


def long_range_pair_accuracy(keep) -> float:
    """The demo bLVNet-TAM's long-range order-pair accuracy when only the TAMs in `keep` mix
    frames (the others keep their current-frame weight, their past and future set to zero)."""
    model, clips, targets, partners = _long_range_clips()
    tams = model.tams()
    saved = {name: tam.weight.detach().clone() for name, tam in tams.items()}
    try:
        with torch.no_grad():
            for name, tam in tams.items():
                if name not in keep:
                    tam.weight[: tam.weight.shape[0] // 2] = 0.0  # the past
                    tam.weight[tam.weight.shape[0] // 2 + 1 :] = 0.0  # the future
            scores = model.eval()(clips)
    finally:
        with torch.no_grad():
            for name, tam in tams.items():
                tam.weight.copy_(saved[name])
    rows = torch.arange(len(targets))
    return (scores[rows, targets] > scores[rows, partners]).double().mean().item()


def where_tams_sit(keep):
    """The capstone's check: `keep`, a set of TAM names, is enough for the long-range tier on its
    own (pair accuracy at least `CAPSTONE_TARGET`) and has no TAM it could do without."""

    def run():
        if keep is None:
            raise NotImplementedError("set KEEP above to your answer, run its cell, then this one again")
        names = list(_long_range_clips()[0].tams())
        if not isinstance(keep, (set, frozenset, list, tuple)) or not all(isinstance(n, str) for n in keep):
            _fail("The answer is a set of TAM names, as model.tams() names them.", f"got {keep!r}")
        unknown = sorted(set(keep) - set(names))
        if unknown:
            _fail(f"Not TAMs of this network: {unknown}.", f"its TAMs are {names}")
        accuracy = long_range_pair_accuracy(set(keep))
        if accuracy < CAPSTONE_TARGET:
            _fail(
                "These TAMs alone do not carry the long-range tier: keep more of them mixing frames. "
                "Which TAM outside your set raises the accuracy most when you add it back?",
                f"with only {sorted(keep)} mixing: {accuracy:.1%}, below {CAPSTONE_TARGET:.0%}",
            )
        spare = [
            name for name in sorted(keep) if long_range_pair_accuracy(set(keep) - {name}) >= CAPSTONE_TARGET
        ]
        if spare:  # not named: finding it is the exercise
            _fail(
                "Enough, but not the fewest: at least one of these TAMs can go and the rest still reach "
                f"{CAPSTONE_TARGET:.0%}. Leave each out in turn and measure.",
                f"with only {sorted(keep)} mixing: {accuracy:.1%}; {len(spare)} of its {len(keep)} TAMs could go",
            )

    return run
