"""CrossFormer's group attention: square and non-square groups, the dynamic position bias
on and off, one head and several, a scale given, no qkv bias, and a mask per group over
several images (Swin's shifted-window mask, a sub-spec); its bias MLP alone, residual
and not."""
from equiv_cases import rand
from equiv_cases.ea_swin import masked

_CROSS = ("crossformer_attention", "CrossFormerAttention", "crossformer:Attention")

CASES = [
    (*_CROSS, (32, (7, 7), 2), {}, rand(3, 49, 32)),
    (*_CROSS, (48, (3, 5), 3), {"qk_scale": 0.3}, rand(2, 15, 48)),
    (*_CROSS, (16, (4, 2), 1), {"qkv_bias": False}, rand(4, 8, 16)),
    (*_CROSS, (24, (2, 3), 4), {"position_bias": False}, rand(2, 6, 24)),
    (*_CROSS, (32, (4, 4), 2), {}, masked(4, 3, 16, 32)),
    (*_CROSS, (16, (1, 1), 2), {}, rand(2, 1, 16)),
    ("dynamic_pos_bias", "DynamicPosBias", "crossformer:DynamicPosBias", (32, 3, True), {},
     rand(25, 2)),
    ("dynamic_pos_bias", "DynamicPosBias", "crossformer:DynamicPosBias", (8, 2, False), {},
     rand(9, 2)),
]
