"""Call expressions of generated code: a tensor function's, from its op's Jinja template
or emit hook, and a constructor's, from the arguments a spec gives."""

from __future__ import annotations

import ast
import itertools

from . import ops
from .emit_names import Namer, src
from .expr import Expr
from .model import Node, Spec, SubSpec, layer_target, owned_layer, unwrapped
from .templating import call_template


def render_call(op: ops.Op, args: dict[str, str], ins: list[str], *, listed: bool,
                values: dict[str, object] | None = None,
                entries: dict[str, dict[str, str]] | None = None,
                shapes: tuple[tuple | None, ...] = ()) -> str:
    """A tensor function's call expression, from its emit hook or its template; `args` maps
    the arguments the spec gives to their source text, `values` those given as literals to
    their values, `entries` each mapping argument to its names' sources; `ins` are the input
    variables, `shapes` their checked shapes (ops/base.CallSite)."""
    if op.emit is not None:
        return op.emit(ops.CallSite(tuple(ins), args, values or {}, listed, entries or {}, shapes))
    seq = ins[0] if listed else f"[{', '.join(ins)}]"
    # an argument the spec leaves out reads its default (`torch.stack(xs, dim=0)`)
    defaults = {a.name: repr(a.default) for a in op.args if not a.required and a.name not in args}
    context = dict(defaults, **args, x=ins[0], ins=ins, seq=seq, listed=listed,
                   given=list(args), args=args)
    return call_template(op.call).render(**context)


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


def call_args(spec: Spec, body: Node, ins: list[str], namer: Namer) -> str:
    """A node's call's arguments: its inputs, but a sub-spec's as sub_args gives them (its
    own `use:` with its ints, an `each` of it, or an applied one)."""
    called = unwrapped(body.form)
    target = layer_target(body.form)
    if target is not None:
        called = owned_layer(spec.nodes[target.name].form) or called
    if not isinstance(called, SubSpec):
        return ", ".join(ins)
    sizes = {n: src(e, namer) for n, e in called.sizes.items()}
    return ", ".join(sub_args(called.spec, ins, sizes))


def sub_args(sub: Spec, ins: list[str], sizes: dict[str, str]) -> list[str]:
    """A sub-spec's arguments: its tensors (a list input's items in one list) and ints in
    its forward's order; the optional tensors a node leaves out come last."""
    given, args = iter(ins), []
    for name in sub.forward_args():
        if name in sub.int_inputs:  # (given by the node's call: `use:` alone passes them)
            args += [sizes[name]] if name in sizes else []
            continue
        items = sub.inputs[name].items
        taken = list(itertools.islice(given, len(items) if items is not None else 1))
        if not taken:
            break
        args.append(f"[{', '.join(taken)}]" if items is not None else taken[0])
    return args


def needs_parens(expr: Expr) -> bool:
    """Whether an operand's source needs parentheses (`(a + b).exp()`); a power binds tighter."""
    tree = expr.tree
    return isinstance(tree, (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Compare)) and not (
        isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Pow))
