"""What a node calls with: its op's name and form, its arguments (`args:` and keys named
after the callee's params; a sub-spec's ints), its `each:` loop and `zip:` list."""

from __future__ import annotations

import ast

from . import ops
from .errors import (
    BAD_ARGUMENTS,
    BAD_VALUE,
    EXPR_NOT_ALLOWED,
    MISSING_KEY,
    UNKNOWN_OP,
    Loc,
    did_you_mean,
    error,
)
from .expr import Expr, parse
from .fields import expect, expr_of, mapping_of
from .model import FunctionOp, LayerOp, Loop, Ref, Spec, SubSpec
from .names import check_identifier
from .yamlload import LList, LMap, loc_of


def name_refs(value, loc: Loc, what: str) -> list[Ref]:
    items = value if isinstance(value, LList) else [value]
    refs = []
    for item in items:
        expect(item, str, what, loc, "a node or input name")
        refs.append(Ref(str(item), item.loc))
    return refs


def name_ref(value, loc: Loc, what: str) -> Ref:
    """Exactly one name (`apply:`, `if_given:`)."""
    expect(value, str, what, loc, "one node or input name")
    return Ref(str(value), value.loc)


def check_sized_call(name: str, loc: Loc, call: SubSpec, called: bool) -> None:
    """A sub-spec whose forward takes ints runs where its `use:` node calls it, which
    passes every int (`H: H`): not as a layer another node applies, nor once per item."""
    sub, fix = call.spec, sized_call(call.ref, call.spec)
    if not called:
        raise error(loc, BAD_ARGUMENTS, f"node '{name}': {sub.name}'s forward takes ints "
                    f"({', '.join(sub.int_inputs)}), which only its `use:` node passes: a "
                    "node with `in:` and no `each` or `map`", f"write it as {fix}")
    missing = [n for n in sub.int_inputs if n not in call.sizes]
    if missing:
        raise error(loc, MISSING_KEY, f"node '{name}' does not pass {sub.name}'s int input(s) "
                    f"{', '.join(missing)}", f"give each its value: {fix}")


def refuse_in_seq(key: str, owner: str, call: SubSpec, loc: Loc) -> None:
    """A `seq:` layer is called with one tensor: a sub-spec whose forward takes ints is not
    (`owner`: the seq's node as messages name it)."""
    if call.spec.int_inputs:
        raise error(loc, BAD_ARGUMENTS, f"layer {key} of {owner}: {call.spec.name}'s forward "
                    f"takes ints ({', '.join(call.spec.int_inputs)}), and an nn.Sequential "
                    "passes one tensor", "call it from a node of its own: "
                    + sized_call(call.ref, call.spec))


def sized_call(ref: str, sub: Spec) -> str:
    """The `use:` node that passes a sub-spec's ints, as a hint writes it."""
    ints = ", ".join(f"{n}: {n}" for n in sub.int_inputs)
    return f"`{{use: {ref}, in: x, {ints}}}` (each int an expression of this spec's)"


def op_form(op: ops.Op, args: dict[str, Expr]) -> LayerOp | FunctionOp:
    """An op that owns an nn.Module is a layer; any other is a tensor function."""
    return LayerOp(op.name, args) if op.module else FunctionOp(op.name, args)


def op_name(value, loc: Loc) -> str:
    expect(value, str, "'op'", loc, "an op name")
    if str(value) not in ops.REGISTRY:
        raise error(value.loc, UNKNOWN_OP, f"unknown op '{value}'"
                    + did_you_mean(value, ops.REGISTRY), "run `attngen ops` to list the ops")
    return str(value)


def load_args(raw: LMap, what: str, op: ops.Op | None, names: tuple) -> dict[str, Expr]:
    """Callee arguments: `args: [...]` positionally, plus keys named after the callee's params."""
    args: dict[str, Expr] = {}
    if "args" in raw:
        positional = raw["args"]
        positional = expect(positional, LList, "'args'", raw.loc,
                            "a list of positional arguments")
        if len(positional) > len(names):
            raise error(positional.loc, BAD_ARGUMENTS, f"{what} takes at most "
                        f"{len(names)} positional arguments ({', '.join(names) or 'none'}), "
                        f"got {len(positional)}")
        for pname, value in zip(names, positional, strict=False):
            args[pname] = arg_expr(op, pname, value, positional.loc)
    for key in raw:
        if key in names:
            if key in args:
                raise error(raw.key_locs[key], BAD_ARGUMENTS, f"argument '{key}' given twice "
                            "(positionally in 'args' and by name)")
            args[str(key)] = arg_expr(op, key, raw[key], raw.key_locs[key])
    return args


def arg_expr(op, name: str, value, loc: Loc) -> Expr:
    kind = op.arg(name).kind if op else "expr"
    if kind == "str":
        expect(value, str, f"argument '{name}'", loc, "a string")
        choices = op.arg(name).choices
        if choices and str(value) not in choices:
            raise error(value.loc, BAD_ARGUMENTS, f"argument '{name}' must be one of "
                        + ", ".join(repr(c) for c in choices) + did_you_mean(value, choices))
        # located at the text's first character: an error inside it (a column of an einops
        # pattern) is the text's location shifted by its column
        return parse(repr(str(value)), value.loc.shifted(getattr(value, "inset", 0)))
    if kind == "shape":
        return expr_of(expect(value, LList, f"argument '{name}'", loc, "a list of dims"),
                       loc, as_tuple=True)
    if kind == "mapping":
        return mapping_of(value, loc, f"argument '{name}'")
    return expr_of(value, loc, as_tuple=op is not None)


def zipped(raw: LMap, name: str, each: bool) -> list[Ref]:
    """`zip: parts`: the list whose i-th tensor copy i of an `each` node reads (its input)."""
    loc = raw.key_locs["zip"]
    if not each:
        raise error(loc, MISSING_KEY, f"node '{name}' has 'zip' but no 'each': 'zip: NAME' gives "
                    "copy i of an 'each' node the i-th tensor of the list NAME",
                    "add 'each: i in range(N)' (one layer per tensor, N the list's length), or "
                    "write 'map: true, in: NAME' for one call per tensor with shared weights")
    for key, why in (("in", "the zipped list is its input"),
                     ("apply", "a shared layer over every tensor is 'map: true'")):
        if key in raw:
            raise error(raw.key_locs[key], BAD_VALUE, f"node '{name}' has both 'zip' and "
                        f"'{key}' ({why})", f"remove '{key}'" if key == "in" else
                        f"write {{apply: {raw['apply']}, map: true, in: {raw['zip']}}}")
    return [name_ref(raw["zip"], loc, f"'zip' of node '{name}'")]


def each_loop(raw, loc: Loc, what: str) -> Loop:
    """`each: k in kernels`, `each: i in range(n)` or `each: kernels` (no variable)."""
    where = loc_of(raw, loc)
    if isinstance(raw, str) and " in " in str(raw):
        head, _, rest = str(raw).partition(" in ")
        at = where.shifted(len(head) + 4 + len(rest) - len(rest.lstrip()))
        if rest.strip().startswith("zip("):
            raise error(at, EXPR_NOT_ALLOWED, f"'each' of {what} cannot zip: a node "
                        "reads the i-th tensor of a list with the 'zip' key",
                        "e.g. {each: k in kernels, zip: parts, op: Conv2d, ...}: copy i gets "
                        "kernels[i] as k and parts[i] as its input")
        if head.strip().isidentifier():
            var = check_identifier(head.strip(), where, "loop variable")
            return Loop(var, parse(rest, at, iterable=True))
    expr = parse(raw, where, iterable=True)
    if isinstance(expr.tree, ast.Compare) and isinstance(expr.tree.ops[0], ast.In):
        raise error(where, BAD_VALUE, f"'each' of {what}: the loop variable must be one "
                    f"name, got '{ast.unparse(expr.tree.left)}'", "e.g. 'each: i in range(n)'")
    return Loop(None, expr)
