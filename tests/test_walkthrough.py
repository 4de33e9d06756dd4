"""docs/writing-a-module.md stays true: its spec is the committed file and builds and
verifies, every spec fragment is part of that file, every `$ attngen ...` command prints
what the page shows, the Python excerpt is the generated code and the diagram is the one
`attngen diagram` draws."""

from __future__ import annotations

import re

import pytest
from attngen.cli import main
from conftest import REPO_ROOT

PAGE = (REPO_ROOT / "docs/writing-a-module.md").read_text(encoding="utf-8")
SPEC_FILE = REPO_ROOT / "docs/walkthrough/gated_mhsa.yaml"
SPEC = SPEC_FILE.read_text(encoding="utf-8")
REQUIRES = "requires:\n  - channel % heads == 0   # each head takes channel // heads features\n"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", PAGE, re.MULTILINE | re.DOTALL)


def _commands() -> list[tuple[str, str]]:
    """(command line, what the page says it prints) per text block that shows a command."""
    shown = [b.split("\n", 1) for b in _blocks("text") if b.startswith("$ attngen ")]
    return [(command, expected) for command, expected in shown]


def _workdir(tmp_path, monkeypatch):
    """The folder the page's commands run in: the spec, and the spec with its mistake."""
    bad = SPEC.replace(REQUIRES, "")
    assert bad != SPEC
    (tmp_path / "gated_mhsa.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "gated_mhsa_bad.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("one_torch_thread")
def test_the_spec_builds_and_verifies(tmp_path, capsys):
    assert main(["build", "--no-svg", str(SPEC_FILE), "-o", str(tmp_path)]) == 0
    assert (tmp_path / "gated_mhsa.py").is_file()
    assert main(["verify", "-n", "2", str(SPEC_FILE)]) == 0, capsys.readouterr()


def test_the_whole_spec_shown_is_the_file():
    full = [b for b in _blocks("yaml") if b.startswith(("name:", "extends:"))]
    assert full == [SPEC]


def test_every_fragment_is_part_of_the_spec():
    fragments = [b for b in _blocks("yaml") if not b.startswith(("name:", "extends:"))]
    assert len(fragments) >= 5
    for fragment in fragments:
        assert fragment in SPEC, fragment
    assert REQUIRES in fragments[0]


def test_the_page_shows_every_step():
    commands = [command.split()[:3] for command, _ in _commands()]
    for step in ("check", "build", "verify", "params", "diagram"):
        assert ["$", "attngen", step] in commands, step
    assert "check gated_mhsa_bad.yaml" in " ".join(c for c, _ in _commands())
    assert "{param: [1], init: zeros}" in SPEC and "sizes: {h: heads}" in SPEC


@pytest.mark.usefixtures("one_torch_thread")  # `attngen verify` runs the module
@pytest.mark.parametrize("command, expected", _commands(),
                         ids=[command.split()[2] + "-" + command.split()[3]
                              for command, _ in _commands()])
def test_command_prints_what_the_page_shows(command, expected, tmp_path, monkeypatch, capsys):
    _workdir(tmp_path, monkeypatch)
    main(command.removeprefix("$ attngen ").split())
    out, err = capsys.readouterr()
    assert out + err == expected


def test_the_fix_is_the_hint():
    """The mistake's error names the `requires` line that step 1 adds."""
    hint = "note: if the module relies on it, state it: requires: [channel % heads == 0]"
    assert hint in PAGE and "channel % heads == 0" in REQUIRES


def test_the_excerpt_is_the_generated_code(tmp_path, monkeypatch, capsys):
    """Every line shown (`...` stands for lines left out) is in the built file, in order."""
    _workdir(tmp_path, monkeypatch)
    assert main(["build", "--no-svg", "gated_mhsa.yaml", "-o", "out/"]) == 0
    generated = (tmp_path / "out/gated_mhsa.py").read_text(encoding="utf-8").splitlines()
    (excerpt,) = _blocks("python")
    at = 0
    for line in excerpt.splitlines():
        if line.strip() in ("", "..."):
            continue
        assert line in generated[at:], f"not in the generated file (in order): {line!r}"
        at = generated.index(line, at) + 1


def test_the_committed_diagram_is_what_diagram_draws(tmp_path, capsys):
    out = tmp_path / "gated_mhsa.svg"
    assert main(["diagram", str(SPEC_FILE), "-o", str(out)]) == 0
    committed = REPO_ROOT / "docs/walkthrough/gated_mhsa.svg"
    assert out.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    assert "walkthrough/gated_mhsa.svg" in PAGE
