"""Fused attention (issue 16): the notes' multi-head attention, generated (fused, and plain
with --no-fuse built in memory) against the hand-written reference, same weights.

d_model 512, 8 heads (d_k = d_v = 64), 196 tokens, batch 8. `--module emsa`: EMSA in the
configuration that fuses (ratio 1, apply_transform false: the heads' scores not mixed),
against External-Attention-pytorch's EMSA, the same sizes. `--module one_head`: one head
over (batch, tokens, 64 features), three dims (ONE_HEAD, the spec of tests/test_fusion.py),
against the same attention written by hand (OneHead); `--mask` adds a bool mask (B, n, n).
`--module non_local`: the non-local block of tests/test_fusion_layout.py (its queries, keys
and values by channel from 1x1 convs: the call copies them contiguous), 512 channels (256
inside) on 28 x 28, batch 2, against the block written by hand (NonLocal).
"forward" is eval mode under torch.no_grad(); "fwd+bwd" is train mode (dropout as
constructed, `--dropout`) with inputs that require grad, backward of the output's sum.
Pairs of calls are interleaved (who goes first alternates); each pair gives a ratio of CPU
times (time.thread_time, process time with --threads > 1); the table shows the median
ratio, its quartiles and the median times.

    .venv/bin/python benchmarks/bench_fused.py [--pairs N] [--threads N] [--dropout P]
        [--module sdpa|emsa|one_head|non_local] [--mask] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from equivalence import load_generated, load_plain  # noqa: E402
from references.attention import ScaledDotProductAttention  # noqa: E402
from references.emsa import EMSA  # noqa: E402
from test_fusion import SPEC as FUSION_SPEC  # noqa: E402
from test_fusion_layout import NON_LOCAL, NonLocal  # noqa: E402

# one head of attention over three dims, q, k, v and the mask its inputs: the spec of
# tests/test_fusion.py at 64 features
ONE_HEAD = FUSION_SPEC.replace("name: A", "name: OneHeadAttention").replace("  d: 8", "  d: 64")


class OneHead(torch.nn.Module):
    """ONE_HEAD by hand: softmax(q k^T / sqrt(d), masked where m is True) v."""

    def __init__(self, d: int, p: float) -> None:
        super().__init__()
        self.d = d
        self.drop = torch.nn.Dropout(p)

    def forward(self, q, k, v, m=None):
        scores = q @ k.transpose(1, 2) * self.d ** -0.5
        if m is not None:
            scores = scores.masked_fill(m, float("-inf"))
        return self.drop(scores.softmax(dim=-1)) @ v


# --module: (generated stem, class, reference class, keyword arguments besides the sizes)
MODULES = {"sdpa": ("sdpa", "ScaledDotProductAttention", ScaledDotProductAttention, {}),
           "emsa": ("emsa", "EMSA", EMSA, {"ratio": 1, "apply_transform": False}),
           "one_head": ("", "OneHeadAttention", OneHead, {}),
           "non_local": ("", "NonLocal", NonLocal, {})}


def in_memory(text: str, reference: torch.nn.Module, *args) -> dict[str, torch.nn.Module]:
    """A spec built in memory, fused and plain, with its hand-written reference's weights."""
    import tempfile

    import attngen

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        loaded = attngen.load(str(path))
        forms = {"fused": loaded.compile()(*args), "plain": loaded.compile(fuse=False)(*args)}
    for m in forms.values():
        m.load_state_dict(reference.state_dict())
    return {**forms, "reference": reference}


def modules(d_model: int, h: int, dropout: float, which: str = "sdpa"):
    if which == "one_head":
        return in_memory(ONE_HEAD, OneHead(d_model // h, dropout), d_model // h, dropout)
    if which == "non_local":  # d_model channels, half of them inside
        torch.manual_seed(0)
        return in_memory(NON_LOCAL, NonLocal(d_model, d_model // 2), d_model, d_model // 2)
    stem, cls, reference, kwargs = MODULES[which]
    args = (d_model, d_model // h, d_model // h, h, dropout)
    torch.manual_seed(0)
    ref = reference(*args, **kwargs)
    fused = getattr(load_generated(stem), cls)(*args, **kwargs)
    plain = load_plain(stem)[cls](*args, **kwargs)
    for m in (fused, plain):
        m.load_state_dict(ref.state_dict())
    return {"fused": fused, "plain": plain, "reference": ref}


def step(module, ins, backward: bool):
    if not backward:
        with torch.no_grad():
            module(*ins)
        return
    module(*ins).sum().backward()
    for x in ins:
        x.grad = None
    module.zero_grad(set_to_none=True)


def timed(clock, module, ins, backward: bool) -> float:
    start = clock()
    step(module, ins, backward)
    return clock() - start


def measure(gen, ref, ins, backward: bool, pairs: int, clock):
    for _ in range(3):  # warm-up
        step(gen, ins, backward)
        step(ref, ins, backward)
    ratios, tg, tr = [], [], []
    for i in range(pairs):
        if i % 2:
            r, g = timed(clock, ref, ins, backward), timed(clock, gen, ins, backward)
        else:
            g, r = timed(clock, gen, ins, backward), timed(clock, ref, ins, backward)
        ratios.append(g / r)
        tg.append(g)
        tr.append(r)
    q = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), q[0], q[2], statistics.median(tg), statistics.median(tr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=21)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--module", choices=sorted(MODULES), default="sdpa")
    p.add_argument("--mask", action="store_true",
                   help="one_head: a bool mask (batch, tokens, tokens), True = masked out")
    p.add_argument("--quick", action="store_true", help="small sizes, 3 pairs (a smoke run)")
    args = p.parse_args(argv)
    if args.mask and args.module != "one_head":
        p.error("--mask is for --module one_head")
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.process_time
    d_model, h, n, b, pairs = (32, 4, 10, 2, 3) if args.quick else (512, 8, 196, 8, args.pairs)
    side = 4 if args.quick else 28
    if args.module == "non_local":  # DANet's size: 512 channels on 28 x 28, batch 2
        b = 2
    mods = modules(d_model, h, args.dropout, args.module)
    print("| form | mode | ratio (median) | quartiles | generated ms | reference ms |\n"
          "|---|---|---|---|---|---|")
    for backward in (False, True):
        for m in mods.values():
            m.train(backward)
        width = d_model // h if args.module == "one_head" else d_model
        ins = tuple(torch.randn(b, n, width, requires_grad=backward) for _ in range(3))
        if args.module == "non_local":  # n positions: side x side
            ins = (torch.randn(b, d_model, side, side, requires_grad=backward),)
        if args.mask:
            mask = torch.rand(b, n, n, generator=torch.Generator().manual_seed(0)) < 0.3
            mask[..., 0] = False  # every query keeps a key
            ins = (*ins, mask)
        for form in ("fused", "plain"):
            med, lo, hi, tg, tr = measure(mods[form], mods["reference"], ins, backward,
                                          pairs, clock)
            print(f"| {form} | {'fwd+bwd' if backward else 'forward'} | {med:.3f} | "
                  f"{lo:.3f} to {hi:.3f} | {tg * 1e3:.1f} | {tr * 1e3:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
