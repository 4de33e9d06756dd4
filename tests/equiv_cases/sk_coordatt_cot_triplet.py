from equiv_cases import rand

CASES = [
    ("sk", "SKAttention", "sk:SKAttention", (), {"channel": 32, "reduction": 4, "L": 4},
     rand(2, 32, 5, 7)),
    ("sk", "SKAttention", "sk:SKAttention", (24, [3, 5]), {"group": 4, "L": 16},
     rand(3, 24, 6, 4)),
]
COVERS = set()
