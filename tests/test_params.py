"""`attngen params`: counts from the spec alone equal the generated modules' own counts."""

import importlib.util
import re
import sys

import pytest
import torch
from attngen.cli import main
from attngen.counts import param_values, total
from attngen.errors import SpecError
from attngen.loader import load
from attngen.params import check_requires, parse_sets
from conftest import REPO_ROOT

SPECS = sorted((REPO_ROOT / "specs").glob("*.yaml")) + \
    sorted((REPO_ROOT / "specs" / "variants").glob("*.yaml"))


def _generated_class(path, spec):
    rel = path.relative_to(REPO_ROOT / "specs").with_suffix(".py")
    gen = REPO_ROOT / "generated" / rel
    if not gen.is_file():
        pytest.skip(f"{gen} not built yet (tests/test_build.py checks freshness)")
    name = "_attngen_params_" + re.sub(r"\W", "_", str(rel))
    mod_spec = importlib.util.spec_from_file_location(name, gen)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = module
    mod_spec.loader.exec_module(module)
    return getattr(module, spec.name)


def _torch_count(cls, spec, overrides):
    kwargs = {p.name: p.sample for p in spec.params.values()}
    kwargs.update(overrides)
    try:
        with torch.device("meta"):  # shapes only: no memory, no init cost
            module = cls(**kwargs)
    except RuntimeError:  # an __init__ that computes with tensors (torch.log2(...).item())
        module = cls(**kwargs)
    return sum(p.numel() for p in module.parameters())


def _candidates(spec):
    """One changed value per param, as `--set` text, where the change is allowed."""
    for p in spec.params.values():
        v = p.sample
        if p.choices:
            new = [c for c in p.choices if c != v][:1]
        elif p.type == "bool":
            new = [not v]
        elif p.type == "int" and isinstance(v, int):
            new = [v * 2, v * 2 + 1] if v else [1]  # +1: odd kernels
        elif p.type == "float" and isinstance(v, (int, float)):
            new = [v / 2]
        elif p.type == "list" and isinstance(v, list) and len(v) > 1:
            new = [v[:-1]]
        else:
            new = []
        for value in new:
            yield f"{p.name}={value!r}"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_total_matches_the_generated_module(path):
    spec = load(path)
    cls = _generated_class(path, spec)
    assert total(spec) == _torch_count(cls, spec, {})
    tried = 0
    for text in _candidates(spec):
        overrides = parse_sets(spec, [text])
        try:
            check_requires(spec, param_values(spec, overrides))
        except SpecError:
            continue  # e.g. an even kernel size: not a valid setting
        assert total(spec, overrides) == _torch_count(cls, spec, overrides), text
        tried += 1
    assert tried or not spec.params


def test_cli_table_and_set(capsys):
    assert main(["params", "specs/se.yaml"]) == 0
    out = capsys.readouterr().out
    assert "fc" in out and "seq(Linear, ReLU, Linear, Sigmoid)" in out
    assert re.search(r"total\s+32,768$", out, re.MULTILINE)
    assert main(["params", "se", "--set", "channel=256", "--set", "reduction=8"]) == 0
    out = capsys.readouterr().out
    assert "channel=256 (set)" in out and re.search(r"total\s+16,384$", out, re.MULTILINE)
    # an expression, reading another param
    assert main(["params", "se", "--set", "reduction=channel // 128", "--total"]) == 0
    assert capsys.readouterr().out.strip() == str(2 * 512 * 128)


def test_set_takes_the_yaml_spelling_of_bools_and_null(capsys):
    """`--set no_spatial=true` as the spec writes it (True works too)."""
    for word in ("true", "True"):
        assert main(["params", "triplet", "--set", f"no_spatial={word}"]) == 0
        assert "no_spatial=True (set)" in capsys.readouterr().out


def test_required_param_uses_the_example(capsys):
    assert main(["params", "cbam"]) == 0
    assert "in_planes=64 (example)" in capsys.readouterr().out
    assert main(["params", "cbam", "--set", "in_planes=128", "--total"]) == 0
    assert capsys.readouterr().out.strip() == str(total(load(REPO_ROOT / "specs/cbam.yaml"),
                                                        {"in_planes": 128}))


def test_list_and_bool_values(capsys):
    assert main(["params", "sk", "--set", "kernels=[3, 5]", "--total"]) == 0
    assert capsys.readouterr().out.strip() == "9015360"
    assert main(["params", "triplet", "--set", "no_spatial=True", "--total"]) == 0
    assert capsys.readouterr().out.strip() == "200"


@pytest.mark.parametrize("setting, fragment", [
    ("chanel=3", "has no param 'chanel'; did you mean 'channel'?"),
    ("channel", "is not NAME=VALUE"),
    ("=3", "is not NAME=VALUE"),
    ("channel=", "is not NAME=VALUE"),
    ("channel=3.5", "value 3.5 is not of type int"),
    ("channel=[1, 2]", "is not of type int"),
    ("channel=__import__('os')", "error[E20"),
    ("channel=open", "unknown name 'open'"),
    ("channel=2 +", "error[E200]"),
    ("channel=nosuch * 2", "unknown name 'nosuch'"),
])
def test_bad_set_values(capsys, setting, fragment):
    assert main(["params", "se", "--set", setting]) == 1
    err = capsys.readouterr().err
    assert fragment in err, err
    assert "Traceback" not in err


def test_set_must_respect_choices_and_requires(capsys):
    assert main(["params", "cbam", "--set", "kernel_size=5"]) == 1
    assert "is not one of [3, 7]" in capsys.readouterr().err
    assert main(["params", "eca", "--set", "kernel_size=4"]) == 1
    err = capsys.readouterr().err
    assert "specs/eca.yaml:" in err and "error[E405]" in err and "kernel_size=4" in err


def test_a_let_is_not_settable(capsys):
    assert main(["params", str(REPO_ROOT / "specs/variants/eca_adaptive.yaml"),
                 "--set", "kernel_size=5"]) == 1
    assert "a derived value (let), not a param" in capsys.readouterr().err


def test_unknown_spec_and_folder(capsys):
    assert main(["params", "ecaa"]) == 1
    assert "did you mean 'eca'?" in capsys.readouterr().err
    assert main(["params", str(REPO_ROOT / "specs")]) == 2


@pytest.mark.parametrize("setting, fragment", [
    ("channel=8", "channel // reduction, is 0 at the default sizes"),  # Linear(8, 0)
    ("channel=-4", "dim 1 of input 'x', channel, is -4"),
    ("reduction=1024", "channel // reduction, is 0"),
])
def test_no_count_for_values_that_make_no_valid_module(capsys, setting, fragment):
    assert main(["params", "se", "--set", setting, "--total"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert fragment in captured.err and "error[E403]" in captured.err
    assert f"note: with {setting} (--set) as the defaults" in captured.err


def test_the_api_refuses_such_values_too():
    import attngen
    from attngen.errors import SpecError

    se = attngen.load("se")
    assert se.param_count(channel=256) == 2 * 256 * 16
    with pytest.raises(SpecError, match="is 0 at the default sizes"):
        se.param_count(channel=8)
