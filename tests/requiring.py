"""Shared by the `requires` tests: a spec file written, a command run, and the specs that
provoke E404 (test_requires.py pastes each hint back; test_e404_hints.py replays them)."""

import re
import textwrap
from pathlib import Path

from attngen.cli import main
from conftest import REPO_ROOT


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def run(capsys, *args) -> tuple[int, str]:
    """`attngen ARGS...`: (exit status, what it wrote to stderr)."""
    code = main([*map(str, args)])
    return code, capsys.readouterr().err


# `channel // (2 * G)` needs `channel % (2*G) == 0`: the hint's parentheses matter
PRECEDENCE = """\
name: Precedence
params:
  channel: {default: 8}
  G: {default: 2}
inputs:
  x: [B, channel, H, W]
graph:
  g: {op: view, in: x, to: [B * G, 2, channel // (2 * G), H, W]}
outputs: g
"""


def documented_e404() -> str:
    """The E404 example of docs/errors.md (its hint must work pasted back, too)."""
    errors_md = (REPO_ROOT / "docs" / "errors.md").read_text()
    found = re.search(r"```yaml\n# e404\.yaml\n(.*?)```", errors_md, re.S)
    assert found, "docs/errors.md has no e404.yaml example"
    return found[1]
