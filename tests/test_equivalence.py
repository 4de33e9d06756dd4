"""Every generated module against its hand-written reference.

Same constructor, reference state_dict loaded with strict=True, same outputs and
gradients (eval mode, non-trivial BatchNorm statistics, non-square inputs,
batch > 1), for at least two constructor settings each. Add a module by adding
rows to CASES.
"""

import importlib

import pytest
import torch
from equivalence import assert_equivalent, load_generated


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def rand(*shape):
    return lambda: (torch.randn(*shape),)


# (generated file, class, reference "module:Class", args, kwargs, inputs)
CASES = [
    ("se", "SEAttention", "se:SEAttention", (), {"channel": 32, "reduction": 4}, rand(2, 32, 5, 7)),
    ("se", "SEAttention", "se:SEAttention", (48, 16), {}, rand(3, 48, 4, 3)),
    ("eca", "ECAAttention", "eca:ECAAttention", (), {}, rand(2, 16, 5, 7)),
    ("eca", "ECAAttention", "eca:ECAAttention", (), {"kernel_size": 5}, rand(2, 24, 3, 6)),
    ("cbam", "CBAM", "cbam:CBAM", (32,), {}, rand(2, 32, 6, 9)),
    ("cbam", "CBAM", "cbam:CBAM", (24,), {"ratio": 4, "kernel_size": 3}, rand(3, 24, 7, 4)),
    ("cbam", "ChannelAttention", "cbam:ChannelAttention", (16, 4), {}, rand(2, 16, 3, 5)),
    ("cbam", "SpatialAttention", "cbam:SpatialAttention", (), {"kernel_size": 3},
     rand(2, 5, 6, 4)),
]


def _case_id(case):
    file, cls, _, args, kwargs, _ = case
    settings = ",".join([*map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])
    return f"{file}.{cls}({settings})"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_generated_matches_reference(case):
    file, cls, ref, args, kwargs, inputs = case
    module_name, ref_cls = ref.split(":")
    reference = getattr(importlib.import_module(f"references.{module_name}"), ref_cls)
    generated = getattr(load_generated(file), cls)
    assert_equivalent(generated, reference, args, kwargs, inputs)


def test_every_generated_module_has_an_equivalence_case():
    """A new spec in specs/ must come with a reference comparison here (or in a variant test)."""
    from conftest import REPO_ROOT

    covered = {c[0] for c in CASES} | {c[0] for c in globals().get("EXTRA_COVERED", [])}
    sub_specs = {"channel_attention", "spatial_attention"}  # covered through their parents
    missing = {p.stem for p in (REPO_ROOT / "specs").glob("*.yaml")} - covered - sub_specs
    assert not missing, f"no equivalence test for: {sorted(missing)}"
