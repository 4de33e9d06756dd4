"""`param:` and `buffer:` nodes: tensors the generated class owns (issue 13, point 1).

Parsing and its located errors, the generated source, state_dict keys exactly as named,
equivalence with a hand-written reference, parameter counts against torch, diagrams,
diff, verify, and a Spec edited in Python (recheck)."""

import re

import pytest
from attngen import compile as compile_spec
from attngen import load
from attngen.cli import main
from attngen.counts import total
from attngen.errors import SpecError
from attngen.model import TensorDecl
from equivalence import assert_equivalent
from references.tensors import GatedPositionAttention, GroupGate

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GATE = """\
name: GroupGate
params:
  channel: 64
  G: 4
requires:
  - channel % (2 * G) == 0
inputs:
  x: [B, channel, H, W]
graph:
  gamma:   {param: [1], init: zeros, doc: the residual gate}
  weight:  {param: [1, channel // (2 * G), 1, 1], init: ones}
  bias:    {param: [1, channel // (2 * G), 1, 1], init: zeros}
  groups:  {op: view, in: x, to: [B * 2 * G, channel // (2 * G), H, W]}
  affine:  {op: mul, in: [groups, weight]}
  shifted: {op: add, in: [affine, bias]}
  gate:    {op: sigmoid, in: shifted}
  gated:   {op: mul, in: [groups, gate]}
  back:    {op: view, in: gated, to: [B, channel, H, W]}
  scaled:  {op: mul, in: [gamma, back]}
  out:     {op: add, in: [scaled, x]}
outputs: out
"""

OWNED = """\
name: Owned
params:
  n: 6
  d: 8
  use_pos: true
let:
  d2: 2 * d
inputs:
  x: [B, n, d]
graph:
  pos:    {param: [n, d2], init: normal, std: 0.02, when: use_pos}
  proj:   {param: [d2, d], init: kaiming_normal, mode: fan_out, nonlinearity: relu}
  scale:  {param: [d], init: constant, value: 0.5}
  lo:     {param: [d], init: uniform, a: -0.1, b: 0.1}
  tn:     {param: [n, d], init: trunc_normal, std: 0.02}
  xav:    {param: [d, d], init: xavier_uniform}
  mask:   {buffer: [n, n], init: eye, dtype: bool, persistent: false}
  idx:    {buffer: [n], init: arange, dtype: long}
  steps:  {buffer: [n], init: arange}
  fill:   {buffer: [n, d], init: constant, value: 3, dtype: long}
  scaled: {op: mul, in: [x, scale]}
  shifted: {op: add, in: [scaled, lo]}
outputs: [shifted, proj, tn, xav, mask, idx, steps, fill, {name: pos, when: use_pos}]
"""


# DANet's position attention with the paper's residual gate, as a variant of the library's
GATED_PA = """\
extends: position_attention
name: GatedPositionAttention
edits:
  - insert_after: pa
    nodes:
      back:  {op: permute, in: pa, dims: [0, 2, 1], shape: [B, d_model, H * W]}
      grid:  {op: reshape, in: back, to: [B, d_model, H, W], shape: [B, d_model, H, W]}
      gamma: {param: [1], init: zeros, doc: the residual gate (zero at init)}
      gated: {op: mul, in: [gamma, grid], shape: [B, d_model, H, W]}
      out:   {op: add, in: [gated, x], shape: [B, d_model, H, W]}
outputs: out
"""


def _write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _source(tmp_path, text):
    out = tmp_path / "out"
    assert main(["build", str(_write(tmp_path, text)), "-o", str(out), "--no-svg"]) == 0
    return (out / "spec.py").read_text()


# -- errors ----------------------------------------------------------------------------------
ERRORS = [
    # (what the node says instead of `{param: [1], init: zeros`, code, in the message,
    #  in a note, column of the error on line 10)
    ("{param: [1], init: zero", "E102", "did you mean 'zeros'", None, 31),
    ("{param: [H, 1], init: zeros", "E102", "names 'H', a dim of input 'x'", "params: {H: 64}",
     21),
    ("{buffer: [1], init: zeros, dtype: float32", "E102",
     "'dtype' of buffer 'gamma' must be one of float, long, bool", None, 46),
    ("{buffer: [1], init: zeros, persistent: 1", "E102",
     "'persistent' of buffer 'gamma' must be true or false, got an integer", None, 51),
    ("{param: [1], init: zeros, dtype: bool", "E102", "'dtype' applies to a buffer",
     "{buffer: [...], dtype: ...}", 38),
    ("{param: [1], init: zeros, std: 0.1", "E102",
     "'std' of param 'gamma' applies only to init: normal or trunc_normal", None, 38),
    ("{buffer: [1], init: normal, dtype: bool", "E102", "makes float values",
     "zeros, ones, eye", 32),
    ("{param: [1], init: xavier_uniform", "E102", "at least two dims", "param: [1, 1]", 13),
    ("{param: [1]", "E103", "needs 'init'", "zeros, ones", 12),
    ("{param: [1], init: zeros, in: x", "E102", "a param has no 'in'", "in: gamma", 38),
    ("{param: [], init: zeros", "E102", "has no dims", "param: [1]", 13),
    ("{param: [1], init: normal, std: -1", "E102", "'std' must be at least 0", None, 44),
    ("{param: [1], init: eye", "E102", "needs a shape of two dims", None, 13),
]


@pytest.mark.parametrize("node, code, message, note, col", ERRORS,
                         ids=[e[2][:40] for e in ERRORS])
def test_a_bad_tensor_node_is_a_located_error(tmp_path, node, code, message, note, col):
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, GATE.replace("{param: [1], init: zeros", node)))
    (diag,) = info.value.diagnostics
    assert diag.code == code and message in diag.message, diag.message
    assert (diag.loc.line, diag.loc.col) == (10, col)
    if note is not None:
        assert any(note in n for n in diag.notes), diag.notes


def test_the_input_dim_fix_works_when_pasted(tmp_path):
    """The note says `params: {H: 64}`: with H a param, the input's shape reads it."""
    text = GATE.replace("{param: [1], init: zeros", "{param: [H, 1], init: zeros")
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    (note,) = [n for n in info.value.diagnostics[0].notes if "params: {" in n]
    pasted = note.split("params: {")[1].rstrip("}")
    module = compile_spec(_write(tmp_path, text.replace("params:\n", f"params:\n  {pasted}\n")))
    assert module(H=5).gamma.shape == (5, 1)


def test_a_tensor_node_cannot_be_a_case(tmp_path):
    text = GATE.replace("  gamma:   {param: [1], init: zeros, doc: the residual gate}",
                        "  gamma:\n    cases:\n      - {when: G > 1, param: [1], init: zeros}")
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    assert "cases choose a computation" in info.value.diagnostics[0].message


# -- generated source ------------------------------------------------------------------------
def test_generated_init_and_forward(tmp_path):
    source = _source(tmp_path, GATE)
    for line in ("        self.gamma = nn.Parameter(torch.zeros(1, **factory_kwargs))",
                 "        self.weight = nn.Parameter(torch.ones(1, channel // (2 * G), 1, 1, "
                 "**factory_kwargs))",
                 "        scaled = self.gamma * back",
                 "        affine = groups * self.weight"):
        assert line + "\n" in source, source
    assert "gamma =" not in source.split("def forward")[1]  # no copy of it in forward


def test_generated_source_of_every_initialiser(tmp_path):
    source = _source(tmp_path, OWNED)
    init = source.split("def forward")[0]
    expected = [
        "if use_pos:",
        "    self.pos = nn.Parameter(torch.empty(n, self.d2, **factory_kwargs))",
        "    nn.init.normal_(self.pos, std=0.02)",
        "self.proj = nn.Parameter(torch.empty(self.d2, d, **factory_kwargs))",
        'nn.init.kaiming_normal_(self.proj, mode="fan_out", nonlinearity="relu")',
        "self.scale = nn.Parameter(torch.full((d,), 0.5, **factory_kwargs))",
        "nn.init.uniform_(self.lo, a=-0.1, b=0.1)",
        "nn.init.trunc_normal_(self.tn, std=0.02)",
        "nn.init.xavier_uniform_(self.xav)",
        '    "mask", torch.eye(n, dtype=torch.bool, device=device), persistent=False',
        'self.register_buffer("idx", torch.arange(n, dtype=torch.long, device=device))',
        'self.register_buffer("steps", torch.arange(float(n), **factory_kwargs))',
        'self.register_buffer("fill", torch.full((n, d), 3, dtype=torch.long, device=device))',
    ]
    for line in expected:
        assert re.search(r"^ {8}" + re.escape(line) + "$", init, re.M), (line, init)
    assert "                self.pos,\n" in source
    assert "        return shifted, self.proj, self.tn, self.xav, self.mask, self.idx, " \
        "self.steps, self.fill\n" in source


@pytest.mark.parametrize("text", [OWNED, GATE], ids=["owned", "gate"])
def test_tensors_take_the_device_and_dtype_given(tmp_path, text):
    """The factory kwargs: float tensors in the dtype given, bool and long ones keep theirs,
    all on the device given (meta: no memory, so a tensor made elsewhere shows)."""
    import torch

    cls = compile_spec(_write(tmp_path, text))
    on_meta = cls(device="meta")
    assert all(t.device.type == "meta" for t in [*on_meta.parameters(), *on_meta.buffers()])
    double = cls(dtype=torch.float64)
    dtypes = {n: t.dtype for n, t in [*double.named_parameters(), *double.named_buffers()]}
    assert dtypes.pop("mask", torch.bool) == torch.bool
    assert dtypes.pop("idx", torch.long) == torch.long == dtypes.pop("fill", torch.long)
    assert set(dtypes.values()) == {torch.float64}


def test_state_dict_keys_values_and_dtypes(tmp_path):
    import torch

    cls = compile_spec(_write(tmp_path, OWNED))
    module = cls()
    assert list(module.state_dict()) == ["pos", "proj", "scale", "lo", "tn", "xav", "idx",
                                         "steps", "fill"]  # mask: persistent=False
    assert [n for n, _ in module.named_parameters()] == ["pos", "proj", "scale", "lo", "tn",
                                                          "xav"]
    assert torch.equal(module.mask, torch.eye(6, dtype=torch.bool))
    assert module.idx.dtype == torch.long and module.idx.tolist() == list(range(6))
    assert module.steps.dtype == torch.get_default_dtype()
    assert module.fill.dtype == torch.long and bool((module.fill == 3).all())
    assert bool((module.scale == 0.5).all()) and float(module.lo.detach().abs().max()) <= 0.1
    assert "pos" not in cls(use_pos=False).state_dict()
    outs = module(torch.randn(2, 6, 8))
    assert outs[0].shape == (2, 6, 8) and outs[1] is module.proj and outs[-1] is module.pos


# -- equivalence, counts, diagrams, diff, verify ---------------------------------------------
@pytest.mark.parametrize("args, kwargs, shape", [((), {}, (2, 64, 5, 7)),
                                                 ((48,), {"G": 3}, (3, 48, 4, 6))])
def test_matches_the_hand_written_reference(tmp_path, args, kwargs, shape):
    import torch

    cls = compile_spec(_write(tmp_path, GATE))
    gen, ref = assert_equivalent(cls, GroupGate, args, kwargs,
                                 lambda: (torch.randn(*shape),))
    assert gen.shape == shape


@pytest.mark.parametrize("args, kwargs, shape", [
    ((), {"d_model": 32, "H": 5, "W": 7}, (2, 32, 5, 7)), ((16, 5, 4, 3), {}, (3, 16, 4, 3))])
def test_gated_position_attention_matches_the_reference(tmp_path, args, kwargs, shape):
    """The reference's parameters are perturbed before its state_dict is loaded, so the
    zero-init gate is non-zero when the outputs are compared."""
    import torch

    cls = compile_spec(_write(tmp_path, GATED_PA))
    assert list(cls(*args, **kwargs).state_dict())[0] == "gamma"  # own tensors first
    assert_equivalent(cls, GatedPositionAttention, args, kwargs,
                      lambda: (torch.randn(*shape),))


@pytest.mark.parametrize("sets", [[], ["channel=96", "G=2"], ["channel=16", "G=8"]])
def test_params_counts_parameters_not_buffers(tmp_path, sets, capsys):
    path = _write(tmp_path, GATE)
    overrides = dict(s.split("=") for s in sets)
    values = {k: int(v) for k, v in overrides.items()}
    module = compile_spec(path)(**values)
    expected = sum(p.numel() for p in module.parameters())
    assert total(load(path).spec, values) == expected
    assert main(["params", str(path), *(a for s in sets for a in ("--set", s))]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[-1] == f"{expected:,}"
    owned = _write(tmp_path, OWNED, "owned.yaml")
    for use_pos in (True, False):
        module = compile_spec(owned)(use_pos=use_pos)
        assert total(load(owned).spec, {"use_pos": use_pos}) == \
            sum(p.numel() for p in module.parameters())


def test_diagram_draws_owned_tensors_as_notes(tmp_path, capsys):
    assert main(["diagram", str(_write(tmp_path, OWNED)), "--format", "dot", "--legend"]) == 0
    dot = capsys.readouterr().out
    (mask,) = [line for line in dot.splitlines() if line.strip().startswith('"mask" [')]
    assert "shape=note" in mask and "buffer [n, n], eye, bool, not saved" in mask
    (gamma,) = [line for line in dot.splitlines() if line.strip().startswith('"scale" [')]
    assert "param [d], constant(value=0.5)" in gamma and "8 params" in gamma
    assert "parameter / buffer" in dot  # the colour key's row


def test_diff_sees_added_and_changed_tensors(tmp_path, capsys):
    old = _write(tmp_path, GATE, "old.yaml")
    new = _write(tmp_path, GATE.replace("init: ones}", "init: constant, value: 2}").replace(
        "  groups:", "  temp:    {buffer: [G], init: arange, dtype: long, persistent: false}\n"
        "  groups:").replace("outputs: out", "outputs: [out, temp]"), "new.yaml")
    assert main(["diff", str(old), str(new)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  ~ weight: init: ones -> constant(value=2.0)" in lines
    assert "  + temp: buffer(shape=[G], init=arange, dtype=long, persistent=false)" in lines


def test_verify_compares_owned_tensor_shapes(tmp_path, capsys):
    assert main(["verify", str(_write(tmp_path, OWNED)), "-n", "2", "--no-export"]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out and "tensor shapes and dtype families compared" in out


def test_a_spec_edited_in_python_is_rechecked(tmp_path):
    spec = load(_write(tmp_path, GATE)).spec
    form = spec.nodes["gamma"].form
    assert isinstance(form, TensorDecl)
    for bad in (TensorDecl("param", form.shape, "glorot", {}),
                TensorDecl("param", form.shape, "normal", {"std": "0.1"}),
                TensorDecl("param", form.shape, "zeros", {}, dtype="bool"),
                TensorDecl("buffer", form.shape, "zeros", {}, persistent=1),  # type: ignore
                TensorDecl("buffer", [*form.shape, *form.shape], "arange", {}, dtype="long")):
        spec.nodes["gamma"].form = bad
        with pytest.raises(SpecError):
            compile_spec(spec)
    spec.nodes["gamma"].form = TensorDecl("param", form.shape, "ones", {})
    assert compile_spec(spec)().gamma.item() == 1.0


def test_docs_page_lists_owned_tensors(tmp_path):
    out = tmp_path / "docs"
    assert main(["docs", str(_write(tmp_path, GATE, "gate.yaml")), "-o", str(out)]) == 0
    page = (out / "gate.md").read_text()
    assert "## Learnable tensors and buffers" in page
    assert "| `gamma` | parameter | `[1]` | `zeros` | the residual gate |" in page


def test_a_bool_buffer_masks_the_diagonal(tmp_path):
    """A computed constant: the identity as a bool buffer, a -inf diagonal by masked_fill."""
    import torch

    spec = """\
name: NoSelf
params:
  n: 6
inputs:
  scores: [B, n, n]
graph:
  diag:   {buffer: [n, n], init: eye, dtype: bool, persistent: false}
  masked: {op: masked_fill, in: [scores, diag], value: -inf}
  attn:   {op: softmax, in: masked, dim: -1}
outputs: attn
"""
    module = compile_spec(_write(tmp_path, spec))(n=5)
    assert list(module.state_dict()) == [] and module.diag.dtype == torch.bool
    attn = module(torch.randn(3, 5, 5))
    assert torch.equal(attn.diagonal(dim1=1, dim2=2), torch.zeros(3, 5))
    assert torch.allclose(attn.sum(-1), torch.ones(3, 5))
