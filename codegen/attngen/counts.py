"""Parameter counts from the spec alone (no torch, no checker): of a node at given values
(a layer, a sub-spec, a param), and of a whole spec at its defaults or at overrides."""

from __future__ import annotations

from . import ops
from .errors import BAD_ARGUMENTS, Loc, error
from .loops import binding, items_of
from .model import (
    Cases,
    FunctionOp,
    LayerCall,
    LayerOp,
    Map,
    Node,
    NodeForm,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    compute_lets,
)


def param_values(spec: Spec, overrides: dict[str, object] | None = None) -> dict[str, object]:
    """Concrete values of params and lets (defaults or examples, then overrides)."""
    values = {p.name: p.sample for p in spec.params.values()}
    values.update(overrides or {})
    compute_lets(spec.lets.values(), values)
    return values


def _call(call: LayerOp | FunctionOp | SubSpec, values: dict[str, object], loc: Loc) -> int:
    """Parameters of one op or sub-spec call; `loc` locates an impossible count."""
    if isinstance(call, SubSpec):
        return sum(per_node(call.spec, at=call_values(call, values)).values())
    op = ops.REGISTRY[call.op]
    if op.params is None:
        return 0
    args = {a.name: (call.args[a.name].value(values) if a.name in call.args else a.default)
            for a in op.args}
    if any(v is ops.REQUIRED for v in args.values()):
        return 0  # reported by the shape checker
    count = op.params(args)
    try:
        if count == int(count) >= 0:
            return int(count)
    except (OverflowError, ValueError, TypeError):  # inf, nan, a list ...
        pass
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    raise error(loc, BAD_ARGUMENTS, f"{op.name}({shown}) has no whole, finite parameter count "
                f"({count!r}): check its arguments")


def node_params(node: Node, values: dict[str, object]) -> int:
    """Parameters a node owns (0 for tensor functions and `apply`)."""
    return _form_params(node.form, values, node.loc)


def _form_params(form: NodeForm, values: dict[str, object], loc: Loc) -> int:
    match form:
        case Cases(cases):
            for case in cases:
                if case.when is None or case.when.value(values):
                    return node_params(case, values)
            return 0
        case LayerCall() | Repeat(body=LayerCall()):
            return 0  # counted where the layer is declared
        case Repeat(var, iterable, body) | Stack(var, iterable, body):
            return sum(_form_params(body, binding(var, i, values), loc)
                       for i in items_of(iterable.value(values), iterable))
        case Map(body):
            return _form_params(body, values, loc)
        case Seq(items):  # a layer with `when` where it holds, with `each` once per item
            return sum(_call(i.form, names, i.loc) for i in items
                       if i.when is None or i.when.value(values)
                       for names in ([values] if i.each is None else
                                     [binding(i.each.var, v, values) for v in
                                      items_of(i.each.iterable.value(values), i.each.iterable)]))
        case LayerOp() | FunctionOp() | SubSpec():
            return _call(form, values, loc)
        case TensorDecl(kind="buffer"):
            return 0  # a constant: in the state_dict (if persistent), not a parameter
        case TensorDecl(shape=shape):
            count = 1
            for dim in shape:
                count *= int(dim.value(values))
            return count
        case _:
            assert_never(form)


def call_values(call: SubSpec, values: dict[str, object]) -> dict[str, object]:
    """The params and lets of a sub-spec as a call at `values` (the caller's) builds it."""
    return param_values(call.spec, {p: arg.value(values) for p, arg in call.args.items()})


def per_node(spec: Spec, overrides: dict[str, object] | None = None, *,
             at: dict[str, object] | None = None) -> dict[str, int]:
    """Each node's parameter count at the defaults with `overrides`, or `at` those values."""
    values = at if at is not None else param_values(spec, overrides)
    return {name: node_params(node, values) for name, node in spec.nodes.items()
            if node.when is None or node.when.value(values)}


def total(spec: Spec, overrides: dict[str, object] | None = None) -> int:
    return sum(per_node(spec, overrides).values())
