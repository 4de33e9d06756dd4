"""Checked spec -> Python source, rendered from templates/*.j2.

The emitter decides what each line says; the templates decide the file's layout.
Spec names become attribute and variable names; every forward line carries a
shape comment and the spec line it comes from. Output is deterministic.
"""

from __future__ import annotations

import ast
import math
import textwrap
from dataclasses import dataclass, field
from functools import cache, lru_cache

from . import ops
from .configs import structural_params
from .dims import fmt_shape
from .errors import InternalError, error
from .expr import Expr, py_string, uses_log2
from .init_rules import init_rules
from .model import (
    REQUIRED,
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
    SubSpec,
    assert_never,
    is_declaration,
    owned_layer,
)
from .names import ITEM_VAR, LAYER_VAR
from .resources import templates_dir
from .results import Checked

WIDTH = 99  # calls and layer lists longer than this are wrapped; other lines may be longer


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


@cache
def _call_template(call: str):
    return _env().from_string(call)


def render_call(op: ops.Op, args: dict[str, str], ins: list[str], *, listed: bool,
                values: dict[str, object] | None = None) -> str:
    """A tensor function's call expression, from its emit hook or its template; `args` maps
    the arguments the spec gives to their source text, `values` those given as literals to
    their values, `ins` are the input variables."""
    if op.emit is not None:
        return op.emit(ops.CallSite(tuple(ins), args, values or {}, listed))
    seq = ins[0] if listed else f"[{', '.join(ins)}]"
    # an argument the spec leaves out reads its default (`torch.stack(xs, dim=0)`)
    defaults = {a.name: repr(a.default) for a in op.args if not a.required and a.name not in args}
    context = dict(defaults, **args, x=ins[0], ins=ins, seq=seq, listed=listed,
                   given=list(args), args=args)
    return _call_template(op.call).render(**context)


# -- text safety ----------------------------------------------------------------------
def _printable(text) -> str:
    """str(text) with every non-printable character (line breaks, controls) made a space."""
    out = str(text)
    if not out.isprintable():
        out = "".join(ch if ch.isprintable() else " " for ch in out)
    return out


def comment_text(text: str) -> str:
    """User text made safe for a one-line comment: no line breaks or control characters."""
    return " ".join(_printable(text).split())


def doc_text(text: str, width: int = 88) -> str:
    """User text made safe inside a triple-quoted docstring, wrapped to `width`."""
    safe = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in str(text))
    safe = safe.replace("\\", "\\\\").replace('"', '\\"').strip()
    paragraphs = [" ".join(p.split()) for p in safe.split("\n\n")]
    return "\n\n".join(textwrap.fill(p, width, break_on_hyphens=False) for p in paragraphs)


def doc_line(text: str) -> str:
    """One docstring line built from spec values (reprs, expressions): escaped, not wrapped."""
    return _printable(text).replace("\\", "\\\\").replace('"', '\\"')


# -- names -----------------------------------------------------------------------------
class Namer:
    """Spec names -> Python source, for __init__ or forward; records what forward reads."""

    def __init__(self, spec: Spec, where: str, dims: set[str] | None = None):
        self.spec, self.where = spec, where
        self.dims = dims or set()
        self.loop: set[str] = set()
        self.used_params: set[str] = set()
        self.used_dims: set[str] = set()

    def __call__(self, name: str) -> str:
        if name in self.loop:
            return name
        if name in self.spec.lets:
            return f"self.{name}"
        if name in self.spec.params:
            if self.where == "init":
                return name
            self.used_params.add(name)
            return f"self.{name}"
        self.used_dims.add(name)
        return name


def src(expr: Expr, namer: Namer) -> str:
    return expr.python(namer)


def wrap_call(func: str, args: list[str], indent: int, lead: int = 0) -> str:
    """`func(a, b)` on one line, or one argument per line when too long.

    `lead` counts the characters before the call on its first line (`self.x = `).
    """
    one = f"{func}({', '.join(args)})"
    if indent + lead + len(one) <= WIDTH or not args:
        return one
    inner = "".join(f"\n{' ' * (indent + 4)}{a}," for a in args)
    return f"{func}({inner}\n{' ' * indent})"


def render_args(callee_args, given: dict[str, Expr], namer: Namer, *, keyword_from=None):
    """Positional for required args, keyword for the rest (only those the spec gives)."""
    out = []
    for name, required in callee_args:
        if name not in given:
            continue
        text = src(given[name], namer)
        out.append(text if required and keyword_from is None else f"{name}={text}")
    return out


# -- classes ---------------------------------------------------------------------------
@dataclass
class ClassCode:
    name: str
    doc: str
    init_signature: str
    forward_signature: str
    init_lines: list[str] = field(default_factory=list)
    forward_lines: list[str] = field(default_factory=list)
    init_rules: list[dict] = field(default_factory=list)


class ClassEmitter:
    def __init__(self, checked: Checked, helpers: dict):
        self.checked, self.spec, self.helpers = checked, checked.spec, helpers
        self.uses_functional = False

    # layers ------------------------------------------------------------------
    def layer(self, call: LayerOp | SubSpec, namer: Namer, indent: int, lead: int = 0) -> str:
        """Constructor source of one layer: an op's module or a sub-spec's class."""
        if isinstance(call, SubSpec):
            sub = call.spec
            spec_args = [(p.name, p.required) for p in sub.params.values()]
            return wrap_call(sub.name, render_args(spec_args, call.args, namer), indent, lead)
        op = ops.REGISTRY[call.op]
        self._note_exprs(call.args.values())
        return wrap_call(op.torch, render_args([(a.name, a.required) for a in op.args],
                                               call.args, namer), indent, lead)

    def node_layer(self, form: NodeForm, namer: Namer, indent: int,
                   lead: int = 0) -> str | None:
        """The attribute a node owns (one copy of it for `each`), or None (tensor functions,
        apply)."""
        layer = owned_layer(form)
        match layer:
            case None:
                return None
            case LayerOp() | SubSpec():
                return self.layer(layer, namer, indent, lead)
            case Seq(items, named):
                inner, head = indent + 4, "_sequential" if named else "nn.Sequential"
                self.helpers["sequential"] |= named
                parts = [(f"{i.name}=" if named else "") + self.layer(i.form, namer, inner)
                         for i in items]
                text = wrap_call(head, parts, indent)
                if len(items) > 1 and "\n" not in text:  # a sequence of layers: one per line
                    text = f"{head}(" + "".join(f"\n{' ' * inner}{p}," for p in parts) \
                        + f"\n{' ' * indent})"
                return text
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
                values = ", ".join(_py(c) for c in p.choices) + ("," if len(p.choices) == 1 else "")
                lines += [f"if {p.name} not in ({values}):",
                          f"    raise ValueError(f{message[:-1]}{{{p.name}!r}}\")"]
        # requirements on params first; those that read a let right after the lets
        late = [r for r in spec.requires if set(r.names) & set(spec.lets)]
        for req in spec.requires:
            if req not in late:
                lines += self.require_lines(req, namer)
        for name in spec.params:
            if name in forward_params:
                lines.append(f"self.{name} = {name}")
        for let in spec.lets.values():
            self._note_exprs([let.expr])
            lines.append(f"self.{let.name} = {src(let.expr, namer)}")
        for req in late:
            lines += self.require_lines(req, namer)
        for cond, group in self._grouped(list(spec.nodes.values())):
            body = []
            for node in group:
                body += self.init_node(node, namer, 8 + (4 if cond else 0))
            if not body:
                continue
            if cond:
                lines.append(f"if {src(cond, namer)}:")
                lines += ["    " + b if b else b for b in body]
            else:
                lines += body
        if spec.init:
            lines.append("self.init_weights()")
        return lines

    def require_lines(self, req: Expr, namer: Namer) -> list[str]:
        message = py_string(f"{self.spec.name}: requires {req.text}")
        return [f"if not ({src(req, namer)}):", f"    raise ValueError({message})"]

    def init_node(self, node: Node, namer: Namer, indent: int) -> list[str]:
        match node.form:
            case Cases(cases):
                layers = [self.node_layer(case.form, namer, indent + 4) for case in cases]
                if len(set(layers)) == 1 and layers[0] is not None:  # same layer in every case
                    layer = self.node_layer(cases[0].form, namer, indent)
                    return [f"self.{node.name} = {layer}"]
                owned = [(c, layer) for c, layer in zip(cases, layers) if layer is not None]
                heads = self._case_heads([c for c, _ in owned], namer, len(owned) == len(layers))
                lines = []
                for head, (case, layer) in zip(heads, owned):
                    lines += [head, f"    self.{node.name} = {_indent(layer, 4)}"]
                return lines
            case Repeat(name, iterable, _):
                var = name or "_"
                namer.loop.add(var)
                layer = self.node_layer(node.form, namer, indent + 4)
                namer.loop.discard(var)
                if layer is None:
                    return []
                comp = f"[\n{' ' * (indent + 4)}{layer}\n{' ' * (indent + 4)}for {var} in " \
                       f"{src(iterable, namer)}\n{' ' * indent}]"
                one = f"[{layer} for {var} in {src(iterable, namer)}]"
                text = one if "\n" not in one and indent + 30 + len(one) <= WIDTH else comp
                return [f"self.{node.name} = nn.ModuleList({text})"]
            case LayerOp() | FunctionOp() | Seq() | SubSpec() | LayerCall() | Map():
                layer = self.node_layer(node.form, namer, indent, len(f"self.{node.name} = "))
                return [] if layer is None else [f"self.{node.name} = {layer}"]
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
        spec, checked, lines = self.spec, self.checked, []
        for inp in spec.inputs.values():
            if inp.items is not None:
                lines.append(f"{', '.join(i.name for i in inp.items)} = {inp.name}")
        by_name = spec.nodes
        order = checked.order
        groups = self._grouped([by_name[n] for n in order if not is_declaration(by_name[n])])
        for cond, group in groups:
            body = []
            for node in group:
                body += self.forward_node(node, namer)
            if cond:
                lines.append(f"if {src(cond, namer)}:")
                lines += ["    " + b for b in body]
            else:
                lines += body
        lines += self.return_lines(namer)
        return lines

    def comment(self, node: Node, body: Node) -> str:
        info = self.checked.nodes.get(node.name)
        if info is None:
            return "# " + comment_text(f"{node.name}  [{body.loc.file}:{body.loc.line}]")
        ins = ", ".join(fmt_shape(s) if s is not None else "None" for s in info.inputs)
        out = info.output
        several = len(self.checked.configs) > 1  # recorded shapes hold in one configuration
        if several and all(self.spec_shape(r.name) for r in body.inputs):
            ins = ", ".join(self.spec_shape(r.name) for r in body.inputs)
        if several and self.spec_shape(node.name):
            shown = self.spec_shape(node.name)
        elif isinstance(out, dict):
            shown = ", ".join(fmt_shape(v) for v in out.values())
        elif isinstance(out, list) and node.shape is not None and isinstance(body.form, Repeat) \
                and body.form.var:
            dims = ", ".join(d.text for d in node.shape)
            shown = f"[({dims}) for {body.form.var} in {body.form.iterable.text}]"
        else:
            shown = fmt_shape(out)
        text = f"# {node.name}: {ins} -> {shown}" if ins else f"# {node.name}: {shown}"
        if body.doc or node.doc:
            text += f"  -- {comment_text(body.doc or node.doc)}"
        return comment_text(text + f"  [{body.loc.file}:{body.loc.line}]")

    def spec_shape(self, name: str) -> str | None:
        """A tensor's shape as the spec writes it (an input's shape, a node's `shape:`), which
        holds in every configuration; None for list values and unannotated nodes."""
        source = self.spec.sources().get(name)
        node = self.spec.nodes.get(name)
        if source is not None:
            dims = source.shape
        elif node is not None and not (node.out or isinstance(node.form, Repeat | Map)):
            dims = node.shape
        else:
            dims = None
        if not dims:
            return None
        return "(" + ", ".join(d.text for d in dims) + ("," if len(dims) == 1 else "") + ")"

    def forward_node(self, node: Node, namer: Namer) -> list[str]:
        if isinstance(node.form, Cases):
            bodies = [self.forward_body(node, case, namer) for case in node.form.cases]
            if all(b[1:] == bodies[0][1:] for b in bodies):  # e.g. the same layer call
                return bodies[0]
            lines = []
            for head, body in zip(self._case_heads(node.form.cases, namer, True), bodies):
                lines += [head] + ["    " + line for line in body]
            return lines
        return self.forward_body(node, node, namer)

    def _case_heads(self, cases: list[Node], namer: Namer, complete: bool) -> list[str]:
        """`if`/`elif` lines for cases; the last is `else:` when the cases are known to
        cover every value: their conditions read only bool/choices params (the checker
        found exactly one case for each combination) and none was left out."""
        structural = set(structural_params(self.spec))
        exhaustive = complete and all(c.when.names <= structural for c in cases)
        heads = [f"{'if' if i == 0 else 'elif'} {src(c.when, namer)}:" for i, c in enumerate(cases)]
        if exhaustive and len(heads) > 1:
            heads[-1] = "else:"
        return heads

    def forward_body(self, node: Node, body: Node, namer: Namer) -> list[str]:
        ins = [r.name for r in body.inputs]
        target = f"{', '.join(body.out)}" if body.out else node.name
        value = self.forward_value(node, body, ins, namer)
        comment = self.comment(node, body)
        if body.if_given is not None:  # absent optional input: pass the first input on
            return [comment, f"{target} = {ins[0]}",
                    f"if {body.if_given.name} is not None:", f"    {target} = {value}"]
        return [comment, f"{target} = {value}"]

    def forward_value(self, node: Node, body: Node, ins: list[str], namer: Namer) -> str:
        args = ", ".join(ins)
        match body.form:
            case LayerCall(target) | Repeat(body=LayerCall(target)) | Map(body=LayerCall(target)):
                return f"self.{target.name}({args})"
            case Repeat():
                return f"[{LAYER_VAR}({args}) for {LAYER_VAR} in self.{node.name}]"
            case Map(body=FunctionOp() as function):
                call = self.function_call(function, [ITEM_VAR], namer, listed=False)
                return f"[{call} for {ITEM_VAR} in {ins[0]}]"
            case FunctionOp():
                return self.function_call(body.form, ins, namer,
                                          listed=self._is_list(body, ins))
            case LayerOp() | Seq() | SubSpec() | Map():  # the layer the node owns
                return f"self.{node.name}({args})"
            case Cases():
                raise AssertionError("forward_node writes a `cases` node case by case")
            case _:
                assert_never(body.form)

    def _is_list(self, body: Node, ins: list[str]) -> bool:
        if len(ins) != 1:
            return False
        info = self.checked.nodes.get(ins[0])
        return info is not None and isinstance(info.output, list)

    def function_call(self, call: FunctionOp, ins: list[str], namer: Namer, *,
                      listed: bool) -> str:
        op = ops.REGISTRY[call.op]
        args, values = {}, {}
        for a in op.args:
            if a.name in call.args:
                expr = call.args[a.name]
                text = src(expr, namer)
                if a.kind == "shape" and text.startswith("(") and text.endswith(")"):
                    text = text[1:-1].rstrip(",")
                if a.name in op.operands and _needs_parens(expr):
                    text = f"({text})"
                args[a.name] = text
                if expr.is_constant():
                    values[a.name] = expr.constant
        written = render_call(op, args, ins, listed=listed, values=values)
        if written.startswith("F."):
            self.uses_functional = True
        return written

    def return_lines(self, namer: Namer) -> list[str]:
        spec = self.spec
        if all(o.when is None for o in spec.outputs):
            return [f"return {self._return_value([o.name for o in spec.outputs])}"]
        lines, always = [], [o.name for o in spec.outputs if o.when is None]
        conds = []
        for o in spec.outputs:
            if o.when is not None and o.when not in conds:
                conds.append(o.when)
        for cond in conds:
            names = [o.name for o in spec.outputs if o.when is None or o.when == cond]
            lines += [f"if {src(cond, namer)}:", f"    return {self._return_value(names)}"]
        lines.append(f"return {self._return_value(always)}")
        return lines

    def _return_value(self, names: list[str]) -> str:
        if self.spec.output_form == "list":
            return f"[{', '.join(names)}]"
        return ", ".join(names)

    # whole class -----------------------------------------------------------------
    def build(self) -> ClassCode:
        spec = self.spec
        dims = set()
        fnamer = Namer(spec, "forward", dims)
        forward = self.forward_lines(fnamer)
        forward = self.dim_lines(fnamer) + forward
        init = self.init_lines(fnamer.used_params)
        params = []
        for p in spec.params.values():
            params.append(p.name if p.required else f"{p.name}={_literal(p.default)}")
        inputs = []
        for inp in spec.inputs.values():
            inputs.append(f"{inp.name}=None" if inp.optional else inp.name)
        return ClassCode(
            name=spec.name, doc=self.docstring(),
            init_signature=", ".join(["self", *params]),
            forward_signature=", ".join(["self", *inputs]),
            init_lines=init, forward_lines=forward, init_rules=init_rules(spec),
        )

    def dim_lines(self, namer: Namer) -> list[str]:
        """`B, C, H, W = x.shape` for the dims forward expressions read."""
        wanted = {d for d in namer.used_dims}
        lines = []
        for inp in self.spec.sources().values():
            names = [d.text if d.text in wanted else "_" for d in inp.shape]
            if any(n != "_" for n in names):
                lines.append(f"{', '.join(names)} = {inp.name}.shape")
                wanted -= set(names)
        if wanted:
            raise error(self.spec.loc, "E402", f"forward needs dim(s) {', '.join(sorted(wanted))}, "
                        "which no input shape names as a plain dim")
        return lines

    def docstring(self) -> str:
        spec, checked = self.spec, self.checked
        parts = [doc_text(spec.title or spec.name) + "."]
        if spec.paper:
            parts.append("Paper: " + doc_text(spec.paper))
        if spec.doc:
            parts.append(doc_text(spec.doc))
        if spec.params:
            lines = ["Args:"]
            for p in spec.params.values():
                what = "required" if p.required else f"default {_literal(p.default)}"
                extra = f"; one of {list(p.choices)}" if p.choices else ""
                doc = f": {doc_text(p.doc)}" if p.doc else ""
                lines.append(f"    {p.name} ({p.type}, {doc_line(what + extra)}){doc}")
            parts.append("\n".join(lines))
        shapes = ["Shapes:"]
        for name, inp in spec.inputs.items():
            if inp.items:
                for item in inp.items:
                    shown = checked.shape_text(item.name)
                    if len(checked.configs) > 1:
                        shown = self.spec_shape(item.name) or shown
                    shapes.append(f"    {name}[{item.name}]: {shown}")
            else:
                opt = " (optional)" if inp.optional else ""
                shown = checked.shape_text(name)
                if len(checked.configs) > 1:
                    shown = self.spec_shape(name) or shown
                shapes.append(f"    {name}{opt}: {shown}")
        for o in spec.outputs:
            when = f" (if {o.when.text})" if o.when is not None else ""
            if o.name in checked.outputs:
                shown = fmt_shape(checked.outputs[o.name])
                if len(checked.configs) > 1:
                    shown = self.spec_shape(o.name) or shown
                shapes.append(f"    returns {o.name}{when}: {shown}")
        parts.append("\n".join(doc_line(line) for line in shapes))
        return "\n\n".join(parts)


def _needs_parens(expr: Expr) -> bool:
    tree = expr.tree
    return isinstance(tree, (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Compare)) and not (
        isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Pow))


def _literal(value) -> str:
    if value is REQUIRED:
        return ""
    if isinstance(value, list):  # an immutable default: a list default is shared between calls
        return _py(tuple(value))
    return _py(value)


def _py(value) -> str:
    """Python source for a spec value: repr, but an infinite or NaN float, whose repr is the
    bare name `inf` or `nan`, is written `float("inf")` (also inside lists and tuples)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{float(value)!r}")'
    if isinstance(value, (list, tuple)):
        items = [_py(v) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    return repr(value)


def _indent(text: str, n: int) -> str:
    return text.replace("\n", "\n" + " " * n)


# -- files ------------------------------------------------------------------------------
def render(checked: Checked) -> str:
    """The generated source file for one checked spec (with its sub-spec classes)."""
    helpers = {"sequential": False, "log2": False}
    classes, uses_functional = [], False
    chain = [*checked.all_subs(), checked]
    for item in chain:
        emitter = ClassEmitter(item, helpers)
        classes.append(emitter.build())
        uses_functional |= emitter.uses_functional
    aliases = [(a, item.spec.name) for item in chain for a in item.spec.aliases]
    env = _env()
    class_template = env.get_template("class.py.j2")
    spec = checked.spec
    file_doc = doc_text(spec.title or spec.name) + "." + (
        f"\n\n{doc_text(spec.paper)}\n" if spec.paper else "")
    bodies = [class_template.render(cls=cls).rstrip("\n") for cls in classes]
    uses_torch = helpers["log2"] or any("torch." in body for body in bodies)
    source = env.get_template("module.py.j2").render(
        source=comment_text(spec.file), file_doc=file_doc, classes=bodies, aliases=aliases,
        helpers=helpers, uses_functional=uses_functional, uses_torch=uses_torch,
        render_class=lambda body: body,
    )
    try:  # an oracle: source that does not compile is attngen's bug, and never written
        compile(source, f"<generated from {spec.file}>", "exec")
    except (SyntaxError, ValueError) as exc:  # `exc` names the generated line
        raise InternalError(spec.loc, f"the generated source does not compile: {exc}") from None
    return source
