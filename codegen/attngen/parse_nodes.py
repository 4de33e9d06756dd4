"""The `graph:` section of a spec: nodes, each with its form (model.NodeForm: op, use,
seq, apply or cases, wrapped by `each:` or `map:`; `param:` and `buffer:` are
parse_tensors'; `body:` a graph of its own, repeated by `each:`), the layers of a `seq:`
and callee arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from . import ops
from .errors import (
    BAD_ARGUMENTS,
    BAD_VALUE,
    MISSING_KEY,
    UNKNOWN_KEY,
    UNKNOWN_NAME,
    Collector,
    Loc,
    SpecError,
    error,
)
from .expr import Expr, is_range, parse
from .fields import KEY_SYNONYMS, check_keys, expect, shape_of, text_of
from .graph import check_optional_reads, node_refs
from .model import (
    NO_COPIES,
    Callee,
    Cases,
    Input,
    Item,
    LayerCall,
    LayerOp,
    Loop,
    Map,
    Node,
    NodeForm,
    Output,
    Param,
    Ref,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    compute_lets,
    dim_names,
    why_not_unused,
)
from .names import check_identifier, check_node_name, check_template_keys, layer_template
from .parse_calls import (
    arg_expr,
    check_sized_call,
    each_loop,
    load_args,
    name_ref,
    name_refs,
    op_form,
    op_name,
    refuse_in_seq,
    zipped,
)
from .parse_tensors import load_tensor
from .yamlload import LBool, LList, LMap, LStr, loc_of

KINDS = ("op", "use", "seq", "apply", "cases", "param", "buffer", "body")
NODE_KEYS = ("op", "use", "seq", "apply", "each", "zip", "in", "shape", "when", "cases", "out",
             "map", "if_given", "doc", "args", "unused")
STACK_KEYS = ("body", "each", "in", "shape", "when", "doc")
ITEM_KEYS = ("op", "use", "args", "shape", "doc", "each", "when")


class SubSpecs(Protocol):
    """What parsing asks of the loader (loader.Loader): the sub-spec a `use:` names."""

    def load_child(self, ref: str, parent: Path, loc: Loc, stack: tuple) -> Spec: ...


def parse_graph(spec: Spec, raw, loc: Loc, loader: SubSpecs, stack: tuple) -> None:
    expect(raw, LMap, "'graph'", loc, "a mapping of node name: node")
    if not raw:
        raise error(loc, MISSING_KEY, "'graph' has no nodes")
    issues = Collector()
    for key, value in raw.items():
        try:
            name = check_identifier(key, key.loc, "node", attribute=True, builtin_ok=True,
                                    private_ok=True)
            node = _load_node(spec, name, key.loc, value, loader, stack)
            check_node_name(node, key.loc)
            spec.nodes[name] = node
        except SpecError as exc:
            issues.add(exc)
    issues.raise_if_any()


def _load_node(spec: Spec, name: str, loc: Loc, raw, loader: SubSpecs, stack: tuple,
               *, in_case: bool = False) -> Node:
    expect(raw, LMap, f"node '{name}'", loc, "a mapping with 'op' (or 'use', 'seq', 'cases')")
    doc = text_of(raw, "doc", f"node '{name}'")
    kinds = [k for k in KINDS if k in raw]
    if len(kinds) != 1 and set(kinds) != {"param", "buffer"}:  # both: load_tensor says so
        what = "none of" if not kinds else "more than one of"
        meant = [f"did you mean '{KEY_SYNONYMS[key]}' for '{key}'?" for key in raw
                 if not kinds and KEY_SYNONYMS.get(key) in KINDS]
        raise error(loc, MISSING_KEY if not kinds else BAD_VALUE, f"node '{name}' has {what} "
                    + ", ".join(f"'{k}'" for k in KINDS) + " (exactly one needed)",
                    "; ".join(meant))
    if "unused" in raw and (in_case or kinds[0] == "cases"):
        raise error(raw.key_locs["unused"], BAD_VALUE, f"'unused' keeps a layer that forward "
                    f"never calls; a {'case' if in_case else 'cases node'} chooses a "
                    f"computation, it keeps none", "declare the layer as a node of its own "
                    "(no 'in'), with 'when' if it exists only in some configurations, and "
                    "'unused: true'")
    if kinds[0] == "body":
        return _load_stack(spec, name, loc, raw, loader, stack, in_case)
    if kinds[0] in ("param", "buffer"):
        if in_case:
            raise error(raw.key_locs[kinds[0]], BAD_VALUE, f"a case of node '{name}' is a "
                        f"{kinds[0]}: cases choose a computation; a tensor the class owns is a "
                        "node of its own (with 'when' if it exists only in some configurations)")
        when = parse(raw["when"], loc_of(raw["when"], raw.key_locs["when"])) if "when" in raw \
            else None
        return _unused_checked(Node(name, loc, load_tensor(spec, name, raw, kinds[0]),
                                    when=when, doc=doc), raw)
    inputs = name_refs(raw["in"], raw.key_locs["in"], f"'in' of node '{name}'") if "in" in raw \
        else []
    when = parse(raw["when"], loc_of(raw["when"], raw.key_locs["when"])) if "when" in raw \
        else None
    if_given = name_ref(raw["if_given"], raw.key_locs["if_given"], "'if_given'") \
        if "if_given" in raw else None
    mapped = "map" in raw and bool(expect(raw["map"], int, f"'map' of node '{name}'", loc,
                                          "true or false"))
    out = None
    if "out" in raw:
        outs = expect(raw["out"], LList, f"'out' of node '{name}'", loc, "a list of names")
        out = [check_identifier(o, loc_of(o, loc), "output") for o in outs]
        if len(out) < 2:
            raise error(outs.loc, BAD_VALUE, f"'out' of node '{name}' names at least two outputs")
    each = each_loop(raw["each"], raw.key_locs["each"], f"node '{name}'") if "each" in raw \
        else None
    if each is not None and mapped:
        raise error(raw.key_locs["map"], BAD_VALUE, f"node '{name}' has both 'each' and 'map' "
                    "(one layer per item of a list, or one call per tensor of its input: "
                    "choose one)")
    if "zip" in raw:
        inputs = zipped(raw, name, each is not None)
    shape: list | None = None  # list[Expr], or list[list[Expr]] with `out`
    shape_loc = None
    if "shape" in raw:
        shape_loc = raw.key_locs["shape"]
        if out:
            shapes = expect(raw["shape"], LList, f"'shape' of node '{name}'", loc,
                             "a list of shapes, one per output")
            shape = [
                shape_of(s, shapes.loc, f"shape of '{o}'")
                for s, o in zip(shapes, out, strict=False)
            ]
            if len(shapes) != len(out):
                raise error(shapes.loc, BAD_VALUE, f"node '{name}' has {len(out)} outputs "
                            f"but {len(shapes)} shapes")
        else:
            shape = shape_of(raw["shape"], raw.key_locs["shape"], f"shape of node '{name}'")

    form: NodeForm
    if kinds[0] == "cases":  # a `cases` node refuses `each` and `map` (_load_cases)
        form = _load_cases(spec, name, loc, raw, loader, stack, in_case)
    else:
        form = _load_callee(spec, name, loc, raw, kinds[0], loader, stack)
        if isinstance(form, SubSpec) and form.spec.int_inputs:
            check_sized_call(name, loc, form, bool(inputs) and each is None and not mapped)
        if each is not None:
            form = Repeat(each.var, each.iterable, form, zipped="zip" in raw)
        elif mapped:
            form = Map(form)
    return _unused_checked(Node(name, loc, form, inputs=inputs, shape=shape,
                                shape_loc=shape_loc, when=when, out=out, if_given=if_given,
                                doc=doc), raw)


def _unused_checked(node: Node, raw: LMap) -> Node:
    """The node with its `unused:` read: only a layer declaration (no `in`), a param or a
    buffer may be unused (check_reachable then keeps it). A sub-spec's param called
    `unused` takes the key instead."""
    form = node.form.body if isinstance(node.form, Repeat) else node.form
    if "unused" not in raw or (isinstance(form, SubSpec) and "unused" in form.spec.params):
        return node
    key = raw.key_locs["unused"]
    node.unused = bool(expect(raw["unused"], LBool, f"'unused' of node '{node.name}'", key,
                              "true or false"))
    problem = why_not_unused(node) if node.unused else None
    if problem is not None:
        raise error(key, BAD_VALUE, *problem)
    return node


def _load_cases(spec: Spec, name: str, loc: Loc, raw: LMap, loader: SubSpecs, stack: tuple,
                in_case: bool) -> Cases:
    if in_case:
        raise error(raw.key_locs["cases"], BAD_VALUE, "cases cannot be nested")
    allowed = ("cases", "shape", "doc", "out", "when")
    for key in raw:  # what a case says (its inputs, its op) said once for all of them
        if key not in allowed and key in NODE_KEYS:
            raise error(raw.key_locs[key], UNKNOWN_KEY, f"'{key}' of node '{name}' belongs "
                        "in each case: a 'cases' node has none of its own",
                        f"write it in every case: - {{when: ..., {key}: ...}}")
    check_keys(raw, allowed, f"node '{name}' (a 'cases' node)")
    cases = expect(raw["cases"], LList, f"'cases' of node '{name}'", loc, "a list of nodes")
    nodes = []
    for case in cases:
        case = expect(case, LMap, "a case", cases.loc, "a node mapping with 'when'")
        if "when" not in case:
            raise error(case.loc, MISSING_KEY, f"each case of node '{name}' needs 'when'")
        nodes.append(_load_node(spec, name, case.loc, case, loader, stack, in_case=True))
    if not nodes:
        raise error(cases.loc, BAD_VALUE, f"node '{name}' has no cases")
    return Cases(nodes)


def _load_callee(spec: Spec, name: str, loc: Loc, raw: LMap, kind: str, loader: SubSpecs,
                 stack: tuple) -> Callee:
    """What a node's `op`, `use`, `seq` or `apply` calls, with its arguments."""
    if kind == "apply":
        target = name_ref(raw["apply"], raw.key_locs["apply"], "'apply'")
        check_keys(raw, NODE_KEYS, f"node '{name}'")
        load_args(raw, f"node '{name}'", None, ())
        return LayerCall(target)
    if kind == "seq":
        items, named = _load_seq(spec, name, raw["seq"], loader, stack)
        check_keys(raw, NODE_KEYS, f"node '{name}'")
        load_args(raw, f"node '{name}'", None, ())
        return Seq(items, named)
    if kind == "op":
        op = ops.REGISTRY[op_name(raw["op"], loc)]
        names = tuple(a.name for a in op.args)
        what = f"node '{name}' (op {op.name})"
        check_keys(raw, NODE_KEYS + names, what)
        return op_form(op, load_args(raw, what, op, names))
    # the located text: namespace errors point at the `use:` (names.check_file_names)
    ref = expect(raw["use"], LStr, f"'use' of node '{name}'", loc, "a spec name")
    sub = loader.load_child(ref, _file(spec), ref.loc, stack)
    what = f"node '{name}' (use {ref})"
    check_keys(raw, NODE_KEYS + tuple(sub.params) + tuple(sub.int_inputs), what)
    sizes = {str(k): arg_expr(None, str(k), raw[k], raw.key_locs[k]) for k in raw
             if k in sub.int_inputs}
    return SubSpec(ref, sub, load_args(raw, what, None, tuple(sub.params)), sizes)


def _load_seq(spec: Spec, name: str, raw, loader: SubSpecs, stack: tuple):
    if isinstance(raw, LList):
        entries = [(str(i), v, loc_of(v, raw.loc)) for i, v in enumerate(raw)]
        named = False
    else:
        raw = expect(raw, LMap, f"'seq' of node '{name}'", loc_of(raw, spec.loc),
                "a list of layers or a mapping of name: layer")
        entries = [(str(k) if "{" in str(k) else
                    check_identifier(k, k.loc, "layer", attribute=True, private_ok=True), v, k.loc)
                   for k, v in raw.items()]
        named = True
    if not entries:
        raise error(raw.loc, BAD_VALUE, f"'seq' of node '{name}' is empty")
    items = []
    for key, value, loc in entries:
        value = expect(value, LMap, f"layer {key} of '{name}'", loc,
                       "a mapping with 'op' or 'use'")
        kinds = [k for k in ("op", "use") if k in value]
        if len(kinds) != 1:
            raise error(value.loc, MISSING_KEY,
                        f"layer {key} of '{name}' needs exactly one of 'op', 'use'")
        doc = text_of(value, "doc", f"layer {key}")
        form: LayerOp | SubSpec
        if "op" in value:
            op = ops.REGISTRY[op_name(value["op"], loc)]
            if not op.module:
                raise error(
                    value["op"].loc,
                    BAD_ARGUMENTS,
                    f"layer {key} of '{name}': '{op.name}' is a "
                    "tensor function, not a layer; nn.Sequential holds layers only",
                )
            names = tuple(a.name for a in op.args)
            check_keys(value, ITEM_KEYS + names, f"layer {key} of '{name}'")
            form = LayerOp(op.name, load_args(value, f"node '{key}' (op {op.name})", op, names))
        else:
            ref = expect(value["use"], LStr, f"'use' of layer {key}", loc, "a spec name")
            sub = loader.load_child(ref, _file(spec), ref.loc, stack)
            names = tuple(sub.params)
            check_keys(value, ITEM_KEYS + names, f"layer {key} of '{name}'")
            form = SubSpec(ref, sub, load_args(value, f"node '{key}' (use {ref})", None, names))
            refuse_in_seq(key, f"'{name}'", form, ref.loc)
        item = Item(key, loc, form, doc=doc)
        if "each" in value:
            item.each = each_loop(value["each"], value.key_locs["each"],
                                  f"layer {key} of '{name}'")
        if "when" in value:
            item.when = parse(value["when"], loc_of(value["when"], value.key_locs["when"]))
        if "shape" in value:
            item.shape = shape_of(value["shape"], value.key_locs["shape"], f"shape of layer {key}")
        if "{" in key:  # a key per copy (`fc1_{i}`), as add_module('fc1_%d' % i) makes them
            allowed = {*spec.params, *spec.lets,
                       *([item.each.var] if item.each and item.each.var else [])}
            item.key = tuple(parse(part, loc) if is_name else part
                             for part, is_name in layer_template(key, loc, allowed))
        items.append(item)
    if named:
        check_template_keys([(i.name, i.loc, bool(i.key)) for i in items])
    return items, named


# -- body: a graph repeated, each copy reading the one before ------------------------------
def _load_stack(spec: Spec, name: str, loc: Loc, raw: LMap, loader: SubSpecs, stack: tuple,
                in_case: bool) -> Node:
    """`each:` + `body:`: the body's nodes become an inline spec whose params are this
    spec's (passed by name) and the loop variable, whose inputs are the carried value
    (named as the node's `in`, shaped as its `shape`) and then the spec's tensors it reads
    (`_outer_reads`), and whose output is its last node."""
    where = f"node '{name}' (a loop body)"
    if in_case:
        raise error(raw.key_locs["body"], BAD_VALUE, f"a case of node '{name}' has a 'body': "
                    "a loop body is a node of its own (with 'when' if it exists only in some "
                    "configurations)")
    for key in raw:
        if key not in STACK_KEYS and key in NODE_KEYS:
            raise error(raw.key_locs[key], UNKNOWN_KEY, f"'{key}' of {where}: a node with "
                        "'body' takes " + ", ".join(f"'{k}'" for k in STACK_KEYS),
                        "the body's own nodes say what each copy does")
    check_keys(raw, STACK_KEYS, where)
    for wanted, need in (("each", "'each: i in range(depth)' (the number of copies)"),
                         ("in", "'in: x' (the tensor the first copy reads)"),
                         ("shape", "'shape: [...]' (the shape each copy reads and gives)")):
        if wanted not in raw:
            raise error(loc, MISSING_KEY, f"{where} needs {need}")
    inputs = name_refs(raw["in"], raw.key_locs["in"], f"'in' of node '{name}'")
    if len(inputs) != 1:
        raise error(raw.key_locs["in"], BAD_VALUE, f"{where} reads one tensor, got "
                    f"{len(inputs)}", "the body reads the value it carries from copy to copy")
    loop = each_loop(raw["each"], raw.key_locs["each"], f"node '{name}'")
    shape = shape_of(raw["shape"], raw.key_locs["shape"], f"shape of node '{name}'")
    _shape_in_terms_of(spec, name, shape, loop)
    when = parse(raw["when"], loc_of(raw["when"], raw.key_locs["when"])) if "when" in raw \
        else None
    body, reads = _body_spec(spec, name, raw, loop, inputs[0], shape, loader, stack)
    args = {p: parse(p, raw.key_locs["body"]) for p in body.params}
    form = Stack(loop.var, loop.iterable, SubSpec(name, body, args))
    return Node(name, loc, form, inputs=inputs + reads, shape=shape,
                shape_loc=raw.key_locs["shape"], when=when, doc=text_of(raw, "doc",
                                                                       f"node '{name}'"))


_TYPES = {int: "int", float: "float", bool: "bool", str: "str"}


def _shape_in_terms_of(spec: Spec, name: str, shape: list[Expr], loop: Loop) -> None:
    """A body's `shape:` names its dims as the spec's inputs do (and params and lets): the
    body's requirements are the spec's on those dims, and its hints name them, so that a
    hint's line pasted into the spec's `requires` holds there. It may read the loop
    variable of a `range(...)`: copy i reads the shape at i and gives the shape at the next
    number (`[B, dims[i], H, W]`, channels that change from copy to copy)."""
    known = {*spec.params, *spec.lets, *spec.input_dims()}
    if loop.var is not None and any(loop.var in d.names for d in shape):
        if not is_range(loop.iterable.tree):
            at = next(d.loc for d in shape if loop.var in d.names)
            raise error(at, BAD_VALUE, f"the shape of node '{name}' reads the loop variable "
                        f"'{loop.var}', which needs 'each: {loop.var} in range(...)': copy i "
                        "reads the shape at i and gives the shape at the next number",
                        f"loop over the positions: 'each: {loop.var} in range(len("
                        f"{loop.iterable.text}))', and read the items by position")
        known.add(loop.var)
    for dim, loc in dim_names(shape):
        if dim not in known:
            raise error(loc, UNKNOWN_NAME, f"dim '{dim}' of the shape of node '{name}' (a loop "
                        "body) is not a dim of the spec's inputs, a param or a let",
                        "write the shape each copy carries with the inputs' dims ("
                        + ", ".join(sorted(spec.input_dims())) + "), params and lets: the "
                        "body's hints name them, and the spec's `requires` can")


def _file(spec: Spec) -> Path:
    """The file a spec's text is in: a loop body's path names its caller's file and node
    (`_body_spec`), unique among specs; what it reads is read by that file (the build
    cache's dependencies)."""
    # the node name after the last `#` is an identifier: the file's own name may hold one
    return spec.path.with_name(spec.path.name.rpartition("#")[0]) if spec.inline else spec.path


def _first_item(spec: Spec, iterable: Expr) -> tuple[object, bool]:
    """The loop's first item at the params' defaults (examples where required), or 0; and
    whether the loop has no copies there."""
    values: dict[str, object] = {p.name: p.sample for p in spec.params.values()}
    try:
        compute_lets(spec.lets.values(), values)
        items = list(iterable.value(values))
    except (SpecError, TypeError, ValueError, ArithmeticError):  # the checker reports it
        return 0, False
    return (items[0], False) if items else (0, True)


_BODY_REFUSED = {"param": "a tensor the class owns is a node outside the body",
                 "buffer": "a tensor the class owns is a node outside the body",
                 "cases": "choose with a node outside the body, or 'when' on the whole node",
                 "body": "a loop body inside a loop body is not supported",
                 "when": "a layer present in some copies only would change the keys; put "
                         "'when' on the node that has the body"}


def _body_spec(spec: Spec, name: str, raw: LMap, loop: Loop, carried: Ref, shape: list[Expr],
               loader: SubSpecs, stack: tuple) -> tuple[Spec, list[Ref]]:
    at = raw.key_locs["body"]
    nodes = expect(raw["body"], LMap, f"'body' of node '{name}'", at,
                   "a mapping of node name: node, as 'graph' is")
    if not nodes:
        raise error(nodes.loc, MISSING_KEY, f"'body' of node '{name}' has no nodes")
    for node_name, node in nodes.items():
        for key, why in _BODY_REFUSED.items():
            if isinstance(node, LMap) and key in node:
                raise error(node.key_locs[key], BAD_VALUE, f"node '{node_name}' of the body of "
                            f"'{name}' has '{key}': {why}")
    body = Spec(name=spec.name + "".join(w[:1].upper() + w[1:] for w in name.split("_")),
                path=spec.path.with_name(f"{spec.path.name}#{name}"), file=spec.file, loc=at,
                inline=True, fuse=spec.fuse, params=dict(spec.params), lets=dict(spec.lets))
    if loop.var is not None:  # checked alone at the first item the defaults give
        first, none = _first_item(spec, loop.iterable)
        body.params[loop.var] = Param(loop.var, loop.iterable.loc, _TYPES.get(type(first),
                                      "int"), default=first,  # after the caller's: a default
                                      doc=NO_COPIES if none else "")
        body.loop_var = loop.var
    body.loop_over = loop.iterable  # its range's bound is taken at its default, as the caller's
    body.inputs[carried.name] = Input(carried.name, carried.loc, shape=shape)
    body.free_dims = tuple(spec.int_inputs)  # the caller's ints: its nodes may pass them on
    parse_graph(body, nodes, at, loader, stack)
    reads = _outer_reads(spec, body)
    plain = {d.text for inp in body.inputs.values() for d in inp.tensor_shape}
    body.free_dims = tuple(sorted({n for d in shape for n in d.names}
                                  & spec.input_dims() - plain | set(spec.int_inputs)))
    check_optional_reads(body)  # an optional input of the spec: read with `if_given`
    # the caller's requirements the body can read: on params, lets and the dims its inputs
    # (in the caller's names) bind, so that a line a hint inside the body asks for holds
    # there once pasted into the caller
    known = {*spec.params, *spec.lets, *body.input_dims()}
    body.requires = [r for r in spec.requires if set(r.names) <= known]
    last = list(body.nodes.values())[-1]
    if last.out or not last.inputs:
        raise error(last.loc, BAD_VALUE, f"the last node of the body of '{name}', "
                    f"'{last.name}', is its value: one tensor", "end the body with the node "
                    "whose value the next copy reads")
    body.outputs.append(Output(last.name, last.loc))
    return body, reads


def _outer_reads(spec: Spec, body: Spec) -> list[Ref]:
    """The caller's tensors the body reads besides the value it carries, each made an input
    of the body (read, never carried), in the order the body reads them; a name that is
    none of them is left to the body's graph check (E300)."""
    reads: list[Ref] = []
    for node in body.nodes.values():
        for ref in node_refs(node):
            if ref.name in body.nodes or ref.name in body.inputs:
                continue
            outer = _outer_tensor(spec, ref)
            if outer is not None:
                reads.append(ref)
                body.inputs[ref.name] = outer
    # optional inputs last, as a spec's are (the body passes None on where one is absent)
    reads.sort(key=lambda ref: body.inputs[ref.name].optional)
    for ref in [r for r in reads if body.inputs[r.name].optional]:
        body.inputs[ref.name] = body.inputs.pop(ref.name)
    return reads


def _outer_tensor(spec: Spec, ref: Ref) -> Input | None:
    """`ref` as an input of a loop body, where the caller knows its shape before its own
    check (the body is checked first): a required tensor input, a `param:` or `buffer:`,
    an earlier node with a `shape:` of one tensor or an `out:` name with its shape (taken
    as float); else None."""
    inp = spec.sources().get(ref.name)
    if inp is not None:
        return Input(ref.name, ref.loc, shape=inp.tensor_shape, dtype=inp.dtype,
                     optional=inp.optional)
    node = spec.nodes.get(ref.name)
    owner = next((n for n in spec.nodes.values() if ref.name in (n.out or ())), None)
    if node is None and owner is not None and owner.shape and owner.out:  # a split's part
        return Input(ref.name, ref.loc, shape=owner.shape[owner.out.index(ref.name)])
    if node is None:
        return None
    if isinstance(node.form, TensorDecl):  # its dtype is one of an input's words
        return Input(ref.name, ref.loc, shape=node.form.shape, dtype=node.form.dtype)
    if node.shape and not isinstance(node.shape[0], list):
        return Input(ref.name, ref.loc, shape=node.shape)
    return None
