"""DANet position / channel attention and their dual fusion (reference)."""
from torch import nn

from .attention import ScaledDotProductAttention, SimplifiedScaledDotProductAttention


class PositionAttentionModule(nn.Module):
    """Conv, then self-attention over the H*W positions: (B, C, H, W) -> (B, H*W, C)."""

    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__()
        self.cnn = nn.Conv2d(d_model, d_model, kernel_size=kernel_size,
                             padding=(kernel_size - 1) // 2)
        self.pa = ScaledDotProductAttention(d_model, d_k=d_model, d_v=d_model, h=1)

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        y = self.cnn(x).view(b, c, -1).permute(0, 2, 1)  # (B, N, C)
        return self.pa(y, y, y)


class ChannelAttentionModule(nn.Module):
    """Conv, then projection-free attention over channels: (B, C, H, W) -> (B, C, H*W).

    The spatial size at run time must satisfy H_in * W_in == H * W.
    """

    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__()
        self.cnn = nn.Conv2d(d_model, d_model, kernel_size=kernel_size,
                             padding=(kernel_size - 1) // 2)
        self.pa = SimplifiedScaledDotProductAttention(H * W, h=1)

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        y = self.cnn(x).view(b, c, -1)  # (B, C, N)
        return self.pa(y, y, y)


class DAModule(nn.Module):
    """Dual attention: x + 0.5 * position branch, plus x + 0.2 * channel branch.

    Unlike the notes (which hard-code 512, 3, 7, 7), both branches are built
    from this module's own arguments.
    """

    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__()
        self.position_attention_module = PositionAttentionModule(
            d_model=d_model, kernel_size=kernel_size, H=H, W=W)
        self.channel_attention_module = ChannelAttentionModule(
            d_model=d_model, kernel_size=kernel_size, H=H, W=W)

    def forward(self, x):
        b, c, h, w = x.shape
        p_out = self.position_attention_module(x).permute(0, 2, 1).reshape(b, c, h, w)
        c_out = self.channel_attention_module(x).view(b, c, h, w)
        p_out = x + 0.5 * p_out
        c_out = x + 0.2 * c_out
        return p_out + c_out
