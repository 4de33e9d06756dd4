"""Swin's window attention (MOAT's WindowAttention in External-Attention-pytorch): square
and non-square windows, one head and several, a scale given and the default, no qkv bias.
The generated module builds its index buffer with the file's helper; the reference builds
it the original's way; strict state_dict loading compares them."""
from equiv_cases import rand

_WINDOW = ("window_attention", "WindowAttention", "swin:WindowAttention")

CASES = [
    (*_WINDOW, (16, (7, 7), 2), {}, rand(3, 49, 16)),
    (*_WINDOW, (12, (3, 5), 3), {"qk_scale": 0.3}, rand(2, 15, 12)),
    (*_WINDOW, (8, (4, 2), 1), {"qkv_bias": False}, rand(4, 8, 8)),
    (*_WINDOW, (6, [1, 1], 2), {}, rand(2, 1, 6)),
]
