"""accumulate.accumulated: an n-ary sum is added up as its operands are made (issue 16's
peak memory), and the generated forwards it changes hold no more than the references."""
from functools import partial

import pytest
import torch
from attngen.accumulate import accumulated
from equivalence import load_generated
from test_lifetimes import _peak_bytes

MAP = ("B", "C", "H", "W")
GATE = ("B", "C", 1, 1)
SHAPES = {"x": MAP, "a": MAP, "b": MAP, "c": MAP, "g": GATE, "s": MAP, "y": MAP}
BRANCHES = [
    "a = self.one(x)",
    "b = self.two(x)",
    "# (B, C, 1, 1), (B, C, H, W) -> (B, C, H, W)",
    "c = g * x",
    "s = a + b + c",
    "y = torch.relu(s)",
    "return y",
]


def test_each_operand_is_added_once_it_exists_in_the_same_order():
    out = accumulated(BRANCHES, {"x", "g"}, SHAPES.get)
    assert out == [*BRANCHES[:2], "s = a + b", *BRANCHES[2:4], "s = s + c", *BRANCHES[5:]]


def test_operands_made_together_stay_in_one_step():
    lines = ["a = self.one(x)", "b = self.two(x)", "c = self.three(x)", "d = self.four(x)",
             "s = a + b + c + d", "return s"]
    shapes = dict(SHAPES, d=MAP)
    out = accumulated(lines, {"x"}, shapes.get)
    assert out == lines[:2] + ["s = a + b"] + [lines[2]] + ["s = s + c"] + [lines[3]] + [
        "s = s + d", "return s"]
    made_last = ["a = self.one(x)", "b = self.two(x)", "c = a * 2", "s = a + b + c", "return s"]
    assert accumulated(made_last, {"x"}, SHAPES.get) == made_last  # a is read by c too


def test_a_first_input_operand_may_start_the_sum_a_later_one_may_not():
    lines = ["a = self.one(x)", "b = self.two(x)", "s = x * a * b", "return s"]
    assert accumulated(lines, {"x"}, SHAPES.get) == [
        "a = self.one(x)", "s = x * a", "b = self.two(x)", "s = s * b", "return s"]
    later = ["a = self.one(x)", "b = self.two(a)", "s = a * b * x", "return s"]
    assert accumulated(later, {"x"}, SHAPES.get) == later


@pytest.mark.parametrize("lines", [
    # a broadcast operand: an early partial sum would be a full-size map made sooner
    ["a = self.one(x)", "b = self.two(x)", "g = self.gate(x)", "s = a + b + g", "return s"],
    # an operand read after the sum: the partial sum would not replace it
    ["a = self.one(x)", "b = self.two(x)", "c = self.three(x)", "s = a + b + c",
     "y = s + a", "return y"],
    # two operands: nothing to split; a sum of expressions: left as written
    ["a = self.one(x)", "b = self.two(x)", "s = a + b", "return s"],
    ["a = self.one(x)", "b = self.two(x)", "c = self.three(x)", "s = a + b * 2 + c",
     "return s"],
])
def test_sums_that_splitting_would_not_help_are_left_alone(lines):
    assert accumulated(lines, {"x"}, SHAPES.get) == lines


def test_the_split_sum_computes_the_same_value():
    torch.manual_seed(0)
    a, b, c = (torch.randn(1000) * 10 ** k for k in range(3))
    env = {"a": a, "b": b, "c": c}
    lines = ["s = a + b + c"]
    split = accumulated(["a = a + 0", "b = b + 0", "c = c + 0", *lines], set(),
                        dict.fromkeys("abcs", MAP).get)
    exec("\n".join(split), {}, env)  # the test's own lines: ((a + b) + c) both ways
    assert torch.equal(env["s"], a + b + c)


def _asff():
    from references.asff import ASFF

    xs = [torch.randn(4, 64, 28, 28), torch.randn(4, 128, 14, 14), torch.randn(4, 256, 7, 7)]
    return load_generated("asff").ASFF(1, multiplier=0.25), ASFF(1, multiplier=0.25), (xs,)


def _parnet():
    from references.parnet import ParNetAttention

    x = torch.randn(2, 16, 12, 12)
    return load_generated("parnet_attention").ParNetAttention(16), ParNetAttention(16), (x,)


def _channel():
    from references.cbam import ChannelAttention

    x = torch.randn(2, 64, 12, 12)
    return load_generated("cbam").ChannelAttention(64, 16), ChannelAttention(64, 16), (x,)


@pytest.mark.parametrize("make", [_asff, _parnet, _channel], ids=["asff", "parnet", "channel"])
def test_generated_forward_peak_is_at_most_the_references(make):
    """Each was above its reference before: ParNet 5 full-size maps alive against 3, ASFF
    its three weighted levels and their sum, CBAM's channel MLP every pooled vector."""
    gen, ref, inputs = make()
    gen.load_state_dict(ref.state_dict())
    gen.eval()
    ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(gen(*inputs), ref(*inputs))  # and warm-up
        assert _peak_bytes(partial(gen, *inputs)) <= _peak_bytes(partial(ref, *inputs))


def test_a_list_made_only_to_be_summed_is_summed_as_its_items_are_made():
    lines = ["# x -> [x] * 3", "parts = [layer(x) for layer in self.branches]",
             "# [x] * 3 -> x", "s = sum(parts)", "return s"]
    assert accumulated(lines, {"x"}, SHAPES.get) == [
        "# x -> [x] * 3", "# [x] * 3 -> x", "s = sum(layer(x) for layer in self.branches)",
        "return s"]
    read_again = lines[:4] + ["y = s + parts[0]", "return y"]
    assert accumulated(read_again, {"x"}, SHAPES.get) == read_again
    apart = lines[:2] + ["z = torch.relu(x)"] + lines[2:]
    assert accumulated(apart, {"x"}, SHAPES.get) == apart  # not right after: left alone
    weighted = lines[:3] + ["s = sum(parts, 1.0)", "return s"]
    assert accumulated(weighted, {"x"}, SHAPES.get) == weighted


def test_a_generator_sum_holds_one_item_at_a_time(tmp_path):
    """Three branch convolutions summed: the generated forward holds what a hand-written
    `sum(conv(x) for conv in convs)` holds, less than the list of all three."""
    import attngen

    spec = tmp_path / "branches.yaml"
    spec.write_text("name: Branches\nparams:\n  c: 16\ninputs:\n  x: [B, c, H, W]\ngraph:\n"
                    "  branches: {each: 'k in [1, 3, 5]', op: Conv2d, args: [c, c], "
                    "kernel_size: k, padding: k // 2, in: x}\n"
                    "  out: {op: add, in: branches}\noutputs: out\n")
    loaded = attngen.load(str(spec))
    assert "out = sum(layer(x) for layer in self.branches)" in loaded.source()
    from attngen import verify  # no variable holds the list: verify checks the sum's shape

    assert not verify.verify(loaded.checked, n_samples=2, export=False).errors
    module = loaded.compile()().eval()
    x = torch.randn(2, 16, 32, 32)

    def as_list():
        with torch.no_grad():
            return sum([conv(x) for conv in module.branches])

    def generated():
        with torch.no_grad():
            return module(x)
    torch.testing.assert_close(generated(), as_list(), rtol=0, atol=0)
    assert _peak_bytes(generated) < _peak_bytes(as_list)
