"""`attngen verify --onnx`: the generated module through ONNX and ONNX Runtime.

The module (at the first sample's params) is exported with `torch.onnx.export(...,
dynamo=True)`, its free input dims dynamic, and run in onnxruntime on three input sizes of
the same params: the export's, the first of `other_sizes` PyTorch runs (the first sample's
dims doubled, mostly); one larger than the export's, found the same way from it; and the
first sample's own, the least the spec allows. Exported at the least sizes, a dim they
make 1 (one 7 x 7 patch of a 7 x 7 map) is specialized by the export and another size
fails; exported at the larger, the least run still tests that the graph kept the dims
free; and a window the export fixed (an adaptive pool's) may still give the right values
at a smaller input, so only a larger one shows it (EMA's pools, measured: right at the
least size, onnxruntime failing at the larger). Every output must equal PyTorch's within
float32 tolerance. A
module that cannot export, or whose exported graph fixed a size the spec leaves free, is
reported with the reason (E601). Needs torch, onnx, onnxscript and onnxruntime (the
`integrations` extra); imported only by `verify`.
"""

from __future__ import annotations

import ast
import random
from dataclasses import replace
from typing import Any

import onnxruntime

from . import ops
from .errors import VERIFY_EXPORT, Diagnostic, Loc
from .model import FunctionOp, LayerOp, Seq
from .results import Checked
from .verify import Report, Sample, construct, draw_samples, make_inputs, namespace

ATOL, RTOL = 1e-4, 1e-3  # float32 through other kernels (the issue measured about 6e-7)


def _flat(value: Any) -> list[Any]:
    """Tensors of nested lists and tuples, in order; None left out (ONNX has no input)."""
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return [] if value is None else [value]


def other_sizes(checked: Checked, first: Sample) -> list[Sample]:
    """Samples with the first's params and optional inputs and other dims, to try in turn:
    the dims doubled, plus one, drawn ones, then one dim doubled at a time (where the
    constructor fixes the others, as EMSA's params fix its token counts); the first that
    PyTorch runs is taken."""
    drawn = draw_samples(checked.spec, 24, random.Random(f"{checked.spec.name}:onnx"))
    ints = checked.spec.int_inputs  # constants of the exported graph: kept
    dims = [{d: v if d in ints else 2 * v for d, v in first.dims.items()},
            {d: v if d in ints else v + 1 for d, v in first.dims.items()},
            *(s.dims for s in drawn if s.params == first.params),
            *({**first.dims, d: 2 * v} for d, v in first.dims.items() if d not in ints)]
    return [Sample(first.params, d, first.present) for d in dims if d != first.dims
            and all(d[i] == first.dims[i] for i in ints)]


def _beyond(sample: Sample, than: Sample) -> bool:
    """Every dim of `sample` at least `than`'s, one larger."""
    return sample.dims != than.dims and all(v >= than.dims[d] for d, v in sample.dims.items())


def _runnable(model: Any, spec: Any, samples: list[Sample]) -> tuple[Sample, dict] | None:
    """The first of `samples` PyTorch runs, with its inputs; sizes the spec's requirements
    (or the module) refuse are passed over."""
    import torch

    for sample in samples:
        inputs = make_inputs(spec, sample)
        try:
            with torch.no_grad():
                model(**inputs)
        except Exception:  # noqa: BLE001, S112
            continue
        return sample, inputs
    return None


def check_onnx(checked: Checked, source: str, first: Sample, report: Report) -> None:
    """Export, run and compare (module docstring); each problem found is an E601 with, as
    notes, the spec's layers whose ONNX export is known to differ (`caveats`)."""
    before = len(report.errors)
    _export_and_run(checked, source, first, report)
    if len(report.errors) > before:
        notes = caveats(checked)
        report.errors[before:] = [replace(d, notes=d.notes + notes)
                                  for d in report.errors[before:]]


def _export_and_run(checked: Checked, source: str, first: Sample, report: Report) -> None:
    import torch
    from torch.export import Dim

    spec = checked.spec
    model = construct(namespace(source, spec, "onnx"), spec, first)
    free = set(first.dims) - set(spec.int_inputs)
    # the sizes run, the export's first: a larger one PyTorch runs, where found, then one
    # larger than the export's, then the least
    runs = [(first, make_inputs(spec, first))]
    exported = _runnable(model, spec, other_sizes(checked, first))
    if exported is not None:
        runs.insert(0, exported)
        larger = [s for s in other_sizes(checked, exported[0]) if _beyond(s, exported[0])]
        if (beyond := _runnable(model, spec, larger)) is not None:
            runs.insert(1, beyond)

    def dynamic(inp: Any) -> dict[int, Any] | None:
        return {a: Dim.AUTO for a, d in enumerate(inp.tensor_shape) if d.text in free} or None

    inputs = runs[0][1]
    shapes = {name: [dynamic(i) for i in inp.items] if inp.items is not None
              else None if inputs[name] is None else dynamic(inp)
              for name, inp in spec.inputs.items()} | dict.fromkeys(spec.int_inputs)
    where = Loc(spec.file)
    try:
        program = torch.onnx.export(model, (), kwargs=inputs, dynamic_shapes=shapes,
                                    dynamo=True, verbose=False)
        assert program is not None
        session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  (exporters raise many types; each is reported)
        report.errors.append(Diagnostic(where, VERIFY_EXPORT, f"ONNX export failed: "
                                        f"{_first_line(exc)}"))
        return
    for k, (sample, inputs) in enumerate(runs, 1):
        with torch.no_grad():
            want = [t.numpy() for t in _flat(model(**inputs))]
        tensors = [v for n, v in inputs.items() if n not in spec.int_inputs]  # (ints: constants)
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), _flat(tensors),
                                                    strict=False)}
        try:
            got = session.run(None, feeds)
        except Exception as exc:  # noqa: BLE001
            report.errors.append(Diagnostic(where, VERIFY_EXPORT, f"onnxruntime failed at "
                                            f"{sample.text()}: {_first_line(exc)}"))
            return
        pairs = [(torch.from_numpy(g), torch.from_numpy(w)) for g, w in zip(got, want,
                                                                          strict=False)]
        # NaN where PyTorch has NaN too (a fully masked attention row) is equal
        worst = max((float((g - w).abs().nan_to_num(0.0).max()) for g, w in pairs
                     if g.numel() and g.shape == w.shape), default=0.0)
        same = len(got) == len(want) and all(
            g.shape == w.shape and bool(torch.allclose(g, w, atol=ATOL, rtol=RTOL,
                                                       equal_nan=True))
            for g, w in pairs)
        report.lines.append(f"  onnx: size {k} ({sample.text()}): "
                            f"{'equal' if same else 'DIFFERENT'}, max difference {worst:.1e}")
        if not same:
            report.errors.append(Diagnostic(where, VERIFY_EXPORT, f"onnxruntime's outputs differ "
                                            f"from PyTorch's at {sample.text()} (max "
                                            f"difference {worst:.1e})"))


def caveats(checked: Checked) -> tuple[str, ...]:
    """Notes on the spec's layers and tensor functions whose ONNX export differs from
    PyTorch (an op's `onnx_caveat`, read at the call's literal arguments)."""
    notes = []
    for node in checked.spec.nodes.values():
        layers = [(node.name, node.form)]
        if isinstance(node.form, Seq):
            layers = [(f"{node.name}.{item.name}", item.form) for item in node.form.items]
        for name, form in layers:
            if not isinstance(form, LayerOp | FunctionOp):
                continue
            op = ops.REGISTRY[form.op]
            if op.onnx_caveat is None:
                continue
            args = {}
            for key, expr in form.args.items():
                try:
                    args[key] = _literal(expr.tree)
                except ValueError:  # an expression of params: the caveat reads it as absent
                    continue
            caveat = op.onnx_caveat(args)
            if caveat:
                notes.append(f"node '{name}' ({form.op}): {caveat}")
    return tuple(notes)


def _literal(tree: ast.AST) -> Any:
    """A literal argument's value: a constant or a tuple or list of them (`(None, 1)`)."""
    if isinstance(tree, ast.Constant):
        return tree.value
    if isinstance(tree, (ast.Tuple, ast.List)):
        return tuple(_literal(item) for item in tree.elts)
    raise ValueError("not a literal")


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]
