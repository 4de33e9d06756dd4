"""Shape inference: one spec, one configuration, node by node in forward order.

Each node's shape comes from its op's rule (ops/ctx.py) or its sub-spec's own inference
and is unified with its `shape:` annotation, which may bind new dim names. Its dtype
family comes along (TensorType) from the op's dtype rule, which also says which input
dtypes the op takes; the op's arguments are checked against their declared types.
"""

from __future__ import annotations

from functools import partial

import sympy

from . import lint, ops
from .budget import NodeCount
from .call_args import check_formula, checked_args, init_options, pairs, sub_args
from .configs import Env, add_lets, call_key, check_names, config_text, structural_params
from .counts import node_params
from .describe import shape_rule
from .dims import dim_symbol, fmt_dim, fmt_shape, is_dim
from .errors import (
    BAD_ARGUMENTS,
    SHAPE_MISMATCH,
    SHAPE_RULE,
    UNKNOWN_REF,
    UNSTATED_DIVISIBILITY,
    Loc,
    SpecError,
    error,
)
from .expr import Expr
from .graph import forward_order, producers
from .loops import (
    after_last,
    binding,
    bounds,
    check_keys,
    items_of,
    list_hint,
    seq_layers,
    zip_tensors,
)
from .model import (
    DTYPE_FAMILIES,
    Callee,
    Cases,
    FunctionOp,
    LayerCall,
    LayerOp,
    Map,
    Node,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    is_declaration,
    owned_layer,
)
from .ops.base import number_family
from .ops.ctx import ShapeFail
from .prover import Prover
from .results import LAYER, Checked, NodeShapes, TensorType, dtype_of, typed_text, with_dtypes
from .shape_ctx import ProverCtx, check_requirements


def bound_text(where: str | tuple[object, str]) -> str:
    """Where a dim was bound (Inference.bound), as notes say it."""
    return where if isinstance(where, str) else f"{fmt_dim(where[0])} (from node '{where[1]}')"


class Inference:
    """Infers the shapes of one spec for one configuration and one environment."""

    def __init__(self, spec: Spec, env: Env, prover: Prover, config: dict, order: list[str],
                 record: Checked | None = None, count: NodeCount | None = None):
        self.spec, self.env, self.prover, self.config = spec, env, prover, config
        self.order, self.record = order, record
        self.count = count if count is not None else NodeCount()
        self.current: Node | None = None  # the node being inferred (where budgets report)
        self.ctx = ProverCtx(prover, spec.requires, env.val, spec.lets.values())
        self.prod = producers(spec)  # tensor name -> its input or node, computed once
        self.values: dict[str, object] = {}
        # dim name -> where bound: a text, or a `shape:`'s (value, node), read by bound_text
        self.bound: dict[str, str | tuple[object, str]] = {}

    # expressions
    def sym(self, expr: Expr, extra: dict | None = None):
        env = self.env.sym if not extra else {**self.env.sym, **extra}
        check_names(expr, env)
        return self.env.decided(expr.sympy(env))

    def concrete(self, expr: Expr, extra: dict | None = None):
        env = self.env.val if not extra else {**self.env.val, **extra}
        check_names(expr, env)
        return expr.value(env)

    def active(self, when: Expr | None) -> bool:
        return when is None or bool(self.concrete(when))

    # annotations
    def annotation(self, dims: list[Expr], extra: dict | None = None) -> list:
        out = []
        for d in dims:
            free = [n for n in d.names if n not in self.env.sym and n not in (extra or {})]
            if free and d.text == free[0]:
                out.append(("bind", d.text))
            else:
                out.append(("dim", self._dim_value(d, self.sym(d, extra))))
        return out

    @staticmethod
    def _dim_value(d: Expr, value):
        """A dim must be an integer (or symbolic integer), not None, a bool, a float or a list."""
        if isinstance(value, int) and not isinstance(value, bool):
            return sympy.Integer(value)
        if is_dim(value):
            return value
        raise error(d.loc, BAD_ARGUMENTS, f"dim '{d.text}' is not an integer ({value!r})")

    def unify(self, node_name: str, loc: Loc, inferred, dims: list[Expr], rule: str,
              extra: dict | None = None):
        """Check an inferred shape against an annotation; binds new dim names.

        Returns the shape in the annotation's own terms (proven equal), so later
        shapes and comments read like the spec rather than like sympy's canonical form.
        """
        annot = self.annotation(dims, extra)
        shown = "[" + ", ".join(d.text for d in dims) + "]"
        if len(annot) != len(inferred):
            raise error(
                loc,
                SHAPE_MISMATCH,
                f"node '{node_name}': shape {fmt_shape(inferred)} has "
                f"{len(inferred)} dims but the annotation {shown} has {len(annot)}"
                + config_text(self.config),
                f"rule: {rule}" if rule else "",
            )
        result = []
        for i, ((kind, value), actual) in enumerate(zip(annot, inferred, strict=False)):
            if kind == "bind":
                self.env.sym[value] = actual
                self.bound[value] = (actual, node_name)
                result.append(actual)
                continue
            result.append(value)
            ok, sample = self.prover.equal(value, actual)
            if not ok:
                notes = [f"rule: {rule}" if rule else "",
                         self.prover.counterexample(sample, actual, value)]
                hint = self.prover.hint(actual, value)
                bound = ", ".join(f"{k}={bound_text(v)}" for k, v in self.bound.items())
                notes += [hint, f"dims bound so far: {bound}" if bound else ""]
                raise error(dims[i].loc, UNSTATED_DIVISIBILITY if hint else SHAPE_MISMATCH,
                            f"node '{node_name}': shape {fmt_shape(inferred)} "
                            f"does not match annotation {shown} (dim {i}: {fmt_dim(actual)} vs "
                            f"{dims[i].text})" + config_text(self.config), *notes)
        return tuple(result)

    # inputs
    def bind_inputs(self, given: dict | None = None):
        # every plain dim name first, so a shape may read a dim that a later input names
        # (a list input ordered large-to-small: [B, C2, 4 * H, 4 * W], ..., [B, C0, H, W]),
        # after a loop body's dims of its caller's and the ints (a call passes both)
        for dim in [*self.spec.free_dims, *self.spec.int_inputs] if given is None else ():
            self.env.sym[dim], self.bound[dim] = dim_symbol(dim), f"int input '{dim}'" \
                if dim in self.spec.int_inputs else "the caller's inputs"
        for name, inp in self.spec.sources().items():
            if given is not None and name not in given:
                continue
            for i, d in enumerate(inp.tensor_shape):
                if not d.text.isidentifier() or d.text in self.env.sym:
                    continue
                if given is None:
                    self.env.sym[d.text] = dim_symbol(d.text)
                    self.bound[d.text] = f"input '{name}'"
                elif i < len(given[name]):
                    self.env.sym[d.text] = given[name][i]
        for name, inp in self.spec.sources().items():
            if given is not None and name not in given:
                self.values[name] = None  # optional input not passed
                continue
            dims: list = []
            for d in inp.tensor_shape:
                if d.text.isidentifier() and d.text not in self.env.sym:
                    if given is None:
                        self.env.sym[d.text] = dim_symbol(d.text)
                        self.bound[d.text] = f"input '{name}'"
                    else:
                        actual = given[name][len(dims)] if len(dims) < len(given[name]) else None
                        self.env.sym[d.text] = actual
                    dims.append(self.env.sym[d.text])
                else:
                    dims.append(self._dim_value(d, self.sym(d)))
            dtype = DTYPE_FAMILIES[inp.dtype]
            if given is not None:
                got = dtype_of(given[name])
                if got is not None and got != dtype:
                    raise ShapeFail(f"input '{name}' of {self.spec.name} takes {dtype} "
                                    f"tensors, got one of dtype family {got}", BAD_ARGUMENTS)
                if len(given[name]) != len(dims):
                    raise ShapeFail(f"input '{name}' of {self.spec.name} expects "
                                    f"{len(dims)} dims {fmt_shape(tuple(dims))}, got "
                                    f"{fmt_shape(given[name])}", SHAPE_RULE)
                for i, (want, got) in enumerate(zip(dims, given[name], strict=False)):
                    self.ctx.eq(got, want, f"dim {i} of the value passed as '{name}'",
                                f"{self.spec.name}'s input shape")
                self.values[name] = TensorType(given[name], dtype)
            else:
                value = self.values[name] = TensorType(dims, dtype)
                try:
                    self.ctx.sizes(value, f"input '{name}'")
                except ShapeFail as exc:
                    raise error(inp.loc, exc.code, str(exc) + config_text(self.config),
                                *exc.notes) from None
        for inp in self.spec.inputs.values():  # a list input read whole: its items' values
            if inp.items is not None and all(i.name in self.values for i in inp.items):
                self.values[inp.name] = [self.values[i.name] for i in inp.items]

    # nodes
    def run(self):
        """Every node in forward order; the first error raises (recovery.py goes on)."""
        for name in self.order:
            self.step(name)

    def step(self, name: str):
        """Infer one node (nothing if its `when` is false)."""
        node = self.spec.nodes[name]
        if not self.active(node.when):
            return
        if is_declaration(node):
            self.values[name] = LAYER  # owned here, called by `apply:` nodes
            if node.unused:
                self.check_kept(node)
            return
        if isinstance(node.form, Cases):
            chosen = [c for c in node.form.cases if self.active(c.when)]
            if len(chosen) != 1:
                count = "no case applies" if not chosen else f"{len(chosen)} cases apply"
                raise error(node.loc, BAD_ARGUMENTS, f"node '{name}': {count}, exactly "
                            "one must" + config_text(self.config))
            self.node(node, chosen[0], self.prod)
        else:
            self.node(node, node, self.prod)

    def fetch(self, ref, node: Node):
        owner = self.prod[ref.name]
        if owner not in self.values:
            raise error(
                ref.loc,
                UNKNOWN_REF,
                f"node '{node.name}' uses '{ref.name}', which does not "
                "exist" + config_text(self.config),
            )
        value = self.values[owner]
        if value is LAYER:
            raise error(ref.loc, BAD_ARGUMENTS, f"node '{node.name}' reads '{ref.name}', a layer "
                        "declared without 'in:' (not a tensor)",
                        f"call the layer with: {{apply: {ref.name}, in: ...}}")
        if isinstance(value, dict):
            if ref.name not in value:  # the node's own name, not one of its outputs
                raise error(
                    ref.loc,
                    BAD_ARGUMENTS,
                    f"node '{node.name}' reads '{ref.name}', a node with "
                    f"several outputs: read one of {', '.join(value)}",
                )
            return value[ref.name]
        return value

    def node(self, node: Node, body: Node, prod):
        self.current = node
        self.count.add(1)
        ins = [self.fetch(r, node) for r in body.inputs]
        if body.if_given is not None:
            given = self.fetch(body.if_given, node)
            if given is None:  # optional input absent: the node passes its first input on
                self.values[node.name] = ins[0]
                return
        self.ctx.hold_bounds()  # of output sizes: judged after the annotation (E400 first)
        try:
            out = self.compute(node, body, ins)
        except (TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError,
                OverflowError) as exc:  # an op rule fed values of the wrong kind
            wrong = ShapeFail(f"arguments of the wrong kind for its op ({type(exc).__name__}: "
                              f"{exc})", BAD_ARGUMENTS)
            raise self.located(node, body, [], wrong) from None
        except ShapeFail as exc:
            raise self.located(node, body, ins, exc) from None
        if body.if_given is not None:
            try:
                if isinstance(out, list) or len(out) != len(ins[0]):
                    self.ctx.fail(f"{fmt_shape(out) if not isinstance(out, list) else 'a list'} "
                                  f"with it, {fmt_shape(ins[0])} without it")
                for i, (a, b) in enumerate(zip(out, ins[0], strict=False)):
                    self.ctx.eq(a, b, f"dim {i} with '{body.if_given.name}'", "without it")
            except ShapeFail as exc:
                raise error(
                    body.loc,
                    SHAPE_RULE,
                    f"node '{node.name}': the shape must not depend on "
                    f"whether '{body.if_given.name}' is given: {exc}",
                ) from None
        annotation = node.shape if node.shape is not None else body.shape
        if annotation is not None:
            out = with_dtypes(self.check_annotation(node, body, out, annotation), out)
        try:  # bounds that need only `requires` lines come back: the shape stands
            unstated = self.ctx.judge_bounds()
        except ShapeFail as exc:
            raise self.located(node, body, ins, exc) from None
        if body.out:
            if not isinstance(out, list) or len(out) != len(body.out):
                raise error(body.loc, BAD_ARGUMENTS, f"node '{node.name}' names "
                            f"{len(body.out)} outputs but produces "
                            f"{len(out) if isinstance(out, list) else 1}")
            out = dict(zip(body.out, out, strict=False))
        elif isinstance(out, list) and not self.is_list_node(body, ins):
            raise error(body.loc, BAD_ARGUMENTS, f"node '{node.name}' produces {len(out)} "
                        "outputs: name them with out: [a, b, ...]")
        self.values[node.name] = out
        if unstated is not None:  # after the value: recovery.py checks the nodes after it
            raise self.located(node, body, ins, unstated)
        if self.record is not None:
            self.record.note(node, body, NodeShapes(ins, out, dict(self.config)))

    def located(self, node: Node, body: Node, ins, exc: ShapeFail) -> SpecError:
        """A ShapeFail of a node's op or call, located at the node, with its inputs and rule."""
        rule, shown = shape_rule(body), ", ".join(typed_text(s) for s in ins)
        notes = [*exc.notes, f"inputs: {shown}" if ins else "", f"rule: {rule}" if rule else ""]
        return error(body.loc, exc.code, f"node '{node.name}': {exc}" + config_text(self.config),
                     *notes)

    def is_list_node(self, body: Node, ins) -> bool:
        """A node whose value is a list: `each`, `map`, or an op of several outputs (`split`,
        `chunk`) without `out:`."""
        return isinstance(body.form, Repeat | Map) or (
            isinstance(body.form, FunctionOp) and ops.REGISTRY[body.form.op].multi_output)

    def check_annotation(self, node: Node, body: Node, out, annotation):
        rule = shape_rule(body)
        loc = node.shape_loc or body.loc
        if body.out:
            return [self.unify(name, loc, shape, dims, rule)
                    for name, dims, shape in zip(body.out, annotation, out, strict=False)]
        if isinstance(out, list):
            each = body.form if isinstance(body.form, Repeat) else None
            items = self.each_items(each) if each is not None else [None] * len(out)
            return [self.unify(node.name, loc, shape, annotation, rule,
                               binding(each.var, item) if each is not None else None)
                    for item, shape in zip(items, out, strict=False)]
        stack = body.form if isinstance(body.form, Stack) else None
        return self.unify(node.name, loc, out, annotation, rule,
                          binding(stack.var, self.after(body)) if stack is not None else None)

    def each_items(self, each: Repeat | Stack, extra: dict | None = None) -> list:
        return items_of(self.concrete(each.iterable, extra), each.iterable)

    def after(self, node: Node) -> object:
        """A loop body's variable after its last copy (loops.after_last)."""
        assert isinstance(node.form, Stack)
        return after_last(node, len(self.each_items(node.form)), self.concrete)

    def compute(self, node: Node, body: Node, ins):
        match body.form:
            case Repeat() as each:
                items = self.each_items(each)
                if each.zipped:  # copy i reads the i-th tensor of the list
                    ins = zip_tensors(node, body, ins[0], len(items), config_text(self.config))
                    return [self.call(each.body, [x], binding(each.var, item), body)
                            for item, x in zip(items, ins, strict=True)]
                called = each.body
                takes_list = isinstance(called, LayerOp | FunctionOp) \
                    and ops.REGISTRY[called.op].list_input and len(ins) == 1
                hint = None if takes_list else \
                    list_hint(node, ins, [r.name for r in body.inputs])
                if hint is not None:
                    raise ShapeFail("every copy of an 'each' node reads its whole input, and "
                                    "this one is a list of tensors", BAD_ARGUMENTS, (hint,))
                return [self.call(each.body, ins, binding(each.var, item), body)
                        for item in items]
            case Stack(var, _, called) as stack:  # each copy reads the one before
                value = ins[0]
                if isinstance(value, list):
                    raise ShapeFail(f"the body of '{node.name}' reads one tensor, and "
                                    f"'{body.inputs[0].name}' is a list of them", BAD_ARGUMENTS)
                items, rule = self.each_items(stack), shape_rule(body)
                end = self.after(node)  # None where the shape reads no loop variable
                for k, item in enumerate(items):
                    value = self.call(called, [value, *ins[1:]], binding(var, item), body)
                    if node.shape:  # what the next copy reads (the parser requires it)
                        after = items[k + 1] if k + 1 < len(items) else end
                        if end is not None:
                            rule = (f"copy {var} = {item} gives what the next copy reads: the "
                                    f"'shape' at {var} = {after}")
                        value = with_dtypes(self.unify(node.name, node.shape_loc or node.loc,
                                                       value, node.shape, rule,
                                                       binding(var, after)), value)
                return value
            case Map(called):
                if len(ins) != 1 or not isinstance(ins[0], list):
                    raise ShapeFail(
                        "'map: true' needs exactly one list-valued input", BAD_ARGUMENTS
                    )
                return [self.call(called, [x], {}, body) for x in ins[0]]
            case LayerOp() | FunctionOp() | Seq() | SubSpec() | LayerCall():
                return self.call(body.form, ins, {}, body)
            case TensorDecl(kind, shape, dtype=dtype):  # made in __init__ from params and lets
                init_options(body.form, self.concrete, node, self.config)
                check_formula(body.form, self.concrete, node, self.config)
                out = TensorType([self._dim_value(d, self.sym(d)) for d in shape],
                                 DTYPE_FAMILIES[dtype])
                self.ctx.sizes(out, f"{kind} '{node.name}'")
                window = body.form.options.get("window", ())
                if isinstance(window, tuple) and window:  # init: relative_position
                    pairs(self.ctx, node.name, out, window,
                          [self._dim_value(w, self.sym(w)) for w in window])
                return out
            case Cases():
                raise AssertionError("a case is chosen before a node is computed (run)")
            case _:
                assert_never(body.form)

    def call(self, form: Callee, ins, extra: dict, owner: Node):
        """One call's output shape; `owner`: the node it belongs to (`apply:`: the declarer)."""
        match form:
            case LayerCall(target):
                layer = self.spec.nodes.get(target.name)
                owned = None if layer is None or isinstance(layer.form, Repeat) \
                    else owned_layer(layer.form)
                if layer is None or owned is None:
                    raise ShapeFail(f"'apply: {target.name}' must name a layer node "
                                    "(op layer, seq or use) of this spec", BAD_ARGUMENTS)
                if layer.name not in self.values:
                    raise ShapeFail(f"'apply: {target.name}' names a layer that does not "
                                    "exist in this configuration", UNKNOWN_REF)
                if isinstance(owned, SubSpec) and owned.spec.int_inputs:
                    raise ShapeFail(f"'apply: {target.name}' calls {owned.spec.name}, whose for"
                                    "ward takes ints: only the `use:` node's own call passes "
                                    "them (a second `use:` has weights of its own)", BAD_ARGUMENTS)
                return self.call(owned, ins, extra, layer)
            case Seq(items, named):
                self.check_arity("a layer sequence", ins, 1, 1)
                shape = ins[0]
                if named:
                    check_keys(items, extra, self.concrete)
                for item, names in seq_layers(items, extra, self.concrete):
                    if isinstance(item.form, SubSpec) and shape is not ins[0]:
                        self.ctx.judge_bounds_so_far()  # a stem's H >= p, before the module
                    shape = self.call_one(item.form, [shape], names, owner)
                    if item.shape is not None:
                        rule = f"{item.form.op}: {ops.REGISTRY[item.form.op].rule}" \
                            if isinstance(item.form, LayerOp) else ""
                        shape = with_dtypes(self.unify(f"{owner.name}.{item.name}", item.loc,
                                                        shape, item.shape, rule, names), shape)
                return shape
            case LayerOp() | FunctionOp() | SubSpec():
                return self.call_one(form, ins, extra, owner)
            case _:
                assert_never(form)

    def check_arity(self, what: str, ins, lo: int, hi: int):
        n = len(ins)
        if n < lo or (hi != -1 and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi != -1 else f"at least {lo}"
            raise ShapeFail(f"{what} takes {want} input(s), got {n}", BAD_ARGUMENTS)
        for i, s in enumerate(ins):
            if isinstance(s, list) and what in ops.REGISTRY and ops.REGISTRY[what].list_input:
                raise ShapeFail(f"input {i} is a list of tensors beside other inputs: {what} "
                                "takes tensors, or one list alone", BAD_ARGUMENTS, (
                                    f"{what} the list first (a node `{{op: {what}, in: LIST}}`"
                                    "), then that node with the others",))
            if isinstance(s, list):
                takers = ", ".join(n for n, o in ops.REGISTRY.items() if o.list_input)
                raise ShapeFail(f"input {i} is a list of tensors; use an op that takes a list "
                                f"({takers}) or 'map: true'", BAD_ARGUMENTS)

    def call_one(self, call: LayerOp | FunctionOp | SubSpec, ins, extra: dict, owner: Node):
        """The output shape of one op or `use:` call; `owner` is the node it belongs to."""
        if isinstance(call, SubSpec):
            return self.call_spec(call, ins, extra, owner)
        op = ops.REGISTRY[call.op]
        if op.list_input and len(ins) == 1 and isinstance(ins[0], list):
            ins = ins[0]
            if not ins:
                raise ShapeFail("empty list", BAD_ARGUMENTS)
        self.check_arity(f"{op.name}", ins, *op.arity)
        args = checked_args(call, partial(self.sym, extra=extra), self.ctx, self.config,
                            owner)
        families = [dtype_of(s) for s in ins]
        for i, family in enumerate(families):
            allowed = op.dtype.allowed(i)
            if family is not None and family not in allowed:
                raise ShapeFail(f"{op.name} takes {' or '.join(allowed)} tensors as input {i}, "
                                f"not {family} ones", BAD_ARGUMENTS,
                                (f"dtype rule: {op.dtype.text}",))
        try:
            out = op.shape(self.ctx, list(ins), args)
        except ShapeFail as exc:  # about a column of an argument's text: located there
            if exc.at is None or exc.at[0] not in call.args:
                raise
            shown = ", ".join(typed_text(s) for s in ins)
            raise error(call.args[exc.at[0]].loc.shifted(exc.at[1]), exc.code,
                        f"node '{owner.name}': {exc}" + config_text(self.config),
                        *exc.notes, f"inputs: {shown}", f"rule: {op.rule}") from None
        for shape in out if isinstance(out, list) else [out]:
            bad = next((d for d in shape if not is_dim(d)), None) if isinstance(shape, tuple) \
                else None
            if bad is not None:  # e.g. Linear(cin, [1, 2]): an argument is no integer
                raise ShapeFail(f"{op.name} gives a dim {bad} that is not an integer: check "
                                "its arguments (" + ", ".join(
                                    f"{k}={v}" for k, v in args.items()) + ")", BAD_ARGUMENTS)
            if isinstance(shape, tuple):
                self.ctx.sizes(shape, f"{op.name}'s output", held=True)
        if self.record is not None:  # the spec's own check, not a `use:` call's
            lint.op_call(self.record, self.prover, call, owner, list(ins), out)
        numbers = [number_family(args[n])  # `x + 1.0`: promotes
                   for n in op.operands if n in call.args]
        dtype = op.dtype.result([f for f in families if f is not None] + numbers, args)
        if isinstance(out, list):
            if op.dtype.outputs and len(out) != len(op.dtype.outputs):  # an op's own bug
                raise ShapeFail(f"{op.name} gives {len(out)} outputs but declares the dtypes "
                                f"of {len(op.dtype.outputs)}", BAD_ARGUMENTS)
            return [TensorType(shape, family) for shape, family in
                    zip(out, op.dtype.of_outputs(dtype, len(out)), strict=True)]
        return TensorType(out, dtype)

    def check_kept(self, node: Node) -> None:
        """A layer declared `unused: true` (an `op:` layer or a `seq:` of them): no call runs
        its shape rule, so its arguments are checked here, and its parameter count, which
        a weight of a size below zero makes negative (E402), at this configuration."""
        form = node.form
        calls = [(form, {})] if isinstance(form, LayerOp) else \
            [(item.form, names) for item, names in seq_layers(form.items, {}, self.concrete)] \
            if isinstance(form, Seq) else []
        for call, names in calls:
            if isinstance(call, LayerOp):
                try:
                    checked_args(call, partial(self.sym, extra=names), self.ctx,
                                 self.config, node)
                except ShapeFail as exc:
                    raise self.located(node, node, [], exc) from None
        node_params(node, {**self.env.val, **self.config})

    def call_spec(self, call: SubSpec, ins, extra: dict, owner: Node):
        sub = call.spec
        config, env = {}, Env()
        values = sub_args(call, partial(self.concrete, extra=extra), owner, self.config)
        for p in sub.params.values():
            if p.name in call.args:
                env.val[p.name] = value = values[p.name]
                env.sym[p.name] = value if p.name in bounds(sub) \
                    else self.sym(call.args[p.name], extra)
            else:
                env.sym[p.name] = env.val[p.name] = p.default
            if p.name in structural_params(sub):
                config[p.name] = env.val[p.name]
        env.sym.update({d: self.env.sym[d] for d in sub.free_dims})  # a loop body's: H
        env.sym.update({d: self.sym(e, extra) for d, e in call.sizes.items()})  # forward's ints
        for d in call.sizes:  # sizes there: the caller's values must be too
            self.ctx.at_least(env.sym[d], 1, f"{sub.name}'s int input {d}")
        # The outputs are a function of the sub-spec, its arguments and its input shapes, and
        # a spec often calls one sub-spec alike several times (ASFF's three weight_level
        # convs): infer each distinct call once per configuration.
        key = call_key(sub, env, ins)
        if key is not None and key in self.prover.cache:
            outs, nodes = self.prover.cache[key]
            self.count.add(nodes)
            return list(outs) if isinstance(outs, list) else outs
        before = self.count.used
        add_lets(sub, env)
        names = list(sub.sources())
        required = [n for n in names if not sub.sources()[n].optional]
        if not len(required) <= len(ins) <= len(names):
            raise ShapeFail(f"{sub.name} takes {len(required)} to {len(names)} inputs "
                            f"({', '.join(names)}), got {len(ins)}", BAD_ARGUMENTS)
        inner = Inference(sub, env, self.prover, config, forward_order(sub), count=self.count)
        inner.ctx = self.ctx  # a bound's sizes are the caller's: its `requires` says which
        inner.bind_inputs(dict(zip(names, ins, strict=False)))
        check_requirements(self.prover, sub, env.sym, self.ctx)  # E404 at the `use:` node
        try:
            inner.run()
        except SpecError as exc:  # located in the sub-spec: say which call reached it
            given = ", ".join(f"{k}={values[k]!r}" for k in call.args if k in values)
            raise exc.noted_outside(owner.loc.file, f"in {sub.name}, used by node "
                                    f"'{owner.name}' at {owner.loc}" + (given and " with " + given)
                                    ) from None
        outs = []
        for o in sub.outputs:
            if inner.active(o.when):
                value = inner.values[inner.prod[o.name]]
                outs.append(value[o.name] if isinstance(value, dict) else value)
        outs = outs[0] if len(outs) == 1 else outs
        if key is not None:  # with the nodes it expands to, counted again at every call
            self.prover.cache[key] = (list(outs) if isinstance(outs, list) else outs,
                                      self.count.used - before)
        return outs

