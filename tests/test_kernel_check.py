"""`attngen verify`'s kernel check (kernel_check.py): a fused attention call that ran
PyTorch's math kernel is W101 at its spec lines, with the reason; one the module's sizes
force onto it (values of other features than the keys, on CPU) is named in the report
line only; a call that ran a fused kernel is counted."""

from __future__ import annotations

import pytest
from attngen import verify
from attngen.build import compile_spec
from attngen.cli import main
from attngen.kernel_check import check_kernels
from attngen.loader import Loader
from conftest import REPO_ROOT

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# one head over (B, N, d); keys and values chunked from one conv's output [B, 2d, N] (views
# whose layout the fusion does not follow, so the call copies nothing): the keys' transpose
# and the values have a last dim of stride N
STRIDED = """\
name: OneHead
params:
  d: 8
inputs:
  x: [B, d, N]
graph:
  kv:     {op: Conv1d, args: [d, 2 * d, 1], in: x}
  parts:  {op: chunk, in: kv, chunks: 2, dim: 1, out: [k, v_t]}
  q_conv: {op: Conv1d, args: [d, d, 1], in: x}
  q:      {op: permute, in: q_conv, dims: [0, 2, 1]}
  v:      {op: transpose, in: v_t, dim0: 1, dim1: 2}
  scores: {op: matmul, in: [q, k], shape: [B, N, N]}
  probs:  {op: softmax, in: scores, dim: -1}
  out:    {op: matmul, in: [probs, v], shape: [B, N, d]}
outputs: out
"""
# the same attention with queries, keys and values [..., N, d] in memory: keys transposed
# by a view
VIEWS = STRIDED.replace(
    "  v:      {op: transpose, in: v_t, dim0: 1, dim1: 2}",
    "  v_rows: {op: transpose, in: v_t, dim0: 1, dim1: 2}\n"
    "  v:      {op: contiguous, in: v_rows}\n"
    "  k_rows: {op: transpose, in: k, dim0: 1, dim1: 2}\n"
    "  k_made: {op: contiguous, in: k_rows}\n"
    "  k_t:    {op: transpose, in: k_made, dim0: 1, dim1: 2}",
).replace("in: [q, k]", "in: [q, k_t]")


def report_of(tmp_path, text: str, name: str = "one_head.yaml") -> verify.Report:
    path = tmp_path / name
    path.write_text(text)
    checked = compile_spec(path, Loader(), {})
    report = verify.Report(str(path), checked.spec.name)
    first = verify.draw_samples(checked.spec, 1, verify.random.Random(0))[0]
    check_kernels(checked, "", first, report)
    return report


def kernel_line(report: verify.Report) -> str:
    return next(line for line in report.lines if line.startswith("  kernels:"))


def test_keys_copied_in_feature_order_warn_at_the_scores_with_the_reason(tmp_path):
    report = report_of(tmp_path, STRIDED)
    [warning] = report.warnings
    assert (warning.code, warning.severity) == ("W101", "warning")
    text = (tmp_path / "one_head.yaml").read_text().splitlines()
    assert text[warning.loc.line - 1].lstrip().startswith("scores:")  # the call's first node
    assert warning.loc.col == text[warning.loc.line - 1].index("scores") + 1
    assert "ran PyTorch's math kernel" in warning.message
    assert "the keys' last dim has stride" in warning.message
    assert "the values' last dim has stride" in warning.message
    assert "queries" not in warning.message  # a permuted conv output: copied by the call
    assert any("or copy them (`contiguous`)" in note for note in warning.notes)
    assert "0 ran a fused kernel, 1 PyTorch's math kernel" in kernel_line(report)


def test_the_same_attention_over_unit_stride_features_runs_the_fused_kernel(tmp_path):
    report = report_of(tmp_path, VIEWS)
    assert not report.warnings
    assert kernel_line(report).endswith(": 1 ran a fused kernel")


def test_values_of_other_features_are_named_in_the_line_not_warned():
    # SDPA's first sample draws d_k 16 and d_v 24: PyTorch's fused CPU kernel takes one size
    path = REPO_ROOT / "specs" / "sdpa.yaml"
    checked = compile_spec(path, Loader(), {})
    report = verify.Report(str(path), checked.spec.name)
    rng = verify.random.Random("ScaledDotProductAttention:0")  # verify's own first draw
    first = verify.draw_samples(checked.spec, 1, rng)[0]
    assert first.params["d_k"] != first.params["d_v"]
    check_kernels(checked, "", first, report)
    assert not report.warnings
    line = kernel_line(report)
    assert "PyTorch's math kernel (the values have" in line and "takes one size" in line


def test_flash_turned_off_is_named_not_warned(tmp_path):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        report = report_of(tmp_path, VIEWS)
    assert not report.warnings
    assert "flash attention is turned off" in kernel_line(report)


def test_a_spec_without_fused_calls_gets_no_kernel_line(tmp_path):
    report = report_of(tmp_path, VIEWS.replace("name: OneHead", "name: OneHead\nfuse: false"))
    assert not report.lines and not report.warnings


def test_verify_prints_the_warning_and_exits_0(tmp_path, monkeypatch, capsys):
    (tmp_path / "one_head.yaml").write_text(STRIDED)
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "one_head.yaml", "-n", "1", "--no-export"]) == 0
    out, err = capsys.readouterr()
    assert "one_head.yaml: OneHead: ok, 1 warning" in out
    assert err.startswith("one_head.yaml:12:3: warning[W101]: this attention's fused call")
    assert err.rstrip().endswith("attngen: 1 warning")


def test_a_sub_spec_warns_once_at_its_own_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "one_head.yaml").write_text(STRIDED)
    (tmp_path / "outer.yaml").write_text(
        "name: Outer\nparams:\n  d: 8\ninputs:\n  x: [B, d, N]\ngraph:\n"
        "  att: {use: one_head, d: d, in: x}\noutputs: att\n")
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "one_head.yaml", "outer.yaml", "-n", "1", "--no-export"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning[W101]") == 1 and "one_head.yaml:12:3:" in err


def test_a_module_that_fails_to_construct_is_left_to_the_runtime_check(tmp_path):
    # a constructor that raises (Conv1d refuses -1 channels)
    path = tmp_path / "one_head.yaml"
    path.write_text(STRIDED)
    checked = compile_spec(path, Loader(), {})
    report = verify.Report(str(path), checked.spec.name)
    first = verify.draw_samples(checked.spec, 1, verify.random.Random(0))[0]
    broken = verify.Sample({**first.params, "d": -1}, first.dims, first.present)
    check_kernels(checked, "", broken, report)  # no traceback
    assert not report.warnings
    assert kernel_line(report).startswith("  kernels: 0 fused attention calls")


def test_a_refusal_it_cannot_explain_still_warns_without_the_layout_advice(tmp_path,
                                                                           monkeypatch):
    from attngen import kernel_check

    monkeypatch.setattr(kernel_check, "_refused", lambda args, kwargs: [])
    [warning] = report_of(tmp_path, STRIDED).warnings
    assert warning.message.endswith("not a fused one: PyTorch's checks refused its inputs")
    assert len(warning.notes) == 1 and "n x n scores" in warning.notes[0]


FUSING = sorted(p for p in [*(REPO_ROOT / "specs").glob("*.yaml"),
                            *(REPO_ROOT / "specs" / "variants").glob("*.yaml")]
                if "scaled_dot_product_attention(" in
                (REPO_ROOT / "generated" / p.relative_to(REPO_ROOT / "specs")).with_suffix(
                    ".py").read_text())


@pytest.mark.parametrize("path", FUSING, ids=[p.stem for p in FUSING])
def test_every_library_call_runs_a_fused_kernel_or_says_why(path):
    """A fusion change that leaves a library call on PyTorch's math kernel fails here: no
    W101 over the library, and any math kernel named by the sizes it was given."""
    checked = compile_spec(path, Loader(), {})
    report = verify.Report(str(path), checked.spec.name)
    first = verify.draw_samples(checked.spec, 1, verify.random.Random(f"{checked.spec.name}:0"))[0]
    check_kernels(checked, "", first, report)
    assert not report.warnings, [w.format() for w in report.warnings]
    line = kernel_line(report)
    assert "math kernel" not in line or "takes one size" in line, line
