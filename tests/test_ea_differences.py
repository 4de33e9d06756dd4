"""Where a generated External-Attention-pytorch module differs from its original (issue 14).

Each difference is stated on the module's docs page ("checked by attngen"); the rows
here show it on a reference that behaves as the original does.
"""
import pytest
import torch
from equivalence import load_generated

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_simam_refuses_the_1x1_map_on_which_the_original_returns_nan():
    from references.simam import SimAM

    x = torch.randn(2, 4, 1, 1)
    assert torch.isnan(SimAM()(x)).all()  # the variance divides by H * W - 1 = 0
    with pytest.raises(ValueError, match=r"SimAM: requires H \* W > 1"):
        load_generated("simam").SimAM()(x)
    wide = torch.randn(2, 4, 1, 2)  # H * W = 2: both defined and equal
    torch.testing.assert_close(load_generated("simam").SimAM()(wide), SimAM()(wide))


def test_double_attention_softmax_is_the_legacy_implicit_dim_over_the_batch():
    """The original's F.softmax(t) on a 3-d t is dim 0 (the reference and spec say so);
    each sample's output then depends on the rest of its batch."""
    import warnings

    from torch.nn import functional as F

    t = torch.randn(3, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Implicit dimension choice for softmax ..."
        torch.testing.assert_close(F.softmax(t), torch.softmax(t, dim=0))
    gen = load_generated("double_attention").DoubleAttention(8, 4, 3).eval()
    x = torch.randn(3, 8, 5, 6)
    with torch.no_grad():
        alone, together = gen(x[:1]), gen(x)[:1]
    assert not torch.allclose(alone, together)


def _bam_pair(dia_val):
    """The original's behaviour (padding 1) and the generated module, with the original's
    weights loaded strictly into the generated one."""
    from references.bam import BAMBlockPaddedByOne

    torch.manual_seed(0)
    original = BAMBlockPaddedByOne(16, 4, dia_val).eval()
    generated = load_generated("bam").BAMBlock(16, 4, dia_val).eval()
    generated.load_state_dict(original.state_dict(), strict=True)
    return original, generated


@pytest.mark.parametrize("size", [(7, 7), (5, 9)])
def test_bam_with_dilation_1_is_the_original(size):
    original, generated = _bam_pair(dia_val=1)
    x = torch.randn(2, 16, *size)
    torch.testing.assert_close(generated(x), original(x))


def test_bam_pads_its_dilated_convs_by_dia_val_where_the_original_pads_by_1():
    original, generated = _bam_pair(dia_val=2)
    x = torch.randn(2, 16, 9, 6)
    with pytest.raises(RuntimeError):  # the map shrank to 3 x 0: no expand_as onto 9 x 6
        original(x)
    assert generated(x).shape == x.shape
    x7 = torch.randn(2, 16, 7, 7)  # shrunk to 1 x 1: broadcast instead of a map
    logits = original.sa(x7)
    assert torch.equal(logits, logits[:, :1, :1, :1].expand_as(logits))  # one value: no map
    assert not torch.allclose(generated(x7), original(x7))



def test_shuffle_attention_refuses_groups_that_do_not_halve_where_the_original_fails_later():
    """channel 20, G 4: groups of 5 channels, which chunk(2) halves as 3 + 2, while the
    per-half weights have 20 // 8 = 2 channels."""
    from references.shuffle_attention import ShuffleAttention

    with pytest.raises(RuntimeError):  # the original builds, then fails in forward
        ShuffleAttention(20, G=4)(torch.randn(2, 20, 5, 7))
    with pytest.raises(ValueError, match=r"requires channel % \(2 \* G\) == 0"):
        load_generated("shuffle_attention").ShuffleAttention(20, G=4)


@pytest.mark.parametrize("stem, cls, args, name", [
    ("shuffle_attention", "ShuffleAttention", (32, 16, 4), "shuffle_attention"),
    ("sge", "SpatialGroupEnhance", (4,), "sge"),
])
def test_a_channels_last_input_fails_in_the_original_and_not_in_the_generated(stem, cls, args,
                                                                             name):
    """The originals view the input into groups, which a channels_last tensor cannot be."""
    import importlib

    reference = getattr(importlib.import_module(f"references.{name}"), cls)(*args)
    generated = getattr(load_generated(stem), cls)(*args)
    generated.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 32, 5, 7)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        reference(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(generated(x.to(memory_format=torch.channels_last)), reference(x))


def test_sge_refuses_the_inputs_on_which_the_original_fails_or_returns_nan():
    import warnings

    from references.sge import SpatialGroupEnhance

    generated = load_generated("sge").SpatialGroupEnhance(4)
    one_by_one = torch.randn(2, 8, 1, 1)
    with warnings.catch_warnings():  # "std(): degrees of freedom is <= 0"
        warnings.simplefilter("ignore")
        assert torch.isnan(SpatialGroupEnhance(4)(one_by_one)).all()
    with pytest.raises(ValueError, match=r"requires H \* W > 1"):
        generated(one_by_one)
    with pytest.raises(RuntimeError):  # 6 channels do not view into 4 groups
        SpatialGroupEnhance(4)(torch.randn(2, 6, 5, 7))
    with pytest.raises(ValueError, match="requires C % groups == 0"):
        generated(torch.randn(2, 6, 5, 7))


def _s2_pair(channels=16):
    """The original's in-place shifts (S2AttentionInPlace) and the generated module, with
    the same weights (loaded strictly)."""
    from references.s2_attention import S2AttentionInPlace

    torch.manual_seed(0)
    original = S2AttentionInPlace(channels).double().eval()
    generated = load_generated("s2_attention").S2Attention(channels).double().eval()
    generated.load_state_dict(original.state_dict(), strict=True)
    return original, generated


def test_s2_attention_shifts_where_the_originals_in_place_copy_smears():
    """The first quarter of spatial_shift1 moves down by one row: in the original, row 0 is
    copied over every row instead."""
    from references.s2_attention import shift_quarters_in_place

    original, generated = _s2_pair()
    x = torch.randn(2, 16, 5, 7, dtype=torch.float64)
    wide = torch.randn(2, 5, 7, 4, dtype=torch.float64)  # (B, H, W, C): one channel a quarter
    smeared = shift_quarters_in_place(wide.clone(), ((1, 1), (1, -1), (2, 1), (2, -1)))
    assert torch.equal(smeared[..., 0], wide[:, :1, :, 0].expand(2, 5, 7))  # row 0 everywhere
    with torch.no_grad():
        assert not torch.allclose(generated(x), original(x))


def test_s2_attention_gradients_agree_with_finite_differences_where_the_originals_do_not():
    original, generated = _s2_pair(channels=8)
    x = torch.randn(2, 8, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(generated, (x,))
    assert not torch.autograd.gradcheck(original, (x,), raise_exception=False)



def _emsa_pair(**kwargs):
    """The original's masking (after the softmax) and the generated EMSA, with the
    original's weights loaded strictly into the generated one."""
    from references.emsa import EMSAMaskAfterSoftmax

    torch.manual_seed(0)
    original = EMSAMaskAfterSoftmax(16, 8, 8, 4, H=5, W=3, **kwargs).eval()
    generated = load_generated("emsa").EMSA(16, 8, 8, 4, H=5, W=3, **kwargs).eval()
    generated.load_state_dict(original.state_dict(), strict=True)
    return original, generated


@pytest.mark.parametrize("ratio, apply_transform", [(1, False), (1, True), (3, False), (3, True)])
def test_emsa_masks_the_scores_before_the_softmax_where_the_original_fills_after_it(
        ratio, apply_transform):
    original, generated = _emsa_pair(ratio=ratio, apply_transform=apply_transform)
    n_keys = 7 if ratio == 1 else 2  # with ratio 3 the 5 x 3 map shrinks to 2 x 1
    queries, keys = torch.randn(2, 15, 16), torch.randn(2, 7, 16)
    mask = torch.zeros(2, 4, 15, n_keys, dtype=torch.bool)
    mask[:, :, :3, -1] = True  # the first three queries must not see the last key
    with torch.no_grad():
        torch.testing.assert_close(generated(queries, keys, keys),
                                   original(queries, keys, keys))  # no mask: the same
        filled, masked = original(queries, keys, keys, mask), generated(queries, keys, keys, mask)
    assert not torch.isfinite(filled[:, :3]).any()  # every masked row is -inf or NaN
    assert torch.isfinite(filled[:, 3:]).all() and torch.isfinite(masked).all()
    if ratio == 1 and not apply_transform:  # the masked key has no weight: changing it
        changed = keys.clone()  # changes nothing for the queries that may not see it
        changed[:, -1] += 10.0
        with torch.no_grad():
            again = generated(queries, changed, changed, mask)
        torch.testing.assert_close(again[:, :3], masked[:, :3])
        assert not torch.allclose(again[:, 3:], masked[:, 3:])



def _psa_pair():
    """The original's behaviour (plain-list layers, in-place writes) and the generated
    module with the same weights, copied layer by layer (the original has no state_dict)."""
    from references.psa import PSAAsWritten

    torch.manual_seed(0)
    original = PSAAsWritten(16, 2, 4)
    generated = load_generated("psa").PSA(16, 2, 4)
    for mine, theirs in [*zip(generated.convs, original.convs, strict=True),
                         *zip(generated.se_blocks, original.se_blocks, strict=True)]:
        mine.load_state_dict(theirs.state_dict(), strict=True)
    return original, generated


def test_psa_registers_the_layers_the_original_keeps_in_plain_lists():
    original, generated = _psa_pair()
    assert original.state_dict() == {} and list(original.parameters()) == []
    assert set(generated.state_dict()) == {
        *(f"convs.{i}.{p}" for i in range(4) for p in ("weight", "bias")),
        *(f"se_blocks.{i}.{j}.weight" for i in range(4) for j in (1, 3))}
    in_lists = [p for layers in (original.convs, original.se_blocks)
                for layer in layers for p in layer.parameters()]
    assert sum(p.numel() for p in generated.parameters()) == sum(p.numel() for p in in_lists)


def test_psa_backward_works_where_the_original_s_in_place_writes_break_it():
    original, generated = _psa_pair()
    x = torch.randn(2, 16, 5, 7)
    given = x.clone()
    with torch.no_grad():
        expected = original(given)
    assert not torch.equal(given, x)  # the original wrote its conv outputs into the input
    out = generated(x)
    torch.testing.assert_close(out, expected)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        original(x.clone()).sum().backward()
    leaf = x.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        original(leaf)
    generated(leaf).sum().backward()
    assert leaf.grad is not None and torch.isfinite(leaf.grad).all()
    assert all(p.grad is not None for p in generated.parameters())


def test_aft_softmax_stays_finite_where_the_original_s_exp_overflows():
    """The reference computes exp(k + w) unshifted, as the original does: NaN (inf / inf)
    once k + w passes about 88; the spec's softmaxes of k and of w are shift-invariant."""
    from references.aft import AFT_FULL

    torch.manual_seed(0)
    reference = AFT_FULL(8, n=4).eval()
    generated = load_generated("aft_full").AFT_FULL(8, n=4).eval()
    generated.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        moderate = generated(x)
        torch.testing.assert_close(moderate, reference(x))
        for module in (reference, generated):
            module.fc_k.bias.fill_(100.0)  # every key shifted by 100: the same weights
        assert torch.isnan(reference(x)).any()
        torch.testing.assert_close(generated(x), moderate)
        for module in (reference, generated):
            module.fc_k.bias.zero_()
            module.position_biases.add_(100.0)  # every bias shifted by 100: the same weights
        assert torch.isnan(reference(x)).any()
        torch.testing.assert_close(generated(x), moderate)


def test_aft_refuses_a_token_count_other_than_n():
    """The original reshapes its n x n biases to the input's token count: 1 or n**2
    tokens run (n**2 with the biases cancelling out); the spec requires n == N."""
    generated = load_generated("aft_full").AFT_FULL(8, n=2)
    for tokens in (1, 4):
        with pytest.raises(ValueError, match="AFT_FULL: requires n == N"):
            generated(torch.randn(2, tokens, 8))



def _outlook_pair(*args):
    """The original's behaviour (padding and stride by position) and the generated module,
    with the original's weights loaded strictly into the generated one."""
    from references.outlook import OutlookAttentionAsWritten

    torch.manual_seed(0)
    original = OutlookAttentionAsWritten(*args).eval()
    generated = load_generated("outlook_attention").OutlookAttention(*args).eval()
    generated.load_state_dict(original.state_dict(), strict=True)
    return original, generated


def test_outlook_at_kernel_3_padding_1_stride_1_is_the_original():
    original, generated = _outlook_pair(16, 2)  # kernel 3, padding 1, stride 1
    x = torch.randn(2, 5, 7, 16)
    torch.testing.assert_close(generated(x), original(x))


@pytest.mark.parametrize("kernel_size, padding, stride", [(3, 1, 2), (5, 2, 1), (1, 0, 1)])
def test_outlook_unfolds_with_padding_and_stride_where_the_original_fails(
        kernel_size, padding, stride):
    """The original's Unfold(kernel_size, padding, stride) is dilation=padding,
    padding=stride: its windows do not match the pooled grid (or dilation 0 is refused)."""
    from references.outlook import OutlookAttention

    original, generated = _outlook_pair(16, 2, kernel_size, padding, stride)
    x = torch.randn(2, 7, 6, 16)
    with pytest.raises(RuntimeError):
        original(x)
    intent = OutlookAttention(16, 2, kernel_size, padding, stride).eval()
    intent.load_state_dict(original.state_dict(), strict=True)
    torch.testing.assert_close(generated(x), intent(x))


def _criss_cross_pair():
    from references.criss_cross import CrissCrossAttentionCpuMask

    torch.manual_seed(0)
    original = CrissCrossAttentionCpuMask(16)
    with torch.no_grad():
        original.gamma.fill_(0.5)
    generated = load_generated("criss_cross").CrissCrossAttention(16)
    generated.load_state_dict(original.state_dict(), strict=True)
    return original, generated


def test_criss_cross_masks_on_the_input_s_device_and_dtype_where_the_original_fails():
    """The original adds a float32 mask made on the CPU: in float32 on the CPU the two are
    equal; in bfloat16, or on another device (meta here, a GPU alike), it fails."""
    original, generated = _criss_cross_pair()
    x = torch.randn(2, 16, 5, 7)
    torch.testing.assert_close(generated(x), original(x))
    original.bfloat16(), generated.bfloat16()
    with pytest.raises(RuntimeError):  # bf16 values times the float32 weights
        original(x.bfloat16())
    assert generated(x.bfloat16()).dtype == torch.bfloat16
    original.float().to("meta"), generated.float().to("meta")
    with pytest.raises(RuntimeError):  # a CPU mask added to meta energies
        original(x.to("meta"))
    assert generated(x.to("meta")).device.type == "meta"


def test_ufo_never_applies_its_dropout_and_a_zero_query_is_nan_in_both():
    from references.ufo import UFOAttention

    torch.manual_seed(0)
    reference = UFOAttention(16, 8, 6, 4, dropout=0.9).train()
    generated = load_generated("ufo_attention").UFOAttention(16, 8, 6, 4, dropout=0.9).train()
    generated.load_state_dict(reference.state_dict(), strict=True)
    q, kv = torch.randn(2, 5, 16), torch.randn(2, 3, 16)
    q[0, 1] = 0  # fc_q's bias is zero at initialisation: the query is zero, its norm 0
    outs = [m(q, kv, kv) for m in (reference, reference, generated)]
    torch.testing.assert_close(outs[0], outs[1], equal_nan=True)  # training mode: no dropout
    torch.testing.assert_close(outs[2], outs[0], equal_nan=True)
    assert outs[2][0, 1].isnan().all() and not outs[2][1].isnan().any()


def test_shuffle_attention_refuses_the_one_value_group_norm_torch_refuses():
    """One group, a batch of one and a 1 x 1 map: the GroupNorm of each channel's map is over
    one value. torch raises in the original's forward; the generated forward refuses the
    input by its `requires` line (B * G * H * W >= 2). Found by a trial of the bound search
    with params set small too (CHANGELOG.md), which the checker does not do by default."""
    from references.shuffle_attention import ShuffleAttention

    x = torch.randn(1, 4, 1, 1)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        ShuffleAttention(channel=4, G=1)(x)
    generated = load_generated("shuffle_attention").ShuffleAttention(channel=4, G=1)
    with pytest.raises(ValueError, match=r"ShuffleAttention: requires B \* G \* H \* W >= 2"):
        generated(x)
    two = torch.randn(2, 4, 1, 1)  # a batch of two: both run
    reference = ShuffleAttention(channel=4, G=1)
    reference.load_state_dict(generated.state_dict())
    torch.testing.assert_close(generated(two), reference(two))


def test_muse_weighs_its_branches_by_the_softmax_of_its_parameter_on_every_call():
    """The original replaces dy_paras by a new Parameter holding its softmax on each call:
    the first call agrees with the generated module, the second applies softmax twice, and
    an optimizer made before the first call no longer holds the weights used. The
    generated module computes softmax(dy_paras) each call and keeps its parameter."""
    from references.muse import MUSEAttentionRewrapsWeights

    torch.manual_seed(0)
    original = MUSEAttentionRewrapsWeights(8, 4, 4, 2).eval()
    with torch.no_grad():
        original.dy_paras.copy_(torch.tensor([0.5, -1.0, 2.0]))
    generated = load_generated("muse_attention").MUSEAttention(8, 4, 4, 2).eval()
    generated.load_state_dict(original.state_dict(), strict=True)
    kept = generated.dy_paras
    before = original.dy_paras
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(generated(x, x, x), original(x, x, x))
        assert original.dy_paras is not before  # re-wrapped: its softmax now
        assert not torch.allclose(generated(x, x, x), original(x, x, x))
    assert generated.dy_paras is kept



def test_global_filter_refuses_maps_it_cannot_filter():
    """A token count that is not h * h fails in the original where the spectrum meets the
    weight (or at its view); the generated forward refuses it by name. Both compute the
    transform in float32, a half-precision input included."""
    from references.gfnet import GlobalFilter

    torch.manual_seed(0)
    original = GlobalFilter(4, h=5, w=3)
    generated = load_generated("global_filter").GlobalFilter(4, h=5, w=3)
    generated.load_state_dict(original.state_dict(), strict=True)
    half = torch.randn(2, 25, 4).to(torch.bfloat16)
    torch.testing.assert_close(generated(half), original(half))
    for tokens in (16, 15):  # a 4 x 4 map for a filter of 5 x 3; no square map at all
        with pytest.raises(RuntimeError):
            original(torch.randn(2, tokens, 4))
        with pytest.raises(ValueError, match=r"GlobalFilter: requires N == h \* h"):
            generated(torch.randn(2, tokens, 4))


def test_halo_attention_masks_the_image_not_the_padding():
    """The original fills the logits of the keys inside the image: its output ignores the
    relative position embeddings, and a block away from the border averages its window's
    values. The variant that masks the padding (what the original's comment intends) does
    not."""
    gen = load_generated("halo_attention").HaloAttention(8, 2, 1, dim_head=4, heads=2).eval()
    padded = load_generated("variants/halo_padding_masked").HaloAttentionPaddingMasked(
        8, 2, 1, dim_head=4, heads=2).eval()
    padded.load_state_dict(gen.state_dict())
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        before, masked_before = gen(x), padded(x)
        for p in gen.rel_pos_emb.parameters():
            p.mul_(3.0)
        padded.load_state_dict(gen.state_dict())
        after, masked_after = gen(x), padded(x)
        # the middle block (rows and columns 2-3) weighs its 4 x 4 window uniformly
        v = gen.to_kv(x[0, :, 1:5, 1:5].permute(1, 2, 0).reshape(16, 8)).chunk(2, -1)[1]
        middle = gen.to_out(v.mean(0)).view(8)
    torch.testing.assert_close(after, before)
    assert not torch.allclose(masked_after, masked_before)
    torch.testing.assert_close(before[0, :, 2, 2], middle)
