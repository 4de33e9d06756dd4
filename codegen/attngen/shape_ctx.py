"""The checker's ShapeCtx (ops/ctx.py): op shape rules' questions, answered by a Prover.

Besides what rules ask, it checks what the checker asks of every op: argument types
(of_type), argument ranges (in_bounds) and sizes of at least 1 (sizes), at the default
sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any, NoReturn, cast

import sympy

from . import algebra, bounds
from .dims import fmt_dim, fmt_shape, is_dim, name_of, to_number
from .errors import (
    BAD_ARGUMENTS,
    REQUIREMENT_FAILS,
    SHAPE_RULE,
    UNSTATED_DIVISIBILITY,
    ErrorCode,
    SpecError,
    flow_list,
    guarded,
)
from .expr import Expr
from .model import Let, Spec, compute_lets, divisibility_fact
from .ops.base import Arg, form
from .ops.ctx import Dim, Shape, ShapeFail
from .prover import Prover, requirement_text, sample_text
from .yamlload import unquote_hint


class ProverCtx:
    """ShapeCtx for one configuration of one spec: equalities go to its Prover. `requires`
    and `known` (the values of params and lets), where given, let a bound (at_least) look
    for input sizes that break it beyond the prover's samples; `lets` are recomputed at
    each size tried (a let over an input dim or param that `requires` reads)."""

    def __init__(self, prover: Prover, requires: list[Expr] | None = None,
                 known: Mapping[str, object] | None = None,
                 lets: Iterable[Let] = ()) -> None:
        self.prover = prover
        self.requires, self.known, self.lets = requires, dict(known or {}), list(lets)
        self.sizes_text = "the default sizes"  # where values are judged (verify: a sample's)
        self._held: list[list[Callable[[], None]]] = []  # see hold_bounds
        # gaps no sample broke: the samples are this context's, so asking again (the same
        # window in another layer, a shape checked twice) would find none again
        self._unbroken: set[Any] = set()
        self._small: dict[tuple[Any, ...], list[dict[Any, Any]]] = {}  # _small_samples

    def hold_bounds(self) -> None:
        """Hold the bounds on output sizes (at_least with `size`, then sizes with `held`)
        asked from now until judge_bounds: a node's annotation is unified first, so that a
        shape that is wrong (an unpadded conv annotated as keeping H) reads as the mismatch
        it is, not as a bound of the wrong shape to state. Nested for the nodes of a `use:`;
        a node that fails leaves its frame, never judged: rules ask only inside a frame of
        their own node, which lies above it."""
        self._held.append([])

    def judge_bounds_so_far(self) -> None:
        """Judge the bounds held so far and hold on: the layers of a `seq` before a sub-module
        (a stem conv's H >= patch_size is the error, not the sub-module's view of the size
        it makes). Raises what judge_bounds finds."""
        unstated = self.judge_bounds()
        self.hold_bounds()
        if unstated is not None:
            raise unstated

    def judge_bounds(self) -> ShapeFail | None:
        """Check the bounds held since the last hold_bounds, in the order asked. The first
        that fails is the error; where it needs only a `requires` line, every such line the
        node needs joins it (H >= 3 and W >= 3 for a 3x3 conv: one paste fixes both), and
        it is returned, not raised, when nothing else failed: the node's shape stands."""
        failed: list[ShapeFail] = []
        for check in self._held.pop():
            try:
                check()
            except ShapeFail as exc:
                if not failed and not exc.facts:
                    raise
                failed.append(exc)
        if not failed:
            return None
        unstated = [exc for exc in failed if exc.facts]
        joined = unstated[0] if len(unstated) == 1 else _joined(unstated)
        if len(unstated) < len(failed):  # a size at the defaults too, which `requires` moves
            raise joined
        return joined

    def fail(self, message: str, code: ErrorCode = SHAPE_RULE, *notes: str) -> NoReturn:
        raise ShapeFail(message, code, notes)

    def floor(self, x: Dim) -> Dim:
        return algebra.floor(x)

    def rank(self, shape: Shape, n: int, what: str) -> Shape:
        if len(shape) != n:
            self.fail(f"{what} must have {n} dims, got {len(shape)}: {fmt_shape(shape)}")
        return shape

    def axis(self, d: Dim, rank: int) -> int:
        v = to_number(d) if not isinstance(d, int) else d
        if not isinstance(v, int):
            free = sorted(str(s) for s in algebra.sympify(d).free_symbols)
            self.fail(f"dim {fmt_dim(d)} must be a whole number: a literal (1, -1) or an "
                      "expression over `choices` params" + (
                          f"; {', '.join(free)} stands for any size (an int param or a dim)"
                          if free else ""))
        if not -rank <= v < rank:
            self.fail(f"dim {v} is out of range for a {rank}-D tensor")
        return v % rank

    def is_minus_one(self, d: Dim) -> bool:
        return algebra.sympify(d) == -1

    def eq(self, a: Dim, b: Dim, what_a: str, what_b: str) -> None:
        ok, sample = self.prover.equal(a, b)
        if ok:
            return
        notes = [self.prover.counterexample(sample, a, b)]
        hint = self.prover.hint(a, b)
        code = UNSTATED_DIVISIBILITY if hint else SHAPE_RULE
        if hint:
            notes.append(hint)
        self.fail(f"{what_a} is {fmt_dim(a)} but {what_b} is {fmt_dim(b)}", code, *notes)

    def divides(self, g: Dim, n: Dim, what: str) -> None:
        if to_number(g) == 1:
            return
        ok, sample = self.prover.divisible(n, g)
        if not ok and not algebra.sympify(n / g).free_symbols:  # numbers: no line to state
            self.fail(f"{what}: {fmt_dim(n)} is not divisible by {fmt_dim(g)}", BAD_ARGUMENTS)
        if not ok:
            at = self.prover.value(n), self.prover.value(g)
            names = {name_of(s) for s in algebra.sympify(n / g).free_symbols}
            # another configuration's: the line under its guard (`not grouped or c % 4 == 0`)
            guard = self.prover.scope.guard if self.prover.scope is not None else ""
            if not guard and self.prover.defaults_break(names, at[0] % at[1] == 0 if isinstance(
                    at[0], int) and isinstance(at[1], int) and at[1] > 0 else None):
                self.fail(f"{what}: {fmt_dim(n)} is not divisible by {fmt_dim(g)} at the "
                          f"defaults ({at[0]} by {at[1]}): no `requires` line makes it hold "
                          "there", BAD_ARGUMENTS)
            self.fail(
                f"{what}: {fmt_dim(n)} is not always divisible by {fmt_dim(g)}",
                UNSTATED_DIVISIBILITY,
                self.prover.counterexample(sample, n, g),
                "if the module relies on it, state it: requires: "
                + flow_list([guarded(guard, requirement_text(n, g))]),
            )

    def exact_div(self, a: Dim, b: Dim, what: str) -> Dim:
        # a by a // k: a multiple of k is what a spec states (C % 4 == 0, not C % (C // 4))
        by = algebra.sympify(b)
        k = sympy.fraction(sympy.together(by.args[0])) if isinstance(by, sympy.floor) else None
        if k is not None and k[1].is_Number and sympy.expand(k[0] - a) == 0:
            self.divides(k[1], a, f"{what} must divide evenly")
        else:
            self.divides(b, a, f"{what} must divide evenly")
        return self.quotient(a, b)

    def quotient(self, a: Dim, b: Dim, *, floors_exact: bool = False) -> Dim:
        by = algebra.sympify(b)
        if floors_exact:
            by = by.replace(sympy.floor, lambda arg: arg)
        q = algebra.tidy(algebra.sympify(a) / by)  # 36 / 9 is 4, not Python's 4.0
        if not q.is_Number and self.prover.rewrites:  # channel / (channel // 4) is 4 when
            known = algebra.tidy(q.xreplace(self.prover.rewrites))  # `requires` says 4 divides it
            return known if known.is_Number else q
        return q

    def at_least(self, d: Dim, low: Dim, what: str, size: Dim | None = None) -> None:
        """d >= low for every size `requires` allows (the prover's samples, then small input
        sizes). `size`: the output size the bound keeps at least 1 (a window count), named
        in the error with its value at the counterexample (held while hold_bounds says)."""
        if size is not None and self._held:
            self._held[-1].append(partial(self._at_least, d, low, what, size))
            return
        self._at_least(d, low, what, size)

    def _at_least(self, d: Dim, low: Dim, what: str, size: Dim | None) -> None:
        gap = algebra.sympify(d) - algebra.sympify(low)
        if gap in self._unbroken or bounds.least_is_nonnegative(gap) or self._proven(gap):
            return
        for sample in self._breaking(gap):
            stmt = bounds.at_least_text(d, low, gap)
            names = sorted(str(s) for s in gap.free_symbols)
            scope = self.prover.scope
            notes = [f"counterexample: {sample_text(names, sample)}" + (
                "" if size is None else f": {fmt_dim(size)} = {self.prover.value(size, sample)}"
            )] if names and sample else []
            if size is None:
                unstated = f"{what} needs {stmt}, which `requires` does not state"
                fails = f"{what} needs {stmt}, which fails" + (
                    "" if names else f": {fmt_dim(d)} < {fmt_dim(low)}")
            else:  # `what` names an output size that falls below 1
                below = f"{what}, {fmt_dim(size)}, falls below 1 where {bounds.negated(stmt)}"
                unstated = f"{below}: `requires` does not state {stmt}"
                fails = below if names else \
                    f"{what} is {self.prover.value(size)} (must be at least 1)"
            if names and scope is not None and set(names) <= scope.names:
                at_default = self.prover.value(gap)
                if self.prover.defaults_break(set(names), None if at_default is None
                                              else at_default >= 0):
                    self._at_defaults(stmt, what, size, names)  # no line to add
                fact = guarded(scope.guard, stmt)
                notes.append(f"if the module relies on it, state it: requires: "
                             f"{flow_list([fact])}")
                raise ShapeFail(unstated, UNSTATED_DIVISIBILITY, tuple(notes), facts=(fact,))
            self.fail(fails, SHAPE_RULE, *notes)
        self._unbroken.add(gap)

    def _at_defaults(self, stmt: str, what: str, size: Dim | None, names: list[str]
                     ) -> NoReturn:
        """E402: the defaults break the bound, so `requires: [stmt]` would not hold."""
        at = f"defaults: {sample_text(names, self.prover.default())}"
        fails = f"{what} needs {stmt}, which the defaults break" if size is None else \
            f"{what}, {fmt_dim(size)}, is {self.prover.value(size)} at the defaults (must " \
            "be at least 1)"
        self.fail(fails, BAD_ARGUMENTS, at, f"change the defaults so that {stmt} holds")

    def _proven(self, gap: Any) -> bool:
        """gap >= 0 proven from its form where its floors need `requires` (an odd kernel
        size: kernel_size = 2*q + 1 makes H - kernel_size + 2*floor(kernel_size/2 - 1/2)
        H - 1) or their least values (2*floor(k/2) >= k - 1): a gap the samples could not
        break, so none is drawn."""
        if not gap.has(sympy.floor):
            return False
        residues = bounds.residues(self.requires or [], gap.free_symbols)
        return bounds.proven(gap, tuple(residues.items()))

    def _breaking(self, gap: Any) -> Iterator[dict[Any, Any]]:
        """The samples of _bound_samples where gap < 0 (a bound d - low >= 0 fails)."""
        for sample in self._bound_samples(gap):
            value = self.prover.value(gap, sample or None)
            if value is not None and value < 0:
                yield sample

    def _bound_samples(self, gap: Any) -> Iterator[dict[Any, Any]]:
        """The prover's samples, then the default one with each input dim of `gap` set to
        small and large sizes, then all of them to the same small size, where `requires`
        holds there (random sizes seldom reach the few that break a bound such as W >= 5,
        or nq * nk >= 2)."""
        yield from self.prover.samples or [{}]
        base = self.prover.default()
        if self.requires is None or not base:
            return
        free = sorted((s for s in gap.free_symbols if s in base and name_of(s) not in self.known),
                      key=str)
        for syms in [*((sym,) for sym in free), *([tuple(free)] if len(free) > 1 else [])]:
            yield from self._small_samples(syms, base)

    def _small_samples(self, syms: tuple[Any, ...], base: dict[Any, Any]) -> list[dict[Any, Any]]:
        """`base` with one symbol at small and large sizes, or several all at 1, 2, 3, where
        `requires` holds; memoized: the same for every gap of this context."""
        if syms not in self._small:
            sizes = (1, 2, 3, 4, 5, 6, 8, 12, 16, 32, 64) if len(syms) == 1 else (1, 2, 3)
            found = []
            for size in sizes:
                sample = {**base, **dict.fromkeys(syms, sympy.Integer(size))}
                env = {**self.known, **{name_of(k): int(v) for k, v in sample.items()}}
                try:
                    compute_lets(self.lets, env)
                    if all(req.value(env) for req in cast(list, self.requires)):
                        found.append(sample)
                except (SpecError, ZeroDivisionError, TypeError, ValueError):
                    continue
            self._small[syms] = found
        return self._small[syms]

    def of_type(self, value: object, arg: Arg, what: str, text: str) -> None:
        """`value`, written `text` in the spec, is of `arg`'s declared type (ops.ARG_TYPES)."""
        found = value_form(value)
        if arg.accepts(found):
            return
        if isinstance(found, tuple) and arg.kind == "mapping":
            what_it_is = "a size that is not a whole number"
        elif isinstance(found, tuple):
            what_it_is = "a list"
        else:
            what_it_is = {"int": "a whole number", "float": "not a whole number",
                          "bool": "a bool", "str": "a string", "none": "null"}.get(
                              str(found), "not a number")
        notes = ["write // for a whole-number division"] if "/" in text and "//" not in text \
            and (found == "float" or arg.kind == "mapping") else []
        hint = unquote_hint(value) if found == "str" else None
        if hint and (arg.accepts("float") or arg.accepts("int")):
            notes.append(hint if text.strip() == value else f"{text} is {value!r}: {hint}")
        if arg.hint:
            notes.append(arg.hint)
        self.fail(
            f"{what} must be {arg.describe()}, got {text} ({what_it_is})", BAD_ARGUMENTS, *notes
        )

    def in_bounds(self, value: object, low: float | None, high: float | None,
                  what: str) -> None:
        """`value` (or each element of a tuple) within [low, high] at the default sizes; a
        value that is not a number there (a free dim) is not judged."""
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if v is None or isinstance(v, (bool, str)):
                continue
            n = v if isinstance(v, (int, float)) else self.prover.value(v)
            if n is None or (low is None or n >= low) and (high is None or n <= high):
                continue
            want = (f"at least {low:g}" if high is None else f"at most {high:g}"
                    if low is None else f"from {low:g} to {high:g}")
            self.fail(f"{what} is {n!r} at {self.sizes_text} (must be {want})", BAD_ARGUMENTS)

    def sizes(self, shape: Shape, what: str, *, held: bool = False) -> None:
        """Every dim of `shape` at least 1 at the default sizes: a zero or negative size
        there (channel // reduction with channel < reduction) is an empty or unbuildable
        layer in the default module. The dims are whole numbers or integer expressions
        (checked where they are made); positive symbols (free dims, size params) need no
        evaluation. `held`: judged after the bounds held with it (an op's output: a bound
        on a window count names the line that fixes what this reports at the defaults)."""
        if held and self._held:
            self._held[-1].append(partial(self.sizes, shape, what))
            return
        for i, d in enumerate(shape):
            if isinstance(d, sympy.Symbol) and d.is_positive:  # a free dim or size param
                continue
            v = d if isinstance(d, int) else self.prover.value(d)
            if v is not None and v < 1:
                names = sorted(str(n) for n in algebra.sympify(d).free_symbols)
                shown = sample_text(names, self.prover.default())
                self.fail(
                    f"dim {i} of {what}, {fmt_dim(d)}, is {v} at {self.sizes_text} "
                    "(must be at least 1)",
                    SHAPE_RULE,
                    f"defaults: {shown}" if shown else "",
                )

    def broadcast(self, shapes: list[Shape]) -> Shape:
        rank = max(len(s) for s in shapes)
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
        out = []
        for i in range(rank):
            dims = [p[i] for p in padded if algebra.sympify(p[i]) != 1]
            if not dims:
                out.append(padded[0][i])
                continue
            for other in dims[1:]:
                ok, sample = self.prover.equal(dims[0], other)
                if not ok:
                    hint = self.prover.equality_hint(dims[0], other)
                    self.fail(f"cannot broadcast {' and '.join(fmt_shape(s) for s in shapes)}: "
                              f"dim {i} is {fmt_dim(dims[0])} vs {fmt_dim(other)}",
                              UNSTATED_DIVISIBILITY if hint else SHAPE_RULE,
                              self.prover.counterexample(sample, dims[0], other), hint)
            out.append(dims[0])
        return tuple(out)

    def slice_length(self, size: Dim, start: Dim | None, stop: Dim | None) -> Dim:
        def norm(v: Dim | None, default: Dim) -> Dim:
            if v is None:
                return default
            sign = self._sign(v)
            return size + v if sign < 0 else v

        lo, hi = norm(start, 0), norm(stop, size)
        if start is not None and not isinstance(lo, int) and lo != start:  # counted from the end
            self._reaches_back(size, start)
        hi, size = algebra.sympify(hi), algebra.sympify(size)
        # Min's own answer where it needs no search for bounds (a millisecond a call)
        if hi == size:
            length = size - lo
        elif hi.is_Number and size.is_Number:
            length = min(hi, size) - lo
        else:
            length = sympy.Min(hi, size) - lo
        value = self.prover.value(length)
        if value is not None and value < 1:
            self.fail(f"slice keeps {fmt_dim(length)} = {value} elements at {self.sizes_text}")
        if algebra.sympify(length).free_symbols:  # and on the samples, drawn where `requires`
            self._non_empty(length, size, lo, hi)  # holds (x[:, 3] needs C >= 4)
        return algebra.tidy(length) if not isinstance(length, int) else length

    def _non_empty(self, length: Dim, size: Dim, lo: Dim, hi: Dim) -> None:
        gap = algebra.sympify(length) - 1  # at small sizes too: x[:, 3] on C = 1, 2 or 3
        sample = next(self._breaking(gap), None)
        if sample is None:
            return
        names = sorted(str(s) for s in algebra.sympify(length).free_symbols)
        notes = [f"counterexample: {sample_text(names, sample)}: {fmt_dim(length)} = "
                 f"{self.prover.value(length, sample)}"]
        need = algebra.tidy(algebra.sympify(lo) + 1)
        by_size = not (algebra.sympify(need).free_symbols & algebra.sympify(size).free_symbols)
        wide = self.prover.value(algebra.sympify(hi) - lo, sample)
        if by_size and wide is not None and wide >= 1:  # too short a dim, not an empty range
            notes.append(f"if the module relies on it, state it: requires: "
                         f"[{fmt_dim(size)} >= {fmt_dim(need)}]")
            self.fail(f"slice keeps {fmt_dim(length)} elements: none where {fmt_dim(size)} < "
                      f"{fmt_dim(need)}", UNSTATED_DIVISIBILITY, *notes)
        if not gap.has(sympy.Min, sympy.Max):  # x[:, 1:] or x[:, :-2]: a bound on the dim
            self._at_least(length, 1, f"a slice of {fmt_dim(length)} elements", None)
        self.fail(f"slice keeps {fmt_dim(length)} elements, fewer than 1 for some sizes",
                  SHAPE_RULE, *notes)

    def _reaches_back(self, size: Dim, start: Dim) -> None:
        """A start counted from the end (x[:, -3:]) keeps -start elements only where the dim
        has them: torch clamps it to the dim's first element, so C < 3 keeps C, not 3."""
        need = algebra.tidy(-algebra.sympify(start))
        self.at_least(size, need, f"a slice starting {fmt_dim(need)} from the end of the dim")

    def _sign(self, v: Dim) -> int:
        v = algebra.sympify(v)
        if v.is_negative:
            return -1
        if v.is_nonnegative:
            return 1
        values = [self.prover.value(v, s) for s in self.prover.samples]
        signs = {value < 0 for value in values if value is not None}
        if len(signs) != 1:
            self.fail(f"cannot tell whether slice bound {fmt_dim(v)} is negative")
        return -1 if signs.pop() else 1


def _joined(failed: list[ShapeFail]) -> ShapeFail:
    """One error for several bounds that each need a `requires` line: the first's message
    and counterexample, a note per other bound, and one line stating them all."""
    first, others = failed[0], failed[1:]
    facts = list(dict.fromkeys(fact for exc in failed for fact in exc.facts))
    notes = [n for n in first.notes if not n.startswith("if the module relies on it")]
    notes += [f"and {exc}" for exc in others]
    notes.append(f"if the module relies on them, state them: requires: {flow_list(facts)}")
    return ShapeFail(str(first), first.code, tuple(notes), first.at, tuple(facts))


def value_form(value: object) -> object:
    """The form of an argument value (ops.base.form), sympy values included: an expression
    is whole by its form (`c // 2`, `c * k`), not by its value at some sizes (`c / 2`)."""
    if isinstance(value, (tuple, list, sympy.Tuple)):
        return tuple(value_form(v) for v in value)
    if isinstance(value, sympy.Expr):
        # the form first: sympy's is_integer searches (milliseconds on a quotient)
        return "int" if algebra.is_integer_form(value) or value.is_integer else "float"
    if isinstance(value, sympy.logic.boolalg.Boolean):  # a condition: `channel > 8`
        return "bool"
    return form(value)


def check_requirements(prover: Prover, spec: Spec, sym: dict[str, Any],
                       ctx: ProverCtx | None = None) -> None:
    """A sub-spec's `requires` at its call, in the caller's terms (`sym` maps the sub-spec's
    params and input dims to the caller's values): a divisibility the caller does not
    guarantee is E404 with the line the caller must state, and so is a bound (`W >= 5`)
    where `ctx` (the caller's) is given; any other requirement that fails on a sample is
    E405. Raised as a ShapeFail, so it is located at the `use:` node."""
    for req in spec.requires:
        found = divisibility_fact(req)
        try:
            if found is not None and found[0] in sym:
                name, divisor, rest = found
                fact = (algebra.sympify(sym[name]), algebra.sympify(divisor.sympy(sym)),
                        algebra.sympify(rest.sympy(sym)))
            else:
                fact, held = None, req.sympy(sym)
        except (SpecError, TypeError, ValueError):
            continue  # not decidable here: the sub-spec's nodes are checked all the same
        if fact is not None:
            if all(is_dim(v) for v in fact):
                _check_divisibility(prover, spec, req.text, *fact)
            continue
        if isinstance(held, sympy.Eq) and is_dim(held.lhs) and is_dim(held.rhs) \
                and _equality_holds(prover, spec, req.text, held.lhs, held.rhs):
            continue
        # bounds (`H >= r and W >= r`: each part) asked for every size the caller allows
        found_bounds = [_bound(part) for part in (held.args if isinstance(held, sympy.And)
                                                  else [held])]
        bounds = [b for b in found_bounds if b is not None]
        if ctx is not None and bounds and len(bounds) == len(found_bounds):
            failed = []
            for d, low in bounds:
                try:
                    ctx.at_least(d, low, f"{spec.name}'s requirement {req.text}")
                except ShapeFail as exc:
                    failed.append(exc)
            if len(failed) > 1 and all(exc.facts for exc in failed):
                raise _joined(failed)  # one paste for every line the requirement needs
            if failed:
                raise failed[0]
            continue
        for sample in [{}] if held in (True, False) else prover.samples:
            value = held if held in (True, False) else held.xreplace(sample)
            if value in (True, False) and not value:
                names = sorted(str(s) for s in getattr(held, "free_symbols", ()))
                given = ", ".join(f"{n}={fmt_dim(sym[n])}" for n in sorted(req.names)
                                  if n in sym and is_dim(sym[n]) and fmt_dim(sym[n]) != n)
                raise ShapeFail(f"{spec.name} requires {req.text}, which does not hold here",
                                REQUIREMENT_FAILS, (f"passed: {given}" if given else "",
                                                    f"counterexample: {sample_text(names, sample)}"
                                                    if names else ""))


def _bound(held: Any) -> tuple[Dim, Dim] | None:
    """(d, low) where `held` says d >= low of whole numbers (>, <= and < alike), else None."""
    if not isinstance(held, sympy.core.relational.Relational) or not (
            is_dim(held.lhs) and is_dim(held.rhs)):
        return None
    if isinstance(held, (sympy.Ge, sympy.Gt)):
        big, small = held.lhs, held.rhs
    elif isinstance(held, (sympy.Le, sympy.Lt)):
        big, small = held.rhs, held.lhs
    else:
        return None
    return big, small + 1 if isinstance(held, (sympy.Gt, sympy.Lt)) else small


def _check_divisibility(prover: Prover, spec: Spec, text: str, n: Dim, d: Dim, r: Dim) -> None:
    ok, sample = prover.divisible(n, d) if r == 0 else prover.equal(sympy.Mod(n, d), r)
    if ok:
        return
    stmt = requirement_text(n, d, r)
    if not (n.free_symbols or d.free_symbols):
        raise ShapeFail(f"{spec.name} requires {text}, which does not hold here ({stmt})",
                        REQUIREMENT_FAILS)
    raise ShapeFail(f"{spec.name} requires {text}: here {stmt} is not always true",
                    UNSTATED_DIVISIBILITY, (prover.counterexample(sample, n, d),
                                            f"state it where {spec.name} is used: "
                                            f"requires: [{stmt}]"))


def _equality_holds(prover: Prover, spec: Spec, text: str, a: Dim, b: Dim) -> bool:
    """A sub-spec's equality (`nq == H * W`) in the caller's terms: True if proven (the
    caller's facts), E404 with the caller's line where one would state it, else False
    (the samples then report it, E405)."""
    ok, sample = prover.equal(a, b)
    if ok:
        return True
    hint = prover.equality_hint(a, b)
    if not hint:
        return False
    raise ShapeFail(f"{spec.name} requires {text}: here {fmt_dim(a)} == {fmt_dim(b)} is "
                    "not always true", UNSTATED_DIVISIBILITY,
                    (prover.counterexample(sample, a, b), hint))
