from equiv_cases import rand

CASES = [
    ("sk", "SKAttention", "sk:SKAttention", (), {"channel": 32, "reduction": 4, "L": 4},
     rand(2, 32, 5, 7)),
    ("sk", "SKAttention", "sk:SKAttention", (24, [3, 5]), {"group": 4, "L": 16},
     rand(3, 24, 6, 4)),
    ("coordatt", "CoordAtt", "coordatt:CoordAtt", (64, 64), {}, rand(2, 64, 5, 7)),
    ("coordatt", "CoordAtt", "coordatt:CoordAtt", (48, 48), {"reduction": 4}, rand(3, 48, 6, 3)),
    ("coordatt", "h_swish", "coordatt:h_swish", (), {}, rand(2, 3, 5, 4)),
    ("coordatt", "h_swish", "coordatt:h_swish", (), {"inplace": False}, rand(3, 2, 4, 6)),
    ("coordatt", "h_sigmoid", "coordatt:h_sigmoid", (), {}, rand(2, 3, 5, 4)),
    ("coordatt", "h_sigmoid", "coordatt:h_sigmoid", (False,), {}, rand(3, 2, 4, 6)),
]
CASES += [
    ("cot", "CoTAttention", "cot:CoTAttention", (), {"dim": 16}, rand(2, 16, 5, 7)),
    ("cot", "CoTAttention", "cot:CoTAttention", (8, 5), {}, rand(3, 8, 6, 4)),
]
COVERS = {"h_sigmoid", "h_swish"}
CASES += [
    ("triplet", "TripletAttention", "triplet:TripletAttention", (), {}, rand(2, 16, 5, 7)),
    ("triplet", "TripletAttention", "triplet:TripletAttention", (True,), {}, rand(3, 8, 6, 4)),
    ("triplet", "TripletAttention", "triplet:TripletAttention", (), {"no_spatial": False},
     rand(2, 3, 9, 10)),
    # AttentionGate and ZPool take no arguments: two rows each with different input shapes
    ("triplet", "AttentionGate", "triplet:AttentionGate", (), {}, rand(2, 6, 5, 7)),
    ("triplet", "AttentionGate", "triplet:AttentionGate", (), {}, rand(3, 1, 8, 3)),
    ("triplet", "ZPool", "triplet:ZPool", (), {}, rand(2, 5, 4, 7)),
    ("triplet", "ZPool", "triplet:ZPool", (), {}, rand(3, 2, 6, 3)),
]
COVERS |= {"triplet_gate", "zpool"}
