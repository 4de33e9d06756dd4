"""The fusion pass (fusion.py): written-out attention becomes one
`F.scaled_dot_product_attention` call where, and only where, it computes the same thing.

Each case edits one small spec; the fused and the plain form (`fuse=False`, what
`build --no-fuse` writes) are run on the same weights and inputs.
"""

from __future__ import annotations

import attngen
import pytest
from attngen.build import artifacts
from attngen.cli import main
from conftest import REPO_ROOT

torch = pytest.importorskip("torch")

SPEC = """\
name: A
params:
  d: 8
  p: {default: 0.0}
inputs:
  q: [B, L, d]
  k: [B, S, d]
  v: [B, S, d]
  m: {shape: [B, L, S], optional: true, dtype: bool}
graph:
  kt:     {op: transpose, in: k, dim0: 1, dim1: 2}
  scores: {op: matmul, in: [q, kt]}
  scaled: {op: mul, in: scores, other: d ** -0.5}
  masked: {op: masked_fill, in: [scaled, m], value: -inf, if_given: m}
  probs:  {op: softmax, in: masked, dim: -1}
  drop:   {op: Dropout, args: [p], in: probs}
  out:    {op: matmul, in: [drop, v]}
outputs: out
"""
FUSED = "F.scaled_dot_product_attention("


def edited(*edits):
    text = SPEC
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def load(tmp_path, *edits):
    path = tmp_path / "a.yaml"
    path.write_text(edited(*edits))
    return attngen.load(str(path))


def inputs(mask=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, n, 8, generator=gen, dtype=torch.float64) for n in (5, 8, 8))
    if not mask:
        return q, k, v
    m = torch.rand(2, 5, 8, generator=gen) < 0.4
    m[..., 0] = False  # every query keeps a key
    return q, k, v, m


def both(loaded, **kwargs):
    """The fused and the plain module, with the same state."""
    fused = loaded.compile()(**kwargs).double().eval()
    plain = loaded.compile(fuse=False)(**kwargs).double().eval()
    plain.load_state_dict(fused.state_dict(), strict=True)
    return fused, plain


@pytest.mark.parametrize("edits, mask, call", [
    ((), False, "scale=self.d ** (-0.5)"),
    ((), True, "attn_mask=None if m is None else ~m"),
    ((("scaled: {op: mul, in: scores, other: d ** -0.5}",
       "scaled: {op: div, in: scores, other: d + 1}"),), True, "scale=1 / (self.d + 1)"),
    ((("  scaled: {op: mul, in: scores, other: d ** -0.5}\n", ""),
      ("in: [scaled, m]", "in: [scores, m]")), True, "scale=1.0"),
    ((("{op: masked_fill, in: [scaled, m], value: -inf, if_given: m}",
       "{op: add, in: [scaled, m], if_given: m}"),
      ("m: {shape: [B, L, S], optional: true, dtype: bool}", "m: {shape: [B, 1, S], "
       "optional: true}")), False, "attn_mask=None if m is None else m.unsqueeze(0)"),
    ((("{op: softmax, in: masked, dim: -1}", "{op: Softmax, dim: 2, in: masked}"),), True,
     "dropout_p=self.drop.p if self.training else 0.0"),
    ((("optional: true, ", ""), ("value: -inf, if_given: m", "value: -inf")), True,
     "attn_mask=~m.unsqueeze(0),"),
])
def test_written_attention_is_fused_and_equal(tmp_path, edits, mask, call):
    loaded = load(tmp_path, *edits)
    source = loaded.source()
    assert FUSED in source and call in source, source
    assert FUSED not in loaded.source(fuse=False)
    fused, plain = both(loaded)
    ins = inputs(mask)
    if "add" in str(edits):  # a float mask, added to the scores
        ins = (*ins, torch.randn(2, 1, 8, dtype=torch.float64))
    torch.testing.assert_close(fused(*ins), plain(*ins))
    if "optional" in edited(*edits):
        torch.testing.assert_close(fused(*ins[:3]), plain(*ins[:3]))  # without the mask


@pytest.mark.parametrize("edits", [
    # a softmax over another dim
    (("{op: softmax, in: masked, dim: -1}", "{op: softmax, in: masked, dim: 1}"),),
    # a large negative fill is not -inf (a fully masked row is uniform, not NaN or zero)
    (("value: -inf, if_given: m", "value: -1e9"), ("optional: true, ", "")),
    # weights that always multiply the scores
    (("m: {shape: [B, L, S], optional: true, dtype: bool}", "w: [B, L, S]"),
     ("{op: masked_fill, in: [scaled, m], value: -inf, if_given: m}",
      "{op: mul, in: [scaled, w]}")),
    # an intermediate node that is also an output, or read elsewhere
    (("outputs: out", "outputs: [out, probs]"),),
    (("  out:", "  side: {op: relu, in: scaled}\n  out:"),
     ("outputs: out", "outputs: [out, side]")),
    # the scale before the product, or a learned scale (a tensor, not a number)
    (("  scaled: {op: mul, in: scores, other: d ** -0.5}\n",
      "  t: {param: [1], init: ones}\n  scaled: {op: mul, in: [scores, t]}\n"),),
    # the mask before the scale
    (("in: [q, kt]", "in: [q, kt]}\n  pre: {op: masked_fill, in: [scores, m], value: -inf, "
      "if_given: m"),
     ("  masked: {op: masked_fill, in: [scaled, m], value: -inf, if_given: m}\n", ""),
     ("in: scores, other", "in: pre, other"), ("in: masked, dim", "in: scaled, dim")),
])
def test_other_dataflow_keeps_the_written_form(tmp_path, edits):
    loaded = load(tmp_path, *edits)
    assert FUSED not in loaded.source()
    assert loaded.source() == loaded.source(fuse=False)


FIVE_D = (("q: [B, L, d]", "q: [B, G, H, L, d]"), ("k: [B, S, d]", "k: [B, G, H, S, d]"),
          ("v: [B, S, d]", "v: [B, G, H, S, d]"), ("dim0: 1, dim1: 2", "dim0: 3, dim1: 4"))


def test_five_dims_fuse_with_the_batch_dims_flattened(tmp_path):
    """PyTorch's fused kernels take 4 dims; a 5-D call runs its math path (slower, more
    memory than the written form): the call flattens (B, G) and the result is unflattened."""
    unmasked = (("  m: {shape: [B, L, S], optional: true, dtype: bool}\n", ""),
                ("  masked: {op: masked_fill, in: [scaled, m], value: -inf, if_given: m}\n", ""),
                ("in: masked, dim", "in: scaled, dim"))
    loaded = load(tmp_path, *FIVE_D, *unmasked)
    source = loaded.source()
    assert all(line in source for line in (
        "q.flatten(0, 1),", "kt.transpose(-2, -1).flatten(0, 1),", "v.flatten(0, 1),",
        ").unflatten(0, q.shape[:2])")), source
    fused, plain = both(loaded, p=0.0)
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, n, 8, generator=gen, dtype=torch.float64)
               for n in (5, 7, 7))
    torch.testing.assert_close(fused(q, k, v), plain(q, k, v))


@pytest.mark.parametrize("shape, merged", [
    ("[B, G, H, L, S]", "~m.flatten(0, 1)"),  # q's batch dims: flattened as q's
    ("[1, 1, H, L, S]", "~m.flatten(0, 1)"),  # ones there: flattened into one 1
    ("[1, H, L, S]", "else ~m,"),  # one dim there, of size 1: broadcasts as it is
    ("[H, L, S]", "else ~m.unsqueeze(0),"),  # none there: ones in front
    ("[L, S]", "else ~m[None, None],"),
])
def test_five_dims_with_a_mask_flatten_it_as_the_scores(tmp_path, shape, merged):
    """The mask broadcasts to the flattened scores as it did to the written ones."""
    loaded = load(tmp_path, *FIVE_D, ("m: {shape: [B, L, S]", f"m: {{shape: {shape}"))
    source = loaded.source()
    assert FUSED in source and merged in source, source
    fused, plain = both(loaded, p=0.0)
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 4, n, 8, generator=gen, dtype=torch.float64)
               for n in (5, 7, 7))
    sizes = {"B": 2, "G": 3, "H": 4, "L": 5, "S": 7, "1": 1}
    m = torch.rand(*(sizes[d] for d in shape.strip("[]").split(", ")), generator=gen) < 0.4
    m[..., 0] = False  # every query keeps a key
    torch.testing.assert_close(fused(q, k, v, m), plain(q, k, v, m))
    torch.testing.assert_close(fused(q, k, v), plain(q, k, v))


@pytest.mark.parametrize("shape", ["[B, 1, 1, L, S]", "[G, H, L, S]", "[1, G, H, L, S]"])
def test_five_dims_with_a_mask_that_would_not_flatten_keep_the_written_form(tmp_path, shape):
    """Flattening (B, G) of such a mask would not broadcast over the flattened batch."""
    loaded = load(tmp_path, *FIVE_D, ("m: {shape: [B, L, S]", f"m: {{shape: {shape}"))
    assert FUSED not in loaded.source()


def test_three_dims_are_called_with_four(tmp_path):
    """One head over (B, L, d): PyTorch's fused CPU kernel takes 4 dims (a 3-D call runs
    its math path, slower than the written form), so the call puts a batch dim of 1 in
    front, and one in front of the mask [B, L, S] (with fewer dims than the scores, a
    mask runs a slower kernel), where it broadcasts as it did."""
    loaded = load(tmp_path)
    source = loaded.source()
    assert all(text in source for text in (
        "q.unsqueeze(0),", "kt.transpose(-2, -1).unsqueeze(0),", "v.unsqueeze(0),",
        "attn_mask=None if m is None else ~m.unsqueeze(0),", ").squeeze(0)")), source
    fused, plain = both(loaded)
    q, k, v, m = inputs(mask=True)
    torch.testing.assert_close(fused(q, k, v, m), plain(q, k, v, m))
    torch.testing.assert_close(fused(q, k, v), plain(q, k, v))


def test_two_dims_are_called_with_four(tmp_path):
    """Unbatched (L, d) inputs: two batch dims of 1 in front, and dropped from the result."""
    loaded = load(tmp_path, ("q: [B, L, d]", "q: [L, d]"), ("k: [B, S, d]", "k: [S, d]"),
                  ("v: [B, S, d]", "v: [S, d]"), ("m: {shape: [B, L, S]", "m: {shape: [L, S]"),
                  ("dim0: 1, dim1: 2", "dim0: 0, dim1: 1"))
    source = loaded.source()
    assert "q[None, None]," in source and ")[0, 0]" in source, source
    fused, plain = both(loaded)
    q, k, v, m = (t[0] for t in inputs(mask=True))
    torch.testing.assert_close(fused(q, k, v, m), plain(q, k, v, m))
    torch.testing.assert_close(fused(q, k, v), plain(q, k, v))


def assert_weights_choose(loaded):
    """Fused = plain with and without optional weights w (fourth) and mask m (fifth)."""
    fused, plain = both(loaded)
    q, k, v, m = inputs(mask=True)
    w = 0.5 + torch.rand(2, 5, 8, dtype=torch.float64)
    for args in ((q, k, v, w, m), (q, k, v, None, m), (q, k, v, w), (q, k, v)):
        torch.testing.assert_close(fused(*args), plain(*args))


def test_optional_weights_choose_at_run_time(tmp_path):
    """Multiplicative weights, when given, run the written form; when None, the fused one."""
    loaded = load(tmp_path,
                  ("  m: {shape", "  w: {shape: [B, L, S], optional: true}\n  m: {shape"),
                  ("  masked:", "  weighted: {op: mul, in: [scaled, w], if_given: w}\n  masked:"),
                  ("in: [scaled, m]", "in: [weighted, m]"))
    source = loaded.source()
    assert "if w is None and not (self.training" in source, source
    assert "weighted = scaled * w\n" in source, source
    assert_weights_choose(loaded)


PASSING = (
    ("  p: {default: 0.0}\n", "  p: {default: 0.0}\n  mix: false\n  post: false\n"),
    ("  masked:", "  mixed:\n    cases:\n      - {when: mix and not post, op: relu, in: scaled}\n"
                  "      - {when: not mix or post, op: identity, in: scaled}\n  masked:"),
    ("in: [scaled, m]", "in: [mixed, m]"),
    ("  drop:", "  normed:\n    cases:\n      - {when: post, op: tanh, in: probs}\n"
                "      - {when: not post, op: Identity, in: probs}\n  drop:"),
    ("in: probs}\n  out", "in: normed}\n  out"),
)


def test_a_step_a_param_turns_off_fuses_when_it_is_off(tmp_path, monkeypatch):
    """A `cases` node with an identity case (EMSA's `mixed`, `normed`) passes its input on
    under that case's `when`: the fused call runs when every such `when` holds (each
    parenthesized where `and` would change it), the written form otherwise."""
    loaded = load(tmp_path, *PASSING)
    source = " ".join(loaded.source().split())
    assert "if ( (not self.mix or self.post) and not self.post and not (self.training" \
        in source, source
    sdpa, calls = torch.nn.functional.scaled_dot_product_attention, []
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **kw: calls.append(1) or sdpa(*a, **kw))
    q, k, v, m = inputs(mask=True)
    for mix in (False, True):
        for post in (False, True):
            fused, plain = both(loaded, mix=mix, post=post)
            calls.clear()
            torch.testing.assert_close(fused(q, k, v, m), plain(q, k, v, m))
            torch.testing.assert_close(fused(q, k, v), plain(q, k, v))
            assert len(calls) == (2 if not (mix or post) else 0), (mix, post)


def test_weights_after_the_softmax_and_an_applied_dropout_fuse(tmp_path):
    """Optional weights that multiply the probabilities (EMSA's `weighted`) choose the
    form at run time like those before it; a Dropout layer declared apart and applied
    (`apply: attn_drop`) gives the call its p."""
    loaded = load(tmp_path,
                  ("  m: {shape", "  w: {shape: [B, L, S], optional: true}\n  m: {shape"),
                  ("  drop:   {op: Dropout, args: [p], in: probs}\n",
                   "  weighted: {op: mul, in: [probs, w], if_given: w}\n"
                   "  attn_drop: {op: Dropout, args: [p]}\n"
                   "  drop:   {apply: attn_drop, in: weighted}\n"))
    source = loaded.source()
    assert "if w is None and not (self.training and self.attn_drop.p > 0" in source, source
    assert "dropout_p=self.attn_drop.p if self.training else 0.0" in source, source
    assert_weights_choose(loaded)


@pytest.mark.parametrize("edits", [
    # two identity cases: which one passes the input on is not one condition
    (("  masked:", "  mixed:\n    cases:\n      - {when: d > 4, op: identity, in: scaled}\n"
                   "      - {when: d <= 4, op: identity, in: scaled}\n  masked:"),
     ("in: [scaled, m]", "in: [mixed, m]")),
    # a step between the scale and the scores that is not an identity case
    (("in: scores, other", "in: pre, other"),
     ("  scaled:", "  pre: {op: tanh, in: scores}\n  scaled:")),
    # a second dropout
    (("in: probs}\n  out", "in: probs}\n  again: {op: Dropout, args: [p], in: drop}\n  out"),
     ("in: [drop, v]", "in: [again, v]")),
])
def test_other_steps_around_the_softmax_keep_the_written_form(tmp_path, edits):
    loaded = load(tmp_path, *edits)
    assert FUSED not in loaded.source()


def test_train_mode_dropout_is_the_same_distribution(tmp_path):
    """With v the identity, the output is the dropped attention weights themselves: in both
    forms each weight is zeroed with probability p or scaled by 1 / (1 - p). On CPU, where
    PyTorch has no fused dropout, the fused module runs the written form in training with
    dropout: the same draws as the plain one (elsewhere SDPA reads the random stream in its
    own order)."""
    fused, plain = both(load(tmp_path), p=0.25)
    q, k, _ = inputs()
    v = torch.eye(8, dtype=torch.float64).expand(2, 8, 8)
    weights = plain(q, k, v)  # eval mode: no dropout
    seen = []
    for module in (fused, plain):
        module.train()
        torch.manual_seed(0)
        draws = torch.stack([module(q, k, v) for _ in range(200)])
        kept = draws != 0
        assert abs(kept.double().mean().item() - 0.75) < 0.01
        scaled = (weights / 0.75).expand_as(draws)
        torch.testing.assert_close(draws[kept], scaled[kept])
        torch.manual_seed(1)
        seen.append(module(q, k, v))
    torch.testing.assert_close(*seen)  # the written form's draws
    fused.drop.p = plain.drop.p = 0.0  # p read at run time; without it train equals eval
    torch.testing.assert_close(fused(q, k, v), weights)


def test_a_fully_masked_row_gives_zeros_fused_and_nan_written(tmp_path):
    """The one documented difference (docs/design.md): softmax over all -inf is NaN; SDPA
    gives the row zeros."""
    fused, plain = both(load(tmp_path))
    q, k, v, m = inputs(mask=True)
    m[0, 1] = True
    got, want = fused(q, k, v, m), plain(q, k, v, m)
    assert want[0, 1].isnan().all() and (got[0, 1] == 0).all()
    rows = torch.ones(2, 5, dtype=torch.bool)
    rows[0, 1] = False
    torch.testing.assert_close(got[rows], want[rows])


def test_no_fuse_builds_the_plain_form(tmp_path, capsys):
    spec = REPO_ROOT / "specs" / "sdpa.yaml"
    assert main(["build", str(spec), "-o", str(tmp_path / "f"), "--no-svg"]) == 0
    assert main(["build", str(spec), "-o", str(tmp_path / "p"), "--no-svg", "--no-fuse"]) == 0
    assert FUSED in (tmp_path / "f" / "sdpa.py").read_text()
    plain = (tmp_path / "p" / "sdpa.py").read_text()
    assert FUSED not in plain and "torch.softmax(masked, dim=-1)" in plain


def test_no_fuse_changes_only_the_fused_modules():
    """Every library spec built plain: the same file as generated/ unless that one fuses."""
    specs = sorted((REPO_ROOT / "specs").glob("*.yaml"))
    arts = artifacts(specs, REPO_ROOT / "generated", svg=False, use_cache=False, fuse=False)
    changed = set()
    for art in arts:
        if art.path.suffix == ".py":
            plain = art.data.decode()
            assert FUSED not in plain
            if plain != art.path.read_text(encoding="utf-8"):
                changed.add(art.path.stem)
    assert changed == {"sdpa", "simplified_sdpa", "danet", "position_attention",
                       "channel_attention_module", "emsa", "muse_attention", "vit_attention",
                       "prenorm_attention", "mobilevit_transformer", "mobilevit_attention",
                       "coatnet", "window_attention", "pvt_attention"}


@pytest.mark.slow
@pytest.mark.parametrize("module", [["sdpa"], ["emsa"], ["one_head", "--mask"], ["non_local"]])
def test_bench_fused_quick(capsys, module):
    """benchmarks/bench_fused.py's smoke run: both forms against the reference, both modes."""
    import importlib.util

    path = REPO_ROOT / "benchmarks" / "bench_fused.py"
    spec = importlib.util.spec_from_file_location("_bench_fused", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--module", *module]) == 0
    rows = [line.split("|")[1:3] for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(f.strip(), m.strip()) for f, m in rows] == [
        ("fused", "forward"), ("plain", "forward"), ("fused", "fwd+bwd"), ("plain", "fwd+bwd")]


def test_spec_refs_name_the_lines_the_call_computes(tmp_path):
    source = load(tmp_path).source(spec_refs=True)
    assert "a.yaml:12-17]\n" in source, source  # scores to out


def test_fuse_false_keeps_the_written_form(tmp_path):
    """`fuse: false` writes the spec's attention as its graph does, a loop body of it too;
    a variant may set it; a value other than true or false is a located error."""
    loaded = load(tmp_path, ("name: A\n", "name: A\nfuse: false\n"))
    assert FUSED not in loaded.source()
    assert loaded.source() == loaded.source(fuse=False)
    variant = tmp_path / "v.yaml"
    variant.write_text("extends: a.yaml\nname: V\nfuse: true\n")
    assert FUSED in attngen.load(str(variant)).source()
    (tmp_path / "a.yaml").write_text(edited(("name: A\n", "name: A\nfuse: maybe\n")))
    with pytest.raises(attngen.SpecError) as info:
        attngen.load(str(tmp_path / "a.yaml"))
    assert "a.yaml:2:" in str(info.value) and "'fuse'" in str(info.value)


BODY = """\
name: Deep
FUSE
params:
  depth: 2
inputs:
  x: [B, N, 8]
graph:
  layers:
    each: range(depth)
    in: x
    shape: [B, N, 8]
    body:
      xt:     {op: transpose, in: x, dim0: 1, dim1: 2}
      scores: {op: matmul, in: [x, xt]}
      probs:  {op: softmax, in: scores, dim: -1}
      out:    {op: matmul, in: [probs, x]}
outputs: layers
"""


@pytest.mark.parametrize("fuse", ["", "fuse: false"])
@pytest.mark.parametrize("dims", [["B"], ["B", "G", "H"]])
def test_a_loop_body_fuses_as_its_spec_says(tmp_path, fuse, dims):
    """The body's attention is its last node: the fused call's result is the value the loop
    carries (its q too: over four dims the result is unflattened by q's shape read before)."""
    lead, last = ", ".join(dims), len(dims)
    text = BODY.replace("FUSE\n", fuse + "\n" if fuse else "").replace("[B, N, 8]",
                                                                         f"[{lead}, N, 8]")
    path = tmp_path / "deep.yaml"
    path.write_text(text.replace("dim0: 1, dim1: 2", f"dim0: {last}, dim1: {last + 1}"))
    loaded = attngen.load(str(path))
    assert (FUSED in loaded.source()) == (not fuse), loaded.source()
    x = torch.randn(*[2, 3, 2][:last], 5, 8, dtype=torch.float64)
    fused = loaded.compile()().double()
    plain = loaded.compile(fuse=False)().double()
    torch.testing.assert_close(fused(x), plain(x))


def test_a_learned_bias_trains_on_cpu_written_out(monkeypatch):
    """Swin's window attention adds a bias read from a learned table: on CPU the fused call
    runs where the bias needs no gradient (inference) and the written form where it does
    (PyTorch's CPU kernel is slower for a mask's gradient); both give the same numbers."""
    fused_cls = attngen.compile("window_attention")
    plain_cls = attngen.compile("window_attention", fuse=False)
    fused, plain = fused_cls(8, (2, 3), 2), plain_cls(8, (2, 3), 2)
    plain.load_state_dict(fused.state_dict())
    sdpa, calls = torch.nn.functional.scaled_dot_product_attention, []
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **kw: calls.append(1) or sdpa(*a, **kw))
    x = torch.randn(3, 6, 8)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), plain(x))
    assert len(calls) == 1
    torch.testing.assert_close(fused(x), plain(x))
    fused(x).sum().backward()
    assert len(calls) == 1  # with grad: written out
    assert fused.relative_position_bias_table.grad is not None
