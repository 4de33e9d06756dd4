"""Identifier rules: spec names become Python variables and nn.Module attributes, and
class names share one namespace with everything else in the generated file."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import BAD_NAME, DUPLICATE_NAME, Collector, Loc, error
from .model import (
    Cases,
    FunctionOp,
    LayerCall,
    LayerOp,
    Map,
    Node,
    NodeForm,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    cases_of,
    dim_names,
    is_declaration,
)
from .yamlload import LBool

# Public attributes of torch.nn.Module (torch 2.x): a node or param with one of these
# names would shadow the module's own API when stored as `self.<name>`.
MODULE_ATTRS = frozenset((
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
    "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "type", "xpu", "zero_grad", "training",
))

# Private attributes of torch.nn.Module (torch 2.x: its class's and those __init__ sets): a
# node named `_bn0` is `self._bn0`, as hand-written modules name layers (EfficientNet's
# `_conv_stem`), but one of these would break the module itself.
PRIVATE_MODULE_ATTRS = frozenset((
    "_apply", "_backward_hooks", "_backward_pre_hooks", "_buffers", "_call_impl",
    "_compiled_call_impl", "_forward_hooks", "_forward_hooks_always_called",
    "_forward_hooks_with_kwargs", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_get_backward_hooks", "_get_backward_pre_hooks", "_get_name", "_is_full_backward_hook",
    "_load_from_state_dict", "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks",
    "_maybe_warn_non_full_backward_hook", "_modules", "_named_members",
    "_non_persistent_buffers_set", "_parameters", "_register_load_state_dict_pre_hook",
    "_register_state_dict_hook", "_replicate_for_data_parallel", "_save_to_state_dict",
    "_slow_forward", "_state_dict_hooks", "_state_dict_pre_hooks", "_version",
    "_wrapped_call_impl",
))

# Local variables the generated methods bind themselves (emit.py takes them from here). A
# spec name equal to one would be shadowed by it (`[item.view(B, 4 * item) for item in xs]`
# with a dim named `item`), so both are reserved below.
LAYER_VAR = "layer"  # forward of an `each:` node: [layer(x) for layer in self.convs]
ITEM_VAR = "item"  # forward of a `map: true` node: [item.view(B, C) for item in xs]
# a loop body's layers, unpacked by its loop: `for att_layer, ffn_layer in self.layers:`
LOOP_LAYER_SUFFIX = "_layer"
# init_weights' loop variable (templates/class.py.j2): init_weights reads no spec name, so
# only a class may not be called so (a local of any method is never a module-level name)
MODULE_VAR = "m"

# Every generated constructor ends with torch.nn's factory kwargs, keyword-only
# (`*, device=None, dtype=None`), and gathers them in one local that each layer takes
# (`nn.Conv2d(..., **factory_kwargs)`): spec names may be none of these.
FACTORY_PARAMS = ("device", "dtype")
FACTORY_VAR = "factory_kwargs"

# Names the generated source itself relies on.
GENERATED_NAMES = frozenset({"self", "torch", "nn", "F", "super", "math", LAYER_VAR, ITEM_VAR,
                             *FACTORY_PARAMS, FACTORY_VAR})
# Module-level names of every generated file besides its classes and aliases: the imports
# (module.py.j2) and the helper functions it may define.
MODULE_NAMES = ("torch", "F", "nn", "_sequential", "_log2", "_relative_position_index")
BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))

MAX_NAME = 64


def check_identifier(name: object, loc: Loc, what: str, *, attribute: bool = False,
                     builtin_ok: bool = False, private_ok: bool = False) -> str:
    """Validate a spec name used as a Python identifier; returns it as a plain str.
    `builtin_ok`: a builtin's name passes (a node's: check_node_name decides, once the node
    is read)."""
    text = str(name)
    if not isinstance(name, str):  # YAML's .inf, .nan, 1e3, true: a value, whose str may pass
        kind = ("true or false" if isinstance(name, (bool, LBool)) else
                "a number" if isinstance(name, (int, float)) else "no text")
        raise error(loc, BAD_NAME, f"{what} name '{_show(text)}' is {kind} in YAML, not a name")
    if not text.isidentifier() or not text.isascii():
        raise error(loc, BAD_NAME, f"{what} name '{_show(text)}' is not a valid identifier "
                    "(ASCII letters, digits and '_', not starting with a digit)")
    if len(text) > MAX_NAME:
        raise error(
            loc, BAD_NAME, f"{what} name '{text[:20]}...' is longer than {MAX_NAME} characters"
        )
    if keyword.iskeyword(text) or keyword.issoftkeyword(text):
        raise error(loc, BAD_NAME, f"{what} name '{text}' is a Python keyword",
                    _rename_hint(text, attribute))
    if text.startswith("_"):
        _check_private(text, loc, what, private_ok)
    if text in GENERATED_NAMES or (text in BUILTIN_NAMES and not builtin_ok):
        raise error(loc, BAD_NAME, f"{what} name '{text}' is reserved: the generated code uses it",
                    _rename_hint(text, attribute))
    if attribute and text in MODULE_ATTRS:
        raise error(loc, BAD_NAME, f"{what} name '{text}' would shadow nn.Module.{text}",
                    _rename_hint(text, attribute))
    return text


# a named seq layer's templated name: text of identifier characters and names in braces
_TEMPLATE = re.compile(r"(?:[A-Za-z0-9_]|\{[A-Za-z_][A-Za-z0-9_]*\})+", re.ASCII)


def layer_template(text: str, loc: Loc, allowed: set[str] | None) -> list[tuple[str, bool]]:
    """The parts of a templated layer name (`fc1_{i}`: ('fc1_', False), ('i', True)), each
    name in braces one of `allowed` (the params, lets and the layer's loop variable; None:
    any)."""
    if not _TEMPLATE.fullmatch(text) or len(text) > MAX_NAME:
        raise error(loc, BAD_NAME, f"layer name '{_show(text)}' is neither an identifier nor "
                    "a template of letters, digits, '_' and names in braces",
                    "a key per copy of an `each` layer: 'fc1_{i}' (fc1_0, fc1_1, ...)")
    parts = [(part, i % 2 == 1) for i, part in enumerate(re.split(r"\{(\w+)\}", text))
             if part]
    for name, is_name in parts:
        if is_name and allowed is not None and name not in allowed:
            raise error(loc, BAD_NAME, f"layer name '{text}' names '{name}', which is not the "
                        "layer's loop variable, a param or a let", "e.g. 'fc1_{i}' with "
                        "each: i in range(depth)")
    return parts


def check_template_keys(items: list[tuple[str, Loc, bool]]) -> None:
    """A named seq's names (text, where, templated), whose names in braces are whole
    numbers (loops.check_keys): a plain name a template makes for some number (`a_4` beside
    `a_{i}`: a depth of 5 would add it twice), and two templates whose text before the
    braces could meet (`a_{i}`, `a_{j}`; `b1{i}`, `b{j}`: b10 from both) are refused
    before any values are tried."""
    number = r"-?\d+"
    heads: dict[str, str] = {}  # a template's text before its first braces -> the template
    for text, loc, templated in items:
        if not templated:
            continue
        head = text[:text.index("{")]
        for other_head, other in heads.items():
            short, long = sorted((head, other_head), key=len)
            if long.startswith(short) and re.fullmatch(number + "|", long[len(short):]):
                raise error(loc, DUPLICATE_NAME, f"layer names '{other}' and '{text}' may make "
                            "the same key: their text before the braces differs by a number "
                            "at most", "tell them apart by a letter: 'a_{i}', 'b_{i}'")
        heads[head] = text
        pattern = re.compile(re.sub(r"\\\{\w+\\\}", lambda _: number, re.escape(text)))
        for other, other_loc, other_templated in items:
            if not other_templated and pattern.fullmatch(other):
                raise error(other_loc, DUPLICATE_NAME, f"layer name '{other}' is a key that "
                            f"'{text}' makes for some values: one would replace the other",
                            f"rename it, or let '{text}' make it")


def _check_private(text: str, loc: Loc, what: str, private_ok: bool) -> None:
    """A name with one leading underscore (`_bn0`) is a node's or layer's where it is not
    the generated file's own (`_sequential`) or an nn.Module private attribute; two
    underscores would be mangled by Python in the class body (`self.__x` is
    `self._Class__x`), and every other kind of name is the generated code's to use."""
    if not private_ok:
        raise error(loc, BAD_NAME, f"{what} name '{text}' may not start with '_' "
                    "(reserved for generated code)", "node and layer names may (`_bn0`), to "
                    "keep a reference's state_dict keys")
    if text == "_" or text.startswith("__"):
        raise error(loc, BAD_NAME, f"{what} name '{text}' may not be '_' or start with '__' "
                    "(Python mangles such attribute names in a class body)",
                    f"one leading underscore is kept as written: '_{text.strip('_') or 'x'}'")
    if text in MODULE_NAMES:
        raise error(loc, BAD_NAME, f"{what} name '{text}' is reserved: the generated code "
                    "uses it")
    if text in PRIVATE_MODULE_ATTRS:
        raise error(loc, BAD_NAME, f"{what} name '{text}' would shadow nn.Module's private "
                    f"{text}, which the module needs", _rename_hint(text, True))


def check_node_name(node: Node, loc: Loc) -> None:
    """A node may have a builtin's name (`filter`, as GFNet's block names its filter) only as
    a layer declaration: its name is then only ever an attribute (`self.filter`, called by
    `apply:` nodes). Any other node's name is also forward's variable, which would shadow a
    builtin the generated code may call (`sum`, `float`, `range`, ...); for a layer, the
    error says how to declare it."""
    name = node.name
    if name in BUILTIN_NAMES and not is_declaration(node):
        declare = (f"or declare the layer without `in` and call it with `apply: {name}` from "
                   f"another node: its name is then only an attribute (self.{name})")
        layer = isinstance(node.form, LayerOp | Seq | SubSpec)
        raise error(loc, BAD_NAME, f"node name '{name}' is reserved: the generated code uses it",
                    _rename_hint(name, True), declare if layer else "")


def _rename_hint(text: str, attribute: bool) -> str:
    """A note naming a free spelling of a reserved name (a trailing underscore, Python's
    convention for `class_`), or '' if that is not free either (too long)."""
    new = text + "_"
    free = (len(new) <= MAX_NAME and not keyword.iskeyword(new) and not new.startswith("__")
            and new not in GENERATED_NAMES and new not in BUILTIN_NAMES
            and not (attribute and new in MODULE_ATTRS))
    return f"rename it, e.g. to '{new}' (and every place that reads it)" if free else ""


def check_class_name(name: object, loc: Loc) -> str:
    text = check_identifier(name, loc, "module")
    if text in ("Module", "Sequential", "ModuleList", "Tensor"):
        raise error(loc, BAD_NAME, f"module name '{text}' would shadow a torch class")
    if text == MODULE_VAR:
        raise error(loc, BAD_NAME, f"module name '{text}' is reserved: the generated "
                    "init_weights uses it as a local variable")
    return text


def check_file_names(spec: Spec) -> None:
    """The generated file's one namespace, across `spec` and its sub-specs at any depth.

    The file defines a class for each spec file (the spec's and every sub-spec's, each
    file once) and its aliases, beside the imports and helpers (MODULE_NAMES): these
    module-level names must all differ, or one class silently replaces another (two files
    both `name: Block`). And no spec may give a module-level name to one of its own names
    (params, lets, inputs, nodes, outputs, loop variables, dims): those are locals of the
    generated methods, where a param `Block` would hide the class `Block` from __init__.
    """
    owners = {name: f"the generated code's own '{name}'" for name in MODULE_NAMES}
    classes: dict[str, Spec] = {}  # class name -> the spec file that defines it
    issues = Collector()
    specs = _spec_files(spec)
    for sub, loc in specs:
        if sub.name in classes or sub.name in owners:
            first = classes.get(sub.name)
            what = f"class '{sub.name}' of {first.file}" if first else owners[sub.name]
            issues.add(
                error(
                    loc,
                    DUPLICATE_NAME,
                    f"{sub.file} defines class '{sub.name}', but the "
                    f"generated file already has {what}: one would replace the other",
                    f"give one of them another `name:` (or use a variant of it: a "
                    f"file with `extends: {sub.file}` and a new `name:`)"
                    if first
                    else "",
                )
            )
            continue
        classes[sub.name] = sub
        owners[sub.name] = f"class '{sub.name}' of {sub.file}"
    for sub, _ in specs:
        for alias in sub.aliases:
            loc = getattr(alias, "loc", sub.loc)
            if alias in owners:
                issues.add(error(loc, DUPLICATE_NAME, f"alias '{alias}' of {sub.name} is already "
                                 f"{owners[alias]} in the generated file"))
            else:
                owners[alias] = f"alias '{alias}' of {sub.name} ({sub.file})"
    for sub, _ in specs:
        for name, loc, what in _local_names(sub):
            if name in owners:
                issues.add(
                    error(
                        loc,
                        DUPLICATE_NAME,
                        f"{what} '{name}' of {sub.name} has the name of "
                        f"{owners[name]}, which the generated code would hide",
                        "rename one of them",
                    )
                )
    issues.raise_if_any()


def _spec_files(spec: Spec) -> list[tuple[Spec, Loc]]:
    """`spec` and its sub-specs at any depth, each file once, in the order they are
    first used, each with where it is first used (the spec itself: where it is named)."""
    found: dict[Path, tuple[Spec, Loc]] = {}
    todo = [(spec, spec.loc)]
    while todo:
        sub, loc = todo.pop()
        if sub.path in found:
            continue
        found[sub.path] = (sub, loc)
        uses = [(use.spec, getattr(use.ref, "loc", node.loc))  # the `use:` text's place
                for node in sub.nodes.values() for use in _uses(node.form)]
        todo.extend(reversed(uses))
    return list(found.values())


def _uses(form: NodeForm) -> Iterator[SubSpec]:
    """The `use:` calls of a node form, in the order the spec writes them."""
    match form:
        case SubSpec():
            yield form
        case Seq(items):
            yield from (i.form for i in items if isinstance(i.form, SubSpec))
        case Repeat(body=body) | Map(body=body) | Stack(body=body):
            yield from _uses(body)
        case Cases(cases):
            for case in cases:
                yield from _uses(case.form)
        case LayerOp() | FunctionOp() | LayerCall() | TensorDecl():
            pass
        case _:
            assert_never(form)


def _local_names(spec: Spec) -> Iterator[tuple[str, Loc, str]]:
    """(name, loc, what) of every name a spec gives to a local of the generated methods."""
    for p in spec.params.values():
        yield p.name, p.loc, "param"
    for let in spec.lets.values():
        yield let.name, let.loc, "let"
    for inp in spec.inputs.values():
        yield inp.name, inp.loc, "input"
        for item in inp.items or ():
            yield item.name, item.loc, "list item"
        for shape in [inp.shape or [], *(i.shape or [] for i in inp.items or ())]:
            for name, loc in dim_names(shape):
                yield name, loc, "dim"
    for node in spec.nodes.values():
        yield node.name, node.loc, "node"
        for body in [node, *cases_of(node)]:
            for out in body.out or ():
                yield out, body.loc, "output"
            if isinstance(body.form, Repeat) and body.form.var:
                yield body.form.var, body.loc, "loop variable"
            called = body.form.body if isinstance(body.form, Repeat | Map) else body.form
            for layer in called.items if isinstance(called, Seq) else ():
                if layer.each is not None and layer.each.var:
                    yield layer.each.var, layer.loc, "loop variable"
            index = body.form.options.get("index") if isinstance(body.form, TensorDecl) else None
            for ix in index if isinstance(index, tuple) else ():  # init: formula's locals
                yield ix.text, ix.loc, "index"


def _show(text: str) -> str:
    """A name as it may be printed in one diagnostic line."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 40 else shown[:37] + "..."
