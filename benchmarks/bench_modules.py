"""Generated modules vs the hand-written references: forward and forward+backward time.

Every (generated file, class) of tests/equiv_cases/*.py is timed against its reference
(tests/references/), both built under the same seed with the reference's state_dict
loaded into the generated module, at a realistic but CPU-friendly size (SIZES below; a
class without an entry runs at its first equivalence row's size, marked "test size").

Timing: a fixed thread count (default 1), warm-up calls, then pairs of equal-length blocks
run back to back, interleaved (generated, reference, reference, generated, ...: who goes
first alternates); each pair gives a ratio generated/reference and the table shows the
median ratio with the median times. Times are the CPU time of the calling thread
(time.thread_time; process time with --threads > 1), so time slices lost to other
processes on a busy machine do not count. --control times the reference against a second
copy of itself instead: its ratios show the noise floor of the method on this machine.
"forward" is eval mode under torch.no_grad(); "fwd+bwd" is train mode with inputs that require
grad, backward of the sum of every floating output (gradients set to None between calls).

    .venv/bin/python benchmarks/bench_modules.py [--quick] [--threads N] [--only SUBSTR]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import math
import os
import pkgutil
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import equiv_cases  # noqa: E402  (found through the sys.path entry above)
from equivalence import _tensor_leaves, load_generated  # noqa: E402


def rand(*shape):
    return lambda: (torch.randn(*shape),)


def pyramid(batch, channels, h, w):
    """A list of maps, small-to-large channels, each half the size of the next."""
    n = len(channels)
    return lambda: ([torch.randn(batch, c, h * 2 ** (n - 1 - i), w * 2 ** (n - 1 - i))
                     for i, c in enumerate(channels)],)


def qkv(b, n, d):
    return lambda: (torch.randn(b, n, d), torch.randn(b, n, d), torch.randn(b, n, d))


IMG = rand(8, 256, 28, 28)  # batch 8, 256 channels, 28 x 28: a ResNet stage-3 map
SMALL = rand(8, 64, 28, 28)  # for blocks whose large kernels make 256 channels minutes long
BIG = rand(2, 512, 28, 28)  # DANet and CoT at the issue's 512 channels, batch 2
TOKENS = qkv(8, 196, 512)  # a ViT-B/16-like layer: 196 tokens of 512, batch 8
# (generated stem, class) -> (args, kwargs, inputs factory)
SIZES = {
    ("se", "SEAttention"): ((256,), {"reduction": 16}, IMG),
    ("eca", "ECAAttention"): ((), {"kernel_size": 3}, IMG),
    ("cbam", "CBAM"): ((256,), {"ratio": 16, "kernel_size": 7}, IMG),
    ("cbam", "ChannelAttention"): ((256, 16), {}, IMG),
    ("cbam", "SpatialAttention"): ((), {"kernel_size": 7}, IMG),
    ("sk", "SKAttention"): ((), {"channel": 64, "reduction": 8, "L": 32}, SMALL),
    ("coordatt", "CoordAtt"): ((256, 256), {"reduction": 32}, IMG),
    ("ema", "EMA"): ((256,), {"factor": 8}, IMG),
    # a YOLOv8 neck's upsampling: 256 channels of a 20 x 20 map (640 images) to 40 x 40
    ("carafe", "CARAFE"): ((256,), {}, rand(8, 256, 20, 20)),
    ("dysample", "DySample"): ((256,), {}, rand(8, 256, 20, 20)),  # the same neck's
    # BiFormer-T's third stage: 256 channels of a 14 x 14 map (224 images), 8 heads, 7 x 7
    # regions of 2 x 2 tokens, each routed to 16
    ("bi_level_routing_attention", "BiLevelRoutingAttention"): ((256, 8, 7, None, 16), {},
                                                                 rand(8, 256, 14, 14)),
    # dynamic convolutions as a ResNet stage-3 3x3 conv: 256 channels, 4 experts
    ("cond_conv", "CondConv"): ((256, 256, 3, 1, 1), {"K": 4}, IMG),
    ("dynamic_conv", "DynamicConv"): ((256, 256, 3, 1, 1), {"K": 4}, IMG),
    # RedNet's involution: 7 x 7 kernels, 16 channels a group, on 64 channels of 28 x 28
    ("involution", "Involution"): ((7, 64), {"group": 4}, SMALL),
    # CrossFormer-S's first stage: 96 features, 3 heads, groups of 7 x 7 (64 groups of a
    # 56 x 56 map, batch 2); its bias MLP over the 13 x 13 offsets of such a group
    ("crossformer_attention", "CrossFormerAttention"): ((96, (7, 7), 3), {},
                                                         rand(128, 49, 96)),
    ("dynamic_pos_bias", "DynamicPosBias"): ((24, 3, False), {}, rand(169, 2)),
    # HorNet-T's third stage: order 4 on 256 channels of a 14 x 14 map, the scale 1 / 3
    ("gnconv", "GnConv"): ((256,), {"order": 4, "s": 1.0 / 3.0}, rand(8, 256, 14, 14)),
    ("coordatt", "h_swish"): ((), {}, IMG),
    ("coordatt", "h_sigmoid"): ((), {}, IMG),
    ("cot", "CoTAttention"): ((), {"dim": 512, "kernel_size": 3}, BIG),
    ("triplet", "TripletAttention"): ((), {}, IMG),
    ("triplet", "AttentionGate"): ((), {}, IMG),
    ("triplet", "ZPool"): ((), {}, IMG),
    ("danet", "DAModule"): ((512, 3, 28, 28), {}, BIG),
    ("danet", "PositionAttentionModule"): ((512, 3, 28, 28), {}, BIG),
    ("danet", "ChannelAttentionModule"): ((512, 3, 28, 28), {}, BIG),
    ("sdpa", "ScaledDotProductAttention"): ((512, 64, 64, 8), {}, TOKENS),
    ("simplified_sdpa", "SimplifiedScaledDotProductAttention"): ((512, 8), {}, TOKENS),
    ("asff", "ASFF"): ((1,), {"multiplier": 0.25}, pyramid(4, [64, 128, 256], 7, 7)),
    ("asff", "Conv"): ((256, 256, 3), {}, IMG),
    ("fpn", "PyramidFeatures"): ((64, 128, 256), {"feature_size": 64},
                                 pyramid(4, [64, 128, 256], 7, 7)),
    ("mtgnn", "TemporalConv"): ((32, 32, 1, 19), {}, rand(8, 32, 32, 19)),
    ("mtgnn", "temporal_conv"): ((32, 32, 1, 19), {}, rand(8, 32, 32, 19)),
    ("mtgnn", "DilatedInception"): ((32, 32, 1, 19), {}, rand(8, 32, 32, 19)),
    ("mtgnn", "dilated_inception"): ((32, 32, 1, 19), {}, rand(8, 32, 32, 19)),
    ("simam", "SimAM"): ((), {}, IMG),
    ("external_attention", "ExternalAttention"): ((512,), {"S": 64}, rand(8, 196, 512)),
    ("parnet_attention", "ParNetAttention"): ((), {"channel": 256}, IMG),
    ("residual_attention", "ResidualAttention"): ((), {"channel": 512, "num_class": 1000},
                                                  rand(8, 512, 7, 7)),
    ("mobilevitv2_attention", "MobileViTv2Attention"): ((512,), {}, rand(8, 196, 512)),
    ("double_attention", "DoubleAttention"): ((256, 128, 128), {}, IMG),
    ("parallel_polarized_self_attention", "ParallelPolarizedSelfAttention"):
        ((), {"channel": 256}, IMG),
    ("sequential_polarized_self_attention", "SequentialPolarizedSelfAttention"):
        ((), {"channel": 256}, IMG),
    ("bam", "BAMBlock"): ((), {"channel": 256, "reduction": 16}, IMG),
    ("shuffle_attention", "ShuffleAttention"): ((), {"channel": 256, "G": 8}, IMG),
    ("sge", "SpatialGroupEnhance"): ((8,), {}, IMG),
    ("s2_attention", "S2Attention"): ((), {"channels": 256}, IMG),
    ("criss_cross", "CrissCrossAttention"): ((256,), {}, IMG),
    ("ufo_attention", "UFOAttention"): ((512, 64, 64, 8), {}, TOKENS),
    ("outlook_attention", "OutlookAttention"): ((256,), {}, rand(8, 28, 28, 256)),
    ("aft_full", "AFT_FULL"): ((512,), {"n": 196}, rand(8, 196, 512)),
    ("psa", "PSA"): ((), {"channel": 256}, IMG),
    ("vip", "WeightedPermuteMLP"): ((512, 8), {}, rand(8, 8, 8, 512)),
    ("emsa", "EMSA"): ((512, 64, 64, 8), {"H": 14, "W": 14, "ratio": 2}, TOKENS),
    ("muse_attention", "MUSEAttention"): ((512, 64, 64, 8), {}, TOKENS),
    # MobileViT-S's first block: 96 channels, 144 features, 2 x 2 patches of a 32 x 32 map
    ("mobilevit_attention", "MobileViTAttention"):
        ((96, 144, 3, 2), {"depth": 2, "heads": 4, "head_dim": 36, "mlp_dim": 288},
         rand(8, 96, 32, 32)),
    ("mobilevit_transformer", "MobileViTTransformer"): ((144, 2, 4, 36, 288), {},
                                                        rand(8, 4, 256, 144)),
    # attention along H and along W of a 28 x 28 map of 256 channels (features first)
    ("axial_attention", "AxialAttention"): ((256,), {"dim_index": 1}, IMG),
    # GFNet-S/12's filter: 384 features over the 14 x 14 tokens of a 224 image, batch 8
    ("global_filter", "GlobalFilter"): ((384,), {}, rand(8, 196, 384)),
    ("gfnet_mlp", "GFNetMlp"): ((384, 1536), {}, rand(8, 196, 384)),
    ("gfnet_block", "GFNetBlock"): ((384,), {}, rand(8, 196, 384)),
    # its patch embedding and the whole network at the original's defaults (four blocks,
    # 1000 classes), batch 8 of 224 x 224 images
    ("gfnet_patch_embed", "GFNetPatchEmbed"): ((), {"embed_dim": 384}, rand(8, 3, 224, 224)),
    ("gfnet", "GFNet"): ((), {}, rand(8, 3, 224, 224)),
    # HaloNet's attention at a ResNet stage-3 width: blocks of 8 with a halo of 3 (14 x 14
    # keys a block), 8 heads of 64, a 32 x 32 map; its relative logits at those sizes (the
    # reference shifts them as the original does; the generated module reads an index table)
    ("halo_attention", "HaloAttention"): ((256, 8, 3), {}, rand(8, 256, 32, 32)),
    ("halo_rel_pos_emb", "HaloRelPosEmb"): ((8, 14, 64), {}, rand(1024, 64, 64)),
    ("variants/halo_padding_masked", "HaloAttentionPaddingMasked"):
        ((256, 8, 3), {}, rand(8, 256, 32, 32)),
    # MBConv at CoAtNet's second stage (96 channels, a 56 x 56 map) expanded 4 times as
    # EfficientNet's blocks are; CoAtNet at its defaults on 224 x 224 images, batch 2
    ("mbconv", "MBConvBlock"): ((3, 96, 96), {"expand_ratio": 4, "image_size": 56},
                                rand(8, 96, 56, 56)),
    ("coatnet", "CoAtNet"): ((3, 224), {}, rand(2, 3, 224, 224)),
    # ACmix at its defaults (window 7, 4 heads) on a ResNet stage-3 map of 256 channels
    ("acmix", "ACmix"): ((256, 256), {}, rand(8, 256, 28, 28)),
    # Swin-T's first stage: 7 x 7 windows of 96 features, 3 heads; the 64 windows of a
    # 56 x 56 map, batch 8
    ("window_attention", "WindowAttention"): ((96, (7, 7), 3), {}, rand(512, 49, 96)),
    # PVT-S's second stage: 128 features in 2 heads over a 28 x 28 map, keys and values
    # from the map shrunk 4 times (7 x 7), batch 8; forward(x, H, W)
    ("pvt_attention", "SpatialReductionAttention"):
        ((128,), {"num_heads": 2, "sr_ratio": 4}, lambda: (torch.randn(8, 784, 128), 28, 28)),
    ("variants/se_max", "SEMaxAttention"): ((256,), {"reduction": 16}, IMG),
    ("variants/se_avgmax", "SEAvgMaxAttention"): ((256,), {"reduction": 16}, IMG),
    ("variants/eca_adaptive", "ECAAdaptiveAttention"): ((256,), {}, IMG),
    ("variants/cbam_channel_only", "CBAMChannelOnly"): ((256,), {"ratio": 16}, IMG),
    ("variants/coordatt_relu", "CoordAttReLU"): ((256, 256), {"reduction": 32}, IMG),
    ("variants/sk_two_branch", "SKTwoBranchAttention"): ((), {"channel": 64, "L": 32}, SMALL),
}
# Modules whose core is softmax(q k^T) v, where fused attention applies: their targets are
# 0.80 forward, 0.90 forward+backward (issue 16); every other module's is 1.03 both ways.
ATTENTION = {("sdpa", "ScaledDotProductAttention"),
             ("simplified_sdpa", "SimplifiedScaledDotProductAttention"),
             ("danet", "DAModule"), ("danet", "PositionAttentionModule"),
             ("danet", "ChannelAttentionModule"), ("muse_attention", "MUSEAttention"),
             ("mobilevit_attention", "MobileViTAttention"),
             ("mobilevit_transformer", "MobileViTTransformer"),
             ("axial_attention", "AxialAttention"), ("window_attention", "WindowAttention"),
             ("bi_level_routing_attention", "BiLevelRoutingAttention"),
             ("pvt_attention", "SpatialReductionAttention")}


def targets(stem: str, cls: str, other: float) -> tuple[float, float]:
    """(forward, fwd+bwd) ratio targets of one module."""
    return (0.80, 0.90) if (stem, cls) in ATTENTION else (other, other)


def modules() -> list[tuple]:
    """One row per (generated stem, class) of the equivalence cases, in their order."""
    seen = {}
    for m in pkgutil.iter_modules(equiv_cases.__path__):
        for stem, cls, ref, args, kwargs, inputs in importlib.import_module(
                f"equiv_cases.{m.name}").CASES:
            if (stem, cls) in seen:
                continue
            size = SIZES.get((stem, cls))
            seen[(stem, cls)] = (stem, cls, ref, *(size or (args, kwargs, inputs)), size is None)
    return list(seen.values())


def build(stem, cls, ref, args, kwargs):
    module_name, ref_cls = ref.split(":")
    ref_type = getattr(importlib.import_module(f"references.{module_name}"), ref_cls)
    gen_type = getattr(load_generated(stem), cls)
    torch.manual_seed(0)
    reference = ref_type(*args, **kwargs)
    torch.manual_seed(0)
    generated = gen_type(*args, **kwargs)
    generated.load_state_dict(reference.state_dict(), strict=True)
    return generated, reference


def forward_step(module, inputs):
    def step():
        with torch.no_grad():
            module(*inputs)
    return step


def backward_step(module, inputs):
    """Inputs require grad too: an attention block sits inside a network."""
    inputs = tuple(_with_grad(v) for v in inputs)
    params = list(module.parameters()) + [t for _, t in _tensor_leaves(inputs)
                                          if t.requires_grad]

    def reset():
        for p in params:
            p.grad = None

    def step():
        reset()
        outs = [t for _, t in _tensor_leaves(module(*inputs)) if t.is_floating_point()]
        loss = sum(t.sum() for t in outs if t.requires_grad)
        if isinstance(loss, torch.Tensor):
            loss.backward()
    step.reset = reset  # type: ignore[attr-defined]
    return step


def _with_grad(v):
    if isinstance(v, torch.Tensor):
        return v.detach().clone().requires_grad_(v.is_floating_point())
    if isinstance(v, (list, tuple)):
        return type(v)(_with_grad(t) for t in v)
    return v


CLOCK = (
    time.thread_time
)  # CPU time of this thread: time slices lost to other processes don't count


def block(step, n: int) -> float:
    t0 = CLOCK()
    for _ in range(n):
        step()
    return CLOCK() - t0


def compare(gen_step, ref_step, *, pairs: int, block_s: float, warmup: int):
    """Ratios generated/reference of interleaved pairs of blocks; median times per call."""
    for _ in range(warmup):
        gen_step()
        ref_step()
    one = min(block(gen_step, 1), block(ref_step, 1), block(gen_step, 1), block(ref_step, 1))
    n = max(1, math.ceil(block_s / max(one, 1e-6)))
    ratios, gen_t, ref_t = [], [], []
    for i in range(pairs):  # who goes first alternates, so an order effect cancels out
        if i % 2 == 0:
            g = block(gen_step, n)
            r = block(ref_step, n)
        else:
            r = block(ref_step, n)
            g = block(gen_step, n)
        ratios.append(g / r)
        gen_t.append(g / n)
        ref_t.append(r / n)
    return ratios, statistics.median(gen_t), statistics.median(ref_t)


def spread(ratios: list[float]) -> tuple[float, float, float]:
    """(median, first quartile, third quartile) of the pair ratios."""
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    q1, q2, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return q2, q1, q3


def peak_bytes(step) -> int:
    """Peak of the tensor bytes one call holds on top of what existed before it.

    torch's profiler with profile_memory=True records every allocation and free of the CPU
    allocator ("[memory]" events, bytes signed); the running sum in time order, from 0 at
    the call's start, peaks at the call's high-water mark. Python objects and allocator
    caching are not counted: this is the tensor memory the code asks for. Gradients of an
    earlier call are dropped first, so both sides start from the same state.
    """
    from torch.profiler import ProfilerActivity, profile

    getattr(step, "reset", lambda: None)()  # no gradients of an earlier call to free
    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    held = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        held += e.nbytes()
        peak = max(peak, held)
    return peak


def keep_freed_memory() -> bool:
    """glibc: serve tensors from the heap and keep freed memory instead of returning it to
    the kernel, so repeated calls reuse warm pages instead of paying page faults whose cost
    swings with the machine's load (M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 32 << 20)) and bool(libc.mallopt(-1, 1 << 30))
    except (OSError, AttributeError):
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 pairs of short blocks")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--control", action="store_true",
                    help="reference vs a copy of itself (the noise floor), not generated")
    ap.add_argument("--page-faults", action="store_true",
                    help="leave glibc malloc's defaults (freed tensors go back to the kernel)")
    ap.add_argument("--pairs", type=int, default=21, help="interleaved pairs per measure")
    ap.add_argument("--block", type=float, default=0.02, help="seconds per block (default 0.02)")
    ap.add_argument("--only", default="", help="only classes/stems containing this text")
    ap.add_argument("--target", type=float, default=1.03,
                    help="ratio target of the non-attention modules (default 1.03)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak memory columns")
    args = ap.parse_args(argv)
    heap = keep_freed_memory() if not args.page_faults else False
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.thread_time if args.threads == 1 else time.process_time
    pairs, block_s, warmup = (3, 0.002, 1) if args.quick else (args.pairs, args.block, 3)
    rows = [m for m in modules() if args.only in f"{m[0]}.{m[1]}"]
    what = "reference vs reference (control)" if args.control else "generated vs reference"
    print(f"{what}: torch {torch.__version__}, {args.threads} thread(s) of "
          f"{os.cpu_count()} CPUs, {pairs} pairs per measure, freed memory "
          f"{'kept by malloc' if heap else 'returned to the kernel'}, "
          f"blocks of ~{1000 * block_s:.0f} ms\n")
    print("| module | input | forward gen / ref (ms) | forward ratio [IQR] "
          "| fwd+bwd gen / ref (ms) | fwd+bwd ratio [IQR] | peak MiB fwd gen / ref "
          "| peak MiB fwd+bwd gen / ref |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    misses = []
    t_start = time.perf_counter()
    for stem, cls, ref, c_args, c_kwargs, inputs, test_size in rows:
        gen, refm = build(stem, cls, ref, c_args, c_kwargs)
        if args.control:
            gen = build(stem, cls, ref, c_args, c_kwargs)[1]
        torch.manual_seed(1)
        x = inputs()
        x = x if isinstance(x, tuple) else (x,)
        cells, memory = [], []
        goals = targets(stem, cls, args.target)
        for mode, target in zip(("forward", "fwd+bwd"), goals, strict=True):
            for m in (gen, refm):
                m.eval() if mode == "forward" else m.train()
            make = forward_step if mode == "forward" else backward_step
            gen_step, ref_step = make(gen, x), make(refm, x)
            ratios, g, r = compare(gen_step, ref_step, pairs=pairs, block_s=block_s,
                                   warmup=warmup)
            med, q1, q3 = spread(ratios)
            flag = ""
            if med > target:
                flag = " **!**"
                misses.append(f"{stem}.{cls} {mode} {med:.3f} (target {target:.2f})")
            cells += [f"{1e3 * g:.2f} / {1e3 * r:.2f}",
                      f"{med:.3f} [{q1:.3f}, {q3:.3f}]{flag}"]
            if args.no_memory:
                memory.append("-")
                continue
            pg, pr = peak_bytes(gen_step), peak_bytes(ref_step)
            mflag = ""
            if pg > pr:
                mflag = " **!**"
                misses.append(f"{stem}.{cls} {mode} peak memory {pg / 2**20:.2f} MiB > "
                              f"{pr / 2**20:.2f} MiB")
            memory.append(f"{pg / 2**20:.2f} / {pr / 2**20:.2f}{mflag}")
        shapes = "; ".join("x".join(map(str, t.shape)) for _, t in _tensor_leaves(x, ""))
        size = " (test size)" if test_size else ""
        print(f"| {stem}.{cls} | {shapes}{size} | " + " | ".join(cells + memory) + " |",
              flush=True)
    print(f"\n{len(rows)} modules in {time.perf_counter() - t_start:.0f} s; targets: "
          f"attention modules ({len(ATTENTION)}) 0.80 forward, 0.90 fwd+bwd; others "
          f"{args.target}; peak memory at most the reference's")
    print("missed:" if misses else "every target met")
    for line in misses:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
