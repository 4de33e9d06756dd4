"""What an op declares about its arguments (types) and tensors (dtypes), the checker enforces:
a value of the wrong type or an input of a dtype the op does not take is a located E402."""

import re
import textwrap

import pytest
from attngen import ops
from attngen.cli import main
from attngen.ops.base import form

SPEC = """\
name: T
params:
  c: 8
  flag: false
  mode: {default: fast, doc: a str param}
  k: {default: 3, choices: [1, 3]}
inputs:
  x: [B, c, H, W]
graph:
  y: NODE
outputs: y
"""


def check(tmp_path, capsys, text):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    code = main(["check", str(path)])
    return code, capsys.readouterr().err


def errors(err):
    return [(int(m[1]), int(m[2]), m[3], m[4])
            for m in re.finditer(r":(\d+):(\d+): error\[(E\d{3})\]: (.*)", err)]


# -- argument types ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "node, value, message",
    [
        # issue 18 item 21: a bool argument took strings, lists and numbers (`bias: 'no'` was True)
        (
            "{op: Conv2d, args: [c, c, 1], bias: VALUE, in: x}",
            "\"'no'\"",
            "Conv2d's 'bias' must be true or false, got 'no' (a string)",
        ),
        (
            "{op: Conv2d, args: [c, c, 1], bias: VALUE, in: x}",
            "[true]",
            "Conv2d's 'bias' must be true or false, got (True,) (a list)",
        ),
        (
            "{op: Linear, args: [c, c], bias: VALUE, in: x}",
            "0",
            "Linear's 'bias' must be true or false, got 0 (a whole number)",
        ),
        ("{op: ReLU, inplace: VALUE, in: x}", "1", "ReLU's 'inplace' must be true or false"),
        (
            "{op: BatchNorm2d, args: [c], affine: VALUE, in: x}",
            "mode",
            "BatchNorm2d's 'affine' must be true or false, got mode (a string)",
        ),
        (
            "{op: Conv2d, args: [c, c, 1], bias: VALUE, in: x}",
            "null",
            "must be true or false, got None (null)",
        ),
        # whole numbers: a float, a fraction of params, a list where one is expected
        (
            "{op: Conv2d, args: [c, c], kernel_size: VALUE, in: x}",
            "1.5",
            (
                "Conv2d's 'kernel_size' must be a whole number, "
                "or a list of them (one per spatial dim), "
                "got 1.5 (not a whole number)"
            ),
        ),
        ("{op: Conv2d, args: [c, c], kernel_size: VALUE, in: x}", "3.0", "got 3.0 (not a whole"),
        (
            "{op: Conv2d, args: [c, VALUE, 1], in: x}",
            "c / 2",
            "Conv2d's 'out_channels' must be a whole number, got c / 2 (not a whole number)",
        ),
        (
            "{op: Conv2d, args: [c, c, 1], groups: VALUE, in: x}",
            "[1, 2]",
            "Conv2d's 'groups' must be a whole number, got (1, 2) (a list)",
        ),
        ("{op: softmax, dim: VALUE, in: x}", "[1, 2]", "softmax's 'dim' must be a dim index"),
        # torch's max(dim) takes one dim: a list of them failed at run time (issue 13)
        ("{op: max, dim: VALUE, in: x}", "[2, 3]", "max's 'dim' must be a dim index"),
        (
            "{op: Dropout, p: VALUE, in: x}",
            "true",
            "Dropout's 'p' must be a number, got True (a bool)",
        ),
        (
            "{op: Upsample, scale_factor: VALUE, in: x}",
            "\"'2'\"",
            (
                "Upsample's 'scale_factor' must be a number, "
                "or a list of numbers (one per spatial dim) "
                "(or null), got '2' (a string)"
            ),
        ),
        ("{op: mul, other: VALUE, in: x}", "[2]", "mul's 'other' must be a number (or null)"),
        (
            "{op: masked_fill, value: VALUE, in: [x, x]}",
            "mode",
            "masked_fill's 'value' must be a number (or null), got mode (a string)",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_located_at_the_value(tmp_path, capsys, node, value,
                                                             message):
    text = SPEC.replace("NODE", node.replace("VALUE", value))
    code, err = check(tmp_path, capsys, text)
    assert code == 1 and "Traceback" not in err
    line, col, ecode, got = errors(err)[0]
    row = text.splitlines()[line - 1]
    assert (line, ecode) == (10, "E402"), err
    assert row[col - 1:].startswith(value), (row, col)
    assert message in got, err


def test_a_fraction_where_a_whole_number_is_meant_suggests_floor_division(tmp_path, capsys):
    code, err = check(tmp_path, capsys, SPEC.replace(
        "NODE", "{op: Conv2d, args: [c, c / 2, 1], in: x}"))
    assert code == 1 and "note: write // for a whole-number division" in err


@pytest.mark.parametrize("node", [
    "{op: Conv2d, args: [c, c, 3], padding: 1, in: x}",  # ints: one value ...
    "{op: Conv2d, args: [c, c, [1, 3]], padding: [0, 1], in: x}",  # ... or one per spatial dim
    "{op: Conv2d, args: [c, c, k], padding: k // 2, bias: flag, in: x}",  # params
    "{op: Conv2d, args: [c, c, 1], bias: c > 4, in: x}",  # a condition is true or false
    "{op: Conv2d, args: [c, c, 1], bias: not flag, in: x}",
    "{op: BatchNorm2d, args: [c], momentum: null, in: x}",  # PyTorch's cumulative average
    "{op: AdaptiveAvgPool2d, output_size: [null, 1], in: x}",  # null keeps that dim
    "{op: MaxPool2d, kernel_size: 2, stride: null, padding: 1, in: x}",  # fits any H, W
    "{op: Upsample, scale_factor: 2, in: x}",  # an int is a number
    "{op: Upsample, scale_factor: [2, 1.5], mode: bilinear, in: x}",
    "{op: mean, dim: [2, 3], keepdim: true, in: x}",  # mean reduces over several dims
    "{op: mul, other: c ** 0.5, in: x}",
    "{op: add, other: 2 if mode else 3, in: x}",
])
def test_every_pytorch_spelling_of_an_argument_is_accepted(tmp_path, capsys, node):
    code, err = check(tmp_path, capsys, SPEC.replace("NODE", node))
    assert code == 0, err


@pytest.mark.parametrize("node, message", [
    ("{op: Conv2d, args: [c, c, [1, 3, 3]], in: x}", "'kernel_size' has 3 values for 2 spatial"),
    ("{op: MaxPool2d, kernel_size: 2, stride: [1, 1, 1], in: x}", "'stride' has 3 values"),
])
def test_a_list_argument_has_one_value_per_spatial_dim(tmp_path, capsys, node, message):
    code, err = check(tmp_path, capsys, SPEC.replace("NODE", node))
    assert code == 1 and "error[E402]" in err and message in err, err


@pytest.mark.parametrize("name", sorted(ops.REGISTRY))
def test_every_default_is_of_its_declared_type(name):
    for arg in ops.REGISTRY[name].args:
        assert arg.type in ops.ARG_TYPES
        assert arg.required or arg.accepts(form(arg.default)), (name, arg.name)


def test_types_by_form():
    assert [form(v) for v in (1, 1.5, True, "a", None)] == ["int", "float", "bool", "str", "none"]
    assert form([1, None]) == ("int", "none")
    sizes = ops.Arg("output_size", "sizes")
    assert sizes.accepts("int") and sizes.accepts(("none", "int")) and not sizes.accepts(())
    assert not sizes.accepts("none") and ops.Arg("s", "sizes", None).accepts("none")
    assert ops.Arg("to", "shape").accepts(()) and not ops.Arg("to", "shape").accepts(("float",))
    assert ops.Arg("to", "shape").kind == "shape" and ops.Arg("d", "dims").kind == "expr"


# -- dtypes -----------------------------------------------------------------------------------
MASK = """\
name: M
params:
  c: 8
inputs:
  x: {shape: [B, c, H, W], dtype: XDTYPE}
  mask: {shape: [B, 1, H, W], dtype: MDTYPE}
graph:
  flat: {op: view, in: mask, to: [B, H * W]}
  back: {op: view, in: flat, to: [B, 1, H, W]}
  conv: {op: Conv2d, args: [c, c, 1], in: x}
  y: {op: masked_fill, in: [conv, back], value: -inf}
outputs: y
"""


def _mask(xdtype="float", mdtype="bool"):
    return MASK.replace("XDTYPE", xdtype).replace("MDTYPE", mdtype)


def test_a_bool_mask_flows_through_views_into_masked_fill(tmp_path, capsys):
    code, err = check(tmp_path, capsys, _mask())
    assert code == 0, err
    assert main(["check", str(tmp_path / "spec.yaml")]) == 0
    table = capsys.readouterr().out
    assert re.search(r"mask +input +\(B, 1, H, W\) bool\n", table), table  # shown, not float
    assert re.search(r"back +view +\(B, 1, H, W\) bool\n", table), table
    assert re.search(r"y +masked_fill +\(B, c, H, W\)\n", table), table


@pytest.mark.parametrize("mdtype, got", [("float", "float"), ("long", "int")])
def test_a_mask_that_is_not_bool_is_an_error(tmp_path, capsys, mdtype, got):
    code, err = check(tmp_path, capsys, _mask(mdtype=mdtype))
    assert code == 1
    message = f"node 'y': masked_fill takes bool tensors as input 1, not {got} ones"
    assert errors(err)[0] == (11, 3, "E402", message), err
    assert "note: dtype rule: any, bool -> same" in err


def test_a_bool_tensor_into_conv2d_is_an_error(tmp_path, capsys):
    code, err = check(tmp_path, capsys, _mask(xdtype="bool"))
    assert code == 1
    message = "node 'conv': Conv2d takes float tensors as input 0, not bool ones"
    assert errors(err)[0] == (10, 3, "E402", message), err
    assert "note: inputs: (B, c, H, W) bool" in err


@pytest.mark.parametrize("node, ok", [
    ("{op: cat, in: [x, m], dim: 1}", True),  # cat promotes: float
    ("{op: mul, in: [m, m]}", False),  # bool * bool is bool: not a mask-free float
    ("{op: add, in: [x, m]}", True),
    ("{op: sub, in: [m, m]}", None),  # torch refuses `-` on bools
    ("{op: sum, in: m, dim: 1}", None),  # counted as int: not declared here
    ("{op: type_as, in: [m, x]}", True),  # x's dtype: float
    ("{op: type_as, in: [x, m]}", False),  # m's: bool
])
def test_promotion_gives_the_wider_family(tmp_path, capsys, node, ok):
    """`ReLU` after the node takes float only: it passes exactly when the node gives float."""
    text = f"""\
    name: P
    inputs:
      x: [B, 4, L]
      m: {{shape: [B, 4, L], dtype: bool}}
    graph:
      n: {node}
      y: {{op: ReLU, in: n}}
    outputs: y
    """
    code, err = check(tmp_path, capsys, text)
    assert (code == 0) == bool(ok), err
    if ok is False:
        assert "node 'y': ReLU takes float tensors as input 0, not bool ones" in err
    if ok is None:
        assert "node 'n':" in err and "not bool ones" in err


def test_a_sub_spec_input_takes_the_dtype_it_declares(tmp_path, capsys):
    (tmp_path / "gate.yaml").write_text(textwrap.dedent("""\
        name: Gate
        inputs:
          x: [B, C]
          keep: {shape: [B, C], dtype: bool}
        graph:
          y: {op: masked_fill, in: [x, keep], value: 0}
        outputs: y
        """))
    text = """\
    name: Outer
    inputs:
      x: [B, 4]
      m: {shape: [B, 4], dtype: DTYPE}
    graph:
      g: {use: gate, in: [x, m]}
    outputs: g
    """
    assert check(tmp_path, capsys, text.replace("DTYPE", "bool"))[0] == 0
    code, err = check(tmp_path, capsys, text.replace("DTYPE", "float"))
    assert code == 1
    assert errors(err)[0][:3] == (6, 3, "E402") and \
        "input 'keep' of Gate takes bool tensors, got one of dtype family float" in err, err


def test_dtype_rules_are_declared_in_families():
    for name, op in ops.REGISTRY.items():
        for i in range(max(op.arity[0], 1)):
            assert set(op.dtype.allowed(i)) <= set(ops.DTYPES), name
    assert ops.REGISTRY["masked_fill"].dtype.allowed(1) == ("bool",)
    assert ops.REGISTRY["view"].dtype.allowed(0) == ops.DTYPES
    assert ops.Dtypes(("any",)).result(["bool", "float"]) == "float"
    assert ops.Dtypes(("any",), gives="bool").result(["float"]) == "bool"


NUMBER = """\
name: T
params:
  s: {default: 0.5, type: float}
  n: 2
inputs:
  x: {shape: [B, C], dtype: XDTYPE}
graph:
  y: {op: OP, in: x, other: OTHER}
outputs: y
"""


@pytest.mark.parametrize("xdtype, op, other", [
    (x, op, other) for x in ("bool", "long", "float")
    for op, other in (("add", "1"), ("add", "1.0"), ("mul", "s"), ("mul", "n"), ("sub", "0.5"),
                      ("add", "n * s"), ("add", "C - 1"), ("mul", "C / 2"))
    if (x, op) != ("bool", "sub")])  # torch refuses `-` of bool tensors, and so does check
def test_a_number_operand_promotes_as_torch_promotes_a_python_scalar(tmp_path, xdtype, op,
                                                                     other):
    # `x + 1.0` of a bool or int tensor is float, `x + 1` of a bool tensor int: the family
    # the checker gives is the one torch computes
    torch = pytest.importorskip("torch")
    import attngen

    path = tmp_path / "t.yaml"
    path.write_text(NUMBER.replace("XDTYPE", xdtype).replace("OP", op).replace("OTHER", other))
    loaded = attngen.load(str(path))
    said = loaded.checked.nodes["y"].output.dtype
    x = {"bool": torch.ones(2, 4, dtype=torch.bool), "long": torch.ones(2, 4, dtype=torch.long),
         "float": torch.ones(2, 4)}[xdtype]
    got = loaded.compile()()(x).dtype
    assert said == ("bool" if got == torch.bool else "float" if got.is_floating_point
                    else "int"), (said, got)
