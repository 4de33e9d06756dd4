"""Dynamic convolutions (reference): CondConv and DynamicConv as the public collection
writes them, K expert kernels mixed per sample and run as one convolution grouped by
sample. Written against the originals' behaviour, including the output viewed at the
input's height and width (so only size-keeping convolutions run)."""
import torch
from torch import nn
from torch.nn import functional as F


def _init_convs(module):
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class _Sigmoid(nn.Module):
    """CondConv's routing: a sigmoid weight per expert."""

    def __init__(self, in_planes, K):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.net = nn.Conv2d(in_planes, K, kernel_size=1, bias=False)
        self.sigmoid = nn.Sigmoid()
        _init_convs(self)

    def forward(self, x):
        return self.sigmoid(self.net(self.avgpool(x)).view(x.shape[0], -1))


class _Softmax(nn.Module):
    """DynamicConv's routing: a softmax over the kernels at a temperature."""

    def __init__(self, in_planes, ratio, K, temperature):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.temperature = temperature
        hidden = in_planes // ratio
        self.net = nn.Sequential(nn.Conv2d(in_planes, hidden, kernel_size=1, bias=False),
                                 nn.ReLU(), nn.Conv2d(hidden, K, kernel_size=1, bias=False))
        _init_convs(self)

    def forward(self, x):
        logits = self.net(self.avgpool(x)).view(x.shape[0], -1)
        return F.softmax(logits / self.temperature, -1)


class _Mixture(nn.Module):
    """K expert kernels (and biases) mixed by the routing weights of each sample."""

    def __init__(self, in_planes, out_planes, kernel_size, stride, padding, dilation, groups,
                 bias, K, attention):
        super().__init__()
        self.in_planes, self.out_planes, self.kernel_size = in_planes, out_planes, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.K = K
        self.attention = attention
        self.weight = nn.Parameter(torch.randn(K, out_planes, in_planes // groups, kernel_size,
                                               kernel_size))
        self.bias = nn.Parameter(torch.randn(K, out_planes)) if bias else None
        for k in range(K):
            nn.init.kaiming_uniform_(self.weight[k])

    def forward(self, x):
        bs, _, h, w = x.shape
        att = self.attention(x)  # (bs, K)
        x = x.view(1, -1, h, w)
        kernels = torch.mm(att, self.weight.view(self.K, -1)).view(
            bs * self.out_planes, self.in_planes // self.groups, self.kernel_size,
            self.kernel_size)
        bias = None if self.bias is None else torch.mm(att, self.bias.view(self.K, -1)).view(-1)
        out = F.conv2d(x, weight=kernels, bias=bias, stride=self.stride, padding=self.padding,
                       groups=self.groups * bs, dilation=self.dilation)
        return out.view(bs, self.out_planes, h, w)


class CondConv(_Mixture):
    def __init__(self, in_planes, out_planes, kernel_size, stride, padding=0, dilation=1,
                 groups=1, bias=True, K=4):
        super().__init__(in_planes, out_planes, kernel_size, stride, padding, dilation, groups,
                         bias, K, _Sigmoid(in_planes, K))


class DynamicConv(_Mixture):
    def __init__(self, in_planes, out_planes, kernel_size, stride, padding=0, dilation=1,
                 groups=1, bias=True, K=4, temperature=30, ratio=4):
        assert in_planes > ratio
        super().__init__(in_planes, out_planes, kernel_size, stride, padding, dilation, groups,
                         bias, K, _Softmax(in_planes, ratio, K, temperature))
