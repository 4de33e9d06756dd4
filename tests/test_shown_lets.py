"""Shapes shown in the spec's lets: `window**2` where the spec says `window: block_size + 2
* halo_size` (check, show, generated comments and docstrings, diagrams, docs pages); a value
two lets share stays written out; outside those printers nothing changes."""

import pytest
import sympy
from attngen import load
from attngen.cli import main
from attngen.dims import dim_symbol, fmt_dim
from attngen.shown_lets import let_folds, lets_shown
from conftest import REPO_ROOT

SPEC = """\
name: Lets
params:
  c: 16
  h: 4
  k: 3
let:
  inner: c * h            # folded: 2*inner below
  halved: c // 2
  also_half: c // 2       # the same value as halved: neither is folded
  alias: k                # a param alone: nothing to fold
  three: 3                # a number: nothing to fold
inputs:
  x: [B, N, c]
graph:
  up:   {op: Linear, args: [c, 2 * inner], in: x}
  down: {op: Linear, args: [2 * inner, halved], in: up}
outputs: down
"""


def _write(tmp_path, text=SPEC):
    path = tmp_path / "lets.yaml"
    path.write_text(text)
    return path


def test_check_prints_shapes_in_the_lets(tmp_path, capsys):
    assert main(["check", str(_write(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "(B, N, 2*inner)" in out and "(B, N, c // 2)" in out, out


def test_only_whole_number_expressions_no_other_let_shares(tmp_path):
    checked = load(_write(tmp_path)).checked
    assert [str(name) for _, name in let_folds(checked)] == ["inner"]


def test_the_generated_source_and_docstring_read_the_lets(tmp_path):
    source = load(_write(tmp_path)).source()
    assert "# (B, N, c) -> (B, N, 2*inner)" in source
    assert "returns down: (B, N, c // 2)" in source  # halved is ambiguous: written out


def test_a_docstring_says_what_a_let_in_its_shapes_is():
    source = (REPO_ROOT / "generated" / "mbconv.py").read_text()
    assert "1 + ((pad_total + H - ksize) // stride)" in source
    assert "where pad_total = max(((image_size + stride - 1) // stride - 1) * stride" in source


def test_docs_pages_list_the_lets_and_show_shapes_in_them():
    page = (REPO_ROOT / "docs" / "halo_attention.md").read_text()
    assert "## Derived values" in page and "| `window` | `block_size + 2 * halo_size` |" in page
    assert "`(B*(H // block_size)*(W // block_size), window**2, 2*inner_dim)`" in page


def test_folding_ends_with_its_printer():
    c, h = dim_symbol("c"), dim_symbol("h")
    folds = ((c * h, sympy.Symbol("inner")),)
    checked_like = 2 * c * h
    assert fmt_dim(checked_like) == "2*c*h"

    class _Checked:  # what lets_shown reads (no node: no dim an annotation binds)
        spec = load(REPO_ROOT / "specs" / "halo_attention.yaml").spec
        configs = [{}]
        order: list[str] = []

    with lets_shown(_Checked()):
        assert "window" in fmt_dim(dim_symbol("block_size") + 2 * dim_symbol("halo_size"))
    from attngen.dims import lets_folded

    with lets_folded(folds):
        assert fmt_dim(checked_like) == "2*inner"
    assert fmt_dim(checked_like) == "2*c*h"


@pytest.mark.parametrize("spec", ["simplified_sdpa", "halo_attention", "mbconv", "coordatt"])
def test_a_folded_shape_is_the_same_value(spec):
    """Each fold replaces a let's value by its name: put back, every shape is the one the
    checker found."""
    checked = load(REPO_ROOT / "specs" / f"{spec}.yaml").checked
    folds = let_folds(checked)
    back = {name: value for value, name in folds}
    for info in checked.nodes.values():
        shapes = info.output.values() if isinstance(info.output, dict) else [info.output]
        for shape in shapes:
            if not isinstance(shape, tuple):
                continue
            for d in shape:
                if not isinstance(d, sympy.Basic):
                    continue
                folded = d
                for value, name in folds:
                    folded = folded.subs(value, name)
                assert sympy.simplify(folded.subs(back) - d) == 0, (spec, d, folded)


def test_a_fold_never_writes_a_root():
    """With `window: kernel_att * kernel_att`, sympy would write kernel_att as sqrt(window)
    (ACmix's unfold comments did): such a fold is not taken."""
    k = dim_symbol("kernel_att")
    from attngen.dims import lets_folded

    with lets_folded(((k ** 2, sympy.Symbol("window")),)):
        assert fmt_dim(dim_symbol("H") - k + 3) == "3 + H - kernel_att"
        assert fmt_dim(2 * k ** 2) == "2*window"
    source = (REPO_ROOT / "generated" / "acmix.py").read_text()
    assert "sqrt" not in source and "H - kernel_att + 2*padding_att" in source
