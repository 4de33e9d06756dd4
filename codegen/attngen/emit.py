"""Checked spec -> Python source, rendered from templates/*.j2.

The emitter decides what each line says, one logical line per statement; layout.py
wraps the lines that do not fit in WIDTH columns; the templates decide the file's layout.
Spec names become attribute and variable names; constructor parameters, forward inputs and
results carry type hints that need no import beyond torch. A forward line that changes
a shape is preceded by a comment with the shapes (`# (B, C, H, W) -> (B, C, 1, 1)`); with
`spec_refs` every forward line also names the spec line it comes from. Output is
deterministic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

from . import ops
from .expr import Expr, uses_log2
from .layout import WIDTH, statement
from .resources import templates_dir
from .shapes import Checked, fmt_shape, is_declaration, structural_params
from .spec import REQUIRED, Item, Node, Param, Spec


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


def warm_up() -> None:
    """Import Jinja and compile the file templates now (before a parallel build forks)."""
    env = _env()
    for name in ("module.py.j2", "class.py.j2"):
        env.get_template(name)


@cache
def _call_template(op_name: str):
    return _env().from_string(ops.REGISTRY[op_name].call)


def render_call(op: ops.Op, args: dict[str, str], ins: list[str], *, listed: bool) -> str:
    """A tensor function's call expression from its template; `args` maps the arguments
    the spec gives to their source text, `ins` are the input variables."""
    seq = ins[0] if listed else f"[{', '.join(ins)}]"
    # an argument the spec leaves out reads its default (`torch.stack(xs, dim=0)`)
    defaults = {a.name: repr(a.default) for a in op.args if not a.required and a.name not in args}
    context = dict(defaults, **args, x=ins[0], ins=ins, seq=seq, listed=listed,
                   given=list(args), args=args)
    return _call_template(op.name).render(**context)


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
    import textwrap

    safe = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in str(text))
    safe = safe.replace("\\", "\\\\").replace('"', '\\"').strip()
    paragraphs = [" ".join(p.split()) for p in safe.split("\n\n")]
    return "\n\n".join(textwrap.fill(p, width, break_on_hyphens=False) for p in paragraphs)


def doc_line(text: str) -> str:
    """One docstring line built from spec values (reprs, expressions): escaped, not wrapped."""
    return _printable(text).replace("\\", "\\\\").replace('"', '\\"')


def doc_entry(line: str) -> str:
    """An escaped `Args:` or `Shapes:` entry of a class docstring (four spaces in), wrapped
    to fit the docstring's indentation; lines after the first hang four spaces deeper. It
    breaks only where one space stands, so joining its lines with a space gives it back."""
    words = re.split(r"(?<! ) (?! )", line.replace("\n", " "))
    lines = [words[0]]
    for word in words[1:]:
        if 4 + len(lines[-1]) + 1 + len(word) <= WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(" " * 8 + word)
    return "\n".join(lines)


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


def call(func: str, args: list[str], *, explode: bool = False) -> str:
    """`func(a, b)` on one logical line; `explode` adds a trailing comma, which keeps the
    call one argument per line when laid out (as a formatter keeps a "magic" comma)."""
    return f"{func}({', '.join(args)}{',' if explode and args else ''})"


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
    init_def: str  # `def __init__(...):`, laid out (lines relative to the class body)
    forward_def: str
    init_lines: list[str] = field(default_factory=list)
    forward_lines: list[str] = field(default_factory=list)
    init_rules: list[dict] = field(default_factory=list)


class ClassEmitter:
    def __init__(self, checked: Checked, helpers: dict, *, spec_refs: bool = False):
        self.checked, self.spec, self.helpers = checked, checked.spec, helpers
        self.spec_refs = spec_refs  # a spec reference in a comment over every forward line
        self.uses_functional = False

    # layers ------------------------------------------------------------------
    def layer(self, item: Item, namer: Namer) -> str:
        """Constructor source of one layer (op, use, or nothing for tensor functions)."""
        if item.use:
            sub = item.spec
            spec_args = [(p.name, p.required) for p in sub.params.values()]
            return call(sub.name, render_args(spec_args, item.args, namer))
        op = ops.REGISTRY[item.op]
        self._note_exprs(item.args.values())
        return call(op.torch, render_args([(a.name, a.required) for a in op.args],
                                          item.args, namer))

    def node_layer(self, node: Node, namer: Namer) -> str | None:
        """The attribute a node owns, or None (tensor functions, apply)."""
        if node.kind == "apply" or (node.kind == "op" and not ops.REGISTRY[node.op].module):
            return None
        if node.seq is not None:  # more than one layer: one per line, as one writes them
            explode = len(node.seq) > 1
            if node.seq_named:
                self.helpers["sequential"] = True
                parts = [f"{i.name}={self.layer(i, namer)}" for i in node.seq]
                return call("_sequential", parts, explode=explode)
            return call("nn.Sequential", [self.layer(i, namer) for i in node.seq],
                        explode=explode)
        return self.layer(node.as_item(), namer)

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
                message = json.dumps(f"{spec.name}: {p.name} must be one of {shown}, got ")
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
        message = json.dumps(f"{self.spec.name}: requires {req.text}")
        return [f"if not ({src(req, namer)}):", f"    raise ValueError({message})"]

    def init_node(self, node: Node, namer: Namer) -> list[str]:
        if node.cases is not None:
            layers = [self.node_layer(case, namer) for case in node.cases]
            if len(set(layers)) == 1 and layers[0] is not None:  # same layer in every case
                return [f"self.{node.name} = {layers[0]}"]
            owned = [(c, text) for c, text in zip(node.cases, layers, strict=True) if text]
            heads = self._case_heads([c for c, _ in owned], namer, len(owned) == len(layers))
            lines = []
            for head, (_, text) in zip(heads, owned, strict=True):
                lines += [head, f"    self.{node.name} = {text}"]
            return lines
        if node.each is not None:
            var = node.each_var or "_"
            namer.loop.add(var)
            layer = self.node_layer(node, namer)
            namer.loop.discard(var)
            if layer is None:
                return []
            comprehension = f"[{layer} for {var} in {src(node.each, namer)}]"
            return [f"self.{node.name} = nn.ModuleList({comprehension})"]
        layer = self.node_layer(node, namer)
        return [] if layer is None else [f"self.{node.name} = {layer}"]

    def _grouped(self, nodes: list[Node]):
        """Consecutive nodes with the same `when`, as (condition, nodes) pairs."""
        groups: list[tuple[Expr | None, list[Node]]] = []
        for node in nodes:
            if groups and groups[-1][0] == node.when:
                groups[-1][1].append(node)
            else:
                groups.append((node.when, [node]))
        return groups

    def init_rule_lines(self) -> list[dict]:
        rules = []
        for rule in self.spec.init:
            lines, o = [], rule.options
            weight = {
                "normal": f"nn.init.normal_(m.weight, mean={o.get('mean', 0.0)!r}, "
                          f"std={o.get('std', 1.0)!r})",
                "kaiming_normal": f"nn.init.kaiming_normal_(m.weight, mode={o.get('mode', 'fan_in')!r})",
                "kaiming_uniform": f"nn.init.kaiming_uniform_(m.weight, mode={o.get('mode', 'fan_in')!r})",
                "xavier_uniform": "nn.init.xavier_uniform_(m.weight)",
                "xavier_normal": "nn.init.xavier_normal_(m.weight)",
                "constant": f"nn.init.constant_(m.weight, {o.get('value', 0.0)!r})",
                "zeros": "nn.init.zeros_(m.weight)",
                "ones": "nn.init.ones_(m.weight)",
            }
            if rule.weight:
                text = weight[rule.weight]
                if "nonlinearity" in o:
                    text = text[:-1] + f", nonlinearity={o['nonlinearity']!r})"
                if rule.weight == "normal" and "mean" not in o:
                    text = text.replace("mean=0.0, ", "")
                lines.append(text.replace("'", '"'))
            if rule.bias:
                value = "nn.init.zeros_(m.bias)" if rule.bias == "zeros" \
                    else f"nn.init.constant_(m.bias, {o.get('value', 0.0)!r})"
                lines += ["if m.bias is not None:", f"    {value}"]
            rules.append({"op": rule.op, "lines": lines or ["pass"]})
        return rules

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

    def comment(self, node: Node, body: Node) -> list[str]:
        """The comment over a forward line: its shapes where they change, the node's doc,
        and with spec_refs the spec line it comes from; no comment when that is nothing."""
        parts = []
        if node.name in self.checked.nodes and (shapes := self.shape_change(node, body)):
            parts.append(shapes)
        if body.doc or node.doc:
            parts.append(("-- " if parts else "") + (body.doc or node.doc))
        if self.spec_refs:
            parts.append(f"[{body.loc.file}:{body.loc.line}]")
        return ["# " + comment_text(" ".join(parts))] if parts else []

    def shape_change(self, node: Node, body: Node) -> str:
        """`(B, C, H, W) -> (B, C, 1, 1)`, or "" when the output has the shape of every input."""
        info = self.checked.nodes[node.name]
        ins = [self._value_shape(r.name, s)
               for r, s in zip(body.inputs, info.inputs, strict=False)]
        if len(ins) < len(info.inputs):
            ins += [fmt_shape(s) if s is not None else "None" for s in info.inputs[len(ins):]]
        out = info.output
        several = len(self.checked.configs) > 1  # recorded shapes hold in one configuration
        if several and all(self.spec_shape(r.name) for r in body.inputs):
            ins = [self.spec_shape(r.name) or "" for r in body.inputs]
        if several and self.spec_shape(node.name):
            shown = self.spec_shape(node.name)
        elif isinstance(out, dict):
            shown = ", ".join(fmt_shape(v) for v in out.values())
        elif isinstance(out, list) and node.shape is not None and body.each_var:
            shown = _each_shape(node.shape, body)
        else:
            shown = fmt_shape(out)
        if ins and all(i == shown for i in ins):
            return ""
        if len(ins) > 1 and all(i == ins[0] for i in ins):
            ins = [f"{len(ins)} x {ins[0]}"]
        return f"{', '.join(ins)} -> {shown}" if ins else f"-> {shown}"

    def _value_shape(self, name: str, shape) -> str:
        """An input's shape as shown: a list of unequal shapes made by `each` is shown as the
        comprehension its node declares."""
        if shape is None:
            return "None"
        producer = self.spec.nodes.get(name)
        if (isinstance(shape, list) and len({tuple(s) for s in shape}) > 1 and producer
                and producer.shape is not None and producer.each_var):
            return _each_shape(producer.shape, producer)
        return fmt_shape(shape)

    def spec_shape(self, name: str) -> str | None:
        """A tensor's shape as the spec writes it (an input's shape, a node's `shape:`), which
        holds in every configuration; None for list values and unannotated nodes."""
        source = self.spec.sources().get(name)
        node = self.spec.nodes.get(name)
        if source is not None:
            dims = source.shape
        elif node is not None and not (node.out or node.each is not None or node.map):
            dims = node.shape
        else:
            dims = None
        if not dims:
            return None
        return "(" + ", ".join(d.text for d in dims) + ("," if len(dims) == 1 else "") + ")"

    def forward_node(self, node: Node, namer: Namer) -> list[str]:
        if node.cases is not None:
            bodies = [self.forward_body(node, case, namer) for case in node.cases]
            if all(code == bodies[0][1] for _, code in bodies):  # e.g. the same layer call
                return bodies[0][0] + bodies[0][1]
            heads = self._case_heads(node.cases, namer, True)
            if heads == [heads[0], "else:"] and all(len(code) == 1 for _, code in bodies):
                # one assignment in an if and an else: a conditional expression (ruff SIM108)
                (first, [then]), (second, [other]) = bodies
                target, value = then.split(" = ", 1)
                cond = _operand(heads[0].removeprefix("if ").removesuffix(":"))
                choice = f"{_operand(value)} if {cond} else {_operand(other.split(' = ', 1)[1])}"
                return [*dict.fromkeys(first + second), f"{target} = {choice}"]
            lines = []
            for head, (comment, code) in zip(heads, bodies, strict=True):
                lines += [head] + ["    " + line for line in comment + code]
            return lines
        comment, code = self.forward_body(node, node, namer)
        return comment + code

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

    def forward_body(self, node: Node, body: Node, namer: Namer) -> tuple[list[str], list[str]]:
        """(the comment lines, the code lines) of one forward statement."""
        ins = [r.name for r in body.inputs]
        target = f"{', '.join(body.out)}" if body.out else node.name
        value = self.forward_value(node, body, ins, namer)
        comment = self.comment(node, body)
        if body.if_given is not None:  # absent optional input: pass the first input on
            return comment, [f"{target} = {ins[0]}", f"if {body.if_given.name} is not None:",
                             f"    {target} = {value}"]
        return comment, [f"{target} = {value}"]

    def forward_value(self, node: Node, body: Node, ins: list[str], namer: Namer) -> str:
        if body.apply is not None:
            return f"self.{body.apply.name}({', '.join(ins)})"
        attr = "self." + node.name
        if body.each is not None:
            return f"[layer({', '.join(ins)}) for layer in {attr}]"
        if body.kind in ("seq", "use") or ops.REGISTRY[body.op].module:
            return f"{attr}({', '.join(ins)})"
        if body.map:
            return f"[{self.function_call(body, ['item'], namer, listed=False)} for item in {ins[0]}]"
        return self.function_call(body, ins, namer, listed=self._is_list(body, ins))

    def _is_list(self, body: Node, ins: list[str]) -> bool:
        if len(ins) != 1:
            return False
        info = self.checked.nodes.get(ins[0])
        return info is not None and isinstance(info.output, list)

    def function_call(self, body: Node, ins: list[str], namer: Namer, *, listed: bool) -> str:
        op = ops.REGISTRY[body.op]
        if op.call.startswith("F."):
            self.uses_functional = True
        args = {}
        for a in op.args:
            if a.name in body.args:
                expr = body.args[a.name]
                text = src(expr, namer)
                if a.kind == "shape" and text.startswith("(") and text.endswith(")"):
                    text = text[1:-1].rstrip(",")
                if a.name == "other" and _needs_parens(expr):
                    text = f"({text})"
                args[a.name] = text
        if body.op == "slice":
            args["index"] = _slice_index(body, namer)
        return render_call(op, args, ins, listed=listed)

    def returns(self) -> list[tuple[Expr | None, list[str]]]:
        """(condition, output names) of each return statement, the unconditional one last."""
        spec = self.spec
        conds = []
        for o in spec.outputs:
            if o.when is not None and o.when not in conds:
                conds.append(o.when)
        out = [(c, [o.name for o in spec.outputs if o.when is None or o.when == c])
               for c in conds]
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
        if self.spec.output_form == "list":
            return f"[{', '.join(names)}]"
        return ", ".join(names)

    def return_hint(self) -> str | None:
        """forward's return annotation: a tensor, a list or tuple of them, or a union of
        those where outputs depend on `when:`; None where an output's kind is unknown."""
        hints: list[str] = []
        for _, names in self.returns():
            items = [h for n in names if (h := _value_hint(self.checked.outputs.get(n)))]
            if not names or len(items) < len(names):
                return None
            if self.spec.output_form == "list":
                hint = f"list[{' | '.join(dict.fromkeys(items))}]"
            else:
                hint = items[0] if len(items) == 1 else f"tuple[{', '.join(items)}]"
            if hint not in hints:
                hints.append(hint)
        return " | ".join(hints)

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
            default = "" if p.required else f" = {_literal(p.default)}"
            params.append(f"{p.name}: {_param_hint(p)}{default}")
        inputs = []
        for inp in spec.inputs.values():
            hint = "list[torch.Tensor]" if inp.items is not None else "torch.Tensor"
            inputs.append(f"{inp.name}: {hint} | None = None" if inp.optional
                          else f"{inp.name}: {hint}")
        rules = [dict(rule, lines=laid_out(rule["lines"], 16)) for rule in self.init_rule_lines()]
        return ClassCode(
            name=spec.name, doc=self.docstring(),
            init_def=laid_out([_def("__init__", params, None)], 4)[0],
            forward_def=laid_out([_def("forward", inputs, self.return_hint())], 4)[0],
            init_lines=laid_out(init, 8), forward_lines=laid_out(forward, 8), init_rules=rules,
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
            from .errors import error

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
                lines.append(doc_entry(f"    {p.name} ({p.type}, {doc_line(what + extra)}){doc}"))
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
        parts.append("\n".join(doc_entry(doc_line(line)) for line in shapes))
        return "\n\n".join(parts)


def laid_out(lines: list[str], indent: int) -> list[str]:
    """Logical lines of a block at `indent` columns (nested ones start with four spaces per
    level), each wrapped to fit by layout.statement; continuation lines are indented
    relative to the block, as the templates indent every line after the first."""
    out = []
    for line in lines:
        depth = len(line) - len(line.lstrip(" "))
        wrapped = statement(line, indent + depth)
        out.append("\n".join(w[indent:] for w in wrapped))
    return out


def _def(name: str, params: list[str], returns: str | None) -> str:
    """A method's `def` line; a trailing comma puts one parameter per line when the
    signature does not fit on one (as ruff format keeps a "magic" trailing comma)."""
    arrow = f" -> {returns}" if returns else ""
    line = f"def {name}({', '.join(['self', *params])}){arrow}:"
    if 4 + len(line) > WIDTH and params:
        line = f"def {name}({', '.join(['self', *params])},){arrow}:"
    return line


def _param_hint(p: Param) -> str:
    """A constructor parameter's annotation, from its spec type.

    Generated code imports nothing but torch, so no hint needs an import: `any` is
    `object` (typing.Any would need one). A list param holds numbers: its items are `int`
    when every value of its default (or example) is an int, else `float` (which accepts
    ints). Its default is written as a tuple, since a list default would be one object
    shared between calls, while callers pass lists as often as tuples; so the hint
    accepts both, `list[int] | tuple[int, ...]` (collections.abc.Sequence would need an
    import). A None default adds `| None` to a known type.
    """
    if p.type == "any":
        return "object"
    if p.type == "list":
        values = p.sample or []
        item = "int" if values and all(type(v) is int for v in values) else "float"
        hint = f"list[{item}] | tuple[{item}, ...]"
    else:
        hint = p.type
    return f"{hint} | None" if p.default is None else hint


def _value_hint(value) -> str | None:
    """The annotation of a checked value: a shape is a tensor, a list of shapes a list."""
    if isinstance(value, tuple):
        return "torch.Tensor"
    if isinstance(value, list):
        return "list[torch.Tensor]"
    return None


def _each_shape(dims: list[Expr], node: Node) -> str:
    """A list made by `each`, shown as its declared comprehension: `[(B, k) for k in ks]`."""
    each = node.each.text if node.each is not None else ""
    return f"[({', '.join(d.text for d in dims)}) for {node.each_var} in {each}]"


def _operand(text: str) -> str:
    """Source text as an operand of a conditional expression: parenthesized if it is one
    itself, or a lambda."""
    import ast

    tree = ast.parse(text, mode="eval").body
    return f"({text})" if isinstance(tree, (ast.IfExp, ast.Lambda, ast.NamedExpr)) else text


def _needs_parens(expr: Expr) -> bool:
    import ast

    tree = expr.tree
    return isinstance(tree, (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Compare)) and not (
        isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Pow))


def _slice_index(body: Node, namer: Namer) -> str:
    dim = body.args["dim"].value({})
    start = src(body.args["start"], namer) if "start" in body.args else ""
    stop = src(body.args["stop"], namer) if "stop" in body.args else ""
    part = f"{start}:{stop}"
    if dim >= 0:
        return ", ".join([":"] * dim + [part])
    return ", ".join(["..."] + [part] + [":"] * (-dim - 1))


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


# -- files ------------------------------------------------------------------------------
def render(checked: Checked, *, spec_refs: bool = False) -> str:
    """The generated source file for one checked spec (with its sub-spec classes).

    `spec_refs`: a comment over every forward line names the spec line it comes from
    (`[specs/eca.yaml:14]`). Off by default: the file is written for a reader who copies
    it into a project, where the spec may not follow.
    """
    helpers = {"sequential": False, "log2": False}
    classes, uses_functional = [], False
    chain = [*_all_subs(checked), checked]
    for item in chain:
        emitter = ClassEmitter(item, helpers, spec_refs=spec_refs)
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
    alias_lines = laid_out([f"{alias} = {target}" for alias, target in aliases], 0)
    return env.get_template("module.py.j2").render(
        header=_header(comment_text(spec.file)), file_doc=file_doc, classes=bodies,
        aliases=alias_lines, helpers=helpers, uses_functional=uses_functional,
        uses_torch=uses_torch, render_class=lambda body: body,
    )


def _header(source: str) -> list[str]:
    """The do-not-edit comment at the top of a file, in the first layout whose lines fit
    (a source path too long for any stays whole on its line)."""
    rebuild = f"`attngen build {source}` instead."
    generated = f"Generated by attngen from {source}"
    layouts = [
        [f"{generated} -- do not edit; edit the spec and run", rebuild],
        [f"{generated} -- do not edit;", f"edit the spec and run {rebuild}"],
    ]
    for lines in layouts:
        if all(2 + len(line) <= WIDTH for line in lines):
            return lines
    return [generated, "-- do not edit; edit the spec and run", rebuild]


def _all_subs(checked: Checked) -> list[Checked]:
    """Sub-spec results, dependencies first, each class once."""
    out: dict[str, Checked] = {}

    def visit(c: Checked) -> None:
        for sub in c.subs.values():
            visit(sub)
            out.setdefault(sub.spec.name, sub)

    visit(checked)
    return list(out.values())
