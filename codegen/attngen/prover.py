"""Deciding dim equalities for one configuration: proofs, samples, counterexamples.

Equality is proven symbolically where sympy can (using the `requires` divisibility and
equality facts as substitutions, facts.py), otherwise tested on sample assignments of the
free symbols that satisfy `requires`; a failing sample is reported as a counterexample,
with the `requires` fact that would fix it where one would.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeAlias, cast

import sympy

from . import algebra, exact
from .configs import Env, region, split_params
from .dims import fmt_dim, is_dim, name_of, to_number
from .errors import SpecError, flow_list, guarded
from .facts import equality_hint, equality_rewrites
from .model import Spec, compute_lets
from .ops.ctx import Dim

N_SAMPLES = 24
# An assignment of the free symbols: sympy Symbol -> sympy Integer (sympy has no types).
Assignment: TypeAlias = "dict[Any, Any]"
# equal() and divisible(): whether it holds, else the assignment where it fails ({} when the
# values are numbers, nothing to assign; None when it holds or no sample could test it)
Verdict: TypeAlias = "tuple[bool, Assignment | None]"


class HintScope:
    """What an equality hint may name (facts.equality_hint): the input dims and every name
    a requirement may read, and the guard of the configuration being checked."""

    def __init__(self, dims: Iterable[str], names: Iterable[str], guard: str = "") -> None:
        self.dims, self.names, self.guard = frozenset(dims), frozenset(names), guard


class Prover:
    """Decides dim equalities for one configuration of one spec."""

    def __init__(self, rewrites: dict[Any, Any], samples: Iterable[Assignment],
                 scope: HintScope | None = None) -> None:
        self.rewrites = rewrites  # symbol -> expression that bakes in a `requires` fact
        self.scope = scope  # None: no equality hints (verify's concrete checks)
        # assignments symbol -> Integer that satisfy `requires`, drawn only when a proof
        # needs them: most dims are settled symbolically and never sampled
        self._pending: Iterator[Assignment] | None = iter(samples)
        self._drawn: list[Assignment] = []
        # answers by question: ("value", d), ("divisible", n, g), (a, b) for equal, and the
        # inference's own keys (infer.py)
        self.cache: dict[tuple[object, ...], Any] = {}

    @property
    def samples(self) -> list[Assignment]:
        if self._pending is not None:
            self._drawn.extend(self._pending)
            self._pending = None
        return self._drawn

    def _each_sample(self) -> Iterator[Assignment]:
        """The samples in order, drawing the next only when asked: a test that fails on an
        early sample (most of those that fail do) draws no more."""
        i = 0
        while i < len(self._drawn) or self._pending is not None:
            if i == len(self._drawn):
                drawn = next(cast(Iterator[Assignment], self._pending), None)
                if drawn is None:
                    self._pending = None
                    return
                self._drawn.append(drawn)
            yield self._drawn[i]
            i += 1

    def default(self) -> Assignment:
        """The first sample (the defaults where they satisfy `requires`), drawn alone."""
        if not self._drawn and self._pending is not None:
            self._drawn.extend(itertools.islice(self._pending, 1))
        return self._drawn[0] if self._drawn else {}

    def equal(self, a: Dim, b: Dim) -> Verdict:
        """(True, None) if a == b is proven or holds on every valid sample, else
        (False, sample)."""
        a, b = algebra.sympify(a), algebra.sympify(b)
        if a == b:
            return True, None
        key = (a, b)
        if key not in self.cache:
            self.cache[key] = self._equal(a, b)
        return self.cache[key]

    def _equal(self, a: Dim, b: Dim) -> Verdict:
        diff = a - b
        if diff.is_number:
            return diff == 0, {}
        algebra.check_size(diff, "a dim it computes")  # before expanding or sampling it
        # the samples first where the proofs below are slow (several floors: milliseconds
        # each) and would say no more: a == b on every sample is the answer they would give
        sampled = self._sampled((a, b), _same) if _slow(diff) else None
        if sampled is not None and sampled[0]:
            return sampled
        # three proofs, each enough alone, so their order decides only the cost: with the
        # `requires` rewrites first (the one that proves most dims of the library), then
        # floors brought to one form (conv sizes), then the plain expansion (rarely the one)
        if self.rewrites:
            rewritten = sympy.expand(diff.xreplace(self.rewrites))
            if rewritten == 0:
                return True, None
        if diff.has(sympy.floor) and sympy.expand(algebra.shift_floors(diff)) == 0:
            return True, None  # the same floor with constants an integer apart
        if sympy.expand(diff) == 0:
            return True, None
        return sampled if sampled is not None else self._sampled((a, b), _same)

    def divisible(self, n: Dim, g: Dim) -> Verdict:
        """Like equal(n % g, 0), without building sympy's Mod (whose evaluation searches
        for bounds on its arguments, milliseconds a call)."""
        n, g = algebra.sympify(n), algebra.sympify(g)
        key = ("divisible", n, g)
        if key not in self.cache:
            self.cache[key] = self._divisible(n, g)
        return self.cache[key]

    def _divisible(self, n: Dim, g: Dim) -> Verdict:
        if g.is_zero:
            return False, {}
        if n.is_Number and g.is_Number:  # nothing to sample
            return (n / g).is_Integer, {}
        algebra.check_size(n / g, "a dim it divides")
        if algebra.is_integer_form(n / g):
            return True, None
        if self.rewrites and algebra.is_integer_form(
                n.xreplace(self.rewrites) / g.xreplace(self.rewrites)):
            return True, None
        return self._sampled((n, g), lambda vn, vg: None if vg == 0 else vn % vg == 0)

    def _sampled(self, exprs: tuple[Dim, ...],
                 holds: Callable[..., bool | None]) -> Verdict:
        """(True, None) if holds(*values) on every sample where all exprs are numbers and
        holds does not answer None (untestable there), with at least one such sample;
        else (False, the first sample where it fails)."""
        tested = 0
        for sample in self._each_sample():
            values = [exact.at(e, sample) for e in exprs]
            if any(v is None for v in values):
                continue
            verdict = holds(*values)
            if verdict is None:
                continue
            tested += 1
            if not verdict:
                return False, sample
        return tested > 0, None

    def at_least(self, d: Dim, low: int) -> Verdict:
        """Whether d >= low on every sample where it is a number (the samples satisfy
        `requires`): (True, None), else (False, the first sample where it is less); (False,
        None) where no sample gives d a value."""
        return self._sampled((d,), lambda v: v >= low)

    def value(self, d: Dim, sample: Assignment | None = None) -> int | float | None:
        if sample:
            return exact.at(algebra.sympify(d), sample)
        key = ("value", d)  # at the default sample: every output size is checked there
        if key not in self.cache:
            self.cache[key] = exact.at(algebra.sympify(d), self.default())
        return self.cache[key]

    def counterexample(self, sample: Assignment | None, a: Dim, b: Dim) -> str:
        """`counterexample: a=1, b=2: <a> = 3, <b> = 4`: the sample where a == b fails."""
        if not sample:
            return ""
        names = sorted(str(s) for s in algebra.sympify(a - b if not isinstance(a, tuple) else 0)
                       .free_symbols) or sorted(str(s) for s in sample)
        return (f"counterexample: {sample_text(names, sample)}: "
                f"{fmt_dim(a)} = {self.value(a, sample)}, {fmt_dim(b)} = {self.value(b, sample)}")

    def hint(self, a: Dim, b: Dim) -> str:
        """The `requires` fact that would make a == b hold (a divisibility, else an
        equality of an input dim), as a note; '' if none would."""
        return self.divisibility_hint(a, b) or self.equality_hint(a, b) or \
            self.bound_hint(a, b)

    def divisibility_hint(self, a: Dim, b: Dim) -> str:
        """If a floor/Mod term makes a == b fail, the `requires` fact that would fix it."""
        a, b = algebra.sympify(a), algebra.sympify(b)
        for num, den in _floor_divisions(a, b):
            fact = _divisibility_fact(num, den)
            if fact is None:
                hint = self._moved_fact(a, b, num, den)
                if hint:
                    return hint
                continue
            sym, first = fact
            # the residue that makes the division exact first, then the others
            # (padding k // 2 keeps the size only when k % 2 == 1)
            residues = [first] + ([sympy.Integer(r) for r in range(int(den)) if r != first]
                                  if den.is_Integer and 1 < den <= 16 else [])
            for rest in residues:
                if self._holds_with(a, b, [(sym, den, rest)]) \
                        and not self._division_breaks_defaults(sym, den, rest):
                    stmt = requirement_text(sym, den, rest)
                    return (f"this holds only when {stmt}: state it with requires: [{stmt}]")
        return self._joint_hint(a, b)

    def _holds_with(self, a: Any, b: Any, facts: list[tuple[Any, Any, Any]]) -> bool:
        """Whether a == b holds on the samples with each fact sym % den == rest of `facts`
        true: sym written den * k + rest, k the sample's sym // den (at least 1)."""
        ks = [sympy.Symbol(f"_{sym}_k", integer=True, positive=True) for sym, _, _ in facts]
        rewrite = {sym: den * k + rest for (sym, den, rest), k in zip(facts, ks, strict=True)}
        samples = []
        for s in self.samples:
            dens = [to_number(den.xreplace(s)) for _, den, _ in facts]
            if all(isinstance(d, int) and d > 0 and sym in s
                   for (sym, _, _), d in zip(facts, dens, strict=True)):
                samples.append({**s, **{k: sympy.Integer(max(1, int(s[sym]) // cast(int, d)))
                                        for (sym, _, _), k, d in zip(facts, ks, dens,
                                                                     strict=True)}})
        return Prover({}, samples)._equal(a.xreplace(rewrite), b.xreplace(rewrite))[0]

    def defaults_break(self, names: set[str], holds: bool | None) -> bool:
        """A fact over params alone (no input dim) that does not hold at their defaults
        (`holds` there; None: it has no value there): pasted, it would be E405, so it is
        no `requires` line to suggest."""
        return self.scope is not None and not names & self.scope.dims and holds is False

    def _division_breaks_defaults(self, sym: Any, den: Any, rest: Any) -> bool:
        """defaults_break of sym % den == rest (the counterexample shows the defaults)."""
        n, d = to_number(sym.xreplace(self.default())), to_number(den.xreplace(self.default()))
        holds = n % d == int(rest) if isinstance(n, int) and isinstance(d, int) and d > 0 \
            else None
        return self.defaults_break({name_of(s) for s in (sym, *den.free_symbols)}, holds)

    def _joint_hint(self, a: Any, b: Any) -> str:
        """The facts of several floors together (H // p and W // p of a patch view: neither
        alone makes a == b hold), each divisible by its first residue."""
        facts: list[tuple[Any, Any, Any]] = []  # (sym, den, rest): sym % den == rest
        for num, den in _floor_divisions(a, b):
            fact = _divisibility_fact(num, den)
            if fact is not None and (fact[0], den, fact[1]) not in facts:
                facts.append((fact[0], den, fact[1]))
        if len(facts) < 2 or len({sym for sym, _, _ in facts}) < len(facts) \
                or any(self._division_breaks_defaults(*fact) for fact in facts) \
                or not self._holds_with(a, b, facts):
            return ""
        stmts = [requirement_text(*fact) for fact in facts]
        return (f"this holds only when {' and '.join(stmts)}: state them with requires: "
                f"[{', '.join(stmts)}]")

    def equality_hint(self, a: Dim, b: Dim) -> str:
        """If a == b would hold with an input dim equal to the other side, the `requires`
        line that states it (facts.equality_hint), in this configuration's guard."""
        if self.scope is None:
            return ""
        a, b = algebra.sympify(a), algebra.sympify(b)
        if self.rewrites:  # in the terms the facts already give (a stated fact is not asked)
            a, b = a.xreplace(self.rewrites), b.xreplace(self.rewrites)
        return equality_hint(a, b, self.scope.dims, self.scope.names, self.scope.guard)

    def bound_hint(self, a: Dim, b: Dim) -> str:
        """min(4, C) == 4 holds only where C >= 4 (max(H, 2) == H where H >= 2): the
        `requires` line that states it, unless the defaults break it (pasted, E405)."""
        diff = algebra.sympify(a) - algebra.sympify(b)
        if self.scope is None or not diff.has(sympy.Min, sympy.Max):
            return ""
        for m in sorted(diff.atoms(sympy.Min, sympy.Max), key=str):
            for keep, other in (m.args, m.args[::-1]) if len(m.args) == 2 else ():
                if sympy.expand(diff.xreplace({m: keep})) != 0:
                    continue
                big, small = (other, keep) if isinstance(m, sympy.Min) else (keep, other)
                names = {name_of(s) for s in (big - small).free_symbols}
                at_default = self.value(big - small)
                if not names or not names <= self.scope.names or self.defaults_break(
                        names, None if at_default is None else at_default >= 0):
                    continue
                stmt = f"{fmt_dim(big)} >= {fmt_dim(small)}"
                return (f"this holds only when {stmt}: if the module relies on it, state it "
                        f"with requires: {flow_list([guarded(self.scope.guard, stmt)])}")
        return ""

    def _moved_fact(self, a: Dim, b: Dim, num: Dim, den: Dim) -> str:
        """`num % den == 0` as the fact (2*c // (3*g): no single name to rewrite), if
        a == b holds on the samples with one name of num that den lacks moved to the
        nearest value where it holds (num mod den repeats every den values of it)."""
        names = sorted(num.free_symbols - den.free_symbols, key=str)
        if not names:
            return ""
        sym, moved = names[0], []
        for s in self.samples:
            den_v = to_number(den.xreplace(s))
            if not isinstance(den_v, int) or not 0 < den_v <= 256 or sym not in s:
                continue
            for t in range(int(s[sym]), int(s[sym]) + den_v):
                value = to_number(num.xreplace({**s, sym: sympy.Integer(t)}))
                if isinstance(value, int) and value % den_v == 0:
                    moved.append({**s, sym: sympy.Integer(t)})
                    break
        if len(moved) < 3 or not Prover({}, moved)._equal(a, b)[0]:
            return ""
        stmt = requirement_text(num, den)
        return f"this holds only when {stmt}: state it with requires: [{stmt}]"


def _same(a: int | float, b: int | float) -> bool:
    return a == b


def _slow(diff: Any) -> bool:
    """A difference whose proofs take milliseconds: several floors (the sizes of strided
    convs and pools), a Piecewise."""
    return diff.has(sympy.Piecewise) or len(diff.atoms(sympy.floor, sympy.Mod)) > 1


def requirement_text(n: Dim, d: Dim, rest: Dim = 0) -> str:
    """`n % d == rest` as a `requires` line: common factors of n and d cancelled when rest
    is 0 (B*H*W*c % B*g*H*W == 0 is c % g == 0), each side parenthesised unless a name or
    number (precedence would read c % 2*g as (c % 2)*g)."""
    n, d = algebra.sympify(n), algebra.sympify(d)
    if rest == 0:
        num, den = sympy.fraction(sympy.cancel(n / d))
        if not (num.has(sympy.floor, sympy.Mod) or den.has(sympy.floor, sympy.Mod)):
            n, d = num, den

    def side(e: Dim) -> str:  # (a let's value is printed as its name: `c_`, no brackets)
        text = fmt_dim(e)
        return text if algebra.sympify(e).is_Atom or text.isidentifier() else f"({text})"

    return f"{side(n)} % {side(d)} == {fmt_dim(rest)}"


def _floor_divisions(*exprs: Dim) -> list[tuple[Dim, Dim]]:
    """(numerator, denominator) pairs of floor(n / d) and Mod(n, d) terms, in the order of
    their text (a set's order changes with the process's hash seed, and hints with it)."""
    found = []
    for e in exprs:
        for term in sorted(algebra.sympify(e).atoms(sympy.floor, sympy.Mod), key=str):
            if isinstance(term, sympy.Mod):
                found.append(term.args)
            else:
                num, den = sympy.fraction(sympy.together(term.args[0]))
                if den != 1:
                    found.append((num, den))
    return found


def sample_text(names: list[str], sample: Assignment) -> str:
    """'a=1, b=2': the values a sample gives the named symbols (those it has)."""
    values = {name_of(k): int(v) for k, v in sample.items()}
    return ", ".join(f"{n}={values[n]}" for n in names if n in values)


def _divisibility_fact(num: Dim, den: Dim) -> tuple[Any, Any] | None:
    """For floor((s + c) / d): the symbol s and the residue r with (s + c) % d == 0 iff
    s % d == r."""
    num = algebra.sympify(num)
    if isinstance(num, sympy.Symbol):
        return num, sympy.Integer(0)
    syms = [t for t in num.free_symbols]
    if len(syms) != 1:
        return None
    sym = syms[0]
    c = num - sym
    if c.free_symbols or not den.is_Integer:
        return None
    return sym, sympy.Integer((-int(c)) % int(den))


def requirement_rewrites(spec: Spec, env: Env, dims: Sequence[Any] = ()) -> dict[Any, Any]:
    """The divisibility facts as substitutions (divisibility_rewrites), then the equality
    facts that hold in this configuration (facts.equality_rewrites)."""
    names = {**{name_of(d): d for d in dims}, **env.sym}
    return equality_rewrites(spec, guard_values(spec, env), names, dims,
                             divisibility_rewrites(spec, env, dims))


def divisibility_rewrites(spec: Spec, env: Env, dims: Sequence[Any] = ()) -> dict[Any, Any]:
    """`SYM % E == R` facts as substitutions SYM -> E*k + R (k a fresh positive integer);
    SYM an int param or an input dim (`dims`, the free dims' symbols)."""
    rewrites = {}
    names = {**{name_of(d): d for d in dims}, **env.sym}
    for name, divisor, rest in spec.divisibility():
        sym = names.get(name)
        if isinstance(sym, sympy.Symbol):  # a let that is a symbol rewrites that symbol
            d, r = divisor.sympy(names), rest.sympy(names)
            # not a bool or a float (`c % flag == 0`), nor a symbol in terms of itself
            # (`out_c % in_chs` where out_c is in_chs: always true)
            if is_dim(d) and is_dim(r) and all(sym not in sympy.sympify(e).free_symbols
                                                for e in (d, r)):
                k = sympy.Symbol(f"{name_of(sym)}_k", integer=True, positive=True)
                rewrites[sym] = d * k + r
    return rewrites


def guard_values(spec: Spec, env: Env) -> dict[str, object]:
    """The values that decide a fact's guards: the configuration's bool/`choices` and int
    params and the lets over them only. An int param may take another value at run time,
    but a guard over it is a condition the configuration splits on (configs.region): it
    has this truth value for every value the configuration stands for, and its samples
    are drawn there. Any other param (a float) decides nothing: its fact is not used."""
    values = {n: env.val[n] for n in split_params(spec) if n in env.val}
    for let in spec.lets.values():
        if let.name in env.val and let.expr.names <= values.keys():
            values[let.name] = env.val[let.name]
    return values


def valid_samples(spec: Spec, env: Env, dims: list[Any],
                  rng: random.Random) -> Iterator[Assignment]:
    """Assignments of the free symbols that satisfy `requires`, drawn one at a time (at most
    N_SAMPLES random ones); the first is the default. Then the params' values with every
    input dim at 1, 2 and 3: random sizes seldom reach the few where x[:, :4] keeps fewer
    than 4."""
    params = [(n, s) for n, s in env.sym.items()
              if isinstance(s, sympy.Symbol) and n in spec.params]
    pool = [7, 5, 11, 3, 13, 17, 6, 10]
    drawn, attempts = 0, 0
    dim_names = [name_of(d) for d in dims]
    rewrites = [divisibility_rewrites(Spec(spec.name, spec.path, spec.file, spec.loc,
                                           requires=[req]), env, dims) for req in spec.requires]
    equal = equality_rewrites(spec, guard_values(spec, env), {
        **{name_of(d): d for d in dims}, **env.sym}, dims)
    decided = region(spec, env)
    # each rewrite as (its symbol's name, expression, its symbols with their names, and
    # for a divisibility fact the fresh k of SYM = E * k + R): names, not sympy's printer
    facts = [[(name_of(sym), expr, [(s, name_of(s)) for s in expr.free_symbols],
               next((s for s in expr.free_symbols if name_of(s) == f"{name_of(sym)}_k"),
                    None)) for sym, expr in rewrite.items()] for rewrite in rewrites]
    equalities = [(name_of(sym), expr, [(s, name_of(s)) for s in expr.free_symbols])
                  for sym, expr in equal.items()]
    symbols = {s.name: s for s in [*[sym for _, sym in params], *dims]}
    small = iter((1, 2, 3))  # after the random sizes, each input dim at 1, then 2, then 3
    while True:
        size = None
        if drawn < N_SAMPLES and attempts < N_SAMPLES * 20:
            attempts += 1
        elif (size := next(small, None)) is None:
            return
        # the params at the configuration's values: for the small sizes, and for the first
        # sample (the default one, which messages call the defaults) while dims are drawn
        # that satisfy `requires` with them (`H >= 9`: the first draw's H is 7)
        fixed = size is not None or not drawn and attempts <= N_SAMPLES
        values = {}
        for name, sym in params:
            # a symbol stands for an int param with an int value (configs.param_env), the
            # configuration's (a default, or the value it pins)
            default = cast(int, env.val[name])
            if fixed:
                values[name] = default
            else:
                # near the value and small; later draws also up to 4 times it: where
                # `requires` keeps only large values (`c // 64 >= 1`), a draw up to 64
                # never satisfies it (the first draws, and so most counterexamples, as
                # before: near the value reads best)
                wide = [rng.randint(1, 4 * max(default, 16))] if attempts > N_SAMPLES // 2 \
                    else []
                choice = rng.choice([default, default * 2, default + 1, max(1, default - 1),
                                     rng.randint(1, 64), rng.choice([1, 2, 3, 5, 7]), *wide])
                values[name] = choice if sym.is_positive is False or choice > 0 else 1
        for i, d in enumerate(dim_names):
            if size is not None:
                values[d] = size
            elif attempts == 1:
                values[d] = pool[i % len(pool)] + 2 * (i // len(pool))
            else:
                values[d] = rng.randint(1, 48)
        for rewrite in facts:  # make divisibility facts hold by construction
            for name, expr, free, k in rewrite:
                sub = {s: sympy.Integer(values[n]) for s, n in free if n in values}
                if k is not None:  # SYM = E * k + R
                    sub[k] = sympy.Integer(values[name] if fixed else rng.randint(1, 8))
                target = exact.at(expr, sub)
                if fixed and name in spec.params:
                    continue  # keep the configuration's values (input dims have none)
                assert target is not None  # every symbol of the rewrite has a value: a number
                values[name] = int(target)
        for name, expr, free in equalities:  # and equality facts (each free of those it sets)
            if name not in values or fixed and name in spec.params:
                continue
            value = exact.at(expr, {s: sympy.Integer(values[n]) for s, n in free
                                    if n in values})
            if isinstance(value, int) and value >= 1:
                values[name] = value
        val_env: dict[str, object] = {**env.val, **values}
        try:
            compute_lets(spec.lets.values(), val_env)  # at this sample's params
            if not all(req.value(val_env) for req in spec.requires):
                continue
            if any(bool(c.value(val_env)) != truth for c, truth in decided):
                continue  # another configuration's values
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            continue
        drawn += 1
        yield {symbols[n]: sympy.Integer(v) for n, v in values.items()}

