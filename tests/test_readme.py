"""The README stays true: its first commands, error-code table and module library."""

from __future__ import annotations

import re

from attngen.errors import CODES
from conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CI = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_starts_with_the_two_commands():
    main_job, tests = _commands()[:2]
    assert main_job.endswith("attngen build specs/eca.yaml")
    assert tests.endswith("python -m pytest -q")
    assert README.index(main_job) < README.index("## ")  # before any section


def test_ci_runs_the_readme_test_command_verbatim():
    assert _commands()[1] in CI


def test_error_code_table_matches_the_codes():
    rows = dict(re.findall(r"^\| (E\d{3}) \| (.+?) \|$", README, re.MULTILINE))
    assert rows == CODES


def test_library_lists_every_spec_and_variant():
    for folder in ("specs", "specs/variants"):
        for path in sorted((REPO_ROOT / folder).glob("*.yaml")):
            assert f"`{path.name}`" in README, f"{folder}/{path.name} missing from the README"


def test_no_placeholders_left():
    assert "@@" not in README
