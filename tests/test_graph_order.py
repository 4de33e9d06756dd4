"""graph.py's forward order and cycle search, held to networkx (the library they replace:
`lexicographical_topological_sort` keyed by the spec's order, `find_cycle`, `ancestors`) on
random graphs, and the messages they make in a spec."""

from __future__ import annotations

import random

import attngen
import networkx as nx
import pytest
from attngen.errors import SpecError
from attngen.graph import computed_from, find_cycle, forward


def _random_graph(rng: random.Random, cyclic: bool) -> tuple[dict[str, dict[str, None]],
                                                               nx.DiGraph]:
    names = [f"n{i}" for i in range(rng.randint(1, 14))]
    rng.shuffle(names)
    graph: dict[str, dict[str, None]] = {name: {} for name in names}
    reference = nx.DiGraph()
    reference.add_nodes_from(names)
    for _ in range(rng.randint(0, 3 * len(names))):
        a, b = rng.sample(names, 2) if len(names) > 1 else (names[0], names[0])
        if a == b or (not cyclic and names.index(a) > names.index(b)):
            continue
        graph[a][b] = None
        reference.add_edge(a, b)
    return graph, reference


@pytest.mark.parametrize("seed", range(400))
def test_order_and_cycle_are_networkxs(seed):
    rng = random.Random(seed)
    graph, reference = _random_graph(rng, cyclic=seed % 2 == 1)
    index = {name: i for i, name in enumerate(rng.sample(list(graph), len(graph)))}
    try:
        expected = list(nx.lexicographical_topological_sort(reference, key=index.__getitem__))
    except nx.NetworkXUnfeasible:
        assert forward(graph, index) is None
        cycle = nx.find_cycle(reference)
        assert find_cycle(graph) == [a for a, _ in cycle] + [cycle[0][0]]
    else:
        assert forward(graph, index) == expected


def test_a_cycle_in_a_spec_is_named_along_its_edges(tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text("name: C\ninputs:\n  x: [N, K]\ngraph:\n"
                    "  a: {op: add, in: [x, c]}\n  b: {op: ReLU, in: a}\n"
                    "  c: {op: ReLU, in: b}\n  d: {op: ReLU, in: c}\noutputs: d\n")
    with pytest.raises(SpecError) as caught:
        attngen.load(spec).check()
    [d] = caught.value.diagnostics
    assert (d.code, d.loc.line, d.message) == ("E301", 5, "cycle in the graph: a -> b -> c -> a")


@pytest.mark.parametrize("seed", range(200))
def test_what_an_output_is_computed_from_is_networkxs(seed):
    rng = random.Random(seed)
    graph, reference = _random_graph(rng, cyclic=False)
    kept = set(rng.sample(list(graph), rng.randint(1, len(graph))))
    targets = set(rng.sample(sorted(kept), rng.randint(1, len(kept))))
    sub = reference.subgraph(kept)
    expected = set(targets)
    for target in targets:
        expected |= nx.ancestors(sub, target)
    assert computed_from(graph, kept, targets) == expected
