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
from contextlib import suppress
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
from .overlap import ALIASING, Holds, holds_in, writes_in_place

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
_UNDECIDED = (SpecError, TypeError, ValueError, ZeroDivisionError, KeyError)


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
        seen = {name}
        while (up := self.parent.get(name)) is not None and up not in seen:
            seen.add(up)
            name = up
        return name

    def chain(self, name: str) -> list[str]:
        out = [name]
        while (up := self.parent.get(out[-1])) is not None and up not in out:
            out.append(up)
        return out


def check_in_place_reads(spec: Spec, order: list[str], env: Mapping[str, object],
                         suffix: str = "") -> None:
    """Raise E402 at the first in-place write into memory something else still needs, in
    the configuration whose params and lets `env` gives (`suffix` names it)."""
    if not _has_in_place(spec, set()):
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


def _has_in_place(spec: Spec, seen: set[object]) -> bool:
    """Whether a layer of `spec` or of a spec it uses takes `inplace` (at any value)."""
    seen.add(spec.path)
    forms: list[NodeForm] = [body.form for node in spec.nodes.values()
                             for body in (node, *cases_of(node))]
    while forms:
        form = forms.pop()
        if isinstance(form, LayerOp | FunctionOp) and "inplace" in form.args:
            return True
        if isinstance(form, Seq):
            forms += [item.form for item in form.items]
        elif isinstance(form, Repeat | Map | Stack):
            forms.append(form.body)
        elif isinstance(form, SubSpec) and form.spec.path not in seen \
                and _has_in_place(form.spec, seen):
            return True
    return False


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
        written = _writes(spec, name, body, holds, env, suffix)
        if written is not None:
            writes[name] = written
        outs = body.out or [name]
        views = _output_views(spec, body, holds, env)  # per output: the input it may be
        for k, out in enumerate(outs):
            parent[out] = views[k] if k < len(views) else None
        if written is not None and written[2] == first and outs:
            parent[outs[0]] = first
    return _Flow(active, parent, writes)


def _output_views(spec: Spec, body: Node, holds: Holds,
                  env: Mapping[str, object]) -> list[str | None]:
    """For each output of a node, the input whose memory it may be (None: a new tensor)."""
    if not body.inputs:
        return []
    first = body.inputs[0].name
    form = _resolve(spec, body.form)
    if isinstance(form, SubSpec | Stack):
        call = form if isinstance(form, SubSpec) else form.body
        return [body.inputs[k].name if k is not None and k < len(body.inputs) else None
                for k in _returned_inputs(call, env)]
    return [first if _aliases(spec, body.form, holds, env) else None] * len(body.out or [0])


def _resolve(spec: Spec, form: NodeForm) -> NodeForm | None:
    """An `apply:`'s form is the layer it calls."""
    if isinstance(form, LayerCall):
        target = spec.nodes.get(form.target.name)
        return target.form if target is not None else None
    return form


def _writes(spec: Spec, name: str, body: Node, holds: Holds, env: Mapping[str, object],
            suffix: str) -> tuple[Loc, str, str] | None:
    """Where and what writes one of the node's inputs in place, and which: an in-place
    layer (after views only, in a `seq:`), a sub-spec or a loop body that writes its input;
    None for no such write. Every copy of an `each` writing its one input is E402 here."""
    if not body.inputs:
        return None  # a declaration: `apply:` calls it
    form = _resolve(spec, body.form)
    if isinstance(form, Repeat | Map):
        inner = _callee_writes(form.body, holds, env, spec)
        if inner is None:
            return None
        loc, what = inner
        if isinstance(form, Repeat) and not form.zipped and _copies(form, env) > 1:
            raise error(loc, BAD_ARGUMENTS, f"node '{name}': {what} in every copy of an "
                        f"'each' writes its one input '{body.inputs[0].name}': the first "
                        "copy's write would be what the next copies read" + suffix, FIX)
        return loc, what, body.inputs[0].name
    if isinstance(form, Stack):
        written = _written_inputs(form.body.spec, _sub_env(form.body, env))
        if written:
            k = min(written)
            return body.loc, "the loop body, which writes a tensor it reads in place,", \
                body.inputs[k].name
        return None
    if isinstance(form, SubSpec):
        written = _written_inputs(form.spec, _sub_env(form, env))
        return (body.loc, f"{form.spec.name}, which writes its input in place,",
                body.inputs[min(written)].name) if written else None
    inner = _callee_writes(form, holds, env, spec) if form is not None else None
    return (inner[0], inner[1], body.inputs[0].name) if inner is not None else None


def _callee_writes(form: NodeForm, holds: Holds, env: Mapping[str, object],
                   spec: Spec) -> tuple[Loc, str] | None:
    """Where and what of a layer (or `seq:`, through views) that writes its input in
    place; a sub-spec's writes are _written_inputs'."""
    match form:
        case LayerOp() | FunctionOp() if writes_in_place(form, holds):
            return form.args["inplace"].loc, f"{form.op} with 'inplace: true'"
        case Seq(items):
            for item in items:  # through views to the first layer that makes a value
                if not holds(item.when) or item.each is not None:
                    if item.each is not None:
                        return None
                    continue
                if isinstance(item.form, SubSpec):  # a block that writes its input first
                    sub_env = _sub_env(item.form, env)
                    if 0 in _written_inputs(item.form.spec, sub_env):
                        return item.loc, f"{item.form.spec.name}, which writes its input " \
                            "in place,"
                    if _returned_inputs(item.form, env)[:1] != [0]:
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


def _sub_env(call: SubSpec, env: Mapping[str, object]) -> dict[str, object]:
    """A sub-spec's params and lets as its caller passes them (a value that cannot be
    computed here: the sub-spec's default)."""
    sub_env: dict[str, object] = {}
    for p in call.spec.params.values():
        sub_env[p.name] = p.default
        if p.name in call.args:
            with suppress(*_UNDECIDED):
                sub_env[p.name] = call.args[p.name].value(env)
    for let in call.spec.lets.values():
        with suppress(*_UNDECIDED):
            sub_env[let.name] = let.expr.value(sub_env)
    return sub_env


def _written_inputs(sub: Spec, env: Mapping[str, object]) -> set[int]:
    """The positions of a sub-spec's inputs that it writes in place (or a view of)."""
    try:
        flow = _flow(sub, forward_order(sub), env, "")
    except SpecError:
        return set()  # refused inside: the sub-spec's own check reports it
    sources = list(sub.sources())
    return {sources.index(flow.root(target)) for _, _, target in flow.writes.values()
            if flow.root(target) in sources}


def _copies(form: Repeat, env: Mapping[str, object]) -> int:
    try:
        return len(form.iterable.value(env))
    except _UNDECIDED:
        return 2  # unknown here: taken as several


def _op_aliases(form: LayerOp | FunctionOp, holds: Holds) -> bool:
    return form.op in ALIASING or form.op in RETURNS_INPUT \
        or ops.REGISTRY[form.op].layout == ops.STRIDED or writes_in_place(form, holds)


def _aliases(spec: Spec, form: NodeForm, holds: Holds, env: Mapping[str, object]) -> bool:
    """Whether a node's value may be its first input's memory (a view, its input itself)."""
    match _resolve(spec, form):
        case LayerOp() | FunctionOp() as call:
            return _op_aliases(call, holds)
        case Seq(items):
            return all(i.each is None and isinstance(i.form, LayerOp | FunctionOp)
                       and _op_aliases(i.form, holds) for i in items if holds(i.when))
        case SubSpec() as call:
            return _returned_inputs(call, env)[:1] == [0]
        case Stack(body=call):
            return _returned_inputs(call, env)[:1] == [0]
        case _:
            return False


def _returned_inputs(call: SubSpec, env: Mapping[str, object]) -> list[int | None]:
    """For each output of a sub-spec (or loop body), the position of the input whose
    memory it may be; None for a new tensor."""
    sub, sub_env = call.spec, _sub_env(call, env)
    try:
        flow = _flow(sub, forward_order(sub), sub_env, "")
    except SpecError:
        return []
    sources = list(sub.sources())
    sub_holds = holds_in(sub_env)
    roots = [flow.root(o.name) for o in sub.outputs if sub_holds(o.when)]
    return [sources.index(r) if r in sources else None for r in roots]


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
            sub, sub_env = sub_call.spec, _sub_env(sub_call, env)
            sub_holds = holds_in(sub_env)
            out = next((o.name for o in sub.outputs if sub_holds(o.when)), None)
            node = sub.nodes.get(out) if out is not None else None
            if node is None:
                return False
            body = next((c for c in cases_of(node) if sub_holds(c.when)), node)
            return _saves_output(sub, body.form, sub_holds, sub_env)
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
