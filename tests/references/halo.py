"""HaloNet's attention as External-Attention-pytorch has it (reference), its relative
logits by the original's relative-to-absolute shift (the generated module picks them with
an index table instead: two ways to the same numbers). State_dict keys are the original's
(`rel_pos_emb.rel_height`, `rel_pos_emb.rel_width`, `to_q`, `to_kv`, `to_out`).

HaloAttentionPaddingMasked is the variant whose mask fills the logits of the zero padding
(what the original's comment intends); HaloAttention fills those of the keys inside the
image, as the original's code does."""
import torch
from torch import nn
from torch.nn import functional as F


def relative_logits(q, rel_k):
    """q (n, X, Y, d) against the embeddings of the 2 * S - 1 offsets along Y: (n, X, Y, S),
    key position j of the S at offset j - y from query position y."""
    n, rows, cols, _ = q.shape
    offsets = rel_k.shape[0]
    side = (offsets + 1) // 2
    logits = (q @ rel_k.t()).reshape(n * rows, cols, offsets)  # against every offset
    # one zero column, rows end to end, a zero tail: read back `offsets` wide, row y starts
    # y places further, which lines offset j - y up under key j
    flat = F.pad(F.pad(logits, (0, 1)).flatten(1), (0, offsets - cols))
    shifted = flat.view(n * rows, cols + 1, offsets)[:, :cols, offsets - side:]
    return shifted.reshape(n, rows, cols, side)


class RelPosEmb(nn.Module):
    def __init__(self, block_size, rel_size, dim_head):
        super().__init__()
        self.block_size = block_size
        self.rel_height = nn.Parameter(torch.randn(2 * rel_size - 1, dim_head) * dim_head ** -0.5)
        self.rel_width = nn.Parameter(torch.randn(2 * rel_size - 1, dim_head) * dim_head ** -0.5)

    def forward(self, q):
        n, _, d = q.shape
        grid = q.reshape(n, self.block_size, self.block_size, d)
        along_rows = relative_logits(grid, self.rel_width)  # (n, x, y, j)
        along_cols = relative_logits(grid.transpose(1, 2), self.rel_height)  # (n, y, x, i)
        total = along_cols.transpose(1, 2)[..., :, None] + along_rows[..., None, :]
        return total.reshape(n, self.block_size ** 2, -1)


class HaloAttention(nn.Module):
    mask_padding = False

    def __init__(self, dim, block_size, halo_size, dim_head=64, heads=8):
        super().__init__()
        assert halo_size > 0
        self.block, self.halo, self.heads = block_size, halo_size, heads
        self.scale = dim_head ** -0.5
        inner = dim_head * heads
        self.rel_pos_emb = RelPosEmb(block_size, block_size + 2 * halo_size, dim_head)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x):
        b, c, h, w = x.shape
        block, heads = self.block, self.heads
        window = block + 2 * self.halo
        rows, cols = h // block, w // block
        # queries: each block's pixels, row by row; keys and values: the block with its halo
        blocks = x.reshape(b, c, rows, block, cols, block).permute(0, 2, 4, 3, 5, 1)
        q_in = blocks.reshape(b * rows * cols, block * block, c)
        windows = F.unfold(x, window, stride=block, padding=self.halo)  # (b, c*win*win, L)
        kv_in = windows.reshape(b, c, window * window, -1).permute(0, 3, 2, 1)
        kv_in = kv_in.reshape(b * rows * cols, window * window, c)
        q = self.to_q(q_in)
        k, v = self.to_kv(kv_in).chunk(2, dim=-1)

        def split(t):  # (n, tokens, heads * d) -> (n * heads, tokens, d)
            n, tokens, _ = t.shape
            return t.reshape(n, tokens, heads, -1).transpose(1, 2).reshape(n * heads, tokens, -1)

        q, k, v = split(q) * self.scale, split(k), split(v)
        logits = q @ k.transpose(1, 2) + self.rel_pos_emb(q)
        inside = F.unfold(torch.ones(1, 1, h, w), window, stride=block, padding=self.halo)
        inside = inside[0].t().bool()  # (L, win*win): true for keys in the image
        filled = ~inside if self.mask_padding else inside
        filled = filled.repeat_interleave(heads, dim=0).repeat(b, 1)  # per (b, block, head)
        logits = logits.masked_fill(filled[:, None, :], torch.finfo(logits.dtype).min)
        out = logits.softmax(dim=-1) @ v  # (b * L * heads, block*block, d)
        out = out.reshape(b * rows * cols, heads, block * block, -1).transpose(1, 2)
        out = self.to_out(out.reshape(b * rows * cols, block * block, -1))
        out = out.reshape(b, rows, cols, block, block, c).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(b, c, h, w)


class HaloAttentionPaddingMasked(HaloAttention):
    mask_padding = True
