"""DySample (reference), the authors' upsampler as YOLO-style necks carry it: offsets from
a 1x1 convolution (optionally scaled by a learned sigmoid scope) added to fixed initial
offsets, the input read at the moved points by grid_sample, in groups of channels."""
import torch
from torch import nn
from torch.nn import functional as F


class DySample(nn.Module):
    def __init__(self, in_channels, scale=2, style="lp", groups=4, dyscope=False):
        super().__init__()
        assert style in ("lp", "pl") and in_channels % groups == 0
        self.scale, self.style, self.groups = scale, style, groups
        if style == "pl":
            assert in_channels % scale ** 2 == 0
            in_channels, out_channels = in_channels // scale ** 2, 2 * groups
        else:
            out_channels = 2 * groups * scale ** 2
        self.offset = nn.Conv2d(in_channels, out_channels, 1)
        nn.init.normal_(self.offset.weight, 0, 0.001)
        nn.init.constant_(self.offset.bias, 0)
        if dyscope:
            self.scope = nn.Conv2d(in_channels, out_channels, 1)
            nn.init.constant_(self.scope.weight, 0.0)
            nn.init.constant_(self.scope.bias, 0)
        self.register_buffer("init_pos", self._init_pos())

    def _init_pos(self):
        h = torch.arange((-self.scale + 1) / 2, (self.scale - 1) / 2 + 1) / self.scale
        grid = torch.stack(torch.meshgrid([h, h], indexing="ij")).transpose(1, 2)
        return grid.repeat(1, self.groups, 1).reshape(1, -1, 1, 1)

    def sample(self, x, offset):
        b, _, h, w = offset.shape
        offset = offset.view(b, 2, -1, h, w)
        xs, ys = torch.arange(w) + 0.5, torch.arange(h) + 0.5
        coords = torch.stack(torch.meshgrid([xs, ys], indexing="ij")).transpose(1, 2)
        coords = coords.unsqueeze(1).unsqueeze(0).type(x.dtype).to(x.device)
        normalizer = torch.tensor([w, h], dtype=x.dtype, device=x.device).view(1, 2, 1, 1, 1)
        # the original shuffles the 5-D points (b, 2, g * s * s, h, w) as they are, whose
        # backward fails on CPU (pixel_unshuffle of a permuted 5-D gradient): the same
        # shuffle of its 4-D view trains
        coords = 2 * (coords + offset) / normalizer - 1
        coords = F.pixel_shuffle(coords.flatten(1, 2), self.scale).view(
            b, 2, self.groups, self.scale * h, self.scale * w)
        coords = coords.permute(0, 2, 3, 4, 1).contiguous().flatten(0, 1)
        return F.grid_sample(x.reshape(b * self.groups, -1, h, w), coords, mode="bilinear",
                             align_corners=False, padding_mode="border").view(
                                 b, -1, self.scale * h, self.scale * w)

    def forward(self, x):
        source = F.pixel_shuffle(x, self.scale) if self.style == "pl" else x
        offset = self.offset(source)
        if hasattr(self, "scope"):
            offset = offset * self.scope(source).sigmoid()
        if self.style == "pl":
            offset = F.pixel_unshuffle(offset, self.scale)
        offset = offset * (0.5 if hasattr(self, "scope") else 0.25) + self.init_pos
        return self.sample(x, offset)
