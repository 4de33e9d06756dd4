"""Memory layout: where generated code writes `view`, and where it must write `reshape`.

torch views a tensor only where its strides allow: after a permute, a transpose or a slice,
`view` refuses to merge dims ("view size is not compatible with input tensor's size and
stride") and `reshape` copies instead. The checker follows shapes, not strides, so this
module decides, from two facts:

- whether a tensor may be non-contiguous at run time (`strided_tensors`): each op declares
  its output's layout (ops.base: FRESH, KEEPS, STRIDED), followed through the graph from the
  module's inputs, which may come in any layout (a caller's permuted tensor, or a parent
  spec's);
- whether a `view` merges dims (`merging_views`, in every configuration the checker
  infers): one that only splits dims and adds or drops size-1 dims is a view of any tensor.

A `view` that merges dims of a tensor that may be strided is written `.reshape(...)`
(`reshaped_views`), which gives the same values and copies only where it must; every other
`view` stays `.view(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

from . import ops
from .expr import Expr
from .graph import producers
from .model import (
    Callee,
    Cases,
    FunctionOp,
    LayerCall,
    LayerOp,
    Map,
    NodeForm,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    cases_of,
)
from .results import Checked

Equal = Callable[[Any, Any], bool]  # whether two dims are equal for every size allowed
VIEW = "view"  # the one op whose success depends on strides; written `reshape` where it may fail


def op_layout(name: str, args: dict[str, Expr]) -> str:
    """The layout an op declares for its output, given its arguments in a spec."""
    layout = ops.REGISTRY[name].layout
    if callable(layout):
        return layout({k: e.constant for k, e in args.items() if e.is_constant()})
    return layout


def _gives_strided(spec: Spec, form: NodeForm, strided_in: bool) -> bool:
    """Whether a node form's output may be non-contiguous, given whether its inputs may."""
    match form:
        case LayerOp(op, args) | FunctionOp(op, args):
            layout = op_layout(op, args)
            return layout == ops.STRIDED or (layout == ops.KEEPS and strided_in)
        case Seq(items, _):
            for item in items:  # a layer left out (`when`, no `each` item) passes its input on
                after = _gives_strided(spec, item.form, strided_in)
                optional = item.when is not None or item.each is not None
                strided_in = after or (optional and strided_in)
            return strided_in
        case LayerCall(target):
            return _gives_strided(spec, spec.nodes[target.name].form, strided_in)
        case Repeat(body=body) | Map(body=body):
            return _gives_strided(spec, body, strided_in)
        case SubSpec() | Stack():  # a sub-module's own layout is not followed: strided
            return True
        case Cases():  # read case by case (strided_tensors)
            return True
        case TensorDecl():
            return False  # made in __init__ by a torch factory: contiguous
        case _:
            assert_never(form)


def strided_tensors(spec: Spec, order: list[str], inputs: bool = True) -> set[str]:
    """The tensors of `spec` that may be non-contiguous at run time: its inputs (unless
    `inputs` is false: then those made strided by the graph alone), and every node output
    that an op may make strided or pass a strided input's layout on to."""
    strided = set(spec.sources()) | set(spec.inputs) if inputs else set()
    for name in order:
        node = spec.nodes[name]
        maybe = False
        for body in cases_of(node) or [node]:
            strided_in = any(r.name in strided for r in body.inputs)
            maybe = maybe or _gives_strided(spec, body.form, strided_in)
            if body.if_given is not None:  # its first input passed on when absent
                maybe = maybe or strided_in
        if maybe:
            strided.update(node.out or [node.name])
    return strided


def unit_last(spec: Spec, name: str, strided: set[str], rank: int,
              transposed: bool = False) -> bool | None:
    """Whether the last dim of tensor `name` (with `transposed`: of its `.transpose(-2, -1)`)
    has stride 1 at run time, where the graph decides it: a contiguous tensor (not in
    `strided`, from strided_tensors) has it and its transpose has not; a `permute` or
    `transpose` of a contiguous tensor has it where the source's last dim ends up last.
    None where the graph does not decide (an input's layout is its caller's). Size-1 dims
    aside: there any stride serves."""
    if name not in strided:
        return not transposed
    node = spec.nodes.get(name)
    form = node.form if node is not None else None
    if node is None or node.if_given is not None or len(node.inputs) != 1 \
            or not isinstance(form, FunctionOp) or form.op not in ("permute", "transpose") \
            or node.inputs[0].name in strided:
        return None
    order = _order(form, rank)
    return None if order is None else order[-2 if transposed else -1] == rank - 1


def _order(form: FunctionOp, rank: int) -> list[int] | None:
    """The source dim of each output dim of a permute or transpose; None where its dims
    are given by params."""
    args = [form.args[k] for k in (("dims",) if form.op == "permute" else ("dim0", "dim1"))]
    if any(a.names for a in args):
        return None
    if form.op == "permute":
        return [d % rank for d in args[0].value({})]
    order = list(range(rank))
    i, j = (a.value({}) % rank for a in args)
    order[i], order[j] = order[j], order[i]
    return order


def merges(source: tuple, target: tuple, equal: Equal) -> bool:
    """Whether viewing `source` as `target` merges dims: False only where each dim of
    `source` (size-1 dims aside) becomes a run of consecutive dims of `target` whose
    product `equal` proves equal to it (a split, valid for any strides)."""
    src = [d for d in source if d != 1]
    dst = [d for d in target if d != 1]
    j = 0
    for d in src:
        run = 0
        while True:
            if j + run >= len(dst):
                return True
            run += 1
            if equal(prod(dst[j:j + run]), d):
                break
        j += run
    return j != len(dst)


def _callee(form: NodeForm) -> Callee | None:
    match form:
        case Repeat(body=body) | Map(body=body):
            return body
        case LayerOp() | FunctionOp() | Seq() | SubSpec() | LayerCall():
            return form
        case Cases() | TensorDecl() | Stack():
            return None
        case _:
            assert_never(form)


def merging_views(spec: Spec, values: dict[str, Any], active: Callable[[Expr | None], bool],
                  equal: Equal) -> set[str]:
    """The `view` nodes whose view merges dims in one configuration: `values` are the
    checker's values of its inputs and nodes (a node's outputs by name where it has
    several), `active` tells which `when` holds, `equal` whether two dims are equal (the
    checker's prover)."""
    owner = producers(spec)
    found = set()
    for name, node in spec.nodes.items():
        if name not in values:
            continue  # not in this configuration
        body = next((c for c in cases_of(node) if active(c.when)), node)
        call = _callee(body.form)
        if not isinstance(call, FunctionOp) or call.op != VIEW or not body.inputs:
            continue
        ref = body.inputs[0].name
        source = values[owner[ref]]
        source = source[ref] if isinstance(source, dict) else source
        target = values[name]
        if source is None:  # an optional input not given: the node passes it on
            continue
        pairs = (zip(source, target, strict=False) if isinstance(source, list)
                 else ((source, t) for t in target) if isinstance(target, list)
                 else [(source, target)])
        if any(merges(tuple(s), tuple(t), equal) for s, t in pairs):
            found.add(name)
    return found


def reshaped_views(checked: Checked, inputs: bool = True) -> set[str]:
    """The `view` nodes generated code writes as `reshape`: they merge dims (in some
    configuration) of a tensor that may be strided (`inputs`: as strided_tensors)."""
    spec = checked.spec
    strided = strided_tensors(spec, checked.order, inputs)
    return {name for name in checked.merging_views
            if any(r.name in strided for b in cases_of(spec.nodes[name]) or [spec.nodes[name]]
                   for r in b.inputs)}
