"""ShapeCtx: what an op's shape rule may ask of the shape checker.

A shape rule is `rule(ctx, ins, args) -> shape` (or a list of shapes for an op with
several outputs): `ins` are the input shapes, tuples of dims; `args` maps each argument
name to its value (a dim, a number, a tuple of them, a string, or the declared default).
A dim is an int or a sympy integer expression in the spec's params and free dims
(`C`, `H * W`, `C // 2`): a rule computes with dims as with numbers and never decides an
equality itself, it asks the context, which proves it for every size the spec allows or
reports a counterexample. A rule that finds its inputs wrong calls `ctx.fail` (or lets
`eq`, `divides`, `rank`, ... fail): the checker turns the ShapeFail into a located error,
at the node, or inside an argument's text where the ShapeFail's `at` says.

The checker's implementation is attngen.shape_ctx.ProverCtx.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

from ..errors import SHAPE_RULE, ErrorCode

Dim = Any  # an int or a sympy integer expression
Shape = tuple  # of Dims


def number(v: Dim) -> int | None:
    """`v` as an int if it is a number (not an expression in params or dims)."""
    if isinstance(v, int) or getattr(v, "is_Integer", False):
        return int(v)
    return None


class ShapeFail(Exception):
    """Raised by a shape rule (through ShapeCtx); the checker turns it into a located
    diagnostic with `code` and `notes`."""

    def __init__(self, message: str, code: ErrorCode = SHAPE_RULE, notes: tuple = (),
                 at: tuple[str, int] | None = None, facts: tuple[str, ...] = ()):
        super().__init__(message)
        self.code, self.notes = code, notes
        # (argument name, column in its text): the error is located there, inside the value
        # the spec gives (a column of an einops pattern), instead of at the node
        self.at = at
        # the `requires` lines that would make it hold, where stating them is the whole fix
        # (an output size that falls below 1 for sizes `requires` does not rule out)
        self.facts = facts


class ShapeCtx(Protocol):
    """The questions a shape rule asks; each either answers or raises ShapeFail."""

    def fail(self, message: str, code: ErrorCode = SHAPE_RULE, *notes: str) -> NoReturn:
        """Stop: the inputs or arguments are wrong (`message` says how; `code` an error code
        such as E402 for a wrong argument, E403 for a wrong shape)."""
        ...

    def floor(self, x: Dim) -> Dim:
        """floor(x) of a dim expression (Python's `//` on sizes is `floor(a / b)`)."""
        ...

    def rank(self, shape: Shape, n: int, what: str) -> Shape:
        """`shape`, if it has exactly `n` dims; `what` names it in the error."""
        ...

    def axis(self, d: Dim, rank: int) -> int:
        """A dim index argument (negative counts from the end) as 0 <= index < rank."""
        ...

    def is_minus_one(self, d: Dim) -> bool:
        """Whether `d` is -1 (`view(B, -1)`: the size left over)."""
        ...

    def eq(self, a: Dim, b: Dim, what_a: str, what_b: str) -> None:
        """Require a == b for every allowed size; `what_a`, `what_b` name them in the error."""
        ...

    def divides(self, g: Dim, n: Dim, what: str) -> None:
        """Require n % g == 0 for every allowed size (the error suggests a `requires`)."""
        ...

    def exact_div(self, a: Dim, b: Dim, what: str) -> Dim:
        """a / b, required to divide evenly."""
        ...

    def quotient(self, a: Dim, b: Dim, *, floors_exact: bool = False) -> Dim:
        """a / b, simplified with the facts of `requires` (C / (C // 4) is 4 where C % 4 ==
        0 is stated); not required to divide evenly. `floors_exact`: as if every `//` in b
        divided evenly (C / (C // 4) is 4), what a stated divisibility could make it."""
        ...

    def sizes(self, shape: Shape, what: str) -> None:
        """Require every dim of `shape` to be at least 1 at the default sizes; `what` names
        the shape in the error."""
        ...

    def at_least(self, d: Dim, low: Dim, what: str, size: Dim | None = None) -> None:
        """Require d >= low for every allowed size (reflect padding less than its dim): the
        error gives the `requires` line that states it; `what` names the bound. `size`: the
        output size the bound keeps at least 1, where it is one (a conv's padded input at
        least its kernel's span keeps its output size at least 1); `what` then names that
        size ("Conv2d's output dim 2") and the error shows its value."""
        ...

    def in_bounds(self, value: object, low: float | None, high: float | None,
                  what: str) -> None:
        """Require `value` (or each element of a tuple) within [low, high] at the default
        sizes (None: unbounded); `what` names it in the error."""
        ...

    def broadcast(self, shapes: list[Shape]) -> Shape:
        """The broadcast shape of `shapes` (PyTorch's rules: aligned from the right, each
        dim equal or 1)."""
        ...

    def slice_length(self, size: Dim, start: Dim | None, stop: Dim | None) -> Dim:
        """The length of `start:stop` (Python slice rules, None an open end) of a dim of
        `size`; at least 1 at the default sizes."""
        ...
