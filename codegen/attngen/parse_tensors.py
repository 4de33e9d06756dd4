"""`param:` and `buffer:` nodes: tensors the generated class owns (model.TensorDecl), with
their shape over params and lets, their initialiser and its options (named as the `init:`
section names them: std, mean, value, mode, nonlinearity), a buffer's dtype and whether it
is saved in the state_dict."""

from __future__ import annotations

import ast
import math

from .errors import BAD_VALUE, MISSING_KEY, UNKNOWN_NAME, Loc, a_, did_you_mean, error
from .expr import Expr, parse
from .expr_source import CONSTANTS, FORMULA_FUNCTIONS, FUNCTIONS, formula_fault
from .fields import check_keys, expect, expr_of, shape_of
from .model import InitOption, Spec, TensorDecl
from .names import check_identifier
from .yamlload import LBool, LMap, LStr, LValue, loc_of

INIT_NONLINEARITY = ("relu", "leaky_relu", "linear", "tanh", "sigmoid")
# initialiser -> the options it reads (each a keyword of torch's function of that name)
TENSOR_INITS: dict[str, tuple[str, ...]] = {
    "zeros": (), "ones": (), "constant": ("value",), "normal": ("mean", "std"),
    "uniform": ("a", "b"), "trunc_normal": ("mean", "std", "a", "b"),
    "xavier_uniform": ("slices",), "xavier_normal": ("slices",),
    "kaiming_normal": ("mode", "nonlinearity", "slices"),
    "kaiming_uniform": ("mode", "nonlinearity", "slices"),
    "eye": (), "arange": (), "relative_position": ("window",),
    "formula": ("formula", "index"),
}
NUMBER_OPTIONS = ("value", "mean", "std", "a", "b")
WORD_OPTIONS = {"mode": ("fan_in", "fan_out"), "nonlinearity": INIT_NONLINEARITY}
# `slices: n`: the initialiser fills each slice along the first n dims on its own, its fans
# a slice's (CondConv's experts, each initialised as one conv weight)
SLICES = "slices"
# the initialisers each dtype takes: random values only for float tensors, indices only
# for long ones
# `init: formula`: each element a formula of its index along each dim (`index: [p, i]`)
FORMULA = ("formula", "index")
DTYPE_INITS = {"float": tuple(i for i in TENSOR_INITS if i != "relative_position"),
               "long": ("zeros", "ones", "constant", "eye", "arange", "relative_position",
                        "formula"),
               "bool": ("zeros", "ones", "eye")}
TENSOR_DTYPES = tuple(DTYPE_INITS)  # as an input's `dtype:` words them
WINDOW_AXES = (1, 3)  # relative_position's window: a sequence, an image's, a video's
# initialisers that make a tensor of a fixed number of dims: that number, and how it reads
INIT_RANKS = {"eye": (2, "two dims, [n, m]"), "arange": (1, "one dim, [n]"),
              "relative_position": (2, "two dims, [n, n]")}
TENSOR_KEYS = ("param", "buffer", "init", *NUMBER_OPTIONS, *WORD_OPTIONS, SLICES, *FORMULA,
               "window", "dtype",
               "persistent", "when", "doc", "unused")


def init_number(value: LValue, key: str, loc: Loc) -> float:
    """An init option as a float; the generated code writes it as a literal, and `inf` or
    `nan` there would be names, not numbers."""
    given = expect(value, (int, float), f"init '{key}'", loc, "a number")
    try:
        number = float(given)
    except OverflowError:  # an integer beyond the range of a float
        number = math.inf
    if not math.isfinite(number):
        raise error(loc_of(value, loc), BAD_VALUE, f"init '{key}' must be a finite number "
                    "(not infinite, NaN or beyond the range of a float)")
    return number


def load_tensor(spec: Spec, name: str, raw: LMap, kind: str) -> TensorDecl:
    """A `param:` or `buffer:` node (without `when`, `doc` and `unused`, which the node
    keeps)."""
    what = f"{kind} '{name}'"
    for key in ("in", "shape", "each", "map", "out", "if_given", "args"):
        if key in raw:  # what other nodes take: say why a tensor does not
            raise error(raw.key_locs[key], BAD_VALUE, f"a {kind} has no '{key}': {what} is "
                        f"made in __init__ with the shape its '{kind}:' gives, and other nodes "
                        f"read it", f"read it from another node with: in: {name}")
    check_keys(raw, TENSOR_KEYS, what)
    if "param" in raw and "buffer" in raw:
        raise error(raw.key_locs["buffer"], BAD_VALUE, f"node '{name}' has both 'param' and "
                    "'buffer': a learnable tensor or a constant one, choose one")
    for key in ("dtype", "persistent"):
        if kind == "param" and key in raw:
            raise error(raw.key_locs[key], BAD_VALUE, f"'{key}' applies to a buffer, not to "
                        f"{what}: a parameter is a float tensor saved in the state_dict",
                        f"write it as a buffer: {{buffer: [...], {key}: ...}}")
    shape = shape_of(raw[kind], raw.key_locs[kind], f"the shape of {what}")
    if not shape:
        raise error(raw.key_locs[kind], BAD_VALUE, f"{what} has no dims",
                    f"a single number is one dim: {kind}: [1]")
    check_tensor_shape(spec, what, shape)
    dtype = "float"
    if "dtype" in raw:
        dtype = str(expect(raw["dtype"], LStr, f"'dtype' of {what}", raw.loc, "a string"))
        if dtype not in TENSOR_DTYPES:
            raise error(raw["dtype"].loc, BAD_VALUE, f"'dtype' of {what} must be one of "
                        + ", ".join(TENSOR_DTYPES) + did_you_mean(dtype, TENSOR_DTYPES))
    persistent = True
    if "persistent" in raw:
        persistent = bool(expect(raw["persistent"], LBool, f"'persistent' of {what}", raw.loc,
                                 "true or false"))
    if "init" not in raw:
        raise error(raw.loc, MISSING_KEY, f"{what} needs 'init' (how its values are made)",
                    "one of: " + ", ".join(DTYPE_INITS[dtype]))
    init = str(expect(raw["init"], LStr, f"'init' of {what}", raw.loc, "an initialiser name"))
    if init not in TENSOR_INITS:
        raise error(raw["init"].loc, BAD_VALUE, f"'init' of {what}: '{init}' is not one of "
                    + ", ".join(TENSOR_INITS) + did_you_mean(init, TENSOR_INITS))
    if init not in DTYPE_INITS[dtype]:
        if init in DTYPE_INITS["float"]:
            raise error(raw["init"].loc, BAD_VALUE, f"'init: {init}' makes float values; "
                        f"{what} is {a_(dtype)} tensor", "a buffer of dtype " + dtype + " takes: "
                        + ", ".join(DTYPE_INITS[dtype]))
        raise error(raw["init"].loc, BAD_VALUE, f"'init: {init}' makes indices; {what} is "
                    f"{a_(dtype)} tensor", "make it a long buffer: {buffer: [n, n], init: "
                    f"{init}, window: [h, w], dtype: long}}" if kind == "param" else
                    "add: dtype: long")
    rank = INIT_RANKS.get(init)
    if rank is not None and len(shape) != rank[0]:
        raise error(raw.key_locs[kind], BAD_VALUE, f"'init: {init}' needs a shape of {rank[1]}; "
                    f"{what} has {len(shape)}")
    if init.startswith(("xavier", "kaiming")) and len(shape) < 2:
        raise error(raw.key_locs[kind], BAD_VALUE, f"'init: {init}' reads the fan-in and "
                    f"fan-out of at least two dims; {what} has one",
                    f"use normal or uniform, or give it two dims: {kind}: [1, {shape[0].text}]")
    options = _options(raw, what, init, dtype)
    if SLICES in raw:
        options[SLICES] = _slices(raw, what, init, len(shape))
    if init == "formula" or any(key in raw for key in FORMULA):
        options.update(_formula(spec, raw, what, init, len(shape)))
    return TensorDecl(kind, shape, init, options, dtype, persistent)


def _slices(raw: LMap, what: str, init: str, rank: int) -> int:
    """`slices: n`, a whole number from 1 that leaves a slice two dims (its fans)."""
    loc = raw.key_locs[SLICES]
    if SLICES not in TENSOR_INITS[init]:
        users = [i for i, keys in TENSOR_INITS.items() if SLICES in keys]
        raise error(loc, BAD_VALUE, f"'slices' of {what} applies only to init: "
                    + " or ".join(users) + f" (they read a slice's fans), not to init: {init}")
    value = raw[SLICES]
    if isinstance(value, LBool) or not isinstance(value, int) or value < 1:
        raise error(loc_of(value, loc), BAD_VALUE, f"'slices' of {what} must be a whole "
                    f"number of leading dims, at least 1, got "
                    + (str(bool(value)).lower() if isinstance(value, LBool) else repr(value)))
    if rank - value < 2:
        raise error(loc_of(value, loc), BAD_VALUE, f"'slices: {value}' leaves each slice of "
                    f"{what} {rank - value} dim(s); init: {init} reads the fans of two or more",
                    f"slice fewer dims: slices: {rank - 2}" if rank > 2 else
                    "leave 'slices' out")
    return int(value)


def _options(raw: LMap, what: str, init: str, dtype: str) -> dict[str, InitOption]:
    """The initialiser's options: a word, a number, or an expression over params and lets
    (`std: dim_head ** -0.5`, whose value the checker judges in each configuration); a
    relative position table's window, a list of sizes."""
    options: dict[str, InitOption] = {}
    numbers: dict[str, float] = {}
    if init == "relative_position":
        options["window"] = _window(raw, what)
    elif "window" in raw:
        raise error(raw.key_locs["window"], BAD_VALUE, f"'window' of {what} applies only to "
                    f"init: relative_position, not to init: {init}")
    for key in (*NUMBER_OPTIONS, *WORD_OPTIONS):
        if key not in raw:
            continue
        if key not in TENSOR_INITS[init]:
            users = [i for i, keys in TENSOR_INITS.items() if key in keys]
            raise error(raw.key_locs[key], BAD_VALUE, f"'{key}' of {what} applies only to init: "
                        + " or ".join(users) + f", not to init: {init}")
        if key in WORD_OPTIONS:
            word = str(expect(raw[key], LStr, f"init '{key}'", raw.loc, "a string"))
            if word not in WORD_OPTIONS[key]:
                raise error(raw[key].loc, BAD_VALUE, f"init {key} must be one of "
                            + ", ".join(WORD_OPTIONS[key]) + did_you_mean(word, WORD_OPTIONS[key]))
            options[key] = word
        elif isinstance(raw[key], LStr):
            options[key] = expr_of(raw[key], raw.loc)
        else:
            options[key] = numbers[key] = init_number(raw[key], key, raw.loc)
    if any(isinstance(v, Expr) for v in options.values()):
        return options  # the checker judges them all, at each configuration's values
    wrong = option_fault(init, numbers)
    if wrong is not None:
        raise error(raw[wrong[0]].loc, BAD_VALUE, wrong[1])
    if dtype == "long" and "value" in numbers and numbers["value"] != int(numbers["value"]):
        raise error(raw["value"].loc, BAD_VALUE, f"{what} is a long tensor: its 'value' must "
                    f"be a whole number, got {numbers['value']!r}")
    return options


def _window(raw: LMap, what: str) -> tuple[Expr, ...]:
    """relative_position's `window: [wh, ww]`: the sizes of the window whose positions the
    table pairs, each over params and lets, one to three of them."""
    if "window" not in raw:
        raise error(raw.key_locs["init"], MISSING_KEY, f"'init: relative_position' needs "
                    f"'window' (the sizes of the window whose positions {what} pairs)",
                    "add it beside the init, e.g.: window: [window_h, window_w]")
    sizes = shape_of(raw["window"], raw.key_locs["window"], f"the window of {what}")
    if not WINDOW_AXES[0] <= len(sizes) <= WINDOW_AXES[1]:
        raise error(raw.key_locs["window"], BAD_VALUE, f"the window of {what} has "
                    f"{len(sizes)} sizes; it takes {WINDOW_AXES[0]} to {WINDOW_AXES[1]} (a "
                    "sequence's, an image's [h, w], a video's [t, h, w])")
    return tuple(sizes)


# the bounds of `uniform` and `trunc_normal` where they are not given, as nn.init's defaults
_DEFAULT_BOUNDS = {"uniform": (0.0, 1.0), "trunc_normal": (-2.0, 2.0)}


def option_fault(init: str, numbers: dict[str, float]) -> tuple[str, str] | None:
    """(the option, what is wrong) where the initialiser's numeric options cannot make a
    tensor: a negative std, or bounds `a` not below `b` (a given one against the other's
    default, as torch reads them); None where they can."""
    if numbers.get("std", 0.0) < 0:
        return "std", f"init 'std' must be at least 0, got {numbers['std']!r}"
    if init in _DEFAULT_BOUNDS and ("a" in numbers or "b" in numbers):
        low, high = _DEFAULT_BOUNDS[init]
        a, b = numbers.get("a", low), numbers.get("b", high)
        if not a < b:
            if "a" in numbers and "b" in numbers:
                return "b", f"init 'b' must be greater than 'a' ({a!r}), got {b!r}"
            if "a" in numbers:
                return "a", (f"init 'a' must be below 'b', which is {b!r} unless given "
                             f"(init {init}'s default), got {a!r}")
            return "b", (f"init 'b' must be greater than 'a', which is {a!r} unless given "
                         f"(init {init}'s default), got {b!r}")
    return None


def check_tensor_shape(spec: Spec, what: str, shape: list) -> None:
    """A tensor made in __init__ has its shape before any input exists: its dims may name
    params and lets, not the dims of input shapes (E102 with the fix: make it a param)."""
    known = set(spec.params) | set(spec.lets)
    inputs = {d.text: f"a dim of input '{name}'" for name, inp in spec.sources().items()
              for d in inp.tensor_shape if d.text.isidentifier()}
    inputs.update({n: "an int input (forward's argument)" for n in spec.int_inputs})
    for dim in shape:
        for used in sorted(dim.names - known):
            if used in inputs:
                raise error(dim.loc, BAD_VALUE, f"the shape of {what} names '{used}', "
                            f"{inputs[used]}: {what} is made in __init__, before any "
                            "input exists, so its shape may name only params and lets",
                            f"make '{used}' a param (the input's shape then reads it): "
                            f"params: {{{used}: 64}}")


def _formula(spec: Spec, raw: LMap, what: str, init: str, rank: int) -> dict[str, InitOption]:
    """`init: formula`'s `index: [p, i]` (a name per dim, each element's index along it)
    and `formula:` (an expression of them, params and lets; sin, cos, exp, log, sqrt too)."""
    loc = raw.key_locs.get("init", raw.loc)
    if init != "formula":
        key = next(k for k in FORMULA if k in raw)
        raise error(raw.key_locs[key], BAD_VALUE, f"'{key}' of {what} applies only to init: "
                    f"formula, not to init: {init}")
    for key in FORMULA:
        if key not in raw:
            raise error(loc, MISSING_KEY, f"'init: formula' of {what} needs '{key}'",
                        "e.g. index: [p, i] and formula: \"sin(p * exp(-i / d))\"")
    names = shape_of(raw["index"], raw.key_locs["index"], f"the index of {what}")
    taken = {*spec.params, *spec.lets}
    for name in names:  # locals of __init__: no keyword, builtin or name of ours
        if not isinstance(name.tree, ast.Name):
            raise error(name.loc, BAD_VALUE, f"index '{name.text}' of {what} must be a name")
        check_identifier(name.text, name.loc, "index")
        if name.text in (*CONSTANTS, *FUNCTIONS, *FORMULA_FUNCTIONS):  # `inf` reads infinity
            raise error(name.loc, BAD_VALUE, f"index '{name.text}' of {what} is a name "
                        "expressions read as a constant or a function")
        if name.text in taken or names.count(name) > 1:
            raise error(name.loc, BAD_VALUE, f"index '{name.text}' of {what} must be a new "
                        "name, once (not a param or a let)")
    if len(names) != rank:
        raise error(raw.key_locs["index"], BAD_VALUE, f"{what} has {rank} dim(s) and "
                    f"{len(names)} index name(s): one per dim")
    text = expect(raw["formula"], (LStr, int, float), f"'formula' of {what}", loc,
                  "an expression")
    formula = parse(text, loc_of(raw["formula"], raw.key_locs["formula"]), formula=True)
    index = {n.text for n in names}
    for node in ast.walk(formula.tree):
        if isinstance(node, ast.Subscript) and any(
                isinstance(n, ast.Name) and n.id in index for n in ast.walk(node.slice)):
            raise error(formula.loc, BAD_VALUE, f"the formula of {what} indexes a list by an "
                        f"index ('{ast.unparse(node)}'): a list is no tensor",
                        "index it by params and lets, or write the choice with 'if'")
    if not formula.names & index:
        raise error(formula.loc, BAD_VALUE, f"the formula of {what} reads no index: every "
                    "element would be the same", "write it as init: constant, value: ...")
    fault = formula_fault(formula.tree, frozenset(index),
                          frozenset(p.name for p in spec.params.values() if p.type == "bool"))
    if fault:
        raise error(formula.loc, BAD_VALUE, f"the formula of {what}: {fault}")
    unknown = sorted(formula.names - index - taken)
    if unknown:
        raise error(formula.loc, UNKNOWN_NAME, f"unknown name '{unknown[0]}' in the formula "
                    f"of {what}" + did_you_mean(unknown[0], [*index, *taken]),
                    "a formula reads its index names, params and lets")
    return {"formula": formula, "index": tuple(names)}
