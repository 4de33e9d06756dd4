"""Bad input that is hostile rather than broken: spec text must never become code.

Injection through names, strings, file names and expressions; YAML bombs, size and depth
limits and unsafe tags; `use:`/`extends:` cycles; no clobbering on failure; CLI misuse.
Each case ends in located errors (exit 1, a named code, nothing written) or in a build
whose generated file, read with `ast`, runs nothing it should not and holds the hostile
text only inside string literals and comments.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import keyword
import os
import re
import shutil
import textwrap
import time
import tokenize

import pytest
from attngen.errors import Loc, SpecError
from attngen.expr import parse
from attngen.names import check_class_name, check_identifier
from conftest import REPO_ROOT
from fuzzing import assert_located_errors, check_generated, run_cli

MARK = "pwned"  # every payload carries it; outside strings and comments it means injected code

PAYLOADS = [
    f"__import__('os').system('{MARK}')",
    f"1); import os; os.system('{MARK}'); (",
    f"x'\"\n\nimport os  # {MARK}",
    f'"""; import os #{MARK}',
    f"'''; import os #{MARK}",
    f'\\"""\\\\ {MARK} \\',
    f"{MARK}\x00\x1b[31m\x07",
    f"{{{{ {MARK} }}}} {{% raw %}} {{# c #}}",
    f"\r\nimport {MARK}\r\n",
    f"{MARK}\\",
    f"\u2028import os  # {MARK}\u2029",
]
BANNED_NAMES = {"os", "sys", "eval", "exec", "__import__", "open", "compile", "globals", "locals",
                "getattr", "setattr", "breakpoint", "input", "subprocess", "vars", MARK}

TEMPLATE = """\
name: Tiny
title: TITLE
paper: PAPER
doc: DOC
params:
  channel: 8
  mode: {type: str, default: MODE, doc: PDOC, choices: [MODE, plain]}
inputs:
  x: {shape: [B, channel], doc: IDOC}
graph:
  fc:  {op: Linear, args: [channel, channel], in: x, doc: NDOC}
  out: {op: Sigmoid, in: fc}
outputs: out
"""


def spec_text(**values) -> str:
    """TEMPLATE with its placeholders replaced (strings as JSON, which YAML reads)."""
    fields = {"TITLE": "Tiny", "PAPER": "A paper", "DOC": "Some doc", "MODE": "fast",
              "PDOC": "a mode", "IDOC": "the input", "NDOC": "a layer"}
    fields.update(values)
    text = TEMPLATE
    for key in sorted(fields, key=len, reverse=True):  # PDOC before DOC
        text = text.replace(key, json.dumps(fields[key]))
    return text


def build(tmp_path, text: str, name: str = "spec.yaml"):
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    res = run_cli(["build", "--no-svg", spec, "-o", out])
    return res, out / f"{spec.stem}.py", out


def assert_refused(res, out, code: str, where: str | None = None):
    """Located errors with `code` first, exit 1, and not a byte written."""
    assert_located_errors(res)
    first = res.err.splitlines()[0]
    assert f"error[{code}]" in first, res.err
    if where is not None:
        assert f"{where}: error[" in first, res.err
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def assert_inert(path, payloads=()):
    """The generated file compiles, imports only torch, names nothing dangerous, and the
    marker appears only inside string literals and comments."""
    tree = check_generated(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in BANNED_NAMES, ast.dump(node)
        elif isinstance(node, ast.Attribute):
            assert node.attr not in {"system", "popen", "__class__", "__globals__"}, ast.dump(node)
        assert not isinstance(node, (ast.Lambda, ast.Await, ast.Yield, ast.Global,
                                     ast.Nonlocal)), ast.dump(node)
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if MARK in tok.string:
            assert tok.type in (tokenize.STRING, tokenize.COMMENT), (tok, source)
    return tree, source


def norm(text: str) -> str:
    """What a docstring keeps of spec text: printable characters, whitespace collapsed."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


# -- 1. injection through strings: the build succeeds and the text stays text ------------------
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
@pytest.mark.parametrize("field", ["TITLE", "PAPER", "DOC", "PDOC", "IDOC", "NDOC"])
def test_strings_stay_inside_docstrings_and_comments(tmp_path, field, payload):
    res, path, _ = build(tmp_path, spec_text(**{field: payload}))
    assert res.code == 0, res.err
    tree, _ = assert_inert(path)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    docs = norm(ast.get_docstring(cls, clean=False) or "")
    module_doc = norm(ast.get_docstring(tree, clean=False) or "")
    if field in ("TITLE", "PAPER", "DOC", "PDOC"):
        assert norm(payload) in docs, (norm(payload), docs)
    if field in ("TITLE", "PAPER"):
        assert norm(payload) in module_doc


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if "\x00" not in p and len(p) < 60],
                         ids=lambda p: str(PAYLOADS.index(p)))
def test_string_param_default_and_choices_are_literals(tmp_path, payload):
    res, path, _ = build(tmp_path, spec_text(MODE=payload))
    assert res.code == 0, res.err
    tree, _ = assert_inert(path)
    cls_node = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    doc = ast.get_docstring(cls_node, clean=False)  # the Args line shows the value's repr
    doc = doc.replace("\n" + " " * 12, " ")  # an entry too long for one line goes on there
    assert f"default {payload!r}; one of [{payload!r}, 'plain']" in doc, doc
    init = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__init__"
    )
    assert [a.arg for a in init.args.args] == ["self", "channel", "mode"]
    assert [ast.literal_eval(d) for d in init.args.defaults] == [8, payload]
    # the choices check holds the payload as a value, and its message is a plain f-string
    loaded = importlib.util.spec_from_file_location(f"_safety_{tmp_path.name}", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)  # imports only torch (checked above)
    cls = module.Tiny
    assert cls().training  # the default passes the choices check
    assert cls(mode="plain").training
    with pytest.raises(ValueError, match=r"mode must be one of") as exc:
        cls(mode="other")
    assert "'other'" in str(exc.value)


# A str param's value where the checker wants a number: sympy would parse the text with
# eval() (sympify does, also inside tuples and with strict=True). Found by the long fuzz run
# as a str param reaching a Conv's in_channels, which sympy read as a symbol.
TEXT_USES = {
    "op_argument": "  y: {op: Conv2d, args: [p, 8, 1], in: x}",
    "max_in_a_let": "  y: {op: Linear, args: [8, m], in: x}",
    "shape_dim": "  y: {op: ReLU, in: x, shape: [B, p, H, W]}",
    "if_expression": "  y: {op: Conv2d, args: [8, 8, 't' if H > 2 else p], in: x}",
    "comparison": "  y: {op: Conv2d, args: [8, 8, 1 if H in [p, 2] else 3], in: x}",
    "division": "  y: {op: Conv2d, args: [8, 8, 1], groups: p // 2, in: x}",
}


@pytest.mark.parametrize("use", TEXT_USES)
def test_a_string_value_is_never_parsed_as_code(tmp_path, use):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x') and 8"
    text = ("name: Tiny\nparams:\n  p: " + json.dumps(code) + "\n"
            "let:\n  m: max(p, H)\n"
            "inputs:\n  x: [B, 8, H, W]\ngraph:\n" + TEXT_USES[use] + "\noutputs: y\n")
    if use != "max_in_a_let":
        text = text.replace("let:\n  m: max(p, H)\n", "")
    try:
        res, _, out = build(tmp_path, text)
    finally:
        assert not marker.exists(), "spec text ran as code"
    assert_located_errors(res)
    assert not out.exists()


@pytest.mark.parametrize("text", ["max(p, H)", "min(H, p)", "abs(p) + H", "int(p) * H",
                                  "log2(p) + H", "p if H > 2 else 1", "1 if H in [p, 2] else 3",
                                  "H + 1 if p else H", "p or H > 1"])
def test_symbolic_evaluation_never_parses_a_string(tmp_path, text):
    import sympy

    marker = tmp_path / "ran"
    env = {"p": f"open({str(marker)!r}, 'w').write('x') and 8", "H": sympy.Symbol("H")}
    try:
        value = parse(text, Loc("t.yaml", 1, 1)).sympy(env)
    except SpecError as exc:
        assert exc.diagnostics[0].code == "E102"
    else:  # a str param's truthiness is a plain Python value: fine, as long as it is not code
        assert not isinstance(value, sympy.Basic) or "open" not in str(value)
    assert not marker.exists(), "spec text ran as code"


def test_infinite_and_nan_defaults_are_written_as_floats(tmp_path):
    # repr() would write the bare names inf and nan, which no generated module defines
    text = ("name: Tiny\nparams:\n  c: 8\n  p: .inf\n  q: -.inf\n  r: [1.0, .nan]\n"
            "  s: {type: float, default: 1.0, choices: [1.0, .inf]}\n"
            "inputs:\n  x: [B, c]\ngraph:\n  y: {op: ReLU, in: x}\noutputs: y\n")
    res, path, _ = build(tmp_path, text)
    assert res.code == 0, res.err
    tree = check_generated(path)
    source = path.read_text(encoding="utf-8")
    for param in ('p: float = float("inf")', 'q: float = float("-inf")',
                  'r: list[float] | tuple[float, ...] = (1.0, float("nan"))', "s: float = 1.0"):
        assert f"\n        {param},\n" in source, source  # one parameter per line
    assert 'if s not in (1.0, float("inf")):' in source, source
    loaded = importlib.util.spec_from_file_location(f"_safety_{tmp_path.name}", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    assert module.Tiny().training and module.Tiny(s=float("inf")).training
    assert not any(isinstance(n, ast.Name) and n.id in ("inf", "nan") for n in ast.walk(tree))


def test_file_name_cannot_inject_into_the_header(tmp_path):
    """A spec file name is shown in comments; a newline in it must not end the comment."""
    name = f"ev\nimport os\nos.system('{MARK}')\n#.yaml"
    try:
        res, _, out = build(tmp_path, spec_text(), name=name)
    except OSError:
        pytest.skip("the file system refuses newlines in names")
    assert res.code == 0, res.err
    (path,) = out.glob("*.py")
    _, source = assert_inert(path)
    assert source.splitlines()[0].startswith("# Generated by attngen from ")
    assert "\nimport os" not in source


# -- 1. injection through names: refused with E104, located ----------------------------------
# check_identifier (names.py) on its own: each name with the words of its refusal.
KEYWORD, GENERATED = "is a Python keyword", "is reserved: the generated code uses it"
UNDERSCORE = "may not start with '_' (reserved for generated code)"
NOT_AN_IDENTIFIER = ("is not a valid identifier (ASCII letters, digits and '_', "
                     "not starting with a digit)")
RESERVED = {
    # keywords and soft keywords
    "class": KEYWORD, "def": KEYWORD, "lambda": KEYWORD, "import": KEYWORD, "None": KEYWORD,
    "True": KEYWORD, "async": KEYWORD, "await": KEYWORD, "match": KEYWORD, "case": KEYWORD,
    "type": KEYWORD if keyword.issoftkeyword("type") else GENERATED,  # soft keyword from 3.12
    # names the generated code itself uses
    "self": GENERATED, "torch": GENERATED, "nn": GENERATED, "F": GENERATED, "super": GENERATED,
    "layer": GENERATED, "math": GENERATED, "__init__": UNDERSCORE, "_private": UNDERSCORE,
    # builtins the generated code relies on
    "float": GENERATED, "int": GENERATED, "print": GENERATED, "len": GENERATED,
    "max": GENERATED, "eval": GENERATED, "exec": GENERATED, "__import__": UNDERSCORE,
    "open": GENERATED,
    # not identifiers at all
    "os.system": NOT_AN_IDENTIFIER, "a b": NOT_AN_IDENTIFIER, "x;import os": NOT_AN_IDENTIFIER,
    "1abc": NOT_AN_IDENTIFIER, "a-b": NOT_AN_IDENTIFIER, "é": NOT_AN_IDENTIFIER,
    "x\u200b": NOT_AN_IDENTIFIER, "a" * 65: "is longer than 64 characters",
    f"__import__('os').system('{MARK}')": NOT_AN_IDENTIFIER,
}


def _shown(name: str) -> str:
    """How a refused name appears in its message."""
    if len(name) > 64 and name.isidentifier():
        return name[:20] + "..."
    return name.encode("unicode_escape").decode("ascii")


@pytest.mark.parametrize("bad", RESERVED, ids=_shown)
def test_identifier_check_refuses_reserved_and_invalid_names(bad):
    loc = Loc("t.yaml", 3, 5)
    checks = {"node": lambda: check_identifier(bad, loc, "node", attribute=True),
              "input": lambda: check_identifier(bad, loc, "input"),
              "module": lambda: check_class_name(bad, loc)}
    for what, check in checks.items():
        with pytest.raises(SpecError) as exc:
            check()
        (diag,) = exc.value.diagnostics
        assert (diag.code, diag.loc) == ("E104", loc), diag
        assert diag.message == f"{what} name '{_shown(bad)}' {RESERVED[bad]}", diag.message


def test_identifier_check_keeps_good_names_and_refuses_module_attributes_only_as_attributes():
    loc = Loc("t.yaml", 3, 5)
    for good in ("x", "channel", "Tiny", "conv_1", "a" * 64):
        assert check_identifier(good, loc, "node", attribute=True) == good
    assert check_class_name("TinyAlias", loc) == "TinyAlias"
    for attr in ("forward", "training", "state_dict", "to", "apply", "modules"):
        assert check_identifier(attr, loc, "input") == attr  # a local variable: harmless
        with pytest.raises(SpecError) as exc:
            check_identifier(attr, loc, "param", attribute=True)
        (diag,) = exc.value.diagnostics
        assert (diag.code, diag.loc) == ("E104", loc)
        assert diag.message == f"param name '{attr}' would shadow nn.Module.{attr}"
    for torch_class in ("Module", "Sequential", "ModuleList", "Tensor"):
        with pytest.raises(SpecError) as exc:
            check_class_name(torch_class, loc)
        assert exc.value.diagnostics[0].message == \
            f"module name '{torch_class}' would shadow a torch class"


def _graph_spec(node="fc", param="channel", inp="x", outs=None, alias=None, name="Tiny"):
    split = f"\n  parts: {{op: split, args: [[4, 4]], dim: 1, in: fc, out: [{outs}, other]}}" \
        if outs else ""
    uses = f"[{outs}, other]" if outs else "out"
    graph_out = "" if outs else "\n  out: {op: Sigmoid, in: " + json.dumps(node) + "}"
    aliases = f"\naliases: [{json.dumps(alias)}]" if alias else ""
    return (f"name: {json.dumps(name)}{aliases}\nparams:\n  {json.dumps(param)}: 8\n"
            f"inputs:\n  {json.dumps(inp)}: [B, {json.dumps(param)}]\n"
            f"graph:\n  {json.dumps(node)}: {{op: Linear, args: [{json.dumps(param)}, 8], "
            f"in: {json.dumps(inp)}}}{graph_out}{split}\noutputs: {uses}\n")


def test_name_template_builds_when_names_are_fine(tmp_path):
    for kwargs in ({}, {"outs": "first"}, {"alias": "TinyAlias"}):
        res, path, _ = build(tmp_path, _graph_spec(**kwargs))
        assert res.code == 0, (kwargs, res.err)
        assert_inert(path)


# Every role a spec name plays, end to end through the CLI: a name refused there (each of
# check_identifier's refusals once), the template's keyword for it, and where the error is
# (inside a flow list the line is enough).
ROLES = {
    "node": ("node", f"__import__('os').system('{MARK}')", 7, 3),
    "param": ("param", "a" * 65, 3, 3),
    "input": ("inp", "class", 5, 3),
    "output": ("outs", "_private", 8, None),
    "alias": ("alias", "torch", 2, None),
    "name": ("name", "open", 1, 7),
}


def _refused_at(res, out, role):
    _, _, line, col = ROLES[role]
    assert_refused(res, out, "E104")
    got = re.match(r".*spec\.yaml:(\d+):(\d+): error", res.err.splitlines()[0])
    assert (int(got[1]), int(got[2]) if col else None) == (line, col), res.err
    return res.err.splitlines()[0]


@pytest.mark.parametrize("role", ROLES)
def test_reserved_or_invalid_names_are_refused_in_every_role(tmp_path, role):
    kwarg, bad, _, _ = ROLES[role]
    res, _, out = build(tmp_path, _graph_spec(**{kwarg: bad}))
    first = _refused_at(res, out, role)
    what = "module" if role in ("alias", "name") else role
    assert first.endswith(f": error[E104]: {what} name '{_shown(bad)}' {RESERVED[bad]}"), first


@pytest.mark.parametrize("role", ROLES)
def test_forward_is_refused_only_where_it_would_be_an_attribute(tmp_path, role):
    res, path, out = build(tmp_path, _graph_spec(**{ROLES[role][0]: "forward"}))
    if role in ("node", "param"):  # self.forward: it would replace the method
        first = _refused_at(res, out, role)
        assert first.endswith(f"{role} name 'forward' would shadow nn.Module.forward"), first
    else:  # a local variable or a class name: harmless
        assert res.code == 0, res.err
        assert_inert(path)


@pytest.mark.parametrize("dim, code", [
    ("F", "E104"), ("nn", "E104"), ("torch", "E104"), ("self", "E201"), ("super", "E104"),
    ("float", "E104"), ("max", "E104"), ("len", "E104"), ("log2", "E104"), ("inf", "E104"),
    ("print", "E104"), ("_b", "E201"), ("class", "E200"), ("match", "E104"),
    # a dim is a local variable of forward: it may not reuse an input's or a node's name
    ("x", "E106"), ("fc", "E106"), ("out", "E106"),
])
def test_dim_names_cannot_shadow_what_forward_uses(tmp_path, dim, code):
    """Input dims become `B, C = x.shape` in forward: a dim named `torch` or `x` would
    overwrite the module or the input there (found by this file; now refused)."""
    text = (f"name: Tiny\nparams:\n  channel: 8\ninputs:\n  x: [{dim}, channel]\n"
            f"graph:\n  fc: {{op: Linear, args: [channel, channel], in: x}}\n"
            f"  out: {{op: view, in: fc, to: [{dim}, channel]}}\noutputs: out\n")
    res, _, out = build(tmp_path, text)
    assert_refused(res, out, code, where=f"{tmp_path / 'spec.yaml'}:5:7")


def test_a_dim_may_share_a_params_name(tmp_path):
    text = ("name: Tiny\nparams:\n  channel: 8\ninputs:\n  x: [B, channel]\n"
            "graph:\n  out: {op: view, in: x, to: [B, channel]}\noutputs: out\n")
    res, path, _ = build(tmp_path, text)
    assert res.code == 0, res.err
    assert_inert(path)


# -- 1. injection through expressions: only the whitelist parses -----------------------------
# The expression check (expr.py) on its own: every construct outside the whitelist, with its
# code, the words of its message, and where in the text the error points.
EXPRESSIONS = [
    (
        "__import__('os').system('x')",
        "E201",
        "call of '__import__('os').system' is not allowed; "
        "functions: max, min, int, abs, len, sum, log2",
        0,
    ),
    ("os.system", "E201", "'Attribute' is not allowed in expressions: 'os.system'", 0),
    ("channel.__class__", "E201", "'Attribute' is not allowed", 0),
    ("channel.real", "E201", "'Attribute' is not allowed", 0),
    ("eval('1')", "E201", "call of 'eval' is not allowed", 0),
    ("exec('1')", "E201", "call of 'exec' is not allowed", 0),
    ("open('f')", "E201", "call of 'open' is not allowed", 0),
    ("getattr(channel, 'x')", "E201", "call of 'getattr' is not allowed", 0),
    ("globals()", "E201", "call of 'globals' is not allowed", 0),
    ("(lambda: 8)()", "E201", "call of 'lambda: 8' is not allowed", 0),
    ("lambda: 8", "E201", "'Lambda' is not allowed in expressions: 'lambda: 8'", 0),
    ("[i for i in range(3)][0]", "E201", "a list comprehension is allowed in a let's value "
     "only", 0),
    ("{i for i in [8]}", "E201", "'SetComp' is not allowed", 0),
    ("{'a': 8}['a']", "E201", "'Dict' is not allowed", 0),
    ("f'{channel}'", "E201", "'JoinedStr' is not allowed", 0),
    ("__builtins__", "E201", "name '__builtins__' is not allowed in expressions", 0),
    ("_x", "E201", "name '_x' is not allowed in expressions", 0),
    ("self", "E201", "name 'self' is not allowed in expressions", 0),
    ("(x := 8)", "E201", "'NamedExpr' is not allowed", 1),
    ("*channel", "E200", "invalid expression '*channel': invalid syntax", 0),
    ("max(*[8])", "E201", "'*' arguments are not allowed", 0),
    ("max(channel, key=abs)", "E201", "keyword arguments are not allowed in expressions", 0),
    ("[8][0:1]", "E201", "slices are not allowed in expressions; index with x[i]", 0),
    (  # a computed exponent must have a number value of at most 64 (2 ** i in a loop)
        "channel ** (channel * 10)",
        "E102",
        "the exponent",  # 80 is larger than 64; symbolically, it has no number value
        0,
    ),
    ("2 ** 99", "E201", "the exponent of '**' must be a number literal of at most 8", 0),
    ("9" * 20, "E201", "integer literal larger than 1000000000000000", 0),
    ("8; import os", "E200", "invalid expression '8; import os': invalid syntax", 1),
    ("8\nimport os", "E200", "expressions must fit on one line", 0),
    ("import os", "E200", "invalid expression 'import os': invalid syntax", 0),
    ("channel if", "E200", "invalid expression 'channel if': invalid syntax", 0),
    ("(yield)", "E201", "'Yield' is not allowed", 1),
    ("await channel", "E201", "'Await' is not allowed", 0),
    ("b'x'", "E201", "literal b'x' is not allowed", 0),
    ("...", "E201", "literal Ellipsis is not allowed", 0),
    ("1j", "E201", "literal 1j is not allowed", 0),
    # parses, but is never computed: numbers only
    (
        "'x' * 10 ** 8",
        "E102",
        "cannot evaluate ''x' * 10 ** 8': '*' needs numbers, got str and int",
        0,
    ),
]


@pytest.mark.parametrize("expr, code, message, offset", EXPRESSIONS,
                         ids=[e for e, *_ in EXPRESSIONS])
def test_expression_check_refuses_what_is_outside_the_whitelist(expr, code, message, offset):
    import sympy

    loc = Loc("t.yaml", 4, 12)
    env = {"channel": 8}
    readers = [lambda e: e.value(env), lambda e: e.sympy({"channel": sympy.Symbol("channel")})]
    for read in readers:  # what parses is then read both ways: concretely, symbolically
        with pytest.raises(SpecError) as exc:
            read(parse(expr, loc))
        (diag,) = exc.value.diagnostics
        assert (diag.code, diag.loc) == (code, loc.shifted(offset)), diag
        assert message in diag.message, diag.message


# The expression fields of a spec, end to end through the CLI: a construct refused when
# parsed (E201), a syntax error (E200) and a text that parses but may not be computed (E102),
# each in every field, located at the start of the field's text (where inside the text an
# error points is the unit test's above).
CONTEXT_SAMPLE = [("__import__('os').system('x')", "E201"), ("import os", "E200"),
                  ("'x' * 10 ** 8", "E102")]


@pytest.mark.parametrize("expr, code", CONTEXT_SAMPLE, ids=["E201", "E200", "E102"])
@pytest.mark.parametrize("where", ["args", "let", "requires", "shape"])
def test_expressions_outside_the_whitelist_are_refused_in_every_field(tmp_path, expr, code,
                                                                      where):
    value = json.dumps(expr)
    let = f"let:\n  d: {value}\n" if where == "let" else ""
    req = f"requires: [{value}]\n" if where == "requires" else ""
    arg = value if where == "args" else "channel"
    shape = f", shape: [B, {value}]" if where == "shape" else ""
    text = (f"name: Tiny\nparams:\n  channel: 8\n{let}{req}inputs:\n  x: [B, channel]\n"
            f"graph:\n  out: {{op: Linear, args: [channel, {arg}], in: x{shape}}}\n"
            "outputs: out\n")
    res, _, out = build(tmp_path, text)
    assert_refused(res, out, code)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if value in ln)
    col = text.splitlines()[line - 1].index(value) + 1
    assert f"spec.yaml:{line}:{col}: error[{code}]" in res.err.splitlines()[0], res.err


# -- 2. YAML limits and unsafe YAML ----------------------------------------------------------
VALID = spec_text()


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _deep(kind: str, depth: int = 200) -> str:
    if kind == "flow_list":
        return "[" * depth + "1" + "]" * depth
    if kind == "flow_map":
        return "{a: " * depth + "1" + "}" * depth
    if kind == "block_map":
        return (
            "\n"
            + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth))
            + "  " * (depth + 1)
            + "1"
        )
    return "\n" + "".join("  " * i + "  -\n" for i in range(depth)) + "  " * (depth + 1) + "1"


LIMIT_CASES = {
    "billion_laughs": (VALID + "bomb:\n  " + _bomb().replace("\n", "\n  "), "E105"),
    "billion_laughs_at_top": (_bomb() + VALID, "E105"),
    "bomb_in_a_node": (
        VALID.replace(
            "in: fc}",
            "in: fc, args: ["
            + ", ".join(
                [f"&a0 [{', '.join(['lol'] * 10)}]"]
                + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
            )
            + "]}",
        ),
        "E105",
    ),
    "deep_flow_list": (VALID.replace("doc: ", f"doc: {_deep('flow_list')}\nx_: ", 1), "E105"),
    "deep_flow_map": (VALID.replace("doc: ", f"doc: {_deep('flow_map')}\nx_: ", 1), "E105"),
    "deep_block_map": (VALID + "extra:" + _deep("block_map") + "\n", "E105"),
    "deep_block_list": (VALID + "extra:" + _deep("block_list") + "\n", "E105"),
    "self_referencing_map": (VALID + "extra: &e {a: *e}\n", "E105"),
    "self_referencing_list": (VALID + "extra: &e [1, [*e]]\n", "E105"),
    "too_big": (VALID + "# " + "x" * 1_000_001 + "\n", "E105"),
    "python_object_apply": (
        VALID.replace('doc: "Some doc"', 'doc: !!python/object/apply:os.system ["MARKER"]'),
        "E102",
    ),
    "python_name": (VALID.replace('doc: "Some doc"', "doc: !!python/name:os.system ''"), "E102"),
    "python_module": (VALID.replace('doc: "Some doc"', "doc: !!python/module:os ''"), "E102"),
    "python_object_new": (
        VALID.replace('doc: "Some doc"', "doc: !!python/object/new:subprocess.Popen [[MARKER]]"),
        "E102",
    ),
    "custom_tag": (VALID.replace('doc: "Some doc"', "doc: !evil 1"), "E102"),
    "binary": (VALID.replace('doc: "Some doc"', "doc: !!binary aGk="), "E102"),
    "merge_key": (VALID.replace("graph:\n", "graph:\n  <<: {x: 1}\n"), "E102"),
    "nul_byte": (VALID.replace("Some doc", "Some\x00doc"), "E100"),
    "two_documents": (VALID + "---\n" + VALID, "E100"),
    "unterminated": (VALID + 'doc2: "never closed\n', "E100"),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_yaml_limits_and_unsafe_tags_are_refused_quickly(tmp_path, case):
    marker = tmp_path / "ran"
    text, code = LIMIT_CASES[case]
    text = text.replace("MARKER", f"touch {marker}")
    start = time.perf_counter()
    res, _, out = build(tmp_path, text)
    elapsed = time.perf_counter() - start
    assert_refused(res, out, code)
    assert not marker.exists(), "a YAML tag ran a command"
    assert elapsed < 10, f"{case} took {elapsed:.1f}s"  # generous: each takes milliseconds


def test_limit_messages_name_the_limit(tmp_path):
    from attngen.yamlload import MAX_BYTES, MAX_DEPTH, MAX_NODES

    for case, limit in (("billion_laughs", MAX_NODES), ("deep_flow_list", MAX_DEPTH),
                        ("deep_block_map", MAX_DEPTH), ("too_big", MAX_BYTES)):
        res, _, _ = build(tmp_path, LIMIT_CASES[case][0])
        assert str(limit) in res.err.splitlines()[0], (case, res.err)
    res, _, _ = build(tmp_path, LIMIT_CASES["too_big"][0])
    assert "spec.yaml:1:1: error[E105]" in res.err


def test_just_under_the_limits_is_fine(tmp_path):
    """The limits refuse bombs, not ordinary nesting or a few shared anchors."""
    from attngen.yamlload import MAX_DEPTH

    text = VALID + "# " + "x" * 10_000 + "\n"
    text = text.replace("inputs:", "let:\n  d: " + "[" * 20 + "8" + "]" * 20 + "\ninputs:")
    res, _, _ = build(tmp_path, text)
    assert "E105" not in res.err, res.err
    assert MAX_DEPTH >= 32
    shared = VALID.replace("  x: {shape: [B, channel]", "  x: {shape: &s [B, channel]") \
        .replace("in: x, doc", "in: x, shape: *s, doc")
    res, _, _ = build(tmp_path, shared)
    assert res.code == 0, res.err


# -- 3. `use:` and `extends:` cycles ---------------------------------------------------------
def _user(folder, stem, name, target):
    (folder / f"{stem}.yaml").write_text(
        f"name: {name}\nparams:\n  channel: 8\ninputs:\n  x: [B, channel]\n"
        "graph:\n  fc: {op: Linear, args: [channel, channel], in: x}\n"
        f"  out: {{use: {target}, in: fc}}\noutputs: out\n")


def _cycle(tmp_path, argv_spec):
    res = run_cli(["build", "--no-svg", tmp_path / argv_spec, "-o", tmp_path / "out"])
    assert_located_errors(res)
    first = res.err.splitlines()[0]
    m = re.match(r"(.*):(\d+):(\d+): error\[(E\d+)\]: cycle through `use:`/`extends:`: (.*)$",
                 first)
    assert m, res.err
    assert not (tmp_path / "out").exists()
    return os.path.basename(m[1]), int(m[2]), int(m[3]), m[4], m[5]


def test_use_cycle_of_two_points_at_the_closing_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _user(tmp_path, "a", "A", "b")
    _user(tmp_path, "b", "B", "a")
    assert _cycle(tmp_path, "a.yaml") == ("b.yaml", 8, 14, "E501", "a.yaml -> b.yaml -> a.yaml")
    assert _cycle(tmp_path, "b.yaml") == ("a.yaml", 8, 14, "E501", "b.yaml -> a.yaml -> b.yaml")


def test_use_cycle_of_three(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _user(tmp_path, "a", "A", "b")
    _user(tmp_path, "b", "B", "c.yaml")
    _user(tmp_path, "c", "C", "a")
    assert _cycle(tmp_path, "a.yaml") == ("c.yaml", 8, 14, "E501",
                                          "a.yaml -> b.yaml -> c.yaml -> a.yaml")


def test_a_spec_that_uses_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _user(tmp_path, "s", "S", "s")
    assert _cycle(tmp_path, "s.yaml") == ("s.yaml", 8, 14, "E501", "s.yaml -> s.yaml")


def test_mixed_extends_and_use_cycle(tmp_path, monkeypatch):
    """m extends n, and n's graph (inherited by m) uses m: the chain names both files
    (it used to read `m.yaml -> m.yaml`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text("extends: n\nname: M\n")
    _user(tmp_path, "n", "N", "m")
    assert _cycle(tmp_path, "m.yaml") == ("n.yaml", 8, 14, "E501", "m.yaml -> n.yaml -> m.yaml")
    assert _cycle(tmp_path, "n.yaml") == ("m.yaml", 1, 10, "E501", "n.yaml -> m.yaml -> n.yaml")


def test_cycle_in_a_folder_build_is_reported_once_per_entry_and_writes_nothing(tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    specs = tmp_path / "specs"
    specs.mkdir()
    _user(specs, "a", "A", "b")
    _user(specs, "b", "B", "a")
    shutil.copy(REPO_ROOT / "specs/se.yaml", specs / "se.yaml")
    res = run_cli(["build", "--no-svg", "--all-or-nothing", specs, "-o", tmp_path / "out"])
    assert_located_errors(res)
    assert "E501" in res.err and "Traceback" not in res.err
    assert not (tmp_path / "out").exists()


# -- 4. atomic writes: a failing spec leaves every existing file untouched ---------------------
def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["build", "docs"])
def test_failing_spec_among_several_changes_no_byte_and_no_mtime(tmp_path, command):
    """`test_build` checks bytes for one spec; here several, the broken one in the middle,
    mtimes too, and the docs command as well."""
    specs, out = tmp_path / "specs", tmp_path / "out"
    specs.mkdir()
    for name in ("eca", "se", "cbam"):
        shutil.copy(REPO_ROOT / f"specs/{name}.yaml", specs / f"{name}.yaml")
    argv = [command, *(["--no-svg", "--all-or-nothing"] if command == "build" else []), specs,
            "-o", out]
    assert run_cli(argv).code == 0
    for p in out.rglob("*"):  # old mtimes, so a rewrite would show even on coarse clocks
        if p.is_file():
            os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    before = _snapshot(out)
    assert len(before) >= 6
    for name in ("eca", "se", "cbam"):  # every good spec changes: each would be rewritten
        path = specs / f"{name}.yaml"
        path.write_text(path.read_text().replace("title: ", "title: Changed ", 1))
    (specs / "m_broken.yaml").write_text(_bomb() + VALID)
    res = run_cli(argv)
    assert_located_errors(res)
    assert "m_broken.yaml:" in res.err and "error[E105]" in res.err
    assert _snapshot(out) == before
    assert not [p for p in out.rglob(".*")], "temp files left behind"


def test_output_under_a_file_is_a_clear_error_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    spec = REPO_ROOT / "specs/se.yaml"
    for argv in (["build", "--no-svg", spec, "-o", blocker / "sub"],
                 ["docs", spec, "-o", blocker / "sub"],
                 ["diagram", spec, "-o", blocker / "x.dot"]):
        res = run_cli(argv)
        assert res.code == 1, (argv, res.err)
        assert res.err.startswith("attngen: error: cannot access"), res.err
        assert len(res.err.splitlines()) == 1 and "Traceback" not in res.err
    assert blocker.read_text() == "keep me"


# -- 5. CLI misuse: exit 2 for usage, 1 for missing files, one clear line ---------------------
COMMANDS = ["build", "check", "show", "verify", "diagram", "docs"]


def _usage_error(res):
    assert res.code == 2, res
    lines = res.err.splitlines()
    assert lines and lines[-1].startswith("attngen: error: "), res.err
    assert all(ln.startswith(("usage:", "attngen: error:", " ")) for ln in lines), res.err
    assert "Traceback" not in res.err and not res.out


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_flag_is_a_usage_error(command):
    _usage_error(run_cli([command, "--no-such-flag", REPO_ROOT / "specs/se.yaml"]))


@pytest.mark.parametrize("command", COMMANDS)
def test_no_spec_argument_is_a_usage_error(command):
    _usage_error(run_cli([command]))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["Build"],
        ["--version-please"],
        ["build", "--check=yes", "se"],
        ["verify", "-n", "x", "se"],
        ["verify", "-n", "0", "se"],
        ["diagram", "se", "--rankdir", "up"],
        ["diagram", "se", "extra_positional"],
    ],
)
def test_bad_command_lines_are_usage_errors(argv):
    _usage_error(run_cli(argv))


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_file_exits_1_with_one_located_line(tmp_path, command):
    missing = tmp_path / "nope.yaml"
    res = run_cli([command, missing])
    assert res.code == 1, res
    assert res.err.splitlines() == [f"{missing}: error[E500]: no such file or folder",
                                    f"attngen: 1 error in {missing}"]


@pytest.mark.parametrize("command", COMMANDS)
def test_folder_without_specs_exits_1(tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a spec")
    res = run_cli([command, empty])
    assert res.code == 1, res
    assert res.err.splitlines()[0] == f"{empty}: error[E500]: no spec files (*.yaml) found"
    assert "Traceback" not in res.err


@pytest.mark.parametrize("command", ["build", "docs"])
def test_out_pointing_at_a_file_is_a_usage_error(tmp_path, command):
    target = tmp_path / "file"
    target.write_text("keep me")
    res = run_cli([command, REPO_ROOT / "specs/se.yaml", "-o", target])
    assert res.code == 2 and "not a folder" in res.err and "Traceback" not in res.err
    assert target.read_text() == "keep me"


def test_diagram_of_a_folder_with_several_specs_is_a_usage_error(tmp_path):
    """It used to end in a ValueError traceback (`[path] = ...`)."""
    out = tmp_path / "x.dot"
    res = run_cli(["diagram", REPO_ROOT / "specs", "-o", out])
    _usage_error(res)
    assert "diagram draws one" in res.err and not out.exists()


def test_a_spec_that_is_a_folder_or_not_utf8(tmp_path):
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    (folder / "inner.yaml").write_text(VALID)  # a folder named *.yaml is a folder
    res = run_cli(["check", folder])
    assert res.code == 0, res.err
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(VALID.replace("Some doc", "caf\xe9").encode("latin-1"))
    res = run_cli(["check", latin])
    assert_located_errors(res)
    assert "error[E100]" in res.err and "UTF-8" in res.err


def test_the_real_command_line_prints_no_traceback(tmp_path):
    """The installed entry point, end to end, for one usage and one spec error."""
    import subprocess
    import sys

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "attngen.cli", *map(str, argv)],
                              capture_output=True, text=True, check=False, cwd=tmp_path)

    usage = run("build", "--bogus")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    spec = tmp_path / "bomb.yaml"
    spec.write_text(textwrap.dedent(_bomb() + VALID))
    bad = run("build", spec, "-o", tmp_path / "out")
    assert bad.returncode == 1 and "error[E105]" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "out").exists()
