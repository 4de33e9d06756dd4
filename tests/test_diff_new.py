"""`attngen diff` and `attngen new`."""

import re
import shlex

import pytest
from attngen.cli import main
from conftest import REPO_ROOT

SE = str(REPO_ROOT / "specs/se.yaml")
VARIANTS = REPO_ROOT / "specs" / "variants"


def _diff(capsys, a, b):
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out
    return out.splitlines()


def test_diff_se_vs_se_max(capsys):
    lines = _diff(capsys, SE, VARIANTS / "se_max.yaml")
    assert "  - avg_pool: AdaptiveAvgPool2d(output_size=1) <- x" in lines
    assert "  + max_pool: AdaptiveMaxPool2d(output_size=1) <- x" in lines
    assert "  ~ squeeze: in: avg_pool -> max_pool" in lines
    assert "shapes:" not in lines  # same shapes throughout
    assert lines[-1] == "parameters at the defaults: 32,768 -> 32,768 (+0)"


def test_diff_se_vs_se_avgmax(capsys):
    lines = _diff(capsys, "se", VARIANTS / "se_avgmax.yaml")
    assert "  + pooled: add <- avg_pool, max_pool" in lines
    assert "  ~ squeeze: in: avg_pool -> pooled" in lines
    assert not any(line.startswith("  - ") for line in lines)


def test_diff_params_shapes_and_count(capsys):
    lines = _diff(capsys, "cbam", VARIANTS / "cbam_channel_only.yaml")
    assert "  - kernel_size: 7, type int, choices [3, 7]" in lines
    assert any(line.startswith("  - sa: use spatial_attention") for line in lines)
    assert "outputs: result -> out" in lines
    assert lines[-1] == "parameters at the defaults: 610 -> 512 (-98)"
    lines = _diff(capsys, "eca", VARIANTS / "eca_adaptive.yaml")
    assert "  ~ conv: (B, 1, C) -> (B, 1, channel)" in lines
    assert "  + kernel_size: t if t % 2 else t + 1" in lines


def test_diff_default_change_and_arg_change(capsys, tmp_path):
    v = tmp_path / "se_v.yaml"
    v.write_text("extends: se\nname: SEv\nparams:\n  reduction: 8\nedits:\n"
                 "  - patch: weight\n    set: {to: [B, channel, 1, 1]}\n"
                 "  - replace: fc\n    with: {op: Linear, args: [channel, channel], in: squeeze,"
                 " shape: [B, channel]}\n")
    lines = _diff(capsys, SE, v)
    assert "  ~ reduction: 16, type int -> 8, type int" in lines
    assert "  ~ fc: op: seq -> Linear" in lines
    assert any(line.startswith("  ~ fc: args: ") for line in lines)
    assert (
        lines[-1]
        == "parameters at the defaults: 32,768 -> "
        f"{512 * 512 + 512:,} (+{512 * 512 + 512 - 32768:,})"
    )


def test_diff_identical_and_errors(capsys):
    lines = _diff(capsys, SE, SE)
    assert lines[2:] == ["parameters at the defaults: 32,768 -> 32,768 (+0)"]
    assert main(["diff", SE, "nosuch"]) == 1
    assert "no such file, folder or built-in spec" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["diff", SE])
    assert exc.value.code == 2


def test_new_writes_a_skeleton_that_builds(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "se_wide", "--from", "se"]) == 0
    text = (tmp_path / "se_wide.yaml").read_text()
    assert "extends: se\n" in text and "name: SeWide\n" in text and "edits: []\n" in text
    for verb in ("replace", "insert_after", "patch", "rename", "remove"):
        assert f"#   - {verb}: " in text
    assert main(["build", "se_wide.yaml", "-o", "out", "--no-svg"]) == 0
    source = (tmp_path / "out" / "se_wide.py").read_text()
    assert "class SeWide(nn.Module):" in source
    capsys.readouterr()
    assert main(["diff", "se", "se_wide.yaml"]) == 0  # only the names differ
    out = capsys.readouterr().out
    assert "nodes:" not in out and "params:" not in out


def test_new_refuses_to_clobber(tmp_path, capsys):
    target = tmp_path / "mine.yaml"
    target.write_text("keep me")
    assert main(["new", "mine", "--from", "eca", "-o", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_new_from_a_file_uses_a_relative_path(tmp_path, capsys):
    out = tmp_path / "deep" / "er"
    assert main(["new", "my-se.max", "--from", str(VARIANTS / "se_max.yaml"), "-o", str(out)]) == 0
    text = (out / "my-se.max.yaml").read_text()
    assert "name: MySeMax\n" in text
    ref = next(line for line in text.splitlines() if line.startswith("extends:"))
    assert "se_max.yaml" in ref and not ref.split(":", 1)[1].strip().strip('"').startswith("/")
    # the folders the printed build command names with -I (the base's, where it lies outside
    # the new file's tree and the built-in library, as in a non-editable install)
    hint = re.search(r"build it with `attngen build (.*)`", capsys.readouterr().out)
    assert hint, "the build command is printed"
    words = shlex.split(hint.group(1))
    include = []
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "-I":
            include += ["-I", value]
    assert main(["check", "-q", *include, str(out / "my-se.max.yaml")]) == 0


def test_new_named_like_its_base_does_not_extend_itself(tmp_path, capsys):
    assert main(["new", "eca", "--from", "eca", "-o", str(tmp_path)]) == 0
    assert main(["check", "-q", str(tmp_path / "eca.yaml")]) == 0


@pytest.mark.parametrize("argv, code, fragment", [
    (["new", "9lives", "--from", "se"], 2, "no valid class name"),
    (["new", "a/b", "--from", "se"], 2, "plain file stem"),
    (["new", "ok", "--from", "sse"], 1, "did you mean 'se'?"),
    (["new", "ok"], 2, "--from"),
])
def test_new_bad_arguments(tmp_path, capsys, monkeypatch, argv, code, fragment):
    monkeypatch.chdir(tmp_path)
    if code == 2 and argv[-1] != "se":
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    else:
        assert main(argv) == code
    assert fragment in capsys.readouterr().err
    assert not list(tmp_path.glob("*.yaml"))
