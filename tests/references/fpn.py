"""RetinaNet-style feature pyramid (P3..P7) (reference)."""
from torch import nn


class PyramidFeatures(nn.Module):
    """forward([C3, C4, C5]) -> [P3, P4, P5, P6, P7], each with feature_size channels.

    C4 must be exactly 2x the spatial size of C5, and C3 2x that of C4.
    """

    def __init__(self, C3_size, C4_size, C5_size, feature_size=256):
        super().__init__()
        f = feature_size
        # top level: lateral 1x1, upsample for the level below, 3x3 smoothing
        self.P5_1 = nn.Conv2d(C5_size, f, kernel_size=1, stride=1, padding=0)
        self.P5_upsampled = nn.Upsample(scale_factor=2, mode="nearest")
        self.P5_2 = nn.Conv2d(f, f, kernel_size=3, stride=1, padding=1)
        # middle level
        self.P4_1 = nn.Conv2d(C4_size, f, kernel_size=1, stride=1, padding=0)
        self.P4_upsampled = nn.Upsample(scale_factor=2, mode="nearest")
        self.P4_2 = nn.Conv2d(f, f, kernel_size=3, stride=1, padding=1)
        # bottom level
        self.P3_1 = nn.Conv2d(C3_size, f, kernel_size=1, stride=1, padding=0)
        self.P3_2 = nn.Conv2d(f, f, kernel_size=3, stride=1, padding=1)
        # extra coarse levels computed from C5
        self.P6 = nn.Conv2d(C5_size, f, kernel_size=3, stride=2, padding=1)
        self.P7_1 = nn.ReLU()
        self.P7_2 = nn.Conv2d(f, f, kernel_size=3, stride=2, padding=1)

    def forward(self, inputs):
        C3, C4, C5 = inputs

        lat5 = self.P5_1(C5)
        up5 = self.P5_upsampled(lat5)
        P5_x = self.P5_2(lat5)

        lat4 = up5 + self.P4_1(C4)
        up4 = self.P4_upsampled(lat4)
        P4_x = self.P4_2(lat4)

        P3_x = self.P3_2(self.P3_1(C3) + up4)

        P6_x = self.P6(C5)
        P7_x = self.P7_2(self.P7_1(P6_x))
        return [P3_x, P4_x, P5_x, P6_x, P7_x]
