"""`attngen verify --compile`: the generated module through `torch.compile(fullgraph=True)`.

The module (at the first sample's params, eval mode) is compiled whole: a graph break is an
error, as `fullgraph=True` makes it. The compiled module then runs beside the eager one on
the first sample's inputs, with every optional input left out and with every one given,
and at the first sample's dims doubled (a second size: a recompile, not a break, and the
sizes the spec leaves free must stay free); every output must equal eager's within float32
tolerance. Problems are E601 (what torch.export and ONNX report under too). Imported only
by `verify`.
"""

from __future__ import annotations

from typing import Any

from .errors import VERIFY_EXPORT, Diagnostic, Loc
from .results import Checked
from .verify import Report, Sample, construct, make_inputs, namespace

ATOL, RTOL = 1e-4, 1e-3  # float32 through other kernels (inductor reorders sums)


def _flat(value: Any) -> list[Any]:
    """The tensors of nested lists and tuples, in order."""
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return [] if value is None else [value]


def runs(checked: Checked, first: Sample) -> list[Sample]:
    """The first sample, then without and with every optional input, then its dims doubled
    (each once)."""
    optional = {n for n, i in checked.spec.inputs.items() if i.optional}
    doubled = {d: 2 * v for d, v in first.dims.items()}
    out: list[Sample] = []
    for sample in (first, Sample(first.params, first.dims, set()),
                   Sample(first.params, first.dims, optional),
                   Sample(first.params, doubled, first.present)):
        if all(sample != s for s in out):
            out.append(sample)
    return out


def check_compile(checked: Checked, source: str, first: Sample, report: Report, *,
                  backend: str = "inductor") -> None:
    """Compile and compare (module docstring). `backend`: torch.compile's; tests pass
    "eager", which traces as fullgraph does without generating kernels."""
    import torch

    spec = checked.spec
    model = construct(namespace(source, spec, "compile"), spec, first)
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    where = Loc(spec.file)
    for k, sample in enumerate(runs(checked, first), 1):
        inputs = make_inputs(spec, sample)
        try:  # sizes the module refuses are passed over (the runtime check reports its own)
            with torch.no_grad():
                want = _flat(model(**inputs))
        except Exception:  # noqa: BLE001, S112
            continue
        try:
            with torch.no_grad():
                got = _flat(compiled(**inputs))
        except Exception as exc:  # noqa: BLE001  (dynamo and inductor raise many types)
            report.errors.append(Diagnostic(where, VERIFY_EXPORT, "torch.compile(fullgraph="
                                            f"True) failed at {sample.text()}: "
                                            f"{_first_line(exc)}"))
            return
        same = len(got) == len(want) and all(
            g.shape == w.shape and bool(torch.allclose(g, w, atol=ATOL, rtol=RTOL,
                                                       equal_nan=True))
            for g, w in zip(got, want, strict=True))
        worst = max((float((g - w).abs().nan_to_num(0.0).max()) for g, w in zip(got, want,
                     strict=False) if g.numel() and g.shape == w.shape), default=0.0)
        given = ", ".join(sorted(sample.present)) or "no optional inputs"
        report.lines.append(f"  compile: run {k} ({sample.text()}; {given}): "
                            f"{'equal' if same else 'DIFFERENT'}, max difference {worst:.1e}")
        if not same:
            report.errors.append(Diagnostic(where, VERIFY_EXPORT, "torch.compile's outputs "
                                            f"differ from eager at {sample.text()} (max "
                                            f"difference {worst:.1e})"))


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]
