"""Graph structure: names, references, cycles, reachability and forward order.

The name checks run as a spec is parsed; networkx is imported only where a graph is built,
so loading a spec (a cached build loads none) does not import it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from .errors import (
    BAD_ARGUMENTS,
    BAD_VALUE,
    DUPLICATE_NAME,
    GRAPH_CYCLE,
    UNKNOWN_NAME,
    UNKNOWN_OUTPUT,
    UNKNOWN_REF,
    UNREACHABLE_NODE,
    Collector,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .expr import Expr, comprehension_vars
from .expr_source import CONSTANTS, FUNCTIONS
from .loops import body_loops, node_loops
from .model import (
    Cases,
    FunctionOp,
    Map,
    Node,
    Ref,
    Repeat,
    Seq,
    Spec,
    Stack,
    TensorDecl,
    bound_names,
    cases_of,
    dim_names,
    is_declaration,
    layer_target,
    owned_layer,
    unwrapped,
    whens,
)
from .names import LOOP_LAYER_SUFFIX, PRIVATE_MODULE_ATTRS, check_identifier

if TYPE_CHECKING:
    import networkx as nx


def node_refs(node: Node) -> list[Ref]:
    """Every tensor a node reads (its own inputs and those of its cases)."""
    if isinstance(node.form, Cases):  # a `cases` node itself has no `in:` or `if_given:`
        return [ref for case in node.form.cases for ref in node_refs(case)]
    refs = list(node.inputs)
    target = layer_target(node.form)
    if target is not None:
        refs.append(target)  # the layer must be defined (and computed) first
    if node.if_given:
        refs.append(node.if_given)
    return refs


def readers(spec: Spec) -> dict[str, list[str]]:
    """Tensor name -> the nodes that read it, in spec order (each once, cases and all)."""
    found: dict[str, list[str]] = {}
    for node in spec.nodes.values():
        for name in dict.fromkeys(ref.name for ref in node_refs(node)):  # cases read twice
            found.setdefault(name, []).append(node.name)
    return found


def producers(spec: Spec) -> dict[str, str]:
    """Tensor name -> the input or node that produces it (split outputs map to their node)."""
    names = {name: name for name in [*spec.sources(), *list_inputs(spec)]}
    for node in spec.nodes.values():
        names[node.name] = node.name
        for o in node.out or ():
            names[o] = node.name
    return names


def list_inputs(spec: Spec) -> list[str]:
    """The list inputs, which a node may read whole (`zip:`, `cat`) besides their items."""
    return [inp.name for inp in spec.inputs.values() if inp.items is not None]


def build(spec: Spec) -> tuple[nx.DiGraph, list[str]]:
    """The dataflow graph over all nodes (every condition at once) and its forward order.

    Reports unknown references and cycles. The order is topological, breaking ties
    by the order of the spec, so a spec written in forward order keeps its order.
    """
    import networkx as nx

    graph = nx.DiGraph()
    index = {name: i for i, name in enumerate([*spec.sources(), *list_inputs(spec),
                                                *spec.nodes])}
    graph.add_nodes_from(index)
    prod = producers(spec)
    issues = Collector()
    for node in spec.nodes.values():
        for ref in node_refs(node):
            if ref.name in spec.int_inputs:
                issues.add(error(ref.loc, BAD_ARGUMENTS, f"node '{node.name}' reads "
                                 f"'{ref.name}', an int input, as a tensor",
                                 f"an int is a size: expressions read it (`shape:`, a reshape's "
                                 f"`to:`, `sizes: {{h: {ref.name}}}`)"))
            elif ref.name not in prod:
                issues.add(
                    error(
                        ref.loc,
                        UNKNOWN_REF,
                        f"node '{node.name}' uses unknown '{ref.name}'"
                        + did_you_mean(ref.name, prod),
                        *([f"a loop body reads the value it carries "
                           f"('{next(iter(spec.inputs))}'), its own nodes, and the spec's tensor "
                           "inputs, its params and buffers and its earlier nodes with a "
                           "one-tensor 'shape:' (an `out:` name with its shape)"]
                          if spec.inline else []),
                    )
                )
            elif prod[ref.name] == node.name:
                issues.add(error(ref.loc, GRAPH_CYCLE, f"node '{node.name}' uses its own output"))
            else:
                graph.add_edge(prod[ref.name], node.name)
    for out in spec.outputs:
        if out.name not in prod:
            issues.add(error(out.loc, UNKNOWN_OUTPUT, f"output '{out.name}' is not a node or input"
                             + did_you_mean(out.name, prod)))
    issues.raise_if_any()
    try:  # a topological sort fails exactly when there is a cycle; only then look for it
        order = list(nx.lexicographical_topological_sort(graph, key=lambda n: index[n]))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
        names = [a for a, _ in cycle] + [cycle[0][0]]
        first = spec.nodes[names[0]]
        raise error(first.loc, GRAPH_CYCLE, "cycle in the graph: " + " -> ".join(names)) from None
    return graph, [n for n in order if n in spec.nodes]


def check_reachable(spec: Spec, graph: nx.DiGraph, active: set[str], outputs: list[str],
                    config_text: str) -> None:
    """Every active node must feed some active output, but those marked `unused: true`,
    which none may read."""
    import networkx as nx

    prod = producers(spec)
    targets = {prod[o] for o in outputs}
    sub = graph.subgraph(set(spec.sources()) | set(list_inputs(spec)) | active)
    needed = set(targets)
    for t in targets:
        needed |= nx.ancestors(sub, t)
    issues = Collector()
    for name, node in spec.nodes.items():  # in spec order: the errors too
        if name not in active:
            continue
        if node.unused:
            readers = [r for r in sub.successors(name) if r in spec.nodes]
            if readers:
                what = "applies" if is_declaration(node) else "reads"
                issues.add(error(node.loc, UNREACHABLE_NODE, f"node '{name}' is marked "
                                 f"'unused: true', but node '{readers[0]}' {what} it"
                                 + config_text, "remove 'unused: true'"))
        elif name not in needed:
            fix = "remove it, or use its result"
            if is_declaration(node) or isinstance(node.form, TensorDecl):
                fix = ("remove it, use it, or keep it and its state_dict keys as they are: "
                       "add 'unused: true' to it")
            issues.add(error(node.loc, UNREACHABLE_NODE, f"node '{name}' does not reach any output"
                             + config_text, fix))
    issues.raise_if_any()


def check_optional_reads(spec: Spec) -> None:
    """An optional input is None when not passed: only `if_given` nodes may read it.

    `if_given: name` names an optional input; the node reads it and, when it is
    absent, passes its first input on instead (so that input cannot be `name`).
    """
    sources = spec.sources()
    optional = sorted(n for n, i in sources.items() if i.optional)
    issues = Collector()
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            guard = body.if_given
            bad = len(issues.diagnostics)
            if guard is not None and guard.name not in sources and guard.name not in spec.nodes:
                issues.add(error(guard.loc, UNKNOWN_REF, f"node '{node.name}': 'if_given: "
                                 f"{guard.name}' names no input" + did_you_mean(guard.name,
                                                                                optional)))
            elif guard is not None and guard.name in sources and guard.name not in optional:
                issues.add(error(guard.loc, BAD_ARGUMENTS, f"node '{node.name}': 'if_given: "
                                 f"{guard.name}' must name an optional input; '{guard.name}' "
                                 "is always given",
                                 "optional inputs: " + (", ".join(optional) or "none")))
            elif guard is not None and guard.name in spec.nodes:
                issues.add(error(guard.loc, BAD_ARGUMENTS, f"node '{node.name}': 'if_given: "
                                 f"{guard.name}' must name an optional input, not a node"))
            elif guard is not None and body.inputs and body.inputs[0].name == guard.name:
                issues.add(
                    error(
                        body.inputs[0].loc,
                        BAD_ARGUMENTS,
                        f"node '{node.name}': its first "
                        f"input is passed on when '{guard.name}' is absent, so it "
                        f"cannot be '{guard.name}' itself",
                    )
                )
            elif guard is not None and not body.inputs:
                issues.add(
                    error(
                        guard.loc,
                        BAD_ARGUMENTS,
                        f"node '{node.name}' has 'if_given' but no input to pass on",
                    )
                )
            # a loop body's reads (after the value it carries) are its own inputs: its nodes
            # read an optional one with `if_given`, checked in the body
            reads = body.inputs[:1] if isinstance(body.form, Stack) else body.inputs
            for ref in reads if len(issues.diagnostics) == bad else ():
                if ref.name in optional and (guard is None or guard.name != ref.name):
                    issues.add(error(ref.loc, BAD_ARGUMENTS, f"node '{node.name}' reads optional "
                                     f"input '{ref.name}', which is None when not passed",
                                     f"add 'if_given: {ref.name}' to the node"))
    issues.raise_if_any()


def loop_var(node: Node) -> str | None:
    """The name `each: NAME in ...` gives the items (None without `each` or a name)."""
    return node.form.var if isinstance(node.form, Repeat) else None


def owns_attribute(node: Node) -> bool:
    """A node __init__ stores as `self.NAME`: it owns a layer (in some case), or it is a
    loop body's (its layers, one nn.ModuleList per copy)."""
    return isinstance(node.form, Stack) or any(owned_layer(body.form) is not None
                                               for body in [node, *cases_of(node)])


def param_attribute(spec: Spec, name: str) -> str:
    """The attribute forward reads param `name` by: `self.NAME`, or `self._NAME` where a
    node of that name is `self.NAME` itself (a layer, a loop body's layers, a param or
    buffer: the `bias` flag beside the `bias` parameter of a conv-like module)."""
    node = spec.nodes.get(name)
    taken = node is not None and (owns_attribute(node) or isinstance(node.form, TensorDecl))
    return "_" + name if taken else name


def forward_names(spec: Spec) -> set[str]:
    """The names the expressions forward evaluates read (an over-approximation: every
    condition, every tensor function's arguments, the lists `each` runs over): a param
    among them is stored as `self.NAME` for forward. Layer arguments are read in __init__,
    where params are the constructor's arguments."""
    exprs = [req for req in spec.requires if spec.on_input_dims(req)]
    exprs += [o.when for o in spec.outputs if o.when is not None]
    nodes = list(spec.nodes.values())
    for node in nodes:
        if isinstance(node.form, Stack):  # a loop body's forward lines are this forward's
            nodes += node.form.body.spec.nodes.values()
        for body in [node, *cases_of(node)]:
            exprs += [body.when] if body.when is not None else []
            form = body.form
            if isinstance(form, Repeat):
                exprs.append(form.iterable)
            call = unwrapped(form)
            if isinstance(call, FunctionOp):
                exprs += list(call.args.values())
    return {name for e in exprs for name in e.names}


def constructor_exprs(spec: Spec) -> Iterator[tuple[Node, Expr, str | None]]:
    """(node, expression, loop variable) of every expression __init__ evaluates to build a
    layer or a tensor: layer and sub-spec arguments (in `seq` items, `each` bodies and cases
    too), the lists a layer `each` runs over, and a param's or buffer's init options."""
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            form, var = body.form, loop_var(body)
            if isinstance(form, TensorDecl):
                for option in form.options.values():
                    for expr in option if isinstance(option, tuple) else [option]:
                        if isinstance(expr, Expr):
                            yield body, expr, None
            layer = owned_layer(form)
            if layer is None:
                continue
            if isinstance(form, Repeat):
                yield body, form.iterable, None
            parts = [i.form for i in layer.items] if isinstance(layer, Seq) else [layer]
            for part in parts:
                for expr in part.args.values():
                    yield body, expr, var


def check_constructor_names(spec: Spec) -> None:
    """E202 where a layer's argument or a `when` condition names a dim: both are evaluated
    in __init__, whose names are the params and lets (and an `each` variable), before any
    input exists."""
    dims: dict[str, str] = {}
    for name, inp in spec.sources().items():
        for dim in bound_names(inp.tensor_shape):
            dims.setdefault(dim, f"input dim '{dim}' (of input '{name}')")
    dims.update({n: f"int input '{n}', an argument of forward" for n in spec.int_inputs})
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            for shape in body.annotations():
                for dim in bound_names(shape):
                    dims.setdefault(dim, f"dim '{dim}' (bound by the shape of node "
                                    f"'{node.name}')")
    for name in [*spec.params, *spec.lets]:
        dims.pop(name, None)
    issues = Collector()
    whens = [(f"output '{o.name}'", o.when, None) for o in spec.outputs if o.when is not None]
    whens += [(f"node '{node.name}'", body.when, None) for node in spec.nodes.values()
              for body in [node, *cases_of(node)] if body.when is not None]
    layers = [(f"node '{node.name}'", expr, var) for node, expr, var in constructor_exprs(spec)]
    # an Expr's names are its tree's names but these: only a dim so named needs the walk
    unlisted = not dims.keys().isdisjoint({*CONSTANTS, *FUNCTIONS, "range"})
    for what, expr, var in [*layers, *whens]:
        if not unlisted and dims.keys().isdisjoint(expr.names):
            continue  # the common case: it names no dim
        for n in ast.walk(expr.tree):
            if isinstance(n, ast.Name) and n.id in dims and n.id != var:
                why = ("it is made in __init__" if (what, expr, var) in layers else
                       "a condition is decided once, at construction")
                issues.add(error(
                    expr.loc.shifted(n.col_offset), UNKNOWN_NAME,
                    f"{what}: '{expr.text}' names {dims[n.id]}, but {why}, before any "
                    "input: only params and lets exist there",
                    f"make it a param: `params: {{{n.id}: {{type: int, example: 64}}}}` (the "
                    f"input shape then reads it), or compute it from params"))
                break
    issues.raise_if_any()


def check_unique_names(spec: Spec) -> None:
    """Params, lets, inputs, nodes and split outputs share one namespace, except that a
    node may take a param's name: the param is the constructor's argument, the node
    `self.NAME` (a layer, a tensor) or a local of forward; where forward reads the param
    too, it keeps it as `self._NAME` (param_attribute), which must be free."""
    seen: dict[str, Loc] = {}
    issues = Collector()

    def claim(name: str, loc: Loc, what: str) -> None:
        if name in seen:
            issues.add(
                error(
                    loc,
                    DUPLICATE_NAME,
                    f"{what} '{name}' reuses a name already defined at line {seen[name].line}",
                )
            )
        else:
            seen[name] = loc

    for let in spec.lets.values():
        claim(let.name, let.loc, "let")
    for inp in spec.inputs.values():
        claim(inp.name, inp.loc, "input")
        for item in inp.items or ():
            claim(item.name, item.loc, "list item")
    for size in spec.int_inputs.values():
        claim(size.name, size.loc, "int input")
    read_in_forward = forward_names(spec)
    for node in spec.nodes.values():
        param = spec.params.get(node.name)
        kept = param_attribute(spec, node.name)
        if param is not None and param.name in read_in_forward and kept != node.name and (
                kept in spec.params or kept in spec.lets or kept in spec.nodes
                or kept in spec.inputs or kept in PRIVATE_MODULE_ATTRS):
            issues.add(error(node.loc, DUPLICATE_NAME, f"node '{node.name}' is self.{node.name}, "
                             f"so forward would read param '{param.name}' (line "
                             f"{param.loc.line}) as self.{kept}, a name already taken",
                             "rename one of them (and every place that reads it)"))
        claim(node.name, node.loc, "node")
        for o in node.out or ():
            claim(o, node.loc, "output")
        if isinstance(node.form, Stack):  # the body's values are locals of this forward
            for inner in node.form.body.spec.nodes.values():
                claim(inner.name, inner.loc, "body node")
                for o in inner.out or ():
                    claim(o, inner.loc, "body output")
                if owned_layer(inner.form) is not None:  # unpacked by the loop
                    claim(inner.name + LOOP_LAYER_SUFFIX, inner.loc, "the loop's layer variable")
        for n in cases_of(node):
            for o in n.out or ():
                if o not in (node.out or ()):
                    claim(o, n.loc, "output")
        for body in [node, *cases_of(node)]:
            own: dict[str, Loc] = {}  # a body's loops (its each, its seq layers') nest
            for loop in body_loops(body):
                var, where = loop.var, loop.iterable.loc
                if var is None:
                    continue
                earlier = spec.params[var].loc if var in spec.params else seen.get(var)
                if (earlier is not None and earlier != node.loc) or var in own:
                    line = earlier.line if earlier is not None else own[var].line
                    issues.add(error(where, DUPLICATE_NAME, f"loop variable '{var}' of node "
                                     f"'{node.name}' shadows a name defined at line {line}"))
                own.setdefault(var, where)
    for p in spec.params.values():  # a node may share a param's name (see above)
        if p.name not in spec.nodes:
            claim(p.name, p.loc, "param")
    for let in () if spec.inline else spec.lets.values():  # (a body's are its caller's)
        for var, where in comprehension_vars(let.expr):  # `i` of `[... for i in range(n)]`
            taken = spec.params.get(var) or spec.lets.get(var)
            if taken is not None:
                issues.add(error(where, DUPLICATE_NAME, f"comprehension variable '{var}' of "
                                 f"let '{let.name}' shadows a name defined at line "
                                 f"{taken.loc.line}", "give the variable a name of its own"))
    values = set(seen) - set(spec.params) - set(spec.lets)  # inputs, nodes, outputs
    values |= {loop.var for n in spec.nodes.values() for loop in node_loops(n) if loop.var}
    refused: set[int] = set()  # the dims an error names already
    for inp in spec.inputs.values():
        for shape in [inp.shape or [], *(i.shape or [] for i in inp.items or ())]:
            for name, loc in dim_names(shape):
                if name in spec.int_inputs:  # `[B, C, H, W]`: twice; `[B, "H * W", C]`: unchecked
                    dim = next(d for d in shape if name in d.names)
                    if dim.text == name:
                        issues.add(error(loc, DUPLICATE_NAME, f"dim '{name}' of input "
                                         f"'{inp.name}' is also an int input: forward would "
                                         "take it twice", f"drop the int input '{name}' (the "
                                         "shape gives it), or name the dim apart and require "
                                         f"the two equal: `requires: [{name}2 == {name}]`"))
                    elif not spec.inline and id(dim) not in refused:  # (a loop body's
                        refused.add(id(dim))  # shapes are its caller's values)
                        issues.add(error(dim.loc, BAD_VALUE, f"dim '{dim.text}' of input "
                                         f"'{inp.name}' reads int input '{name}': forward "
                                         "reads an input's dims, it does not check them",
                                         f"name the dim and require it: `{inp.name}: [..., N, "
                                         f"...]`, `requires: [N == {dim.text}]` (forward "
                                         "checks that)"))
                elif name in values:  # forward's `name, ... = x.shape` would overwrite it
                    issues.add(
                        error(
                            loc,
                            DUPLICATE_NAME,
                            f"dim '{name}' of input '{inp.name}' reuses "
                            "the name of an input, node, output or loop variable",
                        )
                    )
    for name, loc, binder, *_ in annotation_dims(spec):  # forward unpacks: `_, Hk = y.shape`
        try:
            check_identifier(name, loc, "dim")
        except SpecError as exc:
            issues.add(exc)
        if name in values or name in FUNCTIONS or name in CONSTANTS:
            issues.add(error(loc, DUPLICATE_NAME, f"dim '{name}' that the shape of node "
                             f"'{binder}' binds reuses the name of an input, node, output, loop "
                             "variable or function", "give the dim a name of its own"))
        elif isinstance(spec.nodes[binder].form, Repeat | Map) and name in read_in_forward:
            issues.add(error(loc, BAD_ARGUMENTS, f"dim '{name}' is bound by the shape of each "
                             f"item of node '{binder}', a list: forward reads dims of tensors",
                             "give it to a node that reads one item (its `shape:` binds it), "
                             "or compute it from the inputs' dims"))
    issues.raise_if_any()


class BoundDim(NamedTuple):
    """A dim a node's `shape:` binds: a bare name no input, param, let or earlier
    annotation gives (`shape: [B, c, Hk, Wk]`), at `axis` of the node's tensor `tensor`
    (the node's value, or one of its `out:` names) of `rank` dims."""

    name: str
    loc: Loc
    node: str
    tensor: str
    axis: int
    rank: int


def annotation_dims(spec: Spec, order: list[str] | None = None) -> list[BoundDim]:
    """The dims the nodes' `shape:`s bind, the nodes taken in `order` (file order by
    default)."""
    known = {*spec.params, *spec.lets, *spec.input_dims()}
    found = []
    for name in order if order is not None else spec.nodes:
        node = spec.nodes[name]
        for tensor, shape in zip(node.out or [name], node.annotations(), strict=False):
            for axis, d in enumerate(shape):
                if d.text.isidentifier() and d.text not in known:
                    known.add(d.text)
                    found.append(BoundDim(d.text, d.loc, name, tensor, axis, len(shape)))
    return found


_ORDERS: dict[int, tuple[Spec, list[str]]] = {}


def forward_order(spec: Spec) -> list[str]:
    """The forward order of a spec that has been checked (build() would raise otherwise),
    computed once per spec object: a sub-spec is called at every use in every configuration.
    The entry holds the spec itself, so its id cannot be reused while cached."""
    hit = _ORDERS.get(id(spec))
    if hit is None or hit[0] is not spec:
        if len(_ORDERS) >= 256:
            _ORDERS.clear()
        hit = _ORDERS[id(spec)] = (spec, build(spec)[1])
    return hit[1]


def check_choice_comparisons(spec: Spec) -> None:
    """E202 where a condition compares a `choices` param with a value not among its
    choices (`when: act == 'rleu'` for choices [relu, gelu]): always false, or always true
    with `!=`, so the layer it guards would silently vanish or stay."""
    choices = {p.name: p.choices for p in spec.params.values() if p.choices}
    if not choices:
        return
    # a variant that narrows a param's choices leaves its base's other branches out
    narrowed = {p.name for p in spec.params.values() if spec.extends and p.choices_file
                and p.choices_file == spec.file}
    issues = Collector()
    for expr in [*spec.requires, *(let.expr for let in spec.lets.values()), *whens(spec)]:
        if choices.keys().isdisjoint(expr.names):
            continue
        for name, value, at in _compared_constants(expr):
            allowed = choices.get(name)
            if name in narrowed and expr.loc.file != spec.file:
                continue  # the base's condition: checked there, with the base's choices
            if allowed is not None and value not in [
                    tuple(c) if isinstance(c, list) else c for c in allowed]:
                shown = ", ".join(map(repr, allowed))
                issues.add(error(
                    expr.loc.shifted(at.col_offset), UNKNOWN_NAME,
                    f"`{expr.text}` compares param '{name}' with {value!r}, which is not "
                    f"one of its choices ({shown})" + did_you_mean(str(value), allowed),
                    "a value outside the choices never equals the param: the condition "
                    "would decide the same in every configuration"))
    issues.raise_if_any()


def _compared_constants(expr: Expr) -> Iterator[tuple[str, object, ast.expr]]:
    """(name, value, its node) for each `name == value` (or `!=`, either side; a list
    display is one value) and each item of `name in (v1, v2)` of a condition."""
    for n in ast.walk(expr.tree):
        if not isinstance(n, ast.Compare):
            continue
        operands = [n.left, *n.comparators]
        for op, a, b in zip(n.ops, operands, operands[1:], strict=False):
            if isinstance(op, ast.Eq | ast.NotEq):
                for name, value in ((a, b), (b, a)):
                    if isinstance(name, ast.Name) and (v := _literal(value)) is not _NONE:
                        yield name.id, v, value
            elif isinstance(op, ast.In | ast.NotIn) and isinstance(a, ast.Name) \
                    and isinstance(b, ast.Tuple | ast.List):  # `act in ('gelu', 'tanh')`
                yield from ((a.id, v, e) for e in b.elts if (v := _literal(e)) is not _NONE)


_NONE = object()


def _literal(node: ast.expr) -> object:
    """A constant's value, a list display's as a tuple; _NONE for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List):
        items = [_literal(e) for e in node.elts]
        return _NONE if any(i is _NONE for i in items) else tuple(items)
    return _NONE


def check_body_dims(spec: Spec, order: list[str]) -> None:
    """E106 where a loop body's `shape:` binds a dim named like one of the spec's forward
    has by then (an input's dim, one a `shape:` before the loop binds): the body unpacks it
    inside the loop, so the spec's value of that name would be replaced after it."""
    bound_at = {b.name: order.index(b.node) for b in annotation_dims(spec, order)}
    issues = Collector()
    for node in spec.nodes.values():
        if isinstance(node.form, Stack):
            outer = spec.input_dims() | {n for n, at in bound_at.items()
                                         if at < order.index(node.name)}
            body = node.form.body.spec
            for bound in annotation_dims(body):
                if bound.name in outer:
                    issues.add(error(bound.loc, DUPLICATE_NAME, f"dim '{bound.name}' of node "
                                     f"'{bound.node}' (the body of '{node.name}') is the spec's "
                                     "own, and this shape binds it anew: the loop would replace "
                                     "its value for the rest of forward", "bind another name "
                                     f"(`{bound.name}_{node.name}`), or read the tensor whose "
                                     f"shape binds '{bound.name}' inside the body"))
    issues.raise_if_any()
