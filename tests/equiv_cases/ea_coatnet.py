"""CoAtNet (External-Attention-pytorch) and its MBConvBlock (EfficientNet-PyTorch's keys,
`_depthwise_conv` and the rest): blocks with and without expansion, stride 1 and 2 (the
padding TensorFlow's for image_size, odd and even), shape kept or not; the network at
small widths on 32 x 32 and 48 x 48 images."""
from equiv_cases import rand

_MB = ("mbconv", "MBConvBlock", "coatnet:MBConvBlock")
_NET = ("coatnet", "CoAtNet", "coatnet:CoAtNet")

CASES = [
    (*_MB, (3, 8, 8), {}, rand(2, 8, 7, 9)),  # stride 1, no expansion: the residual
    (*_MB, (5, 8, 12), {"expand_ratio": 4}, rand(2, 8, 6, 5)),
    (*_MB, (3, 8, 8), {"stride": 2, "image_size": 9}, rand(2, 8, 9, 9)),  # pads 1, 1
    (*_MB, (3, 6, 10), {"expand_ratio": 2, "stride": 2, "image_size": 8}, rand(1, 6, 8, 10)),
    (*_NET, (3, 32), {"out_chs": [8, 12, 16, 24, 32]}, rand(2, 3, 32, 32)),
    (*_NET, (2, 48), {"out_chs": [8, 8, 16, 16, 24]}, rand(1, 2, 48, 48)),
]
