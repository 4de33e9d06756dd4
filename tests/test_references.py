"""Fast sanity tests for the hand-written references and the equivalence harness."""
import math

import pytest
import torch
from equivalence import (
    assert_equivalent,
    assert_same_signature,
    load_generated,
    randomize_batchnorm,
)
from references.asff import ASFF, Conv
from references.attention import ScaledDotProductAttention, SimplifiedScaledDotProductAttention
from references.cbam import CBAM, ChannelAttention, SpatialAttention
from references.coordatt import CoordAtt, CoordAttReLU, h_sigmoid, h_swish
from references.cot import CoTAttention
from references.danet import ChannelAttentionModule, DAModule, PositionAttentionModule
from references.eca import ECAAttention
from references.fpn import PyramidFeatures
from references.mtgnn import DilatedInception, TemporalConv, dilated_inception, temporal_conv
from references.se import SEAttention
from references.sk import SKAttention
from references.triplet import TripletAttention
from references.variants import (
    CBAMChannelOnly,
    ECAAdaptiveAttention,
    SEAvgMaxAttention,
    SEMaxAttention,
    eca_kernel_size,
)
from torch import nn


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny tensors: one intra-op thread is fastest and immune to CPU contention."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _rand(*shape):
    return torch.randn(*shape)


def _asff_inputs(m=0.0625, h=3, w=4, b=2):
    c0, c1, c2 = int(1024 * m), int(512 * m), int(256 * m)
    return [_rand(b, c2, 4 * h, 4 * w), _rand(b, c1, 2 * h, 2 * w), _rand(b, c0, h, w)]


def _fpn_inputs(b=2):
    return [_rand(b, 4, 12, 16), _rand(b, 6, 6, 8), _rand(b, 8, 3, 4)]


def _conv_bn_keys(prefix):
    return [f"{prefix}.conv.weight", f"{prefix}.bn.weight", f"{prefix}.bn.bias",
            f"{prefix}.bn.running_mean", f"{prefix}.bn.running_var",
            f"{prefix}.bn.num_batches_tracked"]


# (id, constructor, args, kwargs, inputs factory, expected output shape(s))
CASES = [
    ("se", SEAttention, (32,), {"reduction": 4}, lambda: (_rand(2, 32, 5, 7),), (2, 32, 5, 7)),
    ("eca", ECAAttention, (), {"kernel_size": 5}, lambda: (_rand(2, 16, 5, 7),), (2, 16, 5, 7)),
    ("cbam_ca", ChannelAttention, (32,), {"ratio": 8}, lambda: (_rand(2, 32, 6, 9),),
     (2, 32, 1, 1)),
    ("cbam_sa", SpatialAttention, (3,), {}, lambda: (_rand(2, 32, 6, 9),), (2, 1, 6, 9)),
    ("cbam", CBAM, (32,), {"ratio": 8}, lambda: (_rand(2, 32, 6, 9),), (2, 32, 6, 9)),
    ("sk", SKAttention, (16,), {"reduction": 4, "L": 8}, lambda: (_rand(2, 16, 5, 7),),
     (2, 16, 5, 7)),
    ("sk2", SKAttention, (16,), {"kernels": [3, 5], "group": 4}, lambda: (_rand(2, 16, 5, 7),),
     (2, 16, 5, 7)),
    ("coordatt", CoordAtt, (16, 16), {"reduction": 4}, lambda: (_rand(2, 16, 5, 7),),
     (2, 16, 5, 7)),
    ("coordatt_relu", CoordAttReLU, (16, 16), {}, lambda: (_rand(2, 16, 5, 7),), (2, 16, 5, 7)),
    ("h_swish", h_swish, (), {}, lambda: (_rand(2, 3, 4),), (2, 3, 4)),
    ("cot", CoTAttention, (16,), {"kernel_size": 3}, lambda: (_rand(2, 16, 5, 7),),
     (2, 16, 5, 7)),
    ("triplet", TripletAttention, (), {}, lambda: (_rand(2, 8, 5, 7),), (2, 8, 5, 7)),
    ("triplet_ns", TripletAttention, (), {"no_spatial": True}, lambda: (_rand(2, 8, 5, 7),),
     (2, 8, 5, 7)),
    ("sdpa", ScaledDotProductAttention, (8, 4, 6, 2), {},
     lambda: (_rand(2, 3, 8), _rand(2, 5, 8), _rand(2, 5, 8)), (2, 3, 8)),
    ("sdpa_simple", SimplifiedScaledDotProductAttention, (8, 2), {},
     lambda: (_rand(2, 3, 8), _rand(2, 5, 8), _rand(2, 5, 8)), (2, 3, 8)),
    ("pam", PositionAttentionModule, (16,), {"H": 3, "W": 5}, lambda: (_rand(2, 16, 3, 5),),
     (2, 15, 16)),
    ("cam", ChannelAttentionModule, (16,), {"H": 3, "W": 5}, lambda: (_rand(2, 16, 3, 5),),
     (2, 16, 15)),
    ("danet", DAModule, (16,), {"kernel_size": 3, "H": 3, "W": 5},
     lambda: (_rand(2, 16, 3, 5),), (2, 16, 3, 5)),
    ("asff0", ASFF, (0,), {"multiplier": 0.0625}, lambda: (_asff_inputs(),), (2, 64, 3, 4)),
    ("asff1", ASFF, (1,), {"multiplier": 0.0625}, lambda: (_asff_inputs(),), (2, 32, 6, 8)),
    ("asff2", ASFF, (2,), {"multiplier": 0.0625, "rfb": True}, lambda: (_asff_inputs(),),
     (2, 16, 12, 16)),
    ("asff1_vis", ASFF, (1,), {"multiplier": 0.0625, "vis": True}, lambda: (_asff_inputs(),),
     [(2, 32, 6, 8), (2, 3, 6, 8), (2, 6, 8)]),
    ("fpn", PyramidFeatures, (4, 6, 8), {"feature_size": 8}, lambda: (_fpn_inputs(),),
     [(2, 8, 12, 16), (2, 8, 6, 8), (2, 8, 3, 4), (2, 8, 2, 2), (2, 8, 1, 1)]),
    ("dil_inception", DilatedInception, (8, 8, 2, 20), {}, lambda: (_rand(2, 8, 3, 20),),
     (2, 8, 3, 20)),
    ("temporal_conv", TemporalConv, (8, 12, 1, 16), {}, lambda: (_rand(2, 8, 3, 16),),
     (2, 12, 3, 16)),
    ("se_max", SEMaxAttention, (32, 4), {}, lambda: (_rand(2, 32, 5, 7),), (2, 32, 5, 7)),
    ("se_avgmax", SEAvgMaxAttention, (32, 4), {}, lambda: (_rand(2, 32, 5, 7),), (2, 32, 5, 7)),
    ("eca_adaptive", ECAAdaptiveAttention, (64,), {}, lambda: (_rand(2, 64, 5, 7),),
     (2, 64, 5, 7)),
    ("cbam_ca_only", CBAMChannelOnly, (32,), {"ratio": 8}, lambda: (_rand(2, 32, 6, 9),),
     (2, 32, 6, 9)),
]
CASE_IDS = [c[0] for c in CASES]


def _shapes(out):
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    return [_shapes(o) for o in out]


@pytest.mark.parametrize(("cls", "args", "kwargs", "inputs", "expected"),
                         [c[1:] for c in CASES], ids=CASE_IDS)
def test_output_shapes(cls, args, kwargs, inputs, expected):
    torch.manual_seed(0)
    model = cls(*args, **kwargs).eval()
    with torch.no_grad():
        out = model(*inputs())
    assert _shapes(out) == expected
    flat = [out] if isinstance(out, torch.Tensor) else list(out)
    assert all(torch.isfinite(t).all() for t in flat)


@pytest.mark.parametrize(("cls", "args", "kwargs", "inputs"),
                         [c[1:5] for c in CASES], ids=CASE_IDS)
def test_harness_accepts_reference_against_itself(cls, args, kwargs, inputs):
    assert_equivalent(cls, cls, args, kwargs, inputs, seed=1)


# ------------------------------------------------------------------ state_dict keys


def test_se_keys():
    assert list(SEAttention(32, 4).state_dict()) == ["fc.0.weight", "fc.2.weight"]


def test_cbam_keys():
    assert list(CBAM(32, ratio=8).state_dict()) == [
        "ca.fc1.weight", "ca.fc2.weight", "sa.conv1.weight"]


def test_triplet_keys():
    expected = []
    for gate in ("cw", "hc", "hw"):
        expected += _conv_bn_keys(f"{gate}.conv")
    assert list(TripletAttention().state_dict()) == expected


def test_triplet_no_spatial_has_no_hw():
    model = TripletAttention(no_spatial=True)
    keys = list(model.state_dict())
    assert not any(k.startswith("hw.") for k in keys)
    assert keys == _conv_bn_keys("cw.conv") + _conv_bn_keys("hc.conv")
    assert not hasattr(model, "hw")


def test_triplet_bn_settings_and_averaging():
    model = TripletAttention()
    bn = model.cw.conv.bn
    assert (bn.eps, bn.momentum, bn.num_features) == (1e-5, 0.01, 1)
    assert model.cw.conv.relu is None
    assert model.cw.conv.conv.bias is None
    randomize_batchnorm(model, 3)
    model.eval()
    x = _rand(2, 8, 5, 7)
    with torch.no_grad():
        a = model.cw(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        b = model.hc(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        c = model.hw(x)
        torch.testing.assert_close(model(x), (a + b + c) / 3)


def test_asff_level1_keys():
    expected = []
    for name in ("compress_level_0", "stride_level_2", "expand", "weight_level_0",
                 "weight_level_1", "weight_level_2", "weight_levels"):
        expected += _conv_bn_keys(name)
    model = ASFF(1, multiplier=0.125)
    assert list(model.state_dict()) == expected
    assert model.dim == [128, 64, 32] and model.inter_dim == 64
    assert model.weight_levels.conv.out_channels == 3
    assert model.weight_levels.conv.in_channels == 48
    assert ASFF(1, multiplier=0.125, rfb=True).weight_levels.conv.in_channels == 24


def test_asff_level_order_and_bad_level():
    assert [n for n, _ in ASFF(0, 0.0625).named_children()] == [
        "stride_level_1", "stride_level_2", "expand", "weight_level_0", "weight_level_1",
        "weight_level_2", "weight_levels"]
    assert [n for n, _ in ASFF(2, 0.0625).named_children()][:3] == [
        "compress_level_0", "compress_level_1", "expand"]
    with pytest.raises(ValueError, match="level"):
        ASFF(3)


def test_asff_conv_block():
    c = Conv(4, 8, 3, 2)
    assert c.conv.padding == (1, 1) and c.conv.stride == (2, 2) and c.conv.bias is None
    assert isinstance(c.act, nn.SiLU)
    assert isinstance(Conv(4, 8, act=False).act, nn.Identity)
    assert Conv(4, 8, 3, p=0).conv.padding == (0, 0)


def test_fpn_keys():
    expected = []
    for name in ("P5_1", "P5_2", "P4_1", "P4_2", "P3_1", "P3_2", "P6", "P7_2"):
        expected += [f"{name}.weight", f"{name}.bias"]
    assert list(PyramidFeatures(4, 6, 8, feature_size=8).state_dict()) == expected


def test_sk_two_branch_keys():
    expected = []
    for i in range(2):
        expected += [f"convs.{i}.conv.weight", f"convs.{i}.conv.bias", f"convs.{i}.bn.weight",
                     f"convs.{i}.bn.bias", f"convs.{i}.bn.running_mean",
                     f"convs.{i}.bn.running_var", f"convs.{i}.bn.num_batches_tracked"]
    expected += ["fc.weight", "fc.bias", "fcs.0.weight", "fcs.0.bias", "fcs.1.weight",
                 "fcs.1.bias"]
    model = SKAttention(16, kernels=[3, 5])
    assert list(model.state_dict()) == expected
    assert model.d == 32  # max(L=32, 16 // 8)
    assert [m.conv.kernel_size for m in model.convs] == [(3, 3), (5, 5)]


def test_sk_default_kernels():
    model = SKAttention(16)
    assert [m.conv.padding for m in model.convs] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert len(model.fcs) == 4


def test_coordatt_variants_share_keys_but_differ():
    a, b = CoordAtt(16, 16, reduction=4), CoordAttReLU(16, 16, reduction=4)
    assert list(a.state_dict()) == list(b.state_dict())
    assert hasattr(a, "act") and not hasattr(a, "relu")
    assert hasattr(b, "relu") and not hasattr(b, "act")
    assert a.conv1.out_channels == 8  # mip = max(8, 16 // 4)
    b.load_state_dict(a.state_dict())
    randomize_batchnorm(a, 0)
    b.load_state_dict(a.state_dict())
    x = _rand(2, 16, 5, 7)
    with torch.no_grad():
        assert not torch.allclose(a.eval()(x), b.eval()(x))


def test_hard_activations():
    x = torch.linspace(-5, 5, 41)
    torch.testing.assert_close(h_sigmoid()(x.clone()), torch.clamp(x + 3, 0, 6) / 6)
    torch.testing.assert_close(h_swish()(x.clone()), x * torch.clamp(x + 3, 0, 6) / 6)


def test_spatial_attention_kernel_check():
    assert SpatialAttention(3).conv1.padding == (1, 1)
    assert SpatialAttention().conv1.padding == (3, 3)
    with pytest.raises(ValueError, match="3 or 7"):
        SpatialAttention(5)


def test_eca_matches_manual_conv():
    model = ECAAttention(3)
    x = _rand(2, 16, 5, 7)
    pooled = x.mean((2, 3))  # (B, C)
    w, b = model.conv.weight.view(3), model.conv.bias
    padded = torch.nn.functional.pad(pooled, (1, 1))
    conv = w[0] * padded[:, :-2] + w[1] * padded[:, 1:-1] + w[2] * padded[:, 2:] + b
    with torch.no_grad():
        torch.testing.assert_close(model(x), x * torch.sigmoid(conv)[:, :, None, None])


def test_eca_adaptive_kernel():
    assert [eca_kernel_size(c) for c in (16, 64, 256, 512)] == [3, 3, 5, 5]
    assert ECAAdaptiveAttention(256).conv.kernel_size == (5,)
    assert ECAAdaptiveAttention(256).conv.padding == (2,)
    assert list(ECAAdaptiveAttention(64).state_dict()) == ["conv.weight", "conv.bias"]


def test_se_variants():
    x = _rand(2, 32, 5, 7)
    ref = SEAvgMaxAttention(32, 4)
    assert [n for n, _ in ref.named_children()] == ["avg_pool", "max_pool", "fc"]
    assert [n for n, _ in SEMaxAttention(32, 4).named_children()] == ["max_pool", "fc"]
    squeeze = x.mean((2, 3)) + x.amax((2, 3))
    with torch.no_grad():
        torch.testing.assert_close(ref(x), x * ref.fc(squeeze)[:, :, None, None])
    assert list(CBAMChannelOnly(32, 8).state_dict()) == ["ca.fc1.weight", "ca.fc2.weight"]


def test_mtgnn_aliases_and_shapes():
    assert dilated_inception is DilatedInception and temporal_conv is TemporalConv
    m = DilatedInception(8, 10, 2, 20)  # 10 / 4 -> 2 channels per branch
    assert [c.out_channels for c in m.tconv] == [2, 2, 2, 2]
    assert [c.dilation for c in m.tconv] == [(1, 2)] * 4
    assert m.out[0].in_features == 20 - 2 * 6 and m.out[2].out_features == 20
    assert m(_rand(2, 8, 3, 20)).shape == (2, 8, 3, 20)


# ------------------------------------------------------------------ attention


def _manual_attention(model, q_in, k_in, v_in, mask=None, weights=None):
    h, d_k, d_v = model.h, model.d_k, model.d_v
    b, nq, nk = q_in.shape[0], q_in.shape[1], k_in.shape[1]
    q = model.fc_q(q_in).reshape(b, nq, h, d_k).transpose(1, 2)
    k = model.fc_k(k_in).reshape(b, nk, h, d_k).transpose(1, 2)
    v = model.fc_v(v_in).reshape(b, nk, h, d_v).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d_k)
    if weights is not None:
        scores = scores * weights
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, nq, h * d_v)
    return model.fc_o(out)


def test_sdpa_init():
    model = ScaledDotProductAttention(16, 4, 6, 2)
    for lin in (model.fc_q, model.fc_k, model.fc_v, model.fc_o):
        assert torch.count_nonzero(lin.bias) == 0
        assert lin.weight.std() < 0.01
    assert model.fc_v.out_features == 12 and model.fc_o.in_features == 12
    assert model.dropout.p == 0.1
    simple = SimplifiedScaledDotProductAttention(16, 4)
    assert list(simple.state_dict()) == ["fc_o.weight", "fc_o.bias"]
    assert (simple.d_k, simple.d_v) == (4, 4)


def test_sdpa_mask_and_weights_with_nq_ne_nk():
    torch.manual_seed(0)
    model = ScaledDotProductAttention(8, 4, 6, 2).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    q_in, k_in, v_in = _rand(2, 3, 8), _rand(2, 5, 8), _rand(2, 5, 8)
    mask = torch.zeros(2, 2, 3, 5, dtype=torch.bool)
    mask[..., 4] = True
    mask[0, 1, 2, :3] = True
    weights = torch.rand(2, 2, 3, 5) + 0.5
    with torch.no_grad():
        out = model(q_in, k_in, v_in, attention_mask=mask, attention_weights=weights)
        expected = _manual_attention(model, q_in, k_in, v_in, mask, weights)
        torch.testing.assert_close(out, expected)
        # masked key 4 must have no influence at all
        k2, v2 = k_in.clone(), v_in.clone()
        k2[:, 4], v2[:, 4] = 100.0, -100.0
        torch.testing.assert_close(model(q_in, k2, v2, attention_mask=mask,
                                         attention_weights=weights), out)
        plain = model(q_in, k_in, v_in)
        torch.testing.assert_close(plain, _manual_attention(model, q_in, k_in, v_in))
        assert not torch.allclose(plain, out)


def test_simplified_sdpa_math():
    model = SimplifiedScaledDotProductAttention(8, 2).eval()
    q, k, v = _rand(2, 3, 8), _rand(2, 5, 8), _rand(2, 5, 8)
    qh = q.reshape(2, 3, 2, 4).transpose(1, 2)
    kh = k.reshape(2, 5, 2, 4).transpose(1, 2)
    vh = v.reshape(2, 5, 2, 4).transpose(1, 2)
    att = (qh @ kh.transpose(-1, -2) / 2.0).softmax(-1)
    expected = model.fc_o((att @ vh).transpose(1, 2).reshape(2, 3, 8))
    with torch.no_grad():
        torch.testing.assert_close(model(q, k, v), expected)


# ------------------------------------------------------------------ DANet


class _HandBuiltDANet(nn.Module):
    """DAModule assembled by hand from its sub-modules with 512, 3, 7, 7."""

    def __init__(self):
        super().__init__()
        self.position_attention_module = PositionAttentionModule(512, 3, 7, 7)
        self.channel_attention_module = ChannelAttentionModule(512, 3, 7, 7)

    def forward(self, x):
        b, c, h, w = x.shape
        p = self.position_attention_module(x).permute(0, 2, 1).reshape(b, c, h, w)
        q = self.channel_attention_module(x).reshape(b, c, h, w)
        return (x + 0.5 * p) + (x + 0.2 * q)


def test_danet_defaults_match_hand_built():
    model, hand = DAModule(), _HandBuiltDANet()
    assert list(model.state_dict()) == list(hand.state_dict())
    for k, v in hand.state_dict().items():
        assert model.state_dict()[k].shape == v.shape, k
    hand.load_state_dict(model.state_dict())
    model.eval()
    hand.eval()
    x = _rand(2, 512, 7, 7)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 512, 7, 7)
        torch.testing.assert_close(out, hand(x))


def test_danet_honours_its_arguments():
    model = DAModule(d_model=16, kernel_size=5, H=3, W=5)
    pam, cam = model.position_attention_module, model.channel_attention_module
    assert pam.cnn.in_channels == 16 and pam.cnn.kernel_size == (5, 5)
    assert pam.cnn.padding == (2, 2)
    assert pam.pa.d_model == 16 and pam.pa.h == 1
    assert cam.pa.d_model == 15 and cam.cnn.out_channels == 16


# ------------------------------------------------------------------ harness


class _SEWithMaxPool(nn.Module):
    """Same signature and keys as SEAttention, but squeezes with max-pool."""

    def __init__(self, channel=512, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        b, c = x.shape[:2]
        return x * self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)


class _SEOtherDefault(SEAttention):
    def __init__(self, channel=512, reduction=8):
        super().__init__(channel, reduction)


class _SEExtraKey(SEAttention):
    def __init__(self, channel=512, reduction=16):
        super().__init__(channel, reduction)
        self.extra = nn.Linear(2, 2)


def _se_inputs():
    return (_rand(2, 32, 5, 7),)


def test_harness_detects_forward_difference():
    with pytest.raises(AssertionError, match="generated differs from reference"):
        assert_equivalent(_SEWithMaxPool, SEAttention, (32,), {"reduction": 4}, _se_inputs)


def test_harness_detects_signature_and_key_differences():
    with pytest.raises(AssertionError, match="defaults differ for: reduction"):
        assert_equivalent(_SEOtherDefault, SEAttention, (32, 4), None, _se_inputs)
    with pytest.raises(AssertionError, match="extra.weight"):
        assert_equivalent(_SEExtraKey, SEAttention, (32, 4), None, _se_inputs)
    with pytest.raises(AssertionError, match="parameter names differ"):
        assert_same_signature(ECAAttention, SEAttention)


def test_harness_detects_gradient_only_difference():
    # forward values are identical; only the gradient w.r.t. x through the gate is cut
    class StopGrad(SEAttention):
        def forward(self, x):
            b, c = x.shape[:2]
            gate = self.fc(self.avg_pool(x.detach()).view(b, c)).view(b, c, 1, 1)
            return x * gate

    with pytest.raises(AssertionError, match="grad wrt inputs"):
        assert_equivalent(StopGrad, SEAttention, (32, 4), None, _se_inputs)


def test_harness_sees_batchnorm_and_tiny_init():
    # Without randomized BN stats / perturbed params these would look identical.
    class NoBiasInFcO(ScaledDotProductAttention):
        def forward(self, *a, **k):
            return super().forward(*a, **k) - self.fc_o.bias

    def qkv():
        return (_rand(2, 3, 8), _rand(2, 5, 8), _rand(2, 5, 8))

    with pytest.raises(AssertionError):
        assert_equivalent(NoBiasInFcO, ScaledDotProductAttention, (8, 4, 6, 2), None, qkv)

    class TrainBN(CoordAtt):
        def forward(self, x):
            self.bn1.running_mean.zero_()
            self.bn1.running_var.fill_(1.0)
            return super().forward(x)

    with pytest.raises(AssertionError):
        assert_equivalent(TrainBN, CoordAtt, (16, 16), None, lambda: (_rand(2, 16, 5, 7),))


def test_harness_passes_list_inputs_and_none():
    def qkv_masked():
        mask = torch.zeros(2, 1, 3, 5, dtype=torch.bool)
        mask[..., 0] = True
        return (_rand(2, 3, 8), _rand(2, 5, 8), _rand(2, 5, 8), mask, None)

    assert_equivalent(ScaledDotProductAttention, ScaledDotProductAttention, (8, 4, 6, 2), None,
                      qkv_masked)
    gen_out, ref_out = assert_equivalent(PyramidFeatures, PyramidFeatures, (4, 6, 8),
                                         {"feature_size": 8}, lambda: (_fpn_inputs(),))
    assert isinstance(gen_out, list) and len(ref_out) == 5
    assert gen_out[0].dtype == torch.float64


def test_harness_checks_output_container_type():
    class TupleFPN(PyramidFeatures):
        def forward(self, inputs):
            return tuple(super().forward(inputs))

    with pytest.raises(AssertionError, match="reference is a list"):
        assert_equivalent(TupleFPN, PyramidFeatures, (4, 6, 8), {"feature_size": 8},
                          lambda: (_fpn_inputs(),))


def test_signature_list_and_tuple_defaults_match():
    class ListSK(SKAttention):
        def __init__(self, channel=512, kernels=[1, 3, 5, 7], reduction=8, group=1,  # noqa: B006
                     L=32):
            super().__init__(channel, kernels, reduction, group, L)

    assert_same_signature(ListSK, SKAttention)


def test_randomize_batchnorm():
    model = SKAttention(16, kernels=[3])
    randomize_batchnorm(model, 7)
    bn = model.convs[0].bn
    assert not torch.allclose(bn.running_mean, torch.zeros(16))
    assert (bn.running_var > 0.4).all() and not torch.allclose(bn.running_var, torch.ones(16))
    assert not torch.allclose(bn.weight, torch.ones(16))
    assert not torch.allclose(bn.bias, torch.zeros(16))
    other = randomize_batchnorm(SKAttention(16, kernels=[3]), 7)
    torch.testing.assert_close(other.convs[0].bn.running_var, bn.running_var)


def test_load_generated(tmp_path):
    gen_dir = tmp_path / "generated"
    gen_dir.mkdir()
    (gen_dir / "demo.py").write_text("VALUE = 41\n\ndef bump():\n    return VALUE + 1\n")
    a = load_generated("demo", root=tmp_path)
    b = load_generated("demo", root=str(tmp_path))
    assert a.bump() == 42 and a is not b and a.__name__ != b.__name__
    with pytest.raises(FileNotFoundError, match="missing"):
        load_generated("missing", root=tmp_path)
