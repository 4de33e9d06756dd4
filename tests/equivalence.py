"""Helpers for checking generated modules against the hand-written references.

Typical use::

    from equivalence import assert_equivalent, load_generated
    from references.se import SEAttention

    gen = load_generated("se")
    assert_equivalent(gen.SEAttention, SEAttention, args=(32,), kwargs={"reduction": 4},
                      inputs=lambda: (torch.randn(2, 32, 5, 7),))
"""
import importlib.util
import inspect
import itertools
import re
import sys
from pathlib import Path

import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parent.parent

_load_counter = itertools.count()
_BATCHNORM_TYPES = (nn.modules.batchnorm._BatchNorm,)


# --------------------------------------------------------------------------- loading


def load_generated(name, root=None):
    """Import ``<root>/generated/<name>.py`` as a fresh module and return it.

    ``root`` defaults to the repository root (the parent of tests/). Every call
    executes the file again under a unique module name, so edits on disk are
    picked up and two loads never share state.
    """
    base = Path(root) if root is not None else REPO_ROOT
    path = base / "generated" / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"generated module {name!r} not found at {path}")
    safe = re.sub(r"\W", "_", str(name))
    mod_name = f"_attngen_generated_{safe}_{next(_load_counter)}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


_PLAIN = {}


def load_plain(name):
    """The class-holding namespace of ``specs/<name>.yaml`` built in memory without fusion
    (what ``attngen build --no-fuse`` writes), once per name."""
    if name not in _PLAIN:
        import attngen

        source = attngen.load(REPO_ROOT / "specs" / f"{name}.yaml").source(fuse=False)
        namespace = {"__name__": f"_attngen_plain_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"}
        exec(compile(source, f"<plain {name}>", "exec"), namespace)  # noqa: S102
        _PLAIN[name] = namespace
    return _PLAIN[name]


def is_fused(name):
    """Whether ``generated/<name>.py`` holds a fused attention call."""
    path = REPO_ROOT / "generated" / f"{name}.py"
    return "F.scaled_dot_product_attention(" in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- weights


def randomize_batchnorm(module, seed):
    """Give every BatchNorm in ``module`` non-trivial statistics and affine params.

    running_mean ~ 0.5 * N(0, 1), running_var ~ U[0.5, 1.5),
    weight ~ 1 + 0.3 * N(0, 1), bias ~ 0.3 * N(0, 1). Deterministic in ``seed``.
    Returns ``module``.
    """
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in module.modules():
            if not isinstance(m, _BATCHNORM_TYPES):
                continue
            n = m.num_features
            if m.running_mean is not None:
                m.running_mean.copy_(0.5 * torch.randn(n, generator=gen))
            if m.running_var is not None:
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            if m.weight is not None:
                m.weight.copy_(1.0 + 0.3 * torch.randn(n, generator=gen))
            if m.bias is not None:
                m.bias.copy_(0.3 * torch.randn(n, generator=gen))
    return module


def perturb_parameters(module, seed, scale=0.5):
    """Add seeded noise to every non-BatchNorm parameter of ``module``.

    Matrices/kernels get N(0, (scale / sqrt(fan_in))^2) noise, vectors (biases)
    get N(0, (0.2 * scale)^2). This turns zero biases and tiny initialisations
    (e.g. attention Linear std=0.001) into values that make the forward pass
    sensitive to every parameter. Returns ``module``.
    """
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, _BATCHNORM_TYPES):
                continue
            for p in m.parameters(recurse=False):
                if not p.is_floating_point():
                    continue
                noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
                if p.dim() >= 2:
                    fan_in = max(1, p[0].numel())
                    std = scale / fan_in ** 0.5
                else:
                    std = 0.2 * scale
                p.add_((std * noise).to(p.dtype))
    return module


# --------------------------------------------------------------------------- signature


def _norm_default(value):
    if isinstance(value, (list, tuple)):
        return tuple(_norm_default(v) for v in value)
    return value


def _same_default(a, b):
    a, b = _norm_default(a), _norm_default(b)
    if a is inspect.Parameter.empty or b is inspect.Parameter.empty:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a is b or bool(a == b)


def _init_signature(cls):
    """The constructor's signature; a module without its own __init__ (nn.Module's
    ``*args, **kwargs``) takes no arguments."""
    if isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__init__ is nn.Module.__init__:
        return inspect.Signature()
    return inspect.signature(cls)


def _without_factory_kwargs(params):
    """The parameters without torch.nn's trailing keyword-only `device=None, dtype=None`."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    if [(p.name, p.kind, p.default) for p in params[-2:]] == [
            ("device", keyword, None), ("dtype", keyword, None)]:
        return params[:-2]
    return params


def assert_same_signature(gen_cls, ref_cls):
    """Constructor parameter names (in order) and defaults must match.

    list and tuple defaults with equal items count as equal; bool defaults must
    stay bool (act=True is not act=1). The generated constructor ends with torch.nn's
    factory kwargs, keyword-only ``device=None, dtype=None``, which the references (written
    before them) lack: they are left out of the comparison on either side
    (tests/test_factory_kwargs.py checks that every generated class has them).
    """
    gen_sig = _init_signature(gen_cls)
    ref_sig = _init_signature(ref_cls)
    gen_params = _without_factory_kwargs(list(gen_sig.parameters.values()))
    ref_params = _without_factory_kwargs(list(ref_sig.parameters.values()))
    header = (f"constructor signature mismatch for {getattr(ref_cls, '__name__', ref_cls)}:\n"
              f"  generated: {gen_sig}\n  reference: {ref_sig}")
    gen_names = [p.name for p in gen_params]
    ref_names = [p.name for p in ref_params]
    assert gen_names == ref_names, f"{header}\n  parameter names differ"
    bad = [r.name for g, r in zip(gen_params, ref_params, strict=False)
           if not _same_default(g.default, r.default)]
    assert not bad, f"{header}\n  defaults differ for: {', '.join(bad)}"


# --------------------------------------------------------------------------- state


def _copy_reference_state(gen, ref, check_key_order):
    ref_sd = ref.state_dict()
    gen_sd = gen.state_dict()
    missing = [k for k in ref_sd if k not in gen_sd]
    unexpected = [k for k in gen_sd if k not in ref_sd]
    assert not missing and not unexpected, (
        "state_dict keys differ:\n"
        f"  in reference but not generated: {missing}\n"
        f"  in generated but not reference: {unexpected}")
    shapes = [f"{k}: generated {tuple(gen_sd[k].shape)} vs reference {tuple(ref_sd[k].shape)}"
              for k in ref_sd if gen_sd[k].shape != ref_sd[k].shape]
    assert not shapes, "state_dict shapes differ:\n  " + "\n  ".join(shapes)
    if check_key_order:
        assert list(gen_sd) == list(ref_sd), (
            "state_dict key order differs (sub-modules registered in another order):\n"
            f"  generated: {list(gen_sd)}\n  reference: {list(ref_sd)}")
    gen_params = {n for n, _ in gen.named_parameters()}
    ref_params = {n for n, _ in ref.named_parameters()}
    assert gen_params == ref_params, (
        "parameter/buffer split differs:\n"
        f"  parameters only in reference: {sorted(ref_params - gen_params)}\n"
        f"  parameters only in generated: {sorted(gen_params - ref_params)}")
    gen.load_state_dict(ref_sd, strict=True)


# --------------------------------------------------------------------------- inputs


def _prepare(obj, leaves, path):
    """Copy an input tree; floating tensors become float64 leaves requiring grad."""
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point():
            t = obj.detach().to(torch.float64).clone().requires_grad_(True)
            leaves.append((path, t))
            return t
        return obj.detach().clone()
    if isinstance(obj, (list, tuple)):
        items = [_prepare(v, leaves, f"{path}[{i}]") for i, v in enumerate(obj)]
        return type(obj)(items) if isinstance(obj, list) else tuple(items)
    return obj


def _tensor_leaves(obj, path="output"):
    """Flatten an output tree into (path, tensor) pairs in a fixed order."""
    if isinstance(obj, torch.Tensor):
        return [(path, obj)]
    if isinstance(obj, (list, tuple)):
        out = []
        for i, v in enumerate(obj):
            out.extend(_tensor_leaves(v, f"{path}[{i}]"))
        return out
    if isinstance(obj, dict):
        out = []
        for k in obj:
            out.extend(_tensor_leaves(obj[k], f"{path}[{k!r}]"))
        return out
    return []


def _assert_tensor_close(actual, expected, what, atol, rtol):
    try:
        torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, equal_nan=True)
    except AssertionError as exc:
        raise AssertionError(f"{what}: generated differs from reference\n{exc}") from None


def assert_close_tree(actual, expected, path="output", *, atol=1e-5, rtol=1e-4):
    """Recursively compare tensors / lists / tuples / dicts / plain values."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), (
            f"{path}: reference is a Tensor, generated is {type(actual).__name__}")
        assert actual.shape == expected.shape, (
            f"{path}: shape {tuple(actual.shape)} (generated) vs "
            f"{tuple(expected.shape)} (reference)")
        _assert_tensor_close(actual, expected, path, atol, rtol)
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), (
            f"{path}: reference is a {type(expected).__name__}, "
            f"generated is {type(actual).__name__}")
        assert len(actual) == len(expected), (
            f"{path}: length {len(actual)} (generated) vs {len(expected)} (reference)")
        for i, (a, e) in enumerate(zip(actual, expected, strict=False)):
            assert_close_tree(a, e, f"{path}[{i}]", atol=atol, rtol=rtol)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), (
            f"{path}: dict keys differ: {list(actual) if isinstance(actual, dict) else actual!r}"
            f" vs {list(expected)}")
        for k in expected:
            assert_close_tree(actual[k], expected[k], f"{path}[{k!r}]", atol=atol, rtol=rtol)
    else:
        assert actual == expected, f"{path}: {actual!r} (generated) vs {expected!r} (reference)"


# --------------------------------------------------------------------------- main check


def assert_equivalent(gen_cls, ref_cls, args=(), kwargs=None, inputs=None, *, seed=0,
                      atol=1e-5, rtol=1e-4, perturb=True, check_key_order=True,
                      check_param_grads=True):
    """Assert that ``gen_cls`` behaves exactly like the reference ``ref_cls``.

    Steps:
      1. constructor signatures match (names and defaults);
      2. both are built with ``args`` / ``kwargs`` (same RNG seed);
      3. the reference gets random BatchNorm state and, if ``perturb``, noisy
         parameters; its state_dict is loaded into the generated module with
         strict=True (key sets, shapes and, if ``check_key_order``, key order
         are checked first for a readable message);
      4. both are cast to float64 and put in eval mode;
      5. ``inputs()`` (called once, under ``seed``) must return a tuple of
         positional inputs: tensors, lists/tuples of tensors, None, or plain
         values; a bare tensor is accepted as a 1-tuple. Each module gets its own
         float64 copy;
      6. outputs are compared recursively, then the gradients of
         sum(output_i * w_i) (fixed random w_i) w.r.t. every floating input
         tensor and, if ``check_param_grads``, every parameter.

    Returns ``(generated_output, reference_output)``.
    """
    if kwargs is None:
        kwargs = {}
    if inputs is None or not callable(inputs):
        raise TypeError("inputs must be a callable returning a tuple of forward inputs")

    assert_same_signature(gen_cls, ref_cls)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ref = ref_cls(*args, **kwargs)
        torch.manual_seed(seed)
        gen = gen_cls(*args, **kwargs)

        randomize_batchnorm(ref, seed)
        if perturb:
            perturb_parameters(ref, seed + 1)
        _copy_reference_state(gen, ref, check_key_order)
        ref.double().eval()
        gen.double().eval()

        torch.manual_seed(seed + 2)
        raw = inputs()
    if isinstance(raw, torch.Tensor):
        raw = (raw,)
    if not isinstance(raw, tuple):
        raise TypeError(f"inputs() must return a tuple, got {type(raw).__name__}")

    ref_leaves, gen_leaves = [], []
    ref_in = _prepare(raw, ref_leaves, "inputs")
    gen_in = _prepare(raw, gen_leaves, "inputs")

    ref_out = ref(*ref_in)
    gen_out = gen(*gen_in)
    assert_close_tree(gen_out, ref_out, "output", atol=atol, rtol=rtol)

    # Backward through a fixed random projection of every floating output.
    ref_outs = [(p, t) for p, t in _tensor_leaves(ref_out) if t.is_floating_point()]
    gen_outs = [t for p, t in _tensor_leaves(gen_out) if t.is_floating_point()]
    wgen = torch.Generator().manual_seed(int(seed) + 3)
    weights = [torch.randn(t.shape, generator=wgen, dtype=t.dtype) for _, t in ref_outs]
    ref_loss = sum(
        ((t * w).sum() for (_, t), w in zip(ref_outs, weights, strict=False)), torch.zeros(())
    )
    gen_loss = sum(
        ((t * w).sum() for t, w in zip(gen_outs, weights, strict=False)), torch.zeros(())
    )

    ref_params = dict(ref.named_parameters()) if check_param_grads else {}
    gen_params = dict(gen.named_parameters()) if check_param_grads else {}
    names = list(ref_params)
    targets_ref = [t for _, t in ref_leaves] + [ref_params[n] for n in names]
    targets_gen = [t for _, t in gen_leaves] + [gen_params[n] for n in names]
    labels = [f"grad wrt {p}" for p, _ in ref_leaves] + [f"grad wrt parameter {n}" for n in names]

    if not targets_ref:
        return gen_out, ref_out
    assert ref_loss.requires_grad == gen_loss.requires_grad, (
        "output requires_grad differs: generated "
        f"{gen_loss.requires_grad} vs reference {ref_loss.requires_grad}")
    if not ref_loss.requires_grad:
        return gen_out, ref_out

    ref_grads = torch.autograd.grad(ref_loss, targets_ref, allow_unused=True)
    gen_grads = torch.autograd.grad(gen_loss, targets_gen, allow_unused=True)
    for label, tr, g_gen, g_ref in zip(labels, targets_ref, gen_grads, ref_grads, strict=False):
        if g_ref is None:
            g_ref = torch.zeros_like(tr)
        if g_gen is None:
            g_gen = torch.zeros_like(tr)
        _assert_tensor_close(g_gen, g_ref, label, atol, rtol)
    return gen_out, ref_out
