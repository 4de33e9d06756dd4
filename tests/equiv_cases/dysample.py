"""DySample, learned point-sampling upsampling: both styles (offsets from the input or
from it pixel-shuffled), with and without the learned scope, scale 3, one group, a single
row."""
from equiv_cases import rand

_DYS = ("dysample", "DySample", "dysample:DySample")

CASES = [
    (*_DYS, (16,), {}, rand(2, 16, 5, 6)),
    (*_DYS, (16,), {"dyscope": True}, rand(2, 16, 4, 4)),
    (*_DYS, (16,), {"style": "pl"}, rand(2, 16, 5, 3)),
    (*_DYS, (36,), {"style": "pl", "scale": 3, "groups": 2, "dyscope": True}, rand(2, 36, 3, 4)),
    (*_DYS, (8, 3), {"groups": 1}, rand(3, 8, 1, 5)),
]
