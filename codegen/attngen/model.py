"""The spec data model: what a spec file says, checked and located, as dataclasses.

parse.py builds these from YAML; everything after reads them and never YAML. Every value
keeps the Loc of the text it came from, so any later stage can report an error there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import ops
from .errors import Loc
from .expr import Expr

REQUIRED = object()  # marker: a constructor parameter without default

@dataclass
class Param:
    name: str
    loc: Loc
    type: str
    default: object = REQUIRED  # plain Python value, or REQUIRED
    example: object = None  # value used for checking a required param
    choices: tuple[object, ...] | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def sample(self) -> object:
        """The value used for checking: default, else example."""
        return self.example if self.required else self.default


@dataclass
class Let:
    name: str
    loc: Loc
    expr: Expr


@dataclass
class Input:
    name: str
    loc: Loc
    shape: list[Expr] | None = None  # None for a list input
    optional: bool = False
    dtype: str = "float"
    items: list[Input] | None = None  # a list input: named tensors, unpacked in forward
    doc: str = ""

    @property
    def tensor_shape(self) -> list[Expr]:
        """The shape of a tensor input: every input but a list input (see Spec.sources)."""
        if self.shape is None:
            raise ValueError(f"input '{self.name}' is a list of tensors: its items have shapes")
        return self.shape


@dataclass
class Ref:
    name: str
    loc: Loc


@dataclass
class Item:
    """One layer of a `seq:` group (or the callee of an op/use node)."""

    name: str  # attribute name inside the Sequential ("0", "1" ... for the list form)
    loc: Loc
    op: str | None = None
    use: str | None = None
    args: dict[str, Expr] = field(default_factory=dict)
    shape: list[Expr] | None = None
    doc: str = ""
    spec: Spec | None = None  # the loaded sub-spec of a `use:` item


@dataclass
class Node:
    name: str
    loc: Loc
    inputs: list[Ref] = field(default_factory=list)
    op: str | None = None
    use: str | None = None
    args: dict[str, Expr] = field(default_factory=dict)
    seq: list[Item] | None = None
    seq_named: bool = False
    each: Expr | None = None  # iterable expression (a list param or let)
    each_var: str | None = None
    shape: list | None = None  # annotation: list[Expr], or list[list[Expr]] with `out`
    shape_loc: Loc | None = None
    when: Expr | None = None
    cases: list[Node] | None = None
    out: list[str] | None = None  # names of several outputs (split)
    map: bool = False
    if_given: Ref | None = None
    doc: str = ""
    spec: Spec | None = None  # loaded sub-spec of a `use:` node
    apply: Ref | None = None  # reuse the layer of another node (shared weights)

    @property
    def kind(self) -> str:
        if self.cases is not None:
            return "cases"
        if self.seq is not None:
            return "seq"
        if self.apply is not None:
            return "apply"
        return "use" if self.use else "op"

    def as_item(self) -> Item:
        return Item(self.name, self.loc, self.op, self.use, self.args, None, self.doc, self.spec)


@dataclass
class Output:
    name: str
    loc: Loc
    when: Expr | None = None


@dataclass
class InitRule:
    op: str
    loc: Loc
    weight: str | None = None
    bias: str | None = None
    options: dict[str, float | str] = field(default_factory=dict)  # std, mean, value; mode, ...


@dataclass
class Spec:
    name: str
    path: Path
    file: str  # the path as shown in diagnostics and headers
    loc: Loc
    title: str = ""
    paper: str = ""
    doc: str = ""
    params: dict[str, Param] = field(default_factory=dict)
    lets: dict[str, Let] = field(default_factory=dict)
    requires: list[Expr] = field(default_factory=list)
    inputs: dict[str, Input] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    output_form: str = "value"  # value | tuple | list
    init: list[InitRule] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # extra names the class is exported as
    extends: str | None = None

    def divisibility(self) -> list[tuple[str, Expr, Expr]]:
        """The `NAME % E == R` requirements, as (NAME, E, R)."""
        out: list[tuple[str, Expr, Expr]] = []
        for req in self.requires:
            t = req.tree
            if (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
                    and isinstance(t.left, ast.BinOp) and isinstance(t.left.op, ast.Mod)
                    and isinstance(t.left.left, ast.Name)):
                out.append((t.left.left.id,
                            Expr(ast.unparse(t.left.right), t.left.right, req.loc),
                            Expr(ast.unparse(t.comparators[0]), t.comparators[0], req.loc)))
        return out

    def sources(self) -> dict[str, Input]:
        """Every tensor the graph can read: inputs and the items of list inputs (each with a
        tensor_shape)."""
        out: dict[str, Input] = {}
        for inp in self.inputs.values():
            if inp.items is None:
                out[inp.name] = inp
            for item in inp.items or ():
                out[item.name] = item
        return out

    def subspecs(self) -> list[Spec]:
        """Sub-specs used by this spec (depth first, each once, dependencies first)."""
        seen: dict[str, Spec] = {}

        def visit(spec: Spec) -> None:
            for child in spec._direct_uses():
                visit(child)
                seen.setdefault(child.name, child)

        visit(self)
        return list(seen.values())

    def _direct_uses(self) -> list[Spec]:
        found = []
        for node in self.nodes.values():
            for n in [node, *(node.cases or [])]:
                if n.spec is not None:
                    found.append(n.spec)
                found.extend(i.spec for i in n.seq or [] if i.spec is not None)
        return found


def is_declaration(node: Node) -> bool:
    """A layer node without `in:` only declares the layer (an attribute in __init__);
    `apply:` nodes call it, possibly several times and from different cases."""
    if node.cases is not None:
        return all(is_declaration(c) for c in node.cases)
    if node.inputs or node.apply is not None or node.if_given is not None or node.map:
        return False
    if node.kind in ("seq", "use"):
        return True
    return node.op is not None and ops.REGISTRY[node.op].module  # the one kind left: "op"


def dim_names(shape: list[Expr]) -> Iterator[tuple[str, Loc]]:
    """(name, loc) of each name an input shape binds (`B, C, H, W = x.shape` in forward)."""
    for dim in shape:
        calls = {id(n.func) for n in ast.walk(dim.tree) if isinstance(n, ast.Call)}
        for n in ast.walk(dim.tree):
            if isinstance(n, ast.Name) and id(n) not in calls:
                yield n.id, dim.loc.shifted(n.col_offset)
