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
