"""`attngen verify --onnx` over the library (issue 15): each module exported with
`torch.onnx.export(dynamo=True)` and run in onnxruntime on three input sizes. Runs under
`pytest -m integrations` in the integrations venv; the modules that do not hold are the
ones docs/integrations.md lists, each for the reason it gives."""
import re

import pytest
from attngen.cli import main
from conftest import REPO_ROOT

pytestmark = pytest.mark.integrations

LIBRARY = [str(REPO_ROOT / "specs"), str(REPO_ROOT / "specs" / "variants")]


def _listed_in_docs() -> set[str]:
    text = (REPO_ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    section = text.split("## ONNX", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))


def test_the_library_exports_to_onnx_but_for_the_modules_the_docs_list(capsys):
    status = main(["verify", "--onnx", "--no-export", "-n", "1", *LIBRARY])
    out, err = capsys.readouterr()
    failing = set(re.findall(r"^specs/(?:variants/)?\w+\.yaml: (\w+): \d+ mismatch", out,
                             re.MULTILINE))
    assert failing == _listed_in_docs(), out
    assert status == (1 if failing else 0)
    assert "error[E601]" in err and "onnxruntime" in err  # each with its reason
    # and with the layers whose export is known to differ (adaptive pools other than 1)
    assert "note: node 'pool_h' (AdaptiveAvgPool2d): ONNX export pools with the window" in err
    assert "node 'avg_pool'" not in err  # SE's global pool adapts: no note anywhere
    passing = re.findall(r"^specs/\S+: (\w+): ok$", out, re.MULTILINE)
    assert {"SEAttention", "CBAM", "ECAAttention", "SKAttention", "DAModule",
            "TripletAttention"} <= set(passing)
    assert out.count("onnx: size 3") >= len(passing)  # three input sizes each


def test_verify_onnx_without_onnxruntime_says_what_to_install(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # an import of it fails
    assert main(["verify", "--onnx", str(REPO_ROOT / "specs" / "se.yaml")]) == 1
    assert "pip install 'attngen[integrations]'" in capsys.readouterr().err
