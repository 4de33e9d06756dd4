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
