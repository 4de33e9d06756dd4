"""The spec data model: what a spec file says, checked and located, as dataclasses.

parse.py builds these from YAML; everything after reads them and never YAML. Every value
keeps the Loc of the text it came from, so any later stage can report an error there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NoReturn

from .errors import Loc
from .expr import Expr
from .memo import remember

REQUIRED = object()  # marker: a constructor parameter without default
# an input's `dtype:` word -> the dtype family the checker follows (ops.DTYPES): `float` and
# `complex` in the module's precision (torch.float32 / torch.complex64 by default), `long`
# torch.int64, `bool` torch.bool
DTYPE_FAMILIES = {"float": "float", "bool": "bool", "long": "int", "complex": "complex"}

@dataclass
class Param:
    name: str
    loc: Loc
    type: str
    default: object = REQUIRED  # plain Python value, or REQUIRED
    example: object = None  # value used for checking a required param
    choices: tuple[object, ...] | None = None
    doc: str = ""
    tries_example: bool = False  # `example:` beside a default (null too): a second value tried
    choices_file: str = ""  # the file its `choices:` are written in (a variant's, narrowing)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def sample(self) -> object:
        """The value used for checking: default, else example."""
        return self.example if self.required else self.default

    @property
    def structural(self) -> bool:
        """A bool or `choices` param: the checker tries each of its values (configs.py)."""
        return self.type == "bool" or bool(self.choices)

    @property
    def values(self) -> list[object]:
        """The values a structural param takes: its choices, or False and True."""
        return list(self.choices) if self.choices else [False, True]

    def set_to(self, value: object) -> Param:
        """This param with `value` for its default, and no example (`params --set`)."""
        return replace(self, default=value, example=None, tries_example=False)


@dataclass
class Let:
    name: str
    loc: Loc
    expr: Expr


def compute_lets(lets: Iterable[Let], values: dict[str, object]) -> None:
    """Put each let's value at `values` (params, input dims and the lets before it) into
    `values`, in order."""
    for let in lets:
        values[let.name] = let.expr.value(values)


@dataclass
class Input:
    name: str
    loc: Loc
    shape: list[Expr] | None = None  # None for a list input
    optional: bool = False
    dtype: str = "float"  # a key of DTYPE_FAMILIES
    items: list[Input] | None = None  # a list input: named tensors, unpacked in forward
    doc: str = ""

    @property
    def tensor_shape(self) -> list[Expr]:
        """The shape of a tensor input: every input but a list input (see Spec.sources)."""
        if self.shape is None:
            raise ValueError(f"input '{self.name}' is a list of tensors: its items have shapes")
        return self.shape


@dataclass
class IntInput:
    """`H: int` in `inputs:`: forward takes a number (PVT's `forward(x, H, W)`), a dim of
    the check like those the tensor inputs' shapes name, given by the caller."""

    name: str
    loc: Loc
    doc: str = ""


@dataclass
class Ref:
    name: str
    loc: Loc


# -- node forms ------------------------------------------------------------------------------
# What a node does is one value of the closed union NodeForm, one class per form. Consumers
# dispatch with `match node.form:` ending in `case _: assert_never(node.form)`, so mypy
# reports a form a match leaves out. What every form shares (inputs, when, shape, out,
# if_given, doc) stays on Node.


@dataclass(frozen=True)
class LayerOp:
    """`op:` naming a layer: an nn.Module the class owns (Conv2d, Linear, ReLU)."""

    op: str
    args: dict[str, Expr]


@dataclass(frozen=True)
class FunctionOp:
    """`op:` naming a tensor function, called in forward (mul, view, softmax)."""

    op: str
    args: dict[str, Expr]


@dataclass(frozen=True)
class SubSpec:
    """`use:` another spec, whose class becomes a layer of this one."""

    ref: str  # the reference as written (`use: spatial_attention`)
    spec: Spec
    args: dict[str, Expr]
    sizes: dict[str, Expr] = field(default_factory=dict)  # its int inputs, passed to forward


@dataclass(frozen=True)
class Seq:
    """`seq:` layers called one after another (an nn.Sequential)."""

    items: list[Item]
    named: bool  # a mapping name: layer (attribute names), not a list


@dataclass(frozen=True)
class LayerCall:
    """`apply:` calls the layer another node declares (shared weights)."""

    target: Ref


@dataclass(frozen=True)
class Repeat:
    """`each:` one copy of the body per item of a list or `range(...)` (an nn.ModuleList),
    each called on the node's inputs; `var` names the item inside the body's arguments.
    `zipped` (`zip: parts`): the node's one input is a list, and copy i reads its i-th
    tensor."""

    var: str | None
    iterable: Expr  # a list expression or `range(...)` (expr.parse with iterable=True)
    body: Callee
    zipped: bool = False


@dataclass(frozen=True)
class Stack:
    """`each:` with `body:`: a graph of its own (`body.spec`, an inline spec: no class of
    its own) run once per item, each copy reading the value the one before it gave (a
    transformer's layers); the layers of one copy are an nn.ModuleList, in order, so
    their keys are `NAME.i.0`, `NAME.i.1`, ...; `var` names the item inside the body."""

    var: str | None
    iterable: Expr  # a list expression or `range(...)` (expr.parse with iterable=True)
    # its params are the caller's, passed by name, and the loop variable; its inputs the
    # carried value (the node's first `in`), then the caller's tensors it reads (the rest)
    body: SubSpec


@dataclass(frozen=True)
class Map:
    """`map: true`: the body called on each tensor of the node's list input."""

    body: Callee


@dataclass(frozen=True)
class Cases:
    """`cases:` exactly one of several nodes runs, chosen by their `when:`."""

    cases: list[Node]


InitOption = float | str | Expr | tuple[Expr, ...]  # a param's or buffer's init option


@dataclass(frozen=True)
class TensorDecl:
    """`param:` or `buffer:` a tensor the class owns, made in __init__: an nn.Parameter
    (learnable, counted by `params`) or a registered buffer (a constant: a mask, position
    indices), stored as `self.NAME` and read by other nodes with `in: NAME`."""

    kind: str  # "param" or "buffer"
    shape: list[Expr]  # over params and lets only: the tensor exists before any input
    init: str  # an initialiser of TENSOR_INITS (parse_tensors)
    # std, mean, value, a, b (numbers or expressions over params and lets); mode,
    # nonlinearity; relative_position's window (sizes over params and lets); slices (an int)
    options: dict[str, InitOption]
    dtype: str = "float"  # float, bool or long (an input's `dtype:` words); params: float
    persistent: bool = True  # a buffer in the state_dict (register_buffer's persistent)


Layer = LayerOp | Seq | SubSpec  # the forms that own a layer (an attribute in __init__)
Callee = Layer | FunctionOp | LayerCall  # one call: what `each` and `map` repeat
NodeForm = Callee | Repeat | Map | Cases | TensorDecl | Stack


def assert_never(value: NoReturn) -> NoReturn:
    """The last arm of a `match` over NodeForm: mypy reports a form no arm takes."""
    raise AssertionError(f"unhandled node form: {type(value).__name__}")


@dataclass(frozen=True)
class Loop:
    """`each:` of a `seq:` layer: one copy of the layer per item, in order."""

    var: str | None
    iterable: Expr  # a list expression or `range(...)`


@dataclass
class Item:
    """One layer of a `seq:` group; with `each`, one copy per item (flattened into the
    Sequential in a list seq, an inner nn.Sequential under its name in a named one); with
    `when`, present only when the condition on params holds."""

    name: str  # attribute name inside the Sequential ("0", "1" ... for the list form)
    loc: Loc
    form: LayerOp | SubSpec
    shape: list[Expr] | None = None
    doc: str = ""
    each: Loop | None = None
    when: Expr | None = None
    # a named seq's templated name (`fc1_{i}`: a key per copy, as add_module('fc1_%d' % i)
    # gives), as its parts: text and the expressions in braces; () for a plain name
    key: tuple[str | Expr, ...] = ()


@dataclass
class Node:
    """One entry of `graph:`: what it does (`form`) and what every form shares. A case of a
    `cases` node is a Node too, named after the node it belongs to."""

    name: str
    loc: Loc
    form: NodeForm
    inputs: list[Ref] = field(default_factory=list)
    shape: list | None = None  # annotation: list[Expr], or list[list[Expr]] with `out`
    shape_loc: Loc | None = None
    when: Expr | None = None
    out: list[str] | None = None  # names of several outputs (split)
    if_given: Ref | None = None
    doc: str = ""
    # `unused: true`: a layer declaration, param or buffer kept in __init__ (and the
    # state_dict) that forward never reads, as a reference implementation's dead layer
    unused: bool = False

    def annotations(self) -> list[list[Expr]]:
        """Its shape annotations: one per output where `out:` names several, else its one
        (none without `shape:`)."""
        if not self.shape:
            return []
        return self.shape if isinstance(self.shape[0], list) else [self.shape]


@dataclass
class Output:
    name: str
    loc: Loc
    when: Expr | None = None


@dataclass
class InitRule:
    op: str  # the layer type a rule applies to; for a `layer:` rule, that layer's op
    loc: Loc
    weight: str | None = None
    bias: str | None = None
    options: dict[str, float | str] = field(default_factory=dict)  # std, mean, value; mode, ...
    layer: str | None = None  # `layer: NAME`: only the layer of that node, after the type rules


NO_COPIES = "no copies at the defaults"  # the doc of a loop body's variable where so


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
    inputs: dict[str, Input] = field(default_factory=dict)  # tensors (and lists of them)
    int_inputs: dict[str, IntInput] = field(default_factory=dict)
    # forward's arguments, tensor and int inputs, in the order `inputs:` lists them
    arg_order: list[str] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    output_form: str = "value"  # value | tuple | list
    init: list[InitRule] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # extra names the class is exported as
    # `binds:` param -> the dim of the first input it is the size of (binding.py)
    binds: dict[str, str] = field(default_factory=dict)
    extends: str | None = None
    fuse: bool = True  # `fuse: false`: the fusion pass leaves this spec's attention written
    inline: bool = False  # the body of a `Stack` node: emitted inside its caller's forward
    # an inline spec's loop variable: a param its own check takes at the first item (loops)
    loop_var: str | None = None
    loop_over: Expr | None = None  # and what its caller's loop runs over (`range(depth)`)
    # an inline spec's dims of its caller's inputs that its input shapes read in
    # expressions only (`H // 2 ** i`): free dims of its own check, the caller's in a call
    free_dims: tuple[str, ...] = ()

    def divisibility(self) -> list[tuple[str, Expr, Expr]]:
        """The `NAME % E == R` requirements, as (NAME, E, R)."""
        return [fact for req in self.requires if (fact := divisibility_fact(req)) is not None]

    def input_dims(self) -> set[str]:
        """The free dims the shapes of inputs name as plain dims (not params or lets): what
        `requires` may name besides params and lets. A requirement that names a dim of
        optional inputs only holds where one of them is given (optional_inputs_of)."""
        return {d for inp in self.inputs.values() for d in self._dims_of(inp)} | {
            *self.free_dims, *self.int_inputs}

    def forward_args(self) -> list[str]:
        """forward's arguments in order: `arg_order`, then any input it does not list."""
        names = [*self.inputs, *self.int_inputs]
        listed = [n for n in self.arg_order if n in names]
        return listed + [n for n in names if n not in listed]

    def optional_inputs_of(self, req: Expr) -> list[str]:
        """The optional inputs a requirement waits for: those with a dim it names that no
        required input has (`B % nW == 0`, nW a dim of an optional mask only)."""
        required = self.required_dims()
        return [inp.name for inp in self.inputs.values() if inp.optional
                and (req.names & self._dims_of(inp)) - required]

    def required_dims(self) -> set[str]:
        """The input dims of required inputs: bound whenever forward runs."""
        return {d for inp in self.inputs.values() if not inp.optional
                for d in self._dims_of(inp)} | {*self.int_inputs}

    def _dims_of(self, inp: Input) -> set[str]:
        tensors = inp.items if inp.items is not None else [inp]
        return {d.text for t in tensors for d in t.tensor_shape
                if d.text.isidentifier() and d.text not in self.params
                and d.text not in self.lets}

    def on_input_dims(self, req: Expr) -> bool:
        """A requirement on input sizes: checked on samples and by the generated forward,
        not at the defaults (input dims have none)."""
        return bool(req.names & self.input_dims())

    def sources(self) -> dict[str, Input]:
        """Every tensor the graph can read: inputs and the items of list inputs (each with a
        tensor_shape)."""
        out: dict[str, Input] = {}
        for inp in self.inputs.values():
            if inp.items is None:
                out[inp.name] = inp
            for item in inp.items or ():
                out[item.name] = item
        return out

    def subspecs(self) -> list[Spec]:
        """Sub-specs used by this spec at any depth (depth first, each file once,
        dependencies first): a file reached again is not walked again, so sub-specs shared
        along a chain cost once, not once per path to them."""
        seen: dict[Path, Spec] = {}

        def visit(spec: Spec) -> None:
            for child in spec._direct_uses():
                if child.path not in seen:
                    visit(child)
                    seen[child.path] = child

        visit(self)
        return list(seen.values())

    def _direct_uses(self) -> list[Spec]:
        return [sub for node in self.nodes.values() for sub in form_specs(node.form)]


def form_specs(form: NodeForm) -> Iterator[Spec]:
    """The sub-specs a node form calls, in the order the spec writes them."""
    match form:
        case SubSpec(spec=spec):
            yield spec
        case Seq(items):
            yield from (i.form.spec for i in items if isinstance(i.form, SubSpec))
        case Repeat(body=body) | Map(body=body) | Stack(body=body):
            yield from form_specs(body)
        case Cases(cases):
            for case in cases:
                yield from form_specs(case.form)
        case LayerOp() | FunctionOp() | LayerCall() | TensorDecl():
            pass
        case _:
            assert_never(form)


def owned_layer(form: NodeForm) -> Layer | None:
    """The layer a node of this form owns (one copy of it for `each`), or None: a tensor
    function and an `apply:` own none, and a `cases` node owns one per case."""
    match form:
        case LayerOp() | Seq() | SubSpec():
            return form
        case Repeat(body=body) | Map(body=body):
            return owned_layer(body)
        case FunctionOp() | LayerCall() | Cases() | TensorDecl() | Stack():
            return None  # a stack's layers are one nn.ModuleList per copy (emit_stack)
        case _:
            assert_never(form)


def unwrapped(form: NodeForm) -> Callee | Cases | TensorDecl | Stack:
    """The call an `each` or `map` repeats; any other form itself."""
    return form.body if isinstance(form, Repeat | Map) else form


def layer_target(form: NodeForm) -> Ref | None:
    """The node whose layer a form calls (`apply:`, also under `each` or `map`), or None."""
    match form:
        case LayerCall(target):
            return target
        case Repeat(body=body) | Map(body=body):
            return layer_target(body)
        case LayerOp() | FunctionOp() | Seq() | SubSpec() | Cases() | TensorDecl() | Stack():
            return None
        case _:
            assert_never(form)


def whens(spec: Spec) -> list[Expr]:
    """Every `when:` of a spec: of its outputs, nodes, cases and `seq:` layers."""
    conds = [o.when for o in spec.outputs]
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            conds.append(body.when)
            form = unwrapped(body.form)
            if isinstance(form, Seq):
                conds += [item.when for item in form.items]
    return [c for c in conds if c is not None]


def cases_of(node: Node) -> list[Node]:
    """A `cases` node's cases; none for any other form."""
    return node.form.cases if isinstance(node.form, Cases) else []


def why_not_unused(node: Node) -> tuple[str, str] | None:
    """Why a node cannot be `unused: true`, and the fix (None where it can): only a layer
    declared without `in` whose arguments the checker reads without a call (an `op:`
    layer, a `seq:` of them, a `use:` sub-module, checked as made), a param or a buffer."""
    if isinstance(node.form, TensorDecl):
        return None
    if not is_declaration(node):
        why = "reads inputs ('in')" if node.inputs or node.if_given else "owns no layer"
        return (f"'unused' keeps a layer, param or buffer that forward never reads; node "
                f"'{node.name}' {why}", "a value that no output reads is dead code: remove "
                "the node; a layer to keep is declared without 'in'")
    if isinstance(node.form, LayerOp | SubSpec) or isinstance(node.form, Seq) \
            and all(isinstance(item.form, LayerOp) for item in node.form.items):
        return None
    what = "an `each` node" if isinstance(node.form, Repeat) else "a `seq:` with a sub-module"
    return (f"'unused' keeps an `op:` layer, a `use:` sub-module, a `seq:` of layers, a param "
            f"or a buffer; node '{node.name}' is {what}, whose arguments are checked through "
            "the inputs of a call, and an unused one has none", "apply it, or remove it")


def is_declaration(node: Node) -> bool:
    """A layer node without `in:` only declares the layer (an attribute in __init__);
    `apply:` nodes call it, possibly several times and from different cases."""
    match node.form:
        case Cases(cases):
            return all(is_declaration(c) for c in cases)
        case Map() | LayerCall() | FunctionOp() | TensorDecl() | Stack():
            return False
        case LayerOp() | Seq() | SubSpec() | Repeat():
            return owned_layer(node.form) is not None and not node.inputs \
                and node.if_given is None
        case _:
            assert_never(node.form)


Fact = tuple[str, Expr, Expr]
# (requirement text, its location) -> its fact: asked in every configuration and at every
# `use:` of a spec (ast.unparse is tens of microseconds); cleared when full
_FACTS: dict[tuple[str, Loc], Fact | None] = {}


def divisibility_fact(req: Expr) -> Fact | None:
    """A requirement `NAME % E == R` as (NAME, E, R), E and R located at the requirement;
    None for any other requirement."""
    key = (req.text, req.loc)
    with suppress(KeyError):  # one lookup: another thread may clear the memo in between
        return _FACTS[key]
    t, fact = req.tree, None
    if (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
            and isinstance(t.left, ast.BinOp) and isinstance(t.left.op, ast.Mod)
            and isinstance(t.left.left, ast.Name)):
        fact = (t.left.left.id, Expr(ast.unparse(t.left.right), t.left.right, req.loc),
                Expr(ast.unparse(t.comparators[0]), t.comparators[0], req.loc))
    remember(_FACTS, key, fact, 4096)
    return fact


def tensor_decl(node: Node) -> TensorDecl | None:
    """The tensor a `param:` or `buffer:` node declares; None for any other node. Such a
    node has no line in forward: readers use `self.NAME`."""
    return node.form if isinstance(node.form, TensorDecl) else None


def dim_names(shape: list[Expr]) -> Iterator[tuple[str, Loc]]:
    """(name, loc) of each name an input shape binds (`B, C, H, W = x.shape` in forward)."""
    for dim in shape:
        for name, col in _names_in(dim):
            yield name, dim.loc.shifted(col)


def bound_names(shape: list[Expr]) -> Iterator[str]:
    """The names of dim_names, without their locations."""
    for dim in shape:
        for name, _ in _names_in(dim):
            yield name


def _names_in(dim: Expr) -> tuple[tuple[str, int], ...]:
    """(name, column in the dim's text) of each name a dim binds: not a call's function
    (`max` of `max(H, W)`)."""
    names = _DIM_NAMES.get(dim.text)
    if names is None:
        found, calls = [], set()
        for n in ast.walk(dim.tree):  # breadth first: a call before its function name
            if isinstance(n, ast.Call):
                calls.add(id(n.func))
            elif isinstance(n, ast.Name) and id(n) not in calls:
                found.append((n.id, n.col_offset))
        names = tuple(found)
        remember(_DIM_NAMES, dim.text, names, 10_000)
    return names


# a dim's text -> _names_in of it (its tree is parsed from that text alone, so the columns
# are the text's): every check of a spec asks (cleared when full)
_DIM_NAMES: dict[str, tuple[tuple[str, int], ...]] = {}
