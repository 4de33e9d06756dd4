"""In-place layers that overwrite a tensor something else still needs (in_place_reads.py):
another reader of the same memory (a silently wrong value: `a + relu_(a)` was built as
`2 * relu(a)`), the module's returned tensor, and an output the maker's backward keeps
(Dropout in place after softmax: training failed). What may be written stays allowed."""

from __future__ import annotations

import pytest
from attngen.cli import main
from attngen.in_place_reads import SAVES_OUTPUT

HEAD = """\
name: Inpl
params:
  c: {default: 4}
inputs:
  x: [B, c, H, W]
graph:
  a: {op: Conv2d, args: [c, c, 1], in: x}
"""


def _check(tmp_path, capsys, graph: str, outputs: str = "out", head: str = HEAD):
    path = tmp_path / "inpl.yaml"
    path.write_text(head + graph + f"outputs: {outputs}\n")
    code = main(["check", "-q", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("graph", "outputs", "message"), [
    ("  b: {op: ReLU, inplace: true, in: a}\n  out: {op: add, in: [a, b]}\n", "out",
     "node 'b': ReLU with 'inplace: true' overwrites 'a', which node 'out' also reads"),
    ("  v: {op: view, in: a, to: [-1]}\n  b: {op: ReLU, inplace: true, in: v}\n"
     "  out: {op: add, in: [a, x]}\n  o2: {op: mul, in: b, other: 2}\n", "[out, o2]",
     "overwrites 'v', which node 'out' also reads"),
    ("  out: {op: add, in: [a, x]}\n  b: {op: SiLU, inplace: true, in: a}\n", "[out, b]",
     "which node 'out' also reads"),  # read before the write: autograd's copy
    ("  b: {op: ReLU, inplace: true, in: a}\n", "[a, b]", "which the module returns"),
    ("  b: {op: ReLU, inplace: true, in: x}\n  out: {op: add, in: [a, b]}\n", "out",
     "overwrites 'x', which node 'a' also reads"),  # the conv's saved input
    ("  s: {op: softmax, in: a, dim: -1}\n  out: {op: Dropout, args: [0.1], inplace: true, "
     "in: s}\n", "out", "overwrites the output of node 's', which its backward needs"),
    ("  out: {seq: [{op: Sigmoid}, {op: ReLU, inplace: true}], in: a}\n", "out",
     "ReLU with 'inplace: true' overwrites the output of the Sigmoid before it"),
    # found by a review: ops that may return their input itself, a seq through views
    ("  v: {op: contiguous, in: a}\n  r: {op: ReLU, inplace: true, in: v}\n"
     "  out: {op: add, in: [r, a]}\n", "out", "overwrites 'v', which node 'out' also reads"),
    ("  v: {op: cast, in: a, to: float32}\n  r: {op: ReLU, inplace: true, in: v}\n"
     "  out: {op: add, in: [r, a]}\n", "out", "overwrites 'v', which node 'out' also reads"),
    ("  r: {seq: [{op: Flatten}, {op: ReLU, inplace: true}], in: a}\n"
     "  af: {op: flatten, in: a, start_dim: 1}\n  out: {op: add, in: [r, af]}\n", "out",
     "overwrites 'a', which node 'out' also reads"),  # through the view af
    ("  ds: {each: i in range(2), op: Hardswish, inplace: true, in: a}\n"
     "  out: {op: add, in: ds}\n", "out", "in every copy of an 'each' writes its one input"),
    ("  g: {param: [c, 1, 1], init: ones}\n  r: {op: ReLU, inplace: true, in: g}\n"
     "  out: {op: mul, in: [a, r]}\n", "out", "overwrites the param 'g' of the module"),
    ("  blocks:\n    each: i in range(1)\n    in: a\n    shape: [B, c, H, W]\n    body:\n"
     "      r: {op: Hardswish, inplace: true, in: a}\n  out: {op: add, in: [blocks, a]}\n",
     "out", "the loop body, which writes a tensor it reads in place, overwrites 'a'"),
])
def test_an_in_place_write_something_still_needs_is_refused(tmp_path, capsys, graph, outputs,
                                                             message):
    code, err = _check(tmp_path, capsys, graph, outputs)
    assert code == 1 and "error[E402]" in err and message in err, err
    assert "leave out 'inplace: true'" in err


@pytest.mark.parametrize("graph", [
    "  b: {op: ReLU, inplace: true, in: a}\n  out: {op: mul, in: b, other: 2}\n",
    "  v: {op: view, in: a, to: [-1]}\n  out: {op: ReLU, inplace: true, in: v}\n",
    "  out: {seq: [{op: BatchNorm2d, args: [c]}, {op: ReLU, inplace: true}], in: a}\n",
    "  b: {op: ReLU, inplace: true, in: x}\n  out: {op: Conv2d, args: [c, c, 1], in: b}\n",
    # a declared in-place layer (no `in:`: a traceback once) applied where nothing else reads
    "  act: {op: ReLU, inplace: true}\n  out: {apply: act, in: a}\n",
    "  act: {op: ReLU, inplace: true, unused: true}\n  out: {op: mul, in: a, other: 2}\n",
    # a seq's last layer that is off in this configuration keeps nothing for backward
    "  s: {seq: [{op: BatchNorm2d, args: [c]}, {op: Sigmoid, when: false}], in: a}\n"
    "  out: {op: Dropout, args: [0.1], inplace: true, in: s}\n",
])
def test_a_write_nothing_else_needs_is_allowed(tmp_path, capsys, graph):
    torch = pytest.importorskip("torch")
    head = HEAD if "in: a" in graph else HEAD.replace("  a: {op: Conv2d, args: [c, c, 1], "
                                                      "in: x}\n", "")
    code, err = _check(tmp_path, capsys, graph, head=head)  # (x: the caller's affair)
    assert code == 0, err
    import attngen
    module = attngen.load(str(tmp_path / "inpl.yaml")).compile()()
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    module(x.clone()).sum().backward()  # trains


def test_a_sub_spec_that_writes_its_input_is_an_in_place_write(tmp_path, capsys):
    (tmp_path / "act.yaml").write_text(
        "name: Act\ninputs:\n  t: [N, C]\ngraph:\n  r: {op: ReLU, inplace: true, in: t}\n"
        "outputs: r\n")
    head = "name: Top\ninputs:\n  x: [N, C]\ngraph:\n  a: {op: mul, in: x, other: 2}\n"
    code, err = _check(tmp_path, capsys, "  r: {use: act.yaml, in: a}\n  out: {op: add, in: "
                       "[a, r]}\n", head=head)
    assert code == 1 and "node 'r': Act, which writes its input in place, overwrites 'a'" in err


def test_a_sub_spec_writing_its_input_as_its_caller_sets_it_and_one_keeping_its_output(
        tmp_path, capsys):
    (tmp_path / "act2.yaml").write_text(
        "name: Act2\nparams:\n  ip: false\ninputs:\n  t: [N, C]\ngraph:\n"
        "  r: {op: ReLU, inplace: ip, in: t}\noutputs: r\n")
    (tmp_path / "sig.yaml").write_text(
        "name: Sig\ninputs:\n  t: [N, C]\ngraph:\n  s: {op: Sigmoid, in: t}\noutputs: s\n")
    (tmp_path / "ident.yaml").write_text(
        "name: Ident\ninputs:\n  t: [N, C]\ngraph:\n  v: {op: unsqueeze, in: t, dim: 0}\n"
        "  w: {op: squeeze, in: v, dim: 0}\noutputs: w\n")
    head = "name: Top\ninputs:\n  x: [N, C]\ngraph:\n  a: {op: mul, in: x, other: 2}\n"
    for graph, message in (
            ("  r: {use: act2.yaml, ip: true, in: a}\n  out: {op: add, in: [a, r]}\n",
             "node 'r': Act2, which writes its input in place, overwrites 'a'"),
            ("  s: {use: sig.yaml, in: a}\n  out: {op: Dropout, args: [0.1], inplace: true, "
             "in: s}\n", "overwrites the output of node 's', which its backward needs"),
            ("  f: {use: ident.yaml, in: a}\n  r: {op: ReLU, inplace: true, in: f}\n"
             "  out: {op: add, in: [r, a]}\n", "overwrites 'f', which node 'out' also reads")):
        code, err = _check(tmp_path, capsys, graph, head=head)
        assert code == 1 and message in err, err
    code, err = _check(tmp_path, capsys, "  r: {use: act2.yaml, in: a}\n"
                       "  out: {op: add, in: [a, r]}\n", head=head)
    assert code == 0, err  # its inplace off: nothing written


@pytest.mark.parametrize(("graph", "message"), [  # found by a second review
    ("  h: {seq: [{op: Linear, args: [c, c]}, {op: LeakyReLU, inplace: true}, {op: Dropout, "
     "args: [0.5], inplace: true}], in: x}\n", "overwrites the output of the LeakyReLU before"),
    ("  a: {op: Linear, args: [c, c], in: x}\n  r: {op: ReLU, inplace: true, in: a}\n"
     "  h: {op: Dropout, args: [0.5], inplace: true, in: r}\n",
     "overwrites the output of node 'r'"),
    ("  g: {seq: [{op: Linear, args: [c, c]}, {op: Sigmoid}, {op: Flatten}], in: x}\n"
     "  h: {op: Dropout, args: [0.5], inplace: true, in: g}\n",
     "overwrites the output of node 'g'"),
    ("  m: {op: logsumexp, in: x, dim: 1, keepdim: true}\n"
     "  h: {op: ReLU, inplace: true, in: m}\n", "overwrites the output of node 'm'"),
    ("  a: {op: Linear, args: [c, 2 * c], in: x}\n"
     "  parts: {op: chunk, in: a, chunks: 2, dim: 1, out: [p, q]}\n"
     "  r: {op: ReLU, inplace: true, in: p}\n  h: {op: add, in: [r, q]}\n",
     "overwrites 'p', a part chunk returns: torch refuses"),
])
def test_a_write_into_a_kept_output_or_a_part_is_refused(tmp_path, capsys, graph, message):
    head = "name: Top\nparams:\n  c: {type: int, example: 8}\ninputs:\n  x: [N, c]\ngraph:\n"
    code, err = _check(tmp_path, capsys, graph, "h", head=head)
    assert code == 1 and message in err, err


def test_sub_specs_alias_by_position_and_a_seq_follows_them(tmp_path, capsys):
    (tmp_path / "pick2.yaml").write_text(
        "name: Pick2\ninputs:\n  a: [N, C]\n  b: [N, C]\ngraph:\n"
        "  o: {op: identity, in: b}\noutputs: o\n")
    (tmp_path / "two.yaml").write_text(
        "name: Two\ninputs:\n  t: [N, C]\ngraph:\n  p: {op: identity, in: t}\n"
        "  q: {op: mul, in: t, other: 2}\noutputs: [p, q]\n")
    (tmp_path / "prea.yaml").write_text(
        "name: PreAct\ninputs:\n  t: [N, C]\ngraph:\n  r: {op: ReLU, inplace: true, in: t}\n"
        "  m: {op: mul, in: r, other: 2}\noutputs: m\n")
    head = ("name: Top\ninputs:\n  x: [N, C]\ngraph:\n  a: {op: mul, in: x, other: 2}\n"
            "  b: {op: mul, in: x, other: 3}\n")
    code, err = _check(tmp_path, capsys, "  p: {use: pick2.yaml, in: [a, b]}\n"
                       "  r: {op: ReLU, inplace: true, in: p}\n  out: {op: add, in: [r, b]}\n",
                       head=head)
    assert code == 1 and "overwrites 'p', which node 'out' also reads" in err
    code, err = _check(tmp_path, capsys, "  s: {use: two.yaml, in: a, out: [p, q]}\n"
                       "  r: {op: ReLU, inplace: true, in: q}\n  out: {op: add, in: [p, r]}\n"
                       "  o2: {op: mul, in: b, other: 1}\n", "[out, o2]", head=head)
    assert code == 0, err  # q is new: writing it leaves p (a's memory) alone
    code, err = _check(tmp_path, capsys, "  s: {seq: [{use: prea.yaml}, {op: Tanh}], in: a}\n"
                       "  out: {op: add, in: [s, a]}\n  o2: {op: mul, in: b, other: 1}\n",
                       "[out, o2]", head=head)
    assert code == 1 and "node 's': PreAct, which writes its input in place, overwrites 'a'" in err


def test_the_ops_that_keep_their_output_for_backward_do():
    torch = pytest.importorskip("torch")
    from attngen.in_place_reads import SAVES_OUTPUT_IN_PLACE
    from torch.nn import functional as F

    def sdpa(t):
        q = t.view(1, 1, 3, 4)
        return F.scaled_dot_product_attention(q, q, q)

    calls = {"softmax": lambda t: torch.softmax(t, -1), "log_softmax":
             lambda t: torch.log_softmax(t, -1), "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "exp": torch.exp, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "relu": torch.relu,
             "attention": sdpa, "amax": lambda t: torch.amax(t, 1),
             "amin": lambda t: torch.amin(t, 1), "logsumexp": lambda t: torch.logsumexp(t, 1),
             "std": lambda t: torch.std(t, 1), "norm": torch.norm}
    layers = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid",
              "Tanh": "tanh", "ReLU": "relu"}
    in_place = {"leaky_relu": lambda t: F.leaky_relu(t, inplace=True),
                "elu": lambda t: F.elu(t, inplace=True),
                "SELU": lambda t: F.selu(t, inplace=True)}
    assert set(calls) | set(layers) == SAVES_OUTPUT
    assert set(in_place) | {"LeakyReLU", "ELU"} == SAVES_OUTPUT_IN_PLACE
    for call in [*calls.values(), *in_place.values()]:
        x = (torch.rand(3, 4) + 0.5).requires_grad_()
        y = call(x * 1)
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
