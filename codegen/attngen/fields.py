"""Reading located YAML values as the fields of a spec: a wrong key or type is a located
error that says what was expected (and, for a mistyped key, what was meant)."""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import TypeVar

from .errors import BAD_VALUE, EXPR_SYNTAX, UNKNOWN_KEY, Loc, did_you_mean, error
from .expr import Expr, parse
from .yamlload import LBool, LFloat, LList, LMap, LNone, LStr, LValue, loc_of

T = TypeVar("T")


# Words other tools use for a key this language spells another way. Spelling alone would
# miss them ('layers') or point elsewhere ('nodes' is closest to 'binds'), so check_keys
# suggests these first, where the key they name is allowed at that place.
KEY_SYNONYMS = {
    # the spec's top level
    "nodes": "graph", "layers": "graph", "ops": "graph", "modules": "graph", "body": "graph",
    "forward": "graph", "steps": "graph",
    "parameters": "params", "hparams": "params", "hyperparameters": "params",
    "config": "params",
    "constraints": "requires", "assert": "requires", "asserts": "requires",
    "assumes": "requires", "assumptions": "requires", "where": "requires",
    "lets": "let", "vars": "let", "variables": "let", "defines": "let",
    "description": "doc", "docstring": "doc", "summary": "doc", "docs": "doc",
    "class": "name", "class_name": "name",
    "base": "extends", "inherits": "extends", "parent": "extends",
    "returns": "outputs", "return": "outputs",
    # a node
    "inputs": "in", "input": "in", "from": "in", "src": "in", "source": "in",
    "type": "op", "layer": "op", "kind": "op", "module": "op",
    "out_shape": "shape", "output_shape": "shape",
    "if": "when", "condition": "when",
    # a param
    "values": "choices", "options": "choices", "enum": "choices",
    "dtype": "type",
}


def check_keys(m: LMap, allowed: Collection[str], what: str) -> None:
    """E101 at the first key of `m` not in `allowed`, with a did-you-mean (a synonym from
    another tool's vocabulary first, then the closest spelling), or where no key is close,
    the keys allowed there."""
    for key in m:
        if key not in allowed:
            synonym = KEY_SYNONYMS.get(key)
            meant = (f"; did you mean '{synonym}'?" if synonym in allowed
                     else did_you_mean(key, allowed))
            listed = "" if meant else "keys allowed here: " + ", ".join(sorted(allowed))
            raise error(m.key_locs[key], UNKNOWN_KEY, f"unknown key '{key}' in {what}" + meant,
                        listed)


def expect(value: object, types: type[T] | tuple[type[T], ...], what: str, loc: Loc,
           expected: str) -> T:
    """`value` if it is one of `types` (a YAML boolean only where `expected` says so),
    else E102: `{what} must be {expected}, got a list`."""
    if isinstance(value, LNone) or not isinstance(value, types) \
            or (isinstance(value, (int, float)) and type(value).__name__ == "LBool"
                and "bool" not in expected and "true or false" not in expected):
        got = _type_name(value)
        raise error(loc_of(value, loc), BAD_VALUE, f"{what} must be {expected}, got {got}")
    return value


def _type_name(value: object) -> str:
    kind = type(value).__name__
    return {"LStr": "a string", "LInt": "an integer", "LFloat": "a number", "LBool": "a boolean",
            "LNone": "null", "LMap": "a mapping", "LList": "a list"}.get(kind, kind)


def text_of(m: LMap, key: str, what: str) -> str:
    """The text field `key` of `m` ('' when absent), at most 2000 characters."""
    if key not in m:
        return ""
    value = expect(m[key], LStr, f"'{key}' of {what}", m.loc, "a string")
    if len(value) > 2000:
        raise error(value.loc, BAD_VALUE, f"'{key}' of {what} is longer than 2000 characters")
    return str(value)


def expr_of(value: LValue, loc: Loc, *, as_tuple: bool = False,
            comprehension: bool = False) -> Expr:
    """A YAML scalar or list as an Expr (lists become list or tuple literals);
    `comprehension`: a let's value, which may hold list comprehensions (expr.parse)."""
    if isinstance(value, LList):
        parts = [expr_of(v, loc, comprehension=comprehension) for v in value]
        inner = ", ".join(p.text for p in parts)
        text = f"({inner}{',' if len(parts) == 1 else ''})" if as_tuple else f"[{inner}]"
        if len(text) > 400:
            raise error(value.loc, EXPR_SYNTAX, "list value longer than 400 characters")
        return parse(text, value.loc, comprehension=comprehension)
    if isinstance(value, LMap):
        raise error(value.loc, BAD_VALUE, "expected an expression or a list, got a mapping")
    return parse(value, loc_of(value, loc), comprehension=comprehension)


def mapping_of(value: LValue, loc: Loc, what: str) -> Expr:
    """A mapping of names to expressions (`{g: groups, k: 2}`) as an Expr: a tuple of
    (name, value) pairs, read back by expr.entries."""
    value = expect(value, LMap, what, loc, "a mapping of name: value, such as {g: groups}")
    parts = []
    for key, item in value.items():
        if not key.isidentifier() or not key.isascii():
            raise error(value.key_locs[key], BAD_VALUE, f"{what}: '{key}' is not a name "
                        "(letters, digits and _, not starting with a digit)")
        if isinstance(item, (LList, LMap)):
            raise error(loc_of(item, value.key_locs[key]), BAD_VALUE,
                        f"{what}: the value of '{key}' must be an expression, got a "
                        + ("list" if isinstance(item, LList) else "mapping"))
        parts.append(f"({str(key)!r}, {parse(item, loc_of(item, loc)).text})")
    text = f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
    if len(text) > 400:
        raise error(value.loc, EXPR_SYNTAX, f"{what} longer than 400 characters")
    return parse(text, value.loc)


def shape_of(value: LValue, loc: Loc, what: str) -> list[Expr]:
    """A shape list `[B, C, H, W]`: each dim a name, an integer or an expression."""
    value = expect(value, LList, what, loc, "a list of dims like [B, C, H, W]")
    if len(value) > 16:
        raise error(value.loc, BAD_VALUE, f"{what} has more than 16 dims")
    dims = []
    for d in value:
        if isinstance(d, (LList, LMap, LNone, LBool, LFloat)):
            raise error(loc_of(d, value.loc), BAD_VALUE,
                        f"{what}: each dim must be a name, an integer or an expression")
        dims.append(parse(d, loc_of(d, value.loc)))
    return dims


def entries(expr: Expr) -> list[tuple[str, Expr]]:
    """The (name, value) entries of a mapping argument (fields.mapping_of writes it as a
    tuple of pairs), each value an Expr of its own at the mapping's location."""
    tree = expr.tree
    assert isinstance(tree, ast.Tuple), expr.text
    out = []
    for pair in tree.elts:
        assert isinstance(pair, ast.Tuple) and isinstance(pair.elts[0], ast.Constant)
        out.append((str(pair.elts[0].value), parse(ast.unparse(pair.elts[1]), expr.loc)))
    return out


def entries_text(expr: Expr) -> str:
    """A mapping argument as the spec writes it: `{g: groups, p: 2}`."""
    return "{" + ", ".join(f"{k}: {v.text}" for k, v in entries(expr)) + "}"
