"""The build cache: same bytes as a full build, and a miss whenever anything it came from
changed (the spec, a `use:` sub-spec, an `extends:` base, a file that would now shadow a
built-in, the options)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from attngen import render
from attngen.cli import main
from conftest import REPO_ROOT

SPECS = REPO_ROOT / "specs"


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A private cache folder, caching on; a working copy of CBAM and its sub-specs."""
    monkeypatch.delenv("ATTNGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("ATTNGEN_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    for name in ("cbam", "channel_attention", "spatial_attention", "se"):
        shutil.copy(SPECS / f"{name}.yaml", work)
    monkeypatch.chdir(tmp_path)
    return work


def build(folder, out, *extra) -> dict[str, bytes]:
    assert main(["build", "--no-svg", str(folder), "-o", str(out), *extra]) == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def entries(tmp_path):
    return sorted((tmp_path / "cache").glob("*.json"))


def test_cached_build_equals_a_full_build(cached, tmp_path):
    first = build(cached, tmp_path / "a")
    assert len(entries(tmp_path)) == 4
    again = build(cached, tmp_path / "b")  # every spec from the cache
    full = build(cached, tmp_path / "c", "--no-cache")
    assert first == again == full


def test_a_hit_does_not_import_sympy(cached, tmp_path):
    build(cached, tmp_path / "a")
    code = ("import sys; from attngen.cli import main; "
            f"assert main(['build', '--no-svg', {str(cached)!r}, '-o', {str(tmp_path / 'b')!r}]) "
            "== 0; print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split()[-1] == "False"


def test_editing_a_sub_spec_rebuilds_its_users(cached, tmp_path):
    before = build(cached, tmp_path / "a")
    path = cached / "channel_attention.yaml"
    path.write_text(path.read_text().replace("ratio: {default: 16", "ratio: {default: 8"))
    after = build(cached, tmp_path / "a")
    assert "ratio: int = 8" in after["cbam.py"].decode()
    assert "ratio: int = 8" not in before["cbam.py"].decode()
    assert after["se.py"] == before["se.py"]


def test_editing_an_extends_base_rebuilds_the_variant(cached, tmp_path):
    (cached / "se_max.yaml").write_text(
        "extends: se.yaml\nname: SEMax\nedits:\n"
        "  - replace: avg_pool\n"
        "    with: {op: AdaptiveMaxPool2d, args: [1], in: x, shape: [B, channel, 1, 1]}\n")
    build(cached, tmp_path / "a")
    base = cached / "se.yaml"
    base.write_text(base.read_text().replace("reduction: {default: 16", "reduction: {default: 4"))
    after = build(cached, tmp_path / "a")
    assert "reduction: int = 4" in after["se_max.py"].decode()


def test_a_new_file_that_shadows_a_builtin_is_seen(cached, tmp_path):
    (cached / "user.yaml").write_text(
        "name: User\ninputs:\n  x: [B, C, H, W]\n"
        "graph:\n  eca: {use: eca, in: x}\noutputs: eca\n")
    before = build(cached, tmp_path / "a")
    assert "class ECAAttention" in before["user.py"].decode()
    local = (SPECS / "eca.yaml").read_text().replace("name: ECAAttention", "name: LocalECA")
    (cached / "eca.yaml").write_text(local)  # now `use: eca` finds this file first
    after = build(cached, tmp_path / "a")
    assert "class LocalECA" in after["user.py"].decode()


@pytest.mark.skipif(not render.available_backends(), reason="no SVG renderer")
def test_options_are_part_of_the_key(cached, tmp_path):
    build(cached, tmp_path / "a")  # cached without SVGs
    assert main(["build", str(cached), "-o", str(tmp_path / "svg")]) == 0
    assert sorted(p.name for p in (tmp_path / "svg").glob("*.svg")) == [
        "cbam.svg", "channel_attention.svg", "se.svg", "spatial_attention.svg"]


def test_spec_refs_is_part_of_the_key(cached, tmp_path):
    """A build with --spec-refs and one without never serve each other's bytes."""
    plain = build(cached, tmp_path / "a")
    refs = build(cached, tmp_path / "b", "--spec-refs")
    assert "[work/se.yaml:13]" in refs["se.py"].decode()
    assert "[work/" not in plain["se.py"].decode()
    assert build(cached, tmp_path / "c") == plain  # hits, each from its own entries
    assert build(cached, tmp_path / "d", "--spec-refs") == refs
    assert len(entries(tmp_path)) == 8  # four specs, each in two forms


def test_a_broken_entry_is_ignored(cached, tmp_path):
    build(cached, tmp_path / "a")
    for entry in entries(tmp_path):
        entry.write_text("{not json")
    assert build(cached, tmp_path / "b") == build(cached, tmp_path / "c", "--no-cache")
    data = json.loads(entries(tmp_path)[0].read_text())  # rewritten by the rebuild
    assert set(data) == {"deps", "files"}


def test_failing_specs_are_not_cached_and_still_fail(cached, tmp_path, capsys):
    (cached / "bad.yaml").write_text("name: Bad\ninputs:\n  x: [B]\ngraph: {}\noutputs: y\n")
    assert main(["build", "--no-svg", str(cached), "-o", str(tmp_path / "a")]) == 1
    assert main(["build", "--no-svg", str(cached), "-o", str(tmp_path / "a")]) == 1
    assert "error[" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_off_switches(cached, tmp_path, monkeypatch):
    build(cached, tmp_path / "a", "--no-cache")
    assert entries(tmp_path) == []
    monkeypatch.setenv("ATTNGEN_NO_CACHE", "1")
    build(cached, tmp_path / "b")
    assert entries(tmp_path) == []
