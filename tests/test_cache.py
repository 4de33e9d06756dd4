"""The build cache: same bytes as a full build, and a miss whenever anything it came from
changed (the spec, a `use:` sub-spec, an `extends:` base, a file that would now shadow a
built-in, the options)."""

from __future__ import annotations

import json
import re
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
    assert set(data) == {"format", "key", "deps", "files", "warnings", "digest"}


def test_failing_specs_are_not_cached_and_still_fail(cached, tmp_path, capsys):
    (cached / "bad.yaml").write_text("name: Bad\ninputs:\n  x: [B]\ngraph: {}\noutputs: y\n")
    assert main(["build", "--no-svg", str(cached), "-o", str(tmp_path / "a")]) == 1
    assert main(["build", "--no-svg", str(cached), "-o", str(tmp_path / "a")]) == 1
    assert "error[" in capsys.readouterr().err
    assert not (tmp_path / "a" / "bad.py").exists()  # the good specs are built


def test_a_hit_prints_the_warnings_a_build_prints(cached, tmp_path, capsys):
    shutil.copy(SPECS / "coordatt.yaml", cached)
    shutil.copy(SPECS / "h_swish.yaml", cached)
    shutil.copy(SPECS / "h_sigmoid.yaml", cached)
    build(cached, tmp_path / "a")
    first = capsys.readouterr().err
    assert first.count("warning[W100]") == 2 and "coordatt.yaml:19:" in first
    hits = len(entries(tmp_path))
    build(cached, tmp_path / "b")  # every spec from the cache
    assert capsys.readouterr().err == first and len(entries(tmp_path)) == hits
    out = tmp_path / "c"
    assert main(["build", "--no-svg", "-W", "error", str(cached), "-o", str(out)]) == 1
    assert "error[W100]" in capsys.readouterr().err and not (out / "coordatt.py").exists()


def test_an_entry_with_malformed_warnings_and_a_valid_digest_is_a_miss(cached, tmp_path):
    from attngen import cache

    build(cached, tmp_path / "a")
    entry, data = _entry_of(tmp_path, "se")
    bad = [["se.yaml", "1", 2, "W100", "text", []]]  # a line that is no number
    data.update(warnings=bad, digest=cache._content_digest(entry.stem, data["deps"],
                                                           data["files"], bad))
    entry.write_text(json.dumps(data))
    _rebuilt_correctly(cached, tmp_path, entry)
    assert json.loads(entry.read_text())["warnings"] == []  # not served: stored anew


def test_off_switches(cached, tmp_path, monkeypatch):
    build(cached, tmp_path / "a", "--no-cache")
    assert entries(tmp_path) == []
    monkeypatch.setenv("ATTNGEN_NO_CACHE", "1")
    build(cached, tmp_path / "b")
    assert entries(tmp_path) == []


# -- issue 18, item 4: what a hit rests on --------------------------------------------------
def _reduction(source: bytes) -> str:
    """The default of `reduction` in a generated constructor (`reduction: int = 16`)."""
    return re.split(r"[,)]", source.decode().split("reduction: int = ", 1)[1], maxsplit=1)[0]


def test_an_edit_during_a_build_is_never_served_as_built(cached, tmp_path, monkeypatch, capsys):
    """The spec changes after it was parsed and before its entry is stored (an editor
    saving while the build runs): the entry must not claim the new bytes."""
    from attngen import build as build_module

    spec = cached / "se.yaml"
    real = build_module._build_one

    def edit_after_parsing(path, *args):
        arts = real(path, *args)
        if path.name == "se.yaml":
            spec.write_text(spec.read_text().replace("reduction: {default: 16",
                                                     "reduction: {default: 4"))
        return arts

    monkeypatch.setattr(build_module, "_build_one", edit_after_parsing)
    first = build(cached, tmp_path / "a")
    assert _reduction(first["se.py"]) == "16"  # what was parsed
    monkeypatch.setattr(build_module, "_build_one", real)
    capsys.readouterr()
    assert main(["build", "--check", "--no-svg", str(cached), "-o", str(tmp_path / "a")]) == 1
    assert f"stale: {tmp_path / 'a' / 'se.py'}" in capsys.readouterr().out
    assert _reduction(build(cached, tmp_path / "a")["se.py"]) == "4"


@pytest.mark.parametrize("library", ["sympy", "Jinja2", "networkx", "PyYAML", "python"])
def test_a_library_or_python_upgrade_misses(cached, tmp_path, monkeypatch, library):
    from importlib import metadata

    from attngen import cache

    build(cached, tmp_path / "a")
    assert len(entries(tmp_path)) == 4
    real = metadata.version
    if library == "python":
        monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    else:
        monkeypatch.setattr(metadata, "version",
                            lambda name: "999.0" if name == library else real(name))
    if hasattr(cache, "library_versions"):
        monkeypatch.setattr(cache, "library_versions", cache.library_versions.__wrapped__)
    build(cached, tmp_path / "b")
    assert len(entries(tmp_path)) == 8  # every spec missed and was stored under a new key


def _entry_of(tmp_path, stem: str):
    for path in entries(tmp_path):
        data = json.loads(path.read_text())
        if [p.rsplit("/", 1)[-1] for p in data["deps"]] == [f"{stem}.yaml"]:
            return path, data
    raise AssertionError(f"no entry for {stem}")


def _rebuilt_correctly(cached, tmp_path, entry):
    """The next build equals a full build, and the entry is valid again afterwards."""
    assert build(cached, tmp_path / "b") == build(cached, tmp_path / "c", "--no-cache")
    data = json.loads(entry.read_text())
    assert "hand-edited" not in data["files"][".py"]
    assert build(cached, tmp_path / "d") == build(cached, tmp_path / "c", "--no-cache")


def test_a_hand_edited_entry_is_never_served(cached, tmp_path):
    build(cached, tmp_path / "a")
    entry, data = _entry_of(tmp_path, "se")
    data["files"][".py"] = "# hand-edited\n" + data["files"][".py"]
    entry.write_text(json.dumps(data))  # still valid JSON, right keys and types
    _rebuilt_correctly(cached, tmp_path, entry)


def test_a_truncated_entry_is_a_miss(cached, tmp_path):
    build(cached, tmp_path / "a")
    entry, _ = _entry_of(tmp_path, "se")
    raw = entry.read_bytes()
    entry.write_bytes(raw[: len(raw) // 2])
    _rebuilt_correctly(cached, tmp_path, entry)


@pytest.mark.parametrize("mangle", [
    lambda d: {**d, "deps": list(d["deps"])},
    lambda d: {**d, "deps": {p: 5 for p in d["deps"]}},
    lambda d: {**d, "files": {".py": 5, ".dot": 6}},
    lambda d: {**d, "files": {".py": ["x"], ".dot": None}},
    lambda d: {**d, "files": "text"},
    lambda d: [d],
    lambda d: "entry",
    lambda d: {**d, "deps": {"a\u0000b": None, **d["deps"]}},
    lambda d: {**d, "files": {k: v + "\ud800" for k, v in d["files"].items()}},
    lambda d: {**d, "digest": 12345678901234567890},
    lambda d: {k: v for k, v in d.items() if k != "digest"},
    lambda d: {**d, "warnings": [["se.yaml", "1", 2, "W100", "text", []]]},
    lambda d: {**d, "warnings": "W100"},
    lambda d: {k: v for k, v in d.items() if k != "warnings"},
], ids=["deps-list", "dep-hash-int", "file-int", "file-list", "files-str", "list", "str",
        "nul-dep", "surrogate", "digest-int", "no-digest", "warning-line-str", "warnings-str",
        "no-warnings"])
def test_an_entry_with_wrong_types_is_a_miss(cached, tmp_path, mangle):
    build(cached, tmp_path / "a")
    entry, data = _entry_of(tmp_path, "se")
    entry.write_text(json.dumps(mangle(data)))
    _rebuilt_correctly(cached, tmp_path, entry)


def test_a_well_formed_entry_with_a_valid_digest_but_wrong_types_is_a_miss(cached, tmp_path):
    from attngen import cache

    build(cached, tmp_path / "a")
    entry, data = _entry_of(tmp_path, "se")
    key = entry.stem
    files = {".py": 5, ".dot": 6}
    data.update(files=files,
                digest=cache._content_digest(key, data["deps"], files, data["warnings"]))
    entry.write_text(json.dumps(data))
    _rebuilt_correctly(cached, tmp_path, entry)


def test_a_deeply_nested_entry_is_a_miss_not_a_traceback(cached, tmp_path):
    build(cached, tmp_path / "a")
    entry, _ = _entry_of(tmp_path, "se")
    entry.write_text("[" * 100_000 + "]" * 100_000)
    _rebuilt_correctly(cached, tmp_path, entry)


def _run(argv, cwd, env_extra):
    """The CLI in a child process with a time limit and 2 GiB of address space at most."""
    import os
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO_ROOT / "codegen")}
    env.pop("ATTNGEN_NO_CACHE", None)
    return subprocess.run([sys.executable, "-m", "attngen.cli", *map(str, argv)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=limit, check=False)


def test_special_files_in_the_cache_or_as_a_dependency_are_never_read(cached, tmp_path):
    import os

    from attngen import cache

    build(cached, tmp_path / "a")
    link, _ = _entry_of(tmp_path, "se")
    entry, data = _entry_of(tmp_path, "spatial_attention")
    link.unlink()
    link.symlink_to("/dev/zero")  # an entry that is a link to an endless file
    # an entry with an endless dependency
    deps = {"/dev/zero": "0" * 64, **data["deps"]}
    digest = cache._content_digest(entry.stem, deps, data["files"], data["warnings"]) \
        if hasattr(cache, "_content_digest") else None
    entry.write_text(json.dumps({**data, "deps": deps, "digest": digest}))
    sub = cached / "channel_attention.yaml"  # a dependency replaced by a FIFO
    sub.unlink()
    os.mkfifo(sub)
    res = _run(["build", "--no-svg", cached, "-o", tmp_path / "b"], tmp_path,
               {"ATTNGEN_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "channel_attention.yaml: error[E500]: is a FIFO (named pipe), not a spec file" \
        in res.stderr


def test_a_failed_entry_write_leaves_no_temporary_file_and_old_ones_are_pruned(
        cached, tmp_path, monkeypatch):
    import errno
    import os

    folder = tmp_path / "cache"
    folder.mkdir()
    old = [".entry.abcd1234.tmp", f".{'0' * 64}.json.zz_12345.tmp"]
    for name in old:
        (folder / name).write_text("left by a killed build")
    real_replace = os.replace

    def full(src, dst, *args, **kwargs):
        if str(dst).startswith(str(folder)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    first = build(cached, tmp_path / "a")  # the cache fails; the build does not
    assert sorted(p.name for p in folder.iterdir()) == sorted(old)
    monkeypatch.setattr(os, "replace", real_replace)
    assert build(cached, tmp_path / "b") == first
    assert len(entries(tmp_path)) == 4
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_the_cache_counts_its_folder_once_a_build_and_prunes_the_oldest_in_batches(
        tmp_path, monkeypatch):
    import os

    from attngen import cache

    monkeypatch.setattr(cache, "MAX_ENTRIES", 10)
    monkeypatch.setattr(cache, "PRUNE_TO", 6)
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / ".entry.abcd1234.tmp").write_text("left by a killed build")
    listings = []
    real_scandir = os.scandir
    store = cache.BuildCache(folder, svg=False)
    monkeypatch.setattr(os, "scandir", lambda path: listings.append(path) or real_scandir(path))
    keys = [f"{k:064x}" for k in range(25)]
    for k, key in enumerate(keys):
        store.put(key, {}, {".py": b"x = 1\n"})
        if (folder / f"{key}.json").exists():
            os.utime(folder / f"{key}.json", (1000 + k, 1000 + k))  # oldest first
    monkeypatch.setattr(os, "scandir", real_scandir)  # pathlib's glob lists too
    kept = sorted(p.stem for p in folder.glob("*.json"))
    # 25 stores: pruned to 6 at the 11th, 16th and 21st, then 4 more
    assert kept == keys[-10:]
    assert not (folder / ".entry.abcd1234.tmp").exists()  # the first store tidies
    # one listing for leftovers and one count at the first store, one per prune: not 25
    assert listings == [folder] * 5
    monkeypatch.setattr(os, "scandir", lambda path: listings.append(path) or real_scandir(path))
    for _ in range(20):  # a spec rebuilt again and again replaces its entry: no prune
        store.put(keys[-1], {}, {".py": b"x = 2\n"})
    assert listings == [folder] * 5
    monkeypatch.setattr(os, "scandir", real_scandir)
    assert len(list(folder.glob("*.json"))) == 10
    assert store.get(keys[-1]) is not None


def test_a_file_a_loop_body_uses_is_a_dependency(tmp_path, monkeypatch):
    """A `use:` inside a `body:` is read by the spec's file: editing the used spec rebuilds
    the spec (the body's own path, `FILE#NODE`, is no file)."""
    monkeypatch.delenv("ATTNGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("ATTNGEN_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    for name in ("mobilevit_transformer", "prenorm_attention", "prenorm_feed_forward",
                 "vit_attention", "feed_forward"):
        shutil.copy(SPECS / f"{name}.yaml", work)
    monkeypatch.chdir(tmp_path)
    build(work, tmp_path / "a")
    ff = work / "feed_forward.yaml"
    ff.write_text(ff.read_text().replace("{op: SiLU}", "{op: GELU}"), encoding="utf-8")
    again = build(work, tmp_path / "b")
    assert b"nn.GELU()" in again["mobilevit_transformer.py"]
    assert again == build(work, tmp_path / "c", "--no-cache")
