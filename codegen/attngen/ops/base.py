"""What an op declares, and the registry.

An `Op` holds everything attngen knows about one op: its arguments with their types and
ranges (`Arg`), its shape rule (ctx.py), its dtype rule (`Dtypes`), how generated code
calls it (a layer constructor, a Jinja template, or an emit hook), its parameter count and
its diagram group (`Group`, which carries the group's colours). Nothing about an op is
declared anywhere else: the checker, the emitter, the diagrams and the docs read these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from .ctx import Shape, ShapeCtx

REQUIRED = object()


# -- diagram groups -------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """A diagram group: every op belongs to one; its boxes are drawn in its colours.

    Groups that share a `legend` row (conv and linear) share their colours too."""

    name: str
    fill: str  # box colour; pastel, so black text keeps a high contrast
    border: str
    legend: str  # the row of the diagrams' colour key


GROUPS: dict[str, Group] = {}


def add_group(group: Group) -> Group:
    """Declare a diagram group (once); ops name it by `group.name`."""
    assert group.name not in GROUPS, f"group {group.name} declared twice"
    for other in GROUPS.values():
        assert other.legend != group.legend or (other.fill, other.border) == (
            group.fill, group.border), f"groups {other.name}, {group.name}: one legend row, " \
                                       "two colours"
    GROUPS[group.name] = group
    return group


for _group in (
    Group("conv", "#dbe9f6", "#3b6ea5", "conv / linear"),
    Group("linear", "#dbe9f6", "#3b6ea5", "conv / linear"),
    Group("pool", "#dff0e0", "#3f8a48", "pooling / resampling"),
    Group("resample", "#dff0e0", "#3f8a48", "pooling / resampling"),
    Group("activation", "#fde8cf", "#b8691a", "activation / gate"),
    Group("reshape", "#ececec", "#6e6e6e", "tensor reshaping"),
    Group("arith", "#fbe0e0", "#b04545", "arithmetic / attention"),
    Group("attention", "#fbe0e0", "#b04545", "arithmetic / attention"),
    Group("norm", "#e8e1f3", "#6f56a0", "normalisation / dropout"),
    Group("regularize", "#e8e1f3", "#6f56a0", "normalisation / dropout"),
    Group("module", "#fff4c2", "#8f7408", "sub-module"),  # a `use:` node (no op)
):
    add_group(_group)


# -- argument types -------------------------------------------------------------------------
# The form of an argument value: "int", "float", "bool", "str", "none", or a tuple of forms
# for a list. An ArgType accepts some forms. The checker finds the form of a spec value
# (shape_ctx.value_form: `c // 2` is whole, `c / 2` is not); `form` finds it for a plain
# Python value such as a declared default.
def form(value: object) -> object:
    """The form of a plain Python value (a declared default)."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return tuple(form(v) for v in value)
    for kind in (bool, int, float, str):  # bool first: True is an int to Python
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def _each(test: Callable[[object], bool], empty: bool = False) -> Callable[[object], bool]:
    """A list (non-empty unless `empty`) whose every item passes `test`."""
    return lambda f: isinstance(f, tuple) and (empty or bool(f)) and all(test(x) for x in f)


def _either(*tests: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda f: any(t(f) for t in tests)


def _is(*forms: str) -> Callable[[object], bool]:
    return lambda f: f in forms


_number = _is("int", "float")


@dataclass(frozen=True)
class ArgType:
    name: str
    text: str  # what a spec may write, for messages and docs
    accepts: Callable[[object], bool]  # a value's form -> whether it is of this type
    # how the spec text is read: "expr" an expression, "str" a literal string, "shape" a YAML
    # list of dims, written in calls unbracketed as PyTorch's varargs (`x.view(B, -1)`),
    # "mapping" a YAML mapping of names to expressions (`sizes: {g: groups}`), held as a
    # tuple of (name, value) pairs; an emit hook reads each value's source in
    # `CallSite.entries`
    kind: str = "expr"


ARG_TYPES = {
    t.name: t
    for t in (
        ArgType("int", "a whole number", _is("int")),
        ArgType("float", "a number", _number),
        ArgType("bool", "true or false", _is("bool")),
        ArgType("str", "a string", _is("str"), kind="str"),
        ArgType("dim", "a dim index (a whole number; negative counts from the end)", _is("int")),
        ArgType(
            "dims", "a dim index or a list of dim indices", _either(_is("int"), _each(_is("int")))
        ),
        ArgType(
            "shape", "a list of sizes (whole numbers)", _each(_is("int"), empty=True), "shape"
        ),
        ArgType("dim_list", "a list of dim indices", _each(_is("int"), empty=True), "shape"),
        ArgType(
            "ints",
            "a whole number, or a list of them (one per spatial dim)",
            _either(_is("int"), _each(_is("int"))),
        ),
        ArgType(
            "floats",
            "a number, or a list of numbers (one per spatial dim)",
            _either(_number, _each(_number)),
        ),
        ArgType(
            "int_list",
            "a whole number, or a list of them",
            _either(_is("int"), _each(_is("int"))),
        ),
        ArgType(
            "sizes",
            "a whole number, or a list of whole numbers and nulls (one per spatial "
            "dim; null keeps that dim)",
            _either(_is("int"), _each(_is("int", "none"))),
        ),
        ArgType(
            "axis_sizes",
            "a mapping of axis name: size (a whole number), such as {g: groups}",
            _each(lambda f: f in (("str", "int"),), empty=True),
            "mapping",
        ),
    )
}


@dataclass(frozen=True)
class Arg:
    name: str
    type: str  # a key of ARG_TYPES, checked at the default sizes (E402 at the value)
    default: object = REQUIRED  # Python value; REQUIRED for a positional argument
    choices: tuple = ()  # for a str argument: the strings it takes
    low: float | None = None  # inclusive bounds on the value (each element of a list),
    high: float | None = None  # checked at the default sizes; None: unbounded
    optional: bool = False  # null (None) is a value too; always so when the default is None
    hint: str = ""  # a note for a value of the wrong type: what to write instead

    def __post_init__(self):
        if self.default is None:
            object.__setattr__(self, "optional", True)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def kind(self) -> str:
        """How the spec text is read (ArgType.kind): 'expr', 'str' or 'shape'."""
        return ARG_TYPES[self.type].kind

    def accepts(self, value_form: object) -> bool:
        """Whether a value of this form is of the argument's type."""
        return (self.optional and value_form == "none") or ARG_TYPES[self.type].accepts(value_form)

    def describe(self) -> str:
        """The type in words: `a whole number`, `true or false (or null)`."""
        text = ARG_TYPES[self.type].text
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        return text + (" (or null)" if self.optional else "")


# -- dtype rules ----------------------------------------------------------------------------
DTYPES = ("bool", "int", "float", "complex")  # dtype families, in promotion order

def number_family(value: object) -> str:
    """The family a number operand promotes as, like a Python scalar in torch: `x + 1.0` of
    an int tensor is float, `x + 1` of a bool tensor int."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int) or getattr(value, "is_integer", None) is True:  # H * W - 1
        return "int"
    return "complex" if isinstance(value, complex) else "float"


# the promotion rules a `gives` may name besides a family, in words for the docs
GIVES = {
    "same": "the widest of the inputs' families",
    "floating": "the widest of the inputs' families, at least float (int and bool give float)",
    "real": "the widest of the inputs' families, but float for complex",
    "first": "input 0's family (the others give only a shape: `expand_as`)",
    "last": "the last input's family (the others give only values: `type_as`)",
}


# a dtype a spec names (`dtype:`, `to:`) -> its family (DTYPES)
FAMILY_OF = {"long": "int", "float16": "float", "bfloat16": "float", "float32": "float",
             "float64": "float"}


@dataclass(frozen=True)
class Dtypes:
    """An op's dtype rule: the dtype families it takes and the family it gives.

    `takes` has one entry per input position, `|`-separated families ("float|complex") or
    "any"; the last entry serves every further input. `gives` is a family, or one of GIVES:
    "same", the inputs' families promoted as PyTorch promotes them (bool < int < float <
    complex); "floating", the same but at least float (`torch.sqrt` of an int tensor is
    float); "real", the same but complex gives float (`torch.abs` of a complex tensor);
    "first", input 0's family (`x.expand_as(y)` is x's dtype whatever y's).
    """

    takes: tuple[str, ...] = ("float",)
    gives: str = "same"
    # a str argument that, when the spec gives it, names the result's dtype instead
    # (`dtype: bool` of `eye`, `to: float16` of `cast`): its family (FAMILY_OF)
    from_arg: str = ""
    # a multi-output op whose outputs differ: one entry per output, "same" (what `gives`
    # makes) or a family (topk's indices are int); empty: every output is what `gives` makes
    outputs: tuple[str, ...] = ()

    def allowed(self, index: int) -> tuple[str, ...]:
        """The families input `index` may have."""
        entry = self.takes[min(index, len(self.takes) - 1)]
        return DTYPES if entry == "any" else tuple(entry.split("|"))

    def result(self, families: list[str], args: dict | None = None) -> str:
        chosen = (args or {}).get(self.from_arg) if self.from_arg else None
        if chosen is not None:
            return FAMILY_OF.get(chosen, chosen)
        same = max(families, key=DTYPES.index) if families else "float"
        if self.gives in ("first", "last"):
            return families[0 if self.gives == "first" else -1] if families else "float"
        if self.gives == "same":
            return same
        if self.gives == "floating":
            return max(same, "float", key=DTYPES.index)
        if self.gives == "real":
            return "float" if same == "complex" else same
        return self.gives

    def of_outputs(self, result: str, count: int) -> list[str]:
        """The family of each of `count` outputs, `result` being what `gives` makes."""
        if not self.outputs:
            return [result] * count
        return [result if entry == "same" else entry for entry in self.outputs]

    @property
    def text(self) -> str:
        """`float -> same`, `any, bool -> same`: the rule as docs show it."""
        gives = self.gives + (f" (or {self.from_arg})" if self.from_arg else "")
        if self.outputs:
            gives = ", ".join(gives if entry == "same" else entry for entry in self.outputs)
        return ", ".join(self.takes) + " -> " + gives


FLOAT_ONLY = Dtypes()  # float in, the same out: layers, activations, pooling
ANY_DTYPE = Dtypes(("any",))  # reshaping: any dtype, kept


# -- memory layout --------------------------------------------------------------------------
# What an op's output strides are, as torch makes them; strides.py follows them through a
# spec, so that a `view` torch may refuse (one that merges dims of a tensor that may not be
# contiguous) is written `reshape`.
FRESH = "fresh"  # a new contiguous tensor whatever its inputs are: linear, matmul, reductions
KEEPS = "keeps"  # contiguous when its inputs are, else it may keep their strides:
#                  elementwise ops, conv, norms and pooling (a permuted input stays permuted)
STRIDED = "strided"  # may be non-contiguous even for contiguous inputs: views such as
#                      permute, transpose, slice, expand
LAYOUTS = (FRESH, KEEPS, STRIDED)


# -- call templates -------------------------------------------------------------------------
# the tail of a call template: each argument the spec gives, by keyword (`, dim=(2, 3)`)
BY_KEYWORD = "{% for arg in given %}, {{ arg }}={{ args[arg] }}{% endfor %}"


def by_keyword_but(*positional: str) -> str:
    """BY_KEYWORD without the arguments the call passes by position before it."""
    test = f"arg != {positional[0]!r}" if len(positional) == 1 else f"arg not in {positional!r}"
    return "{% for arg in given if " + test + " %}, {{ arg }}={{ args[arg] }}{% endfor %}"


# -- ops ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallSite:
    """What an emit hook reads: one call of a tensor function in generated forward code."""

    ins: tuple[str, ...]  # the input expressions (variable names)
    args: dict[str, str]  # each argument the spec gives -> its Python source
    values: dict[str, object]  # each argument the spec gives as a literal -> its value
    listed: bool  # the inputs are one list-valued expression, ins[0]
    # each mapping argument the spec gives (ArgType kind "mapping") -> its names' sources
    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    # each input's shape as checked (dims: ints or sympy expressions), None where unknown
    shapes: tuple[tuple | None, ...] = ()


@dataclass(frozen=True)
class Op:
    name: str
    group: str  # a key of GROUPS
    args: tuple[Arg, ...]  # in PyTorch's order
    # the shape rule (ctx.py): rule(ctx, input shapes, args) -> the output shape, or a list of
    # shapes for several outputs
    shape: Callable[[ShapeCtx, list[Shape], dict[str, Any]], Shape | list[Shape]]
    rule: str  # the shape rule in words, shown in errors and docs
    summary: str
    dtype: Dtypes = FLOAT_ONLY
    module: bool = False  # a layer: owned by the module as an attribute
    torch: str = ""  # layer constructor, e.g. "nn.Conv2d"
    # the layer constructor takes torch.nn's factory kwargs (`device=`, `dtype=`), as layers
    # with parameters or buffers do (Conv2d, Linear, BatchNorm2d); generated code passes the
    # module's own to it. Layers without them (ReLU, pooling) leave this False
    factory: bool = False
    # what ONNX export does differently from PyTorch, given the argument values (literals),
    # or "": `verify --onnx` names the nodes with a caveat when a module fails there
    onnx_caveat: Callable[[dict[str, Any]], str] | None = None
    # a tensor function is written by one of: `call`, a Jinja template of the call expression
    # (tensor.py says what it reads), or `emit`, a function CallSite -> the call expression
    call: str = ""
    emit: Callable[[CallSite], str] | None = None
    arity: tuple[int, int] = (1, 1)  # min, max tensor inputs (max -1: any)
    list_input: bool = False  # accepts one list-valued input (cat, stack, add)
    multi_output: bool = False  # needs `out: [a, b, ...]`
    params: Callable | None = None  # concrete args -> number of parameters
    key_args: tuple[str, ...] = field(default=())  # shown in diagram boxes
    operands: tuple[str, ...] = ()  # args written as operands of an operator (`x * other`):
    #                                 compound expressions get parentheses
    # the output's memory layout, one of LAYOUTS, or a function of the literal arguments
    # (name -> value) giving one (rearrange: strided where the pattern reorders dims). An op
    # that leaves it out (a plugin's) is taken as strided: a `view` after it merges by reshape
    layout: str | Callable[[dict[str, Any]], str] = STRIDED
    # where the op comes from, set by `register` (a declaration leaves it out): BUILTIN, a
    # plugin's distribution and version ("attngen-fft 0.1.0"), or "module NAME" for a module
    # imported by hand
    source: str = ""

    @property
    def layout_text(self) -> str:
        """The layout of the output in words: one of LAYOUTS, or where its arguments set it."""
        return self.layout if isinstance(self.layout, str) else "set by its arguments"

    def arg(self, name: str) -> Arg:
        for a in self.args:
            if a.name == name:
                return a
        raise KeyError(name)


BUILTIN = "attngen"  # the source of the built-in ops


class PluginError(Exception):
    """An op library that cannot be used: a plugin that fails to load, an op declared twice
    or declared incompletely. The message is one line and names the sources involved."""


class Registry(MutableMapping[str, Op]):
    """The op library, name -> Op: the built-in ops, those of modules imported by hand, and
    the plugins' (ops/plugins.py). The plugins are loaded once, the first time anything reads
    the registry (`import attngen` and a cached build never do); if that fails, every read
    raises the same PluginError."""

    def __init__(self) -> None:
        self._ops: dict[str, Op] = {}
        self._pending: Callable[[], None] | None = None
        self._failed: PluginError | None = None

    def load_on_first_read(self, load: Callable[[], None]) -> None:
        self._pending = load

    def _ready(self) -> dict[str, Op]:
        if self._pending is not None:
            load, self._pending = self._pending, None
            try:
                load()
            except PluginError as exc:
                self._failed = exc
        if self._failed is not None:
            raise self._failed
        return self._ops

    def __getitem__(self, name: str) -> Op:
        return self._ready()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready())

    def __len__(self) -> int:
        return len(self._ready())

    def __setitem__(self, name: str, op: Op) -> None:  # tests swap an op in and out
        self._ready()[name] = op

    def __delitem__(self, name: str) -> None:
        del self._ready()[name]

    def add(self, op: Op) -> None:
        """Add `op` (its `source` set); a name already taken is a PluginError naming both."""
        if op.name in self._ops:
            raise PluginError(f"op '{op.name}' of {op.source} clashes with op '{op.name}' of "
                              f"{self._ops[op.name].source}: an op name is declared once")
        self._ops[op.name] = op


REGISTRY = Registry()
_loading: list[str] = []  # the plugin being loaded (ops/plugins.py), if any


@contextmanager
def registering_as(source: str) -> Iterator[None]:
    """Ops registered inside this block come from `source` (a plugin being loaded)."""
    _loading.append(source)
    try:
        yield
    finally:
        _loading.pop()


def _source_of(op: Op) -> str:
    if _loading:
        return _loading[-1]
    module = getattr(op.shape, "__module__", None) or "?"
    return BUILTIN if module.split(".")[0] == "attngen" else f"module {module}"


def _require(ok: object, message: str) -> None:
    if not ok:
        raise PluginError(message)


def register(op: Op) -> Op:
    """Add an op to the library (its name must be new); checks the declaration is whole."""
    op = replace(op, source=_source_of(op))
    where = f"op '{op.name}' of {op.source}"
    _require(op.group in GROUPS, f"{where}: unknown group {op.group} (add_group declares one)")
    _require(op.module == bool(op.torch), f"{where}: a layer, and only a layer, has `torch`")
    _require(op.module or not op.factory, f"{where}: only a layer takes factory kwargs")
    _require(op.module or (bool(op.call) != (op.emit is not None)),
             f"{where}: a tensor function has `call` or `emit` (one of them)")
    for a in op.args:
        _require(a.type in ARG_TYPES, f"{where}: '{a.name}' has unknown type {a.type}")
        _require(a.required or a.accepts(form(a.default)),
                 f"{where}: default of '{a.name}' is not {a.describe()}")
    _require(callable(op.layout) or op.layout in LAYOUTS,
             f"{where}: layout '{op.layout}', not one of {', '.join(LAYOUTS)}")
    for key in (*op.key_args, *op.operands):
        _require(key in {a.name for a in op.args}, f"{where}: no argument '{key}'")
    for entry in op.dtype.takes:
        _require(entry == "any" or set(entry.split("|")) <= set(DTYPES),
                 f"{where}: unknown dtype family in '{entry}' (families: {', '.join(DTYPES)})")
    _require(not op.dtype.outputs or op.multi_output,
             f"{where}: dtypes per output, but one output (multi_output is False)")
    for entry in op.dtype.outputs:
        _require(entry in (*DTYPES, "same"),
                 f"{where}: output dtype '{entry}', not a dtype family or 'same'")
    _require(op.dtype.gives in (*DTYPES, *GIVES),
             f"{where}: gives '{op.dtype.gives}', not a dtype family or one of "
             f"{', '.join(GIVES)}")
    REGISTRY.add(op)
    return op
