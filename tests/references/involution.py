"""Involution (reference), as the public collection writes it: a kernel generated per
output pixel by a 1x1 bottleneck of the (stride-pooled) input, applied to the unfolded
neighbourhood of every channel in its group."""
from torch import nn


class Involution(nn.Module):
    def __init__(self, kernel_size, in_channel=4, stride=1, group=1, ratio=4):
        super().__init__()
        assert in_channel % group == 0
        self.kernel_size, self.stride, self.group = kernel_size, stride, group
        self.conv1 = nn.Conv2d(in_channel, in_channel // ratio, kernel_size=1)
        self.bn = nn.BatchNorm2d(in_channel // ratio)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channel // ratio, group * kernel_size * kernel_size,
                               kernel_size=1)
        self.avgpool = nn.AvgPool2d(stride, stride) if stride > 1 else nn.Identity()
        self.unfold = nn.Unfold(kernel_size=kernel_size, stride=stride,
                                padding=kernel_size // 2)

    def forward(self, inputs):
        b, c, h, w = inputs.shape
        k2, ho, wo = self.kernel_size ** 2, h // self.stride, w // self.stride
        kernels = self.conv2(self.relu(self.bn(self.conv1(self.avgpool(inputs)))))
        kernels = kernels.reshape(b, self.group, k2, ho, wo).unsqueeze(2)
        patches = self.unfold(inputs).reshape(b, self.group, c // self.group, k2, ho, wo)
        return (patches * kernels).sum(dim=3).reshape(b, c, ho, wo)
