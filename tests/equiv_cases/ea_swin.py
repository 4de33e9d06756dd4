"""Swin's window attention (MOAT's WindowAttention in External-Attention-pytorch): square
and non-square windows, one head and several, a scale given and the default, no qkv bias,
and Swin's shifted-window mask (ShiftedWindowMask, a sub-spec) over several images.
The generated module builds its index buffer with the file's helper; the reference builds
it the original's way; strict state_dict loading compares them."""
import torch

from equiv_cases import rand


def masked(windows, images, n, dim):
    """Tokens of `images` x `windows` windows and a shifted-window mask: 0 or -100."""
    def make():
        mask = torch.where(torch.rand(windows, n, n) < 0.3, -100.0, 0.0)
        return torch.randn(images * windows, n, dim), mask
    return make


_WINDOW = ("window_attention", "WindowAttention", "swin:WindowAttention")

CASES = [
    (*_WINDOW, (16, (7, 7), 2), {}, rand(3, 49, 16)),
    (*_WINDOW, (12, (3, 5), 3), {"qk_scale": 0.3}, rand(2, 15, 12)),
    (*_WINDOW, (8, (4, 2), 1), {"qkv_bias": False}, rand(4, 8, 8)),
    (*_WINDOW, (6, [1, 1], 2), {}, rand(2, 1, 6)),
    (*_WINDOW, (16, (4, 4), 2), {}, masked(4, 3, 16, 16)),
    (*_WINDOW, (12, (3, 2), 3), {"qk_scale": 0.25}, masked(6, 1, 6, 12)),
]
COVERS = ["shifted_window_mask"]
