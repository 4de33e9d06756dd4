"""`attngen verify`: the spec's shape claims checked against PyTorch itself.

1. Runtime. Our generated source (emit.render, in memory) is instrumented by one AST
   pass: after every assignment in a `forward`, a call records the shape of each tensor
   the statement bound. The file is executed in a fresh namespace and the top-level
   module runs on several random assignments of the params and free dims (every
   configuration of bool/choices params, odd and non-square sizes, `requires` made to
   hold by construction). At each assignment the checker's own inference runs with
   those concrete values: every node's runtime shape must equal the spec's shape there
   (the `shape:` annotation where the node has one, else its op rule's result).
2. Export. The module (default params) is exported with `torch.export`, each free
   input dim a `torch.export.Dim`; the symbolic shape of every output must equal the
   spec's. Dims the constructor fixes (params) and dims export specializes are named.

torch is imported only here, lazily; `attngen build` never imports this module.
"""

from __future__ import annotations

import os
import random
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias, cast

import sympy

from . import algebra, fusion
from .accumulate import summable_lists
from .build import collect_specs, compile_spec
from .checker import CheckCache
from .configs import Env, add_lets, structural_params
from .dims import dim_symbol, fmt_shape
from .errors import (
    SHAPE_MISMATCH,
    UNSTATED_DIVISIBILITY,
    VERIFY_EXPORT,
    VERIFY_RUNTIME,
    Diagnostic,
    Loc,
    SpecError,
)
from .facts import fixed_dims
from .infer import Inference
from .instrument import RuntimeDtype, instrumented_namespace
from .loader import Loader
from .model import Input, Node, Spec, cases_of, compute_lets, is_declaration, tensor_decl
from .ops.ctx import Shape
from .prover import Assignment, Prover, requirement_rewrites, valid_samples
from .results import Checked, ValueShape, dtype_of
from .samples import DIM_RANGES, Sample, draw_samples, free_dims, unsatisfied

if TYPE_CHECKING:  # imported where used: `attngen verify` alone needs torch
    import torch

@dataclass
class Report:
    spec_file: str
    name: str
    lines: list[str] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)


# -- the spec's shapes at a point ------------------------------------------------------------
def spec_shapes(spec: Spec, order: list[str], sample: Sample,
                symbolic_dims: bool = False) -> tuple[Inference, dict[str, Shape]]:
    """Inference with concrete params (and concrete or symbolic free dims).

    Returns (inference, input shapes). Raises SpecError where the spec's rules fail there.
    """
    env = Env()
    for p in spec.params.values():
        env.val[p.name] = env.sym[p.name] = sample.params[p.name]
    add_lets(spec, env)
    for d, v in sample.dims.items():
        env.val[d] = v
        env.sym[d] = dim_symbol(d) if symbolic_dims else sympy.Integer(v)
    config = {n: sample.params[n] for n in structural_params(spec)}
    samples: list[Assignment] = [{}]
    if symbolic_dims:
        dims = [env.sym[d] for d in sample.dims]
        samples = list(valid_samples(spec, env, dims, random.Random(spec.name))) or [{}]
    prover = Prover(requirement_rewrites(spec, env), samples)
    given: dict[str, Shape] = {}
    for name, inp in spec.sources().items():
        if not inp.optional or name in sample.present:
            given[name] = tuple(d.sympy(env.sym) for d in inp.tensor_shape)
    inference = Inference(spec, env, prover, config, order)
    inference.ctx.sizes_text = "this sample's sizes"
    inference.bind_inputs(given)
    inference.run()
    return inference, given


def expected_tensors(spec: Spec, inference: Inference) -> dict[str, ValueShape]:
    """Tensor name -> shape (tuple, or list of tuples) the spec gives it."""
    out: dict[str, ValueShape] = {}
    for name, value in inference.values.items():
        node = spec.nodes.get(name)
        if node is not None and is_declaration(node):  # a layer, called by `apply:` nodes
            continue
        if isinstance(value, dict):
            out.update(value)
        elif value is not None:  # a shape (LAYER is a declaration's value, skipped above)
            out[name] = cast(ValueShape, value)
    return out


def _ints(shape: ValueShape) -> ValueShape:
    if isinstance(shape, list):
        return [_int_dims(s) for s in shape]
    return _int_dims(shape)


def _int_dims(shape: Shape) -> Shape:
    return tuple(int(d) if algebra.sympify(d).is_Integer else d for d in shape)


# -- building and running ----------------------------------------------------------------------
def make_inputs(spec: Spec, sample: Sample) -> dict[str, torch.Tensor | list[torch.Tensor] | int
                                                   | None]:
    import torch

    env = {**sample.params, **sample.dims}
    compute_lets(spec.lets.values(), env)

    def tensor(inp: Input) -> torch.Tensor:
        shape = [int(d.value(env)) for d in inp.tensor_shape]
        if inp.dtype == "long":
            return torch.randint(0, 2, shape)
        if inp.dtype == "bool":
            return torch.rand(shape) > 0.5
        if inp.dtype == "complex":
            return torch.randn(shape, dtype=torch.cfloat)
        return torch.randn(shape)

    args: dict[str, torch.Tensor | list[torch.Tensor] | int | None] = {}
    for name in spec.forward_args():  # in forward's order
        if name in spec.int_inputs:
            args[name] = sample.dims[name]
            continue
        inp = spec.inputs[name]
        if inp.items is not None:
            args[inp.name] = [tensor(i) for i in inp.items]
        elif inp.optional and inp.name not in sample.present:
            args[inp.name] = None
        else:
            args[inp.name] = tensor(inp)
    return args


def namespace(source: str, spec: Spec, purpose: str, filename: str = "") -> dict[str, Any]:
    """Our generated `source` (never spec text) run as a fresh module named for `purpose`;
    its namespace, from which `construct` makes the class."""
    module = types.ModuleType(f"_attngen_{purpose}_{spec.name}")
    code = compile(source, filename or f"<attngen verify {spec.file}>", "exec")
    exec(code, module.__dict__)  # noqa: S102
    return module.__dict__


def construct(namespace: dict[str, Any], spec: Spec, sample: Sample) -> torch.nn.Module:
    import torch

    torch.manual_seed(0)
    module = namespace[spec.name](**sample.params)
    return module.eval()


# -- checks ---------------------------------------------------------------------------------------
def check_runtime(checked: Checked, source: str, samples: list[Sample], report: Report) -> None:
    import torch

    spec = checked.spec
    namespace, state = instrumented_namespace(source, f"<attngen verify {spec.file}>")
    tensors_checked = 0
    # the nodes a fused attention call (fusion.py) computes inside it: no runtime shape
    fused = {n for f in fusion.find(checked).values() for n in f.nodes[:-1]}
    summed = summable_lists(checked)  # a list a generator sum adds as it makes (accumulate)
    for k, sample in enumerate(samples, 1):
        where = f"sample {k} ({sample.text()})"
        try:
            inference, _ = spec_shapes(spec, checked.order, sample)
        except SpecError as exc:
            if any(d.code in (SHAPE_MISMATCH, UNSTATED_DIVISIBILITY) for d in exc.diagnostics):
                for d in exc.diagnostics:
                    report.errors.append(
                        Diagnostic(d.loc, VERIFY_RUNTIME, f"{d.message}, at {where}", d.notes)
                    )
            else:
                report.lines.append(f"  {where}: skipped, outside the spec's domain: "
                                    f"{exc.diagnostics[0].message}")
            continue
        sources = spec.sources()
        expected = {k: v for k, v in expected_tensors(spec, inference).items()
                    if k not in sources}
        try:
            module = construct(namespace, spec, sample)
            state.clear(module)
            with torch.no_grad():
                module(**make_inputs(spec, sample))
        except Exception as exc:  # noqa: BLE001  (the module failed: report it, no traceback)
            report.errors.append(Diagnostic(Loc(spec.file), VERIFY_RUNTIME, f"{spec.name} raised "
                                            f"{type(exc).__name__} at {where}: "
                                            f"{str(exc).splitlines()[0] if str(exc) else ''}"))
            continue
        seen = state.shapes
        for name in expected:  # a param or buffer: the module's own tensor, made in __init__
            if name in spec.nodes and tensor_decl(spec.nodes[name]) is not None:
                state.record(name, getattr(module, name, None))
        inside = [n for n in expected if n in fused and n not in seen]
        for name, value in expected.items():
            want = _ints(value)
            node = spec.nodes.get(name) or _owner(spec, name)
            if name not in seen:
                if node is not None and name not in fused and name not in summed:
                    report.errors.append(
                        Diagnostic(
                            node.loc,
                            VERIFY_RUNTIME,
                            f"node '{name}' was not computed at runtime at {where}",
                        )
                    )
                continue
            tensors_checked += 1
            got, families = seen[name], _families(value)
            annotated = node is not None and (node.shape is not None or any(
                c.shape is not None for c in cases_of(node)))
            loc = (node.shape_loc or node.loc) if node is not None else Loc(spec.file)
            if got != want:
                claim = "annotation" if annotated else "op rule"
                report.errors.append(
                    Diagnostic(
                        loc,
                        VERIFY_RUNTIME,
                        f"node '{name}': runtime shape {_show(got)} but the spec's "
                        f"{claim} gives {_show(want)} at {where}",
                    )
                )
            elif (wrong := _dtype_mismatch(state.dtypes.get(name), families)) is not None:
                report.errors.append(Diagnostic(
                    node.loc if node is not None else loc, VERIFY_RUNTIME,
                    f"node '{name}': runtime dtype {wrong[0]} ({wrong[1]}) but the spec's "
                    f"op rule gives {_families_text(families)} at {where}"))
        note = f", {len(inside)} inside fused attention" if inside else ""
        report.lines.append(f"  sample {k}: {sample.text()}: {len(expected) - len(inside)} "
                            f"tensors{note}")
    report.lines.insert(0, f"  runtime: {len(samples)} samples, {tensors_checked} tensor shapes "
                        "and dtype families compared")


def _families(value: ValueShape) -> str | list[str | None] | None:
    """The dtype family the checker gives a value (a list's per tensor), None if unknown."""
    if isinstance(value, list):
        return [dtype_of(v) for v in value]
    return dtype_of(value)


def _dtype_mismatch(got: RuntimeDtype, want: str | list[str | None] | None,
                    ) -> tuple[str, str] | None:
    """The first runtime (dtype, family) whose family is not the checker's, if any."""
    pairs = list(zip(got, want, strict=False)) if isinstance(got, list) and isinstance(
        want, list) else [(got, want)]
    for runtime, family in pairs:
        if isinstance(runtime, tuple) and family is not None and runtime[1] != family:
            return runtime
    return None


def _families_text(families: str | list[str | None] | None) -> str:
    if isinstance(families, list):
        return "[" + ", ".join(f or "?" for f in families) + "] tensors"
    return f"a {families} tensor"


def _owner(spec: Spec, name: str) -> Node | None:
    for node in spec.nodes.values():
        if name in (node.out or ()):
            return node
    return None


def _show(shape: ValueShape | None) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_show(s) for s in shape) + "]"
    if shape is None:
        return "no tensor"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_export(checked: Checked, source: str, sample: Sample, report: Report) -> None:
    """torch.export with the free dims dynamic; compare symbolic output shapes."""
    import torch
    from torch.export import Dim

    spec = checked.spec
    try:
        model = construct(namespace(source, spec, "export"), spec, sample)
    except Exception as exc:  # noqa: BLE001 (the module's own error, as the runtime check says)
        report.lines.append(f"  export: not run, the module cannot be built at the first "
                            f"sample ({_first_line(exc)})")
        return
    inputs = make_inputs(spec, sample)
    env: dict[str, Any] = {**sample.params, **sample.dims}
    compute_lets(spec.lets.values(), env)
    ints = set(spec.int_inputs)  # forward's ints: constants of an exported graph
    guards = {k: v for k, v in env.items() if k not in sample.dims or k in ints}
    # `n == N`: the constructor fixes N; `N == H * W`: the ints do
    equal = fixed_dims(spec, guards, [d for d in sample.dims if d not in ints])
    dims = [d for d in sample.dims if d not in equal and d not in ints]
    fixed = [p for p in spec.params if any(
        d.text == p for inp in spec.sources().values() for d in inp.tensor_shape)]
    fixed += [d for d in sample.dims if d in equal]

    def dynamic(make: Callable[[str], object]) -> dict[str, object]:
        dyn: dict[str, object] = dict.fromkeys(spec.int_inputs)
        for inp in spec.inputs.values():
            def one(i: Input) -> dict[int, object] | None:
                return {a: make(d.text) for a, d in enumerate(i.tensor_shape)
                        if d.text in dims} or None
            if inp.items is not None:
                dyn[inp.name] = [one(i) for i in inp.items]
            else:
                dyn[inp.name] = None if inputs[inp.name] is None else one(inp)
        return dyn

    named = {d: Dim(d) for d in dims}
    note = ""
    try:
        ep = torch.export.export(model, (), inputs, dynamic_shapes=dynamic(named.__getitem__),
                                 strict=False)
    except Exception as exc:  # noqa: BLE001  (export errors have many types; retry, report)
        note = _first_line(exc)
        try:
            ep = torch.export.export(model, (), inputs,
                                     dynamic_shapes=dynamic(lambda _: Dim.AUTO), strict=False)
        except Exception as exc2:  # noqa: BLE001
            report.errors.append(Diagnostic(Loc(spec.file), VERIFY_EXPORT, f"torch.export failed: "
                                            f"{_first_line(exc2)}"))
            return

    # export symbol -> spec dim, from the input placeholders
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder"]
    user = ep.graph_signature.user_inputs
    by_name = {n.name: n for n in placeholders}
    flat: list[Input | None] = []  # the user inputs in forward's order (None: an int)
    for name in spec.forward_args():
        inp = spec.inputs.get(name)
        if inp is not None and inp.items is not None:
            flat += list(inp.items)
        elif inputs[name] is not None:
            flat.append(inp)
    mapping: dict[Any, Any] = {}  # export's sympy symbol -> the spec's dim symbol
    static: list[str] = []
    for inp, pname in zip(flat, user, strict=False):
        if inp is None:
            continue
        val = by_name[pname].meta.get("val")
        for d, size in zip(inp.tensor_shape, val.shape, strict=False):
            if d.text not in dims:
                continue
            expr = size.node.expr if isinstance(size, torch.SymInt) else None
            if isinstance(expr, sympy.Symbol):
                mapping.setdefault(expr, dim_symbol(d.text))
            elif d.text not in static:
                static.append(d.text)
    dynamic_dims = [d for d in dims if d not in static]
    report.lines.append(f"  export: dynamic {', '.join(dynamic_dims) or '(none)'}"
                        + (f"; fixed by the constructor{' and the ints' if ints else ''}: "
                           f"{', '.join(fixed)}" if fixed else "")
                        + (f"; forward's ints, constants of the exported graph: "
                           f"{', '.join(spec.int_inputs)}" if ints else ""))
    for dim in static:
        report.lines.append(f"    {dim} cannot be dynamic: export specialized it to "
                            f"{sample.dims[dim]}" + (f" ({note})" if note else ""))

    try:
        inference, _ = spec_shapes(spec, checked.order, sample, symbolic_dims=True)
    except SpecError as exc:
        report.errors.append(
            Diagnostic(
                Loc(spec.file),
                VERIFY_EXPORT,
                f"symbolic shapes at the default params: {exc.diagnostics[0].message}",
            )
        )
        return
    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    got = [a.meta.get("val") for a in _flatten(out_node.args[0])]
    got = [g for g in got if isinstance(g, torch.Tensor)]
    want: list[Shape] = []
    for o in spec.outputs:
        if inference.active(o.when):
            value = expected_tensors(spec, inference)[o.name]
            want += value if isinstance(value, list) else [value]
    if len(got) != len(want):
        report.errors.append(Diagnostic(Loc(spec.file), VERIFY_EXPORT, f"exported module returns "
                                        f"{len(got)} tensors, the spec {len(want)}"))
        return
    fix = {dim_symbol(d): sympy.Integer(sample.dims[d]) for d in [*static, *equal, *ints]
           if d in sample.dims}
    points = [{dim_symbol(d): sympy.Integer(v) for d, v in s.dims.items()}
              for s in draw_samples(spec, 12, random.Random(1)) if s.params == sample.params]
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        g_shape = tuple(_torch_expr(s).xreplace(mapping) for s in g.shape)
        w_shape = tuple(algebra.sympify(d).xreplace(fix) for d in w)
        verdict = _same_shape(g_shape, w_shape, points)
        label = f"output {i}"
        report.lines.append(f"    {label}: torch {_show(g_shape)}, spec {fmt_shape(w_shape)}: "
                            f"{verdict or 'MISMATCH'}")
        if not verdict:
            report.errors.append(
                Diagnostic(
                    Loc(spec.file),
                    VERIFY_EXPORT,
                    f"{label}: torch.export "
                    f"gives {_show(g_shape)} but the spec says "
                    f"{fmt_shape(w_shape)} at {sample.text()}",
                )
            )


def _flatten(x: Any) -> list[Any]:  # the leaves of nested lists and tuples (of fx nodes)
    if isinstance(x, (list, tuple)):
        return [y for v in x for y in _flatten(v)]
    return [x]


def _torch_expr(size: int | torch.SymInt) -> Any:
    import torch

    return size.node.expr if isinstance(size, torch.SymInt) else sympy.Integer(int(size))


def _same_shape(got: Shape, want: Shape, points: list[Assignment]) -> str:
    """'identical' / 'equal on N points' / '' (different)."""
    if len(got) != len(want):
        return ""
    if all(sympy.expand(g - w) == 0 for g, w in zip(got, want, strict=False)):
        return "identical"
    tested = 0
    for p in points:
        for g, w in zip(got, want, strict=False):
            gv, wv = algebra.sympify(g.xreplace(p)), algebra.sympify(w.xreplace(p))
            if not (gv.is_Integer and wv.is_Integer):
                return ""
            if gv != wv:
                return ""
        tested += 1
    return f"equal on {tested} points" if tested else ""


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


# -- driver ---------------------------------------------------------------------------------------
# a further check of the generated source at the first sample (onnx_check.check_onnx)
Check: TypeAlias = Callable[[Checked, str, Sample, Report], None]


def verify(checked: Checked, n_samples: int = 4, export: bool = True, seed: int = 0, *,
           spec_refs: bool = False, checks: Iterable[Check] = ()) -> Report:
    """Run the source `attngen build` writes (with `spec_refs`, as --spec-refs writes it);
    then each of `checks` at the first sample."""
    from .emit import render

    spec = checked.spec
    report = Report(spec.file, spec.name)
    source = render(checked, spec_refs=spec_refs)
    samples = draw_samples(spec, n_samples, random.Random(f"{spec.name}:{seed}"))
    if not samples:
        req, draws = unsatisfied(spec, random.Random(f"{spec.name}:{seed}"))
        dims = ", ".join(free_dims(spec))
        report.errors.append(Diagnostic(
            spec.loc if req is None else req.loc, VERIFY_RUNTIME,
            "found no params and dims that satisfy `requires`" + (
                "" if req is None else f": `{req.text}` failed most often, in {draws} draws "
                f"of the params near their examples and {dims or 'the dims'} from 2 to "
                f"{DIM_RANGES[-1][1]}"),
            notes=("divisibility (`H % p == 0`) and equality (`N == n`) requirements are "
                   f"drawn to hold, others by chance, dims at most {DIM_RANGES[-1][1]}: give "
                   "the params examples that fit",)
            if req is not None else ()))
        return report
    check_runtime(checked, source, samples, report)
    if export:
        check_export(checked, source, samples[0], report)
    for extra in checks:
        extra(checked, source, samples[0], report)
    return report


def main_verify(paths: list[str], n_samples: int, export: bool, seed: int,
                out: TextIO | None = None, *, spec_refs: bool = False,
                include: Iterable[str | os.PathLike[str]] = (),
                checks: Iterable[Check] = ()) -> list[Diagnostic]:
    """Verify each spec; prints a report per spec, returns all diagnostics (errors, then
    each spec's warnings after its errors). `include`: the
    folders `use:` and `extends:` may read besides the spec's own (`-I DIR`)."""
    out = out or sys.stdout
    loader, problems = Loader(include=include), []
    cache: CheckCache = {}
    for path in collect_specs(paths):
        checked = compile_spec(path, loader, cache)
        report = verify(checked, n_samples, export, seed, spec_refs=spec_refs,
                        checks=tuple(checks))
        status = "ok" if not report.errors else f"{len(report.errors)} mismatch(es)"
        if report.warnings:
            status += f", {len(report.warnings)} warning{'s' * (len(report.warnings) != 1)}"
        print(f"{report.spec_file}: {report.name}: {status}", file=out)
        for line in report.lines:
            print(line, file=out)
        problems += report.errors + report.warnings
    return problems
