"""attention: fused scaled dot-product attention, `F.scaled_dot_product_attention`.

Inputs: queries [..., L, E], keys [..., S, E], values [..., S, Ev] and an optional
fourth, the mask, broadcast to [..., L, S] (bool: True = keep, as PyTorch's; float: added
to the scores). The batch dims of the three are proved equal. Dropout applies in training
mode only, as `nn.Dropout` does: the call reads `self.training`. `scale` defaults to
1 / sqrt(E); `is_causal` keeps key j for query i where j <= i (top-left aligned). The call
gives q, k, v and the mask four dims where they have another number (below) and its result
their own back.
"""

from __future__ import annotations

from .base import Arg, CallSite, Dtypes, Op, register
from .ctx import ShapeCtx

# PyTorch's fused kernels take four dims (batch, heads, n, features); at another rank, or
# with a mask of fewer dims than the scores, scaled_dot_product_attention runs a slower
# path (on CPU its math one: one head over (8, 196, 64), 3.00 ms against 1.30 as 4-D). The
# call is given four: these say how, for this op and for written-out attention (fusion.py).


def batch_fix(rank: int) -> str:
    """What q, k and v get appended to have four dims: leading batch dims flattened into
    one over four, batch dims of size 1 in front under four."""
    if rank > 4:
        return f".flatten(0, {rank - 4})"
    return {2: "[None, None]", 3: ".unsqueeze(0)"}.get(rank, "")


def restore(rank: int, q: str) -> str:
    """What the call's result gets appended to have q's batch dims again (`q` its text)."""
    if rank > 4:
        return f".unflatten(0, {q}.shape[:{rank - 3}])"
    return {2: "[0, 0]", 3: ".squeeze(0)"}.get(rank, "")


def mask_fix(q: tuple, mask: tuple) -> str | None:
    """What the mask gets appended to have four dims as q does, or None where that would
    not broadcast as the mask did (then nothing is changed). Ones in front of a mask of
    fewer dims; over four dims, where q's first rank - 3 are flattened into one, a mask
    whose dims there are all 1 flattens them into one 1, one of q's rank with q's dims
    there flattens them as q does, and a mask that does not reach them is as one of fewer."""
    span = len(mask) - 3 if len(q) > 4 else 0  # the mask's dims aligned with flattened ones
    if span > 1 and (all(d == 1 for d in mask[:span]) or len(mask) == len(q)
                     and tuple(mask[:span]) == tuple(q[:span])):
        return f".flatten(0, {span - 1})"
    if span > 1 or span == 1 and mask[0] != 1:
        return None
    return {1: "[None, None, None]", 2: "[None, None]", 3: ".unsqueeze(0)"}.get(len(mask), "")


def _attention(ctx: ShapeCtx, ins, a):
    q, k, v = ins[:3]
    for shape, what in ((q, "queries"), (k, "keys"), (v, "values")):
        if len(shape) < 2:
            ctx.fail(f"attention: {what} need at least 2 dims ([..., n, features])")
    if not len(q) == len(k) == len(v):
        ctx.fail(f"attention: queries, keys and values have {len(q)}, {len(k)} and {len(v)} "
                 "dims; they need the same number")
    for i, (dq, dk, dv) in enumerate(zip(q[:-2], k[:-2], v[:-2], strict=True)):
        ctx.eq(dq, dk, f"dim {i} of the queries", f"dim {i} of the keys")
        ctx.eq(dq, dv, f"dim {i} of the queries", f"dim {i} of the values")
    ctx.eq(q[-1], k[-1], "features of the queries (their last dim)",
           "features of the keys (their last dim)")
    ctx.eq(k[-2], v[-2], "keys (second to last dim)", "values (second to last dim)")
    scores = (*q[:-1], k[-2])
    if len(ins) == 4:
        mask = ins[3]
        if len(mask) > len(scores):
            ctx.fail(f"attention: the mask has {len(mask)} dims, more than the scores' "
                     f"{len(scores)}")
        for i, dm in enumerate(mask):
            target = scores[len(scores) - len(mask) + i]
            if dm != 1:
                ctx.eq(dm, target, f"dim {i} of the mask", "the scores' dim it broadcasts to")
        if a["is_causal"] is True:
            ctx.fail("attention: is_causal takes no mask (PyTorch refuses both)")
    return (*q[:-1], v[-1])


def _call(site: CallSite) -> str:
    """The call, its inputs given four dims where their checked shapes say how."""
    q, k, v = site.ins[:3]
    shapes = (*site.shapes, None, None, None, None)[:4]
    rank = len(shapes[0]) if shapes[0] is not None else 4
    mask = []
    if len(site.ins) > 3:
        qs, ms = shapes[0], shapes[3]
        found = mask_fix(qs, ms) if qs is not None and ms is not None else None
        if found is None:  # the call as written
            rank, found = 4, ""
        mask = [f"attn_mask={site.ins[3]}{found}"]
    fix = batch_fix(rank)
    args = [q + fix, k + fix, v + fix, *mask]
    if "dropout_p" in site.args:
        args.append(f"dropout_p={site.args['dropout_p']} if self.training else 0.0")
    args += [f"{name}={site.args[name]}" for name in ("is_causal", "scale") if name in site.args]
    return f"F.scaled_dot_product_attention({', '.join(args)}){restore(rank, q)}"


register(Op(
    "attention", "attention",
    (Arg("dropout_p", "float", 0.0, low=0, high=1), Arg("is_causal", "bool", False),
     Arg("scale", "float", None)),
    _attention, arity=(3, 4), dtype=Dtypes(("float", "float", "float", "bool|float")),
    emit=_call,
    rule="q [..., L, E], k [..., S, E], v [..., S, Ev] (batch dims equal), mask broadcast "
         "to [..., L, S] -> [..., L, Ev]",
    summary="fused attention (F.scaled_dot_product_attention, given four dims at any rank): "
            "softmax(q k^T * scale + mask) v, dropout in training",
    key_args=("is_causal", "scale"),
))
