"""The fusion pass: written-out attention found in a checked spec, emitted as one call of
`F.scaled_dot_product_attention`.

The pattern, node by node, each reading the one before it:

    scores = matmul(q, k)            k as written: [..., E, S]
    [scale:  div or mul by a number expression (`other`); without it the scale is 1]
    [optional-input nodes (`if_given`) other than a mask: the fused call runs only when
     their inputs are None; otherwise the written form does]
    [mask:   masked_fill(mask, -inf) of a bool mask (attn_mask=~mask: SDPA keeps True), or
             add of a float mask]
    probs  = softmax over the last dim (function or layer)
    [optional-input nodes, as above]
    [drop  = Dropout layer, declared there or applied (`apply:`): dropout_p=self.drop.p if
             self.training else 0.0; training with p > 0 on CPU runs the written form (no
             fused dropout kernel there)]
    out    = matmul(probs, v)

Between any two of these steps, a `cases` node with an `identity` case (EMSA's `mixed`
and `normed`: a step that a param turns off) passes its input on: the fused call runs only
when that case's `when` holds; otherwise the written form does.

It fuses only where the fused call computes the same function: q, k, v float, of one rank,
with the same batch dims (the call gives them 4, _rank; a mask over 4 dims must flatten
with them, ops/attention.mask_fix); every node
but `out` read by the next node alone and not an output; all under one `when`. Train-mode
dropout is the same distribution (each weight zeroed with probability p, the rest scaled by
1/(1-p)) drawn from another random stream, and a row whose every key is masked gives zeros
where the written form gives NaN (docs/design.md). Layers stay declared in __init__, so the
module's attributes and state_dict keys do not change. Where the graph leaves q's, k's
(transposed) or v's last dim strided, the call copies them contiguous (`copies`): PyTorch's
fused kernels would refuse them and run its math kernel.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import cast

from .dims import fmt_dim
from .expr import Expr
from .graph import annotation_dims, forward_names, readers
from .model import Cases, FunctionOp, LayerCall, LayerOp, Node
from .ops.attention import batch_fix, mask_fix, restore
from .pytext import comment_text
from .results import Checked
from .shape_comments import spec_dims
from .strides import strided_tensors, unit_last


@dataclass(frozen=True)
class Fusion:
    """One written-out attention the emitter writes as a fused call."""

    nodes: tuple[str, ...]  # the chain in forward order; the last (`out`) gets the call
    q: str
    k: str  # as the written matmul reads it, [..., E, S]: the call transposes it
    v: str
    scale: tuple[str, Expr] | None  # ("div" or "mul", the number expression)
    mask: tuple[str, str, bool] | None  # (tensor, "fill" or "add", optional input)
    dropout: str | None  # the Dropout layer's attribute name
    unless: tuple[str, ...]  # optional inputs; when one is given, the written form runs
    passes: tuple[Expr, ...] = ()  # `when`s of identity cases; the fused call needs them all
    rank: int = 4  # of q, k and v: the call gives them 4 dims (_rank)
    mask_fix: str = ""  # what gives the mask 4 dims in the call (attention.mask_fix)
    # of "q", "k", "v": those the call copies contiguous, the graph having made their
    # features strided (keys computed [..., E, S], a permuted conv's output): PyTorch's
    # fused kernels need unit-stride features and would run its math kernel
    copies: tuple[str, ...] = ()

    @property
    def out(self) -> str:
        return self.nodes[-1]


def find(checked: Checked) -> dict[str, Fusion]:
    """Every fusable attention of one spec (not its sub-specs), by its `out` node; none
    where the spec says `fuse: false`."""
    spec = checked.spec
    if not spec.fuse:
        return {}
    read_by, outputs = readers(spec), {o.name for o in spec.outputs}
    read = forward_names(spec)  # a node whose `shape:` binds a dim forward reads is kept
    outputs |= {bound.node for bound in annotation_dims(spec) if bound.name in read}
    # inputs taken as contiguous, as callers mostly give them: a copy the call makes
    # (`.contiguous()`) of a tensor already contiguous is no copy
    strided = strided_tensors(spec, checked.order, inputs=False)
    found = {}
    for node in spec.nodes.values():
        if _is_fn(node, "matmul") and len(node.inputs) == 2:
            fusion = _match(checked, node, read_by, outputs, strided)
            if fusion is not None:
                found[fusion.out] = fusion
    return found


def _is_fn(node: Node, op: str) -> bool:
    return isinstance(node.form, FunctionOp) and node.form.op == op


def _dtype(checked: Checked, name: str) -> str:
    return getattr(checked.value(name), "dtype", "float")


def _match(checked: Checked, out: Node, read_by: dict[str, list[str]], outputs: set[str],
           strided: set[str]) -> Fusion | None:
    spec = checked.spec
    chain = [out]
    if out.if_given is not None:  # absent, it would pass its first input on
        return None
    v = out.inputs[1].name
    passes: list[Expr] = []
    unless: list[str] = []
    dropout = None
    node = _before(spec, out)
    while node is not None and not _is_softmax(checked, node):  # after the softmax
        if (when := _passes(node)) is not None:
            passes.append(when)
        elif dropout is None and (layer := _dropout(spec, node)) is not None:
            dropout = layer
        elif (name := _unless(node)) is not None:
            unless.append(name)
        else:
            return None
        chain.append(node)
        node = _before(spec, node)
    if node is None:
        return None
    chain.append(node)
    node = _before(spec, node)
    mask, scale = None, None
    while node is not None and not _is_fn(node, "matmul"):  # before it, up to the scores
        if (when := _passes(node)) is not None:
            passes.append(when)
        elif scale is not None:  # only identity cases between the scale and the scores
            return None
        elif mask is None and (found := _mask(checked, node)) is not None:
            mask = found
        elif (name := _unless(node)) is not None:
            unless.append(name)
        elif node.if_given is None and (found_scale := _scale(node)) is not None:
            scale = found_scale
        else:
            return None
        chain.append(node)
        node = _before(spec, node)
    if node is None or node.if_given is not None:
        return None
    chain.append(node)
    chain.reverse()
    q, k = node.inputs[0].name, node.inputs[1].name
    rank = _rank(checked, q, k, v)
    qs, ms = checked.shape(q), checked.shape(mask[0]) if mask is not None else ()
    fix = "" if mask is None else mask_fix(qs, ms) if qs is not None and ms is not None else None
    if rank is None or fix is None or len({n.when for n in chain}) != 1 \
            or any(n.out for n in chain):
        return None
    for a, b in zip(chain, chain[1:], strict=False):  # read by the next node alone
        if a.name in outputs or read_by.get(a.name) != [b.name]:
            return None
    copies = tuple(role for role, name, transposed in (("q", q, False), ("k", k, True),
                                                        ("v", v, False))
                   if unit_last(spec, name, strided, rank, transposed) is False)
    return Fusion(tuple(n.name for n in chain), q, k, v, scale, mask, dropout,
                  tuple(reversed(unless)), tuple(reversed(passes)), rank, fix, copies)


def _before(spec, node: Node) -> Node | None:
    """The node whose output `node` reads first (None for an input); for a `cases` node
    that passes its input on (_passes), the one its identity case reads."""
    if isinstance(node.form, Cases):
        node = next(c for c in node.form.cases if _is_identity(c))
    return spec.nodes.get(node.inputs[0].name) if node.inputs else None


def _is_identity(node: Node) -> bool:
    form = node.form
    return node.if_given is None and len(node.inputs) == 1 and (
        isinstance(form, FunctionOp) and form.op == "identity"
        or isinstance(form, LayerOp) and form.op == "Identity")


def _passes(node: Node) -> Expr | None:
    """The `when` of a `cases` node's one identity case (the condition under which it
    passes its input on), else None."""
    if not isinstance(node.form, Cases) or node.if_given is not None:
        return None
    identities = [case for case in node.form.cases if _is_identity(case)]
    return identities[0].when if len(identities) == 1 else None


def _dropout(spec, node: Node) -> str | None:
    """The attribute name of a Dropout layer that `node` is or applies, else None."""
    if node.if_given is not None or len(node.inputs) != 1:
        return None
    if isinstance(node.form, LayerOp) and node.form.op == "Dropout":
        return node.name
    if isinstance(node.form, LayerCall):
        layer = spec.nodes.get(node.form.target.name)
        if layer is not None and isinstance(layer.form, LayerOp) and layer.form.op == "Dropout":
            return layer.name
    return None


def _unless(node: Node) -> str | None:
    """The optional input of a node that passes its first input on without it (weights),
    else None."""
    if node.if_given is not None and not isinstance(node.form, LayerOp) \
            and node.inputs and node.inputs[0].name != node.if_given.name:
        return node.if_given.name
    return None


def _is_softmax(checked: Checked, node: Node) -> bool:
    """A softmax over the last dim, the only one SDPA computes."""
    form = node.form
    if node.if_given is not None or len(node.inputs) != 1 or not (
            isinstance(form, FunctionOp | LayerOp) and form.op in ("softmax", "Softmax")):
        return False
    dim = form.args.get("dim")
    rank = len(checked.value(node.name))
    return dim is not None and dim.is_constant() and dim.constant in (-1, rank - 1)


def _scale(node: Node) -> tuple[str, Expr] | None:
    form = node.form
    if isinstance(form, FunctionOp) and form.op in ("div", "mul") and len(node.inputs) == 1 \
            and "other" in form.args:
        return form.op, form.args["other"]
    return None


def _mask(checked: Checked, node: Node) -> tuple[str, str, bool] | None:
    """(mask tensor, "fill" or "add", whether it is an optional input) of a mask node."""
    form = node.form
    if len(node.inputs) != 2 or not isinstance(form, FunctionOp):
        return None
    mask = node.inputs[1].name
    optional = node.if_given is not None
    if node.if_given is not None and node.if_given.name != mask:
        return None
    if len(checked.value(mask)) > len(checked.value(node.name)):  # it would widen the scores
        return None
    value = form.args.get("value")
    if form.op == "masked_fill" and _dtype(checked, mask) == "bool" and value is not None \
            and not value.names and value.value({}) == -math.inf:  # names: params, not -inf
        return mask, "fill", optional
    if form.op == "add" and "other" not in form.args and _dtype(checked, mask) == "float":
        return mask, "add", optional
    return None


def _rank(checked: Checked, q: str, k: str, v: str) -> int | None:
    """The rank of q [..., L, E], k [..., E, S] and v [..., S, Ev] where they fuse: one rank,
    the same batch dims, float; None where they do not. The call gives them 4 dims (`call`,
    ops/attention.batch_fix): at another rank PyTorch runs its math path, slower than the
    written form (MobileViT's attention over (B, P, heads, N, d): forward 1.15 of it, peak
    99.0 against 86.5 MiB)."""
    shapes = [checked.value(n) for n in (q, k, v)]
    if not all(isinstance(s, tuple) for s in shapes) or any(
            _dtype(checked, n) != "float" for n in (q, k, v)):
        return None
    qs, ks, vs = shapes
    same = len(qs) == len(ks) == len(vs) >= 2 and qs[:-2] == ks[:-2] == vs[:-2]
    return len(qs) if same else None


# -- source -------------------------------------------------------------------------------
def call(f: Fusion, read: Callable[[str], str], source: Callable[[Expr], str],
         layer: Callable[[str], str]) -> str:
    """The fused call; `read` gives a tensor's variable, `source` an expression's text,
    `layer` how forward reads a layer (`self.drop`). q, k and v go in with 4 dims (_rank):
    over 4, their leading batch dims flattened into one (views where their strides allow:
    a split of one tensor's last dim, as heads are); under 4, with batch dims of size 1 in
    front; the result gets q's batch dims back (ops/attention.restore)."""
    fix = batch_fix(f.rank)
    copy = {role: ".contiguous()" for role in f.copies}
    args = [f"{read(f.q)}{copy.get('q', '')}{fix}",
            f"{read(f.k)}.transpose(-2, -1){copy.get('k', '')}{fix}",
            f"{read(f.v)}{copy.get('v', '')}{fix}"]
    if f.mask is not None:
        name, kind, optional = f.mask
        mask = read(name) + f.mask_fix if kind == "add" else f"~{read(name)}{f.mask_fix}"
        if optional and (kind == "fill" or f.mask_fix):  # an added mask passes on a None
            mask = f"None if {name} is None else {mask}"
        args.append(f"attn_mask={mask}")
    if f.dropout is not None:
        args.append(f"dropout_p={layer(f.dropout)}.p if self.training else 0.0")
    if f.scale is None:
        args.append("scale=1.0")
    else:
        kind, expr = f.scale
        text = source(expr)
        args.append(f"scale={text}" if kind == "mul" else f"scale=1 / {_atom(text)}")
    # the result given q's batch dims back in the same expression: in a loop body q may be
    # the name the result is assigned to
    return f"F.scaled_dot_product_attention({', '.join(args)}){restore(f.rank, read(f.q))}"


def _atom(text: str) -> str:
    """`text` as the right operand of `/`: parenthesized unless a name, number, call, or
    a power (which binds tighter)."""
    tree = ast.parse(text, mode="eval").body
    simple = isinstance(tree, (ast.Name, ast.Constant, ast.Attribute, ast.Call)) or (
        isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Pow))
    return text if simple else f"({text})"


def _conjunct(text: str) -> str:
    """`text` as one operand of an `and` chain: parenthesized if an `or`, a conditional
    expression, a lambda or an assignment expression (which bind more loosely)."""
    tree = ast.parse(text, mode="eval").body
    loose = isinstance(tree, (ast.IfExp, ast.Lambda, ast.NamedExpr)) or (
        isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.Or))
    return f"({text})" if loose else text


def condition(f: Fusion, read: Callable[[str], str], source: Callable[[Expr], str],
              layer: Callable[[str], str]) -> list[str]:
    """When the fused call runs: no optional input of `unless` given, every identity case
    of `passes` taken, and no train-mode dropout on CPU, where PyTorch's fused kernel has
    no dropout and falls back to its math path, slower than the written form and holding
    more for backward (issue 16), nor an added mask that requires grad on CPU (_added_mask)."""
    conds = [f"{name} is None" for name in f.unless]
    conds += dict.fromkeys(_conjunct(source(when)) for when in f.passes)  # each once
    if f.dropout is not None:
        conds.append(f"not (self.training and {layer(f.dropout)}.p > 0 and {read(f.q)}.is_cpu)")
    if f.mask is not None and _added_mask(f):
        mask, _, optional = f.mask
        given = f"{read(mask)} is not None and " if optional else ""
        conds.append(f"not ({given}{read(mask)}.requires_grad and {read(f.q)}.is_cpu)")
    return conds


def _added_mask(f: Fusion) -> bool:
    """A float mask added to the scores (a relative position bias, often learned): where it
    requires grad (condition() asks at run time), PyTorch's CPU kernel computes its
    gradient slower than the written form (Swin's window attention, 49 and 196 tokens:
    fwd+bwd 1.04 to 1.12 of the reference fused, 0.91 to 0.98 written), so training on CPU
    runs the written form."""
    return f.mask is not None and f.mask[1] == "add"


def shape_text(checked: Checked, f: Fusion) -> str:
    """`q, k^T, v -> out` shapes: as the spec writes them where it has several
    configurations (the values recorded hold in one), else as checked."""
    names = (f.q, f.k, f.v, f.out)
    written = [spec_dims(checked.spec, n) for n in names]
    if len(checked.configs) > 1 and all(written):
        dims = [cast(list[str], d) for d in written]
    else:  # q, k, v and the output have rank 2 or more (_rank)
        dims = [[fmt_dim(d) for d in cast(tuple, checked.value(n))] for n in names]
    dims[1] = [*dims[1][:-2], dims[1][-1], dims[1][-2]]
    q, k, v, out = ("(" + ", ".join(d) + ")" for d in dims)
    return f"{q}, {k}, {v} -> {out}"


def lines(checked: Checked, f: Fusion, fused: str, read: Callable[[str], str],
          written: Callable[[Node], list[str]], conds: list[str],
          spec_refs: bool = False) -> list[str]:
    """The forward lines of a fusion: its call (`fused`, from call(); `read` gives a
    tensor's variable), and where `conds` (condition()) may fail, the written form
    (`written` gives a node's lines) in an `else`; `spec_refs`: the comment names the spec
    lines of the nodes the call computes."""
    comment = "# " + shape_text(checked, f)
    if spec_refs:
        first, last = (checked.spec.nodes[n].loc for n in (f.nodes[0], f.out))
        comment += f" [{comment_text(first.file)}:{first.line}-{last.line}]"
    why4 = ["# called with 4 dims: PyTorch's fused kernels take (batch, heads, n, features)"]
    roles = [{"q": "queries", "k": "keys", "v": "values"}[r] for r in f.copies]
    copied = " and ".join([", ".join(roles[:-1]), roles[-1]] if len(roles) > 1 else roles)
    why_copy = [f"# {copied} copied: PyTorch's fused kernels read features contiguous"]
    # `read`: the name forward gives the node (a loop body's last: the value it carries)
    assign = [*(why4 if f.rank != 4 else []), *(why_copy if f.copies else []),
              f"{read(f.out)} = {fused}"]
    if not conds:
        return [comment, *assign]
    nodes = [checked.spec.nodes[n] for n in f.nodes]
    if len(conds) == len(f.unless) == 1:  # in the else branch, the one optional input is given
        nodes = [replace(n, if_given=None) if n.if_given is not None
                 and n.if_given.name == f.unless[0] else n for n in nodes]
    plain = [line for n in nodes for line in written(n)]
    why = ["# no fused dropout on CPU: training with dropout there runs the written form"]
    why_mask = ["# a mask that requires grad: on CPU its gradient is faster written out"]
    return [*(why if f.dropout is not None else []), *(why_mask if _added_mask(f) else []),
            f"if {' and '.join(conds)}:",
            "    " + comment, *("    " + line for line in assign), "else:",
            *("    " + line for line in plain)]
