"""EMA, the efficient multi-scale attention YOLO-style detectors insert after a stage:
several group counts (one group, one channel per group), square and non-square maps, one
row and one column."""
from equiv_cases import rand

_EMA = ("ema", "EMA", "ema:EMA")

CASES = [
    (*_EMA, (16,), {}, rand(2, 16, 6, 5)),
    (*_EMA, (12, 4), {}, rand(3, 12, 7, 7)),
    (*_EMA, (8,), {"factor": 1}, rand(2, 8, 3, 9)),
    (*_EMA, (6, 6), {}, rand(2, 6, 1, 4)),
    (*_EMA, (32, 8), {}, rand(1, 32, 5, 1)),
]
