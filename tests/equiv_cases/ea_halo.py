"""HaloAttention (External-Attention-pytorch): blocks of 2, 3 and 4 with halos of 1 and 2,
on non-square maps, one head and several. Its mask fills the keys inside the image, so
outputs do not depend on the relative position logits: these are checked on their own
(HaloRelPosEmb, against the original's shift; the generated module reads an index table)
and through the variant that masks the padding instead, where every block weighs its keys
by them."""
from equiv_cases import rand

_HALO = ("halo_attention", "HaloAttention", "halo:HaloAttention")
_REL = ("halo_rel_pos_emb", "HaloRelPosEmb", "halo:RelPosEmb")
_PADDED = ("variants/halo_padding_masked", "HaloAttentionPaddingMasked",
           "halo:HaloAttentionPaddingMasked")


CASES = [
    (*_HALO, (16, 2, 1), {"dim_head": 8, "heads": 2}, rand(2, 16, 4, 6)),
    (*_HALO, (8, 4, 2), {"dim_head": 4, "heads": 3}, rand(2, 8, 8, 12)),
    (*_HALO, (8, 3, 1), {"dim_head": 5, "heads": 1}, rand(1, 8, 9, 6)),
    (*_REL, (2, 4, 8), {}, rand(5, 4, 8)),
    (*_REL, (3, 5, 4), {}, rand(3, 9, 4)),
    (*_REL, (2, 2, 3), {}, rand(2, 4, 3)),  # no halo: the block is the window
    (*_PADDED, (16, 2, 1), {"dim_head": 8, "heads": 2}, rand(2, 16, 6, 4)),
    (*_PADDED, (8, 4, 2), {"dim_head": 4, "heads": 3}, rand(2, 8, 8, 12)),
    (*_PADDED, (6, 3, 2), {"dim_head": 4, "heads": 2}, rand(1, 6, 9, 9)),
]
