from equiv_cases import rand

CASES = [
    (
        "se",
        "SEAttention",
        "se:SEAttention",
        (),
        {"channel": 32, "reduction": 4},
        rand(2, 32, 5, 7),
    ),
    ("se", "SEAttention", "se:SEAttention", (48, 16), {}, rand(3, 48, 4, 3)),
    ("eca", "ECAAttention", "eca:ECAAttention", (), {}, rand(2, 16, 5, 7)),
    ("eca", "ECAAttention", "eca:ECAAttention", (), {"kernel_size": 5}, rand(2, 24, 3, 6)),
    ("cbam", "CBAM", "cbam:CBAM", (32,), {}, rand(2, 32, 6, 9)),
    ("cbam", "CBAM", "cbam:CBAM", (24,), {"ratio": 4, "kernel_size": 3}, rand(3, 24, 7, 4)),
    ("cbam", "ChannelAttention", "cbam:ChannelAttention", (16, 4), {}, rand(2, 16, 3, 5)),
    (
        "cbam",
        "SpatialAttention",
        "cbam:SpatialAttention",
        (),
        {"kernel_size": 3},
        rand(2, 5, 6, 4),
    ),
]
COVERS = {"channel_attention", "spatial_attention"}
