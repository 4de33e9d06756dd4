"""attention: fused scaled dot-product attention, `F.scaled_dot_product_attention`.

Inputs: queries [..., L, E], keys [..., S, E], values [..., S, Ev] and an optional
fourth, the mask, broadcast to [..., L, S] (bool: True = keep, as PyTorch's; float: added
to the scores). The batch dims of the three are proved equal. Dropout applies in training
mode only, as `nn.Dropout` does: the call reads `self.training`. `scale` defaults to
1 / sqrt(E); `is_causal` keeps key j for query i where j <= i (top-left aligned).
"""

from __future__ import annotations

from .base import Arg, Dtypes, Op, register
from .ctx import ShapeCtx


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


register(Op(
    "attention", "attention",
    (Arg("dropout_p", "float", 0.0, low=0, high=1), Arg("is_causal", "bool", False),
     Arg("scale", "float", None)),
    _attention, arity=(3, 4), dtype=Dtypes(("float", "float", "float", "bool|float")),
    call="F.scaled_dot_product_attention({{ ins[0] }}, {{ ins[1] }}, {{ ins[2] }}"
         "{% if ins | length > 3 %}, attn_mask={{ ins[3] }}{% endif %}"
         "{% if 'dropout_p' in given %}, dropout_p={{ dropout_p }} if self.training else 0.0"
         "{% endif %}"
         "{% if 'is_causal' in given %}, is_causal={{ is_causal }}{% endif %}"
         "{% if 'scale' in given %}, scale={{ scale }}{% endif %})",
    rule="q [..., L, E], k [..., S, E], v [..., S, Ev] (batch dims equal), mask broadcast "
         "to [..., L, S] -> [..., L, Ev]",
    summary="fused attention: softmax(q k^T * scale + mask) v, dropout in training",
    key_args=("is_causal", "scale"),
))
