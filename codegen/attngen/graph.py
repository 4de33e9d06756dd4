"""Graph structure: references, cycles, reachability and forward order.

The forward order and reachability are a few lines over plain dicts; networkx, whose
import alone is about 0.15 s of every `attngen build`, is loaded only to name a cycle.
"""

from __future__ import annotations

import heapq

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


class DiGraph:
    """Successors and predecessors of each node, edges in insertion order (like networkx)."""

    def __init__(self, nodes):
        self.succ = {n: {} for n in nodes}
        self.pred = {n: {} for n in nodes}
        self.edges: dict[tuple[str, str], None] = {}

    def add_edge(self, a: str, b: str) -> None:
        self.succ[a][b] = self.pred[b][a] = None
        self.edges[(a, b)] = None

    def ancestors(self, target: str, within: set[str]) -> set[str]:
        """Nodes of `within` with a path to target through nodes of `within`."""
        seen, todo = set(), [target]
        while todo:
            for p in self.pred[todo.pop()]:
                if p in within and p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen


def _forward_order(graph: DiGraph, index: dict[str, int]) -> list[str] | None:
    """Topological order breaking ties by `index`; None when there is a cycle."""
    indegree = {n: len(p) for n, p in graph.pred.items()}
    ready = [(index[n], n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for m in graph.succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heapq.heappush(ready, (index[m], m))
    return order if len(order) == len(indegree) else None


def build(spec: Spec) -> tuple[DiGraph, list[str]]:
    """The dataflow graph over all nodes (every condition at once) and its forward order.

    Reports unknown references and cycles. The order is topological, breaking ties
    by the order of the spec, so a spec written in forward order keeps its order.
    """
    index = {name: i for i, name in enumerate([*spec.sources(), *spec.nodes])}
    graph = DiGraph(index)
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
    order = _forward_order(graph, index)
    if order is None:  # a topological sort fails exactly when there is a cycle; name it
        import networkx as nx

        full = nx.DiGraph()
        full.add_nodes_from(index)
        full.add_edges_from(graph.edges)
        cycle = nx.find_cycle(full)
        names = [a for a, _ in cycle] + [cycle[0][0]]
        first = spec.nodes[names[0]]
        raise error(first.loc, "E301", "cycle in the graph: " + " -> ".join(names))
    return graph, [n for n in order if n in spec.nodes]


def check_reachable(spec: Spec, graph: DiGraph, active: set[str], outputs: list[str],
                    config_text: str) -> None:
    """Every active node must feed some active output."""
    prod = producers(spec)
    targets = {prod[o] for o in outputs}
    within = set(spec.sources()) | active
    needed = set(targets)
    for t in targets:
        if t in within:
            needed |= graph.ancestors(t, within)
    issues = Collector()
    for name in active:
        if name not in needed:
            node = spec.nodes[name]
            issues.add(error(node.loc, "E302", f"node '{name}' does not reach any output"
                             + config_text, "remove it, or use its result"))
    issues.raise_if_any()
