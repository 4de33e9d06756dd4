"""einsum: a product of tensors named by an equation ("bhqd,bhkd->bhqk").

The equation is parsed here, never run: one term of letters per input, `...` at most once
in a term (the dims it stands for broadcast across the inputs), and an optional output
after `->` (without it the output is the letters that occur once, in alphabetical order,
after `...`). A letter names one size: every occurrence is proved equal.
"""

from __future__ import annotations

import re

from ..errors import BAD_ARGUMENTS
from .base import STRIDED, Arg, Dtypes, Op, register
from .ctx import ShapeCtx

_TERM = re.compile(r"[a-zA-Z]*(?:\.\.\.)?[a-zA-Z]*")


def parse_equation(ctx: ShapeCtx, equation: str, n_inputs: int) -> tuple[list[str], str]:
    """The input terms and the output term of `equation` (spaces removed)."""
    text = equation.replace(" ", "")
    if text.count("->") > 1:
        ctx.fail(f"einsum equation '{equation}' has more than one '->'", BAD_ARGUMENTS)
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    for i, term in enumerate([*terms, *([rhs] if arrow else [])]):
        what = f"term {i + 1} ('{term}')" if i < len(terms) else f"the output ('{term}')"
        if not _TERM.fullmatch(term):
            bad = next((c for c in term if not (c.isalpha() and c.isascii()) and c != "."),
                       None)
            found = f"'{bad}' at column {equation.index(bad) + 1}" if bad else \
                "dots that are not one '...'"
            ctx.fail(f"einsum equation '{equation}': {what} has {found}; a term is ASCII "
                     "letters with at most one '...'", BAD_ARGUMENTS)
    if len(terms) != n_inputs:
        ctx.fail(f"einsum equation '{equation}' has {len(terms)} input term(s) for "
                 f"{n_inputs} input(s)", BAD_ARGUMENTS)
    letters = [c for t in terms for c in t if c != "."]
    if not arrow:  # implicit output: letters that occur once, sorted, after `...`
        once = sorted(c for c in set(letters) if letters.count(c) == 1)
        rhs = ("..." if any("..." in t for t in terms) else "") + "".join(once)
    for c in rhs.replace("...", ""):
        if rhs.count(c) > 1:
            ctx.fail(f"einsum equation '{equation}': output letter '{c}' occurs twice",
                     BAD_ARGUMENTS)
        if c not in letters:
            ctx.fail(f"einsum equation '{equation}': output letter '{c}' names no input dim",
                     BAD_ARGUMENTS)
    if "..." in rhs and not any("..." in t for t in terms):
        ctx.fail(f"einsum equation '{equation}': '...' in the output but in no input",
                 BAD_ARGUMENTS)
    return terms, rhs


def _einsum(ctx: ShapeCtx, ins, a):
    terms, rhs = parse_equation(ctx, a["equation"], len(ins))
    sizes: dict[str, object] = {}  # letter -> its size, from its first occurrence
    where: dict[str, str] = {}
    ellipses = []
    for i, (term, shape) in enumerate(zip(terms, ins, strict=True)):
        head, dots, tail = term.partition("...")
        named = len(head) + len(tail)
        if (len(shape) < named) if dots else (len(shape) != named):
            want = f"at least {named}" if dots else f"{named}"
            ctx.fail(f"einsum term '{term}' names {want} dims; input {i} has {len(shape)}",
                     BAD_ARGUMENTS)
        first_tail = len(shape) - len(tail)
        dims = [(c, j) for j, c in enumerate(head)]
        dims += [(c, first_tail + j) for j, c in enumerate(tail)]
        if dots:
            ellipses.append(tuple(shape[len(head):first_tail]))
        for c, j in dims:
            at = f"'{c}' (dim {j} of input {i})"
            if c in sizes:
                ctx.eq(shape[j], sizes[c], at, where[c])
            else:
                sizes[c], where[c] = shape[j], at
    batch = ctx.broadcast(ellipses) if ellipses else ()
    head, dots, tail = rhs.partition("...")
    return (*(sizes[c] for c in head), *(batch if dots else ()), *(sizes[c] for c in tail))


register(Op("einsum", "attention", (Arg("equation", "str"),), _einsum, arity=(1, -1),
            dtype=Dtypes(("float|complex",)), layout=STRIDED,  # may return a view (ij->ji)
            call="torch.einsum({{ equation }}, {{ ins | join(', ') }})",
            rule="one term per input; a letter is one size (equal wherever it occurs); "
                 "the output has the letters after '->' (default: those that occur once)",
            summary="Einstein summation over an equation such as 'bhqd,bhkd->bhqk'",
            key_args=("equation",)))
