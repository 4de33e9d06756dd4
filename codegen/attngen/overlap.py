"""In-place layers and tensors whose elements share memory.

`expand` and `expand_as` repeat size-1 dims without copying: the repeated elements are one
memory location (stride 0). torch refuses to write such a tensor in place ("unsupported
operation: more than one element of the written-to tensor refers to a single memory
location"), so a layer with `inplace: true` (ReLU, SiLU, Dropout, ...) given one, directly
or through a view of it, raises when it runs. The checker refuses it (E402, at the layer's
node, in the configuration where it happens) and names both fixes: leave `inplace` out, or
copy first with `contiguous`.

A tensor may share memory this way (it "overlaps") if an `expand` made it or it may be a
view of one: the output of an op that may return its input or a view of it (ALIASING,
every op whose layout is `strided`, and an in-place layer) given an overlapping tensor.
Every other op writes a new tensor. A module's own inputs come as its caller gives them:
writing an expanded input in place is the caller's affair, as in torch; a sub-spec (`use:`)
is followed inside, with the arguments its caller gives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress

from . import ops
from .errors import BAD_ARGUMENTS, Diagnostic, Loc, SpecError, error
from .expr import Expr
from .graph import forward_order
from .model import (
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

EXPANDING = frozenset({"expand", "expand_as"})  # ops whose output overlaps
# `keeps` ops that may return their input or a view of it (a `strided` op may, too): the
# views torch makes where strides allow, the identities, and Dropout (its input in eval mode)
ALIASING = frozenset({"view", "reshape", "flatten", "Flatten", "squeeze", "unsqueeze",
                      "identity", "Identity", "Dropout"})

# what evaluating an expression may raise where its names have no value here
UNDECIDED = (SpecError, TypeError, ValueError, ZeroDivisionError, KeyError)
Holds = Callable[[Expr | None], bool]  # whether a `when` (or an `inplace` value) may hold
Overlaps = dict[str, str]  # tensor name -> the expand node whose output it may be a view of


def holds_in(env: Mapping[str, object]) -> Holds:
    """A condition's value in `env`; one that cannot be evaluated there may hold."""
    def holds(expr: Expr | None) -> bool:
        if expr is None:
            return True
        try:
            return bool(expr.value(env))
        except UNDECIDED:
            return True
    return holds


def check_in_place(spec: Spec, order: list[str], env: Mapping[str, object],
                   suffix: str = "") -> None:
    """Raise E402 (SpecError) at the first node that writes an overlapping tensor in place,
    in the configuration whose params and lets `env` gives; `suffix` names the
    configuration in the message."""
    if not calls_any(spec, lambda call: call.op in EXPANDING, set()):
        return  # no tensor overlaps: every in-place write is into a tensor of its own
    found: list[Diagnostic] = []
    _walk(spec, order, {}, env, holds_in(env), suffix, found)
    if found:
        raise SpecError(found)


def calls_any(spec: Spec, test: Callable[[LayerOp | FunctionOp], bool],
              seen: set[object]) -> bool:
    """Whether an op call of `spec` or of a sub-spec it uses passes `test` (in any
    configuration): an `expand`, the only source of overlapping tensors (a module's own
    inputs are its caller's affair); a layer that takes `inplace` (in_place_reads)."""
    seen.add(spec.path)
    forms: list[NodeForm] = [body.form for node in spec.nodes.values()
                             for body in (node, *cases_of(node))]
    while forms:
        match forms.pop():
            case LayerOp() | FunctionOp() as call:
                if test(call):
                    return True
            case Seq(items):
                forms += [item.form for item in items]
            case Repeat(body=body) | Map(body=body) | Stack(body=body):
                forms.append(body)
            case SubSpec(spec=sub):
                if sub.path not in seen and calls_any(sub, test, seen):
                    return True
            case LayerCall() | Cases() | TensorDecl():
                pass  # a layer call's node and a node's cases are among the forms
            case other:
                assert_never(other)
    return False


def _walk(spec: Spec, order: list[str], overlaps: Overlaps, env: Mapping[str, object],
          active: Holds, suffix: str, found: list[Diagnostic]) -> Overlaps:
    """Follow overlapping tensors through `spec`'s nodes; the tensors that may overlap.
    Each node that writes one in place adds its error to `found`."""
    overlaps = dict(overlaps)
    for name in order:
        node = spec.nodes.get(name)
        if node is None or not active(node.when):
            continue
        bodies = [c for c in cases_of(node) if active(c.when)] or [node]
        origin = None
        for body in bodies[:1]:
            given = next((overlaps[r.name] for r in body.inputs if r.name in overlaps), None)
            where = _Site(spec, name, node.loc, env, active, suffix)
            try:
                origin = _gives(body.form, given, where)
            except SpecError as exc:
                found += exc.diagnostics
            if body.if_given is not None and given is not None:  # its input passed on
                origin = origin or given
        if origin is not None:
            for out in node.out or [node.name]:
                overlaps[out] = origin
    return overlaps


class _Site:
    """Where a form is called: the spec, its node, and the configuration."""

    def __init__(self, spec: Spec, node: str, loc: Loc, env: Mapping[str, object],
                 active: Holds, suffix: str) -> None:
        self.spec, self.node, self.loc, self.env = spec, node, loc, env
        self.active, self.suffix = active, suffix

    def refuse(self, loc: Loc, what: str, origin: str) -> None:
        raise error(loc, BAD_ARGUMENTS,
                    f"node '{self.node}': {what} writes into its input, which may be node "
                    f"'{origin}' (an expand) or a view of it: an expand's repeated elements "
                    "share one memory location, which torch refuses to write" + self.suffix,
                    "leave out 'inplace: true', or copy first: {op: contiguous, in: ...}")


def writes_in_place(call: LayerOp | FunctionOp, holds: Holds) -> bool:
    op = ops.REGISTRY[call.op]
    return any(a.name == "inplace" for a in op.args) and "inplace" in call.args \
        and holds(call.args["inplace"])


def _gives(form: NodeForm, given: str | None, site: _Site, loc: Loc | None = None) -> str | None:
    """The expand node a form's output may be a view of (None: a new tensor), given the one
    its input may be a view of; refuses an in-place write into an overlapping tensor."""
    match form:
        case LayerOp() | FunctionOp():
            in_place = writes_in_place(form, site.active)
            if in_place and given is not None:
                site.refuse(form.args["inplace"].loc, f"{form.op} with 'inplace: true'", given)
            if form.op in EXPANDING:
                return site.node
            op = ops.REGISTRY[form.op]
            aliases = in_place or form.op in ALIASING or op.layout == ops.STRIDED
            return given if aliases else None
        case Seq(items):
            for item in items:
                if not site.active(item.when):
                    continue
                after = _gives(item.form, given, site, item.loc)
                optional = item.when is not None or item.each is not None
                given = after or (given if optional else None)
            return given
        case LayerCall(target):
            return _gives(site.spec.nodes[target.name].form, given, site, loc)
        case Repeat(body=body) | Map(body=body) | Stack(body=body):
            return _gives(body, given, site, loc)
        case SubSpec(spec=sub, args=args):
            return _sub_spec(sub, args, given, site, loc)
        case Cases() | TensorDecl():
            return None  # a case is followed as its own body (_walk); a param is made fresh
        case _:
            assert_never(form)


def sub_env(sub: Spec, args: Mapping[str, Expr], env: Mapping[str, object]) -> dict[str, object]:
    """A sub-spec's params and lets as its caller passes them in `env` (a value that cannot
    be computed here is left to the sub-spec's default)."""
    values: dict[str, object] = {}
    for p in sub.params.values():
        values[p.name] = p.default
        if p.name in args:
            with suppress(*UNDECIDED):
                values[p.name] = args[p.name].value(env)
    for let in sub.lets.values():
        with suppress(*UNDECIDED):
            values[let.name] = let.expr.value(values)
    return values


def _sub_spec(sub: Spec, args: dict[str, Expr], given: str | None, site: _Site,
              loc: Loc | None) -> str | None:
    """A `use:` call, followed inside: its params as the caller gives them (a value that
    cannot be computed here is left to the sub-spec's default), its inputs overlapping as
    the caller's are."""
    env = sub_env(sub, args, site.env)
    inputs = dict.fromkeys(sub.sources(), given) if given is not None else {}
    holds = holds_in(env)
    found: list[Diagnostic] = []
    inner = _walk(sub, forward_order(sub), {k: v for k, v in inputs.items() if v}, env,
                  holds, "", found)
    if found:
        inside = found[0]
        raise error(loc or site.loc, BAD_ARGUMENTS,
                    f"node '{site.node}': {sub.name} writes its input in place ({inside.loc}: "
                    f"{inside.message})" + site.suffix, *inside.notes) from None
    outs = [inner.get(o.name) for o in sub.outputs if holds(o.when)]
    # its input passed on keeps its origin; an expand inside is the `use:` node's own
    return next((o if o == given else site.node for o in outs if o is not None), None)
