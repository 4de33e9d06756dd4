"""mypy on the package, with the settings of pyproject.toml's [tool.mypy]: no errors."""

import re
import subprocess
import sys

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "codegen" / "attngen"


def test_mypy_finds_no_errors():
    # mypy comes with the [test] extra; without it this fails ("No module named mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(REPO_ROOT / "pyproject.toml")],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # every module was checked: the configuration's `files` still names the package
    checked = re.search(r"Success: no issues found in (\d+) source files", proc.stdout)
    assert checked, proc.stdout
    assert int(checked.group(1)) == len(list(PACKAGE.rglob("*.py")))
