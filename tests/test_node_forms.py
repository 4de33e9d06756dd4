"""Node forms: each node of a spec holds what it does as one value of the closed union
`attngen.model.NodeForm`, and a `match` that leaves a form out is a type error (mypy).

(a) one node of each form, parsed from YAML, has the form's class (and the spec checks);
(b) mypy reports a `match` over NodeForm that misses a form, at its `assert_never`;
(c) a Spec object edited in Python holds only forms the loader could build (recheck).
"""

from __future__ import annotations

import textwrap

import pytest
from attngen.cli import main
from attngen.errors import SpecError
from attngen.loader import load
from attngen.model import (
    Cases,
    FunctionOp,
    LayerCall,
    LayerOp,
    Map,
    Repeat,
    Seq,
    SubSpec,
)
from conftest import REPO_ROOT

SPEC = """\
name: Forms
params:
  channel: {default: 8}
  kernels: {default: [3, 5]}
  act: {default: true}
inputs:
  x: [B, channel, H, W]
graph:
  conv:     {op: Conv2d, args: [channel, channel, 1], in: x}
  scaled:   {op: mul, in: [conv, x]}
  pooled:   {use: zpool, in: scaled}
  block:
    in: x
    seq:
      - {op: Conv2d, args: [channel, channel, 1]}
      - {use: zpool}
  shared:   {op: Conv2d, args: [2, channel, 1]}
  again:    {apply: shared, in: block}
  branches: {each: k in kernels, op: Conv2d, args: [channel, channel, k], padding: k // 2,
             in: again}
  relus:    {map: true, op: relu, in: branches}
  summed:   {op: add, in: relus}
  gate:
    cases:
      - {when: act, op: Sigmoid, in: summed}
      - {when: not act, op: Identity, in: summed}
outputs: [gate, pooled]
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "forms.yaml"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize("name, form", [
    ("conv", LayerOp), ("scaled", FunctionOp), ("pooled", SubSpec), ("block", Seq),
    ("shared", LayerOp), ("again", LayerCall), ("branches", Repeat), ("relus", Map),
    ("gate", Cases),
])
def test_each_node_form_parses_to_its_class(spec_file, name, form):
    assert type(load(spec_file).nodes[name].form) is form


def test_the_parts_of_each_form(spec_file):
    nodes = load(spec_file).nodes
    assert nodes["conv"].form.op == "Conv2d" and nodes["conv"].form.args["in_channels"].text \
        == "channel"
    assert nodes["pooled"].form.ref == "zpool" and nodes["pooled"].form.spec.name == "ZPool"
    block = nodes["block"].form
    assert [type(i.form) for i in block.items] == [LayerOp, SubSpec] and not block.named
    assert [i.name for i in block.items] == ["0", "1"]
    assert nodes["again"].form.target.name == "shared"
    branches = nodes["branches"].form
    assert (branches.var, branches.iterable.text) == ("k", "kernels")
    assert type(branches.body) is LayerOp and branches.body.args["padding"].text == "k // 2"
    assert type(nodes["relus"].form.body) is FunctionOp and nodes["relus"].form.body.op == "relu"
    cases = nodes["gate"].form.cases
    assert [type(c.form) for c in cases] == [LayerOp, LayerOp]
    assert [c.when.text for c in cases] == ["act", "not act"]


def test_the_spec_of_every_form_checks_and_builds(spec_file, tmp_path, capsys):
    assert main(["build", str(spec_file), "-o", str(tmp_path / "out")]) == 0
    source = (tmp_path / "out" / "forms.py").read_text()
    for line in ("self.block = nn.Sequential(", "again = self.shared(block)",
                 "branches = [layer(again) for layer in self.branches]",
                 "summed = sum(torch.relu(item) for item in branches)",  # as made
                 "pooled = self.pooled(scaled)"):
        assert line in source


def test_each_and_map_on_one_node_is_a_located_error(tmp_path):
    path = tmp_path / "both.yaml"
    path.write_text(SPEC.replace("{map: true, op: relu", "{map: true, each: kernels, op: relu"))
    with pytest.raises(SpecError) as info:
        load(path)
    (diag,) = info.value.diagnostics
    assert diag.code == "E102" and "both 'each' and 'map'" in diag.message
    assert (diag.loc.line, diag.loc.col) == (21, 14)  # at `map`


@pytest.mark.parametrize("edit, code, fragment", [
    (lambda form: Repeat(None, form.iterable, form), "E102", "must be an attngen LayerOp"),
    (lambda form: Map(Map(form.body)), "E102", "must be an attngen LayerOp"),
    (lambda form: FunctionOp("Conv2d", form.body.args), "E401", "unknown tensor function"),
    (lambda form: LayerOp("relu", {}), "E401", "unknown layer"),
])
def test_compile_refuses_a_form_the_loader_never_builds(spec_file, edit, code, fragment):
    """A Spec edited in Python is rechecked (attngen.recheck): `each` and `map` wrap one
    call, and an op is a LayerOp exactly when it owns an nn.Module."""
    import attngen

    spec = load(spec_file)
    spec.nodes["branches"].form = edit(spec.nodes["branches"].form)
    with pytest.raises(SpecError) as info:
        attngen.compile(spec)
    (diag,) = info.value.diagnostics
    assert diag.code == code and fragment in diag.message


# -- (b) a match that misses a form is a type error ----------------------------------------
MATCHES = '''\
from __future__ import annotations

from attngen.model import (
    Cases, FunctionOp, LayerCall, LayerOp, Map, NodeForm, Repeat, Seq, Stack, SubSpec,
    TensorDecl, assert_never,
)


def every_form(form: NodeForm) -> str:
    match form:
        case LayerOp() | FunctionOp():
            return form.op
        case SubSpec() | Seq() | LayerCall() | Cases() | TensorDecl() | Stack():
            return type(form).__name__
        case Repeat(body=body) | Map(body=body):
            return every_form(body)
        case _:
            assert_never(form)


def map_left_out(form: NodeForm) -> str:
    match form:
        case LayerOp() | FunctionOp():
            return form.op
        case SubSpec() | Seq() | LayerCall() | Cases() | TensorDecl() | Stack():
            return type(form).__name__
        case Repeat(body=body):
            return map_left_out(body)
        case _:
            assert_never(form)  # line 30: Map reaches here
'''


def test_mypy_reports_a_match_that_misses_a_form(tmp_path):
    try:
        from mypy import api
    except ImportError:
        pytest.fail("mypy is not installed, and this test needs it: install the [test] extra "
                    "(pip install mypy)")
    module = tmp_path / "matches.py"
    module.write_text(MATCHES)
    stdout, stderr, status = api.run([
        str(module), "--follow-imports=silent", "--ignore-missing-imports",
        "--no-error-summary", "--cache-dir", str(tmp_path / "mypy_cache"),
        "--python-version", "3.10",
    ] + ["--config-file", _config(tmp_path)])
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert status == 1 and len(errors) == 1, stdout + stderr
    assert errors[0].startswith(f"{module}:30: error:")
    assert 'incompatible type "Map"' in errors[0] and "assert_never" in errors[0]


def _config(tmp_path) -> str:
    """mypy reads attngen from this checkout's source (an installed attngen has no
    py.typed marker, so mypy would not look inside it)."""
    config = tmp_path / "mypy.ini"
    config.write_text(textwrap.dedent(f"""\
        [mypy]
        mypy_path = {REPO_ROOT / "codegen"}
    """))
    return str(config)
