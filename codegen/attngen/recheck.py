"""A `Spec` object checked again as the loader checks a file, before it becomes source.

The loader checks everything it reads, but a `Spec` built or edited in Python (and handed
to `attngen.compile`) has not been through it, and the emitter writes its names,
expression texts and values (by repr) into Python source as they are. So before such an
object becomes source, every field is checked here with the loader's own rules: it holds
the exact type the loader gives it (no subclass whose repr or str could be code), each
name passes the identifier checks, each expression re-parses through the whitelist parser
to the text and tree it carries, each op, type, dtype and init option is one the loader
accepts, and the loader's whole-spec checks run again. Sub-specs are checked the same way.
"""

from __future__ import annotations

import ast
import math
from pathlib import PurePath

from . import ops
from .errors import (
    BAD_ARGUMENTS,
    BAD_VALUE,
    EXPR_NOT_ALLOWED,
    MISSING_KEY,
    TOO_LARGE,
    UNKNOWN_KEY,
    UNKNOWN_OP,
    Loc,
    error,
)
from .expr import Expr, parse
from .graph import check_optional_reads, check_unique_names
from .model import (
    REQUIRED,
    Callee,
    Cases,
    FunctionOp,
    InitRule,
    Input,
    IntInput,
    Item,
    LayerCall,
    LayerOp,
    Let,
    Loop,
    Map,
    Node,
    Output,
    Param,
    Ref,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    tensor_decl,
    why_not_unused,
)
from .names import check_class_name, check_identifier, check_node_name, layer_template
from .parse import (
    DTYPES,
    INIT_BIAS,
    INIT_OPTION_USERS,
    INIT_WEIGHT,
    PARAM_TYPES,
    check_param_order,
    check_param_value,
    checked_dims,
)
from .parse_calls import check_sized_call, refuse_in_seq
from .parse_tensors import (
    DTYPE_INITS,
    INIT_NONLINEARITY,
    INIT_RANKS,
    NUMBER_OPTIONS,
    SLICES,
    TENSOR_INITS,
    WINDOW_AXES,
    WORD_OPTIONS,
    check_tensor_shape,
)
from .yamlload import LStr

MAX_TEXT = 2000  # characters in a title, paper or doc (as the loader reads them)
MAX_DEPTH = 64  # nesting of a param value (as the YAML reader allows)
OUTPUT_FORMS = ("value", "tuple", "list")
CALLEES = (LayerOp, FunctionOp, SubSpec, Seq, LayerCall)
FORMS = (*CALLEES, Repeat, Map, Cases, TensorDecl, Stack)  # NodeForm (exactly: no subclass)
_NOWHERE = Loc("<Spec object>")


def recheck(*specs) -> None:
    """Raise SpecError unless each spec given, and each sub-spec it uses, holds only what
    the loader could have built from a file."""
    todo, done = list(specs), set()
    while todo:
        spec = todo.pop()
        if id(spec) not in done:
            done.add(id(spec))
            todo += _spec(spec)


# -- types ---------------------------------------------------------------------------------
def _exact(value, types: tuple, what: str, loc: Loc, expected: str):
    if type(value) not in types:  # exact: a subclass may write anything as its repr
        raise error(loc, BAD_VALUE, f"{what} must be {expected}, got {type(value).__name__}")
    return value


def _str(value, what: str, loc: Loc) -> str:
    return _exact(value, (str, LStr), what, loc, "a str")  # LStr: a str with its YAML loc


def _text(value, what: str, loc: Loc) -> None:
    if len(_str(value, what, loc)) > MAX_TEXT:
        raise error(loc, BAD_VALUE, f"{what} is longer than {MAX_TEXT} characters")


def _loc(value, what: str, fallback: Loc) -> Loc:
    _exact(value, (Loc,), what, fallback, "an attngen.errors.Loc")
    if (type(value.file), type(value.line), type(value.col)) != (str, int, int):
        raise error(fallback, BAD_VALUE, f"{what} must hold a file name and two integers")
    return value


def _list(value, what: str, loc: Loc, kind: type) -> list:
    for item in _exact(value, (list,), what, loc, "a list"):
        _exact(item, (kind,), f"an item of {what}", loc, f"an attngen {kind.__name__}")
    return value


def _named(mapping, what: str, loc: Loc, kind: type) -> list:
    """The values of a name -> object mapping whose keys are the objects' names."""
    _exact(mapping, (dict,), what, loc, "a dict")
    for key, value in mapping.items():
        _exact(value, (kind,), f"{what}['{key}']", loc, f"an attngen {kind.__name__}")
        if type(key) not in (str, LStr) or key != value.name:
            raise error(loc, BAD_VALUE, f"{what}: key '{key}' differs from its value's name")
    return list(mapping.values())


def _plain(value, what: str, loc: Loc, depth: int = 0) -> None:
    """A value as the YAML reader gives it: None, bool, int, float, str, list, dict."""
    if depth > MAX_DEPTH:
        raise error(loc, TOO_LARGE, f"{what} is nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, int, float, str, LStr):
        return
    if type(value) in (list, tuple):
        for item in value:
            _plain(item, what, loc, depth + 1)
    elif type(value) is dict:
        for key, item in value.items():
            _str(key, f"a key of {what}", loc)
            _plain(item, what, loc, depth + 1)
    else:
        raise error(loc, BAD_VALUE, f"{what} must be a plain value (None, a bool, number, str, "
                    f"list or dict), got {type(value).__name__}")


def _expr(value, what: str, loc: Loc, *, iterable: bool = False, formula: bool = False,
          comprehension: bool = False) -> None:
    """An expression the parser made from its text: the emitter writes the text, the
    checker reads the tree, so both must be what parsing the text gives (`iterable`: what
    `each:` repeats over, which may be `range(...)`; `formula`: an init formula's)."""
    _exact(value, (Expr,), what, loc, "an attngen.expr.Expr (from attngen.expr.parse)")
    where = _loc(value.loc, f"the loc of {what}", loc)
    fresh = parse(_str(value.text, what, where), where, iterable=iterable,  # E200/E201
                  formula=formula, comprehension=comprehension)
    tree = value.tree
    if fresh.text != value.text or not isinstance(tree, ast.AST) \
            or ast.dump(tree) != ast.dump(fresh.tree) or value.names != fresh.names:
        raise error(where, EXPR_NOT_ALLOWED, f"{what}: the expression's tree is not its text "
                    f"'{fresh.text}' (make expressions with attngen.expr.parse)")


def _exprs(value, what: str, loc: Loc) -> list:
    for e in _exact(value, (list,), what, loc, "a list of expressions"):
        _expr(e, what, loc)
    return value


# -- the spec ------------------------------------------------------------------------------
def _spec(spec) -> list[Spec]:
    """Check one spec's own fields; return the sub-specs it uses."""
    _exact(spec, (Spec,), "a spec", _NOWHERE, "an attngen.model.Spec")
    loc = _loc(spec.loc, "the spec's loc", _NOWHERE)
    check_class_name(_str(spec.name, "'name'", loc), loc)
    if not isinstance(spec.path, PurePath):
        raise error(loc, BAD_VALUE, f"'path' must be a path, got {type(spec.path).__name__}")
    _str(spec.file, "'file'", loc)
    for key in ("title", "paper", "doc"):
        _text(getattr(spec, key), f"'{key}'", loc)
    if spec.extends is not None:
        _str(spec.extends, "'extends'", loc)
    _exact(spec.inline, (bool,), "'inline'", loc, "True or False")
    if spec.loop_var is not None and (not spec.inline or _str(spec.loop_var, "'loop_var'", loc)
                                      not in spec.params):
        raise error(loc, BAD_VALUE, "'loop_var' names a param of a loop body's (inline) spec")
    _exact(spec.fuse, (bool,), "'fuse'", loc, "True or False")
    for alias in _exact(spec.aliases, (list,), "'aliases'", loc, "a list"):
        check_class_name(_str(alias, "an alias", loc), loc)
    if _str(spec.output_form, "'output_form'", loc) not in OUTPUT_FORMS:
        raise error(loc, BAD_VALUE, f"'output_form' must be one of {', '.join(OUTPUT_FORMS)}")
    for p in _named(spec.params, "'params'", loc, Param):
        _param(p, loc)
    for let in _named(spec.lets, "'lets'", loc, Let):
        where = _loc(let.loc, "a let's loc", loc)
        check_identifier(_str(let.name, "a let name", where), where, "let", attribute=True)
        _expr(let.expr, f"let '{let.name}'", where, comprehension=True)
    _exprs(spec.requires, "'requires'", loc)
    for inp in _named(spec.inputs, "'inputs'", loc, Input):
        _input(inp, loc)
    for size in _named(spec.int_inputs, "'int_inputs'", loc, IntInput):
        where = _loc(size.loc, "an int input's loc", loc)
        checked_dims([parse(check_identifier(_str(size.name, "an int input", where), where,
                                             "input"), where)])
        _text(size.doc, f"the doc of int input '{size.name}'", where)
    for name in _exact(spec.arg_order, (list,), "'arg_order'", loc, "a list of input names"):
        _str(name, "a name of 'arg_order'", loc)
    subs: list[Spec] = []
    for node in _named(spec.nodes, "'nodes'", loc, Node):
        subs += _node(node, loc)
    for out in _list(spec.outputs, "'outputs'", loc, Output):
        where = _loc(out.loc, "an output's loc", loc)
        check_identifier(_str(out.name, "an output", where), where, "output", private_ok=True)
        if out.when is not None:
            _expr(out.when, f"'when' of output '{out.name}'", where)
    for rule in _list(spec.init, "'init'", loc, InitRule):
        _init(rule, loc)
        if rule.layer is not None:  # one node's layer: an op layer it owns, of that op
            node = spec.nodes.get(_str(rule.layer, "an init rule's layer", loc))
            if node is None or not isinstance(node.form, LayerOp) or node.when is not None \
                    or node.form.op != rule.op:
                raise error(loc, BAD_VALUE, f"init: layer '{rule.layer}' must name a node "
                            f"that always owns one {rule.op} layer")
    for node in spec.nodes.values():
        decl = tensor_decl(node)
        if decl is not None:
            check_tensor_shape(spec, f"{decl.kind} '{node.name}'", decl.shape)
    check_unique_names(spec)
    check_optional_reads(spec)
    check_param_order(spec)
    return subs


def _param(p: Param, loc: Loc) -> None:
    loc = _loc(p.loc, "a param's loc", loc)
    name = check_identifier(_str(p.name, "a param name", loc), loc, "param", attribute=True)
    if _str(p.type, f"the type of param '{name}'", loc) not in PARAM_TYPES:
        raise error(
            loc, BAD_VALUE, f"param '{name}': unknown type; one of {', '.join(PARAM_TYPES)}"
        )
    if p.default is not REQUIRED:
        _plain(p.default, f"the default of param '{name}'", loc)
    _plain(p.example, f"the example of param '{name}'", loc)
    if p.choices is not None:
        _exact(p.choices, (tuple,), f"the choices of param '{name}'", loc, "a tuple")
        _plain(p.choices, f"the choices of param '{name}'", loc)
    _text(p.doc, f"the doc of param '{name}'", loc)
    check_param_value(p, loc)


def _input(inp: Input, loc: Loc, *, item: bool = False) -> None:
    loc = _loc(inp.loc, "an input's loc", loc)
    name = check_identifier(_str(inp.name, "an input name", loc), loc, "input")
    _exact(inp.optional, (bool,), f"'optional' of input '{name}'", loc, "True or False")
    if _str(inp.dtype, f"the dtype of input '{name}'", loc) not in DTYPES:
        raise error(loc, BAD_VALUE, f"input '{name}': dtype must be one of {', '.join(DTYPES)}")
    _text(inp.doc, f"the doc of input '{name}'", loc)
    if inp.items is not None:
        if item or inp.shape is not None or not _list(inp.items, f"the items of '{name}'",
                                                      loc, Input):
            raise error(loc, BAD_VALUE, f"input '{name}': a list input has items, no shape, "
                        "and is not itself an item")
        for sub in inp.items:
            _input(sub, loc, item=True)
    else:
        checked_dims(_exprs(inp.shape, f"the shape of input '{name}'", loc))


def _ref(ref, what: str, loc: Loc) -> None:
    _exact(ref, (Ref,), what, loc, "an attngen Ref")
    where = _loc(ref.loc, f"the loc of {what}", loc)
    # a builtin's name may be a declared layer's (names.check_node_name): what it names decides
    check_identifier(_str(ref.name, what, where), where, "reference", builtin_ok=True,
                     private_ok=True)


def _callee_args(args, names, what: str, loc: Loc) -> None:
    """A node's or layer's arguments: expressions, each named after a callee argument."""
    _exact(args, (dict,), f"the arguments of {what}", loc, "a dict")
    for key, value in args.items():
        if type(key) not in (str, LStr) or key not in names:
            raise error(loc, BAD_ARGUMENTS, f"{what}: no argument '{key}'"
                        + (f" (arguments: {', '.join(names)})" if names else ""))
        _expr(value, f"argument '{key}' of {what}", loc)


def _op(name, what: str, loc: Loc, *, layer: bool) -> ops.Op:
    """A registered op: a layer (an op that owns an nn.Module) or a tensor function, as
    `layer` says (the loader makes an op node a LayerOp or a FunctionOp by the same rule)."""
    op = ops.REGISTRY.get(_str(name, f"the op of {what}", loc))
    if op is None or op.module != layer:
        raise error(loc, UNKNOWN_OP, f"{what}: unknown {'layer' if layer else 'tensor function'} "
                    "(run `attngen ops` for the list)")
    return op


def _call(call: LayerOp | FunctionOp | SubSpec, what: str, loc: Loc) -> list[Spec]:
    """Check an op or use callee (of a node or a seq layer) and its arguments."""
    if isinstance(call, SubSpec):
        _exact(call.spec, (Spec,), f"the sub-spec of {what}", loc, "an attngen.model.Spec")
        _str(call.ref, f"'use' of {what}", loc)
        _callee_args(call.args, list(call.spec.params), what, loc)
        _callee_args(call.sizes, list(call.spec.int_inputs), what, loc)
        return [call.spec]
    op = _op(call.op, what, loc, layer=isinstance(call, LayerOp))
    _callee_args(call.args, [a.name for a in op.args], what, loc)
    for arg in op.args:  # a str argument is a literal from its choices, as loaded
        if arg.kind == "str" and arg.name in call.args:
            value = call.args[arg.name]
            if not (value.is_constant() and type(value.constant) in (str, LStr)) \
                    or (arg.choices and value.constant not in arg.choices):
                raise error(loc, BAD_ARGUMENTS, f"{what}: argument '{arg.name}' must be one of "
                            + ", ".join(repr(c) for c in arg.choices))
    return []


def _node(node: Node, loc: Loc, *, case_of: str | None = None) -> list[Spec]:
    loc = _loc(node.loc, "a node's loc", loc)
    name = check_identifier(_str(node.name, "a node name", loc), loc, "node", attribute=True,
                            builtin_ok=True, private_ok=True)
    check_node_name(node, loc)
    what = f"node '{name}'"
    if case_of is not None and name != case_of:
        raise error(loc, BAD_VALUE, f"a case of node '{case_of}' is named '{name}'")
    for ref in _list(node.inputs, f"'in' of {what}", loc, Ref):
        _ref(ref, f"an input of {what}", loc)
    if node.if_given is not None:
        _ref(node.if_given, f"'if_given' of {what}", loc)
    _text(node.doc, f"the doc of {what}", loc)
    if node.when is not None:
        _expr(node.when, f"'when' of {what}", loc)
    if node.out is not None:
        for o in _exact(node.out, (list,), f"'out' of {what}", loc, "a list"):
            check_identifier(_str(o, f"an output of {what}", loc), loc, "output")
        if len(node.out) < 2:
            raise error(loc, BAD_VALUE, f"'out' of {what} names at least two outputs")
    if node.shape_loc is not None:
        _loc(node.shape_loc, f"the shape's loc of {what}", loc)
    if node.shape is not None:
        shapes = node.shape if node.out is not None else [node.shape]
        for shape in _exact(shapes, (list,), f"'shape' of {what}", loc, "a list"):
            _exprs(shape, f"'shape' of {what}", loc)
    _exact(node.form, FORMS, f"the form of {what}", loc, "an attngen node form ("
           + ", ".join(f.__name__ for f in FORMS) + ")")
    if _exact(node.unused, (bool,), f"'unused' of {what}", loc, "True or False") and (
            problem := why_not_unused(node) if case_of is None else
            (f"{what}: a case chooses a computation; it keeps no layer", "")) is not None:
        raise error(loc, BAD_VALUE, *problem)
    form = node.form
    called = form.body if isinstance(form, Repeat | Map) else form
    if isinstance(called, SubSpec) and type(called.spec) is Spec and called.spec.int_inputs:
        check_sized_call(name, loc, called, bool(node.inputs) and called is form)
    match form:
        case Cases(cases):
            if case_of is not None or not _list(cases, f"'cases' of {what}", loc, Node):
                raise error(loc, BAD_VALUE, f"{what}: cases hold nodes and are not nested")
            return [sub for case in cases for sub in _node(case, loc, case_of=name)]
        case Repeat(var, iterable, body, zipped):
            _loop(Loop(var, iterable), what, loc)
            if _exact(zipped, (bool,), f"'zipped' of {what}", loc, "True or False") and (
                    len(node.inputs) != 1 or isinstance(body, LayerCall)):
                raise error(loc, BAD_VALUE, f"{what}: 'zip' reads one list, and 'apply' "
                            "takes no 'zip' (map: true shares a layer)")
            return _callee(body, what, loc)
        case Map(body):
            return _callee(body, what, loc)
        case Stack(var, iterable, body):
            _loop(Loop(var, iterable), what, loc)
            if case_of is not None or not node.inputs or not node.shape:
                raise error(loc, BAD_VALUE, f"{what}: a loop body is no case, reads the value "
                            "it carries and has a 'shape'")
            if not body.spec.inline:
                raise error(loc, BAD_VALUE, f"{what}: a loop body's spec is inline")
            return _callee(body, what, loc)
        case LayerOp() | FunctionOp() | SubSpec() | Seq() | LayerCall():
            return _callee(form, what, loc)
        case TensorDecl():
            if case_of is not None or node.inputs or node.if_given or node.out or node.shape:
                raise error(loc, BAD_VALUE, f"{what}: a param or buffer is no case and has no "
                            "'in', 'if_given', 'out' or 'shape' (its own shape says it)")
            _tensor(form, what, loc)
            return []
        case _:
            assert_never(form)


def _tensor(decl: TensorDecl, what: str, loc: Loc) -> None:
    """A `param:` or `buffer:` form holds what load_tensor could have made."""
    if _str(decl.kind, f"the kind of {what}", loc) not in ("param", "buffer"):
        raise error(loc, BAD_VALUE, f"{what}: kind must be 'param' or 'buffer'")
    if not checked_dims(_exprs(decl.shape, f"the shape of {what}", loc)):
        raise error(loc, BAD_VALUE, f"{what} has no dims")
    dtype = _str(decl.dtype, f"the dtype of {what}", loc)
    init = _str(decl.init, f"the init of {what}", loc)
    if dtype not in DTYPE_INITS or (decl.kind == "param" and dtype != "float"):
        raise error(loc, BAD_VALUE, f"{what}: dtype must be one of {', '.join(DTYPE_INITS)} "
                    "(float for a param)")
    if init not in DTYPE_INITS[dtype]:
        raise error(loc, BAD_VALUE, f"{what}: init must be one of "
                    + ", ".join(DTYPE_INITS[dtype]))
    _exact(decl.persistent, (bool,), f"'persistent' of {what}", loc, "True or False")
    rank = INIT_RANKS.get(init)
    if rank is not None and len(decl.shape) != rank[0]:
        raise error(loc, BAD_VALUE, f"{what}: init {init} needs a shape of {rank[1]}; the "
                    f"shape has {len(decl.shape)}")
    if init == "relative_position" and "window" not in decl.options:
        raise error(loc, BAD_VALUE, f"{what}: init relative_position needs the option "
                    "'window' (a tuple of sizes)")
    for key, value in _exact(decl.options, (dict,), f"the init options of {what}", loc,
                             "a dict").items():
        if key not in TENSOR_INITS[init]:
            raise error(loc, BAD_VALUE, f"{what}: init {init} takes no option {key!r}")
        if key in WORD_OPTIONS:
            if _str(value, f"init '{key}' of {what}", loc) not in WORD_OPTIONS[key]:
                raise error(loc, BAD_VALUE, f"{what}: init {key} must be one of "
                            + ", ".join(WORD_OPTIONS[key]))
        elif key in NUMBER_OPTIONS and isinstance(value, Expr):
            _expr(value, f"init '{key}' of {what}", loc)  # its value: judged by the checker
        elif key == "window":
            sizes = _exact(value, (tuple,), f"the window of {what}", loc, "a tuple of Exprs")
            if not WINDOW_AXES[0] <= len(sizes) <= WINDOW_AXES[1]:
                raise error(loc, BAD_VALUE, f"the window of {what} takes {WINDOW_AXES[0]} "
                            f"to {WINDOW_AXES[1]} sizes, got {len(sizes)}")
            for size in sizes:
                _expr(size, f"a window size of {what}", loc)
        elif key == "formula":  # its names: checked again where it is built
            _expr(value, f"the formula of {what}", loc, formula=True)
        elif key == "index":
            for name in _exact(value, (tuple,), f"the index of {what}", loc, "a tuple of Exprs"):
                _expr(name, f"an index name of {what}", loc)
        elif key == SLICES:
            if type(value) is not int or not 1 <= value <= len(decl.shape) - 2:
                raise error(loc, BAD_VALUE, f"{what}: init 'slices' must be an int from 1 to "
                            "the dims less two")
        elif key not in NUMBER_OPTIONS or type(value) is not float or not math.isfinite(value):
            raise error(loc, BAD_VALUE, f"{what}: init '{key}' must be a finite float or an "
                        "expression")


def _callee(callee: Callee, what: str, loc: Loc) -> list[Spec]:
    """What a node calls (once, or under `each` or `map`, which wrap no other form)."""
    _exact(callee, CALLEES, f"the call of {what}", loc, "an attngen LayerOp, FunctionOp, "
           "SubSpec, Seq or LayerCall")
    match callee:
        case LayerOp() | FunctionOp() | SubSpec():
            return _call(callee, what, loc)
        case Seq(items, named):
            _exact(named, (bool,), f"'named' of the seq of {what}", loc, "True or False")
            if not _list(items, f"'seq' of {what}", loc, Item):
                raise error(loc, BAD_VALUE, f"{what}: a seq holds layers")
            return [sub for i, item in enumerate(items)
                    for sub in _item(item, i, named, what, loc)]
        case LayerCall(target):
            _ref(target, f"'apply' of {what}", loc)
            return []
        case _:
            assert_never(callee)


def _item(item: Item, index: int, named: bool, owner: str, loc: Loc) -> list[Spec]:
    loc = _loc(item.loc, f"a layer's loc in {owner}", loc)
    name = _str(item.name, f"a layer name of {owner}", loc)
    if named and item.key:  # a template (`fc1_{i}`): the names in braces are checked with
        # the layer's arguments (an unknown one is E202 where the checker makes the keys)
        key = _exact(item.key, (tuple,), f"the key of {name}", loc, "a tuple")
        parts = layer_template(name, loc, None)
        if [(p.text, True) if isinstance(p, Expr) else (p, False) for p in key] != parts:
            raise error(loc, BAD_VALUE, f"layer {name} of {owner}: its key is not its name's "
                        "parts")
    elif named:
        check_identifier(name, loc, "layer", attribute=True, private_ok=True)
    elif name != str(index):
        raise error(loc, BAD_VALUE, f"layer {index} of {owner} is named '{name}'")
    what = f"layer {name} of {owner}"
    _exact(item.form, (LayerOp, SubSpec), f"the call of {what}", loc,
           "an attngen LayerOp or SubSpec")
    if isinstance(item.form, SubSpec) and type(item.form.spec) is Spec:
        refuse_in_seq(name, owner, item.form, loc)
    _text(item.doc, f"the doc of {what}", loc)
    if item.each is not None:
        _loop(_exact(item.each, (Loop,), f"'each' of {what}", loc, "an attngen Loop"), what, loc)
    if item.when is not None:
        _expr(item.when, f"'when' of {what}", loc)
    if item.shape is not None:
        _exprs(item.shape, f"'shape' of {what}", loc)
    return _call(item.form, what, loc)


def _loop(loop: Loop, what: str, loc: Loc) -> None:
    _expr(loop.iterable, f"'each' of {what}", loc, iterable=True)
    if loop.var is not None:
        check_identifier(_str(loop.var, "a loop variable", loc), loc, "loop variable")


def _init(rule: InitRule, loc: Loc) -> None:
    loc = _loc(rule.loc, "an init rule's loc", loc)
    _op(rule.op, "an init rule", loc, layer=True)
    for key, allowed in (("weight", INIT_WEIGHT), ("bias", INIT_BIAS)):
        value = getattr(rule, key)
        if value is not None and _str(value, f"init {key}", loc) not in allowed:
            raise error(loc, BAD_VALUE, f"init {key} must be one of {', '.join(allowed)}")
    if rule.weight is None and rule.bias is None:
        raise error(loc, MISSING_KEY, f"init rule for {rule.op} sets neither 'weight' nor 'bias'")
    choices = {"mode": ("fan_in", "fan_out"), "nonlinearity": INIT_NONLINEARITY}
    for key, value in _exact(rule.options, (dict,), "init options", loc, "a dict").items():
        if key not in INIT_OPTION_USERS:
            raise error(loc, UNKNOWN_KEY, f"unknown init option '{key}'")
        if key in choices:
            if _str(value, f"init '{key}'", loc) not in choices[key]:
                raise error(loc, BAD_VALUE, f"init {key} must be one of {', '.join(choices[key])}")
        elif not math.isfinite(_exact(value, (float,), f"init '{key}'", loc, "a float")):
            raise error(loc, BAD_VALUE, f"init '{key}' must be a finite number")


__all__ = ["recheck"]
