"""Checked spec -> Python source, rendered from templates/*.j2.

The emitter decides what each line says, one logical line per statement; layout.py
wraps the lines that do not fit in WIDTH columns; the templates decide the file's layout.
Spec names become attribute and variable names; constructor parameters, forward inputs and
results carry type hints (hints.py). A forward line that changes a shape is preceded by a
comment with the shapes (shape_comments.py); with `spec_refs` every forward line also
names the spec line it comes from. Output is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from . import fusion, ops
from .accumulate import accumulated, shapes
from .comparisons import constant_last, is_negation, negated
from .configs import structural_params
from .docstring import class_docstring
from .emit_calls import call, call_args, needs_parens, render_args, render_call
from .emit_names import Namer, shape_unpacks, src, unpack_target
from .emit_stack import stack_forward, stack_init
from .emit_tensors import tensor_lines
from .errors import BAD_ARGUMENTS, InternalError, error
from .expr import Expr, is_range
from .fields import entries as expr_entries
from .graph import node_refs, param_attribute
from .hints import FACTORY_HINTS, def_line, input_hint, param_hint, return_hint
from .init_rules import init_rules
from .layout import laid_out
from .lifetimes import value_names, with_dels
from .model import (
    Cases,
    FunctionOp,
    Input,
    LayerCall,
    LayerOp,
    Map,
    Node,
    NodeForm,
    Repeat,
    Seq,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    is_declaration,
    owned_layer,
    tensor_decl,
)
from .names import FACTORY_PARAMS, FACTORY_VAR, ITEM_VAR, LAYER_VAR, LOOP_LAYER_SUFFIX
from .pytext import (
    comment_text,
    doc_text,
    header,
    literal,
    py_string,
    py_value,
    uses_log2,
)
from .results import Checked
from .seq_entries import operand, seq_entry
from .shape_comments import forward_comment, holds_list
from .shown_lets import lets_shown
from .strides import VIEW, reshaped_views
from .templating import env as _env


# -- classes ---------------------------------------------------------------------------
@dataclass
class ClassCode:
    name: str
    doc: str
    init_def: str  # `def __init__(...):`, laid out (lines relative to the class body)
    forward_def: str
    init_lines: list[str] = field(default_factory=list)
    forward_lines: list[str] = field(default_factory=list)
    init_rules: list[dict] = field(default_factory=list)


class ClassEmitter:
    def __init__(self, checked: Checked, helpers: dict, *, spec_refs: bool = False,
                 fuse: bool = True, carried: str | None = None,
                 outer: Callable[[str], str] | None = None):
        self.checked, self.spec, self.helpers = checked, checked.spec, helpers
        self.fuse = fuse
        self.fusions = fusion.find(checked) if fuse else {}  # by the node given the call
        # a loop body's emitter (emit_stack): the name its caller's loop carries, which is
        # the body's input and its last node; its layers are the loop's locals, its other
        # inputs the caller's tensors, read as `outer` (the caller's read) reads them
        self.carried, self.outer = carried, outer
        self.ends = {next(iter(self.spec.inputs)), self.spec.outputs[0].name} \
            if carried is not None else set()
        self.spec_refs = spec_refs  # a spec reference in a comment over every forward line
        self.uses_functional = False
        self.uses_factory = False  # __init__ reads FACTORY_VAR
        self.reshaped = reshaped_views(checked)  # `view` nodes written as reshape
        self.unpacks = shape_unpacks(self.spec, checked.order)

    def for_body(self, body: Checked, carried: str) -> ClassEmitter:
        """The emitter of a loop body this class runs, carrying the value `carried`; the
        body's other inputs are this class's tensors, read as it reads them."""
        return ClassEmitter(body, self.helpers, spec_refs=self.spec_refs, fuse=self.fuse,
                            carried=carried, outer=self.read)

    def layer_ref(self, name: str) -> str:
        """How forward calls the layer a node owns: `self.NAME`; in a loop body, the local
        the loop unpacks (`NAME_layer`)."""
        return f"self.{name}" if self.carried is None else f"{name}{LOOP_LAYER_SUFFIX}"

    # factory kwargs ------------------------------------------------------------
    # Every generated constructor takes torch.nn's factory kwargs (`*, device=None,
    # dtype=None`: FACTORY_HINTS) and gathers them once (`factory_lines`); whatever __init__
    # creates with parameters or buffers takes them through `factory_kwargs()`, the one place
    # that writes them: a layer whose op declares `factory`, a sub-spec's class (every
    # generated class takes them), a tensor made in __init__.
    def factory_kwargs(self) -> str:
        """The argument that passes the module's device and dtype on, as a call writes it."""
        self.uses_factory = True
        return f"**{FACTORY_VAR}"

    def factory_lines(self) -> list[str]:
        """The first lines of __init__: the factory kwargs in one dict, where something
        takes them."""
        if not self.uses_factory:
            return []
        items = ", ".join(f"{py_string(name)}: {name}" for name in FACTORY_PARAMS)
        return [f"{FACTORY_VAR} = {{{items}}}"]

    # layers ------------------------------------------------------------------
    def layer(self, layer: LayerOp | SubSpec, namer: Namer) -> str:
        """Constructor source of one layer: an op's module or a sub-spec's class."""
        if isinstance(layer, SubSpec):
            sub = layer.spec
            spec_args = [(p.name, p.required) for p in sub.params.values()]
            return call(sub.name, [*render_args(spec_args, layer.args, namer),
                                   self.factory_kwargs()])
        op = ops.REGISTRY[layer.op]
        self._note_exprs(layer.args.values())
        args = render_args([(a.name, a.required) for a in op.args], layer.args, namer)
        return call(op.torch, [*args, self.factory_kwargs()] if op.factory else args)

    def node_layer(self, form: NodeForm, namer: Namer) -> str | None:
        """The attribute a node owns (one copy of it for `each`), or None (tensor functions,
        apply)."""
        layer = owned_layer(form)
        match layer:
            case None:
                return None
            case LayerOp() | SubSpec():
                return self.layer(layer, namer)
            case Seq(items, named):
                head = "_sequential" if named else "nn.Sequential"
                self.helpers["sequential"] |= named
                parts = [(f"{i.name}=" if named and not i.key else "")
                         + seq_entry(i, named, lambda f: self.layer(f, namer),
                                     lambda e: src(e, namer), namer.loop) for i in items]
                # more than one layer: one per line, as one writes them
                return call(head, parts, explode=len(items) > 1)
            case _:
                assert_never(layer)

    def _note_exprs(self, exprs) -> None:
        if any(uses_log2(e) for e in exprs):
            self.helpers["log2"] = True

    # __init__ ----------------------------------------------------------------
    def init_lines(self, forward_params: set[str]) -> list[str]:
        spec, lines = self.spec, []
        namer = Namer(spec, "init")
        for p in spec.params.values():
            if p.choices:  # a value outside `choices:` was never checked: refuse it
                shown = ", ".join(repr(c) for c in p.choices).replace("{", "{{").replace("}", "}}")
                message = py_string(f"{spec.name}: {p.name} must be one of {shown}, got ")
                values = ", ".join(py_value(c) for c in p.choices) + (
                    "," if len(p.choices) == 1 else ""
                )
                lines += [f"if {p.name} not in ({values}):",
                          f"    raise ValueError(f{message[:-1]}{{{p.name}!r}}\")"]
        # requirements on params first; those that read a let right after the lets
        late = [r for r in spec.requires if set(r.names) & set(spec.lets)]
        for req in spec.requires:
            if req not in late and not spec.on_input_dims(req):
                lines += self.require_lines(req, namer)
        for name in spec.params:
            if name in forward_params:
                lines.append(f"self.{param_attribute(spec, name)} = {name}")
        for let in spec.lets.values():
            self._note_exprs([let.expr])
            lines.append(f"self.{let.name} = {src(let.expr, namer)}")
        for req in late:
            if not spec.on_input_dims(req):  # those on input dims: checked in forward
                lines += self.require_lines(req, namer)
        for cond, group in self._grouped(list(spec.nodes.values())):
            body = []
            for node in group:
                body += self.init_node(node, namer)
            if not body:
                continue
            if cond:
                lines.append(f"if {src(cond, namer)}:")
                lines += ["    " + b for b in body]
            else:
                lines += body
        if spec.init:
            lines.append("self.init_weights()")
        return lines

    def require_lines(self, req: Expr, namer: Namer) -> list[str]:
        message = py_string(f"{self.spec.name}: requires {req.text}")
        waits = self.spec.optional_inputs_of(req)
        if not waits:
            return [f"if {negated(src(req, namer))}:", f"    raise ValueError({message})"]
        # a dim only an optional input has is read from it, once it is given
        shapes: dict[str, str] = {}
        required = self.spec.required_dims()
        for name in waits:
            inp = self.spec.inputs[name]
            tensors = [(f"{name}[{k}]", t) for k, t in enumerate(inp.items)] \
                if inp.items is not None else [(name, inp)]
            for read, tensor in tensors:
                for i, d in enumerate(tensor.tensor_shape):
                    if d.text in req.names and d.text not in required:
                        shapes.setdefault(d.text, f"{read}.shape[{i}]")
        text = constant_last(req.python(lambda n: shapes[n] if n in shapes else namer(n)))
        given = " and ".join(f"{name} is not None" for name in waits)
        return [f"if {given} and {negated(text)}:", f"    raise ValueError({message})"]

    def init_node(self, node: Node, namer: Namer) -> list[str]:
        match node.form:
            case Cases(cases):
                layers = [self.node_layer(case.form, namer) for case in cases]
                if len(set(layers)) == 1 and layers[0] is not None:  # same layer in every case
                    return [f"self.{node.name} = {layers[0]}"]
                owned = [(c, text) for c, text in zip(cases, layers, strict=True)
                         if text is not None]
                heads = self._case_heads([c for c, _ in owned], namer, len(owned) == len(layers))
                lines = []
                for head, (_, text) in zip(heads, owned, strict=True):
                    lines += [head, f"    self.{node.name} = {text}"]
                return lines
            case Stack():
                return stack_init(self, node, namer)
            case Repeat(name, iterable, _):
                var = name or "_"
                namer.loop.add(var)
                layer = self.node_layer(node.form, namer)
                namer.loop.discard(var)
                if layer is None:
                    return []
                comprehension = f"[{layer} for {var} in {src(iterable, namer)}]"
                return [f"self.{node.name} = nn.ModuleList({comprehension})"]
            case LayerOp() | FunctionOp() | Seq() | SubSpec() | LayerCall() | Map():
                layer = self.node_layer(node.form, namer)
                return [] if layer is None else [f"self.{node.name} = {layer}"]
            case TensorDecl() as decl:
                self._note_exprs(decl.shape)
                self.helpers["relative_position"] |= decl.init == "relative_position"
                return tensor_lines(node.name, decl, lambda dim: src(dim, namer),
                                    self.factory_kwargs)
            case _:
                assert_never(node.form)

    def _grouped(self, nodes: list[Node]):
        """Consecutive nodes with the same `when`, as (condition, nodes) pairs."""
        groups: list[tuple[Expr | None, list[Node]]] = []
        for node in nodes:
            if groups and groups[-1][0] == node.when:
                groups[-1][1].append(node)
            else:
                groups.append((node.when, [node]))
        return groups

    # forward -----------------------------------------------------------------
    def forward_lines(self, namer: Namer) -> list[str]:
        spec, lines = self.spec, []
        if spec.int_inputs and not spec.inline:  # sizes, as the checker took them
            ints = list(spec.int_inputs)
            message = py_string(f"{spec.name}: {', '.join(ints)} must be at least 1")
            lines += [f"if not ({' and '.join(f'{n} >= 1' for n in ints)}):",
                      f"    raise ValueError({message})"]
        for req in spec.requires:  # requirements on input sizes, before any work
            if spec.on_input_dims(req):
                lines += self.require_lines(req, namer)
        read = {r.name for n in spec.nodes.values() for r in node_refs(n)} | {
            o.name for o in spec.outputs}
        for inp in spec.inputs.values():  # unpacked where an item is read by name
            if inp.items is not None and read & {i.name for i in inp.items}:
                lines.append(f"{', '.join(i.name for i in inp.items)} = {inp.name}")
        lines += self.node_lines(namer)
        lines += self.return_lines(namer)
        return lines

    def node_lines(self, namer: Namer) -> list[str]:
        """The nodes' forward lines in forward order, a group of one `when` under its `if`
        (forward_lines; a loop body's, emit_stack)."""
        by_name, lines = self.spec.nodes, []
        groups = self._grouped([by_name[n] for n in self.checked.order
                                if not is_declaration(by_name[n])
                                and tensor_decl(by_name[n]) is None])  # made in __init__
        for cond, group in groups:
            body = []
            for node in group:
                body += self.fused_node(node, namer)
                body += [f"{unpack_target(names)} = {self.read(t)}.shape"  # dims it binds
                         for names, t in self.unpacks.get(node.name, ())]
            if cond:
                lines.append(f"if {src(cond, namer)}:")
                lines += ["    " + b for b in body]
            else:
                lines += body
        return lines

    def forward_node(self, node: Node, namer: Namer) -> list[str]:
        if isinstance(node.form, Cases):
            bodies = [self.forward_body(node, case, namer) for case in node.form.cases]
            if all(code == bodies[0][1] for _, code in bodies):  # e.g. the same layer call
                return bodies[0][0] + bodies[0][1]
            heads = self._case_heads(node.form.cases, namer, True)
            if heads == [heads[0], "else:"] and all(len(code) == 1 for _, code in bodies):
                # one assignment in an if and an else: a conditional expression (ruff SIM108)
                (first, [then]), (second, [other]) = bodies
                target, value = then.split(" = ", 1)
                cond = operand(heads[0].removeprefix("if ").removesuffix(":"))
                choice = f"{operand(value)} if {cond} else {operand(other.split(' = ', 1)[1])}"
                return [*dict.fromkeys(first + second), f"{target} = {choice}"]
            lines = []
            for head, (comment, code) in zip(heads, bodies, strict=True):
                lines += [head] + ["    " + line for line in comment + code]
            return lines
        if isinstance(node.form, Stack):
            return stack_forward(self, node, namer)
        comment, code = self.forward_body(node, node, namer)
        return comment + code

    def fused_node(self, node: Node, namer: Namer) -> list[str]:
        """A node's forward lines; an attention fusion.py fuses is written at its last node."""
        if (f := self.fusions.get(node.name)) is not None:
            self.uses_functional = True
            fused = fusion.call(f, self.read, lambda e: src(e, namer), self.layer_ref)
            return fusion.lines(self.checked, f, fused, self.read,
                                lambda n: self.forward_node(n, namer),
                                fusion.condition(f, self.read, lambda e: src(e, namer),
                                                 self.layer_ref),
                                self.spec_refs)
        fused_away = any(node.name in f.nodes for f in self.fusions.values())
        return [] if fused_away else self.forward_node(node, namer)

    def _case_heads(self, cases: list[Node], namer: Namer, complete: bool) -> list[str]:
        """`if`/`elif` lines for cases; the last is `else:` when the cases are known to
        cover every value: their conditions read only bool/choices params (the checker
        found exactly one case for each combination) and none was left out, or they are two
        and one is the other's negation (`expand_ratio == 1` of `expand_ratio != 1`) where
        neither reads a value made only under a `when` (MBConv's `_bn0`: an `if`/`else` of one
        assignment each is written as one expression, and lifetimes frees such a value only
        inside a block of its test)."""
        structural = set(structural_params(self.spec))
        whens = [_case_when(c) for c in cases]
        conditional = any(r.name in self.spec.nodes and self.spec.nodes[r.name].when is not None
                          for case in cases for r in case.inputs)
        exhaustive = complete and (all(w.names <= structural for w in whens) or (
            len(whens) == 2 and is_negation(whens[1].tree, whens[0].tree) and not conditional))
        heads = [f"{'if' if i == 0 else 'elif'} {src(w, namer)}:" for i, w in enumerate(whens)]
        if exhaustive and len(heads) > 1:
            heads[-1] = "else:"
        return heads

    def forward_body(self, node: Node, body: Node, namer: Namer) -> tuple[list[str], list[str]]:
        """(the comment lines, the code lines) of one forward statement."""
        ins = [self.read(r.name) for r in body.inputs]
        target = f"{', '.join(body.out)}" if body.out else self.read(node.name)
        value = self.forward_value(node, body, ins, namer)
        comment = forward_comment(self.checked, node, body, spec_refs=self.spec_refs)
        if body.if_given is not None:  # absent optional input: pass the first input on
            return comment, [f"{target} = {ins[0]}", f"if {body.if_given.name} is not None:",
                             f"    {target} = {value}"]
        return comment, [f"{target} = {value}"]

    def forward_value(self, node: Node, body: Node, ins: list[str], namer: Namer) -> str:
        args = call_args(self.spec, body, ins, namer)
        match body.form:
            case LayerCall(target):
                return f"{self.layer_ref(target.name)}({args})"
            case Repeat(name, iterable, FunctionOp() as function, zipped=True):
                var = name or "_"
                namer.loop.add(var)
                call = self.function_call(function, [ITEM_VAR], namer, node, listed=False)
                namer.loop.discard(var)
                if name is None:
                    return f"[{call} for {ITEM_VAR} in {ins[0]}]"
                if is_range(iterable.tree) and len(getattr(iterable.tree, "args", ())) == 1:
                    return f"[{call} for {var}, {ITEM_VAR} in enumerate({ins[0]})]"
                return (f"[{call} for {var}, {ITEM_VAR} in "
                        f"zip({src(iterable, namer)}, {ins[0]}, strict=True)]")
            case Repeat(zipped=True):  # copy i of the layer on the i-th tensor
                return (f"[{LAYER_VAR}({ITEM_VAR}) for {LAYER_VAR}, {ITEM_VAR} in "
                        f"zip({self.layer_ref(node.name)}, {ins[0]}, strict=True)]")
            case Repeat(name, iterable, LayerCall(target)):  # the shared layer, once per item
                return (f"[{self.layer_ref(target.name)}({args}) for {name or '_'} in "
                        f"{src(iterable, namer)}]")
            case Repeat(name, iterable, FunctionOp() as function):  # no layers: one call per item
                var = name or "_"
                namer.loop.add(var)
                call = self.function_call(function, ins, namer, node,
                                          listed=self._is_list(body))
                namer.loop.discard(var)
                return f"[{call} for {var} in {src(iterable, namer)}]"
            case Repeat():
                return f"[{LAYER_VAR}({args}) for {LAYER_VAR} in {self.layer_ref(node.name)}]"
            case Map(body=FunctionOp() as function):
                call = self.function_call(function, [ITEM_VAR], namer, node, listed=False)
                return f"[{call} for {ITEM_VAR} in {ins[0]}]"
            case Map(body=LayerCall(target)):
                return f"[{self.layer_ref(target.name)}({ITEM_VAR}) for {ITEM_VAR} in {ins[0]}]"
            case Map():  # the layer the node owns, once per tensor of the list
                return f"[{self.layer_ref(node.name)}({ITEM_VAR}) for {ITEM_VAR} in {ins[0]}]"
            case FunctionOp():
                return self.function_call(body.form, ins, namer, node,
                                          listed=self._is_list(body))
            case LayerOp() | Seq() | SubSpec():  # the layer the node owns
                return f"{self.layer_ref(node.name)}({args})"
            case Cases() | Stack():
                raise AssertionError("forward_node writes a `cases` node case by case, a "
                                     "loop body with its loop (emit_stack)")
            case TensorDecl():
                raise AssertionError("a param or buffer is made in __init__, read as self.NAME")
            case _:
                assert_never(body.form)

    def read(self, name: str) -> str:
        """How forward reads a tensor: a param or buffer as `self.NAME`, others by name (in
        a loop body, its input and its last node by the name the loop carries)."""
        if name in self.ends:
            return cast(str, self.carried)
        if self.outer is not None and name in self.spec.inputs:  # a tensor of the caller
            return self.outer(name)
        node = self.spec.nodes.get(name)
        return f"self.{name}" if node is not None and tensor_decl(node) is not None else name

    def _is_list(self, body: Node) -> bool:
        """Whether a node's one input is a list of tensors (`add` of it is `sum(xs)`)."""
        return len(body.inputs) == 1 and holds_list(self.checked, body.inputs[0].name)

    def function_call(self, call: FunctionOp, ins: list[str], namer: Namer, node: Node, *,
                      listed: bool) -> str:
        # a view that torch may refuse (strides.py) is written as reshape
        reshaped = call.op == VIEW and node.name in self.reshaped
        op = ops.REGISTRY["reshape" if reshaped else call.op]
        args, values, entries = {}, {}, {}
        for a in op.args:
            if a.name in call.args:
                expr = call.args[a.name]
                text = src(expr, namer)
                if a.kind == "mapping":
                    entries[a.name] = {k: src(v, namer) for k, v in expr_entries(expr)}
                if a.kind == "shape" and text.startswith("(") and text.endswith(")"):
                    text = text[1:-1].rstrip(",")
                if a.name in op.operands and needs_parens(expr):
                    text = f"({text})"
                args[a.name] = text
                if expr.is_constant():
                    values[a.name] = expr.constant
        shapes = tuple(self.checked.shape(ref.name) for ref in node.inputs) if op.emit else ()
        written = render_call(op, args, ins, listed=listed, values=values, entries=entries,
                              shapes=shapes)
        if written.startswith("F."):
            self.uses_functional = True
        return written

    def returns(self) -> list[tuple[Expr | None, list[str]]]:
        """(condition, output names) of each return statement, the unconditional one last."""
        spec = self.spec
        conds: list[Expr] = []
        for o in spec.outputs:
            if o.when is not None and o.when not in conds:
                conds.append(o.when)
        out: list[tuple[Expr | None, list[str]]] = [
            (c, [o.name for o in spec.outputs if o.when is None or o.when == c]) for c in conds]
        return [*out, (None, [o.name for o in spec.outputs if o.when is None])]

    def return_lines(self, namer: Namer) -> list[str]:
        lines = []
        for cond, names in self.returns():
            if cond is None:
                lines.append(f"return {self._return_value(names)}")
            else:
                lines += [f"if {src(cond, namer)}:", f"    return {self._return_value(names)}"]
        return lines

    def _return_value(self, names: list[str]) -> str:
        names = [self.read(n) for n in names]
        if self.spec.output_form == "list":
            return f"[{', '.join(names)}]"
        return ", ".join(names)

    # whole class -----------------------------------------------------------------
    def build(self) -> ClassCode:
        spec = self.spec
        dims: set[str] = set()
        fnamer = Namer(spec, "forward", dims)
        forward = self.forward_lines(fnamer)
        forward = self.dim_lines(fnamer) + forward
        forward = accumulated(forward, set(spec.inputs), shapes(self.checked))
        forward = with_dels(forward, set(spec.inputs), *value_names(self.checked))
        init = self.init_lines(fnamer.used_params)
        init = self.factory_lines() + init
        params = [f"{p.name}: {param_hint(p)}" + ("" if p.required else f" = {literal(p.default)}")
                  for p in spec.params.values()]
        params += ["*", *FACTORY_HINTS]
        inputs = [f"{name}: {input_hint(inp)}" + (
            " = None" if isinstance(inp, Input) and inp.optional else "")
            for name in spec.forward_args()
            for inp in [spec.inputs.get(name) or spec.int_inputs[name]]]
        returns = return_hint(self.checked, [names for _, names in self.returns()])
        rules = [dict(rule, lines=laid_out(rule["lines"], 8 if rule["layer"] else 16))
                 for rule in init_rules(spec)]  # a layer's lines sit outside the loop
        return ClassCode(
            name=spec.name, doc=class_docstring(self.checked),
            init_def=laid_out([def_line("__init__", params, None)], 4)[0],
            forward_def=laid_out([def_line("forward", inputs, returns)], 4)[0],
            init_lines=laid_out(init, 8), forward_lines=laid_out(forward, 8), init_rules=rules,
        )

    def dim_lines(self, namer: Namer) -> list[str]:
        """`B, C, H, W = x.shape` for the dims forward expressions read."""
        wanted = namer.used_dims - {n for u in self.unpacks.values() for names, _ in u
                                    for n in names} - set(self.spec.int_inputs)
        lines = []
        # an item of a list input is read from the list: these lines come before its unpacking
        tensors = {item.name: f"{inp.name}[{i}]" for inp in self.spec.inputs.values()
                   for i, item in enumerate(inp.items or ())}
        for inp in self.spec.sources().values():
            names = [d.text if d.text in wanted else "_" for d in inp.tensor_shape]
            if any(n != "_" for n in names):
                lines.append(f"{unpack_target(names)} = "
                             f"{tensors.get(inp.name, self.read(inp.name))}.shape")
                wanted -= set(names)
        if wanted:
            raise error(
                self.spec.loc,
                BAD_ARGUMENTS,
                f"forward needs dim(s) {', '.join(sorted(wanted))}, "
                "which no input shape names as a plain dim",
            )
        return lines


def _case_when(case: Node) -> Expr:
    """A case's condition: the parser requires `when` on every case of a `cases:` node."""
    if case.when is None:
        raise ValueError(f"case of node '{case.name}' has no 'when'")
    return case.when


# -- files ------------------------------------------------------------------------------
def render(checked: Checked, *, spec_refs: bool = False, fuse: bool = True) -> str:
    """The generated source file for one checked spec (with its sub-spec classes).

    `spec_refs`: a comment over every forward line names the spec line it comes from
    (`[specs/eca.yaml:14]`). Off by default: the file is written for a reader who copies
    it into a project, where the spec may not follow.
    """
    helpers = {"sequential": False, "log2": False, "relative_position": False}
    bodies, uses_functional = [], False
    # a loop body's class is none: its caller writes its layers and lines (emit_stack)
    chain = [*(c for c in checked.all_subs() if not c.spec.inline), checked]
    env = _env()
    for item in chain:
        if (spec_refs, fuse) not in item.emitted:  # a sub-spec's class: made once a build
            flags = dict.fromkeys(helpers, False)
            emitter = ClassEmitter(item, flags, spec_refs=spec_refs, fuse=fuse)
            with lets_shown(item):  # its comments and docstring in its lets' names
                body = env.get_template("class.py.j2").render(cls=emitter.build()).rstrip("\n")
            item.emitted[spec_refs, fuse] = (body, flags, emitter.uses_functional)
        body, flags, functional = item.emitted[spec_refs, fuse]
        bodies.append(body)
        helpers = {k: helpers[k] or flags[k] for k in helpers}
        uses_functional |= functional
    aliases = [(a, item.spec.name) for item in chain for a in item.spec.aliases]
    spec = checked.spec
    file_doc = doc_text(spec.title or spec.name) + "." + (
        f"\n\n{doc_text(spec.paper)}\n" if spec.paper else "")
    uses_torch = helpers["log2"] or helpers["relative_position"] or \
        any("torch." in body for body in bodies)
    alias_lines = laid_out([f"{alias} = {target}" for alias, target in aliases], 0)
    source = env.get_template("module.py.j2").render(
        header=header(comment_text(spec.file)), file_doc=file_doc, classes=bodies,
        aliases=alias_lines, helpers=helpers, uses_functional=uses_functional,
        uses_torch=uses_torch, render_class=lambda body: body,
    )
    try:  # an oracle: source that does not compile is attngen's bug, and never written
        compile(source, f"<generated from {spec.file}>", "exec")
    except (SyntaxError, ValueError) as exc:  # `exc` names the generated line
        raise InternalError(spec.loc, f"the generated source does not compile: {exc}") from None
    return source
