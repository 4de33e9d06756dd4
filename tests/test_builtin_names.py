"""A node may carry a Python builtin's name only as a layer declaration (names.py,
`check_node_name`): its name is then only an attribute, `self.filter`, as GFNet's block
names its filter, and never forward's variable, which would shadow the builtin the
generated code may call. Anywhere else the name is E104, with two fixes that work pasted."""

from __future__ import annotations

import ast

import attngen
import pytest
from attngen.cli import main

torch = pytest.importorskip("torch")

DECLARED = """\
name: Declared
params:
  c: 4
inputs:
  x: [B, c]
graph:
  filter: {op: Linear, args: [c, c]}
  y:      {apply: filter, in: x}
  z:      {op: sigmoid, in: y}
outputs: z
"""


def test_a_declared_layer_may_have_a_builtins_name_as_an_attribute_only(tmp_path):
    path = tmp_path / "declared.yaml"
    path.write_text(DECLARED)
    loaded = attngen.load(str(path))
    source = loaded.source()
    assert "self.filter = nn.Linear(c, c, **factory_kwargs)" in source
    assert "y = self.filter(x)" in source
    forward = next(f for f in ast.walk(ast.parse(source))
                   if isinstance(f, ast.FunctionDef) and f.name == "forward")
    assert "filter" not in {n.id for n in ast.walk(forward) if isinstance(n, ast.Name)}
    module = loaded.compile()()
    assert [k for k in module.state_dict()] == ["filter.weight", "filter.bias"]
    x = torch.randn(3, 4)
    torch.testing.assert_close(module(x), torch.sigmoid(module.filter(x)))


@pytest.mark.parametrize("node", ["{op: Sigmoid, in: y}", "{op: sigmoid, in: y}",
                                  "{op: add, in: [y, y]}"])
def test_a_node_forward_names_is_refused_with_fixes_that_work(tmp_path, capsys, node):
    text = DECLARED.replace("  z:      {op: sigmoid, in: y}", f"  sum:    {node}") \
                   .replace("outputs: z", "outputs: sum")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert main(["check", "-q", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:9:3: error[E104]: node name 'sum' is reserved: the "
                          "generated code uses it\n"), err
    assert "note: rename it, e.g. to 'sum_' (and every place that reads it)" in err
    layer = node.startswith("{op: Sigmoid")  # a layer could be declared; a function not
    assert ("note: or declare the layer without `in` and call it with `apply: sum`" in err) \
        == layer
    # the first fix, pasted
    path.write_text(text.replace("sum:", "sum_:").replace("outputs: sum", "outputs: sum_"))
    assert main(["check", "-q", str(path)]) == 0
    if layer:  # the second
        path.write_text(text.replace(f"  sum:    {node}", "  sum:    {op: Sigmoid}\n"
                                     "  z:      {apply: sum, in: y}").replace("outputs: sum",
                                                                           "outputs: z"))
        assert main(["check", "-q", str(path)]) == 0, capsys.readouterr().err


def test_a_variant_may_add_a_declaration_with_a_builtins_name_not_a_call(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(DECLARED.replace("filter", "proj"))
    edit = ("extends: base.yaml\nname: Variant\nedits:\n  - insert_after: y\n    nodes:\n"
            "      map: {op: Linear, args: [c, c]}\n      m: {apply: map, in: y}\n"
            "  - patch: z\n    set: {in: m}\n")
    (tmp_path / "variant.yaml").write_text(edit)
    assert main(["check", "-q", str(tmp_path / "variant.yaml")]) == 0, capsys.readouterr().err
    (tmp_path / "variant.yaml").write_text(edit.replace("c]}", "c], in: y}")
                                           .replace("{apply: map, in: y}", "{op: relu, in: map}"))
    assert main(["check", "-q", str(tmp_path / "variant.yaml")]) == 1
    assert "error[E104]: node name 'map' is reserved" in capsys.readouterr().err
