"""Parameter counts from the spec alone (no torch): per node and in total."""

from __future__ import annotations

import ast
from dataclasses import replace

from . import ops
from .describe import label
from .errors import (
    BAD_ARGUMENTS,
    BAD_VALUE,
    REQUIREMENT_FAILS,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .expr import parse
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
from .parse import check_param_value


def param_values(spec: Spec, overrides: dict[str, object] | None = None) -> dict[str, object]:
    """Concrete values of params and lets (defaults or examples, then overrides)."""
    values = {p.name: p.sample for p in spec.params.values()}
    values.update(overrides or {})
    compute_lets(spec.lets.values(), values)
    return values


def _call(call: LayerOp | FunctionOp | SubSpec, values: dict[str, object], loc: Loc) -> int:
    """Parameters of one op or sub-spec call; `loc` locates an impossible count."""
    if isinstance(call, SubSpec):
        sub_values = {}
        for p in call.spec.params.values():
            if p.name in call.args:
                sub_values[p.name] = call.args[p.name].value(values)
        return total(call.spec, sub_values)
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


def per_node(spec: Spec, overrides: dict[str, object] | None = None) -> dict[str, int]:
    values = param_values(spec, overrides)
    return {name: node_params(node, values) for name, node in spec.nodes.items()
            if node.when is None or node.when.value(values)}


def total(spec: Spec, overrides: dict[str, object] | None = None) -> int:
    return sum(per_node(spec, overrides).values())


# -- `attngen params --set NAME=VALUE` ---------------------------------------------------
SET_LOC = Loc("--set")


def parse_sets(spec: Spec, sets: list[str]) -> dict[str, object]:
    """`NAME=VALUE` strings -> {param: value}. Values go through the whitelist expression
    parser and its interpreter (never eval); they may name params set before them or
    defaults (`d_k=d_model // h`). A bare word is taken as text for a `str` param."""
    overrides: dict[str, object] = {}
    for text in sets:
        name, eq, raw = str(text).partition("=")
        name = name.strip()
        if not eq or not name or not raw.strip():
            raise error(SET_LOC, BAD_VALUE, f"'{text}' is not NAME=VALUE (e.g. --set channel=256)")
        if name not in spec.params:
            what = "a derived value (let), not a param" if name in spec.lets else "no param"
            known = ", ".join(spec.params) or "none"
            raise error(SET_LOC, BAD_VALUE, f"{spec.name} has {what} '{name}'"
                        + did_you_mean(name, spec.params), f"its params: {known}")
        param = spec.params[name]
        expr = parse(raw, SET_LOC)
        env = {**{p.name: p.sample for p in spec.params.values()}, **overrides}
        value: object
        if param.type == "str" and isinstance(expr.tree, ast.Name) and expr.tree.id not in env:
            value = expr.tree.id
        else:
            value = expr.value(env)
        if param.type == "list" and isinstance(value, tuple):
            value = list(value)
        if param.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        check_param_value(replace(param, default=value, example=None), SET_LOC)
        overrides[name] = value
    return overrides


def check_requires(spec: Spec, values: dict[str, object]) -> None:
    """The spec's `requires` at concrete values (E405 at the requirement, values in a note)."""
    for req in spec.requires:
        if spec.on_input_dims(req):
            continue  # on input sizes: the generated forward checks it
        if not req.value(values):
            shown = ", ".join(f"{n}={values[n]!r}" for n in sorted(req.names) if n in values)
            raise error(
                req.loc,
                REQUIREMENT_FAILS,
                f"requirement '{req.text}' does not hold for these values",
                f"values: {shown}",
            )


def check_shapes(spec: Spec, overrides: dict[str, object]) -> None:
    """The shape checker with the set values in place of the defaults, so that a count is
    never shown for values that make no valid module (a bottleneck of width 0, an
    indivisible group count). Its diagnostics say which values were used."""
    if not overrides:
        return  # the spec itself already passed the checker
    from .checker import check

    params = {name: replace(p, default=overrides[name], example=None) if name in overrides
              else p for name, p in spec.params.items()}
    try:
        check(replace(spec, params=params))
    except SpecError as exc:
        used = "with " + ", ".join(f"{n}={v!r}" for n, v in overrides.items()) + \
            " (--set) as the defaults"
        raise SpecError([replace(d, notes=(*d.notes, used)) for d in exc.diagnostics]) from None


def table(spec: Spec, overrides: dict[str, object] | None = None, *,
          show_all: bool = False) -> str:
    """The `attngen params` report: values used, one row per node with parameters, total."""
    values = param_values(spec, overrides)
    counts = per_node(spec, overrides)
    shown = []
    for p in spec.params.values():
        note = " (set)" if p.name in (overrides or {}) else " (example)" if p.required else ""
        shown.append(f"{p.name}={values[p.name]!r}{note}")
    head = f"{spec.file}: {spec.name}" + (f" with {', '.join(shown)}" if shown else "")
    rows = [(name, label(spec.nodes[name]), f"{n:,}") for name, n in counts.items()
            if n or show_all]
    n_total = sum(counts.values())
    rows.append(("total", "", f"{n_total:,}"))
    w1 = max(len("node"), *(len(r[0]) for r in rows))
    w2 = max(len("op"), *(len(r[1]) for r in rows))
    w3 = max(len("params"), *(len(r[2]) for r in rows))
    lines = [head, f"  {'node':<{w1}}  {'op':<{w2}}  {'params':>{w3}}"]
    lines += [f"  {a:<{w1}}  {b:<{w2}}  {c:>{w3}}" for a, b, c in rows[:-1]]
    hidden = sum(1 for n in counts.values() if not n) if not show_all else 0
    if hidden:
        lines.append(f"  ({hidden} node{'s' if hidden != 1 else ''} without parameters "
                     "not shown; --all lists them)")
    lines.append(f"  {'total':<{w1}}  {'':<{w2}}  {rows[-1][2]:>{w3}}")
    return "\n".join(lines)
