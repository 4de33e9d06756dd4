"""Graph structure: references, cycles, reachability and forward order (networkx)."""

from __future__ import annotations

import networkx as nx

from .errors import Collector, did_you_mean, error
from .spec import Node, Ref, Spec


def node_refs(node: Node) -> list[Ref]:
    """Every tensor a node reads (its own inputs and those of its cases)."""
    refs = list(node.inputs)
    if node.apply:
        refs.append(node.apply)  # the layer must be defined (and computed) first
    if node.if_given:
        refs.append(node.if_given)
    for case in node.cases or ():
        refs.extend(case.inputs)
        if case.apply:
            refs.append(case.apply)
        if case.if_given:
            refs.append(case.if_given)
    return refs


def producers(spec: Spec) -> dict[str, str]:
    """Tensor name -> the input or node that produces it (split outputs map to their node)."""
    names = {name: name for name in spec.sources()}
    for node in spec.nodes.values():
        names[node.name] = node.name
        for o in node.out or ():
            names[o] = node.name
    return names


def build(spec: Spec) -> tuple[nx.DiGraph, list[str]]:
    """The dataflow graph over all nodes (every condition at once) and its forward order.

    Reports unknown references and cycles. The order is topological, breaking ties
    by the order of the spec, so a spec written in forward order keeps its order.
    """
    graph = nx.DiGraph()
    index = {name: i for i, name in enumerate([*spec.sources(), *spec.nodes])}
    graph.add_nodes_from(index)
    prod = producers(spec)
    issues = Collector()
    for node in spec.nodes.values():
        for ref in node_refs(node):
            if ref.name not in prod:
                issues.add(error(ref.loc, "E300", f"node '{node.name}' uses unknown '{ref.name}'"
                                 + did_you_mean(ref.name, prod)))
            elif prod[ref.name] == node.name:
                issues.add(error(ref.loc, "E301", f"node '{node.name}' uses its own output"))
            else:
                graph.add_edge(prod[ref.name], node.name)
    for out in spec.outputs:
        if out.name not in prod:
            issues.add(error(out.loc, "E303", f"output '{out.name}' is not a node or input"
                             + did_you_mean(out.name, prod)))
    issues.raise_if_any()
    try:  # a topological sort fails exactly when there is a cycle; only then look for it
        order = list(nx.lexicographical_topological_sort(graph, key=lambda n: index[n]))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
        names = [a for a, _ in cycle] + [cycle[0][0]]
        first = spec.nodes[names[0]]
        raise error(first.loc, "E301", "cycle in the graph: " + " -> ".join(names)) from None
    return graph, [n for n in order if n in spec.nodes]


def check_reachable(spec: Spec, graph: nx.DiGraph, active: set[str], outputs: list[str],
                    config_text: str) -> None:
    """Every active node must feed some active output."""
    prod = producers(spec)
    targets = {prod[o] for o in outputs}
    sub = graph.subgraph(set(spec.sources()) | active)
    needed = set(targets)
    for t in targets:
        needed |= nx.ancestors(sub, t)
    issues = Collector()
    for name in active:
        if name not in needed:
            node = spec.nodes[name]
            issues.add(error(node.loc, "E302", f"node '{name}' does not reach any output"
                             + config_text, "remove it, or use its result"))
    issues.raise_if_any()
