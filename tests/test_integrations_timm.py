"""timm (issue 15): every channel-preserving library module as the attention layer of
resnet18 (BasicBlock) and resnet26 (Bottleneck), forward and backward, with the parameter
count the spec gives. Runs under `pytest -m integrations` in the integrations venv
(README); timm is imported inside the tests, so the default run never needs it."""
import attngen
import pytest
from attngen.integrations.common import library_specs

pytestmark = pytest.mark.integrations

# the channel-preserving modules of the library (checked against their bindings below;
# listed, so that collecting the default run loads no spec)
PRESERVING_NAMES = ["cbam", "coordatt", "cot", "eca", "h_sigmoid", "h_swish", "se", "sk",
                    "triplet", "triplet_gate", "cbam_channel_only", "coordatt_relu",
                    "eca_adaptive", "se_avgmax", "se_max", "sk_two_branch",
                    # External-Attention-pytorch's
                    "bam", "double_attention",
                    "parallel_polarized_self_attention", "parnet_attention", "psa",
                    "s2_attention", "sequential_polarized_self_attention", "sge", "simam",
                    "shuffle_attention", "criss_cross", "mobilevit_attention",
                    "halo_attention", "halo_padding_masked",
                    # YOLO-style detectors' add-ons, BiFormer's attention, HorNet's gates
                    "ema", "bi_level_routing_attention", "gnconv"]
PRESERVING = [p for p in library_specs() if p.stem in PRESERVING_NAMES]
# shape-keeping specs that are parts, not attention blocks: BAM's branches return their
# attention map (broadcast to the input's shape with expand), not gated features; MUSE's
# conv branch maps sequences ([B, C, L]) to out_ch channels, here the input's
PARTS = ["bam_channel_attention", "bam_spatial_attention", "depth_pointwise_conv1d",
         # AxialAttention keeps the shape, but where its features are is a param
         # (dim_index), so no dim is bound: a caller passes dim and dim_index=1 itself
         "axial_attention", "axial_permute",
         # Swin's shifted-window mask keeps the scores' shape and needs the mask beside them
         "shifted_window_mask",
         # CrossFormer's bias MLP maps offsets [N, 2] to biases [N, num_heads]: the same
         # shape only where num_heads is 2
         "dynamic_pos_bias"]
# each block's output channels, where timm puts the attention layer
CHANNELS = {"resnet18": [64, 64, 128, 128, 256, 256, 512, 512],
            "resnet26": [256, 256, 512, 512, 1024, 1024, 2048, 2048]}
# SK's grouped branches keep resnet26's 2048-channel blocks small enough to train here
FIXED = {"sk": {"group": 32}, "sk_two_branch": {"group": 32},
         # DoubleAttention's descriptor sizes are free choices, not the channels
         "double_attention": {"c_m": 64, "c_n": 16},
         # SGE's groups has no default (nor in the original); 8 divides every block's channels
         "sge": {"groups": 8},
         # MobileViT's patches must tile every map (64 x 64 images: 16 x 16 down to 2 x 2),
         # and a small transformer keeps the test quick
         "mobilevit_attention": {"patch_size": 2, "dim": 32, "depth": 1, "heads": 2,
                                 "head_dim": 16, "mlp_dim": 64},
         # HaloNet's blocks must tile every map (16 x 16 down to 2 x 2): blocks of 2
         "halo_attention": {"block_size": 2, "halo_size": 1, "dim_head": 16, "heads": 2},
         "halo_padding_masked": {"block_size": 2, "halo_size": 1, "dim_head": 16,
                                 "heads": 2},
         # BiFormer's regions must tile every map (16 x 16 down to 2 x 2): 2 x 2 regions
         "bi_level_routing_attention": {"n_win": 2, "topk": 2, "num_heads": 4}}


@pytest.fixture(scope="module")
def plain_counts():
    import timm

    return {m: sum(p.numel() for p in timm.create_model(m).parameters()) for m in CHANNELS}


def test_the_channel_preserving_modules_are_the_library_s_attention_blocks():
    names = {p.stem for p in library_specs() if attngen.load(p).binding.channel_preserving()}
    assert names == set(PRESERVING_NAMES) | set(PARTS)
    assert len(PRESERVING) == len(PRESERVING_NAMES)


@pytest.mark.parametrize("model_name", sorted(CHANNELS))
@pytest.mark.parametrize("path", PRESERVING, ids=lambda p: p.stem)
def test_a_module_in_a_timm_resnet_trains_with_its_spec_s_parameter_count(
        path, model_name, plain_counts, one_torch_thread):
    import timm
    import torch
    from attngen.integrations.timm import attn_layer

    loaded = attngen.load(path)
    fixed = FIXED.get(path.stem, {})
    layer = attn_layer(loaded, **fixed)
    torch.manual_seed(0)
    model = timm.create_model(model_name, block_args=dict(attn_layer=layer))
    inserted = [m for m in model.modules() if isinstance(m, layer)]
    assert len(inserted) == len(CHANNELS[model_name])
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1000)
    out.square().mean().backward()
    assert all(p.grad is not None for m in inserted for p in m.parameters())
    expected = plain_counts[model_name] + sum(
        loaded.param_count(**fixed, **{p: c for p in loaded.binding.channels})
        for c in CHANNELS[model_name])
    assert sum(p.numel() for p in model.parameters()) == expected


def test_timm_s_factory_kwargs_reach_every_parameter():
    import timm
    import torch
    from attngen.integrations.timm import attn_layer

    model = timm.create_model("resnet18", block_args=dict(attn_layer=attn_layer("cbam")),
                              device="meta", dtype=torch.float64)
    assert {(p.device.type, p.dtype) for p in model.parameters()} == {("meta", torch.float64)}


def test_eca_takes_its_kernel_from_fixed_and_never_the_channels():
    from attngen.integrations.timm import attn_layer

    assert attn_layer("eca")(64).conv.kernel_size == (3,)
    assert attn_layer("eca", kernel_size=5)(64).conv.kernel_size == (5,)


@pytest.mark.parametrize(("spec", "fixed", "error", "message"), [
    ("spatial_attention", {}, ValueError, "its output shape differs from its input's"),
    ("danet", {}, ValueError, "H, W are sizes of the input's other dims"),
    ("se", {"channel": 8}, TypeError, "channel is set from the channels"),
    ("se", {"reductio": 8}, TypeError, "SEAttention has no param 'reductio'"),
])
def test_a_module_that_cannot_be_an_attention_layer_says_why(spec, fixed, error, message):
    from attngen.integrations.timm import attn_layer

    with pytest.raises(error, match=message):
        attn_layer(spec, **fixed)
