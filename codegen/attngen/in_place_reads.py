"""In-place layers that overwrite a tensor something else still needs.

A layer with `inplace: true` (ReLU, SiLU, Dropout, ...) writes its result into its input's
memory. In a spec's dataflow every node reads the value its input had when made, so these
writes go wrong, and none shows in the shapes:

- another node reads the same memory (the tensor, a view of it, what it is a view of, or
  a value that may be its input itself: `contiguous`, a `cast` to its own dtype, an
  identity): in the generated forward it reads the overwritten values, a silently wrong
  result where it runs after the layer, and where it runs before, autograd's saved copy of
  its input is overwritten (backward fails); the module's return counts as a reader;
- the op that made the tensor keeps its own output for backward (softmax, sigmoid, tanh,
  exp, sqrt, rsqrt, relu): training fails ("modified by an inplace operation");
- the memory is a param or buffer of the module (a leaf autograd refuses to write; a
  buffer's state changed by forward);
- every copy of an `each` reads one input, which the first copy's write overwrites.

The checker refuses them (E402, in the configuration where it happens). A write reaches
its input through views first in a `seq:` (`[Flatten, ReLU(inplace)]`), through a sub-spec
that writes its input (its `inplace` as the caller sets it) and through a loop body that
writes the value it carries or a tensor of the caller. A module's own input written in
place with no other reader is the caller's affair, as in torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import ops
from .errors import BAD_ARGUMENTS, Loc, SpecError, error
from .graph import forward_order
from .model import (
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
    cases_of,
)
from .overlap import ALIASING, UNDECIDED, Holds, calls_any, holds_in, sub_env, writes_in_place

# ops whose backward reads their own output (torch's derivatives.yaml: `result`)
SAVES_OUTPUT = frozenset({"softmax", "Softmax", "log_softmax", "LogSoftmax", "sigmoid",
                          "Sigmoid", "tanh", "Tanh", "exp", "sqrt", "rsqrt", "relu", "ReLU",
                          "attention", "amax", "amin", "logsumexp", "std", "norm"})
# ... and those whose in-place form keeps its result (relu_, leaky_relu_, elu_, selu_)
SAVES_OUTPUT_IN_PLACE = frozenset({"leaky_relu", "LeakyReLU", "elu", "ELU", "SELU"})
# ops that may return their input itself (or a view of it) besides the views and identities
# overlap.ALIASING lists and every op of `strided` layout
RETURNS_INPUT = frozenset({"contiguous", "cast", "detach", "rearrange", "drop_path",
                           "view_as_complex", "view_as_real", "unfold"})
FIX = "leave out 'inplace: true' (the layer then writes a tensor of its own)"


@dataclass
class _Flow:
    """One spec's forward in one configuration: the node (or case) each name runs as, the
    tensor each value may be a view of, and each in-place write: node -> (where, what,
    the input it writes)."""

    active: dict[str, Node]
    parent: dict[str, str | None]
    writes: dict[str, tuple[Loc, str, str]]

    def root(self, name: str) -> str:
        """The tensor whose memory `name` may be (itself, or what it views, ...)."""
        return self.chain(name)[-1]

    def chain(self, name: str) -> list[str]:
        """`name`, the tensor it views, what that views, ..., the memory's own last."""
        out = [name]
        while (up := self.parent.get(out[-1])) is not None and up not in out:
            out.append(up)
        return out


def check_in_place_reads(spec: Spec, order: list[str], env: Mapping[str, object],
                         suffix: str = "") -> None:
    """Raise E402 at the first in-place write into memory something else still needs, in
    the configuration whose params and lets `env` gives (`suffix` names it)."""
    if not calls_any(spec, lambda call: "inplace" in call.args, set()):
        return
    holds = holds_in(env)
    flow = _flow(spec, order, env, suffix)
    if not flow.writes:
        return
    readers: dict[str, list[tuple[str | None, str]]] = {}  # tensor -> (node, its words)
    for name, body in flow.active.items():
        for ref in body.inputs:
            readers.setdefault(ref.name, []).append((name, f"node '{name}' also reads"))
    for o in spec.outputs:
        if holds(o.when):
            readers.setdefault(o.name, []).append((None, "the module returns"))
    makes = {o: name for name, body in flow.active.items() for o in body.out or [name]}
    for name, (loc, what, target) in flow.writes.items():
        memory = flow.root(target)
        before = {t for t in flow.parent if flow.root(t) == memory and name not in flow.chain(t)}
        others = [words for t in sorted(before) for node, words in readers.get(t, [])
                  if node != name and not any(makes.get(t2) == node for t2 in before)]
        decl = spec.nodes.get(memory)
        if decl is not None and isinstance(decl.form, TensorDecl):
            raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} overwrites the "
                        f"{decl.form.kind} '{memory}' of the module (a parameter autograd "
                        "refuses to write; a buffer forward would change)" + suffix, FIX)
        makers = [(t, flow.active[makes[t]]) for t in flow.chain(target)  # it and its views
                  if makes.get(t) in flow.active]
        for t, maker in makers:
            form = _resolve(spec, maker.form)
            if isinstance(form, FunctionOp) and ops.REGISTRY[form.op].multi_output:
                raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} overwrites '{t}', a "
                            f"part {form.op} returns: torch refuses in-place writes to the "
                            "views such an op returns together" + suffix, FIX)
        if others:
            raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} overwrites '{target}', "
                        f"which {others[0]}: it would read the overwritten values (or, read "
                        "before, have autograd's saved copy overwritten)" + suffix, FIX)
        for t, maker in makers:
            if _saves_output(spec, maker.form, holds, env):
                raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} overwrites the output "
                            f"of node '{makes[t]}', which its backward needs: training fails "
                            "('modified by an inplace operation')" + suffix, FIX)


def _flow(spec: Spec, order: list[str], env: Mapping[str, object], suffix: str) -> _Flow:
    holds = holds_in(env)
    active: dict[str, Node] = {}
    for name in order:
        node = spec.nodes.get(name)
        if node is not None and holds(node.when):
            active[name] = next((c for c in cases_of(node) if holds(c.when)), node)
    parent: dict[str, str | None] = dict.fromkeys(spec.sources())
    writes: dict[str, tuple[Loc, str, str]] = {}
    for name, body in active.items():
        _check_seq(spec, body.form, holds, env, name, suffix)
        first = body.inputs[0].name if body.inputs else None
        form = _resolve(spec, body.form)
        call = form if isinstance(form, SubSpec) else form.body if isinstance(form, Stack) \
            else None
        inner = _sub_flow(call, env) if call is not None and first is not None else None
        written = _writes(spec, name, body, holds, env, suffix, inner)
        if written is not None:
            writes[name] = written
        outs = body.out or [name]
        views = _output_views(spec, body, holds, env, inner)  # per output: the input it is
        for k, out in enumerate(outs):
            parent[out] = views[k] if k < len(views) else None
        if written is not None and written[2] == first and outs:
            parent[outs[0]] = first
    return _Flow(active, parent, writes)


def _output_views(spec: Spec, body: Node, holds: Holds, env: Mapping[str, object],
                  inner: _Inner | None) -> list[str | None]:
    """For each output of a node, the input whose memory it may be (None: a new tensor);
    `inner`: what the sub-spec (or loop body) it calls does with its inputs."""
    if not body.inputs:
        return []
    if inner is not None:
        return [body.inputs[k].name if k is not None and k < len(body.inputs) else None
                for k in inner[1]]
    first = body.inputs[0].name
    return [first if _aliases(spec, body.form, holds) else None] * len(body.out or [0])


def _resolve(spec: Spec, form: NodeForm) -> NodeForm | None:
    """An `apply:`'s form is the layer it calls."""
    if isinstance(form, LayerCall):
        target = spec.nodes.get(form.target.name)
        return target.form if target is not None else None
    return form


def _writes(spec: Spec, name: str, body: Node, holds: Holds, env: Mapping[str, object],
            suffix: str, inner: _Inner | None) -> tuple[Loc, str, str] | None:
    """Where and what writes one of the node's inputs in place, and which: an in-place
    layer (after views only, in a `seq:`), a sub-spec or a loop body that writes its input
    (`inner`: _sub_flow of the one it calls); None for no such write. Every copy of an
    `each` writing its one input is E402 here."""
    if not body.inputs:
        return None  # a declaration: `apply:` calls it
    form = _resolve(spec, body.form)
    if isinstance(form, Repeat | Map):
        copy = _callee_writes(form.body, holds, env, spec)
        if copy is None:
            return None
        loc, what = copy
        if isinstance(form, Repeat) and not form.zipped and _copies(form, env) > 1:
            raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} in every copy of an "
                        f"'each' writes its one input '{body.inputs[0].name}': the first "
                        "copy's write would be what the next copies read" + suffix, FIX)
        return loc, what, body.inputs[0].name
    if inner is not None:  # a sub-spec or a loop body
        what = "the loop body, which writes a tensor it reads in place," \
            if isinstance(form, Stack) else f"{inner[2]}, which writes its input in place,"
        return (body.loc, what, body.inputs[min(inner[0])].name) if inner[0] else None
    layer = _callee_writes(form, holds, env, spec) if form is not None else None
    return (layer[0], layer[1], body.inputs[0].name) if layer is not None else None


def _callee_writes(form: NodeForm, holds: Holds, env: Mapping[str, object],
                   spec: Spec) -> tuple[Loc, str] | None:
    """Where and what of a layer (or `seq:`, through views) that writes its input in
    place; a sub-spec's writes are _written_inputs'."""
    match form:
        case LayerOp() | FunctionOp() if writes_in_place(form, holds):
            return form.args["inplace"].loc, f"{form.op} with 'inplace: true'"
        case Seq(items):
            for item in items:  # through views to the first layer that makes a value
                if not holds(item.when):
                    continue
                if item.each is not None:
                    return None
                if isinstance(item.form, SubSpec):  # a block that writes its input first
                    written, returned, sub_name = _sub_flow(item.form, env)
                    if 0 in written:
                        return item.loc, f"{sub_name}, which writes its input in place,"
                    if returned[:1] != [0]:
                        return None
                    continue
                if not isinstance(item.form, LayerOp | FunctionOp):
                    return None
                if writes_in_place(item.form, holds):
                    return item.form.args["inplace"].loc, \
                        f"{item.form.op} with 'inplace: true'"
                if not _op_aliases(item.form, holds):
                    return None
            return None
        case LayerCall():
            target = _resolve(spec, form)
            return _callee_writes(target, holds, env, spec) if target is not None else None
        case _:
            return None


_Inner = tuple[set[int], list["int | None"], str]


def _sub_flow(call: SubSpec, env: Mapping[str, object]) -> _Inner:
    """What a sub-spec (or loop body) does with its inputs, as its caller passes its params
    in `env`: the positions of the inputs it writes in place (or a view of), for each output
    the position of the input whose memory it may be (None: a new tensor), and its name."""
    sub, values = call.spec, sub_env(call.spec, call.args, env)
    try:
        flow = _flow(sub, forward_order(sub), values, "")
    except SpecError:
        return set(), [], sub.name  # refused inside: the sub-spec's own check reports it
    sources = list(sub.sources())
    roots = [flow.root(t) for _, _, t in flow.writes.values()]
    returned = [flow.root(o.name) for o in sub.outputs if holds_in(values)(o.when)]
    return ({sources.index(r) for r in roots if r in sources},
            [sources.index(r) if r in sources else None for r in returned], sub.name)


def _copies(form: Repeat, env: Mapping[str, object]) -> int:
    try:
        return len(form.iterable.value(env))
    except UNDECIDED:
        return 2  # unknown here: taken as several


def _op_aliases(form: LayerOp | FunctionOp, holds: Holds) -> bool:
    return form.op in ALIASING or form.op in RETURNS_INPUT \
        or ops.REGISTRY[form.op].layout == ops.STRIDED or writes_in_place(form, holds)


def _aliases(spec: Spec, form: NodeForm, holds: Holds) -> bool:
    """Whether a node's value may be its first input's memory (a view, its input itself);
    a sub-spec's or loop body's outputs are _sub_flow's."""
    match _resolve(spec, form):
        case LayerOp() | FunctionOp() as call:
            return _op_aliases(call, holds)
        case Seq(items):
            return all(i.each is None and isinstance(i.form, LayerOp | FunctionOp)
                       and _op_aliases(i.form, holds) for i in items if holds(i.when))
        case _:
            return False


def _saves_output(spec: Spec, form: NodeForm, holds: Holds, env: Mapping[str, object]) -> bool:
    """Whether a node's callee keeps its output for backward (its last layer's op)."""
    match _resolve(spec, form):
        case LayerOp() | FunctionOp() as call:
            return call.op in SAVES_OUTPUT or (call.op in SAVES_OUTPUT_IN_PLACE
                                               and writes_in_place(call, holds))
        case Seq(items):
            for item in reversed([i for i in items if holds(i.when)]):  # through views
                if item.each is not None or _saves_output(spec, item.form, holds, env):
                    return item.each is None
                if not isinstance(item.form, LayerOp | FunctionOp) \
                        or not _op_aliases(item.form, holds):
                    return False
            return False
        case Repeat(body=callee) | Map(body=callee):
            return _saves_output(spec, callee, holds, env)
        case SubSpec() | Stack() as called:
            sub_call = called if isinstance(called, SubSpec) else called.body
            sub, values = sub_call.spec, sub_env(sub_call.spec, sub_call.args, env)
            sub_holds = holds_in(values)
            out = next((o.name for o in sub.outputs if sub_holds(o.when)), None)
            node = sub.nodes.get(out) if out is not None else None
            if node is None:
                return False
            body = next((c for c in cases_of(node) if sub_holds(c.when)), node)
            return _saves_output(sub, body.form, sub_holds, values)
        case _:
            return False  # a case is the node's body already (_flow)


def _check_seq(spec: Spec, form: NodeForm, holds: Holds, env: Mapping[str, object],
               name: str, suffix: str) -> None:
    """Inside a `seq:`: an in-place layer after (views of) one whose backward needs its
    output."""
    if not isinstance(form, Seq):
        return
    before = None  # the layer whose kept output the next one reads (through views), if any
    for item in form.items:
        if not holds(item.when):
            continue
        call = item.form
        if item.each is not None or not isinstance(call, LayerOp | FunctionOp):
            before = None
            continue
        if writes_in_place(call, holds) and before is not None:
            raise error(call.args["inplace"].loc, BAD_ARGUMENTS, f"node '{name}': {call.op} with "
                        f"'inplace: true' overwrites the output of the {before} before it, "
                        "which its backward needs: training fails ('modified by an inplace "
                        "operation')" + suffix, FIX)
        if _saves_output(spec, call, holds, env):  # (an in-place ReLU keeps its result)
            before = call.op
        elif not _op_aliases(call, holds):
            before = None
