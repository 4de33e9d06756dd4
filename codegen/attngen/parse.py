"""YAML -> Spec: the spec language's schema.

Every key is checked here (unknown keys get a "did you mean"), every name is a
valid identifier, every expression is parsed by the whitelist parser. Nothing
after this stage reads YAML. The `graph:` section is parse_nodes.py's; sub-specs named
by `use:` come from the loader (loader.py). The namespace and optional-input checks of
graph.py run here, on the finished spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from . import ops
from .counts import param_values
from .errors import (
    BAD_EDIT,
    BAD_NAME,
    BAD_VALUE,
    DUPLICATE_NAME,
    MISSING_KEY,
    UNKNOWN_NAME,
    UNKNOWN_OP,
    UNKNOWN_REF,
    Collector,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .expr import Expr, parse
from .expr_source import CONSTANTS, FUNCTIONS
from .fields import check_keys, expect, expr_of, shape_of, text_of
from .graph import check_optional_reads, check_unique_names
from .model import (
    DTYPE_FAMILIES,
    REQUIRED,
    InitRule,
    Input,
    IntInput,
    LayerOp,
    Let,
    Output,
    Param,
    Spec,
    dim_names,
)
from .names import check_class_name, check_identifier
from .parse_nodes import KINDS, NODE_KEYS, SubSpecs, parse_graph
from .parse_tensors import INIT_NONLINEARITY, init_number
from .yamlload import LBool, LList, LMap, LStr, LValue, Plain, loc_of, plain, unquote_hint

TOP_KEYS = ("name", "title", "paper", "doc", "extends", "fuse", "params", "let", "requires",
            "inputs", "graph", "outputs", "init", "aliases", "edits", "binds")
PARAM_KEYS = ("type", "default", "doc", "choices", "example")
INPUT_KEYS = ("shape", "optional", "dtype", "items", "doc")
PARAM_TYPES = ("int", "float", "bool", "str", "list", "any")
DTYPES = tuple(DTYPE_FAMILIES)  # an input's `dtype:` words
INIT_KEYS = ("op", "layer", "weight", "bias", "std", "mean", "a", "b", "mode", "nonlinearity",
             "value")
INIT_WEIGHT = ("normal", "trunc_normal", "kaiming_normal", "kaiming_uniform", "xavier_uniform",
               "xavier_normal", "constant", "zeros", "ones", "shift")
INIT_BIAS = ("zeros", "constant")
INIT_OPTION_USERS = {"std": ("normal", "trunc_normal"), "mean": ("normal", "trunc_normal"),
                     "a": ("trunc_normal",), "b": ("trunc_normal",), "value": ("constant",),
                     "mode": ("kaiming_normal", "kaiming_uniform"),
                     "nonlinearity": ("kaiming_normal", "kaiming_uniform")}


def parse_spec(raw: LValue, path: Path, display: str, loader: SubSpecs,
               stack: tuple[tuple[Path, Loc], ...]) -> Spec:
    top = Loc(display, 1, 1)
    raw = expect(raw, LMap, "a spec", top, "a mapping with keys like name, params, inputs, graph")
    check_keys(raw, TOP_KEYS, "the spec")
    if "edits" in raw:
        raise error(raw.key_locs["edits"], BAD_EDIT, "'edits' needs 'extends' (a spec to edit)")
    issues = Collector()
    for key in ("name", "inputs", "graph", "outputs"):
        if key not in raw:
            issues.add(error(raw.loc, MISSING_KEY, f"missing required key '{key}' in the spec"))
    issues.raise_if_any()
    name_value = expect(raw["name"], LStr, "'name'", raw.loc, "a string (the class name)")
    spec = Spec(
        name=check_class_name(name_value, name_value.loc), path=path, file=display,
        loc=raw.loc, title=text_of(raw, "title", "the spec"),
        paper=text_of(raw, "paper", "the spec"), doc=text_of(raw, "doc", "the spec"),
        extends=str(raw["extends"]) if "extends" in raw else None,
        fuse=bool(expect(raw["fuse"], LBool, "'fuse'", raw.loc, "true or false"))
        if "fuse" in raw else True,
    )
    sections: list[tuple[str, Callable[[Spec, LValue, Loc], None] | None]] = [
        ("params", _load_params), ("let", _load_lets), ("requires", _load_requires),
        ("inputs", _load_inputs), ("graph", None), ("outputs", _load_outputs),
        ("init", _load_init), ("binds", _load_binds),
    ]
    for key, fn in sections:
        if key not in raw:
            continue
        try:
            if fn is None:  # the graph
                parse_graph(spec, raw["graph"], raw.key_locs["graph"], loader, stack)
            else:
                fn(spec, raw[key], raw.key_locs[key])
        except SpecError as exc:
            issues.add(exc)
    if "aliases" in raw:
        items = expect(raw["aliases"], LList, "'aliases'", raw.loc, "a list of names")
        for alias in items:  # kept located (an LStr): namespace errors point at it
            name = check_class_name(alias, loc_of(alias, items.loc))
            spec.aliases.append(alias if isinstance(alias, LStr) else name)
    issues.raise_if_any()
    check_unique_names(spec)
    check_optional_reads(spec)
    check_param_order(spec)
    return spec


def check_param_order(spec: Spec) -> None:
    seen_default: str | None = None
    for p in spec.params.values():
        if p.required and seen_default:
            raise error(p.loc, BAD_VALUE, f"param '{p.name}' has no default but follows "
                        f"'{seen_default}', which has one (Python needs required params first)")
        if not p.required:
            seen_default = p.name


def _load_params(spec: Spec, raw: LValue, loc: Loc) -> None:
    raw = expect(raw, LMap, "'params'", loc, "a mapping of name: default")
    for key, value in raw.items():
        name = check_identifier(key, key.loc, "param", attribute=True)
        if isinstance(value, LMap):
            check_keys(value, PARAM_KEYS, f"param '{name}'")
            default: object = plain(value["default"]) if "default" in value else REQUIRED
            ptype = str(value.get("type", "")) or _infer_type(default, key.loc, name)
            if ptype not in PARAM_TYPES:
                raise error(value["type"].loc, BAD_VALUE, f"param '{name}': unknown type '{ptype}'"
                            + did_you_mean(ptype, PARAM_TYPES))
            listed = value.get("choices")
            choices: tuple[Plain, ...] | None = None
            if listed is not None:
                choices = tuple(plain(expect(listed, LList, f"'choices' of param '{name}'",
                                             value.loc, "a list")))
            example = plain(value["example"]) if "example" in value else None
            if default is REQUIRED and example is None:
                example = choices[0] if choices else _default_example(ptype)
            param = Param(name, key.loc, ptype, default, example, choices,
                          text_of(value, "doc", f"param '{name}'"),
                          tries_example=default is not REQUIRED and "example" in value,
                          choices_file=value.key_locs["choices"].file if listed else "")
        else:
            default = plain(value)
            param = Param(name, key.loc, _infer_type(default, key.loc, name), default)
        check_param_value(param, loc_of(value, key.loc))
        if param.tries_example and isinstance(value, LMap):
            at = loc_of(value["example"], key.loc)
            if param.structural:
                raise error(at, BAD_VALUE, f"param '{name}': every value of a bool or "
                            "`choices` param is checked: an example adds none",
                            "remove 'example'")
            check_param_value(replace(param, default=param.example), at)
        spec.params[name] = param


def _infer_type(default: object, loc: Loc, name: str) -> str:
    if default is REQUIRED:
        raise error(loc, BAD_VALUE, f"param '{name}' needs a 'type' or a 'default'")
    for t, py in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", list)):
        if isinstance(default, py):
            return t
    return "any"


def _default_example(ptype: str) -> Plain:
    examples: dict[str, Plain] = {"int": 64, "float": 1.0, "bool": False, "str": "", "list": [],
                                  "any": None}
    return examples[ptype]


def check_param_value(param: Param, loc: Loc) -> None:
    value = param.sample
    ok = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "list": lambda v: isinstance(v, list),
        "any": lambda v: True,
    }[param.type]
    if not ok(value) and not (value is None and param.type != "list"):
        hint = unquote_hint(value) if param.type in ("int", "float") else None
        raise error(loc, BAD_VALUE,
                    f"param '{param.name}': value {value!r} is not of type {param.type}",
                    *([hint] if hint else []))
    if param.type == "list" and isinstance(value, list) and not all(  # a list: checked above
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise error(loc, BAD_VALUE, f"param '{param.name}': a list param holds numbers")
    if param.type == "int" and isinstance(value, int) and abs(value) > 10**12:
        raise error(loc, BAD_VALUE, f"param '{param.name}': {value} is larger than 10**12")
    if param.choices is not None and value not in param.choices:
        raise error(loc, BAD_VALUE,
                    f"param '{param.name}': {value!r} is not one of {list(param.choices)}")
    if param.type == "str" and isinstance(value, str) and len(value) > 200:
        raise error(loc, BAD_VALUE, f"param '{param.name}': string longer than 200 characters")


def _load_lets(spec: Spec, raw: LValue, loc: Loc) -> None:
    raw = expect(raw, LMap, "'let'", loc, "a mapping of name: expression")
    for key, value in raw.items():
        name = check_identifier(key, key.loc, "let", attribute=True)
        spec.lets[name] = Let(name, key.loc, expr_of(value, key.loc, comprehension=True))


def _load_requires(spec: Spec, raw: LValue, loc: Loc) -> None:
    items = raw if isinstance(raw, LList) else [raw]
    for item in items:
        text = expect(item, LStr, "a requirement", loc,
                      "an expression like 'channel % reduction == 0'")
        spec.requires.append(parse(text, text.loc))


def _load_inputs(spec: Spec, raw: LValue, loc: Loc) -> None:
    raw = expect(raw, LMap, "'inputs'", loc, "a mapping of name: shape")
    if not raw:
        raise error(loc, MISSING_KEY, "a spec needs at least one input")
    optional: str | None = None
    for key, value in raw.items():
        inp: Input | IntInput | None = _int_input(key, value)
        if isinstance(inp, IntInput):
            spec.int_inputs[inp.name] = inp
        else:
            inp = spec.inputs[str(key)] = _load_input(key, value)
        spec.arg_order.append(inp.name)
        if isinstance(inp, Input) and inp.optional:
            optional = optional or inp.name
        elif optional:  # forward(self, x, mask=None): optional inputs come last
            raise error(inp.loc, BAD_VALUE, f"input '{inp.name}' is required but follows "
                        f"the optional input '{optional}' (optional inputs come last)")
    if not spec.inputs:
        raise error(loc, MISSING_KEY, "a spec needs at least one tensor input",
                    "ints (`H: int`) are sizes forward takes beside its tensors")


def _int_input(key: LStr, value: LValue) -> IntInput | None:
    """`H: int` or `H: {type: int, doc: ...}`: forward takes a number, a dim of the check
    (PVT's `forward(x, H, W)`); None for a tensor input."""
    if isinstance(value, LStr) and str(value) not in PARAM_TYPES:  # `H: integer`
        raise error(value.loc, BAD_VALUE, f"input '{key}' must be a shape list, a mapping or "
                    f"`int`, got '{value}'" + did_you_mean(str(value), ["int"]),
                    f"a tensor: `{key}: [B, C, H, W]`; an int forward takes: `{key}: int`")
    if isinstance(value, LStr):
        typed, where, doc = str(value), value.loc, ""
    elif isinstance(value, LMap) and "type" in value:
        check_keys(value, ("type", "doc"), f"input '{key}'")
        typed, where = str(value["type"]), loc_of(value["type"], value.loc)
        doc = text_of(value, "doc", f"input '{key}'")
    else:
        return None
    name = check_identifier(key, key.loc, "input")
    if name in NODE_KEYS + KINDS:  # a caller passes it as a key of its `use:` node
        raise error(key.loc, BAD_NAME, f"int input '{name}' is a key of the node that uses "
                    "this spec, which could not pass it", f"name it apart: `{name}_: int`")
    if typed != "int":
        raise error(where, BAD_VALUE, f"input '{name}': forward takes tensors and ints (sizes "
                    f"such as `H: int`), not a {typed}", f"make it a param: `params: "
                    f"{{{name}: {{type: {typed}}}}}`, set when the module is built")
    checked_dims([parse(name, key.loc)])  # a dim of forward: an unreserved identifier
    return IntInput(name, key.loc, doc)


def _load_input(key: LStr, value: LValue, *, item: bool = False) -> Input:
    name = check_identifier(key, key.loc, "input")
    if isinstance(value, LList):
        return Input(
            name, key.loc, checked_dims(shape_of(value, key.loc, f"shape of input '{name}'"))
        )
    value = expect(value, LMap, f"input '{name}'", key.loc, "a shape list or a mapping")
    check_keys(value, INPUT_KEYS, f"input '{name}'")
    inp = Input(name, key.loc, doc=text_of(value, "doc", f"input '{name}'"))
    if "optional" in value:
        inp.optional = bool(expect(value["optional"], int, f"'optional' of input '{name}'",
                                    value.loc, "true or false"))
    if "dtype" in value:
        inp.dtype = str(value["dtype"])
        if inp.dtype not in DTYPES:
            raise error(value["dtype"].loc, BAD_VALUE, f"input '{name}': dtype must be one of "
                        f"{', '.join(DTYPES)}" + did_you_mean(inp.dtype, DTYPES))
    if "items" in value:
        if item:
            raise error(value.key_locs["items"], BAD_VALUE, "list inputs cannot be nested")
        if "shape" in value:
            raise error(value.key_locs["items"], BAD_VALUE,
                        f"input '{name}' has both 'shape' and 'items'")
        items = expect(value["items"], LMap, f"'items' of input '{name}'", value.loc,
                        "a mapping of item name: shape")
        if not items:
            raise error(items.loc, BAD_VALUE, f"input '{name}' has no items")
        inp.items = [_load_input(k, v, item=True) for k, v in items.items()]
    elif "shape" in value:
        inp.shape = checked_dims(shape_of(value["shape"], value.loc, f"shape of input '{name}'"))
    else:
        raise error(
            value.loc, MISSING_KEY, f"input '{name}' needs 'shape' (or 'items' for a list)"
        )
    return inp


def checked_dims(shape: list[Expr]) -> list[Expr]:
    """Dim names become local variables of forward: valid, unreserved identifiers."""
    for name, loc in dim_names(shape):
        if name in FUNCTIONS or name in CONSTANTS:
            raise error(loc, BAD_NAME, f"dim name '{name}' is reserved: expressions use it")
        check_identifier(name, loc, "dim")
    return shape


def _load_outputs(spec: Spec, raw: LValue, loc: Loc) -> None:
    form: str = "value"
    if isinstance(raw, LMap):
        check_keys(raw, ("list", "tuple"), "'outputs'")
        if len(raw) != 1:
            raise error(raw.loc, BAD_VALUE, "'outputs' mapping takes one key: 'list' or 'tuple'")
        form = next(iter(raw))
        raw = expect(raw[form], LList, f"'outputs.{form}'", loc, "a list of node names")
    elif isinstance(raw, LList):
        form = "tuple"
    items = raw if isinstance(raw, LList) else [raw]
    if not items:
        raise error(loc_of(raw, loc), BAD_VALUE, "'outputs' is empty")
    for item in items:
        when = None
        if isinstance(item, LMap):
            check_keys(item, ("name", "when"), "an output")
            if "name" not in item:
                raise error(item.loc, MISSING_KEY, "an output needs 'name'")
            when = parse(item["when"], loc_of(item["when"], item.loc)) if "when" in item else None
            item = item["name"]
        ref = expect(item, LStr, "an output", loc, "a node name")
        spec.outputs.append(Output(str(ref), ref.loc, when))
    spec.output_form = form if len(spec.outputs) > 1 or form == "list" else "value"


def _load_binds(spec: Spec, raw: LValue, loc: Loc) -> None:
    """`binds: {PARAM: DIM}`: an int param is the size of a dim of the first input, where
    the shapes cannot say so (the input names the dim, not the param): binding.py reads it."""
    raw = expect(raw, LMap, "'binds'", loc, "a mapping PARAM: DIM (a dim of the first input)")
    first = next(iter(spec.inputs.values()), None)
    dims = [d.text for d in first.tensor_shape] if first is not None and first.items is None \
        else []
    free = [d for d in dims if d.isidentifier() and d not in spec.params and d not in spec.lets]
    issues = Collector()
    for name, value in raw.items():
        where = raw.key_locs[name]
        param = spec.params.get(str(name))
        if param is None or param.type != "int":
            issues.add(error(where, UNKNOWN_NAME, f"binds: '{name}' is not an int param"
                             + did_you_mean(str(name), [p.name for p in spec.params.values()
                                                        if p.type == "int"])))
            continue
        dim = expect(value, LStr, f"binds '{name}'", where, "a dim name of the first input")
        if str(dim) not in free:
            shown = f"{first.name} [{', '.join(dims)}]" if first is not None else "none"
            issues.add(error(loc_of(dim, where), UNKNOWN_NAME, f"binds: '{dim}' is not a dim "
                             f"of the first input that no param or let names (first input: "
                             f"{shown})" + did_you_mean(str(dim), free)))
            continue
        spec.binds[param.name] = str(dim)
    issues.raise_if_any()


def _load_init(spec: Spec, raw: LValue, loc: Loc) -> None:
    rules = expect(raw, LList, "'init'", loc,
                   "a list of rules like {op: Linear, weight: normal, std: 0.001}")
    for item in rules:
        rule = expect(item, LMap, "an init rule", loc, "a mapping")
        check_keys(rule, INIT_KEYS, "an init rule")
        if ("op" in rule) == ("layer" in rule):
            raise error(rule.loc, MISSING_KEY, "an init rule needs 'op' (a layer type: every "
                        "layer of it) or 'layer' (one node's layer), one of them")
        if "layer" in rule:
            init = _layer_rule(spec, rule)
            op = init.op
        else:
            op = str(rule["op"])
            if op not in ops.REGISTRY or not ops.REGISTRY[op].module:
                raise error(rule["op"].loc, UNKNOWN_OP, f"init: unknown layer type '{op}'"
                            + did_you_mean(op, [n for n, o in ops.REGISTRY.items()
                                                if o.module]))
            init = InitRule(op, rule.loc)
        for key, choices in (("weight", INIT_WEIGHT), ("bias", INIT_BIAS)):
            if key in rule:
                value = str(rule[key])
                if value not in choices:
                    raise error(rule[key].loc, BAD_VALUE, f"init {key}: '{value}' is not one of "
                                + ", ".join(choices) + did_you_mean(value, choices))
                setattr(init, key, value)
        numbers: dict[str, float] = {}
        for key in ("std", "mean", "a", "b", "value"):
            if key in rule:
                init.options[key] = numbers[key] = init_number(rule[key], key, rule.loc)
        if numbers.get("std", 0.0) < 0:
            raise error(rule["std"].loc, BAD_VALUE, f"init 'std' must be at least 0, got "
                        f"{numbers['std']!r}")
        words: dict[str, str] = {}
        for key in ("mode", "nonlinearity"):
            if key in rule:
                init.options[key] = words[key] = str(expect(rule[key], str, f"init '{key}'",
                                                            rule.loc, "a string"))
        if init.options.get("mode", "fan_in") not in ("fan_in", "fan_out"):
            raise error(rule["mode"].loc, BAD_VALUE, "init mode must be fan_in or fan_out")
        if init.options.get("nonlinearity", "relu") not in INIT_NONLINEARITY:
            raise error(rule["nonlinearity"].loc, BAD_VALUE, "init nonlinearity must be one of "
                        + ", ".join(INIT_NONLINEARITY)
                        + did_you_mean(words["nonlinearity"], INIT_NONLINEARITY))
        if init.weight is None and init.bias is None:
            raise error(rule.loc, MISSING_KEY, f"init rule for {init.layer or op} sets neither "
                        "'weight' nor 'bias'")
        if init.weight == "shift":
            _check_shift(spec, init, rule)
        for key in init.options:  # an option the chosen initialisers would ignore
            users = INIT_OPTION_USERS[key]
            if init.weight not in users and not (key == "value" and init.bias == "constant"):
                raise error(rule.key_locs[key], BAD_VALUE, f"init '{key}' applies only to weight: "
                            + " or ".join(users) + (" or bias: constant" if key == "value" else "")
                            + f", not to this rule (weight: {init.weight})")
        if numbers.get("a", -2.0) >= numbers.get("b", 2.0):  # nn.init.trunc_normal_'s bounds
            raise error(rule.key_locs.get("a", rule.key_locs.get("b", rule.loc)), BAD_VALUE,
                        "init 'a' (the lower cut-off, default -2.0) must be below 'b' (the "
                        "upper, default 2.0)")
        if init.weight == "trunc_normal" and numbers.get("std", 1.0) == 0:
            raise error(rule.key_locs["std"], BAD_VALUE, "init 'std' of trunc_normal must be "
                        "above 0 (torch divides by it)")
        if any(r.op == op and r.layer == init.layer for r in spec.init):
            what = f"layer {init.layer}" if init.layer else op
            raise error(rule["layer" if init.layer else "op"].loc, DUPLICATE_NAME,
                        f"a second init rule for {what}; one rule per layer type and per layer")
        spec.init.append(init)


def _check_shift(spec: Spec, init: InitRule, rule: LMap) -> None:
    """`weight: shift` (ACmix's shift kernels): input channel i of each group one-hot at
    kernel position i, so the conv shifts each channel by that position's offset. For one
    Conv2d whose groups take as many channels as its kernel has positions, checked at the
    default sizes as arguments are."""
    where = rule["weight"].loc
    if init.layer is None or init.op != "Conv2d":
        raise error(where, BAD_VALUE, "init weight 'shift' is a Conv2d's, set for one layer: "
                    f"{{layer: NAME, weight: shift}}, not {init.layer or init.op}")
    form = spec.nodes[init.layer].form
    assert isinstance(form, LayerOp)
    try:
        values = param_values(spec)
        args = {k: v.value(values) for k, v in form.args.items()}
        kernel = args.get("kernel_size")
        kh, kw = kernel if isinstance(kernel, tuple | list) else (kernel, kernel)
        per_group = args.get("in_channels", 0) // args.get("groups", 1)
    except (SpecError, ZeroDivisionError, ValueError, TypeError):
        return  # an argument the checker reports
    if not (isinstance(kh, int) and isinstance(kw, int)) or per_group != kh * kw:
        raise error(where, BAD_VALUE, f"init weight 'shift' of layer {init.layer} needs "
                    f"in_channels // groups ({per_group} at the defaults) to be the kernel's "
                    f"positions ({kh} x {kw}): one channel a position")


def _layer_rule(spec: Spec, rule: LMap) -> InitRule:
    """A rule for one node's layer (`layer: proj`): a node of the graph that owns one op
    layer with parameters in every configuration (no `when`, `each`, cases, `seq:` or
    `use:`), whose op the rule's options are then checked against."""
    name = str(rule["layer"])
    where = rule["layer"].loc
    node = spec.nodes.get(name)
    if node is None:
        raise error(where, UNKNOWN_REF, f"init: no node '{name}' in the graph"
                    + did_you_mean(name, list(spec.nodes)))
    form = node.form
    if not isinstance(form, LayerOp) or node.when is not None:
        why = ("exists only where its `when` holds" if node.when is not None else
               "is not one op layer (a `seq:`, a `use:`, an `each` or `cases` node, a tensor "
               "function or a tensor)")
        raise error(where, BAD_VALUE, f"init: node '{name}' {why}; a `layer:` rule sets the "
                    "weight of one layer the module always has",
                    "give the layer a node of its own, or a rule by type: {op: ...}")
    if ops.REGISTRY[form.op].params is None:
        raise error(where, BAD_VALUE, f"init: node '{name}' is a {form.op}, which has no "
                    "parameters to initialise")
    return InitRule(form.op, rule.loc, layer=name)
