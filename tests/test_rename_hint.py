"""A reserved name's error suggests a rename, and the suggestion works when followed."""

import re

import pytest
from attngen.cli import main

SPEC = "name: Gate\ninputs:\n  x: [B, C]\ngraph:\n  NAME: {op: sigmoid, in: x}\noutputs: NAME\n"


@pytest.mark.parametrize("name", ["sum", "input", "self", "lambda", "match", "training",
                                  "forward", "torch"])
def test_the_suggested_rename_checks(tmp_path, capsys, name):
    spec = tmp_path / "gate.yaml"
    spec.write_text(SPEC.replace("NAME", name))
    assert main(["check", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[E104]" in err, err
    hint = re.search(r"note: rename it, e\.g\. to '(\w+)'", err)
    assert hint, err
    spec.write_text(SPEC.replace("NAME", hint.group(1)))
    assert main(["check", "-q", str(spec)]) == 0, capsys.readouterr().err


def test_the_note_names_the_new_spelling():
    from attngen.errors import Loc, SpecError
    from attngen.names import check_identifier

    with pytest.raises(SpecError) as caught:
        check_identifier("sum", Loc("x.yaml", 1, 1), "node")
    assert caught.value.diagnostics[0].notes == (
        "rename it, e.g. to 'sum_' (and every place that reads it)",)
