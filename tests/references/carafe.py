"""CARAFE as YOLO-style necks carry it (reference): YOLOv5's Conv blocks, a pixel shuffle
of the predicted kernels, nearest upsampling and a dilated unfold."""
import torch
from torch import nn

from references.asff import Conv


class CARAFE(nn.Module):
    """Predict a k_up x k_up kernel per output pixel, softmax it, and reassemble the
    upsampled input's neighbourhoods with it."""

    def __init__(self, c, k_enc=3, k_up=5, c_mid=64, scale=2):
        super().__init__()
        self.scale = scale
        self.comp = Conv(c, c_mid)
        self.enc = Conv(c_mid, (scale * k_up) ** 2, k=k_enc, act=False)
        self.pix_shf = nn.PixelShuffle(scale)
        self.upsmp = nn.Upsample(scale_factor=scale, mode="nearest")
        self.unfold = nn.Unfold(kernel_size=k_up, dilation=scale, padding=k_up // 2 * scale)

    def forward(self, x):
        b, c, h, w = x.shape
        out_h, out_w = h * self.scale, w * self.scale
        kernels = torch.softmax(self.pix_shf(self.enc(self.comp(x))), dim=1)
        patches = self.unfold(self.upsmp(x)).view(b, c, -1, out_h, out_w)
        return torch.einsum("bkhw,bckhw->bchw", kernels, patches)
