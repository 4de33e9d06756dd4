"""BAM, the bottleneck attention module (reference, External-Attention-pytorch's BAMBlock).

BAMBlock follows the paper's intent: the dilated 3x3 convs pad by dia_val, so the map keeps
its size. BAMBlockPaddedByOne behaves as the original does (padding 1 whatever dia_val):
tests/test_ea_differences.py shows where the two differ.
"""
from collections import OrderedDict

from torch import nn


class ChannelAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W) logits, one per channel, constant over the map."""

    def __init__(self, channel, reduction=16, num_layers=3):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        widths = [channel] + [channel // reduction] * num_layers
        layers = [("flatten", nn.Flatten())]
        for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers += [(f"fc{i}", nn.Linear(w_in, w_out)), (f"bn{i}", nn.BatchNorm1d(w_out)),
                       (f"relu{i}", nn.ReLU())]
        layers.append(("last_fc", nn.Linear(widths[-1], channel)))
        self.ca = nn.Sequential(OrderedDict(layers))

    def forward(self, x):
        logits = self.ca(self.avgpool(x))  # (B, C)
        return logits[:, :, None, None].expand_as(x)


class SpatialAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W) logits, one per position, constant over the channels.

    `padding` of the dilated convs: None for dia_val (the intent), 1 for the original.
    """

    def __init__(self, channel, reduction=16, num_layers=3, dia_val=2, padding=None):
        super().__init__()
        hidden = channel // reduction
        pad = dia_val if padding is None else padding
        layers = [("conv_reduce1", nn.Conv2d(channel, hidden, kernel_size=1)),
                  ("bn_reduce1", nn.BatchNorm2d(hidden)), ("relu_reduce1", nn.ReLU())]
        for i in range(num_layers):
            layers += [(f"conv_{i}", nn.Conv2d(hidden, hidden, 3, padding=pad,
                                               dilation=dia_val)),
                       (f"bn_{i}", nn.BatchNorm2d(hidden)), (f"relu_{i}", nn.ReLU())]
        layers.append(("last_conv", nn.Conv2d(hidden, 1, kernel_size=1)))
        self.sa = nn.Sequential(OrderedDict(layers))

    def forward(self, x):
        return self.sa(x).expand_as(x)


class BAMBlock(nn.Module):
    """(B, C, H, W) -> (1 + sigmoid(channel logits + spatial logits)) * x."""

    _padding = None

    def __init__(self, channel=512, reduction=16, dia_val=2):
        super().__init__()
        self.ca = ChannelAttention(channel, reduction=reduction)
        self.sa = SpatialAttention(channel, reduction=reduction, dia_val=dia_val,
                                   padding=self._padding)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        attention = self.sigmoid(self.sa(x) + self.ca(x))
        return x + attention * x


class BAMBlockPaddedByOne(BAMBlock):
    """The original as written: the dilated convs pad by 1 for every dia_val."""

    _padding = 1
