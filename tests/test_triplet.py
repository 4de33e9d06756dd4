"""TripletAttention: what the eval-mode equivalence rows cannot see."""

import torch
from equivalence import load_generated
from references.triplet import TripletAttention as Reference


def test_gate_batchnorm_settings_and_training_step_match_the_reference():
    """eps 1e-5 and momentum 0.01 (the notes' BasicConv): the running statistics after
    one training step agree with the reference's."""
    torch.manual_seed(0)
    gen = load_generated("triplet").TripletAttention()
    ref = Reference()
    gen.load_state_dict(ref.state_dict(), strict=True)
    for name in ("cw", "hc", "hw"):
        bn = getattr(gen, name).conv.bn
        assert (bn.eps, bn.momentum, bn.affine) == (1e-5, 0.01, True)
        conv = getattr(gen, name).conv.conv
        assert conv.kernel_size == (7, 7) and conv.padding == (3, 3) and conv.bias is None
    x = torch.randn(3, 6, 5, 7)
    assert torch.allclose(gen.train()(x), ref.train()(x), atol=1e-6)
    for key, value in ref.state_dict().items():
        assert torch.allclose(gen.state_dict()[key], value, atol=1e-7), key


def test_no_spatial_has_no_hw_gate_and_averages_two_branches():
    cls = load_generated("triplet").TripletAttention
    assert not hasattr(cls(no_spatial=True), "hw")
    assert sorted(n for n, _ in cls().named_children()) == ["cw", "hc", "hw"]
    two = cls(no_spatial=True).eval()
    x = torch.randn(2, 4, 3, 5)
    with torch.no_grad():
        cw = two.cw(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        hc = two.hc(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        assert torch.allclose(two(x), (cw + hc) / 2, atol=1e-6)
