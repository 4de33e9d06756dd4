"""EPSANet's pyramid split attention (reference, External-Attention-pytorch's PSA).

PSA follows the intent: the layers in nn.ModuleLists (the original's attribute names
convs and se_blocks, so the state_dict keys are those of the intended module) and no
in-place writes. PSAAsWritten behaves as the original does: its layers sit in plain Python
lists (invisible to state_dict, parameters(), .to() and .eval()) and forward writes the
conv outputs into a view of the input. tests/test_ea_differences.py shows the two apart.
"""
import torch
from torch import nn


def _se_gate(width, hidden):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(width, hidden, 1, bias=False),
                         nn.ReLU(inplace=True), nn.Conv2d(hidden, width, 1, bias=False),
                         nn.Sigmoid())


class PSA(nn.Module):
    """(B, channel, H, W) -> (B, channel, H, W): S channel groups, group i convolved with
    kernel 2i + 3 and weighted by a softmax, across the groups, of per-group SE gates."""

    def __init__(self, channel=512, reduction=4, S=4):
        super().__init__()
        self.S = S
        width, hidden = channel // S, channel // (S * reduction)
        self.convs = nn.ModuleList(
            nn.Conv2d(width, width, kernel_size=2 * i + 3, padding=i + 1) for i in range(S))
        self.se_blocks = nn.ModuleList(_se_gate(width, hidden) for _ in range(S))
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        groups = x.tensor_split(self.S, dim=1)
        feats = torch.stack([conv(g) for conv, g in zip(self.convs, groups, strict=True)], 1)
        gates = torch.stack([se(feats[:, i]) for i, se in enumerate(self.se_blocks)], 1)
        weighted = feats * self.softmax(gates)  # (B, S, C/S, H, W) * (B, S, C/S, 1, 1)
        return weighted.reshape(x.shape)


class PSAAsWritten(nn.Module):
    """The original as written: plain-list layers, conv outputs written into the input."""

    def __init__(self, channel=512, reduction=4, S=4):
        super().__init__()
        self.S = S
        width, hidden = channel // S, channel // (S * reduction)
        self.convs = [nn.Conv2d(width, width, kernel_size=2 * i + 3, padding=i + 1)
                      for i in range(S)]
        self.se_blocks = [_se_gate(width, hidden) for _ in range(S)]
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        b, c, h, w = x.shape
        spc = x.view(b, self.S, c // self.S, h, w)  # a view: the writes below change x
        for i, conv in enumerate(self.convs):
            spc[:, i] = conv(spc[:, i])
        gates = torch.stack([se(spc[:, i]) for i, se in enumerate(self.se_blocks)], 1)
        return (spc * self.softmax(gates.expand_as(spc))).view(b, -1, h, w)
