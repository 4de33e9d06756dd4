"""lifetimes.with_dels: forward frees each large intermediate before the next large value."""
from functools import partial

import torch
from attngen.lifetimes import DEL_WIDTH, with_dels
from equivalence import load_generated

CHAIN = [
    "a = self.conv(x)",
    "# (B, C, H, W) -> (B, C*H*W)",
    "b = a.view(B, -1)",
    "c = torch.relu(b)",
    "# a comment over d",
    "d = c * 2",
    "return d",
]


def test_dead_values_and_their_views_go_before_the_next_large_value():
    out = with_dels(CHAIN, {"x"}, {"a", "b", "c", "d"}, {"a", "b", "c", "d"})
    assert out == [*CHAIN[:4], "del a, b", *CHAIN[4:]]  # above d's comment, a with its view


def test_nothing_is_deleted_before_the_return_or_when_nothing_large_follows():
    out = with_dels(CHAIN, {"x"}, {"a", "b", "c", "d"}, {"a", "b", "c"})
    assert out == CHAIN  # d is small: a and b are freed by the return


def test_inputs_their_views_and_conditional_names_are_never_deleted():
    lines = [
        "v = x.view(B, -1)",
        "if m is not None:",
        "    e = v * m",
        "f = torch.relu(v)",
        "g = f + 1",
        "return g",
    ]
    out = with_dels(lines, {"x", "m"}, {"v", "e", "f", "g"}, {"v", "e", "f", "g"})
    assert out == lines  # v shares x's storage; e may be unbound; f dies at the return


def test_source_that_does_not_parse_is_returned_unchanged():
    assert with_dels(["y = (", "return y"], set(), {"y"}, {"y"}) == ["y = (", "return y"]


def _peak_bytes(step) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    held = peak = 0
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    for e in sorted(events, key=lambda e: e.start_ns()):
        held += e.nbytes()
        peak = max(peak, held)
    return peak


def test_generated_forward_holds_no_more_memory_than_the_reference():
    """SimAM and SDPA name a chain of full-size intermediates: freed as they die, the
    generated forward's peak is at most the hand-written one's (it was 2x and 1.7x)."""
    from references.attention import ScaledDotProductAttention
    from references.simam import SimAM

    x = torch.randn(2, 16, 12, 12)
    q = torch.randn(2, 20, 32)
    cases = [(load_generated("simam").SimAM(), SimAM(), (x,)),
             (load_generated("sdpa").ScaledDotProductAttention(32, 8, 8, 4),
              ScaledDotProductAttention(32, 8, 8, 4), (q, q, q))]
    for gen, ref, inputs in cases:
        gen.eval()
        ref.eval()
        with torch.no_grad():
            gen(*inputs), ref(*inputs)  # warm-up: first-call allocations
            assert _peak_bytes(partial(gen, *inputs)) <= _peak_bytes(partial(ref, *inputs))


def test_a_long_del_is_several_lines_that_fit():
    names = [f"value_number_{i}" for i in range(12)]
    lines = ["x0 = self.conv(x)", *(f"{n} = x0 * {i}" for i, n in enumerate(names)),
             f"y = {' + '.join(names)}", "z = y * 2", "return z"]
    out = with_dels(lines, {"x"}, {"x0", *names, "y", "z"}, {"x0", *names, "y", "z"})
    dels = [line for line in out if line.startswith("del ")]
    assert len(dels) > 1 and all(len(line) <= DEL_WIDTH for line in dels)
    assert sorted(n for line in dels for n in line[4:].split(", ")) == sorted(["x0", *names])
