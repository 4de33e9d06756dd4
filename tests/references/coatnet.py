"""CoAtNet and its MBConv block as External-Attention-pytorch writes them (reference), with
the original's state_dict keys: MBConvBlock's `_expand_conv`, `_bn0`, `_depthwise_conv`,
`_bn1`, `_se_reduce`, `_se_expand`, `_project_conv`, `_bn2` (EfficientNet-PyTorch's names),
CoAtNet's `s0` ... `s4` and `mlp0` ... `mlp4`."""
import math

import torch
from torch import nn
from torch.nn import functional as F

from references.attention import ScaledDotProductAttention


def same_padding(size, kernel, stride):
    """TensorFlow's static 'same' padding of one side of `size`: (before, after)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class MBConvBlock(nn.Module):
    def __init__(self, ksize, input_filters, output_filters, expand_ratio=1, stride=1,
                 image_size=224):
        super().__init__()
        self.expand_ratio, self.stride = expand_ratio, stride
        self.keeps_shape = stride == 1 and input_filters == output_filters
        oup = input_filters * expand_ratio
        if expand_ratio != 1:
            self._expand_conv = nn.Conv2d(input_filters, oup, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(oup, eps=0.01)
        self._depthwise_conv = nn.Conv2d(oup, oup, ksize, stride=stride, groups=oup, bias=False)
        before, after = same_padding(image_size, ksize, stride)
        self.padding = (before, after, before, after)
        self._bn1 = nn.BatchNorm2d(oup, eps=0.01)
        squeezed = max(1, int(input_filters * 0.25))
        self._se_reduce = nn.Conv2d(oup, squeezed, 1)
        self._se_expand = nn.Conv2d(squeezed, oup, 1)
        self._project_conv = nn.Conv2d(oup, output_filters, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(output_filters, eps=0.01)

    def forward(self, inputs):
        x = inputs
        if self.expand_ratio != 1:
            x = F.silu(self._bn0(self._expand_conv(x)))
        x = F.silu(self._bn1(self._depthwise_conv(F.pad(x, self.padding))))
        squeezed = F.adaptive_avg_pool2d(x, 1)
        squeezed = self._se_expand(F.silu(self._se_reduce(squeezed)))
        x = self._bn2(self._project_conv(torch.sigmoid(squeezed) * x))
        return x + inputs if self.keeps_shape else x


def _mlp(layer, c_in, c_out):
    return nn.Sequential(layer(c_in, c_out), nn.ReLU(), layer(c_out, c_out))


class CoAtNet(nn.Module):
    def __init__(self, in_ch, image_size, out_chs=[64, 96, 192, 384, 768]):  # noqa: B006
        super().__init__()
        self.out_chs = out_chs
        conv1 = lambda a, b: nn.Conv2d(a, b, 1)  # noqa: E731
        self.maxpool2d = nn.MaxPool2d(2, 2)
        self.maxpool1d = nn.MaxPool1d(2, 2)
        self.s0 = nn.Sequential(nn.Conv2d(in_ch, in_ch, 3, padding=1), nn.ReLU(),
                                nn.Conv2d(in_ch, in_ch, 3, padding=1))
        self.mlp0 = _mlp(conv1, in_ch, out_chs[0])
        self.s1 = MBConvBlock(3, out_chs[0], out_chs[0], image_size=image_size // 2)
        self.mlp1 = _mlp(conv1, out_chs[0], out_chs[1])
        self.s2 = MBConvBlock(3, out_chs[1], out_chs[1], image_size=image_size // 4)
        self.mlp2 = _mlp(conv1, out_chs[1], out_chs[2])
        self.s3 = ScaledDotProductAttention(out_chs[2], out_chs[2] // 8, out_chs[2] // 8, 8)
        self.mlp3 = _mlp(nn.Linear, out_chs[2], out_chs[3])
        self.s4 = ScaledDotProductAttention(out_chs[3], out_chs[3] // 8, out_chs[3] // 8, 8)
        self.mlp4 = _mlp(nn.Linear, out_chs[3], out_chs[4])

    def forward(self, x):
        b = x.shape[0]
        y = self.maxpool2d(self.mlp0(self.s0(x)))
        y = self.maxpool2d(self.mlp1(self.s1(y)))
        y = self.maxpool2d(self.mlp2(self.s2(y)))
        y = y.flatten(2).transpose(1, 2)  # tokens (B, N, C)
        y = self.mlp3(self.s3(y, y, y))
        y = self.maxpool1d(y.transpose(1, 2)).transpose(1, 2)
        y = self.mlp4(self.s4(y, y, y))
        y = self.maxpool1d(y.transpose(1, 2))
        side = int(math.sqrt(y.shape[-1]))
        return y.reshape(b, self.out_chs[4], side, side)
