"""MTGNN dilated-inception temporal convolution with tanh/sigmoid gating (reference)."""
import torch
from torch import nn


class DilatedInception(nn.Module):
    """Four dilated (1, k) convs, k in (2, 3, 6, 7), cropped to the shortest
    output, concatenated on channels, then a 2-layer MLP over the time axis.

    input (B, cin, N, seq_len) -> (B, 4 * (cout // 4), N, seq_len).
    The time length of the input must equal seq_len.
    """

    def __init__(self, cin, cout, dilation_factor, seq_len):
        super().__init__()
        self.tconv = nn.ModuleList()
        self.padding = 0
        self.seq_len = seq_len
        self.kernel_set = [2, 3, 6, 7]
        branch_out = int(cout / len(self.kernel_set))
        for kern in self.kernel_set:
            self.tconv.append(nn.Conv2d(cin, branch_out, (1, kern), dilation=(1, dilation_factor)))
        # time length left by the widest kernel (padding is 0)
        shortest = seq_len - dilation_factor * (self.kernel_set[-1] - 1) + self.padding * 2
        self.out = nn.Sequential(
            nn.Linear(shortest, cin),
            nn.ReLU(),
            nn.Linear(cin, self.seq_len),
        )

    def forward(self, input):
        branches = [conv(input) for conv in self.tconv]
        t_last = branches[-1].size(3)
        branches = [b[..., -t_last:] for b in branches]
        x = torch.cat(branches, dim=1)
        return self.out(x)  # Linear layers act on the last (time) axis


class TemporalConv(nn.Module):
    """Gated temporal conv: tanh(filter branch) * sigmoid(gate branch)."""

    def __init__(self, cin, cout, dilation_factor, seq_len):
        super().__init__()
        self.filter_convs = DilatedInception(cin=cin, cout=cout,
                                             dilation_factor=dilation_factor, seq_len=seq_len)
        self.gated_convs = DilatedInception(cin=cin, cout=cout,
                                            dilation_factor=dilation_factor, seq_len=seq_len)

    def forward(self, X):
        filt = torch.tanh(self.filter_convs(X))
        gate = torch.sigmoid(self.gated_convs(X))
        return filt * gate


# lower-case names used in the notes
dilated_inception = DilatedInception
temporal_conv = TemporalConv
