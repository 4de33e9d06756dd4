"""ACmix as External-Attention-pytorch has it (reference), with its state_dict keys (`rate1`,
`rate2`, `conv1`-`conv3`, `conv_p`, `fc`, `dep_conv` without a bias) and its shift-kernel
reset: an attention path over reflection-padded windows with a relative position term
from the map's coordinates, and a convolution path from the same projections."""
import torch
from torch import nn
from torch.nn import functional as F


def coordinates(h, w, like):
    """(1, 2, h, w): x then y, each from -1 to 1 (in `like`'s dtype and device)."""
    xs = torch.linspace(-1.0, 1.0, w, dtype=like.dtype, device=like.device)
    ys = torch.linspace(-1.0, 1.0, h, dtype=like.dtype, device=like.device)
    return torch.stack([xs.expand(h, w), ys[:, None].expand(h, w)])[None]


class ACmix(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_att=7, head=4, kernel_conv=3, stride=1,
                 dilation=1):
        super().__init__()
        self.out_planes, self.head, self.kernel_att = out_planes, head, kernel_att
        self.kernel_conv, self.stride = kernel_conv, stride
        self.head_dim = out_planes // head
        self.rate1 = nn.Parameter(torch.full((1,), 0.5))
        self.rate2 = nn.Parameter(torch.full((1,), 0.5))
        self.conv1 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv2 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv3 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv_p = nn.Conv2d(2, self.head_dim, 1)
        self.pad = (dilation * (kernel_att - 1) + 1) // 2
        self.fc = nn.Conv2d(3 * head, kernel_conv * kernel_conv, 1, bias=False)
        self.dep_conv = nn.Conv2d(kernel_conv * kernel_conv * self.head_dim, out_planes,
                                  kernel_conv, groups=self.head_dim, padding=1, stride=stride,
                                  bias=False)
        shifts = torch.eye(kernel_conv * kernel_conv).view(-1, kernel_conv, kernel_conv)
        with torch.no_grad():
            self.dep_conv.weight.copy_(shifts.expand_as(self.dep_conv.weight))

    def _windows(self, t):  # (n, d, h, w) -> (n, d, k*k, h_out, w_out)
        n, d, h, w = t.shape
        padded = F.pad(t, [self.pad] * 4, mode="reflect")
        cols = F.unfold(padded, self.kernel_att, stride=self.stride)
        return cols.view(n, d, self.kernel_att ** 2, h // self.stride, w // self.stride)

    def forward(self, x):
        q, k, v = self.conv1(x), self.conv2(x), self.conv3(x)
        b, _, h, w = q.shape
        s = self.stride
        pe = self.conv_p(coordinates(h, w, x))
        heads = (b * self.head, self.head_dim, h, w)
        q_att = q.reshape(heads) * self.head_dim ** -0.5
        logits = (q_att[:, :, ::s, ::s].unsqueeze(2) * (
            self._windows(k.reshape(heads)) + pe[:, :, ::s, ::s].unsqueeze(2)
            - self._windows(pe))).sum(1)
        att = logits.softmax(dim=1)
        out_att = (att.unsqueeze(1) * self._windows(v.reshape(heads))).sum(2)
        out_att = out_att.reshape(b, self.out_planes, h // s, w // s)
        parts = [t.reshape(b, self.head, self.head_dim, h * w) for t in (q, k, v)]
        f_all = self.fc(torch.cat(parts, 1))  # (b, k*k, head_dim, h*w)
        f_conv = f_all.permute(0, 2, 1, 3).reshape(b, -1, h, w)
        return self.rate1 * out_att + self.rate2 * self.dep_conv(f_conv)
