"""A generated module's forward instrumented for `attngen verify`: one AST pass adds,
after every assignment in a `forward`, a call that records the shape and the dtype family
of each tensor the statement bound. torch is imported where a value is recorded."""

from __future__ import annotations

import ast
import types
from dataclasses import dataclass, field
from typing import Any, TypeAlias

RECORD = "_attngen_record"
# The shape of a value at run time: a tensor's, a list of tensors', or None (not a tensor).
RuntimeShape: TypeAlias = "tuple[int, ...] | list[tuple[int, ...]] | None"
# Its dtype and dtype family (ops.DTYPES) the same way: ("float32", "float"), a list of them.
RuntimeDtype: TypeAlias = "tuple[str, str] | list[tuple[str, str]] | None"


class _Instrument(ast.NodeTransformer):
    """After each assignment in a forward: _attngen_record(self, "name", name) per name."""

    def visit_FunctionDef(self, fn: ast.FunctionDef) -> ast.FunctionDef:
        if fn.name == "forward":
            fn.body = self._block(fn.body)
        return fn

    def _block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            for attr in ("body", "orelse"):
                if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With)) and hasattr(
                    stmt, attr
                ):
                    setattr(stmt, attr, self._block(getattr(stmt, attr)))
            out.append(stmt)
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    for n in names:
                        if isinstance(n, ast.Name):
                            out.append(ast.Expr(ast.Call(
                                ast.Name(RECORD, ast.Load()),
                                [ast.Name("self", ast.Load()), ast.Constant(n.id),
                                 ast.Name(n.id, ast.Load())], [])))
        return out


@dataclass
class Recorder:
    """What the instrumented forward of `root` (the module under test) recorded."""

    root: object = None
    shapes: dict[str, RuntimeShape] = field(default_factory=dict)
    dtypes: dict[str, RuntimeDtype] = field(default_factory=dict)

    def clear(self, root: object) -> None:
        self.root, self.shapes, self.dtypes = root, {}, {}

    def record(self, name: str, value: object) -> None:
        self.shapes[name], self.dtypes[name] = runtime_shape(value), runtime_dtype(value)


def instrumented_namespace(source: str, filename: str) -> tuple[dict[str, Any], Recorder]:
    """Execute the instrumented source; returns (namespace, recorder state)."""
    tree = ast.fix_missing_locations(_Instrument().visit(ast.parse(source, filename)))
    state = Recorder()

    def record(module: object, name: str, value: object) -> None:
        if module is state.root:
            state.record(name, value)

    name = f"_attngen_verify_{abs(hash(filename))}"
    namespace = {"__name__": name, RECORD: record}
    module = types.ModuleType(name)
    module.__dict__.update(namespace)
    exec(compile(tree, filename, "exec"), module.__dict__)  # noqa: S102  (our generated source)
    return module.__dict__, state


def _tensors(value: object) -> list[Any] | None:
    """[value] for a tensor, the items of a non-empty list or tuple of tensors, else None."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, torch.Tensor) for v in value):
        return list(value)
    return None


def runtime_shape(value: object) -> RuntimeShape:
    tensors = _tensors(value)
    if tensors is None:
        return None
    shapes = [tuple(t.shape) for t in tensors]
    return shapes if isinstance(value, (list, tuple)) else shapes[0]


def runtime_dtype(value: object) -> RuntimeDtype:
    tensors = _tensors(value)
    if tensors is None:
        return None
    dtypes = [(str(t.dtype).removeprefix("torch."), dtype_family(t)) for t in tensors]
    return dtypes if isinstance(value, (list, tuple)) else dtypes[0]


def dtype_family(tensor: Any) -> str:
    """The checker's name for a tensor's dtype: bool, int, float or complex."""
    import torch

    if tensor.dtype == torch.bool:
        return "bool"
    if tensor.is_complex():
        return "complex"
    return "float" if tensor.is_floating_point() else "int"
