"""Fast TAM: the same aggregation as `models/tam.py`, accumulated in place.

`models/tam.py` follows the paper: one depthwise 1x1 convolution per offset, shift with zero
padding, stack, sum, ReLU. Every step allocates a full-size tensor, and on a CPU TAM built
that way took most of bLVNet-TAM-50's forward time (docs/benchmarks/speed.md). Here:

- `tam_aggregate`: the sum accumulated into one output tensor (one multiply for the current
  frame, one fused multiply-add per shifted offset). Any memory format, any float dtype.
- `_TAMFunction`: ReLU(aggregate) with a hand-written backward of the same in-place form
  (the input gradient is the aggregation with the offsets mirrored; the weight gradient is
  accumulated frame by frame, in cache).
- `tam_aggregate_relu_`: at inference, the result written over the input (the stem output,
  which nothing else reads), keeping only `k` frames aside.
- `pair_weights` / `_TAMPairsFunction`: TAM over a clip stored as one map per frame pair
  (`fast/routing.py`), without materialising the two copies: exact, see `pair_weights`.

`tam_frames` and `tam_pairs` compute TAM on folded frames; the two modules at the bottom are
what a fast model holds (`fast/convert.py`): `FastTAM`, a `TAM` that runs `tam_frames`, and
`PairTAM`, a `TAM` whose input is stored one map per pair (`tam_pairs`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..tam import TAM
from ..temporal import fold_time, unfold_time

__all__ = [
    "FastTAM",
    "PairTAM",
    "tam_frames",
    "tam_pairs",
    "pair_weights",
    "tam_aggregate",
    "tam_aggregate_",
    "tam_aggregate_relu_",
]


def _shifted_slices(offset: int, num_frames: int) -> tuple[slice, slice] | None:
    """Time slices `(dst, src)` such that `out[:, dst] += w * x[:, src]` adds `x_{t+offset}`.

    `None` when the shift moves every frame out of the clip (|offset| >= T).
    """
    if abs(offset) >= num_frames:
        return None
    if offset >= 0:
        return slice(0, num_frames - offset), slice(offset, num_frames)
    return slice(-offset, num_frames), slice(0, num_frames + offset)


_CHANNELS_LAST = ((0, 1, 3, 4, 2), (0, 1, 4, 2, 3), 4)  # (permutation, inverse, channel dim)
_CHANNELS_FIRST = ((0, 1, 2, 3, 4), (0, 1, 2, 3, 4), 2)


def _memory_order(x: Tensor) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """How to view `(B, T, C, H, W)` clips in memory order.

    For channels_last frames that is `(B, T, H, W, C)`: the same memory, contiguous, which
    element-wise kernels run about twice as fast on as on the strided 5-D view. Returns the
    permutation, its inverse, and where the channel dimension lands.
    """
    if x.stride(2) == 1 and x.shape[2] > 1 and not x.is_contiguous():
        return _CHANNELS_LAST
    return _CHANNELS_FIRST


def tam_aggregate(
    x: Tensor, weight: Tensor, out: Tensor | None = None, channel_dim: int = 2, accumulate: bool = False
) -> Tensor:
    """`sum_o w_o (.) x_{t+o}` (no ReLU), accumulated in place.

    Args:
        x: clips of feature maps, time at dim 1, channels at `channel_dim`: `(B, T, C, H, W)`.
        weight: `(2k+1, C)`, row `i` for offset `i - k`.
        out: a buffer like `x` to write into (default: a new tensor).
        accumulate: add to what `out` holds instead of overwriting it.

    Returns:
        a tensor shaped like `x`.
    """
    num_offsets, channels = weight.shape
    k = num_offsets // 2
    shape = [1] * x.dim()
    shape[channel_dim] = channels
    w = weight.view(num_offsets, *shape)  # broadcasts over x
    if out is None:
        out = x * w[k]  # the current frame, o = 0
    elif accumulate:
        out.addcmul_(x, w[k])
    else:
        torch.mul(x, w[k], out=out)
    num_frames = x.shape[1]
    for i in range(num_offsets):
        slices = _shifted_slices(i - k, num_frames)
        if i == k or slices is None:
            continue
        dst, src = slices
        out[:, dst].addcmul_(x[:, src], w[i])  # out_t += w_o (.) x_{t+o}
    return out


def tam_aggregate_(x: Tensor, weight: Tensor, channel_dim: int = 2) -> Tensor:
    """`tam_aggregate(x, weight)` written into `x`, frame by frame (no autograd).

    Going forward in time, frame t is overwritten only after copies of it are kept for
    the k later frames that still need it, so the only extra memory is k frames.
    """
    num_offsets, channels = weight.shape
    k, num_frames = num_offsets // 2, x.shape[1]
    shape = [1] * (x.dim() - 1)
    shape[channel_dim - 1] = channels
    w = weight.view(num_offsets, *shape)  # broadcasts over one frame, e.g. (B, C, H, W)
    past: list[Tensor] = []  # originals of frames t-k .. t-1, oldest first
    for t in range(num_frames):
        frame = x[:, t]  # a view into x
        if k:
            past.append(frame.clone())
        frame.mul_(w[k])
        for i in range(num_offsets):
            offset = i - k
            if offset < 0 and t + offset >= 0:
                frame.addcmul_(past[offset - 1], w[i])  # x_{t+o}, already overwritten in x
            elif offset > 0 and t + offset < num_frames:
                frame.addcmul_(x[:, t + offset], w[i])  # x_{t+o}, still the original
        past = past[-k:] if k else []
    return x


def tam_aggregate_relu_(x: Tensor, weight: Tensor) -> Tensor:
    """`ReLU(tam_aggregate(x, weight))` written into `x` `(B, T, C, H, W)` (no autograd)."""
    return tam_aggregate_(x, weight).relu_()


def pair_weights(weight: Tensor, parity: int) -> Tensor:
    """TAM weights for a clip stored as one map per frame pair, read at frames of one parity.

    After a bL stage the two frames of a pair hold the same map: `x_{2i} = x_{2i+1} = f_i`.
    Frame `2i + e` (e = 0: even, little branch; e = 1: odd, big branch) then receives
    `sum_o w_o x_{2i+e+o} = sum_o w_o f_{i + floor((e+o)/2)}`: a TAM over the pairs whose
    weight for pair offset `d` is the sum of the `w_o` with `floor((e+o)/2) = d`. Zero
    padding over frames is zero padding over pairs, so the result is exact.

    Args:
        weight: `(2k+1, C)` frame-offset weights.
        parity: 0 for even frames, 1 for odd frames.

    Returns:
        `(2D+1, C)` pair-offset weights, `D = ceil(k / 2)`.
    """
    num_offsets = weight.shape[0]
    k = num_offsets // 2
    reach = (k + 1) // 2
    rows = torch.tensor([(parity + offset) // 2 + reach for offset in range(-k, k + 1)], device=weight.device)
    # row i (frame offset i - k) added to its pair offset; a sum, not a matmul, which
    # FLOP counters would count as the network's work
    return weight.new_zeros(2 * reach + 1, weight.shape[1]).index_add(0, rows, weight)  # (2D+1, C)


def _weight_grad(g: Tensor, x: Tensor, weight: Tensor, buffer: Tensor, channel_dim: int) -> Tensor:
    """`dL/dw_o[c] = sum over (b, t, h, w) of g_t[c] * x_{t+o}[c]`, for every offset: `(2k+1, C)`.
    `g` and `x` are in memory order; `buffer` is a contiguous tensor shaped like one frame `g[:, t]`.

    Frame by frame: the products of one frame `g_t` with its neighbours `x_{t+o}` stay in
    the CPU's cache, where full-clip products would each stream a full-size tensor through
    memory (on the stem output that is the difference between reading the clip once and
    about six times).
    """
    num_offsets = weight.shape[0]
    k, num_frames = num_offsets // 2, x.shape[1]
    frame_dims = tuple(d for d in range(x.dim() - 1) if d != channel_dim - 1)  # all but channels
    grad = weight.new_zeros(weight.shape)  # (2k+1, C); `buffer` holds one frame's products
    for t in range(num_frames):
        for i in range(num_offsets):
            s = t + i - k  # the frame that offset i brings to frame t
            if 0 <= s < num_frames:
                grad[i] += torch.mul(g[:, t], x[:, s], out=buffer).sum(dim=frame_dims)
    return grad


def _relu_tam_backward(
    x: Tensor, terms: list[tuple[Tensor, Tensor, Tensor | None]], needs_x: bool, needs_w: bool
) -> tuple[Tensor | None, list[Tensor | None]]:
    """Gradients of the outputs `out_j = ReLU(tam_aggregate(x, w_j))`, given as
    `(w_j, out_j, dL/dout_j)` terms: the input gradient (summed over the terms, in one
    buffer) and each weight's gradient."""
    perm, back, channel_dim = _memory_order(x)
    x = x.permute(perm)  # work in memory order, channels at `channel_dim`
    # through the ReLU: the saved output is its mask
    gs = [
        None if g is None else torch.ops.aten.threshold_backward(g, out, 0).permute(perm)
        for _, out, g in terms
    ]
    # The weight gradients first, through a one-frame buffer (they read g as it is) ...
    frame = torch.empty_like(x[:, 0], memory_format=torch.contiguous_format)
    grad_ws = [
        _weight_grad(g, x, w, frame, channel_dim) if needs_w and g is not None else None
        for (w, _, _), g in zip(terms, gs)
    ]
    if not needs_x or all(g is None for g in gs):
        return None, grad_ws
    # ... then the input gradient. y_t = sum_o w_o x_{t+o}  =>  dL/dx_s = sum_o w_o g_{s-o}:
    # the same aggregation with the offsets mirrored, done in place in the first g, so the
    # backward allocates no full-size buffer beyond the ReLU's (on a CPU each fresh
    # full-size allocation costs about as much as the arithmetic: page faults).
    (first, w_first), *rest = [(g, w) for (w, _, _), g in zip(terms, gs) if g is not None]
    grad = tam_aggregate_(first, w_first.flip(0), channel_dim=channel_dim)
    for g, w in rest:
        tam_aggregate(g, w.flip(0), out=grad, channel_dim=channel_dim, accumulate=True)
    return grad.permute(back), grad_ws


class _TAMFunction(torch.autograd.Function):
    """ReLU(tam_aggregate(x, w)) with a backward that reuses the same in-place form."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        perm, back, channel_dim = _memory_order(x)
        out = tam_aggregate(x.permute(perm), weight, channel_dim=channel_dim).relu_().permute(back)
        # `out` is also the next layer's input, so keeping it for the ReLU mask is free.
        ctx.save_for_backward(x, weight, out)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, weight, out = ctx.saved_tensors
        grad_x, (grad_w,) = _relu_tam_backward(x, [(weight, out, grad_out)], *ctx.needs_input_grad)
        return grad_x, grad_w


class _TAMPairsFunction(torch.autograd.Function):
    """Both outputs of `tam_pairs` in one node, `(ReLU(agg(x, w_odd)), ReLU(agg(x, w_even)))`:
    the input gradient of the two is summed in one buffer, not in two added by autograd."""

    @staticmethod
    def forward(ctx, x: Tensor, w_odd: Tensor, w_even: Tensor) -> tuple[Tensor, Tensor]:
        perm, back, channel_dim = _memory_order(x)
        xp = x.permute(perm)
        odd = tam_aggregate(xp, w_odd, channel_dim=channel_dim).relu_().permute(back)
        even = tam_aggregate(xp, w_even, channel_dim=channel_dim).relu_().permute(back)
        ctx.save_for_backward(x, w_odd, w_even, odd, even)
        return odd, even

    @staticmethod
    def backward(ctx, g_odd: Tensor | None, g_even: Tensor | None):
        x, w_odd, w_even, odd, even = ctx.saved_tensors
        needs_x, needs_odd, needs_even = ctx.needs_input_grad
        grad_x, (grad_odd, grad_even) = _relu_tam_backward(
            x, [(w_odd, odd, g_odd), (w_even, even, g_even)], needs_x, needs_odd or needs_even
        )
        return grad_x, grad_odd, grad_even


def tam_frames(x: Tensor, weight: Tensor, num_frames: int, inplace: bool = False) -> Tensor:
    """`TAM.forward`: `(B*T, C, H, W)` -> `(B*T, C, H, W)`, `weight` `(2k+1, C)`.

    With `inplace=True` and no gradient to compute, the result overwrites `x` (as
    `nn.ReLU(inplace=True)` does); training always takes the out-of-place path.
    """
    clips = unfold_time(x, num_frames)  # (B, T, C, H, W), a view
    weight = weight.to(x.dtype)
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if inplace and not needs_grad:
        return fold_time(tam_aggregate_relu_(clips, weight))
    return fold_time(_TAMFunction.apply(clips, weight))  # (B*T, C, H, W)


def tam_pairs(pairs: Tensor, weight: Tensor, num_frames: int) -> tuple[Tensor, Tensor]:
    """TAM over a clip stored as one map per frame pair: `(B*T/2, C, H, W)` -> (odd frames,
    even frames), `(B*T/2, C, H, W)` each: what `TAM.forward` gives at the odd (big branch)
    and even (little branch) frames of the clip with every map copied to both of its frames."""
    clips = unfold_time(pairs, num_frames // 2)  # (B, T/2, C, H, W)
    weight = weight.to(pairs.dtype)
    odd, even = _TAMPairsFunction.apply(clips, pair_weights(weight, 1), pair_weights(weight, 0))
    return fold_time(odd), fold_time(even)  # (B*T/2, C, H, W) each


class FastTAM(TAM):
    """`TAM` with the sum accumulated in place and a hand-written backward (`tam_frames`):
    the same weights and outputs, `(B*T, C, H, W)` -> `(B*T, C, H, W)`.

    `inplace=True` (bL layer 0's TAM, the only reader of the stem output) writes the output
    over the input when no gradient is needed, as `nn.ReLU(inplace=True)` does."""

    inplace: bool = False

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        return tam_frames(x, self.weight, num_frames, inplace=self.inplace)

    def every_frame(self, x: Tensor, num_frames: int) -> Tensor:
        return tam_frames(x, self.weight, num_frames)  # never over its input: the caller keeps it

    def extra_repr(self) -> str:
        return super().extra_repr() + (", inplace=True" if self.inplace else "")


class PairTAM(TAM):
    """The TAM of a bL stage whose input holds one map per frame pair (`fast.PairStorage`):
    `(B*T/2, C, H, W)` -> (odd frames, even frames), `(B*T/2, C, H, W)` each, what `TAM`
    gives at the big and little branch's frames of the clip with each map copied to both of
    its frames (`tam_pairs`, exact)."""

    def forward(self, pairs: Tensor, num_frames: int) -> tuple[Tensor, Tensor]:
        return tam_pairs(pairs, self.weight, num_frames)

    def every_frame(self, pairs: Tensor, num_frames: int) -> Tensor:
        """`(B*T/2, C, H, W)` pairs -> `(B*T, C, H, W)`: the output at every frame."""
        odd, even = self(pairs, num_frames)
        return torch.stack((even, odd), dim=1).flatten(0, 1)  # frame 2i: even, 2i + 1: odd
