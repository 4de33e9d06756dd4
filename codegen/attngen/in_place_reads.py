"""In-place layers that overwrite a tensor something else still needs.

A layer with `inplace: true` (ReLU, SiLU, Dropout, ...) writes its result into its input's
memory. In a spec's dataflow every node reads the value its input had when made, so two
writes go wrong, and neither shows in the shapes:

- another node reads the same memory (the tensor, a view of it, or what it is a view
  of): in the generated forward it reads the overwritten values, a silently wrong result
  where it runs after the layer, and where it runs before, autograd's saved copy of its
  input is overwritten (backward fails);
- the op that made the tensor keeps its own output for backward (softmax, sigmoid, tanh,
  exp, sqrt, relu): training fails ("modified by an inplace operation").

The checker refuses both (E402 at the `inplace`, in the configuration where it happens).
A module's input written in place with no other reader is the caller's affair, as in
torch; a sub-spec (`use:`) that writes its input in place is such a layer for its caller.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import ops
from .errors import BAD_ARGUMENTS, Loc, error
from .model import FunctionOp, LayerCall, LayerOp, Node, NodeForm, Seq, Spec, SubSpec, cases_of
from .overlap import ALIASING, Holds, holds_in, writes_in_place

# ops whose backward reads their own output (torch's derivatives.yaml: `result`)
SAVES_OUTPUT = frozenset({"softmax", "Softmax", "log_softmax", "LogSoftmax", "sigmoid",
                          "Sigmoid", "tanh", "Tanh", "exp", "sqrt", "rsqrt", "relu", "ReLU"})
FIX = "leave out 'inplace: true' (the layer then writes a tensor of its own)"


def check_in_place_reads(spec: Spec, order: list[str], env: Mapping[str, object],
                         suffix: str = "") -> None:
    """Raise E402 at the first in-place write (of a layer, or of a sub-spec into its input)
    into memory another node reads or whose maker's backward needs, in the configuration
    whose params and lets `env` gives (`suffix` names it)."""
    holds = holds_in(env)
    active = _active_bodies(spec, order, holds)
    for name, body in active.items():
        _check_seq(body.form, holds, name, suffix)
    if not any(_writes(spec, body, holds) is not None for body in active.values()):
        return
    parent: dict[str, str | None] = dict.fromkeys(spec.sources())  # the memory it views
    readers: dict[str, list[tuple[str | None, str]]] = {}  # tensor -> (node, its words)
    for name, body in active.items():
        for ref in body.inputs:
            readers.setdefault(ref.name, []).append((name, f"node '{name}' also reads"))
        first = body.inputs[0].name if body.inputs else None
        aliases = _aliases(body.form, holds) or _writes(spec, body, holds) is not None
        for out in body.out or [name]:
            parent[out] = first if aliases else None
    for o in spec.outputs:
        if holds(o.when):
            readers.setdefault(o.name, []).append((None, "the module returns"))
    for name, body in active.items():
        written = _writes(spec, body, holds)
        if written is None:
            continue
        loc, what = written
        target = body.inputs[0].name
        before = {t for t in parent if _chain(parent, t)[-1] == _chain(parent, target)[-1]
                  and name not in _chain(parent, t)}  # the memory as it was: its views too
        others = [words for t in sorted(before) for node, words in readers.get(t, [])
                  if node != name and node not in before]
        if others:
            raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} overwrites '{target}', "
                        f"which {others[0]}: it would read the overwritten values (or, read "
                        "before, have autograd's saved copy overwritten)" + suffix, FIX)
        memory = _chain(parent, target)[-1]
        maker = active.get(memory)
        if maker is not None and _saves_output(spec, maker.form):
            raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} overwrites the output of "
                        f"node '{memory}', which its backward needs: training fails "
                        "('modified by an inplace operation')" + suffix, FIX)


def _chain(parent: Mapping[str, str | None], name: str) -> list[str]:
    """`name`, the tensor it views, what that views, ..., the memory's own tensor last."""
    chain = [name]
    while (up := parent.get(chain[-1])) is not None and up not in chain:
        chain.append(up)
    return chain


def _active_bodies(spec: Spec, order: list[str], holds: Holds) -> dict[str, Node]:
    """Each node that runs in this configuration, as the node or its case that runs."""
    out = {}
    for name in order:
        node = spec.nodes.get(name)
        if node is not None and holds(node.when):
            out[name] = next((c for c in cases_of(node) if holds(c.when)), node)
    return out


def _writes(spec: Spec, body: Node, holds: Holds) -> tuple[Loc, str] | None:
    """Where and what writes the node's first input in place: an in-place layer (first in
    a `seq:`, or applied), or a sub-spec that writes its input; None for no such write."""
    form: NodeForm | None = body.form
    if isinstance(form, LayerCall):
        target = spec.nodes.get(form.target.name)
        form = target.form if target is not None else None
    if isinstance(form, Seq):
        first = next((i for i in form.items if holds(i.when)), None)
        form = first.form if first is not None and first.each is None else None
    if isinstance(form, LayerOp | FunctionOp) and writes_in_place(form, holds):
        return form.args["inplace"].loc, f"{form.op} with 'inplace: true'"
    if isinstance(form, SubSpec) and body.inputs and _writes_input(form.spec):
        return body.loc, f"{form.spec.name}, which writes its input in place,"
    return None


def _writes_input(sub: Spec) -> bool:
    """Whether a sub-spec writes its first input in place (at its defaults)."""
    env = {p.name: p.default for p in sub.params.values()}
    holds = holds_in(env)
    first = next(iter(sub.sources()), None)
    for body in _active_bodies(sub, list(sub.nodes), holds).values():
        if body.inputs and body.inputs[0].name == first and _writes(sub, body, holds):
            return True
    return False


def _aliases(form: NodeForm, holds: Holds) -> bool:
    """Whether a node's value may be its first input's memory (a view, an identity)."""
    if isinstance(form, LayerOp | FunctionOp):
        return form.op in ALIASING or ops.REGISTRY[form.op].layout == ops.STRIDED \
            or writes_in_place(form, holds)
    return False


def _saves_output(spec: Spec, form: NodeForm) -> bool:
    if isinstance(form, LayerCall) and form.target.name in spec.nodes:
        form = spec.nodes[form.target.name].form
    if isinstance(form, Seq):
        return bool(form.items) and _saves_output(spec, form.items[-1].form)
    return isinstance(form, LayerOp | FunctionOp) and form.op in SAVES_OUTPUT


def _check_seq(form: NodeForm, holds: Holds, name: str, suffix: str) -> None:
    """Inside a `seq:`: an in-place layer right after one whose backward needs its output."""
    if not isinstance(form, Seq):
        return
    before = None
    for item in form.items:
        if not holds(item.when):
            continue
        call = item.form
        if isinstance(call, LayerOp) and writes_in_place(call, holds) and before is not None \
                and before in SAVES_OUTPUT:
            raise error(call.args["inplace"].loc, BAD_ARGUMENTS, f"node '{name}': {call.op} with "
                        f"'inplace: true' overwrites the output of the {before} before it, "
                        "which its backward needs: training fails ('modified by an inplace "
                        "operation')" + suffix, FIX)
        before = call.op if isinstance(call, LayerOp) and item.each is None else None
