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
        self.bound: frozenset[str] = frozenset()  # comprehension variables in scope

    def visit_ListComp(self, node: ast.ListComp) -> ast.AST:
        gen = node.generators[0]  # one `for` (expr._check)
        gen.iter = self.visit(gen.iter)
        outer = self.bound
        self.bound = outer | {gen.target.id} if isinstance(gen.target, ast.Name) else outer
        node.elt = self.visit(node.elt)
        gen.ifs = [self.visit(c) for c in gen.ifs]
        self.bound = outer
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Name) \
                and node.operand.id == "inf":  # -inf reads float("-inf")
            return _source_atom('float("-inf")')
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == "inf":
            return _source_atom('float("inf")')
        if node.id in CONSTANTS or node.id in FUNCTIONS or node.id in self.bound:
            return node
        return ast.Name(self.rename(node.id), ast.Load())

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        """`tuple(self.gl) == (1, 2)` for `gl == [1, 2]`: items compared, whether the list
        param holds a list or a tuple, as the checker compares them (expr._seq)."""
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq | ast.NotEq) \
                or not any(isinstance(o, ast.List | ast.Tuple) for o in operands):
            return node
        left, right = (ast.Tuple(o.elts, ast.Load()) if isinstance(o, ast.List | ast.Tuple)
                       else ast.Call(ast.Name("tuple", ast.Load()), [o], []) for o in operands)
        return ast.Compare(left, node.ops, [right])

    def visit_Call(self, node: ast.Call) -> ast.expr:
        node.args = [self.visit(a) for a in node.args]
        if isinstance(node.func, ast.Name) and node.func.id in ("max", "min") \
                and len(node.args) == 1 \
                and not isinstance(node.args[0], ast.List | ast.Tuple | ast.ListComp):
            return node.args[0]  # max(x) of a number is x (Python's max wants a list)
        if isinstance(node.func, ast.Name) and node.func.id == "log2":
            # math is not imported by generated code; log2 via float methods would
            # be obscure, so spell it with the builtin int/float-free identity.
            return ast.Call(ast.Name("_log2", ast.Load()), node.args, [])
        return node


def to_source(tree: ast.expr, rename: Callable[[str], str]) -> str:
    """Source of `tree` with names renamed; rewrites `tree` in place."""
    return ast.unparse(_Renamer(rename).visit(tree))


_COMPARES = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_NUMBER_CALLS = (*FORMULA_FUNCTIONS, "abs", "int", "log2", "max", "min", "len", "sum")


def formula_fault(tree: ast.expr, index: frozenset[str], flags: frozenset[str]) -> str:
    """Why a formula would not compute in torch as Python reads it, or '': numbers and
    truth values are kept apart (torch's `&` of numbers, `~` of a long tensor, a bool
    tensor's sum are not Python's `and`, `not`, `True + True`), and a list holds no index
    (its items would be tensors, typed apart from this check). `flags`: the bool params."""
    def kind(node: ast.expr) -> str:
        match node:
            case ast.Constant(value=bool()):
                return "truth"
            case ast.Constant(value=int() | float()):
                return "number"
            case ast.Name(id=name):
                return "truth" if name in flags or name in ("True", "False") else "number"
            case ast.BinOp(left, _, right):
                if kind(left) == kind(right) == "number":
                    return "number"
                raise ValueError(f"arithmetic on a truth value ('{ast.unparse(node)}'): write "
                                 "the number it stands for, `1.0 if ... else 0.0`")
            case ast.UnaryOp(ast.Not(), operand):
                if kind(operand) == "truth":
                    return "truth"
                raise ValueError(f"'not' of a number ('{ast.unparse(node)}'): compare it "
                                 "(`x == 0`)")
            case ast.UnaryOp(_, operand):
                return number(operand)
            case ast.BoolOp(_, values):
                if all(kind(v) == "truth" for v in values):
                    return "truth"
                raise ValueError(f"'and'/'or' of numbers ('{ast.unparse(node)}'): compare "
                                 "them (`x > 0 and y > 0`)")
            case ast.Compare(left, ops, comparators):
                if not all(isinstance(op, _COMPARES) for op in ops):
                    raise ValueError(f"'in' or 'is' in a formula ('{ast.unparse(node)}'): "
                                     "compare with == and !=")
                for side in (left, *comparators):
                    number(side)
                return "truth"
            case ast.IfExp(test, body, orelse):
                if kind(test) != "truth":
                    raise ValueError(f"the test of 'if' is a number ('{ast.unparse(test)}'): "
                                     "compare it (`x != 0`)")
                number(orelse)
                return number(body)
            case ast.Call(func=ast.Name(id=name)) if name in _NUMBER_CALLS:
                if name not in ("len", "sum"):
                    for arg in node.args:
                        number(arg)
                elif _reads(node, index):
                    raise ValueError(f"'{ast.unparse(node)}' sums a list of the index: add "
                                     "its items")
                return "number"
            case ast.Subscript() if not _reads(node, index):
                return "number"
            case ast.Subscript():
                raise ValueError(f"a list holding the index ('{ast.unparse(node)}'): write "
                                 "the choice with `if`")
        raise ValueError(f"'{ast.unparse(node)}' is no number")

    def number(node: ast.expr) -> str:
        if kind(node) != "number":
            raise ValueError(f"'{ast.unparse(node)}' is a truth value where a number is "
                             "needed: write `1.0 if ... else 0.0`")
        return "number"

    try:
        number(tree)
    except ValueError as exc:
        return str(exc)
    return ""


def _reads(node: ast.AST, names: frozenset[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _call(func: str, *args: ast.expr) -> ast.Call:
    """`torch.func(*args)`."""
    return ast.Call(ast.Attribute(ast.Name("torch", ast.Load()), func, ast.Load()),
                    list(args), [])


class _Torch(ast.NodeTransformer):
    """A formula over index tensors: `a if c else b` with a tensor test becomes
    torch.where, `and`, `or`, `not` of tensors `&`, `|`, `~`, a chained comparison `&` of
    its pairs, and calls torch's functions; a number that meets a tensor in a call is made
    one of the index's dtype and device (`p.new_tensor(0.5)`)."""

    def __init__(self, index: frozenset[str], carrier: str) -> None:
        self.index, self.carrier = index, carrier

    def tensor(self, node: ast.expr) -> ast.expr:
        """`node` as a tensor of the index's dtype where it reads no index."""
        if _reads(node, self.index):
            return node
        return ast.Call(ast.Attribute(ast.Name(self.carrier, ast.Load()), "new_tensor",
                                      ast.Load()), [node], [])

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        if not _reads(node.test, self.index):  # decided in Python: a tensor either way
            if _reads(node.body, self.index) or _reads(node.orelse, self.index):
                node.body, node.orelse = self.tensor(node.body), self.tensor(node.orelse)
            return node
        return _call("where", node.test, self.tensor(node.body), self.tensor(node.orelse))

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
        name = "log2" if name == "_log2" else name  # to_source's helper: torch has it
        tensor = any(_reads(a, self.index) for a in node.args)
        if name in (*FORMULA_FUNCTIONS, "log2") or tensor and name in ("abs", "int"):
            return _call({"int": "trunc"}.get(name, name), self.tensor(node.args[0]))
        if tensor and name in ("max", "min"):
            out = self.tensor(node.args[0])
            for arg in node.args[1:]:
                out = _call(f"{name}imum", out, self.tensor(arg))
            return out
        return node


def _full(node: ast.expr, index: frozenset[str]) -> bool:
    """Whether `node`, as torch_source writes it, has the index tensors' shape whichever
    way its Python `if`s go (a branch that reads no index is a number or a 0-d tensor)."""
    match node:
        case ast.Name(id=name):
            return name in index
        case ast.IfExp(test, body, orelse) if not _reads(test, index):
            return _full(body, index) and _full(orelse, index)
        case ast.IfExp(test, _, _):  # torch.where: the test's shape
            return True
        case ast.Subscript():
            return False
    return any(_full(child, index) for child in ast.iter_child_nodes(node)
               if isinstance(child, ast.expr))


def torch_source(tree: ast.expr, index: tuple[str, ...], rename: Callable[[str], str]) -> str:
    """Source computing `tree` (formula_fault passes it) elementwise over the float index
    tensors named in `index`, of the index's shape, dtype and device (other names renamed
    as __init__ reads them); rewrites `tree` in place."""
    names, carrier = frozenset(index), index[0]
    full = _full(tree, names)
    renamed = _Renamer(lambda n: n if n in names else rename(n)).visit(tree)
    out = _Torch(names, carrier).visit(renamed)
    if not full:  # a number or a 0-d tensor in some branch: the tensor's shape
        out = ast.BinOp(out, ast.Add(), _call("zeros_like", ast.Name(carrier, ast.Load())))
    return ast.unparse(out)
