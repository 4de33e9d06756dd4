"""CARAFE, the learned upsampler of YOLO-style necks: its defaults, scale 3, other kernel
sizes, a single row."""
from equiv_cases import rand

_CARAFE = ("carafe", "CARAFE", "carafe:CARAFE")

CASES = [
    (*_CARAFE, (16,), {}, rand(2, 16, 6, 5)),
    (*_CARAFE, (8, 1, 3, 16, 3), {}, rand(2, 8, 4, 4)),
    (*_CARAFE, (12,), {"k_enc": 5, "k_up": 3, "c_mid": 8}, rand(3, 12, 5, 7)),
    (*_CARAFE, (4,), {"scale": 1, "c_mid": 4}, rand(2, 4, 1, 6)),
]
