"""The norm, elementwise and reduction ops (ops/norms.py, elementwise.py, reductions.py)
against torch: each op in a small spec, built, run on concrete sizes; its output shape must
equal the checker's there, its values the torch call written out by hand below, its dtype
the family the checker gives, and a layer's parameter count `attngen params`'s."""

from __future__ import annotations

import re
import textwrap

import attngen
import pytest
import sympy
from attngen import ops, verify
from attngen.cli import main
from attngen.counts import total

torch = pytest.importorskip("torch")
F = torch.nn.functional

SIZES = {"c": 6, "g": 3, "h": 4, "w": 5, "B": 2}  # params c, g, h, w; free dim B
SPEC = """\
name: T
params:
  c: 6
  g: 3
  h: 4
  w: 5
requires: [c % g == 0, w >= 3]  # over w: InstanceNorm1d needs 2 elements, var (correction 2) 3
inputs:
  x: {shape: XSHAPE, dtype: XDTYPE}
  z: {shape: [B, 1, h, w], dtype: ZDTYPE}
graph:
  y: NODE
outputs: y
"""
X = "[B, c, h, w]"


def spec_text(node, xshape=X, xdtype="float", zdtype="float", uses_z=False):
    text = SPEC.replace("NODE", node).replace("XSHAPE", xshape)
    text = text.replace("XDTYPE", xdtype).replace("ZDTYPE", zdtype)
    if not uses_z:  # an input no node reads is refused
        text = "\n".join(line for line in text.splitlines() if not line.startswith("  z:"))
    return text + "\n"


def make(shape, dtype, positive):
    """A tensor of `shape`; positive floats for sqrt, rsqrt, log and fractional powers."""
    dims = [int(d) if d.isdigit() else SIZES[d] for d in re.findall(r"\w+", shape)]
    if dtype == "long":
        return torch.randint(-3, 4, dims)
    if dtype == "bool":
        return torch.rand(dims) > 0.5
    if dtype == "complex":
        return torch.randn(dims, dtype=torch.complex128)
    x = torch.randn(dims, dtype=torch.float64)
    return x.abs() + 0.1 if positive else x


def family(dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    return "complex" if dtype.is_complex else "float" if dtype.is_floating_point else "int"


def run(tmp_path, node, reference, *, xshape=X, xdtype="float", zdtype="float",
        positive=False):
    """Build the spec of one node, run it at SIZES; returns the module and its output
    after comparing shape, dtype family and values with the checker and `reference`."""
    uses_z = "in: [x, z]" in node
    path = tmp_path / "t.yaml"
    path.write_text(spec_text(node, xshape, xdtype, zdtype, uses_z))
    loaded = attngen.load(str(path))
    report = verify.verify(loaded.checked, n_samples=2, export=False)  # random sizes too
    assert not report.errors, report.errors
    torch.manual_seed(0)
    model = loaded.compile()(**{k: SIZES[k] for k in "cghw"}).double()
    for p in model.parameters():  # not the initial ones and zeros: the values must matter
        torch.nn.init.normal_(p)
    x = make(xshape, xdtype, positive)
    ins = (x, make("[B, 1, h, w]", zdtype, False)) if uses_z else (x,)
    got = model(*ins)
    want = reference(model, *ins)
    checked = loaded.checked.nodes["y"].output
    sizes = {s: SIZES[s.name] for s in sympy.Tuple(*checked).free_symbols}
    assert got.shape == tuple(int(sympy.sympify(d).subs(sizes)) for d in checked)
    assert family(got.dtype) == checked.dtype == family(want.dtype)
    torch.testing.assert_close(got, want, equal_nan=True)
    return model, path


# -- layers -------------------------------------------------------------------------------------
def _affine(m):
    return m.y.weight, m.y.bias


LAYERS = [
    ("{op: LayerNorm, args: [w], in: x}",
     lambda m, x: F.layer_norm(x, (5,), *_affine(m)), X, 2 * 5),
    ("{op: LayerNorm, args: [[h, w]], eps: 0.001, bias: false, in: x}",
     lambda m, x: F.layer_norm(x, (4, 5), m.y.weight, None, 1e-3), X, 4 * 5),
    ("{op: LayerNorm, args: [c], elementwise_affine: false, in: x}",
     lambda m, x: F.layer_norm(x, (6,)), "[B, h, c]", 0),
    ("{op: GroupNorm, args: [g, c], in: x}",
     lambda m, x: F.group_norm(x, 3, *_affine(m)), X, 2 * 6),
    ("{op: GroupNorm, args: [c // g, c], eps: 0.01, affine: false, in: x}",
     lambda m, x: F.group_norm(x, 2, eps=0.01), "[B, c, w]", 0),
    ("{op: InstanceNorm2d, args: [c], affine: true, in: x}",
     lambda m, x: F.instance_norm(x, weight=m.y.weight, bias=m.y.bias), X, 2 * 6),
    ("{op: InstanceNorm1d, args: [c], in: x}", lambda m, x: F.instance_norm(x), "[B, c, w]", 0),
    ("{op: InstanceNorm1d, args: [c], affine: true, in: x}",  # unbatched: [C, L]
     lambda m, x: F.instance_norm(x[None], weight=m.y.weight, bias=m.y.bias)[0], "[c, w]",
     2 * 6),
]


@pytest.mark.parametrize("node, reference, xshape, n_params", LAYERS)
def test_a_norm_layer_is_torchs(tmp_path, node, reference, xshape, n_params):
    model, path = run(tmp_path, node, reference, xshape=xshape)
    assert sum(p.numel() for p in model.parameters()) == n_params
    assert total(attngen.load(str(path)).spec) == n_params


# -- elementwise ------------------------------------------------------------------------------
ELEMENTWISE = [
    ("{op: sqrt, in: x}", lambda m, x: torch.sqrt(x), "float", True),
    ("{op: rsqrt, in: x}", lambda m, x: 1 / x.sqrt(), "float", True),
    ("{op: exp, in: x}", lambda m, x: torch.exp(x), "float", False),
    ("{op: log, in: x}", lambda m, x: torch.log(x), "float", True),
    ("{op: abs, in: x}", lambda m, x: torch.abs(x), "float", False),
    ("{op: pow, in: x, exponent: 3}", lambda m, x: x ** 3, "float", False),
    ("{op: pow, in: x, exponent: -c ** 0.5}", lambda m, x: x ** -(6 ** 0.5), "float", True),
    ("{op: pow, in: [x, z]}", lambda m, x, z: torch.pow(x, z), "float", True),
    ("{op: clamp, in: x, min: -0.5}", lambda m, x: x.clamp(min=-0.5), "float", False),
    ("{op: clamp, in: x, max: 1 / g}", lambda m, x: x.clamp(max=1 / 3), "float", False),
    ("{op: clamp, in: x, min: 0, max: 1}", lambda m, x: x.clamp(0, 1), "float", False),
    # dtype rules: roots, exp and log of int and bool tensors are float; abs keeps int
    ("{op: sqrt, in: x}", lambda m, x: torch.sqrt(x), "long", False),
    ("{op: exp, in: x}", lambda m, x: torch.exp(x), "bool", False),
    ("{op: abs, in: x}", lambda m, x: torch.abs(x), "long", False),
    # a complex input (`dtype: complex`): abs is its magnitude, a float tensor
    ("{op: abs, in: x}", lambda m, x: torch.sqrt(x.real ** 2 + x.imag ** 2), "complex", False),
    ("{op: sqrt, in: x}", lambda m, x: torch.sqrt(x), "complex", False),
    ("{op: exp, in: x}", lambda m, x: torch.exp(x.real) * torch.polar(torch.ones_like(x.real),
                                                                     x.imag), "complex", False),
    ("{op: pow, in: x, exponent: 2}", lambda m, x: x * x, "complex", False),
    # cast: to the named floating dtype whatever the input's (a float32 step of a module)
    ("{op: cast, in: x, to: float32}", lambda m, x: x.to(torch.float32), "float", False),
    ("{op: cast, in: x, to: float64}", lambda m, x: x.double(), "long", False),
    ("{op: cast, in: x, to: bfloat16}", lambda m, x: x.to(torch.bfloat16), "bool", False),
    # to bool: a mask, nonzero is True; to long: truncated toward zero
    ("{op: cast, in: x, to: bool}", lambda m, x: x != 0, "float", False),
    ("{op: cast, in: x, to: bool}", lambda m, x: x != 0, "long", False),
    ("{op: cast, in: x, to: long}", lambda m, x: x.trunc().long(), "float", False),
]


@pytest.mark.parametrize("node, reference, xdtype, positive", ELEMENTWISE)
def test_an_elementwise_function_is_torchs(tmp_path, node, reference, xdtype, positive):
    run(tmp_path, node, reference, xdtype=xdtype, positive=positive)


def test_a_tensor_exponent_of_int_dtype_gives_the_bases_float(tmp_path):
    run(tmp_path, "{op: pow, in: [x, z]}", lambda m, x, z: torch.pow(x, z), zdtype="long",
        positive=True)


# -- reductions ---------------------------------------------------------------------------------
REDUCTIONS = [
    ("{op: std, in: x, dim: [2, 3], keepdim: true, correction: 0}",
     lambda m, x: x.std(dim=(2, 3), keepdim=True, correction=0), "float"),
    ("{op: std, in: x}", lambda m, x: torch.std(x), "float"),
    ("{op: var, in: x, unbiased: false, keepdim: true}",  # every dim, kept
     lambda m, x: x.var(correction=0).reshape(1, 1, 1, 1), "float"),
    ("{op: var, in: x, dim: 1, unbiased: false}",
     lambda m, x: torch.var(x, 1, unbiased=False), "float"),
    ("{op: var, in: x, dim: -1, correction: 2, keepdim: true}",
     lambda m, x: torch.var(x, -1, correction=2, keepdim=True), "float"),
    ("{op: norm, in: x}", lambda m, x: x.flatten().square().sum().sqrt(), "float"),
    ("{op: norm, in: x, p: 1, dim: -1, keepdim: true}",
     lambda m, x: x.abs().sum(-1, keepdim=True), "float"),
    ("{op: norm, in: x, p: inf, dim: [1, 2]}",
     lambda m, x: torch.linalg.vector_norm(x, float("inf"), dim=(1, 2)), "float"),
    ("{op: logsumexp, in: x, dim: [1, -1]}",
     lambda m, x: torch.logsumexp(x, dim=(1, 3)), "float"),
    ("{op: logsumexp, in: x, dim: 2, keepdim: true}",
     lambda m, x: x.exp().sum(2, keepdim=True).log(), "float"),
    ("{op: amax, in: x, dim: [2, 3], keepdim: true}",
     lambda m, x: x.flatten(2).max(-1).values[..., None, None], "float"),
    ("{op: amin, in: x, dim: [0, 2]}", lambda m, x: torch.amin(x, dim=(0, 2)), "float"),
    ("{op: amin, in: x}", lambda m, x: x.min(), "float"),
    ("{op: amax, in: x, keepdim: true}", lambda m, x: x.max().reshape(1, 1, 1, 1), "float"),
    ("{op: norm, in: x, keepdim: true, p: 3}",
     lambda m, x: (x.abs() ** 3).sum().pow(1 / 3).reshape(1, 1, 1, 1), "float"),
    # dtype rules: logsumexp of ints is float; amax keeps int and bool
    ("{op: logsumexp, in: x, dim: 1}", lambda m, x: torch.logsumexp(x, 1), "long"),
    ("{op: amax, in: x, dim: [1, 2]}", lambda m, x: torch.amax(x, (1, 2)), "long"),
    ("{op: amax, in: x, dim: -1}", lambda m, x: x.any(-1), "bool"),
    # of a complex input: a mean stays complex, a spread or a norm is real
    ("{op: std, in: x, dim: -1}", lambda m, x: torch.sqrt(
        (x - x.mean(-1, keepdim=True)).abs().square().sum(-1) / 4), "complex"),
    ("{op: norm, in: x, dim: [2, 3]}", lambda m, x: x.abs().square().sum((2, 3)).sqrt(),
     "complex"),
    ("{op: mean, in: x, dim: 1}", lambda m, x: x.sum(1) / 6, "complex"),
]


@pytest.mark.parametrize("node, reference, xdtype", REDUCTIONS)
def test_a_reduction_is_torchs(tmp_path, node, reference, xdtype):
    run(tmp_path, node, reference, xdtype=xdtype)


def test_the_new_ops_are_listed(capsys):
    assert main(["ops"]) == 0
    listed = {line.split()[1].split("(")[0] for line in capsys.readouterr().out.splitlines()}
    assert {"LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "sqrt", "rsqrt",
            "exp", "log", "abs", "pow", "clamp", "std", "var", "norm", "logsumexp", "amax",
            "amin"} <= listed


# -- refusals -----------------------------------------------------------------------------------
def check(tmp_path, capsys, node, xshape=X, xdtype="float", uses_z=False, requires=True):
    text = spec_text(node, xshape, xdtype, uses_z=uses_z)
    if not requires:
        text = text.replace("requires: [c % g == 0, w >= 3]", "requires: [w >= 3]")
    path = tmp_path / "t.yaml"
    path.write_text(text)
    code = main(["check", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("node, xshape, xdtype, message", [
    ("{op: LayerNorm, args: [h], in: x}", X, "float",
     "error[E403]: node 'y': dim 3 is w but normalized_shape[0] is h"),
    ("{op: LayerNorm, args: [[c, h, w, w]], in: x}", "[c, h, w]", "float",
     "LayerNorm over 4 dim(s) needs an input of at least as many, got 3"),
    ("{op: LayerNorm, args: [0.5], in: x}", X, "float",
     "error[E402]: node 'y': LayerNorm's 'normalized_shape' must be a whole number, or a list "
     "of them, got 0.5"),
    ("{op: LayerNorm, args: [[h, 0]], in: x}", X, "float", "is 0 at the default sizes"),
    ("{op: GroupNorm, args: [g, h], in: x}", X, "float",
     "error[E403]: node 'y': channels (dim 1) is c but num_channels is h"),
    ("{op: InstanceNorm2d, args: [c], in: x}", "[c, w]", "float",
     "InstanceNorm2d expects a 4-D input [N, C, *spatial] or a 3-D one [C, *spatial], got 2-D"),
    ("{op: InstanceNorm1d, args: [c], momentum: 2, in: x}", "[B, c, w]", "float",
     "InstanceNorm1d's 'momentum' is 2 at the default sizes (must be from 0 to 1)"),
    ("{op: pow, in: x}", X, "float", "pow takes its exponent as 'exponent' (a number) or as"),
    ("{op: clamp, in: x}", X, "float", "clamp needs 'min', 'max' or both"),
    ("{op: std, in: x, correction: 0, unbiased: true}", X, "float",
     "give 'correction' or 'unbiased', not both"),
    ("{op: var, in: x, dim: [1, -3]}", X, "float", "'dim' (1, -3) names a dim more than once"),
    # mean and sum share the rule: torch refuses a dim named twice at run time
    ("{op: mean, in: x, dim: [1, -3]}", X, "float", "'dim' (1, -3) names a dim more than once"),
    ("{op: amax, in: x, dim: 4}", X, "float",
     "error[E403]: node 'y': dim 4 is out of range for a 4-D tensor"),
    ("{op: logsumexp, in: x}", X, "float",
     "error[E402]: node 'y': logsumexp needs argument 'dim' (args: dim, keepdim)"),
    ("{op: std, in: x, dim: 1}", X, "long", "std takes float or complex tensors as input 0"),
    ("{op: norm, in: x}", X, "bool", "norm takes float or complex tensors as input 0"),
    ("{op: abs, in: x}", X, "bool", "abs takes int or float or complex tensors as input 0"),
    ("{op: pow, in: x, exponent: 2}", X, "long", "pow takes float or complex tensors as input 0"),
    ("{op: clamp, in: x, min: 0}", X, "long", "clamp takes float tensors as input 0"),
    ("{op: LayerNorm, args: [w], in: x}", X, "long", "LayerNorm takes float tensors as input 0"),
    ("{op: cast, in: x, to: int8}", X, "float",
     "'to' must be one of 'float16', 'bfloat16', 'float32', 'float64', 'bool', 'long'"),
    ("{op: cast, in: x}", X, "float", "cast needs argument 'to'"),
    ("{op: cast, in: x, to: float32}", X, "complex",
     "cast takes bool or int or float tensors as input 0"),
])
def test_a_wrong_use_is_a_located_error(tmp_path, capsys, node, xshape, xdtype, message):
    code, err = check(tmp_path, capsys, node, xshape, xdtype)
    assert code == 1 and "Traceback" not in err and "t.yaml:11:" in err, err
    assert message in err, err


def test_pow_with_both_a_number_and_a_tensor_exponent_is_refused(tmp_path, capsys):
    code, err = check(tmp_path, capsys, "{op: pow, in: [x, z], exponent: 2}", uses_z=True)
    assert code == 1 and "one of them" in err, err


def test_group_norm_states_divisibility_and_its_hint_builds(tmp_path, capsys):
    """num_channels % num_groups is proved like any divisibility: the E404 hint, pasted as
    the spec's `requires`, makes it check."""
    node = "{op: GroupNorm, args: [g, c], in: x}"
    code, err = check(tmp_path, capsys, node, requires=False)
    assert code == 1 and "error[E404]: node 'y': num_channels must be divisible by " \
                         "num_groups" in err, err
    hint = re.search(r"note: if the module relies on it, state it: (requires: \[.*\])",
                     err)[1]
    text = spec_text(node).replace("requires: [c % g == 0, w >= 3]", hint)
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 0


def test_max_over_several_dims_is_refused_with_a_hint_to_amax(tmp_path, capsys):
    code, err = check(tmp_path, capsys, "{op: max, in: x, dim: [2, 3]}")
    assert code == 1 and "max's 'dim' must be a dim index" in err
    assert "note: over several dims write op: amax (torch's max takes one dim)" in err
    code, err = check(tmp_path, capsys, "{op: min, in: x, dim: [2, 3], keepdim: true}")
    assert "note: over several dims write op: amin" in err


def test_generated_calls_read_as_written_by_hand(tmp_path):
    text = textwrap.dedent("""\
        name: Calls
        params:
          c: 4
        inputs:
          x: [B, c, L]
        graph:
          t: {op: transpose, args: [1, 2], in: x}
          n: {op: LayerNorm, args: [c], in: t}
          s: {op: std, in: n, dim: -1, keepdim: true, unbiased: false}
          v: {op: norm, in: n, p: 2, dim: [1, 2]}
          q: {op: pow, in: s, exponent: 0.5}
          a: {op: amax, in: x}
        outputs: [q, v, a]
        """)
    (tmp_path / "calls.yaml").write_text(text)
    source = attngen.load(str(tmp_path / "calls.yaml")).source()
    for line in ("self.n = nn.LayerNorm(c, **factory_kwargs)",
                 "s = torch.std(n, dim=-1, unbiased=False, keepdim=True)",
                 "v = torch.linalg.vector_norm(n, ord=2, dim=(1, 2))",
                 "q = s.pow(0.5)", "a = torch.amax(x)"):
        assert line in source, source


def test_the_promotion_rules_are_torchs():
    """What `floating` and `real` give for each family (torch.sqrt and torch.abs on tensors
    of each dtype; the complex ones have no spec input to run them from)."""
    made = {"bool": torch.tensor([True, False]), "int": torch.tensor([4, 2]),
            "float": torch.tensor([4.0, 2.0]), "complex": torch.tensor([4 + 1j, 2j])}
    for fn, gives in ((torch.sqrt, "floating"), (torch.abs, "real")):
        for name, tensor in made.items():
            if fn is torch.abs and name == "bool":  # torch refuses it, and so does abs
                assert "bool" not in ops.REGISTRY["abs"].dtype.allowed(0)
                continue
            got = ops.Dtypes(("any",), gives).result([name])
            assert got == family(fn(tensor).dtype), (fn, name)
    for name in ("std", "var", "norm"):
        assert ops.REGISTRY[name].dtype.result(["complex"]) == "float"
    assert family(torch.std(made["complex"]).dtype) == "float"
    assert family(torch.linalg.vector_norm(made["complex"]).dtype) == "float"


ONE_NODE = """\
name: T
params:
  c: 6
inputs:
  x: XSHAPE
graph:
  y: NODE
outputs: y
"""
NORM_SPEC = ONE_NODE.replace("NODE", "{op: NORM, args: [c], in: xEXTRA}")
SPREAD_SPEC = ONE_NODE.replace("NODE", "{op: OP, in: x, ARGS}")


@pytest.mark.parametrize("op, xshape, extra, message", [
    ("InstanceNorm1d", "[B, c, 1]", "",
     "error[E403]: node 'y': InstanceNorm1d's statistics over dim(s) 2 are over 1 value(s): "
     "torch needs more than 1\n"),
    ("InstanceNorm2d", "[B, c, 1, 1]", ", track_running_stats: true",
     "are over 1 value(s): torch needs more than 1 in training\n"),
    ("BatchNorm1d", "[1, c]", "",
     "error[E403]: node 'y': BatchNorm1d's statistics over dim(s) 0 are over 1 value(s): "
     "torch needs more than 1 in training\n"),
    ("BatchNorm2d", "[1, c, 1, 1]", ", track_running_stats: false",
     "statistics over dim(s) 0, 2, 3 are over 1 value(s): torch needs more than 1\n"),
    ("GroupNorm", "[1, c]", ", num_channels: c",
     "error[E403]: node 'y': GroupNorm's statistics over N * (num_channels // num_groups) * "
     "the spatial sizes are over 1 value(s): torch needs more than 1\n"),
])
def test_a_norm_over_one_element_is_refused(tmp_path, capsys, op, xshape, extra, message):
    """torch raises on statistics over one element: always where the norm uses the input's
    statistics (InstanceNorm by default), in training where it keeps running ones."""
    path = tmp_path / "t.yaml"
    path.write_text(NORM_SPEC.replace("NORM", op).replace("XSHAPE", xshape)
                    .replace("EXTRA", extra))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and "t.yaml:7:3:" in err, err
    if op == "GroupNorm":  # num_groups: c, num_channels: c
        module = torch.nn.GroupNorm(6, 6)
    else:
        module = getattr(torch.nn, op)(6, **({"track_running_stats": "true" in extra}
                                             if extra else {}))
    with pytest.raises(ValueError, match="Expected more than 1"):
        module.train()(torch.randn(*[1 if d == "1" else 6 if d == "c" else 2
                                     for d in xshape.strip("[]").split(", ")]))


@pytest.mark.parametrize("op, xshape, extra, hint, small, fine", [
    # H and W one at a time never break H * W >= 2: both at 1 do
    ("InstanceNorm2d", "[B, c, H, W]", "", "requires: [H*W >= 2]", (2, 6, 1, 1), (2, 6, 1, 2)),
    ("BatchNorm1d", "[B, c]", ", track_running_stats: false", "requires: [B >= 2]", (1, 6),
     (2, 6)),
    ("GroupNorm", "[B, c, H]", ", num_channels: c", "requires: [B*H >= 2]", (1, 6, 1),
     (1, 6, 2)),
])
def test_a_norm_over_free_sizes_states_two_elements(tmp_path, capsys, op, xshape, extra, hint,
                                                   small, fine):
    """Over free sizes the E404 hint states the bound; pasted, the spec checks and the
    generated forward refuses the inputs torch would fail on, in eval mode too."""
    text = NORM_SPEC.replace("NORM", op).replace("XSHAPE", xshape).replace("EXTRA", extra)
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"note: if the module relies on it, state it: {hint}\n" in err, err
    path.write_text(text.replace("inputs:", f"{hint}\ninputs:"))
    assert main(["check", str(path)]) == 0
    module = attngen.load(str(path)).compile()().eval()
    assert module(torch.randn(*fine)).shape == fine
    with pytest.raises(ValueError, match="T: requires"):
        module(torch.randn(*small))


def test_batch_norm_with_running_stats_takes_a_batch_of_one(tmp_path):
    """Inference at batch 1 is common: a BatchNorm that keeps running statistics asks no
    bound of the batch (torch refuses one value only in training)."""
    path = tmp_path / "t.yaml"
    path.write_text(NORM_SPEC.replace("NORM", "BatchNorm2d").replace("XSHAPE", "[B, c, 1, 1]")
                    .replace("EXTRA", ""))
    module = attngen.load(str(path)).compile()().eval()
    assert module(torch.randn(1, 6, 1, 1)).shape == (1, 6, 1, 1)


@pytest.mark.parametrize("op, xshape, args, outcome", [
    ("std", "[B, c, 1]", "dim: 2", "error[E403]: node 'y': std over 1 element(s) with "
     "correction 1 is NaN (it divides by N - correction = 0)"),
    ("var", "[B, c, H, W]", "dim: [2, 3]", "state it: requires: [H*W >= 2]"),
    ("std", "[B, c, H, W]", "dim: [2, 3], correction: 2", "state it: requires: [H*W >= 3]"),
    ("var", "[B, c, H]", "dim: 2, unbiased: true", "state it: requires: [H >= 2]"),
    ("std", "[B, c, 1]", "dim: 2, correction: 0", None),  # the population statistic
    ("var", "[B, c, 1]", "dim: 2, unbiased: false", None),
])
def test_a_spread_over_too_few_elements_is_nan_and_refused(tmp_path, capsys, op, xshape, args,
                                                           outcome):
    """torch.std and torch.var over N <= correction elements give NaN with a warning, no
    error: the checker asks for more elements, a silent NaN otherwise."""
    path = tmp_path / "t.yaml"
    text = SPREAD_SPEC.replace("OP", op).replace("XSHAPE", xshape).replace("ARGS", args)
    path.write_text(text)
    code = main(["check", str(path)])
    err = capsys.readouterr().err
    if outcome is None:
        assert code == 0, err
        return
    assert code == 1 and outcome in err, err
    hint = re.search(r"state it: (requires: \[.*\])", err)
    if hint:  # pasted, it checks
        path.write_text(text.replace("inputs:", f"{hint[1]}\ninputs:"))
        assert main(["check", str(path)]) == 0
    x = torch.ones(*[1 if d in ("1", "H", "W") else 3 for d in xshape.strip("[]").split(", ")])
    with pytest.warns(UserWarning, match="degrees of freedom"):
        assert getattr(torch, op)(x, **yaml_args(args)).isnan().all()


def yaml_args(text: str) -> dict:
    import yaml

    args = yaml.safe_load("{" + text + "}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


@pytest.mark.parametrize("node, message", [
    ("{op: InstanceNorm2d, args: [c], in: x}", "InstanceNorm2d (statistics over dim(s) 2, 3) "
     "needs h*w >= 2, which the defaults break"),
    ("{op: std, in: x, dim: [2, 3]}", "std with correction 1 (NaN unless over more than 1 "
     "element(s)) needs h*w >= 2, which the defaults break"),
])
def test_a_count_the_defaults_break_is_no_line_to_add(tmp_path, capsys, node, message):
    """h = w = 1 by default: `requires: [h*w >= 2]` would not hold for the defaults, so the
    error names the defaults (E402), not a line to paste."""
    path = tmp_path / "t.yaml"
    path.write_text(ONE_NODE.replace("  c: 6\n", "  c: 6\n  h: 1\n  w: 1\n")
                    .replace("XSHAPE", "[B, c, h, w]").replace("NODE", node))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"error[E402]: node 'y': {message}" in err and "state it" not in err, err
    assert "note: defaults: h=1, w=1\n  note: change the defaults so that h*w >= 2 holds" in err
