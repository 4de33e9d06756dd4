"""Ops from installed packages (`attngen.ops` entry points, ops/plugins.py): the example
plugin of docs/plugins.md installed into a fresh venv and built with; lazy loading (never on
`import attngen` or a cached build); where each op comes from; clashes and plugins that fail
to load; the build cache's key."""

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest
from attngen import cache, docs, ops
from attngen.cli import main
from attngen.ops import base, plugins
from conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "tests/plugins/attngen_fft"
PAGE = (REPO_ROOT / "docs/plugins.md").read_text(encoding="utf-8")
SPECTRUM = """\
name: Spectrum
inputs:
  x: [B, C, H, W]
graph:
  spec: {op: spectrum, in: x, norm: ortho, shape: [B, C, H, W // 2 + 1]}
outputs: spec
"""


def _run(*cmd, env=None, cwd=None):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False,
                          env=env, cwd=cwd)


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", PAGE, re.MULTILINE | re.DOTALL)


def test_the_page_shows_the_example_package_as_it_is():
    assert _blocks("toml") == [(EXAMPLE / "pyproject.toml").read_text()]
    assert _blocks("python")[0] == (EXAMPLE / "attngen_fft/__init__.py").read_text()


def test_the_example_plugin_installed_in_a_venv_is_listed_and_builds(tmp_path):
    """docs/plugins.md's package, pip-installed beside attngen in a fresh venv: `attngen ops`
    lists spectrum under its distribution, the page's spec builds to torch.fft.rfft2 (the
    excerpt it shows) and runs, and its complex output fed to a convolution is E402."""
    pytest.importorskip("hatchling")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin/python"
    # torch, sympy, Jinja2 and hatchling from the venv the tests run in (a venv made from a
    # venv sees the base interpreter's packages, not its parent's)
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
                     ).stdout.strip())
    (site / "zz_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["ATTNGEN_NO_CACHE"] = "1"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
           "--no-build-isolation", "--no-index"]
    proc = _run(*pip, REPO_ROOT, EXAMPLE, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    attngen = env_dir / "bin/attngen"

    proc = _run(attngen, "ops", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# attngen (built-in, ")
    listing = _blocks("text")[0]
    assert proc.stdout.endswith("\n\n" + listing), proc.stdout[-600:]

    spectrum, spectral_conv = _blocks("yaml")
    (tmp_path / "spectrum.yaml").write_text(spectrum)
    proc = _run(attngen, "build", "--no-svg", "spectrum.yaml", "-o", "out", env=env,
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    source = (tmp_path / "out/spectrum.py").read_text()
    assert _blocks("python")[1] in source
    # the generated module runs, and gives what the spec says
    code = ("import sys, torch; sys.path.insert(0, 'out'); from spectrum import Spectrum; "
            "y = Spectrum()(torch.randn(2, 16, 8, 10)); "
            "assert y.shape == (2, 16, 8, 6) and y.is_complex(), (y.shape, y.dtype)")
    proc = _run(python, "-c", code, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    (tmp_path / "spectral_conv.yaml").write_text(spectral_conv)
    proc = _run(attngen, "check", "spectral_conv.yaml", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith(_blocks("text")[1]), proc.stderr


def test_an_op_of_a_plugin_that_is_not_installed_is_a_located_unknown_op(tmp_path, capsys):
    spec = tmp_path / "spectrum.yaml"
    spec.write_text(SPECTRUM)
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:5:14: error[E401]: unknown op 'spectrum'" in err, err
    assert "Traceback" not in err


# -- plugins written in place: a distribution is a .dist-info folder on the path ------------
def _plugin(site: Path, dist: str, module: str, code: str, *, value: str = "") -> Path:
    """A distribution `dist` 1.0 whose entry point names `value` (default: the module)."""
    site.mkdir(exist_ok=True)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[attngen.ops]\nops = {value or module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    return site


OP = """\
    from attngen.ops import ANY_DTYPE, Op, register

    register(Op("{name}", "reshape", (), lambda ctx, ins, args: ins[0], dtype=ANY_DTYPE,
                call="{{{{ x }}}}.clone()", rule="shape unchanged", summary="a copy"))
"""


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A registry holding the built-in ops whose plugins load from what is on sys.path when
    it is first read; `register` adds to it. The test's plugin modules are forgotten after."""
    registry = base.Registry()
    for op in ops.REGISTRY.values():
        registry.add(op)
    registry.load_on_first_read(plugins.load)
    monkeypatch.setattr(base, "REGISTRY", registry)  # what `register` adds to
    monkeypatch.setattr(ops, "REGISTRY", registry)  # what every stage reads
    yield registry
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_a_plugin_loads_once_on_first_read_and_records_its_source(tmp_path, monkeypatch, fresh):
    site = _plugin(tmp_path / "site", "attngen-copy", "copy_op", OP.format(name="copy"))
    _plugin(site, "attngen-made", "made_ops", """\
        from attngen.ops import ANY_DTYPE, Op

        def ops():
            return [Op("made", "reshape", (), lambda ctx, ins, args: ins[0], dtype=ANY_DTYPE,
                       call="{{ x }}.clone()", rule="shape unchanged", summary="a copy")]
    """, value="made_ops:ops")
    monkeypatch.syspath_prepend(str(site))
    assert "copy_op" not in sys.modules  # nothing is imported before the registry is read
    assert fresh["copy"].source == "attngen-copy 1.0"
    assert fresh["made"].source == "attngen-made 1.0"  # a callable's ops
    assert fresh["Conv2d"].source == ops.BUILTIN
    assert sum(op.source == ops.BUILTIN for op in fresh.values()) == len(fresh) - 2
    assert [line.split(" (files ")[0] for line in plugins.installed()] == [
        "plugin attngen-copy 1.0: ops = copy_op", "plugin attngen-made 1.0: ops = made_ops:ops"]


def test_the_ops_command_and_page_show_a_plugin_op_under_its_source(tmp_path, monkeypatch,
                                                                    fresh, capsys):
    site = _plugin(tmp_path / "site", "attngen-copy", "copy_op", OP.format(name="copy"))
    monkeypatch.syspath_prepend(str(site))
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n\n# attngen-copy 1.0 (plugin, 1 op)\nreshape    copy()  [function]  "
                        "a copy; shape unchanged; dtype any -> same; layout strided\n")
    assert "From attngen-copy 1.0 (not built in)." in docs.ops_markdown()
    assert "From attngen " not in docs.ops_markdown()


@pytest.mark.parametrize("clash", ["view", "copy"])
def test_an_op_name_taken_twice_is_an_error_naming_both_sources(tmp_path, monkeypatch, fresh,
                                                                clash):
    site = _plugin(tmp_path / "site", "attngen-a", "a_ops", OP.format(name="copy"))
    _plugin(site, "attngen-b", "b_ops", OP.format(name=clash))
    monkeypatch.syspath_prepend(str(site))
    first = "attngen" if clash == "view" else "attngen-a 1.0"
    message = f"op '{clash}' of attngen-b 1.0 clashes with op '{clash}' of {first}"
    with pytest.raises(ops.PluginError, match=message):
        fresh.get("view")
    with pytest.raises(ops.PluginError, match=message):  # every later read says it again
        len(fresh)


@pytest.mark.parametrize(("code", "value", "problem"), [
    ("import no_such_module\n", "", "ModuleNotFoundError: No module named 'no_such_module'"),
    ("def ops():\n    return 3\n", "bad:ops", "returned int, not a list of Op"),
    (OP.format(name="copy").replace('"reshape"', '"spectral"'), "",
     "op 'copy' of attngen-bad 1.0: unknown group spectral"),
])
def test_a_plugin_that_fails_to_load_names_its_distribution(tmp_path, monkeypatch, fresh, code,
                                                           value, problem):
    monkeypatch.syspath_prepend(str(_plugin(tmp_path / "site", "attngen-bad", "bad", code,
                                            value=value)))
    with pytest.raises(ops.PluginError) as info:
        fresh.get("view")
    assert "attngen-bad 1.0" in str(info.value) and problem in str(info.value)


def _attngen(site: Path, *args: str, code: str = "", **env: str) -> subprocess.CompletedProcess:
    """`attngen ARGS` (or `code`) in a fresh interpreter with `site` on the path."""
    env = {**os.environ, **env,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "codegen"), str(site)])}
    code = code or f"from attngen.cli import run; import sys; sys.argv[1:] = {list(args)!r}; run()"
    return _run(sys.executable, "-c", code, env=env)


def test_a_broken_plugin_is_one_line_of_the_command_and_an_api_error(tmp_path):
    site = _plugin(tmp_path / "site", "attngen-bad", "bad", "raise RuntimeError('no GPU')\n")
    proc = _attngen(site, "check", str(REPO_ROOT / "specs/se.yaml"))
    assert proc.returncode == 1
    assert proc.stderr == ("attngen: error: plugin attngen-bad 1.0 (entry point 'ops = bad' of "
                           "attngen.ops) failed to load: RuntimeError: no GPU\n")
    # the Python API raises it, with the same text
    proc = _attngen(site, code="import attngen\ntry:\n    attngen.load('se')\n"
                               "except attngen.PluginError as exc:\n    print(exc)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("failed to load: RuntimeError: no GPU\n")


def test_import_and_a_cached_build_never_import_plugins(tmp_path):
    """The registry loads plugins when first read; a cache hit never reads it."""
    site = _plugin(tmp_path / "site", "attngen-copy", "copy_op", OP.format(name="copy"))
    spec = tmp_path / "twice.yaml"
    spec.write_text(SPECTRUM.replace("spectrum", "copy").replace(", norm: ortho", "")
                    .replace("W // 2 + 1", "W"))
    build = (f"from attngen.cli import main; "
             f"rc = main(['build', '--no-svg', {str(spec)!r}, '-o', {str(tmp_path / 'o')!r}]); "
             "assert rc == 0, rc; ")
    cache_dir = str(tmp_path / "cache")
    proc = _attngen(site, code="import sys, attngen; assert 'copy_op' not in sys.modules; "
                               + build + "assert 'copy_op' in sys.modules",
                    ATTNGEN_CACHE_DIR=cache_dir, ATTNGEN_NO_CACHE="")
    assert proc.returncode == 0, proc.stderr
    proc = _attngen(site, code=build + "import sys; assert 'copy_op' not in sys.modules",
                    ATTNGEN_CACHE_DIR=cache_dir, ATTNGEN_NO_CACHE="")
    assert proc.returncode == 0, proc.stderr
    assert "x.clone()" in (tmp_path / "o/twice.py").read_text()


def test_the_cache_key_covers_the_installed_plugins(tmp_path, monkeypatch):
    built = cache.BuildCache(tmp_path, svg=False).key(tmp_path / "a.yaml", "a.yaml")
    site = _plugin(tmp_path / "site", "attngen-copy", "copy_op", OP.format(name="copy"))
    monkeypatch.syspath_prepend(str(site))

    def key() -> str:
        cache.library_versions.cache_clear()
        try:
            return cache.BuildCache(tmp_path, svg=False).key(tmp_path / "a.yaml", "a.yaml")
        finally:
            cache.library_versions.cache_clear()

    with_plugin = key()
    assert "plugin attngen-copy 1.0: ops = copy_op" in cache.library_versions()
    # the same version reinstalled with other code: its RECORD hashes differ
    (site / "attngen_copy-1.0.dist-info/RECORD").write_text("copy_op.py,sha256=abc,10\n")
    reinstalled = key()
    assert len({built, with_plugin, reinstalled}) == 3
    assert "copy_op" not in sys.modules  # read from metadata, not imported


def test_verify_finds_a_plugin_op_whose_dtype_rule_is_not_what_torch_gives(tmp_path, fresh):
    """The op says its output keeps the input's family (float) but `.long()` gives int64:
    shapes agree everywhere, so only the dtype comparison sees it."""
    import attngen
    from attngen import verify
    from attngen.ops import ANY_DTYPE, Op

    for name, call in (("to_index", "{{ x }}.long()"), ("copy", "{{ x }}.clone()")):
        fresh.add(Op(name, "reshape", (), lambda ctx, ins, args: ins[0], dtype=ANY_DTYPE,
                     call=call, rule="shape unchanged", summary="a copy"))
    spec = tmp_path / "idx.yaml"
    spec.write_text("name: T\ninputs:\n  x: [B, C]\ngraph:\n  y: {op: to_index, in: x}\n"
                    "  z: {op: copy, in: y}\noutputs: z\n")
    report = verify.verify(attngen.load(str(spec)).checked, n_samples=2, export=False)
    found = [(d.loc.line, d.loc.col, d.message.split(" at sample")[0]) for d in report.errors]
    assert found == [
        (5, 3, "node 'y': runtime dtype int64 (int) but the spec's op rule gives a float tensor"),
        (6, 3, "node 'z': runtime dtype int64 (int) but the spec's op rule gives a float tensor"),
    ] * 2
    assert "2 samples, 4 tensor shapes and dtype families compared" in report.lines[0]
