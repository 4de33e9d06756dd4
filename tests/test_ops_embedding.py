"""Embedding (ops/embedding.py) against torch's nn.Embedding: the same state_dict, outputs
and parameter count, padding_idx's row kept at zero; ids of another dtype and a padding
row outside the table are located errors."""

from __future__ import annotations

import attngen
import pytest
from attngen.cli import main

torch = pytest.importorskip("torch")

SPEC = """\
name: Lookup
params:
  vocab: {type: int, example: 50}
  dim: 8
inputs:
  ids: {shape: [B, N], dtype: DTYPE}
graph:
  embedding: {op: Embedding, args: [vocab, dim]ARGS, in: ids, shape: [B, N, dim]}
outputs: embedding
"""


def _spec(tmp_path, args: str = "", dtype: str = "long") -> str:
    path = tmp_path / "lookup.yaml"
    path.write_text(SPEC.replace("ARGS", args).replace("DTYPE", dtype))
    return str(path)


@pytest.mark.parametrize("args, kwargs", [
    ("", {}),
    (", padding_idx: 0", {"padding_idx": 0}),
    (", padding_idx: -1, max_norm: 1.0", {"padding_idx": -1, "max_norm": 1.0}),
])
def test_embedding_is_torchs(tmp_path, args, kwargs):
    loaded = attngen.load(_spec(tmp_path, args))
    torch.manual_seed(0)
    module = loaded.compile()(50)
    torch.manual_seed(0)
    reference = torch.nn.Embedding(50, 8, **kwargs)
    assert [k for k in module.state_dict()] == ["embedding.weight"]
    module.embedding.load_state_dict(reference.state_dict(), strict=True)
    ids = torch.randint(0, 50, (3, 7))
    torch.testing.assert_close(module(ids), reference(ids))
    assert loaded.param_count(vocab=50) == sum(p.numel() for p in reference.parameters())
    if "padding_idx" in kwargs:
        assert module.embedding.weight[kwargs["padding_idx"]].abs().sum() == 0


@pytest.mark.parametrize("args, dtype, message", [
    ("", "float", "Embedding takes int tensors as input 0"),
    (", padding_idx: 60", "long", "E402]: node 'embedding': num_embeddings (a row for "
                                  "padding_idx 60) needs vocab >= 61, which the defaults break"),
    (", padding_idx: -51", "long", "num_embeddings (a row for padding_idx -51, from the end) "
                                   "needs vocab >= 51"),
])
def test_wrong_ids_are_located_errors(tmp_path, capsys, args, dtype, message):
    assert main(["check", _spec(tmp_path, args, dtype)]) == 1
    err = capsys.readouterr().err
    assert "lookup.yaml:8:" in err and message in err, err


@pytest.mark.parametrize("pad, params, message", [
    ("vocab", "", "E403]: node 'embedding': num_embeddings (a row for padding_idx vocab) "
                  "needs vocab >= 1 + vocab, which fails"),
    ("pad", "  pad: 50\n",
     "E402]: node 'embedding': num_embeddings (a row for padding_idx pad) needs vocab >= 1 + "
     "pad, which the defaults break"),
])
def test_a_padding_row_of_params_is_checked_too(tmp_path, capsys, pad, params, message):
    """A padding_idx over params (symbols at check time) is judged as a number is."""
    path = tmp_path / "lookup.yaml"
    path.write_text(SPEC.replace("ARGS", f", padding_idx: {pad}").replace("DTYPE", "long")
                    .replace("  dim: 8\n", "  dim: 8\n" + params))
    assert main(["check", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_a_padding_row_outside_a_literal_table(tmp_path, capsys):
    path = tmp_path / "lookup.yaml"
    path.write_text(SPEC.replace("ARGS", ", padding_idx: 9").replace("DTYPE", "long")
                    .replace("args: [vocab, dim]", "args: [9, dim]"))
    assert main(["check", str(path)]) == 1
    assert "padding_idx 9 is outside the table of 9 rows (from -9 to 8, as torch takes it)" \
        in capsys.readouterr().err
