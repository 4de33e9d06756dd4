"""An expression tree as generated source: Python (names renamed as __init__ or forward
reads them), and, for a buffer's `init: formula`, torch code over index tensors."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

FUNCTIONS = ("max", "min", "int", "abs", "len", "sum", "log2")
CONSTANTS = {"inf": math.inf, "None": None, "True": True, "False": False}
# the functions a formula (init: formula) may also call, one argument each, as torch has them
FORMULA_FUNCTIONS = ("sin", "cos", "exp", "log", "sqrt")


def _source_atom(text: str) -> ast.Name:
    """A node that ast.unparse writes as `text` exactly: for a call, which binds as tightly
    as a name, so the precedence of the code around it is unaffected. `float("inf")`
    is written so here, where it is made; ast.unparse would quote the string its own way."""
    return ast.Name(text, ast.Load())


class _Renamer(ast.NodeTransformer):
    def __init__(self, rename: Callable[[str], str]) -> None:
        self.rename = rename

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Name) \
                and node.operand.id == "inf":  # -inf reads float("-inf")
            return _source_atom('float("-inf")')
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == "inf":
            return _source_atom('float("inf")')
        if node.id in CONSTANTS or node.id in FUNCTIONS:
            return node
        return ast.Name(self.rename(node.id), ast.Load())

    def visit_Call(self, node: ast.Call) -> ast.expr:
        node.args = [self.visit(a) for a in node.args]
        if isinstance(node.func, ast.Name) and node.func.id == "log2":
            # math is not imported by generated code; log2 via float methods would
            # be obscure, so spell it with the builtin int/float-free identity.
            return ast.Call(ast.Name("_log2", ast.Load()), node.args, [])
        return node


def to_source(tree: ast.expr, rename: Callable[[str], str]) -> str:
    """Source of `tree` with names renamed; rewrites `tree` in place."""
    return ast.unparse(_Renamer(rename).visit(tree))


def _reads(node: ast.AST, names: frozenset[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _call(func: str, *args: ast.expr) -> ast.Call:
    """`torch.func(*args)`."""
    return ast.Call(ast.Attribute(ast.Name("torch", ast.Load()), func, ast.Load()),
                    list(args), [])


class _Torch(ast.NodeTransformer):
    """A formula over index tensors: `a if c else b` with a tensor test becomes
    torch.where, `and`, `or`, `not` of tensors `&`, `|`, `~`, a chained comparison `&` of
    its pairs, and calls torch's functions (a number through a 0-d tensor)."""

    def __init__(self, index: frozenset[str]) -> None:
        self.index = index

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        if not _reads(node.test, self.index):
            return node
        return _call("where", node.test, node.body, node.orelse)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        if not _reads(node, self.index):
            return node
        op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
        out = node.values[0]
        for value in node.values[1:]:
            out = ast.BinOp(out, op, value)
        return out

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and _reads(node, self.index):
            return ast.UnaryOp(ast.Invert(), node.operand)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1 or not _reads(node, self.index):
            return node
        sides = [node.left, *node.comparators]
        pairs = [ast.Compare(a, [op], [b]) for a, op, b in zip(sides, node.ops, sides[1:],
                                                                strict=False)]
        out: ast.expr = pairs[0]
        for pair in pairs[1:]:
            out = ast.BinOp(out, ast.BitAnd(), pair)
        return out

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        tensor = any(_reads(a, self.index) for a in node.args)
        if name in FORMULA_FUNCTIONS or tensor and name in ("abs", "int", "log2"):
            func = {"int": "trunc"}.get(name, name)
            arg = node.args[0] if tensor else ast.Call(  # a number, in float64
                ast.Attribute(ast.Name("torch", ast.Load()), "tensor", ast.Load()),
                [ast.Call(ast.Name("float", ast.Load()), [node.args[0]], [])],
                [ast.keyword("dtype", ast.Attribute(ast.Name("torch", ast.Load()), "float64",
                                                    ast.Load()))])
            return _call(func, arg)
        if tensor and name in ("max", "min"):
            out = node.args[0]
            for arg in node.args[1:]:
                out = _call(f"{name}imum", _call("as_tensor", out), _call("as_tensor", arg))
            return out
        return node


def torch_source(tree: ast.expr, index: frozenset[str], rename: Callable[[str], str]) -> str:
    """Source computing `tree` elementwise over the float index tensors named in `index`
    (other names renamed as __init__ reads them); rewrites `tree` in place."""
    renamed = _Renamer(lambda n: n if n in index else rename(n)).visit(tree)
    return ast.unparse(_Torch(index).visit(renamed))
