"""GFNet (External-Attention-pytorch): GlobalFilter, a learned filter on the 2-D spectrum of
a square token map (an even side and an odd one: the half-spectrum's sizes differ), its MLP,
the block of both, the patch embedding and the whole network (with its never-called
`embedding` Linear in the state_dict)."""
from equiv_cases import rand

_GF = ("global_filter", "GlobalFilter", "gfnet:GlobalFilter")
_MLP = ("gfnet_mlp", "GFNetMlp", "gfnet:GFNetMlp")
_BLOCK = ("gfnet_block", "GFNetBlock", "gfnet:GFNetBlock")
_EMBED = ("gfnet_patch_embed", "GFNetPatchEmbed", "gfnet:GFNetPatchEmbed")
_NET = ("gfnet", "GFNet", "gfnet:GFNet")

CASES = [
    (*_GF, (8,), {}, rand(2, 196, 8)),  # h 14, w 8: the original's defaults
    (*_GF, (6,), {"h": 5, "w": 3}, rand(3, 25, 6)),
    (*_GF, (4,), {"h": 4, "w": 3}, rand(1, 16, 4)),
    (*_MLP, (6,), {}, rand(2, 5, 6)),
    (*_MLP, (6,), {"hidden_features": 10, "out_features": 4}, rand(3, 2, 6)),
    (*_BLOCK, (8,), {"h": 5, "w": 3}, rand(2, 25, 8)),
    (*_BLOCK, (6,), {"mlp_ratio": 2.5, "h": 4, "w": 3}, rand(2, 16, 6)),
    (*_BLOCK, (6,), {"drop_path": 0.2, "h": 4, "w": 3}, rand(2, 16, 6)),  # eval: identity
    (*_EMBED, (), {"img_size": 32, "patch_size": 8, "embed_dim": 12}, rand(2, 3, 32, 32)),
    (*_EMBED, (), {"img_size": 20, "patch_size": 4, "in_chans": 2, "embed_dim": 6},
     rand(1, 2, 20, 20)),
    # a 5 x 5 map (odd) and a 4 x 4 one (even), two blocks and one
    (*_NET, (), {"embed_dim": 8, "img_size": 40, "patch_size": 8, "depth": 2,
                 "num_classes": 5}, rand(2, 3, 40, 40)),
    (*_NET, (), {"embed_dim": 6, "img_size": 16, "patch_size": 4, "mlp_ratio": 2, "depth": 1,
                 "num_classes": 3}, rand(1, 3, 16, 16)),
]
