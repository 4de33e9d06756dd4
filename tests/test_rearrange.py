"""rearrange: einops patterns checked symbolically and written as plain torch.

einops.rearrange itself is the oracle: a table of patterns and a hypothesis property over
random patterns and shapes run the generated module and compare values (and the checker's
shape). Errors are compared whole, located inside the pattern; the emitted text is compared
whole (no einops, `view` only where no dims merge)."""

from __future__ import annotations

import re
import string
from math import prod

import attngen
import pytest
import sympy
from attngen.cli import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
einops = pytest.importorskip("einops")


def spec_text(shape: str, pattern: str, sizes: str = "", params: str = "",
              requires: str = "") -> str:
    node = f"{{op: rearrange, in: x, pattern: '{pattern}'" + (f", sizes: {sizes}" if sizes
                                                               else "") + "}"
    return (f"name: Rearranged\n{params}{requires}inputs:\n  x: {shape}\ngraph:\n  y: {node}\n"
            "outputs: y\n")


def generate(tmp_path, text: str):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    loaded = attngen.load(str(path))
    return loaded, attngen.compile(loaded)


def forward_line(tmp_path, text: str) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    from attngen.build import compile_spec
    from attngen.emit import render
    from attngen.loader import Loader

    source = render(compile_spec(path, Loader(), {}))
    assert "einops" not in source and "import torch" in source
    return re.search(r"^        y = (.*)$", source, re.M).group(1)


def run(tmp_path, text: str, x, **params):
    """The generated module's output on `x`, its shape checked against the checker's."""
    loaded, cls = generate(tmp_path, text)
    got = cls(**params)(x)
    values = {**loaded.params, **params}
    for d, n in zip(loaded.dims("x"), x.shape, strict=True):
        if isinstance(d, sympy.Symbol):
            values.setdefault(d.name, n)
    want = tuple(int(sympy.sympify(d).subs({s: values[s.name] for s in
                                             sympy.sympify(d).free_symbols}))
                 for d in loaded.dims("y"))
    assert tuple(got.shape) == want
    return got


def strided(shape):
    """A tensor of `shape` whose memory is not contiguous (a `view` merging dims fails)."""
    return torch.randn(*reversed(shape)).permute(*reversed(range(len(shape))))


# (input shape in the spec, pattern, sizes, params, tensor shape, einops sizes)
TABLE = [
    ("[B, C, H, W]", "b c h w -> b c h w", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b c h w -> b (h w) c", "", "", (2, 3, 4, 5), {}),
    ("[B, N, C]", "b n c -> b c n", "", "", (2, 3, 4), {}),
    ("[B, C, H, W]", "b (g c) h w -> (b g) c h w", "{g: groups}",
     "params: {groups: 2}\nrequires: [C % groups == 0]\n", (3, 6, 4, 5), {"g": 2}),
    ("[N, C, H, W]", "(b g) c h w -> b (g c) h w", "{g: groups}",
     "params: {groups: 3}\nrequires: [N % groups == 0]\n", (6, 2, 4, 5), {"g": 3}),
    ("[B, N, C]", "b n (h d) -> b h n d", "{h: heads}",
     "params: {heads: 4}\nrequires: [C % heads == 0]\n", (2, 5, 8), {"h": 4}),
    ("[B, H, N, D]", "b h n d -> b n (h d)", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b c (h p1) (w p2) -> b (p1 p2 c) h w", "{p1: 2, p2: 2}",
     "requires: [H % 2 == 0, W % 2 == 0]\n", (2, 3, 4, 6), {"p1": 2, "p2": 2}),
    ("[B, C, H, W]", "b c h w -> b h w c", "", "", (2, 3, 4, 5), {}),
    ("[B, C, 1, 1]", "b c 1 () -> b c", "", "", (2, 3, 1, 1), {}),
    ("[B, C]", "b c -> b c 1 ()", "", "", (2, 3), {}),
    ("[B, C, H, W]", "b c h w -> b (c h w)", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b ... -> ... b", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b c ... -> b ... c", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b c ... -> b c (...)", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "... h w -> ... (w h)", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b ... w -> (b w) ...", "", "", (2, 3, 4, 5), {}),
    ("[B, C, H, W]", "b (g c) ... -> g b c ...", "{g: 3}", "requires: [C % 3 == 0]\n",
     (2, 6, 4, 5), {"g": 3}),
    ("[B, T, C]", "b (t k) c -> b t (k c)", "{k: 1 + 1}", "requires: [T % 2 == 0]\n",
     (2, 6, 3), {"k": 2}),
    ("[B, N]", "b (n 1) -> (1 b) n", "", "", (2, 3), {}),
]


@pytest.mark.parametrize("shape, pattern, sizes, params, concrete, axes", TABLE,
                         ids=[row[1] for row in TABLE])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_rearrange_equals_einops(tmp_path, shape, pattern, sizes, params, concrete, axes,
                                 layout):
    parts = params.split("requires:")
    text = spec_text(shape, pattern, sizes, parts[0],
                     "requires:" + parts[1] if len(parts) > 1 else "")
    x = torch.randn(*concrete) if layout == "contiguous" else strided(concrete)
    got = run(tmp_path, text, x)
    assert torch.equal(got, einops.rearrange(x, pattern, **axes))


# the forward line written for a pattern: the shortest clear torch, view only where no dims
# merge (a view of merged dims fails after a permute or on a strided input)
EMITTED = [
    ("[B, C, H, W]", "b c h w -> b c h w", "", "x"),
    ("[B, N, C]", "b n c -> b c n", "", "x.transpose(1, 2)"),
    ("[B, C, H, W]", "b c h w -> b h w c", "", "x.permute(0, 2, 3, 1)"),
    ("[B, C, H, W]", "b c h w -> b (h w) c", "", "x.permute(0, 2, 3, 1).flatten(1, 2)"),
    ("[B, C, H, W]", "b c h w -> b (c h w)", "", "x.flatten(1)"),
    ("[B, C, H, W]", "b (g c) h w -> (b g) c h w", "{g: groups}",
     "x.unflatten(1, (self.groups, -1)).flatten(0, 1)"),
    ("[B, N, C]", "b n (h d) -> b h n d", "{h: heads}",
     "x.unflatten(2, (self.heads, -1)).transpose(1, 2)"),
    ("[B, H, N, D]", "b h n d -> b n (h d)", "", "x.transpose(1, 2).flatten(2)"),
    ("[B, C, 1, 1]", "b c 1 1 -> b c", "", "x.squeeze(2).squeeze(2)"),
    ("[B, C, 1, H]", "b c 1 h -> b (c h)", "", "x.squeeze(2).flatten(1)"),
    ("[B, C]", "b (g c) -> b g c 1", "{g: groups}", "x.view(x.shape[0], self.groups, -1, 1)"),
    ("[B, C, 1, H]", "b c 1 h -> b (h c)", "", "x.squeeze(2).transpose(1, 2).flatten(1)"),
    ("[B, C]", "b c -> b c 1", "", "x.unsqueeze(2)"),
    ("[B, C, H, W]", "b ... -> ... b", "", "x.movedim(0, -1)"),
    ("[B, C, H, W]", "b c (h p) w -> b (c p) h w", "{p: 2}",
     "x.unflatten(2, (-1, 2)).transpose(2, 3).flatten(1, 2)"),
    ("[B, C, H, W]", "b (g c) h w -> b (c g) h w", "{g: groups}",
     "x.unflatten(1, (self.groups, -1)).transpose(1, 2).flatten(1, 2)"),
    ("[B, C, H]", "b (c k) h -> b c k h", "{k: k + 1}",
     "x.unflatten(1, (-1, self.k + 1))"),
]


@pytest.mark.parametrize("shape, pattern, sizes, line", EMITTED, ids=[r[1] for r in EMITTED])
def test_emitted_torch(tmp_path, shape, pattern, sizes, line):
    params = "params: {groups: 2, heads: 2, k: 1}\n"
    dims = re.findall(r"\w+", shape)
    requires = "requires: [" + ", ".join(
        [f"C % {n} == 0" for n in ("groups", "heads", "(k + 1)") if "C" in dims]
        + (["H % 2 == 0"] if "H" in dims else [])) + "]\n"
    assert forward_line(tmp_path, spec_text(shape, pattern, sizes, params, requires)) == line


def test_a_view_after_a_permute_is_what_rearrange_never_writes():
    """The hole the emitted `flatten` avoids: torch refuses a view that merges dims of a
    permuted tensor, and rearrange's `b h n d -> b n (h d)` output runs."""
    x = torch.randn(2, 3, 4, 5)
    with pytest.raises(RuntimeError, match="view"):
        x.transpose(1, 2).view(2, 4, 15)
    assert torch.equal(x.transpose(1, 2).flatten(2), einops.rearrange(x, "b h n d -> b n (h d)"))


# (pattern, sizes, the error: line:col, code and message after "node 'y': ")
ERRORS = [
    ("b (g c) h w -> (b g) c h w", "", "7:41: error[E402]: node 'y': '(g c)' splits dim 1 "
     "into axes of unknown size (g, c): give the sizes of all but one in 'sizes'"),
    ("b (g c) h w -> (b g) c h w", "{g: 3}", "7:41: error[E404]: node 'y': dim 1 of the "
     "input ('(g c)' in the pattern) must divide evenly: C is not always divisible by 3"),
    ("b (g c) h w -> (b g) c h w", "{g: 2, q: 2}", "7:75: error[E402]: node 'y': 'sizes' gives"
     " 'q', which is no axis of the pattern 'b (g c) h w -> (b g) c h w'"),
    ("b c h -> b c h", "", "7:39: error[E403]: node 'y': the left side of pattern "
     "'b c h -> b c h' names 3 dims; the input has 4"),
    ("b c h w -> b c h", "", "7:45: error[E402]: node 'y': pattern 'b c h w -> b c h': axis "
     "'w' is on the left side only (rearrange keeps every axis: name it on the right side too)"),
    ("b c c w -> b c w", "", "7:43: error[E402]: node 'y': pattern 'b c c w -> b c w': axis "
     "'c' is named twice on the left side (first at column 3 of the pattern)"),
    ("b c (h w -> b c h w", "", "7:43: error[E402]: node 'y': pattern 'b c (h w -> b c h w': "
     "'(' is never closed"),
    ("b c h w -> b c (h w) %", "", "7:60: error[E402]: node 'y': pattern 'b c h w -> b c (h w)"
     " %': unexpected '%' (a pattern has axis names, 1, '...', parentheses and one '->')"),
    ("b c h w", "", "7:46: error[E402]: node 'y': pattern 'b c h w': no '->' between the "
     "input and the output side"),
    ("1 c h w -> c h w", "", "7:39: error[E403]: node 'y': dim 0 of the input is B but the "
     "size of '1' is 1"),
    ("b c h w -> b c h w ...", "", "7:58: error[E402]: node 'y': pattern 'b c h w -> b c h w "
     "...': '...' is on the right side only (rearrange keeps every axis: name it on the left "
     "side too)"),
    ("b (c 2) h w -> b c h w", "", "7:44: error[E402]: node 'y': pattern 'b (c 2) h w -> b c "
     "h w': '2' is an anonymous axis of size other than 1 (rearrange takes only 1; name the "
     "axis and give its size in 'sizes')"),
    ("b ((c)) h w -> b c h w", "", "7:42: error[E402]: node 'y': pattern 'b ((c)) h w -> b c h"
     " w': nested parentheses (a composition is one level of axes)"),
    ("b (... c) -> b c ...", "", "7:42: error[E402]: node 'y': pattern 'b (... c) -> b c "
     "...': '...' inside parentheses on the left side (the dims it stands for cannot be "
     "split)"),
    ("b c h w -> b c h w -> b", "", "7:58: error[E402]: node 'y': pattern 'b c h w -> b c h w "
     "-> b': more than one '->'"),
    ("b c h w ... -> b c h w (...)", "", "7:62: error[E402]: node 'y': '(...)' merges the dims "
     "of '...', which stands for none here: write '()' for a dim of size 1"),
]


@pytest.mark.parametrize("pattern, sizes, message", ERRORS, ids=[r[0] for r in ERRORS])
def test_errors_point_into_the_pattern(tmp_path, capsys, pattern, sizes, message):
    path = tmp_path / "t.yaml"
    path.write_text(spec_text("[B, C, H, W]", pattern, sizes, "params: {groups: 2}\n",
                              "requires: [groups > 0]\n"))
    assert main(["check", str(path)]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first == f"{path}:{message}"


def test_the_divisibility_hint_works_when_pasted(tmp_path, capsys):
    """E404's hint names the input dim and the param; pasted into `requires`, it checks."""
    path = tmp_path / "t.yaml"
    text = spec_text("[B, C, H, W]", "b (g c) h w -> (b g) c h w", "{g: groups}",
                     "params: {groups: 4}\n")
    path.write_text(text)
    assert main(["check", str(path)]) == 1
    hint = re.search(r"state it: (requires: \[.*\])", capsys.readouterr().err).group(1)
    assert hint == "requires: [C % groups == 0]"
    path.write_text(text.replace("inputs:", hint + "\ninputs:"))
    assert main(["check", str(path)]) == 0


@pytest.mark.parametrize("sizes, message", [
    ("[2]", "argument 'sizes' must be a mapping of name: value, such as {g: groups}, got a "
     "list"),
    ("{2g: 2}", "argument 'sizes': '2g' is not a name"),
    ("{g: C / 2}", "node 'y': rearrange's 'sizes' must be a mapping of axis name: size (a whole "
     "number), such as {g: groups}, got {g: C / 2} (a size that is not a whole number)\n"
     "  note: write // for a whole-number division"),
], ids=["a-list", "not-a-name", "not-whole"])
def test_sizes_is_a_mapping_of_names(tmp_path, capsys, sizes, message):
    path = tmp_path / "t.yaml"
    path.write_text(spec_text("[B, C, H, W]", "b (g c) h w -> b g c h w", sizes))
    assert main(["check", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_the_diagram_box_is_the_pattern(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(spec_text("[B, C, H, W]", "b (g c) h w -> (b g) c h w", "{g: groups}",
                              "params: {groups: 2}\n", "requires: [C % groups == 0]\n"))
    assert main(["diagram", str(path), "-o", str(tmp_path / "t.dot")]) == 0
    dot = (tmp_path / "t.dot").read_text()
    assert dot.count("rearrange(") == 1  # one box, labelled with the pattern and its sizes
    assert "rearrange(&#x27;b (g c) h w -&gt; (b g) c h w&#x27;," in dot
    assert "g=groups)" in dot


# -- a module written with rearrange, equal to one written by hand ----------------------------
MHA = """\
name: MultiHeadSelfAttention
params:
  dim: {type: int, example: 16}
  heads: {default: 4}
requires: [dim % heads == 0]
inputs:
  x: [B, N, dim]
graph:
  qkv: {op: Linear, args: [dim, 3 * dim], in: x}
  split: {op: rearrange, in: qkv, pattern: 'b n (k h d) -> k b h n d',
          sizes: {k: 3, h: heads}}
  parts: {op: chunk, args: [3], dim: 0, in: split, out: [q0, k0, v0]}
  q: {op: squeeze, dim: 0, in: q0}
  k: {op: squeeze, dim: 0, in: k0}
  v: {op: squeeze, dim: 0, in: v0}
  scores: {op: einsum, equation: 'bhqd,bhkd->bhqk', in: [q, k]}
  weights: {op: softmax, dim: -1, in: scores}
  mixed: {op: matmul, in: [weights, v]}
  merged: {op: rearrange, in: mixed, pattern: 'b h n d -> b n (h d)'}
  proj: {op: Linear, args: [dim, dim], in: merged}
outputs: proj
"""


class HandWritten(torch.nn.Module):
    """Multi-head self-attention with view and transpose (no scaling: the spec has none)."""

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, c))


@pytest.mark.parametrize("dim, heads", [(16, 4), (12, 3)])
def test_multi_head_attention_with_rearrange_equals_hand_written(tmp_path, dim, heads):
    from equivalence import assert_equivalent  # imports torch

    _, cls = generate(tmp_path, MHA)
    cls.__name__ = HandWritten.__name__
    assert_equivalent(cls, HandWritten, args=(dim,), kwargs={"heads": heads},
                      inputs=lambda: (torch.randn(2, 5, dim),))


# -- property: random patterns and shapes against einops -------------------------------------
@st.composite
def patterns(draw):
    """A random valid pattern with its spec input shape, sizes, tensor shape and einops
    sizes: named axes of size 1 to 3 grouped at random on both sides, maybe an ellipsis,
    a `1` or `()`."""
    n = draw(st.integers(1, 4))
    names = list(string.ascii_lowercase[:n])
    size = {a: draw(st.integers(1, 3)) for a in names}
    ell = draw(st.booleans())
    ell_dims = draw(st.lists(st.integers(1, 3), max_size=2)) if ell else []

    def grouping(order):
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=2)))
        groups, start = [], 0
        for c in [*cuts, len(order)]:
            if c > start:
                groups.append(order[start:c])
                start = c
        return groups

    left = grouping(names)
    right = grouping(draw(st.permutations(names)))
    lsides, rsides = [" ".join(g) if len(g) == 1 else f"({' '.join(g)})" for g in left], \
        [" ".join(g) if len(g) == 1 else f"({' '.join(g)})" for g in right]
    if ell:
        lsides.insert(draw(st.integers(0, len(lsides))), "...")
        composed = draw(st.booleans()) and bool(ell_dims)
        rsides.insert(draw(st.integers(0, len(rsides))), "(...)" if composed else "...")
    if draw(st.booleans()):
        rsides.insert(draw(st.integers(0, len(rsides))), draw(st.sampled_from(["1", "()"])))
    given, shape, concrete, requires = {}, [], [], []
    for i, g in enumerate(left):
        shape.append(f"D{i}")
        if len(g) > 1:
            given.update((a, size[a]) for a in g[:-1])
            requires.append(f"D{i} % {prod(size[a] for a in g[:-1])} == 0")
        concrete.append(prod(size[a] for a in g))
    at = lsides.index("...") if ell else None
    if at is not None:
        shape[at:at] = [f"E{j}" for j in range(len(ell_dims))]
        concrete[at:at] = ell_dims
    pattern = f"{' '.join(lsides)} -> {' '.join(rsides)}"
    sizes = "{" + ", ".join(f"{a}: {v}" for a, v in given.items()) + "}" if given else ""
    return (pattern, f"[{', '.join(shape)}]", sizes, tuple(concrete), given,
            f"requires: [{', '.join(requires)}]\n" if requires else "")


def _property(tmp_path_factory, case):
    pattern, shape, sizes, concrete, given, requires = case
    tmp = tmp_path_factory.mktemp("p")
    x = strided(concrete)
    got = run(tmp, spec_text(shape, pattern, sizes, requires=requires), x)
    assert torch.equal(got, einops.rearrange(x, pattern, **given)), (pattern, shape)


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                       HealthCheck.too_slow])


@settings(max_examples=25, **_SETTINGS)
@given(case=patterns())
def test_random_patterns_equal_einops(tmp_path_factory, case):
    _property(tmp_path_factory, case)


@pytest.mark.slow
@settings(max_examples=400, **_SETTINGS)
@given(case=patterns())
def test_random_patterns_equal_einops_long(tmp_path_factory, case):
    _property(tmp_path_factory, case)

