"""The YAML loader's limits on numbers and sizes: located errors, never a traceback, and
messages that say what was found (issue 18, items 17 and 18)."""

from __future__ import annotations

import pytest
from attngen.errors import SpecError
from attngen.yamlload import MAX_DIGITS, MAX_NODES, load_text
from fuzzing import assert_located_errors, run_cli

SPEC = ("name: Big\nparams:\n  channel: {default: VALUE}\ninputs:\n  x: [B, channel]\n"
        "graph:\n  y: {op: ReLU, in: x}\noutputs: y\n")


def _error(text: str):
    with pytest.raises(SpecError) as caught:
        load_text(text, "t.yaml")
    [diagnostic] = caught.value.diagnostics
    return diagnostic


@pytest.mark.parametrize("value", [
    "1" * 5000,  # over Python's 4,300-digit limit: int() itself refuses
    "-" + "9" * 5000,
    "0x" + "f" * 5000,  # parses (a power-of-two base), but no message could print it
    "0b" + "1" * 15_000,
    "0" + "7" * 5000,  # octal
    ":".join(["59"] * 3000),  # YAML 1.1 base 60
    "1_000" * 1500,
    "1" + "0" * MAX_DIGITS, hex(10**MAX_DIGITS), "0b" + "1" * 20_000,
])
def test_an_integer_too_large_to_print_is_a_located_error(value):
    d = _error(SPEC.replace("VALUE", value))
    assert (d.code, d.loc.line, d.loc.col) == ("E105", 3, 22)
    assert f"is too large: integers in a spec have at most {MAX_DIGITS} digits" in d.message
    assert len(d.message) < 200  # the number is shortened, not echoed whole


@pytest.mark.parametrize("value", [str(10**MAX_DIGITS - 1), hex(10**MAX_DIGITS - 1), "7"])
def test_integers_that_print_load(value):
    assert int(load_text(SPEC.replace("VALUE", value), "t.yaml")["params"]["channel"]["default"]) \
        == int(value, 0)


@pytest.mark.parametrize("text, what", [
    ("2001-13-45", "timestamp (month must be in 1..12)"),
    ("2001-02-30", "timestamp (day is out of range for month)"),
    ("!!float 'abc'", "float (could not convert string to float: 'abc')"),
    ("!!int 'abc'", "int (invalid literal for int() with base 10: 'abc')"),
    ("!!bool 'maybe'", "bool"),
])
def test_text_a_tag_cannot_read_is_a_located_error(text, what):
    d = _error(f"name: {text}\n")
    assert (d.code, d.loc.line, d.loc.col) == ("E102", 1, 7)
    assert d.message.startswith("cannot read ") and f"as a {what}; quote it" in d.message


def test_a_huge_integer_as_a_key_or_list_item_is_refused_too():
    assert _error("a: [1, 2, " + "3" * 5000 + "]\n").loc.line == 1
    assert _error("? 0x" + "f" * 4000 + "\n: 1\n").code == "E105"


@pytest.mark.parametrize("value", ["1" * 5000, "0x" + "f" * 5000, ":".join(["59"] * 3000)])
@pytest.mark.parametrize("command", ["build", "check", "params", "docs"])
def test_the_commands_report_it_without_a_traceback(tmp_path, value, command):
    spec = tmp_path / "big.yaml"
    spec.write_text(SPEC.replace("VALUE", value))
    res = run_cli([command, spec, *(["-o", tmp_path / "out"] if command in ("build", "docs")
                                    else [])])
    assert_located_errors(res)
    assert res.err.startswith(f"{spec}:3:22: error[E105]: integer ")
    assert "too large" in res.err


def test_floats_beyond_range_are_infinite_not_an_error():
    value = load_text(SPEC.replace("VALUE", "1" * 400 + ".5"), "t.yaml")
    assert value["params"]["channel"]["default"] == float("inf")


def test_a_large_plain_document_is_not_blamed_on_aliases():
    # more values than the limit, no anchor anywhere (but an '&' in a string)
    text = "doc: 'Q & A'\nitems: [" + ", ".join(["0"] * (MAX_NODES + 1)) + "]\n"
    d = _error(text)
    assert d.code == "E105" and "alias" not in d.message and "anchor" not in d.message
    assert f"more than {MAX_NODES} values" in d.message
    d = _error("items: [" + ", ".join(["0"] * (MAX_NODES + 1)) + "]\n")
    assert "alias" not in d.message and "anchor" not in d.message


def test_an_alias_bomb_still_names_aliases():
    text = "a: &a [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
    for i, prev in zip("bcdefg", "abcdef", strict=False):
        text += f"{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, " \
                f"*{prev}, *{prev}, *{prev}]\n"
    d = _error(text)
    assert d.code == "E105" and "through its aliases" in d.message
