from equiv_cases import rand

# Variants (specs/variants/*.yaml, built into generated/variants/) against the small
# hand-written references of tests/references/variants.py.
CASES = [
    ("variants/se_max", "SEMaxAttention", "variants:SEMaxAttention", (),
     {"channel": 32, "reduction": 4}, rand(2, 32, 5, 7)),
    ("variants/se_max", "SEMaxAttention", "variants:SEMaxAttention", (48, 16), {},
     rand(3, 48, 4, 3)),
    ("variants/se_avgmax", "SEAvgMaxAttention", "variants:SEAvgMaxAttention", (),
     {"channel": 32, "reduction": 4}, rand(2, 32, 5, 7)),
    ("variants/se_avgmax", "SEAvgMaxAttention", "variants:SEAvgMaxAttention", (48, 16), {},
     rand(3, 48, 4, 3)),
    # kernel 3 (channel 64), 5 (512), and 7 (16 with gamma=1, b=2: t = 6 rounds up to odd)
    ("variants/eca_adaptive", "ECAAdaptiveAttention", "variants:ECAAdaptiveAttention", (64,),
     {}, rand(2, 64, 5, 7)),
    ("variants/eca_adaptive", "ECAAdaptiveAttention", "variants:ECAAdaptiveAttention", (512,),
     {}, rand(2, 512, 3, 4)),
    ("variants/eca_adaptive", "ECAAdaptiveAttention", "variants:ECAAdaptiveAttention", (16,),
     {"gamma": 1, "b": 2}, rand(2, 16, 4, 3)),
    ("variants/cbam_channel_only", "CBAMChannelOnly", "variants:CBAMChannelOnly", (32,), {},
     rand(2, 32, 6, 9)),
    ("variants/cbam_channel_only", "CBAMChannelOnly", "variants:CBAMChannelOnly", (24,),
     {"ratio": 4}, rand(3, 24, 7, 4)),
]
CASES += [
    ("variants/coordatt_relu", "CoordAttReLU", "variants:CoordAttReLU", (64, 64), {},
     rand(2, 64, 5, 7)),
    ("variants/coordatt_relu", "CoordAttReLU", "variants:CoordAttReLU", (48, 48),
     {"reduction": 4}, rand(3, 48, 6, 3)),
    ("variants/sk_two_branch", "SKTwoBranchAttention", "variants:SKTwoBranchAttention", (),
     {"channel": 32, "reduction": 4, "L": 4}, rand(2, 32, 5, 7)),
    ("variants/sk_two_branch", "SKTwoBranchAttention", "variants:SKTwoBranchAttention", (24,),
     {"group": 4, "L": 16}, rand(3, 24, 6, 4)),
]
