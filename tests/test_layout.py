"""layout.py: generated lines wrapped within 99 columns without changing what they mean."""

import ast
import random
import textwrap

import pytest
from attngen import emit, layout
from attngen.build import collect_specs, compile_spec
from attngen.loader import Loader
from conftest import REPO_ROOT

SPEC_FILES = [str(p.relative_to(REPO_ROOT)) for p in collect_specs(
    [str(REPO_ROOT / "specs"), str(REPO_ROOT / "specs/variants"),
     str(REPO_ROOT / "tests/layout_cases/long_names.yaml"),
     str(REPO_ROOT / "tests/layout_cases/long_chain.yaml")])]


def _tree(code: str) -> str:
    """The AST of one statement, as text; a block header gets a body, `elif` is an `if`."""
    code = textwrap.dedent(code)
    if code.startswith("elif "):
        code = code[2:]
    if code.rstrip().endswith(":"):
        code += "\n    pass"
    return ast.dump(ast.parse(code))


@pytest.mark.parametrize("path", SPEC_FILES)
@pytest.mark.parametrize("spec_refs", [False, True], ids=["default", "spec-refs"])
def test_every_line_is_wrapped_to_fit_and_keeps_its_meaning(path, spec_refs, monkeypatch):
    seen = []

    def recording(line, indent=0):
        out = layout.statement(line, indent)
        seen.append((line, indent, out))
        return out

    monkeypatch.setattr(emit, "laid_out",
                        lambda lines, indent: layout.laid_out(lines, indent, recording))
    source = emit.render(compile_spec(REPO_ROOT / path, Loader(), {}), spec_refs=spec_refs)
    assert seen
    for line, _, out in seen:
        assert all(len(o) <= layout.WIDTH for o in out), "\n".join(out)
        assert "\n".join(out) in source  # as the templates place it
        if line.strip().startswith("#"):
            words = " ".join(o.strip().removeprefix("#").strip() for o in out).split()
            assert words == line.strip().removeprefix("#").split()  # only breaks added
        elif line.strip() != "else:":
            assert _tree("\n".join(out)) == _tree(line.strip()), "\n".join(out)


def _random_expression(rng: random.Random, depth: int = 0) -> str:
    """Calls, displays, subscripts, comprehensions, operators of every precedence level,
    conditional expressions, unary operators, method chains and long strings, nested."""
    def sub():
        return _random_expression(rng, depth + 1)

    name = rng.choice(["a", "self.x", "B", "channel_count_" + "y" * rng.randint(0, 40)])
    kind = rng.randint(0, 8 if depth < 4 else 1)
    if kind == 0:
        return name
    if kind == 1:
        return rng.choice(["1", "2.5", "1e-05"])
    if kind == 2:
        op = rng.choice(["+", "-", "*", "//", "%", "**", "<", "==", "and", "or", "|", "not in",
                         "is not", "in"])
        return f"{sub()} {op} {sub()}"
    if kind == 3:
        args = [sub() for _ in range(rng.randint(0, 4))]
        return f"{name}({', '.join(args + rng.choice([[], [f'k={sub()}']]))})"
    if kind == 4:
        return f"[{', '.join(sub() for _ in range(rng.randint(0, 4)))}]"
    if kind == 5:
        return f"{name}[{rng.choice(['', ':, ', '..., '])}{sub()}]"
    if kind == 6:
        return f"({sub()} if {sub()} else {sub()})"
    if kind == 7:
        return f"[{sub()} for v in {sub()} if {sub()}]"
    return rng.choice([f"not ({sub()})", f"-{sub()}", '"' + "word " * rng.randint(1, 30) + '"',
                       f"{name}({sub()}).view({sub()})[{sub()}].flatten({sub()})",  # a chain
                       'f"got {value!r} ' + "word " * rng.randint(0, 25) + '{{x}}"'])


@pytest.mark.parametrize("seed", range(4))
def test_wrapping_random_expressions_keeps_their_meaning(seed):
    rng = random.Random(seed)
    for _ in range(150):
        expression = _random_expression(rng)
        for line, indent in [(f"x = {expression}", 8), (f"return {expression}", 12),
                             (f"if {expression}:", 8), (f"self.y = f({expression}, z)", 8),
                             (f"a, b = {expression}", 4)]:
            try:
                want = _tree(line)
            except SyntaxError:  # e.g. `a < b < c` made `a < (b) in c`: fine, but skip
                continue
            out = layout.statement(line, indent)
            assert _tree("\n".join(out)) == want, "\n".join(out)


def test_a_line_that_fits_is_kept():
    line = "self.conv = nn.Conv2d(c1, c2, k, stride=s, padding=self.pad, groups=g, bias=False)"
    assert layout.statement(line, 8) == [" " * 8 + line]


def test_contents_go_on_one_indented_line_if_they_fit_else_one_item_per_line():
    assert layout.statement("x = torch.cat([" + "a" * 40 + ", " + "b" * 30 + "], dim=1)", 8) == [
        "        x = torch.cat(",
        "            [" + "a" * 40 + ", " + "b" * 30 + "], dim=1",
        "        )",
    ]
    assert layout.statement("y = f(" + ", ".join(n * 25 for n in "abcd") + ")", 8) == [
        "        y = f(",
        *[f"            {n * 25}," for n in "abcd"],
        "        )",
    ]


def test_a_trailing_comma_keeps_a_call_one_item_per_line():
    assert layout.statement("s = nn.Sequential(nn.ReLU(), nn.Sigmoid(),)", 8) == [
        "        s = nn.Sequential(", "            nn.ReLU(),", "            nn.Sigmoid(),",
        "        )"]


def test_operators_lead_their_lines_inside_parentheses():
    names = ["first_operand_" + "x" * 30, "second_operand_" + "y" * 30, "third_" + "z" * 30]
    assert layout.statement(f"total = {names[0]} + {names[1]} * {names[2]}", 8) == [
        "        total = (",
        f"            {names[0]}",
        f"            + {names[1]} * {names[2]}",
        "        )",
    ]


def test_a_method_chain_is_parenthesised_one_call_per_line():
    chain = "self.proj(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3)"
    assert layout.statement(f"return {chain}.contiguous()", 8) == [
        "        return (", "            self.proj(x)",
        "            .reshape(B, N, 3, self.num_heads, C // self.num_heads)",
        "            .permute(2, 0, 3)", "            .contiguous()", "        )"]
    name, short = "tokens_" + "x" * 50, "x.flatten(2).transpose(1, 2).contiguous(dim_a, dim_b)"
    assert layout.statement(f"{name} = {short}", 8) == [  # fits in the parentheses: one line
        f"        {name} = (", f"            {short}", "        )"]
    single = f"{name}_{'y' * 20} = x.flatten(2).transpose(1, 2)"  # one call after another
    assert layout.statement(single, 8) == [f"        {name}_{'y' * 20} = (",
                                           "            x.flatten(2).transpose(1, 2)", "        )"]
    argument = f"f({'a' * 40}.flatten(2).transpose(1, 2).contiguous(), {'b' * 40})"
    assert layout.statement(f"y = {argument}", 8)[1] == "            " + "a" * 40 \
        + ".flatten(2).transpose(1, 2).contiguous(),"  # an argument: as before


def test_trailers_after_a_long_call_go_on_its_closing_line():
    """Where the text up to the last bracket would not fit, an earlier bracket splits and
    the trailers follow its closing bracket (`ruff format` writes these lines the same)."""
    call = ("F.scaled_dot_product_attention(q.flatten(0, 1), k.flatten(0, 1), "
            "v.flatten(0, 1), scale=self.scale)")
    assert layout.statement(f"out = {call}.unflatten(0, q.shape[:2])", 8) == [
        "        out = F.scaled_dot_product_attention(",
        "            q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1), scale=self.scale",
        "        ).unflatten(0, q.shape[:2])"]
    names = ["a" * 22, "b" * 40, "c" * 31]
    assert layout.statement(f"out = torch.cat([{', '.join(names)}], dim=1)[0, 0]", 8) == [
        "        out = torch.cat(", "            [", *(f"                {n}," for n in names),
        "            ],", "            dim=1,", "        )[0, 0]"]
    assert layout.statement(f"return self.{'f' * 28}({'a' * 47}, {'b' * 32})[0]", 8) == [
        f"        return self.{'f' * 28}(", f"            {'a' * 47}, {'b' * 32}", "        )[0]"]


def test_long_strings_become_implicit_concatenations_and_f_strings_keep_placeholders():
    message = "word " * 30 + "{{braces}} and {value!r}"
    out = layout.statement(f'raise ValueError(f"{message}")', 12)
    assert out[0] == "            raise ValueError(" and out[-1] == "            )"
    pieces = [o.strip() for o in out[1:-1]]
    assert all(len(o) <= layout.WIDTH for o in out) and len(pieces) > 1
    assert all(p.startswith('"word ') for p in pieces[:-1])  # no placeholder: no f prefix
    assert pieces[-1].startswith('f"') and pieces[-1].endswith('{value!r}"')
    values = {"value": 7}
    assert eval(" ".join(pieces), values) == eval(f'f"{message}"', values)  # the same text


def test_comments_break_before_the_arrow_then_after_commas():
    shape = "(B, " + ", ".join(f"dim_{i}_" + "x" * 10 for i in range(5)) + ")"
    out = layout.comment(f"{shape} -> {shape}", 8)
    assert out[0].startswith("# (B, ") and any(o.startswith("# -> (B, ") for o in out)
    assert all(8 + len(o) <= layout.WIDTH for o in out)
    assert all(o.startswith("#   ") for o in out[1:] if not o.startswith("# -> "))


def test_a_comment_whose_doc_has_a_comma_after_a_long_shape_is_wrapped():
    """The doc's `, ` (outside the shape's parentheses) left a first piece whose only cut was
    its own end: the wrapping recursed forever (OutlookAttention's unfold)."""
    count = "(1 + ((H - kernel_size + 2*padding) // stride))"
    text = (f"(B, dim, H, W) -> (B, dim*kernel_size**2, {count}*{count.replace('H', 'W')}) "
            "-- each window's values as a column, one column per window")
    out = layout.comment(text, 8)
    assert " ".join(o[2:] for o in out).split() == text.split()
    assert all(8 + len(o) <= layout.WIDTH for o in out)


def test_a_line_it_cannot_read_is_left_as_it_is():
    line = "x = " + "a" * 100 + " $ b"
    assert layout.statement(line, 4) == ["    " + line]
