"""MobileViTAttention (External-Attention-pytorch) and its parts: a transformer whose
layers are a loop body (`each:` + `body:`, keys `trans.layers.i.0` / `.i.1`), a ViT
attention that fuses, one head of dim features (no output projection), depth 0."""
from equiv_cases import rand

_MOBILEVIT = ("mobilevit_attention", "MobileViTAttention", "mobilevit:MobileViTAttention")
_TRANSFORMER = ("mobilevit_transformer", "MobileViTTransformer",
                "mobilevit:MobileViTTransformer")
COVERS = {"vit_attention", "feed_forward", "prenorm_attention", "prenorm_feed_forward"}

CASES = [
    (*_MOBILEVIT, (3, 16, 3, 2), {"depth": 2, "heads": 2, "head_dim": 4, "mlp_dim": 24},
     rand(2, 3, 4, 6)),
    (*_MOBILEVIT, (4, 8, 5, 3), {"depth": 1, "heads": 1, "head_dim": 8, "mlp_dim": 8},
     rand(2, 4, 6, 3)),  # one head of dim features: to_out is an Identity
    (*_TRANSFORMER, (8, 3, 2, 4, 16), {}, rand(2, 4, 5, 8)),
    (*_TRANSFORMER, (8, 0, 2, 4, 16), {}, rand(2, 1, 3, 8)),  # no layers: x itself
    (*_TRANSFORMER, (6, 2, 3, 2, 12), {"dropout": 0.2}, rand(3, 2, 4, 6)),
]
