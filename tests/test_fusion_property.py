"""The fusion pass as a property: written-out attention at a drawn rank (2 to 5), with a
drawn scale and mask (bool or float, required or optional, any shape that broadcasts to
the scores), in the graph or in a loop body (q the value its copies carry), computes the
same with the fused call as in its written form, at drawn run time sizes (ones
included); and it fuses exactly where a mask's shape lets the call give it four dims
(ops/attention.mask_fix's rule, written again here from the shapes).
"""

from __future__ import annotations

import attngen
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

FUSED = "F.scaled_dot_product_attention("
BATCH = ["B", "G", "K"]  # batch dims, leading ones first


@st.composite
def attention_specs(draw):
    """(spec document, batch dims, mask dims or None, mask kind, whether it should fuse)."""
    rank = draw(st.sampled_from([2, 3, 4, 5, 5, 5]))  # 5: the flattening, most to get wrong
    batch = BATCH[:rank - 2]
    scores = [*batch, "L", "S"]
    graph = {"kt": {"op": "transpose", "in": "k", "dim0": rank - 2, "dim1": rank - 1},
             "scores": {"op": "matmul", "in": ["q", "kt"]}}
    last = "scores"
    scale = draw(st.sampled_from([None, "mul", "div"]))
    if scale is not None:
        other = "d ** -0.5" if scale == "mul" else 3
        graph["scaled"] = {"op": scale, "in": last, "other": other}
        last = "scaled"
    inputs = {"q": [*batch, "L", "d"], "k": [*batch, "S", "d"], "v": [*batch, "S", "d"]}
    kind = draw(st.sampled_from([None, "fill", "add"]))
    mask = None
    if kind is not None:
        m_rank = draw(st.sampled_from([rank, rank, rank - 1, *range(1, rank)]))  # mostly full
        mask = [draw(st.sampled_from([dim, dim, 1])) for dim in scores[rank - m_rank:]]
        optional = draw(st.booleans())
        inputs["m"] = {"shape": mask, "optional": optional,
                       "dtype": "bool" if kind == "fill" else "float"}
        node = ({"op": "masked_fill", "in": [last, "m"], "value": "-inf"} if kind == "fill"
                else {"op": "add", "in": [last, "m"]})
        if optional:
            node["if_given"] = "m"
        graph["masked"] = node
        last = "masked"
    graph["probs"] = {"op": "softmax", "in": last, "dim": -1}
    graph["drop"] = {"op": "Dropout", "args": ["p"], "in": "probs"}
    graph["out"] = {"op": "matmul", "in": ["drop", "v"]}
    outputs = "out"
    if draw(st.booleans()):  # in a loop body: q the value each copy carries, out the next
        graph = {"layers": {"each": "range(2)", "in": "q", "shape": [*batch, "L", "d"],
                            "body": graph}}
        inputs["v"] = [*batch, "S", "d"]
        outputs = "layers"
    doc = {"name": "A", "params": {"d": 4, "p": {"default": 0.0}}, "inputs": inputs,
           "graph": graph, "outputs": outputs}
    return doc, batch, mask, kind, _fuses(rank, batch, mask)


def _fuses(rank: int, batch: list[str], mask: list | None) -> bool:
    """Over four dims the call flattens the first rank - 3; a mask reaching them fuses
    where its dims there are all 1 (more than one, or one), or are q's (all of them)."""
    if mask is None or rank <= 4 or len(mask) <= 3:
        return True
    span = mask[:len(mask) - 3]
    if all(d == 1 for d in span):
        return True
    return len(mask) == rank and span == batch[:len(span)]


def _holds(folder, doc, mask, kind, fuses, sizes) -> None:
    path = folder / "a.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    loaded = attngen.load(str(path))
    source = loaded.source()
    assert (FUSED in source) == fuses, source
    fused = loaded.compile()().double().eval()
    plain = loaded.compile(fuse=False)().double().eval()
    plain.load_state_dict(fused.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(0)
    dims = {**dict(zip(BATCH, sizes, strict=False)), "L": 3, "S": 5, "d": 4, 1: 1}
    q, k, v = (torch.randn(*(dims[n] for n in doc["inputs"][x]), generator=gen,
                           dtype=torch.float64) for x in ("q", "k", "v"))
    args = [q, k, v]
    if mask is not None:
        shape = [dims[n] for n in mask]
        if kind == "fill":
            m = torch.rand(*shape, generator=gen) < 0.4
            m[..., 0] = False  # every query keeps a key
        else:
            m = torch.randn(*shape, generator=gen, dtype=torch.float64)
        args.append(m)
    torch.testing.assert_close(fused(*args), plain(*args))
    if mask is not None and doc["inputs"]["m"]["optional"]:
        torch.testing.assert_close(fused(q, k, v), plain(q, k, v))


def _run(tmp_path, profile) -> int:
    fused = 0

    @settings(profile, deadline=None)
    @given(drawn=attention_specs(), sizes=st.lists(st.integers(1, 3), min_size=3, max_size=3))
    def case(drawn, sizes):
        nonlocal fused
        doc, _, mask, kind, fuses = drawn
        _holds(tmp_path, doc, mask, kind, fuses, sizes)
        fused += fuses

    case()
    return fused


def test_fused_attention_equals_the_written_form(tmp_path):
    assert _run(tmp_path, settings.default) >= settings.default.max_examples // 4


@pytest.mark.slow
def test_fused_attention_equals_the_written_form_long(tmp_path):
    assert _run(tmp_path, settings.get_profile("slow")) >= 100
