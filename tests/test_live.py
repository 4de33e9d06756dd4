"""live.Workspace, the warm rebuild behind `attngen serve` (no web libraries needed)."""

import shutil
import sys

import pytest
from attngen.errors import UNKNOWN_REF
from attngen.live import Workspace
from conftest import REPO_ROOT

SPECS = REPO_ROOT / "specs"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    for name in ("se", "cbam", "channel_attention", "spatial_attention"):
        shutil.copy(SPECS / f"{name}.yaml", tmp_path / f"{name}.yaml")
    monkeypatch.chdir(tmp_path)  # ids: paths as the CLI shows them
    return tmp_path


def test_first_build_lists_every_spec_with_its_outputs(folder):
    ws = Workspace(["."], svg=False)
    assert sorted(ws.rebuild()) == ["cbam.yaml", "channel_attention.yaml", "se.yaml",
                                    "spatial_attention.yaml"]
    view = ws.views["se.yaml"].as_dict()
    assert view["ok"] and view["name"] == "SEAttention" and not view["stale"]
    assert "class SEAttention(nn.Module):" in view["source"]
    assert "total" in view["params"] and "avg_pool" in view["terminal"]
    assert view["lines"]["avg_pool"] == 13 and view["text"].startswith("name: SEAttention")


def test_a_change_rebuilds_the_spec_and_its_dependents_only(folder):
    ws = Workspace(["."], svg=False)
    ws.rebuild()
    path = folder / "channel_attention.yaml"
    path.write_text(path.read_text().replace("ratio: {default: 16", "ratio: {default: 8"))
    assert sorted(ws.rebuild({path})) == ["cbam.yaml", "channel_attention.yaml"]
    assert ws.views["cbam.yaml"].version == 2 and ws.views["se.yaml"].version == 1


def test_a_broken_spec_keeps_its_last_good_result_marked_stale(folder):
    ws = Workspace(["."], svg=False)
    ws.rebuild()
    path = folder / "se.yaml"
    good = path.read_text()
    path.write_text(good.replace("in: avg_pool", "in: avg_pol"))
    assert ws.rebuild({path}) == ["se.yaml"]
    view = ws.views["se.yaml"].as_dict()
    assert not view["ok"] and view["stale"]
    [err] = view["errors"]
    assert err["code"] == UNKNOWN_REF and err["file"] == "se.yaml" and err["line"] == 14
    assert err["text"].startswith("se.yaml:14:") and "avg_pol" in err["snippet"]
    assert "class SEAttention" in view["source"]  # the last good source stays
    path.write_text(good)
    ws.rebuild({path})
    assert ws.views["se.yaml"].as_dict()["ok"]


def test_new_and_removed_files_join_and_leave_the_list(folder):
    ws = Workspace(["."], svg=False)
    ws.rebuild()
    shutil.copy(SPECS / "eca.yaml", folder / "eca.yaml")
    (folder / "se.yaml").unlink()
    assert sorted(ws.rebuild({folder / "eca.yaml", folder / "se.yaml"})) == ["eca.yaml",
                                                                              "se.yaml"]
    assert "eca.yaml" in ws.views and "se.yaml" not in ws.views


def test_symlinks_out_of_the_given_paths_are_not_served(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    secret = outside / "secret.yaml"
    shutil.copy(SPECS / "eca.yaml", secret)
    (folder / "link.yaml").symlink_to(secret)
    ws = Workspace(["."], svg=False)
    ws.rebuild()
    assert "link.yaml" not in ws.views and not any("secret" in i for i in ws.views)


def test_a_variant_shows_its_diff_against_its_base(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    ws = Workspace(["specs/variants/se_max.yaml"], svg=False)
    ws.rebuild()
    diff = ws.views["specs/variants/se_max.yaml"].as_dict()["diff"]
    assert diff.startswith("--- specs/se.yaml (SEAttention)") and "AdaptiveMaxPool2d" in diff


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["serve", "--port", "0"], 2, "--port must be between 1 and 65535"),
    (["serve", "no_such_folder/"], 1, "no_such_folder/: error[E"),
    (["build", "--watch", "--check", "se"], 2, "--watch writes files"),
])
def test_serve_and_watch_refuse_bad_arguments_before_starting(argv, status, message, capsys,
                                                              tmp_path, monkeypatch):
    from attngen.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == status
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["build", "--watch", "se"], ["show", "--watch", "se"]])
def test_watch_without_watchfiles_names_the_extra(argv, capsys, tmp_path, monkeypatch):
    from attngen.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # an import of it fails
    monkeypatch.delitem(sys.modules, "attngen.watch", raising=False)  # imported afresh
    monkeypatch.delattr("attngen.watch", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == "attngen: error: --watch needs watchfiles: pip install 'attngen[serve]'\n"
    assert not list(tmp_path.iterdir())  # nothing built before the refusal
