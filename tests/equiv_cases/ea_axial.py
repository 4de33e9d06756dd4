"""AxialAttention (External-Attention-pytorch): attention along H and along W of a map,
summed; features last (the default) or first, heads of dim // heads or of dim_heads."""
from equiv_cases import rand

_AXIAL = ("axial_attention", "AxialAttention", "axial:AxialAttention")
COVERS = {"axial_self_attention", "axial_permute"}

CASES = [
    (*_AXIAL, (8,), {"heads": 2}, rand(2, 5, 3, 8)),  # [B, H, W, dim]
    (*_AXIAL, (6,), {"heads": 3, "dim_heads": 4, "dim_index": 1}, rand(2, 6, 4, 3)),
    (*_AXIAL, (4,), {"heads": 1, "dim_index": 3}, rand(3, 2, 5, 4)),
]
