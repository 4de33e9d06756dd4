"""Lookup tables: `Embedding`, a learned vector per token id (gMLP's and MLP-Mixer-style
language models' input layer, a transformer's learned positions)."""

from __future__ import annotations

from ..errors import BAD_ARGUMENTS
from .base import FRESH, Arg, Dtypes, Op, register
from .ctx import ShapeCtx, number


def _embedding(ctx: ShapeCtx, ins, a):
    n, pad = a["num_embeddings"], a["padding_idx"]
    if pad is not None:  # a row of the table, counted from the end where negative
        if number(pad) is not None and number(n) is not None and not -n <= pad < n:
            ctx.fail(f"padding_idx {pad} is outside the table of {n} rows (from {-n} to "
                     f"{n - 1}, as torch takes it)", BAD_ARGUMENTS)
        index = number(pad)  # -n <= pad < n, each side where it can fail
        if index is None or index >= 0:
            ctx.at_least(n, pad + 1, f"num_embeddings (a row for padding_idx {pad})")
        if index is None or index < 0:
            ctx.at_least(n + pad, 0, f"num_embeddings (a row for padding_idx {pad}, from "
                                     "the end)")
    return (*ins[0], a["embedding_dim"])


register(Op(
    "Embedding", "linear",
    (Arg("num_embeddings", "int", low=1), Arg("embedding_dim", "int", low=1),
     Arg("padding_idx", "int", None), Arg("max_norm", "float", None, low=0),
     Arg("norm_type", "float", 2.0), Arg("scale_grad_by_freq", "bool", False),
     Arg("sparse", "bool", False)),
    _embedding, module=True, torch="nn.Embedding", factory=True, layout=FRESH,
    dtype=Dtypes(("int",), "float"),
    rule="int ids [*] -> [*, embedding_dim]: row id of the table (ids from 0 to "
         "num_embeddings - 1: torch checks them at run time)",
    summary="a learned vector per id (a lookup table of num_embeddings rows)",
    params=lambda a: a["num_embeddings"] * a["embedding_dim"],
    key_args=("num_embeddings", "embedding_dim", "padding_idx"),
))
