"""Graph structure: names, references, cycles, reachability and forward order.

The name checks run as a spec is parsed; the graph is a plain mapping of each tensor to its
readers, ordered and searched for cycles here.
"""

from __future__ import annotations

import ast
import heapq
from collections.abc import Iterator
from typing import TypeAlias

from .errors import (
    BAD_ARGUMENTS,
    DUPLICATE_NAME,
    GRAPH_CYCLE,
    UNKNOWN_NAME,
    UNKNOWN_OUTPUT,
    UNKNOWN_REF,
    UNREACHABLE_NODE,
    Collector,
    Loc,
    did_you_mean,
    error,
)
from .expr import CONSTANTS, FUNCTIONS, Expr
from .loops import body_loops, node_loops
from .memo import remember
from .model import (
    Cases,
    FunctionOp,
    Node,
    Ref,
    Repeat,
    Seq,
    Spec,
    cases_of,
    dim_names,
    layer_target,
    owned_layer,
    unwrapped,
)

# name -> the nodes that read it, in the order the spec writes them (a dict as an ordered
# set): the dataflow graph over inputs and nodes
Graph: TypeAlias = "dict[str, dict[str, None]]"


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


def build(spec: Spec) -> tuple[Graph, list[str]]:
    """The dataflow graph over all nodes (every condition at once) and its forward order.

    Reports unknown references and cycles. The order is topological, breaking ties
    by the order of the spec, so a spec written in forward order keeps its order.
    """
    index = {name: i for i, name in enumerate([*spec.sources(), *list_inputs(spec),
                                                *spec.nodes])}
    graph: Graph = {name: {} for name in index}
    prod = producers(spec)
    issues = Collector()
    for node in spec.nodes.values():
        for ref in node_refs(node):
            if ref.name not in prod:
                issues.add(
                    error(
                        ref.loc,
                        UNKNOWN_REF,
                        f"node '{node.name}' uses unknown '{ref.name}'"
                        + did_you_mean(ref.name, prod),
                    )
                )
            elif prod[ref.name] == node.name:
                issues.add(error(ref.loc, GRAPH_CYCLE, f"node '{node.name}' uses its own output"))
            else:
                graph[prod[ref.name]][node.name] = None
    for out in spec.outputs:
        if out.name not in prod:
            issues.add(error(out.loc, UNKNOWN_OUTPUT, f"output '{out.name}' is not a node or input"
                             + did_you_mean(out.name, prod)))
    issues.raise_if_any()
    order = forward(graph, index)
    if order is None:  # a topological order fails exactly when there is a cycle
        names = find_cycle(graph)
        first = spec.nodes[names[0]]
        raise error(first.loc, GRAPH_CYCLE, "cycle in the graph: " + " -> ".join(names))
    return graph, [n for n in order if n in spec.nodes]


def forward(graph: Graph, index: dict[str, int]) -> list[str] | None:
    """Every name of `graph`, each after all it reads, the one first in `index` whenever
    several are ready (Kahn's algorithm with a heap); None where a cycle leaves some."""
    waiting = dict.fromkeys(graph, 0)
    for readers in graph.values():
        for reader in readers:
            waiting[reader] += 1
    ready = [(index[name], name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for reader in graph[name]:
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, (index[reader], reader))
    return order if len(order) == len(graph) else None


def find_cycle(graph: Graph) -> list[str]:
    """The first cycle of a depth-first search from each name in turn, readers in order,
    as the names along it back to the first. Only for a graph with a cycle."""
    finished: set[str] = set()
    for start in graph:
        if start in finished:
            continue
        path, on_path, readers = [start], {start}, [iter(graph[start])]
        while readers:
            reader = next(readers[-1], None)
            if reader is None:  # every reader of path[-1] explored
                on_path.remove(path[-1])
                finished.add(path.pop())
                readers.pop()
            elif reader in on_path:
                return path[path.index(reader):] + [reader]
            elif reader not in finished:
                path.append(reader)
                on_path.add(reader)
                readers.append(iter(graph[reader]))
    raise ValueError("no cycle")


def check_reachable(spec: Spec, graph: Graph, active: set[str], outputs: list[str],
                    config_text: str) -> None:
    """Every active node must feed some active output."""
    prod = producers(spec)
    kept = set(spec.sources()) | set(list_inputs(spec)) | active
    needed = computed_from(graph, kept, {prod[o] for o in outputs})
    issues = Collector()
    for name in active:
        if name not in needed:
            node = spec.nodes[name]
            issues.add(error(node.loc, UNREACHABLE_NODE, f"node '{name}' does not reach any output"
                             + config_text, "remove it, or use its result"))
    issues.raise_if_any()


def computed_from(graph: Graph, kept: set[str], targets: set[str]) -> set[str]:
    """`targets` and every name of `kept` they are computed from, through `kept` only."""
    read_by: dict[str, list[str]] = {name: [] for name in graph}
    for name, readers in graph.items():
        if name in kept:
            for reader in readers:
                read_by[reader].append(name)
    needed, todo = set(targets), list(targets)
    while todo:
        for name in read_by[todo.pop()]:
            if name not in needed:
                needed.add(name)
                todo.append(name)
    return needed


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
            for ref in body.inputs if len(issues.diagnostics) == bad else ():
                if ref.name in optional and (guard is None or guard.name != ref.name):
                    issues.add(error(ref.loc, BAD_ARGUMENTS, f"node '{node.name}' reads optional "
                                     f"input '{ref.name}', which is None when not passed",
                                     f"add 'if_given: {ref.name}' to the node"))
    issues.raise_if_any()


def loop_var(node: Node) -> str | None:
    """The name `each: NAME in ...` gives the items (None without `each` or a name)."""
    return node.form.var if isinstance(node.form, Repeat) else None


def owns_attribute(node: Node) -> bool:
    """A node __init__ stores as `self.NAME`: it owns a layer (in some case)."""
    return any(owned_layer(body.form) is not None for body in [node, *cases_of(node)])


def forward_names(spec: Spec) -> set[str]:
    """The names the expressions forward evaluates read (an over-approximation: every
    condition, every tensor function's arguments, the lists `each` runs over): a param
    among them is stored as `self.NAME` for forward. Layer arguments are read in __init__,
    where params are the constructor's arguments."""
    exprs = [req for req in spec.requires if spec.on_input_dims(req)]
    exprs += [o.when for o in spec.outputs if o.when is not None]
    for node in spec.nodes.values():
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
    layer: layer and sub-spec arguments (in `seq` items, `each` bodies and cases too) and
    the lists a layer `each` runs over."""
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            form, var = body.form, loop_var(body)
            layer = owned_layer(form)
            if layer is None:
                continue
            if isinstance(form, Repeat):
                yield body, form.iterable, None
            parts = [i.form for i in layer.items] if isinstance(layer, Seq) else [layer]
            for part in parts:
                for expr in part.args.values():
                    yield body, expr, var


_BOUND: dict[str, tuple[str, ...]] = {}  # a dim's text -> the names it binds (dim_names)


def _bound_names(shape: list[Expr]) -> Iterator[str]:
    """The names dim_names finds in `shape`, without their locations; memoized on each
    dim's text (the same dims recur in every node and spec; cleared when full)."""
    for dim in shape:
        names = _BOUND.get(dim.text)
        if names is None:
            names = tuple(name for name, _ in dim_names([dim]))
            remember(_BOUND, dim.text, names, 10_000)
        yield from names


def check_constructor_names(spec: Spec) -> None:
    """E202 where a layer's argument or a `when` condition names a dim: both are evaluated
    in __init__, whose names are the params and lets (and an `each` variable), before any
    input exists."""
    dims: dict[str, str] = {}
    for name, inp in spec.sources().items():
        for dim in _bound_names(inp.tensor_shape):
            dims.setdefault(dim, f"input dim '{dim}' (of input '{name}')")
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            for shape in body.annotations():
                for dim in _bound_names(shape):
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
                why = ("the layer is built in __init__" if (what, expr, var) in layers else
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
    node may take a param's name where the generated code keeps them apart: the param is
    the constructor's argument, the node `self.NAME` (a layer) or a local of forward."""
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
    read_in_forward = forward_names(spec)
    for node in spec.nodes.values():
        param = spec.params.get(node.name)
        if param is not None and param.name in read_in_forward and owns_attribute(node):
            issues.add(error(node.loc, DUPLICATE_NAME, f"node '{node.name}' and param "
                             f"'{param.name}' (line {param.loc.line}) would both be "
                             f"self.{node.name}: forward reads the param and the node is a layer",
                             "rename one of them (and every place that reads it)"))
        claim(node.name, node.loc, "node")
        for o in node.out or ():
            claim(o, node.loc, "output")
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
    values = set(seen) - set(spec.params) - set(spec.lets)  # inputs, nodes, outputs
    values |= {loop.var for n in spec.nodes.values() for loop in node_loops(n) if loop.var}
    for inp in spec.inputs.values():
        for shape in [inp.shape or [], *(i.shape or [] for i in inp.items or ())]:
            for name, loc in dim_names(shape):
                if name in values:  # forward's `name, ... = x.shape` would overwrite it
                    issues.add(
                        error(
                            loc,
                            DUPLICATE_NAME,
                            f"dim '{name}' of input '{inp.name}' reuses "
                            "the name of an input, node, output or loop variable",
                        )
                    )
    issues.raise_if_any()


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
