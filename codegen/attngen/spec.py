"""YAML -> Spec: the spec language's schema.

Every key is checked here (unknown keys get a "did you mean"), every name is a
valid identifier, every expression is parsed by the whitelist parser. Nothing
after this stage reads YAML. Sub-specs named by `use:` are loaded recursively.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import ops
from .errors import Collector, Loc, SpecError, did_you_mean, error
from .expr import CONSTANTS, FUNCTIONS, Expr, parse
from .names import check_class_name, check_identifier
from .yamlload import LBool, LFloat, LList, LMap, LNone, LStr, load_file, loc_of, plain

TOP_KEYS = ("name", "title", "paper", "doc", "extends", "params", "let", "requires",
            "inputs", "graph", "outputs", "init", "aliases", "edits")
NODE_KEYS = ("op", "use", "seq", "apply", "each", "in", "shape", "when", "cases", "out", "map",
             "if_given", "doc", "args")
ITEM_KEYS = ("op", "use", "args", "shape", "doc")
PARAM_KEYS = ("type", "default", "doc", "choices", "example")
INPUT_KEYS = ("shape", "optional", "dtype", "items", "doc")
PARAM_TYPES = ("int", "float", "bool", "str", "list", "any")
DTYPES = ("float", "bool", "long")
INIT_KEYS = ("op", "weight", "bias", "std", "mean", "mode", "nonlinearity", "value")
INIT_WEIGHT = ("normal", "kaiming_normal", "kaiming_uniform", "xavier_uniform", "xavier_normal",
               "constant", "zeros", "ones")
INIT_BIAS = ("zeros", "constant")
INIT_NONLINEARITY = ("relu", "leaky_relu", "linear", "tanh", "sigmoid")
INIT_OPTION_USERS = {"std": ("normal",), "mean": ("normal",), "value": ("constant",),
                     "mode": ("kaiming_normal", "kaiming_uniform"),
                     "nonlinearity": ("kaiming_normal", "kaiming_uniform")}
REQUIRED = object()  # marker: a constructor parameter without default


@dataclass
class Param:
    name: str
    loc: Loc
    type: str
    default: object = REQUIRED  # plain Python value, or REQUIRED
    example: object = None  # value used for checking a required param
    choices: tuple | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def sample(self):
        """The value used for checking: default, else example."""
        return self.example if self.required else self.default


@dataclass
class Let:
    name: str
    loc: Loc
    expr: Expr


@dataclass
class Input:
    name: str
    loc: Loc
    shape: list[Expr] | None = None  # None for a list input
    optional: bool = False
    dtype: str = "float"
    items: list[Input] | None = None  # a list input: named tensors, unpacked in forward
    doc: str = ""


@dataclass
class Ref:
    name: str
    loc: Loc


@dataclass
class Item:
    """One layer of a `seq:` group (or the callee of an op/use node)."""

    name: str  # attribute name inside the Sequential ("0", "1" ... for the list form)
    loc: Loc
    op: str | None = None
    use: str | None = None
    args: dict[str, Expr] = field(default_factory=dict)
    shape: list[Expr] | None = None
    doc: str = ""
    spec: Spec | None = None  # the loaded sub-spec of a `use:` item


@dataclass
class Node:
    name: str
    loc: Loc
    inputs: list[Ref] = field(default_factory=list)
    op: str | None = None
    use: str | None = None
    args: dict[str, Expr] = field(default_factory=dict)
    seq: list[Item] | None = None
    seq_named: bool = False
    each: Expr | None = None  # iterable expression (a list param or let)
    each_var: str | None = None
    shape: list | None = None  # annotation: list[Expr], or list[list[Expr]] with `out`
    shape_loc: Loc | None = None
    when: Expr | None = None
    cases: list[Node] | None = None
    out: list[str] | None = None  # names of several outputs (split)
    map: bool = False
    if_given: Ref | None = None
    doc: str = ""
    spec: Spec | None = None  # loaded sub-spec of a `use:` node
    apply: Ref | None = None  # reuse the layer of another node (shared weights)

    @property
    def kind(self) -> str:
        if self.cases is not None:
            return "cases"
        if self.seq is not None:
            return "seq"
        if self.apply is not None:
            return "apply"
        return "use" if self.use else "op"

    def as_item(self) -> Item:
        return Item(self.name, self.loc, self.op, self.use, self.args, None, self.doc, self.spec)


@dataclass
class Output:
    name: str
    loc: Loc
    when: Expr | None = None


@dataclass
class InitRule:
    op: str
    loc: Loc
    weight: str | None = None
    bias: str | None = None
    options: dict[str, object] = field(default_factory=dict)


@dataclass
class Spec:
    name: str
    path: Path
    file: str  # the path as shown in diagnostics and headers
    loc: Loc
    title: str = ""
    paper: str = ""
    doc: str = ""
    params: dict[str, Param] = field(default_factory=dict)
    lets: dict[str, Let] = field(default_factory=dict)
    requires: list[Expr] = field(default_factory=list)
    inputs: dict[str, Input] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    output_form: str = "value"  # value | tuple | list
    init: list[InitRule] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # extra names the class is exported as
    extends: str | None = None

    def divisibility(self) -> list[tuple[str, Expr, Expr]]:
        """The `NAME % E == R` requirements, as (NAME, E, R)."""
        import ast

        out = []
        for req in self.requires:
            t = req.tree
            if (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
                    and isinstance(t.left, ast.BinOp) and isinstance(t.left.op, ast.Mod)
                    and isinstance(t.left.left, ast.Name)):
                out.append((t.left.left.id,
                            Expr(ast.unparse(t.left.right), t.left.right, req.loc),
                            Expr(ast.unparse(t.comparators[0]), t.comparators[0], req.loc)))
        return out

    def sources(self) -> dict[str, Input]:
        """Every tensor the graph can read: inputs and the items of list inputs."""
        out: dict[str, Input] = {}
        for inp in self.inputs.values():
            if inp.items is None:
                out[inp.name] = inp
            for item in inp.items or ():
                out[item.name] = item
        return out

    def subspecs(self) -> list[Spec]:
        """Sub-specs used by this spec (depth first, each once, dependencies first)."""
        seen: dict[str, Spec] = {}

        def visit(spec: Spec) -> None:
            for child in spec._direct_uses():
                visit(child)
                seen.setdefault(child.name, child)

        visit(self)
        return list(seen.values())

    def _direct_uses(self) -> list[Spec]:
        found = []
        for node in self.nodes.values():
            for n in [node, *(node.cases or [])]:
                if n.spec is not None:
                    found.append(n.spec)
                found.extend(i.spec for i in n.seq or [] if i.spec is not None)
        return found


# -- helpers ---------------------------------------------------------------------------
def _check_keys(m: LMap, allowed, what: str) -> None:
    for key in m:
        if key not in allowed:
            raise error(m.key_locs[key], "E101", f"unknown key '{key}' in {what}"
                        + did_you_mean(key, allowed))


def _expect(value, types, what: str, loc: Loc, expected: str):
    if isinstance(value, LNone) or not isinstance(value, types) \
            or (isinstance(value, (int, float)) and type(value).__name__ == "LBool"
                and "bool" not in expected and "true or false" not in expected):
        got = _type_name(value)
        raise error(loc_of(value, loc), "E102", f"{what} must be {expected}, got {got}")
    return value


def _init_number(value, key: str, loc: Loc) -> float:
    """An init option as a float; the generated code writes it as a literal, and `inf` or
    `nan` there would be names, not numbers."""
    number = _expect(value, (int, float), f"init '{key}'", loc, "a number")
    try:
        number = float(number)
    except OverflowError:  # an integer beyond the range of a float
        number = math.inf
    if not math.isfinite(number):
        raise error(loc_of(value, loc), "E102", f"init '{key}' must be a finite number "
                    "(not infinite, NaN or beyond the range of a float)")
    return number


def _type_name(value) -> str:
    kind = type(value).__name__
    return {"LStr": "a string", "LInt": "an integer", "LFloat": "a number", "LBool": "a boolean",
            "LNone": "null", "LMap": "a mapping", "LList": "a list"}.get(kind, kind)


def _text(m: LMap, key: str, what: str) -> str:
    if key not in m:
        return ""
    value = m[key]
    _expect(value, str, f"'{key}' of {what}", m.loc, "a string")
    if len(value) > 2000:
        raise error(value.loc, "E102", f"'{key}' of {what} is longer than 2000 characters")
    return str(value)


def expr_of(value, loc: Loc, *, as_tuple: bool = False) -> Expr:
    """A YAML scalar or list as an Expr (lists become list or tuple literals)."""
    if isinstance(value, LList):
        parts = [expr_of(v, loc) for v in value]
        inner = ", ".join(p.text for p in parts)
        text = f"({inner}{',' if len(parts) == 1 else ''})" if as_tuple else f"[{inner}]"
        if len(text) > 400:
            raise error(value.loc, "E200", "list value longer than 400 characters")
        return parse(text, value.loc)
    if isinstance(value, LMap):
        raise error(value.loc, "E102", "expected an expression or a list, got a mapping")
    return parse(value, loc_of(value, loc))


def shape_of(value, loc: Loc, what: str) -> list[Expr]:
    _expect(value, LList, what, loc, "a list of dims like [B, C, H, W]")
    if len(value) > 16:
        raise error(value.loc, "E102", f"{what} has more than 16 dims")
    dims = []
    for d in value:
        if isinstance(d, (LList, LMap, LNone, LBool, LFloat)):
            raise error(loc_of(d, value.loc), "E102",
                        f"{what}: each dim must be a name, an integer or an expression")
        dims.append(parse(d, loc_of(d, value.loc)))
    return dims


# -- loading ---------------------------------------------------------------------------
class Loader:
    """Loads specs and the sub-specs they use, each file once, detecting `use:` cycles."""

    def __init__(self, builtin_dir: Path | None = None, display_root: Path | None = None):
        from .resources import specs_dir

        self.builtin_dir = builtin_dir or specs_dir()
        self.display_root = display_root or Path.cwd()
        self.cache: dict[Path, Spec] = {}
        self.deps: dict[Path, set[Path]] = {}  # spec file -> files it reads directly
        # file -> SHA-256 of the bytes parsed, None for a file looked for and not found
        self.digests: dict[Path, str | None] = {}

    def depends(self, path: Path, on: Path) -> None:
        self.deps.setdefault(Path(path), set()).add(Path(on))

    def files_of(self, path: Path) -> list[Path]:
        """The spec file and every file it reads, through `use:` and `extends:`, sorted."""
        path = path.resolve() if path.exists() else path
        seen, todo = {path}, [path]
        while todo:
            for dep in self.deps.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return sorted(seen)

    def display(self, path: Path) -> str:
        """The path as shown in errors and generated headers: `specs/NAME.yaml` for a
        built-in spec, else relative to the working folder, else as given."""
        # the built-in folder first: an installed attngen's specs may lie under the working
        # folder (a venv in a checkout) and must still read `specs/se.yaml`
        for root, prefix in ((self.builtin_dir, "specs/"), (self.display_root, "")):
            try:
                return prefix + path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                continue
        return str(path)

    def resolve(self, ref: str, base: Path, loc: Loc) -> Path:
        """`use:`/`extends:` targets: relative to the spec's folder, then the built-in library.

        A `use:` inherited through `extends:` carries `origin`, the file that wrote it."""
        base = getattr(ref, "origin", None) or base
        ref = str(ref)
        names = [ref] if ref.endswith((".yaml", ".yml")) else [ref + ".yaml", ref]
        reader = Path(base).resolve()
        for folder in (base.parent, self.builtin_dir):
            for name in names:
                candidate = (folder / name)
                # a dependency either way: a file created here later changes the answer
                try:  # a name no file system accepts (too long, NUL) is simply not found
                    self.depends(reader, candidate.resolve())
                    if candidate.is_file():
                        return candidate.resolve()
                    self.digests.setdefault(candidate.resolve(), None)
                except (OSError, ValueError):
                    continue
        known = sorted(p.stem for p in self.builtin_dir.glob("*.yaml"))
        raise error(loc, "E500", f"cannot find spec '{ref}' (looked next to {self.display(base)} "
                    "and in the built-in library)" + did_you_mean(Path(ref).stem, known))

    def load(self, path: Path, stack: tuple = ()) -> Spec:
        path = path.resolve() if path.exists() else path
        if path in self.cache:
            return self.cache[path]
        display = self.display(path)
        raw = load_file(path, display, self.digests)
        if "extends" in raw if isinstance(raw, LMap) else False:
            from .variants import apply_extends

            raw = apply_extends(self, raw, path, stack)
        spec = build_spec(raw, path, display, self, stack + ((path, raw.loc),))
        self.cache[path] = spec
        return spec

    def load_child(self, ref: str, parent: Path, loc: Loc, stack: tuple) -> Spec:
        path = self.resolve(ref, parent, loc)
        self.depends(parent, path)
        chain = [p for p, _ in stack]
        if path in chain:
            names = [self.display(p) for p in chain[chain.index(path):]]
            origin = getattr(ref, "origin", None)  # a `use:` inherited through `extends:`
            if origin is not None and Path(origin).resolve() != chain[-1]:
                names.append(self.display(Path(origin)))
            names.append(self.display(path))
            raise error(loc, "E501", "cycle through `use:`/`extends:`: " + " -> ".join(names))
        return self.load(path, stack)


def build_spec(raw, path: Path, display: str, loader: Loader, stack: tuple) -> Spec:
    top = Loc(display, 1, 1)
    _expect(raw, LMap, "a spec", top, "a mapping with keys like name, params, inputs, graph")
    _check_keys(raw, TOP_KEYS, "the spec")
    if "edits" in raw:
        raise error(raw.key_locs["edits"], "E502", "'edits' needs 'extends' (a spec to edit)")
    issues = Collector()
    for key in ("name", "inputs", "graph", "outputs"):
        if key not in raw:
            issues.add(error(raw.loc, "E103", f"missing required key '{key}' in the spec"))
    issues.raise_if_any()
    name_value = _expect(raw["name"], str, "'name'", raw.loc, "a string (the class name)")
    spec = Spec(
        name=check_class_name(name_value, name_value.loc), path=path, file=display,
        loc=raw.loc, title=_text(raw, "title", "the spec"), paper=_text(raw, "paper", "the spec"),
        doc=_text(raw, "doc", "the spec"),
        extends=str(raw["extends"]) if "extends" in raw else None,
    )
    sections = [
        ("params", _load_params), ("let", _load_lets), ("requires", _load_requires),
        ("inputs", _load_inputs), ("graph", None), ("outputs", _load_outputs),
        ("init", _load_init),
    ]
    for key, fn in sections:
        if key not in raw:
            continue
        try:
            if key == "graph":
                _load_graph(spec, raw["graph"], raw.key_locs["graph"], loader, stack)
            else:
                fn(spec, raw[key], raw.key_locs[key])
        except SpecError as exc:
            issues.add(exc)
    if "aliases" in raw:
        items = _expect(raw["aliases"], LList, "'aliases'", raw.loc, "a list of names")
        spec.aliases = [check_class_name(a, loc_of(a, items.loc)) for a in items]
    issues.raise_if_any()
    _check_unique_names(spec)
    _check_optional_reads(spec)
    _check_param_order(spec)
    return spec


def _check_param_order(spec: Spec) -> None:
    seen_default = None
    for p in spec.params.values():
        if p.required and seen_default:
            raise error(p.loc, "E102", f"param '{p.name}' has no default but follows "
                        f"'{seen_default}', which has one (Python needs required params first)")
        if not p.required:
            seen_default = p.name


def _load_params(spec: Spec, raw, loc: Loc) -> None:
    _expect(raw, LMap, "'params'", loc, "a mapping of name: default")
    for key, value in raw.items():
        name = check_identifier(key, key.loc, "param", attribute=True)
        if isinstance(value, LMap):
            _check_keys(value, PARAM_KEYS, f"param '{name}'")
            default = plain(value["default"]) if "default" in value else REQUIRED
            ptype = str(value.get("type", "")) or _infer_type(default, key.loc, name)
            if ptype not in PARAM_TYPES:
                raise error(value["type"].loc, "E102", f"param '{name}': unknown type '{ptype}'"
                            + did_you_mean(ptype, PARAM_TYPES))
            choices = value.get("choices")
            if choices is not None:
                _expect(choices, LList, f"'choices' of param '{name}'", value.loc, "a list")
                choices = tuple(plain(choices))
            example = plain(value["example"]) if "example" in value else None
            if default is REQUIRED and example is None:
                example = choices[0] if choices else _default_example(ptype)
            param = Param(name, key.loc, ptype, default, example, choices,
                          _text(value, "doc", f"param '{name}'"))
        else:
            default = plain(value)
            param = Param(name, key.loc, _infer_type(default, key.loc, name), default)
        _check_param_value(param, loc_of(value, key.loc))
        spec.params[name] = param


def _infer_type(default, loc: Loc, name: str) -> str:
    if default is REQUIRED:
        raise error(loc, "E102", f"param '{name}' needs a 'type' or a 'default'")
    for t, py in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", list)):
        if isinstance(default, py):
            return t
    return "any"


def _default_example(ptype: str):
    return {"int": 64, "float": 1.0, "bool": False, "str": "", "list": [], "any": None}[ptype]


def _check_param_value(param: Param, loc: Loc) -> None:
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
        raise error(loc, "E102", f"param '{param.name}': value {value!r} is not of type {param.type}")
    if param.type == "list" and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                        for v in value):
        raise error(loc, "E102", f"param '{param.name}': a list param holds numbers")
    if param.type == "int" and isinstance(value, int) and abs(value) > 10**12:
        raise error(loc, "E102", f"param '{param.name}': {value} is larger than 10**12")
    if param.choices is not None and value not in param.choices:
        raise error(loc, "E102", f"param '{param.name}': {value!r} is not one of {list(param.choices)}")
    if param.type == "str" and isinstance(value, str) and len(value) > 200:
        raise error(loc, "E102", f"param '{param.name}': string longer than 200 characters")


def _load_lets(spec: Spec, raw, loc: Loc) -> None:
    _expect(raw, LMap, "'let'", loc, "a mapping of name: expression")
    for key, value in raw.items():
        name = check_identifier(key, key.loc, "let", attribute=True)
        spec.lets[name] = Let(name, key.loc, expr_of(value, key.loc))


def _load_requires(spec: Spec, raw, loc: Loc) -> None:
    items = raw if isinstance(raw, LList) else [raw]
    for item in items:
        _expect(item, str, "a requirement", loc, "an expression like 'channel % reduction == 0'")
        spec.requires.append(parse(item, item.loc))


def _load_inputs(spec: Spec, raw, loc: Loc) -> None:
    _expect(raw, LMap, "'inputs'", loc, "a mapping of name: shape")
    if not raw:
        raise error(loc, "E103", "a spec needs at least one input")
    optional = None
    for key, value in raw.items():
        inp = spec.inputs[str(key)] = _load_input(key, value)
        if inp.optional:
            optional = optional or inp.name
        elif optional:  # forward(self, x, mask=None): optional inputs come last
            raise error(inp.loc, "E102", f"input '{inp.name}' is required but follows the "
                        f"optional input '{optional}' (optional inputs come last)")


def _load_input(key, value, *, item: bool = False) -> Input:
    name = check_identifier(key, key.loc, "input")
    if isinstance(value, LList):
        return Input(name, key.loc, _dims(shape_of(value, key.loc, f"shape of input '{name}'")))
    _expect(value, LMap, f"input '{name}'", key.loc, "a shape list or a mapping")
    _check_keys(value, INPUT_KEYS, f"input '{name}'")
    inp = Input(name, key.loc, doc=_text(value, "doc", f"input '{name}'"))
    if "optional" in value:
        inp.optional = bool(_expect(value["optional"], int, f"'optional' of input '{name}'",
                                    value.loc, "true or false"))
    if "dtype" in value:
        inp.dtype = str(value["dtype"])
        if inp.dtype not in DTYPES:
            raise error(value["dtype"].loc, "E102", f"input '{name}': dtype must be one of "
                        f"{', '.join(DTYPES)}" + did_you_mean(inp.dtype, DTYPES))
    if "items" in value:
        if item:
            raise error(value.key_locs["items"], "E102", "list inputs cannot be nested")
        if "shape" in value:
            raise error(value.key_locs["items"], "E102",
                        f"input '{name}' has both 'shape' and 'items'")
        items = _expect(value["items"], LMap, f"'items' of input '{name}'", value.loc,
                        "a mapping of item name: shape")
        if not items:
            raise error(items.loc, "E102", f"input '{name}' has no items")
        inp.items = [_load_input(k, v, item=True) for k, v in items.items()]
    elif "shape" in value:
        inp.shape = _dims(shape_of(value["shape"], value.loc, f"shape of input '{name}'"))
    else:
        raise error(value.loc, "E103", f"input '{name}' needs 'shape' (or 'items' for a list)")
    return inp


def _dim_names(shape: list[Expr]):
    """(name, loc) of each name an input shape binds (`B, C, H, W = x.shape` in forward)."""
    import ast

    for dim in shape:
        calls = {id(n.func) for n in ast.walk(dim.tree) if isinstance(n, ast.Call)}
        for n in ast.walk(dim.tree):
            if isinstance(n, ast.Name) and id(n) not in calls:
                yield n.id, dim.loc.shifted(n.col_offset)


def _dims(shape: list[Expr]) -> list[Expr]:
    """Dim names become local variables of forward: valid, unreserved identifiers."""
    for name, loc in _dim_names(shape):
        if name in FUNCTIONS or name in CONSTANTS:
            raise error(loc, "E104", f"dim name '{name}' is reserved: expressions use it")
        check_identifier(name, loc, "dim")
    return shape


def _load_outputs(spec: Spec, raw, loc: Loc) -> None:
    form = "value"
    if isinstance(raw, LMap):
        _check_keys(raw, ("list", "tuple"), "'outputs'")
        if len(raw) != 1:
            raise error(raw.loc, "E102", "'outputs' mapping takes one key: 'list' or 'tuple'")
        form = next(iter(raw))
        raw = raw[form]
        _expect(raw, LList, f"'outputs.{form}'", loc, "a list of node names")
    elif isinstance(raw, LList):
        form = "tuple"
    items = raw if isinstance(raw, LList) else [raw]
    if not items:
        raise error(loc_of(raw, loc), "E102", "'outputs' is empty")
    for item in items:
        when = None
        if isinstance(item, LMap):
            _check_keys(item, ("name", "when"), "an output")
            if "name" not in item:
                raise error(item.loc, "E103", "an output needs 'name'")
            when = parse(item["when"], loc_of(item["when"], item.loc)) if "when" in item else None
            item = item["name"]
        _expect(item, str, "an output", loc, "a node name")
        spec.outputs.append(Output(str(item), item.loc, when))
    spec.output_form = form if len(spec.outputs) > 1 or form == "list" else "value"


def _load_init(spec: Spec, raw, loc: Loc) -> None:
    _expect(raw, LList, "'init'", loc, "a list of rules like {op: Linear, weight: normal, std: 0.001}")
    for rule in raw:
        _expect(rule, LMap, "an init rule", loc, "a mapping")
        _check_keys(rule, INIT_KEYS, "an init rule")
        if "op" not in rule:
            raise error(rule.loc, "E103", "an init rule needs 'op' (the layer type)")
        op = str(rule["op"])
        if op not in ops.REGISTRY or not ops.REGISTRY[op].module:
            raise error(rule["op"].loc, "E401", f"init: unknown layer type '{op}'"
                        + did_you_mean(op, [n for n, o in ops.REGISTRY.items() if o.module]))
        init = InitRule(op, rule.loc)
        for key, choices in (("weight", INIT_WEIGHT), ("bias", INIT_BIAS)):
            if key in rule:
                value = str(rule[key])
                if value not in choices:
                    raise error(rule[key].loc, "E102", f"init {key}: '{value}' is not one of "
                                + ", ".join(choices) + did_you_mean(value, choices))
                setattr(init, key, value)
        for key in ("std", "mean", "value"):
            if key in rule:
                init.options[key] = _init_number(rule[key], key, rule.loc)
        if init.options.get("std", 0.0) < 0:
            raise error(rule["std"].loc, "E102", f"init 'std' must be at least 0, got "
                        f"{init.options['std']!r}")
        for key in ("mode", "nonlinearity"):
            if key in rule:
                init.options[key] = str(_expect(rule[key], str, f"init '{key}'", rule.loc,
                                                "a string"))
        if init.options.get("mode", "fan_in") not in ("fan_in", "fan_out"):
            raise error(rule["mode"].loc, "E102", "init mode must be fan_in or fan_out")
        if init.options.get("nonlinearity", "relu") not in INIT_NONLINEARITY:
            raise error(rule["nonlinearity"].loc, "E102", "init nonlinearity must be one of "
                        + ", ".join(INIT_NONLINEARITY)
                        + did_you_mean(init.options["nonlinearity"], INIT_NONLINEARITY))
        if init.weight is None and init.bias is None:
            raise error(rule.loc, "E103", f"init rule for {op} sets neither 'weight' nor 'bias'")
        for key in init.options:  # an option the chosen initialisers would ignore
            users = INIT_OPTION_USERS[key]
            if init.weight not in users and not (key == "value" and init.bias == "constant"):
                raise error(rule.key_locs[key], "E102", f"init '{key}' applies only to weight: "
                            + " or ".join(users) + (" or bias: constant" if key == "value" else "")
                            + f", not to this rule (weight: {init.weight})")
        if any(r.op == op for r in spec.init):
            raise error(rule["op"].loc, "E106", f"a second init rule for {op}; one rule per "
                        "layer type")
        spec.init.append(init)


# -- graph ------------------------------------------------------------------------------
def _load_graph(spec: Spec, raw, loc: Loc, loader: Loader, stack: tuple) -> None:
    _expect(raw, LMap, "'graph'", loc, "a mapping of node name: node")
    if not raw:
        raise error(loc, "E103", "'graph' has no nodes")
    issues = Collector()
    for key, value in raw.items():
        try:
            name = check_identifier(key, key.loc, "node", attribute=True)
            spec.nodes[name] = _load_node(spec, name, key.loc, value, loader, stack)
        except SpecError as exc:
            issues.add(exc)
    issues.raise_if_any()


def _refs(value, loc: Loc, what: str) -> list[Ref]:
    items = value if isinstance(value, LList) else [value]
    refs = []
    for item in items:
        _expect(item, str, what, loc, "a node or input name")
        refs.append(Ref(str(item), item.loc))
    return refs


def _ref(value, loc: Loc, what: str) -> Ref:
    """Exactly one name (`apply:`, `if_given:`)."""
    _expect(value, str, what, loc, "one node or input name")
    return Ref(str(value), value.loc)


def _load_node(spec: Spec, name: str, loc: Loc, raw, loader: Loader, stack: tuple,
               *, in_case: bool = False) -> Node:
    _expect(raw, LMap, f"node '{name}'", loc, "a mapping with 'op' (or 'use', 'seq', 'cases')")
    node = Node(name, loc, doc=_text(raw, "doc", f"node '{name}'"))
    kinds = [k for k in ("op", "use", "seq", "apply", "cases") if k in raw]
    if len(kinds) != 1:
        what = "none of" if not kinds else "more than one of"
        raise error(loc, "E103" if not kinds else "E102", f"node '{name}' has {what} "
                    "'op', 'use', 'seq', 'apply', 'cases' (exactly one needed)")
    if "in" in raw:
        node.inputs = _refs(raw["in"], raw.key_locs["in"], f"'in' of node '{name}'")
    if "when" in raw:
        node.when = parse(raw["when"], loc_of(raw["when"], raw.key_locs["when"]))
    if "if_given" in raw:
        node.if_given = _ref(raw["if_given"], raw.key_locs["if_given"], "'if_given'")
    if "map" in raw:
        node.map = bool(_expect(raw["map"], int, f"'map' of node '{name}'", loc, "true or false"))
    if "out" in raw:
        outs = _expect(raw["out"], LList, f"'out' of node '{name}'", loc, "a list of names")
        node.out = [check_identifier(o, loc_of(o, loc), "output") for o in outs]
        if len(node.out) < 2:
            raise error(outs.loc, "E102", f"'out' of node '{name}' names at least two outputs")
    if "each" in raw:
        node.each_var, node.each = _each(raw["each"], raw.key_locs["each"], name)
    if "shape" in raw:
        node.shape_loc = raw.key_locs["shape"]
        if node.out:
            shapes = _expect(raw["shape"], LList, f"'shape' of node '{name}'", loc,
                             "a list of shapes, one per output")
            node.shape = [shape_of(s, shapes.loc, f"shape of '{o}'")
                          for s, o in zip(shapes, node.out)]
            if len(shapes) != len(node.out):
                raise error(shapes.loc, "E102", f"node '{name}' has {len(node.out)} outputs "
                            f"but {len(shapes)} shapes")
        else:
            node.shape = shape_of(raw["shape"], raw.key_locs["shape"], f"shape of node '{name}'")

    kind = kinds[0]
    if kind == "cases":
        if in_case:
            raise error(raw.key_locs["cases"], "E102", "cases cannot be nested")
        allowed = ("cases", "shape", "doc", "out", "when")
        _check_keys(raw, allowed, f"node '{name}' (a 'cases' node)")
        cases = _expect(raw["cases"], LList, f"'cases' of node '{name}'", loc, "a list of nodes")
        node.cases = []
        for case in cases:
            _expect(case, LMap, "a case", cases.loc, "a node mapping with 'when'")
            if "when" not in case:
                raise error(case.loc, "E103", f"each case of node '{name}' needs 'when'")
            node.cases.append(_load_node(spec, name, case.loc, case, loader, stack, in_case=True))
        if not node.cases:
            raise error(cases.loc, "E102", f"node '{name}' has no cases")
        return node

    extra_keys = ()
    if kind == "apply":
        node.apply = _ref(raw["apply"], raw.key_locs["apply"], "'apply'")
    elif kind == "op":
        node.op = _op_name(raw["op"], loc)
        extra_keys = tuple(a.name for a in ops.REGISTRY[node.op].args)
    elif kind == "use":
        node.use = str(_expect(raw["use"], str, f"'use' of node '{name}'", loc, "a spec name"))
        node.spec = loader.load_child(raw["use"], spec.path, raw["use"].loc, stack)
        extra_keys = tuple(node.spec.params)
    else:
        node.seq, node.seq_named = _load_seq(spec, name, raw["seq"], loader, stack)
    _check_keys(raw, NODE_KEYS + extra_keys, _node_what(node))
    node.args = _load_args(raw, node, extra_keys)
    return node


def _node_what(node) -> str:
    if getattr(node, "op", None):
        return f"node '{node.name}' (op {node.op})"
    if getattr(node, "use", None):
        return f"node '{node.name}' (use {node.use})"
    return f"node '{node.name}'"


def _op_name(value, loc: Loc) -> str:
    _expect(value, str, "'op'", loc, "an op name")
    if str(value) not in ops.REGISTRY:
        raise error(value.loc, "E401", f"unknown op '{value}'"
                    + did_you_mean(value, ops.REGISTRY), "run `attngen ops` to list the ops")
    return str(value)


def _load_args(raw: LMap, owner, names: tuple) -> dict[str, Expr]:
    """Callee arguments: `args: [...]` positionally, plus keys named after the callee's params."""
    args: dict[str, Expr] = {}
    op = ops.REGISTRY.get(owner.op) if owner.op else None
    if "args" in raw:
        positional = raw["args"]
        _expect(positional, LList, "'args'", raw.loc, "a list of positional arguments")
        if len(positional) > len(names):
            raise error(positional.loc, "E402", f"{_node_what(owner)} takes at most "
                        f"{len(names)} positional arguments ({', '.join(names) or 'none'}), "
                        f"got {len(positional)}")
        for pname, value in zip(names, positional):
            args[pname] = _arg_expr(op, pname, value, positional.loc)
    for key in raw:
        if key in names:
            if key in args:
                raise error(raw.key_locs[key], "E402", f"argument '{key}' given twice "
                            "(positionally in 'args' and by name)")
            args[str(key)] = _arg_expr(op, key, raw[key], raw.key_locs[key])
    return args


def _arg_expr(op, name: str, value, loc: Loc) -> Expr:
    kind = op.arg(name).kind if op else "expr"
    if kind == "str":
        _expect(value, str, f"argument '{name}'", loc, "a string")
        choices = op.arg(name).choices
        if choices and str(value) not in choices:
            raise error(value.loc, "E402", f"argument '{name}' must be one of "
                        + ", ".join(repr(c) for c in choices) + did_you_mean(value, choices))
        return parse(repr(str(value)), value.loc)
    if kind == "shape":
        return expr_of(_expect(value, LList, f"argument '{name}'", loc, "a list of dims"),
                       loc, as_tuple=True)
    return expr_of(value, loc, as_tuple=op is not None)


def _each(raw, loc: Loc, name: str):
    expr = parse(raw, loc_of(raw, loc))
    import ast

    tree = expr.tree
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.In) \
            and isinstance(tree.left, ast.Name):
        var = check_identifier(tree.left.id, expr.loc, "loop variable")
        text = ast.unparse(tree.comparators[0])
        return var, parse(text, expr.loc.shifted(expr.text.index(" in ") + 4))
    return None, expr


def _load_seq(spec: Spec, name: str, raw, loader: Loader, stack: tuple):
    if isinstance(raw, LList):
        entries = [(str(i), v, loc_of(v, raw.loc)) for i, v in enumerate(raw)]
        named = False
    else:
        _expect(raw, LMap, f"'seq' of node '{name}'", loc_of(raw, spec.loc),
                "a list of layers or a mapping of name: layer")
        entries = [(check_identifier(k, k.loc, "layer", attribute=True), v, k.loc)
                   for k, v in raw.items()]
        named = True
    if not entries:
        raise error(raw.loc, "E102", f"'seq' of node '{name}' is empty")
    items = []
    for key, value, loc in entries:
        _expect(value, LMap, f"layer {key} of '{name}'", loc, "a mapping with 'op' or 'use'")
        kinds = [k for k in ("op", "use") if k in value]
        if len(kinds) != 1:
            raise error(value.loc, "E103", f"layer {key} of '{name}' needs exactly one of 'op', 'use'")
        item = Item(key, loc, doc=_text(value, "doc", f"layer {key}"))
        if "op" in value:
            item.op = _op_name(value["op"], loc)
            op = ops.REGISTRY[item.op]
            if not op.module:
                raise error(value["op"].loc, "E402", f"layer {key} of '{name}': '{item.op}' is a "
                            "tensor function, not a layer; nn.Sequential holds layers only")
            names = tuple(a.name for a in op.args)
        else:
            item.use = str(value["use"])
            item.spec = loader.load_child(value["use"], spec.path, value["use"].loc, stack)
            names = tuple(item.spec.params)
        _check_keys(value, ITEM_KEYS + names, f"layer {key} of '{name}'")
        item.args = _load_args(value, item, names)
        if "shape" in value:
            item.shape = shape_of(value["shape"], value.key_locs["shape"], f"shape of layer {key}")
        items.append(item)
    return items, named


def _check_optional_reads(spec: Spec) -> None:
    """An optional input is None when not passed: only `if_given` nodes may read it.

    `if_given: name` names an optional input; the node reads it and, when it is
    absent, passes its first input on instead (so that input cannot be `name`).
    """
    sources = spec.sources()
    optional = sorted(n for n, i in sources.items() if i.optional)
    issues = Collector()
    for node in spec.nodes.values():
        for body in [node, *(node.cases or [])]:
            guard = body.if_given
            bad = len(issues.diagnostics)
            if guard is not None and guard.name not in sources and guard.name not in spec.nodes:
                issues.add(error(guard.loc, "E300", f"node '{node.name}': 'if_given: "
                                 f"{guard.name}' names no input" + did_you_mean(guard.name,
                                                                                optional)))
            elif guard is not None and guard.name in sources and guard.name not in optional:
                issues.add(error(guard.loc, "E402", f"node '{node.name}': 'if_given: "
                                 f"{guard.name}' must name an optional input; '{guard.name}' "
                                 "is always given",
                                 "optional inputs: " + (", ".join(optional) or "none")))
            elif guard is not None and guard.name in spec.nodes:
                issues.add(error(guard.loc, "E402", f"node '{node.name}': 'if_given: "
                                 f"{guard.name}' must name an optional input, not a node"))
            elif guard is not None and body.inputs and body.inputs[0].name == guard.name:
                issues.add(error(body.inputs[0].loc, "E402", f"node '{node.name}': its first "
                                 f"input is passed on when '{guard.name}' is absent, so it "
                                 f"cannot be '{guard.name}' itself"))
            elif guard is not None and not body.inputs:
                issues.add(error(guard.loc, "E402", f"node '{node.name}' has 'if_given' but "
                                 "no input to pass on"))
            for ref in body.inputs if len(issues.diagnostics) == bad else ():
                if ref.name in optional and (guard is None or guard.name != ref.name):
                    issues.add(error(ref.loc, "E402", f"node '{node.name}' reads optional "
                                     f"input '{ref.name}', which is None when not passed",
                                     f"add 'if_given: {ref.name}' to the node"))
    issues.raise_if_any()


def _check_unique_names(spec: Spec) -> None:
    """Params, lets, inputs, nodes and split outputs share one namespace."""
    seen: dict[str, Loc] = {}
    issues = Collector()

    def claim(name: str, loc: Loc, what: str) -> None:
        if name in seen:
            issues.add(error(loc, "E106", f"{what} '{name}' reuses a name already defined at "
                             f"line {seen[name].line}"))
        else:
            seen[name] = loc

    for p in spec.params.values():
        claim(p.name, p.loc, "param")
    for let in spec.lets.values():
        claim(let.name, let.loc, "let")
    for inp in spec.inputs.values():
        claim(inp.name, inp.loc, "input")
        for item in inp.items or ():
            claim(item.name, item.loc, "list item")
    for node in spec.nodes.values():
        claim(node.name, node.loc, "node")
        for o in node.out or ():
            claim(o, node.loc, "output")
        for n in node.cases or ():
            for o in n.out or ():
                if o not in (node.out or ()):
                    claim(o, n.loc, "output")
        if node.each_var in seen and seen[node.each_var] != node.loc:
            issues.add(error(node.loc, "E106", f"loop variable '{node.each_var}' of node "
                             f"'{node.name}' shadows a name defined at line "
                             f"{seen[node.each_var].line}"))
    values = set(seen) - set(spec.params) - set(spec.lets)  # inputs, nodes, outputs
    values |= {n.each_var for n in spec.nodes.values() if n.each_var}
    for inp in spec.inputs.values():
        for shape in [inp.shape or [], *(i.shape or [] for i in inp.items or ())]:
            for name, loc in _dim_names(shape):
                if name in values:  # forward's `name, ... = x.shape` would overwrite it
                    issues.add(error(loc, "E106", f"dim '{name}' of input '{inp.name}' reuses "
                                     "the name of an input, node, output or loop variable"))
    issues.raise_if_any()


def load(path, loader: Loader | None = None) -> Spec:
    """Load one spec file (and its sub-specs)."""
    loader = loader or Loader()
    path = Path(path)
    if not path.exists():
        raise error(Loc(str(path)), "E500", "no such file")
    return loader.load(path)


__all__ = [
    "REQUIRED",
    "InitRule",
    "Input",
    "Item",
    "LStr",
    "Let",
    "Loader",
    "Node",
    "Output",
    "Param",
    "Ref",
    "Spec",
    "load",
]
