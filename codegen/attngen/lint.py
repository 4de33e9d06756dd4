"""Warnings: constructs that check and run in PyTorch but are known to go wrong elsewhere.

A warning is a located Diagnostic of severity "warning" with a W-code (errors.py,
docs/errors.md). The shape inference calls `op_call` for every op call of a spec's own
check (not for the calls inside a `use:` sub-spec: the sub-spec's own check warns, at its
file), in every configuration; a warning is kept once per place and code. `attngen check`
and `build` print them and exit 0 (`-W error`: as errors, exit 1); the spec's docs page and
`attngen serve` show them.

W100, adaptive pooling of a free input size: `torch.onnx.export(..., dynamo=True)` gives
AdaptiveAvgPool2d / AdaptiveMaxPool2d a kernel and stride computed from the export's input
size (measured with torch 2.13 and onnxruntime 1.32: (7, 7) exported at 28x28 gives 14x14
at 56x56; (None, 1) exported at 30x30 gives (56, 1) at 56x56, values wrong at 28x28 when
exported at 30x23), whether or not the output size divides the input size. Only global
pooling (output size 1 in every dim) is exported as such and adapts. A dim is safe when its
output size is None or provably its input size (window 1), or when its input size is made
of params and lets alone (fixed for a constructed module: a static export at a size that
does not divide works). The functional pools (avg_pool2d, max_pool2d) warn alike where
their kernel_size or stride reads a free input size (BiFormer's regions, H // n_win): the
export computes the window once.
"""

from __future__ import annotations

from .dims import fmt_dim, fmt_shape
from .errors import ONNX_FIXED_WINDOW, Diagnostic
from .model import FunctionOp, LayerOp, Node, Spec
from .prover import Prover
from .results import Checked

ADAPTIVE_POOLS = frozenset({"AdaptiveAvgPool2d", "AdaptiveMaxPool2d"})
# functional pools whose window a spec may compute from input sizes (BiFormer's regions)
FUNCTIONAL_POOLS = frozenset({"avg_pool2d", "max_pool2d"})


def op_call(record: Checked, prover: Prover, call: LayerOp | FunctionOp, owner: Node,
            ins: list, out: object) -> None:
    """Record the warnings of one op call of the checked spec (`owner`: its node)."""
    if call.op in ADAPTIVE_POOLS and isinstance(out, tuple) and ins:
        message = _fixed_window(record.spec, prover, call, owner, ins[0], out)
        if message:
            loc = call.args["output_size"].loc if "output_size" in call.args else owner.loc
            _add(record, Diagnostic(loc, ONNX_FIXED_WINDOW, message, (
                "only global pooling (output size 1 in every dim) adapts to the input size; "
                "export at the size you deploy, or pool globally",), "warning"))
    if call.op in FUNCTIONAL_POOLS and (warning := _computed_window(record.spec, call, owner)):
        _add(record, warning)


def _computed_window(spec: Spec, call: LayerOp | FunctionOp,
                     owner: Node) -> Diagnostic | None:
    """W100 for a functional pool whose kernel_size or stride reads a free input size."""
    dims = spec.input_dims()
    for key in ("kernel_size", "stride"):
        expr = call.args.get(key)
        if expr is None:
            continue
        if read := sorted(expr.names & dims):
            return Diagnostic(expr.loc, ONNX_FIXED_WINDOW, (
                f"node '{owner.name}': {call.op}'s {key} {expr.text} reads the free input "
                f"size{'s' if len(read) > 1 else ''} {' and '.join(read)}: its ONNX export "
                "fixes the window at the export's input size, so the exported model differs "
                "from PyTorch at other sizes"), (
                "export at the size you deploy, or pool with a window of params alone",),
                "warning")
    return None


def _fixed_window(spec: Spec, prover: Prover, call: LayerOp | FunctionOp, owner: Node,
                  before: tuple, after: tuple) -> str:
    """W100's message for an adaptive pool from `before` to `after`, or ''."""
    spatial = list(zip(before[2:], after[2:], strict=False))
    if all(o == 1 for _, o in spatial):  # global pooling: exported as such
        return ""
    fixed = set(spec.params) | set(spec.lets)
    pooled = [i for i, o in spatial
              if any(s.name not in fixed for s in getattr(i, "free_symbols", ()))
              and not prover.equal(i, o)[0]]
    if not pooled:
        return ""
    free = ("sizes " if len(pooled) > 1 else "size ") + " and ".join(map(fmt_dim, pooled))
    return (f"node '{owner.name}': {call.op} from {fmt_shape(before)} to {fmt_shape(after)} "
            f"pools the free input {free}: its ONNX export fixes the window at the export's "
            "input size, so the exported model differs from PyTorch at other sizes")


def _add(record: Checked, warning: Diagnostic) -> None:
    """Keep a warning once per place and code (the first configuration's text)."""
    if all((w.loc, w.code) != (warning.loc, warning.code) for w in record.warnings):
        record.warnings.append(warning)


def warnings_of(checked: Checked) -> list[Diagnostic]:
    """A checked spec's warnings and its sub-specs' (each at its own file), once each, in
    file order."""
    found: list[Diagnostic] = []
    for c in (checked, *checked.all_subs()):
        found += [w for w in c.warnings if w not in found]
    return sorted(found, key=lambda w: w.loc)
