"""Every generated module against its hand-written reference.

Same constructor, reference state_dict loaded with strict=True, same outputs and
gradients (eval mode, non-trivial BatchNorm statistics, non-square inputs,
batch > 1), for at least two constructor settings each. Add a module by adding a
file with CASES to tests/equiv_cases/. A module whose attention is fused (fusion.py) is
checked in both forms: the generated file and the plain form (`build --no-fuse`), built in
memory.
"""

import importlib
import pkgutil

import equiv_cases
import pytest
from conftest import REPO_ROOT
from equivalence import assert_equivalent, is_fused, load_generated, load_plain

_FILES = [importlib.import_module(f"equiv_cases.{m.name}")
          for m in pkgutil.iter_modules(equiv_cases.__path__)]
CASES = [case for f in _FILES for case in f.CASES]
COVERED = {c[0] for c in CASES}.union(*(getattr(f, "COVERS", set()) for f in _FILES))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


PLAIN_CASES = [case for case in CASES if is_fused(case[0])]


@pytest.mark.parametrize("case", PLAIN_CASES, ids=[_case_id(c) for c in PLAIN_CASES])
def test_plain_form_matches_reference(case):
    file, cls, ref, args, kwargs, inputs = case
    module_name, ref_cls = ref.split(":")
    reference = getattr(importlib.import_module(f"references.{module_name}"), ref_cls)
    assert_equivalent(load_plain(file)[cls], reference, args, kwargs, inputs)


def test_the_fused_modules_are_the_attention_ones():
    """The fusion pass finds written-out attention where it is and nowhere else."""
    assert {c[0] for c in PLAIN_CASES} == {"sdpa", "simplified_sdpa", "danet", "emsa",
                                           "muse_attention", "mobilevit_attention",
                                           "mobilevit_transformer", "coatnet",
                                           "window_attention", "pvt_attention"}
    assert {p.stem for p in (REPO_ROOT / "generated").glob("*.py") if is_fused(p.stem)} == {
        "sdpa", "simplified_sdpa", "danet", "position_attention", "channel_attention_module",
        "emsa", "muse_attention", "vit_attention", "prenorm_attention", "mobilevit_transformer",
        "mobilevit_attention", "coatnet", "window_attention", "pvt_attention"}


def test_every_built_in_spec_has_an_equivalence_case():
    """A new spec in specs/ must come with reference rows in tests/equiv_cases/."""
    missing = {p.stem for p in (REPO_ROOT / "specs").glob("*.yaml")} - COVERED
    assert not missing, f"no equivalence case for: {sorted(missing)}"


def test_every_class_has_two_settings():
    per_class = {}
    for file, cls, *_ in CASES:
        per_class[(file, cls)] = per_class.get((file, cls), 0) + 1
    few = [k for k, n in per_class.items() if n < 2 and k[1] not in _SINGLE_OK]
    assert not few, f"fewer than two constructor settings: {few}"


_SINGLE_OK = {"ChannelAttention", "SpatialAttention"}  # also run with two settings via CBAM
