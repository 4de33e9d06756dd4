"""Symbolic shape inference and unification (sympy).

Params of type int and free dims are positive integer symbols; everything else
takes its default (bool and `choices` params are enumerated: every configuration
is checked). Each node's shape comes from its op's rule and is unified with its
`shape:` annotation. Equality is proven symbolically where sympy can (using the
`requires` divisibility facts as substitutions), otherwise tested on sample
assignments; a failing sample is reported as a counterexample.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import sympy
from sympy.printing.str import StrPrinter

from . import algebra, ops
from .errors import Collector, Diagnostic, Loc, SpecError, did_you_mean, error
from .expr import Expr, frozen_value
from .graph import build, check_reachable, producers
from .spec import Item, Node, Spec

N_SAMPLES = 24
MAX_CONFIGS = 64


class ShapeFail(Exception):
    """Raised by op rules through ShapeCtx; turned into a located diagnostic."""

    def __init__(self, message: str, code: str = "E403", notes: tuple = ()):
        super().__init__(message)
        self.code, self.notes = code, notes


# -- printing --------------------------------------------------------------------------
class _DimPrinter(StrPrinter):
    def _print_floor(self, expr):
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if den == 1:
            return f"floor({self._print(num)})"
        return f"({self.parenthesize(num, 40)} // {self.parenthesize(den, 50)})"

    def _print_Mod(self, expr):
        a, b = expr.args
        return f"{self.parenthesize(a, 50)} % {self.parenthesize(b, 50)}"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"


_PRINTER = _DimPrinter({"order": "none"})


_FORMATTED: dict = {}


def fmt_dim(d) -> str:
    if isinstance(d, Expr):
        return d.text
    if isinstance(d, (int, float)):
        return repr(d)
    cached = isinstance(d, sympy.Basic)  # printing is a large part of emitting; dims recur
    if cached and d in _FORMATTED:
        return _FORMATTED[d]
    text = _PRINTER.doprint(d)
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    if cached:
        _FORMATTED[d] = text
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def fmt_shape(shape) -> str:
    if isinstance(shape, list):
        if shape and all(s == shape[0] for s in shape):
            return f"[{fmt_shape(shape[0])}] * {len(shape)}"
        return "[" + ", ".join(fmt_shape(s) for s in shape) + "]"
    return "(" + ", ".join(fmt_dim(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# -- samples and proofs --------------------------------------------------------------------
def _num(v):
    """A sympy value as a Python number, or None if it is not concrete."""
    v = algebra.sympify(v)
    if v.is_Integer:
        return int(v)
    if v.is_Number:
        return float(v)
    return None


class Prover:
    """Decides dim equalities for one configuration of one spec."""

    def __init__(self, rewrites: dict, samples):
        self.rewrites = rewrites  # symbol -> expression that bakes in a `requires` fact
        # assignments symbol -> Integer that satisfy `requires`, drawn only when a proof
        # needs them: most dims are settled symbolically and never sampled
        self._pending = iter(samples)
        self._drawn: list[dict] = []
        self.cache: dict = {}

    @property
    def samples(self) -> list[dict]:
        if self._pending is not None:
            self._drawn.extend(self._pending)
            self._pending = None
        return self._drawn

    def default(self) -> dict:
        """The first sample (the defaults where they satisfy `requires`), drawn alone."""
        if not self._drawn and self._pending is not None:
            self._drawn.extend(itertools.islice(self._pending, 1))
        return self._drawn[0] if self._drawn else {}

    def equal(self, a, b):
        """(True, None) if a == b is proven or holds on every valid sample, else (False, sample)."""
        a, b = algebra.sympify(a), algebra.sympify(b)
        if a == b:
            return True, None
        key = (a, b)
        if key not in self.cache:
            self.cache[key] = self._equal(a, b)
        return self.cache[key]

    def _equal(self, a, b):
        diff = a - b
        if diff.is_number:
            return diff == 0, {}
        if sympy.expand(diff) == 0:
            return True, None
        if self.rewrites:
            rewritten = sympy.expand(diff.xreplace(self.rewrites))
            if rewritten == 0:
                return True, None
        return self._sampled((a, b), lambda va, vb: va == vb)

    def divisible(self, n, g):
        """Like equal(n % g, 0), without building sympy's Mod (whose evaluation searches
        for bounds on its arguments, milliseconds a call)."""
        n, g = algebra.sympify(n), algebra.sympify(g)
        key = ("divisible", n, g)
        if key not in self.cache:
            self.cache[key] = self._divisible(n, g)
        return self.cache[key]

    def _divisible(self, n, g):
        if g.is_zero:
            return False, {}
        if n.is_Number and g.is_Number:  # nothing to sample
            return (n / g).is_Integer, {}
        if algebra.is_integer_form(n / g):
            return True, None
        if self.rewrites and algebra.is_integer_form(
                n.xreplace(self.rewrites) / g.xreplace(self.rewrites)):
            return True, None
        return self._sampled((n, g), lambda vn, vg: None if vg == 0 else vn % vg == 0)

    def _sampled(self, exprs, holds):
        """(True, None) if holds(*values) on every sample where all exprs are numbers and
        holds does not answer None (untestable there), with at least one such sample;
        else (False, the first sample where it fails)."""
        tested = 0
        for sample in self.samples:
            values = [_num(e.xreplace(sample)) for e in exprs]
            if any(v is None for v in values):
                continue
            verdict = holds(*values)
            if verdict is None:
                continue
            tested += 1
            if not verdict:
                return False, sample
        return tested > 0, None

    def value(self, d, sample=None):
        if sample:
            return _num(algebra.sympify(d).xreplace(sample))
        key = ("value", d)  # at the default sample: every output size is checked there
        if key not in self.cache:
            self.cache[key] = _num(algebra.sympify(d).xreplace(self.default()))
        return self.cache[key]


def _floor_divisions(*exprs):
    """(numerator, denominator) pairs of floor(n / d) and Mod(n, d) terms."""
    found = []
    for e in exprs:
        for term in algebra.sympify(e).atoms(sympy.floor, sympy.Mod):
            if isinstance(term, sympy.Mod):
                found.append(term.args)
            else:
                num, den = sympy.fraction(sympy.together(term.args[0]))
                if den != 1:
                    found.append((num, den))
    return found


_SIMPLIFIED: dict = {}


def _simplify(e):
    """sympy.simplify, memoized: the same few dims (H*W, ...) recur across specs and configs.

    Dims it would return unchanged skip it: its first call alone imports sympy.physics.
    """
    e = algebra.sympify(e)
    if _plain(e):
        return e
    if e not in _SIMPLIFIED:
        _SIMPLIFIED[e] = sympy.simplify(e)
    return _SIMPLIFIED[e]


def _plain(e) -> bool:
    """A number, symbol, monomial (3*H*W) or linear sum with coprime integer coefficients
    (seq_len - 6*d): nothing to cancel, combine or factor out."""
    if e.is_Atom:
        return True
    if e.is_Mul:
        return all(a.is_Atom for a in e.args)
    if e.is_Add:
        terms = [t.as_coeff_Mul() for t in e.args]
        return (all(c.is_Integer and (r == 1 or r.is_Symbol) for c, r in terms)
                and sympy.igcd(*[int(c) for c, _ in terms]) == 1)
    return False


# -- the context op rules see -------------------------------------------------------------
class ShapeCtx:
    def __init__(self, prover: Prover):
        self.prover = prover

    def fail(self, message: str, code: str = "E403", *notes: str):
        raise ShapeFail(message, code, notes)

    def floor(self, x):
        return algebra.floor(x)

    def rank(self, shape, n: int, what: str):
        if len(shape) != n:
            self.fail(f"{what} must have {n} dims, got {len(shape)}: {fmt_shape(shape)}")
        return shape

    def axis(self, d, rank: int) -> int:
        v = _num(d) if not isinstance(d, int) else d
        if not isinstance(v, int):
            self.fail(f"dim {fmt_dim(d)} must be a whole number")
        if not -rank <= v < rank:
            self.fail(f"dim {v} is out of range for a {rank}-D tensor")
        return v % rank

    def is_minus_one(self, d) -> bool:
        return algebra.sympify(d) == -1

    def eq(self, a, b, what_a: str, what_b: str):
        ok, sample = self.prover.equal(a, b)
        if ok:
            return
        notes = [self._counterexample(sample, a, b)]
        hint = self._divisibility_hint(a, b)
        code = "E404" if hint else "E403"
        if hint:
            notes.append(hint)
        self.fail(f"{what_a} is {fmt_dim(a)} but {what_b} is {fmt_dim(b)}", code, *notes)

    def divides(self, g, n, what: str):
        if _num(g) == 1:
            return
        ok, sample = self.prover.divisible(n, g)
        if not ok:
            stmt = f"{fmt_dim(n)} % {fmt_dim(g)} == 0"
            self.fail(f"{what}: {fmt_dim(n)} is not always divisible by {fmt_dim(g)}", "E404",
                      self._counterexample(sample, n, g),
                      f"if the module relies on it, state it: requires: [{stmt}]")

    def exact_div(self, a, b, what: str):
        self.divides(b, a, f"{what} must divide evenly")
        return _simplify(a / b)

    def in_bounds(self, value, low, high, what: str):
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
            self.fail(f"{what} is {n!r} at the default sizes (must be {want})", "E402")

    def sizes(self, shape, what: str):
        """Every dim of `shape` at least 1 at the default sizes: a zero or negative size
        there (channel // reduction with channel < reduction) is an empty or unbuildable
        layer in the default module. The dims are whole numbers or integer expressions
        (checked where they are made); positive symbols (free dims, size params) need no
        evaluation."""
        for i, d in enumerate(shape):
            if isinstance(d, sympy.Symbol) and d.is_positive:  # a free dim or size param
                continue
            v = d if isinstance(d, int) else self.prover.value(d)
            if v is not None and v < 1:
                names = sorted(str(n) for n in algebra.sympify(d).free_symbols)
                shown = _sample_text(names, self.prover.default())
                self.fail(f"dim {i} of {what}, {fmt_dim(d)}, is {v} at the default sizes "
                          "(must be at least 1)", "E403", f"defaults: {shown}" if shown else "")

    def broadcast(self, shapes):
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
                    self.fail(f"cannot broadcast {' and '.join(fmt_shape(s) for s in shapes)}: "
                              f"dim {i} is {fmt_dim(dims[0])} vs {fmt_dim(other)}", "E403",
                              self._counterexample(sample, dims[0], other))
            out.append(dims[0])
        return tuple(out)

    def slice_length(self, size, start, stop):
        def norm(v, default):
            if v is None:
                return default
            sign = self._sign(v)
            return size + v if sign < 0 else v

        lo, hi = norm(start, 0), norm(stop, size)
        length = sympy.Min(hi, size) - lo
        value = self.prover.value(length)
        if value is not None and value < 1:
            self.fail(f"slice keeps {fmt_dim(length)} = {value} elements at the default sizes")
        return _simplify(length) if not isinstance(length, int) else length

    def _sign(self, v) -> int:
        v = algebra.sympify(v)
        if v.is_negative:
            return -1
        if v.is_nonnegative:
            return 1
        signs = {self.prover.value(v, s) < 0 for s in self.prover.samples
                 if self.prover.value(v, s) is not None}
        if len(signs) != 1:
            self.fail(f"cannot tell whether slice bound {fmt_dim(v)} is negative")
        return -1 if signs.pop() else 1

    def _counterexample(self, sample, a, b) -> str:
        if not sample:
            return ""
        names = sorted(str(s) for s in algebra.sympify(a - b if not isinstance(a, tuple) else 0)
                       .free_symbols) or sorted(str(s) for s in sample)
        return (f"counterexample: {_sample_text(names, sample)}: {fmt_dim(a)} = {self.prover.value(a, sample)}, "
                f"{fmt_dim(b)} = {self.prover.value(b, sample)}")

    def _divisibility_hint(self, a, b) -> str:
        """If a floor/Mod term makes a == b fail, the `requires` fact that would fix it."""
        a, b = algebra.sympify(a), algebra.sympify(b)
        for num, den in _floor_divisions(a, b):
            fact = _divisibility_fact(num, den)
            if fact is None:
                continue
            sym, first = fact
            # the residue that makes the division exact first, then the others
            # (padding k // 2 keeps the size only when k % 2 == 1)
            residues = [first] + ([sympy.Integer(r) for r in range(int(den)) if r != first]
                                  if den.is_Integer and 1 < den <= 16 else [])
            for rest in residues:
                k = sympy.Symbol(f"_{sym}_k", integer=True, positive=True)
                rewrite = {sym: den * k + rest}
                samples = []
                for s in self.prover.samples:
                    den_v = _num(den.xreplace(s))
                    if isinstance(den_v, int) and den_v > 0 and sym in s:
                        samples.append({**s, k: sympy.Integer(max(1, int(s[sym]) // den_v))})
                fixed = Prover({}, samples)
                if fixed._equal(a.xreplace(rewrite), b.xreplace(rewrite))[0]:
                    stmt = f"{sym} % {fmt_dim(den)} == {fmt_dim(rest)}"
                    return (f"this holds only when {stmt}: state it with requires: [{stmt}]")
        return ""


def _sample_text(names: list[str], sample: dict) -> str:
    """'a=1, b=2': the values a sample gives the named symbols (those it has)."""
    values = {str(k): int(v) for k, v in sample.items()}
    return ", ".join(f"{n}={values[n]}" for n in names if n in values)


def _divisibility_fact(num, den):
    """For floor((s + c) / d): the symbol s and the residue r with (s + c) % d == 0 iff s % d == r."""
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


# -- declared layers -----------------------------------------------------------------------
LAYER = object()  # the value of a layer node declared without `in:`


def is_declaration(node: Node) -> bool:
    """A layer node without `in:` only declares the layer (an attribute in __init__);
    `apply:` nodes call it, possibly several times and from different cases."""
    if node.cases is not None:
        return all(is_declaration(c) for c in node.cases)
    if node.inputs or node.apply is not None or node.if_given is not None or node.map:
        return False
    if node.kind in ("seq", "use"):
        return True
    return node.kind == "op" and ops.REGISTRY[node.op].module


# -- results ---------------------------------------------------------------------------
@dataclass
class NodeShapes:
    """What the checker learned about one node (in the first configuration that has it)."""

    inputs: list  # shapes of its inputs
    output: object  # shape, list of shapes (list value) or dict out-name -> shape
    config: dict  # the configuration it was seen in


@dataclass
class Checked:
    spec: Spec
    order: list[str]
    configs: list[dict]
    nodes: dict[str, NodeShapes] = field(default_factory=dict)
    inputs: dict[str, tuple] = field(default_factory=dict)
    outputs: dict[str, object] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)  # dim name -> where it was bound
    subs: dict[str, Checked] = field(default_factory=dict)

    def shape_text(self, name: str) -> str:
        if name in self.inputs:
            return fmt_shape(self.inputs[name])
        for info in self.nodes.values():
            if isinstance(info.output, dict) and name in info.output:
                return fmt_shape(info.output[name])
        return fmt_shape(self.nodes[name].output)


# -- the checker -----------------------------------------------------------------------------
def structural_params(spec: Spec) -> list[str]:
    return [p.name for p in spec.params.values() if p.type == "bool" or p.choices]


def configurations(spec: Spec) -> list[dict]:
    names = structural_params(spec)
    domains = []
    for n in names:
        p = spec.params[n]
        domains.append(list(p.choices) if p.choices else [False, True])
    configs = [dict(zip(names, combo)) for combo in itertools.product(*domains)]
    default = {n: spec.params[n].sample for n in names}
    configs.sort(key=lambda c: c != default)  # the default configuration first
    if len(configs) > MAX_CONFIGS:
        raise error(spec.loc, "E102", f"{len(configs)} configurations of bool/choices params "
                    f"(at most {MAX_CONFIGS} are checked)")
    return configs


def config_text(config: dict) -> str:
    return f" (when {', '.join(f'{k}={v!r}' for k, v in config.items())})" if config else ""


def _is_dim(d) -> bool:
    if isinstance(d, bool):
        return False
    if isinstance(d, int):
        return True
    return isinstance(d, sympy.Expr) and not d.is_Boolean and (
        algebra.is_integer_form(d) or d.is_integer is not False)


class Env:
    """Names visible to expressions: symbolic (`sym`) and concrete sample values (`val`)."""

    def __init__(self):
        self.sym: dict = {}
        self.val: dict = {}

    def child(self) -> Env:
        env = Env()
        env.sym, env.val = dict(self.sym), dict(self.val)
        return env


def _symbol(name: str, positive: bool = True):
    return sympy.Symbol(name, integer=True, positive=positive) if positive \
        else sympy.Symbol(name, integer=True)


def param_env(spec: Spec, config: dict, *, symbolic: bool = True) -> Env:
    env = Env()
    for p in spec.params.values():
        value = config.get(p.name, p.sample)
        env.val[p.name] = value
        if symbolic and p.type == "int" and p.name not in config and isinstance(value, int):
            env.sym[p.name] = _symbol(p.name, positive=value > 0)
        else:
            env.sym[p.name] = value
    add_lets(spec, env)
    return env


def add_lets(spec: Spec, env: Env) -> None:
    for let in spec.lets.values():
        env.val[let.name] = let.expr.value(env.val)
        env.sym[let.name] = let.expr.sympy(env.sym)


def check_names(expr: Expr, env) -> None:
    """E202 at the first unknown name of an expression, with a suggestion."""
    import ast

    if all(n in env for n in expr.names):  # the common case: nothing to locate
        return
    for n in ast.walk(expr.tree):
        if isinstance(n, ast.Name) and n.id in expr.names and n.id not in env:
            raise error(expr.loc.shifted(n.col_offset), "E202", f"unknown name '{n.id}' in "
                        f"'{expr.text}'" + did_you_mean(n.id, [k for k in env if k]))


class Inference:
    """Infers the shapes of one spec for one configuration and one environment."""

    def __init__(self, spec: Spec, env: Env, prover: Prover, config: dict, order: list[str],
                 record: Checked | None = None):
        self.spec, self.env, self.prover, self.config = spec, env, prover, config
        self.order, self.record = order, record
        self.ctx = ShapeCtx(prover)
        self.prod = producers(spec)  # tensor name -> its input or node, computed once
        self.values: dict[str, object] = {}
        self.bound: dict[str, str] = {}  # dim name -> where bound, for error notes

    # expressions
    def sym(self, expr: Expr, extra: dict | None = None):
        env = self.env.sym if not extra else {**self.env.sym, **extra}
        check_names(expr, env)
        return expr.sympy(env)

    def concrete(self, expr: Expr, extra: dict | None = None):
        env = self.env.val if not extra else {**self.env.val, **extra}
        check_names(expr, env)
        return expr.value(env)

    def active(self, when: Expr | None) -> bool:
        return when is None or bool(self.concrete(when))

    # annotations
    def annotation(self, dims: list[Expr], extra: dict | None = None) -> list:
        out = []
        for d in dims:
            free = [n for n in d.names if n not in self.env.sym and n not in (extra or {})]
            if free and d.text == free[0]:
                out.append(("bind", d.text))
            else:
                out.append(("dim", self._dim_value(d, self.sym(d, extra))))
        return out

    @staticmethod
    def _dim_value(d: Expr, value):
        """A dim must be an integer (or symbolic integer), not None, a bool, a float or a list."""
        if isinstance(value, int) and not isinstance(value, bool):
            return sympy.Integer(value)
        if _is_dim(value):
            return value
        raise error(d.loc, "E402", f"dim '{d.text}' is not an integer ({value!r})")

    def unify(self, node_name: str, loc: Loc, inferred, dims: list[Expr], rule: str,
              extra: dict | None = None):
        """Check an inferred shape against an annotation; binds new dim names.

        Returns the shape in the annotation's own terms (proven equal), so later
        shapes and comments read like the spec rather than like sympy's canonical form.
        """
        annot = self.annotation(dims, extra)
        shown = "[" + ", ".join(d.text for d in dims) + "]"
        if len(annot) != len(inferred):
            raise error(loc, "E400", f"node '{node_name}': shape {fmt_shape(inferred)} has "
                        f"{len(inferred)} dims but the annotation {shown} has {len(annot)}",
                        f"rule: {rule}" if rule else "")
        result = []
        for i, ((kind, value), actual) in enumerate(zip(annot, inferred)):
            if kind == "bind":
                self.env.sym[value] = actual
                self.bound[value] = f"{fmt_dim(actual)} (from node '{node_name}')"
                result.append(actual)
                continue
            result.append(value)
            ok, sample = self.prover.equal(value, actual)
            if not ok:
                notes = [f"rule: {rule}" if rule else "",
                         self.ctx._counterexample(sample, actual, value)]
                hint = self.ctx._divisibility_hint(actual, value)
                bound = ", ".join(f"{k}={v}" for k, v in self.bound.items())
                notes += [hint, f"dims bound so far: {bound}" if bound else ""]
                raise error(dims[i].loc, "E404" if hint else "E400",
                            f"node '{node_name}': shape {fmt_shape(actual_shape(inferred))} "
                            f"does not match annotation {shown} (dim {i}: {fmt_dim(actual)} vs "
                            f"{dims[i].text})" + config_text(self.config), *notes)
        return tuple(result)

    # inputs
    def bind_inputs(self, given: dict | None = None):
        # every plain dim name first, so a shape may read a dim that a later input names
        # (a list input ordered large-to-small: [B, C2, 4 * H, 4 * W], ..., [B, C0, H, W])
        for name, inp in self.spec.sources().items():
            if given is not None and name not in given:
                continue
            for i, d in enumerate(inp.shape):
                if not d.text.isidentifier() or d.text in self.env.sym:
                    continue
                if given is None:
                    self.env.sym[d.text] = _symbol(d.text)
                    self.bound[d.text] = f"input '{name}'"
                elif i < len(given[name]):
                    self.env.sym[d.text] = given[name][i]
        for name, inp in self.spec.sources().items():
            if given is not None and name not in given:
                self.values[name] = None  # optional input not passed
                continue
            dims = []
            for d in inp.shape:
                if d.text.isidentifier() and d.text not in self.env.sym:
                    if given is None:
                        sym = _symbol(d.text)
                        self.env.sym[d.text] = sym
                        self.bound[d.text] = f"input '{name}'"
                    else:
                        actual = given[name][len(dims)] if len(dims) < len(given[name]) else None
                        self.env.sym[d.text] = actual
                    dims.append(self.env.sym[d.text])
                else:
                    dims.append(self._dim_value(d, self.sym(d)))
            if given is not None:
                if len(given[name]) != len(dims):
                    raise ShapeFail(f"input '{name}' of {self.spec.name} expects "
                                    f"{len(dims)} dims {fmt_shape(tuple(dims))}, got "
                                    f"{fmt_shape(given[name])}", "E403")
                for i, (want, got) in enumerate(zip(dims, given[name])):
                    self.ctx.eq(got, want, f"dim {i} of the value passed as '{name}'",
                                f"{self.spec.name}'s input shape")
                self.values[name] = tuple(given[name])
            else:
                self.values[name] = tuple(dims)
                try:
                    self.ctx.sizes(self.values[name], f"input '{name}'")
                except ShapeFail as exc:
                    raise error(inp.loc, exc.code, str(exc) + config_text(self.config),
                                *exc.notes) from None

    # nodes
    def run(self):
        prod = self.prod
        for name in self.order:
            node = self.spec.nodes[name]
            if not self.active(node.when):
                continue
            if is_declaration(node):
                self.values[name] = LAYER  # owned here, called by `apply:` nodes
                continue
            if node.cases is not None:
                chosen = [c for c in node.cases if self.active(c.when)]
                if len(chosen) != 1:
                    count = "no case applies" if not chosen else f"{len(chosen)} cases apply"
                    raise error(node.loc, "E402", f"node '{name}': {count}, exactly one must"
                                + config_text(self.config))
                self.node(node, chosen[0], prod)
            else:
                self.node(node, node, prod)

    def fetch(self, ref, node: Node):
        owner = self.prod[ref.name]
        if owner not in self.values:
            raise error(ref.loc, "E300", f"node '{node.name}' uses '{ref.name}', which does not "
                        "exist" + config_text(self.config))
        value = self.values[owner]
        if value is LAYER:
            raise error(ref.loc, "E402", f"node '{node.name}' reads '{ref.name}', a layer "
                        "declared without 'in:' (not a tensor)",
                        f"call the layer with: {{apply: {ref.name}, in: ...}}")
        if isinstance(value, dict):
            if ref.name not in value:  # the node's own name, not one of its outputs
                raise error(ref.loc, "E402", f"node '{node.name}' reads '{ref.name}', a node with "
                            f"several outputs: read one of {', '.join(value)}")
            return value[ref.name]
        return value

    def node(self, node: Node, body: Node, prod):
        ins = [self.fetch(r, node) for r in body.inputs]
        if body.if_given is not None:
            given = self.fetch(body.if_given, node)
            if given is None:  # optional input absent: the node passes its first input on
                self.values[node.name] = ins[0]
                return
        try:
            out = self.compute(node, body, ins)
        except (TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError,
                OverflowError) as exc:  # an op rule fed values of the wrong kind
            raise error(body.loc, "E402", f"node '{node.name}': arguments of the wrong kind for "
                        f"its op ({type(exc).__name__}: {exc})" + config_text(self.config),
                        f"rule: {self.rule_of(body)}" if self.rule_of(body) else "") from None
        except ShapeFail as exc:
            rule = self.rule_of(body)
            shown = ", ".join(fmt_shape(s) if s is not None else "None" for s in ins)
            raise error(body.loc, exc.code, f"node '{node.name}': {exc}" + config_text(self.config),
                        *exc.notes, f"inputs: {shown}" if ins else "",
                        f"rule: {rule}" if rule else "") from None
        if body.if_given is not None:
            try:
                if isinstance(out, list) or len(out) != len(ins[0]):
                    self.ctx.fail(f"{fmt_shape(out) if not isinstance(out, list) else 'a list'} "
                                  f"with it, {fmt_shape(ins[0])} without it")
                for i, (a, b) in enumerate(zip(out, ins[0])):
                    self.ctx.eq(a, b, f"dim {i} with '{body.if_given.name}'", "without it")
            except ShapeFail as exc:
                raise error(body.loc, "E403", f"node '{node.name}': the shape must not depend on "
                            f"whether '{body.if_given.name}' is given: {exc}") from None
        annotation = node.shape if node.shape is not None else body.shape
        if annotation is not None:
            out = self.check_annotation(node, body, out, annotation)
        if body.out:
            if not isinstance(out, list) or len(out) != len(body.out):
                raise error(body.loc, "E402", f"node '{node.name}' names {len(body.out)} outputs "
                            f"but produces {len(out) if isinstance(out, list) else 1}")
            out = dict(zip(body.out, out))
        elif isinstance(out, list) and not self.is_list_node(body, ins):
            raise error(body.loc, "E402", f"node '{node.name}' produces {len(out)} outputs: "
                        "name them with out: [a, b, ...]")
        self.values[node.name] = out
        if self.record is not None and node.name not in self.record.nodes:
            self.record.nodes[node.name] = NodeShapes(ins, out, dict(self.config))

    def is_list_node(self, body: Node, ins) -> bool:
        return body.each is not None or body.map

    def check_annotation(self, node: Node, body: Node, out, annotation):
        rule = self.rule_of(body)
        loc = node.shape_loc or body.loc
        if body.out:
            return [self.unify(name, loc, shape, dims, rule)
                    for name, dims, shape in zip(body.out, annotation, out)]
        if isinstance(out, list):
            items = self.each_items(body) if body.each is not None else [None] * len(out)
            result = []
            for item, shape in zip(items, out):
                extra = {body.each_var: item} if body.each_var else None
                result.append(self.unify(node.name, loc, shape, annotation, rule, extra))
            return result
        return self.unify(node.name, loc, out, annotation, rule)

    def rule_of(self, body: Node) -> str:
        if body.op:
            return f"{body.op}: {ops.REGISTRY[body.op].rule}"
        if body.use and body.spec:
            return f"{body.spec.name} (from {body.spec.file})"
        return ""

    def each_items(self, body: Node) -> list:
        items = self.concrete(body.each)
        if not isinstance(items, (list, tuple)):
            raise error(body.each.loc, "E402", f"'each' needs a list, got {items!r}")
        if len(items) > 64:
            raise error(body.each.loc, "E402", "'each' over more than 64 items")
        return list(items)

    def compute(self, node: Node, body: Node, ins):
        if body.each is not None:
            out = []
            for item in self.each_items(body):
                extra_sym = {body.each_var: item} if body.each_var else {}
                out.append(self.apply(body, ins, extra_sym))
            return out
        if body.map:
            if len(ins) != 1 or not isinstance(ins[0], list):
                raise ShapeFail("'map: true' needs exactly one list-valued input", "E402")
            return [self.apply(body, [x], {}) for x in ins[0]]
        return self.apply(body, ins, {})

    def apply(self, body: Node, ins, extra: dict):
        if body.apply is not None:
            target = self.spec.nodes.get(body.apply.name)
            if target is None or target.kind not in ("op", "seq", "use") or target.each \
                    or (target.op and not ops.REGISTRY[target.op].module):
                raise ShapeFail(f"'apply: {body.apply.name}' must name a layer node "
                                "(op layer, seq or use) of this spec", "E402")
            if target.name not in self.values:
                raise ShapeFail(f"'apply: {body.apply.name}' names a layer that does not "
                                "exist in this configuration", "E300")
            return self.apply(target, ins, extra)
        if body.seq is not None:
            self.check_arity("a layer sequence", ins, 1, 1)
            shape = ins[0]
            for item in body.seq:
                shape = self.item(item, [shape], extra, body)
                if item.shape is not None:
                    shape = self.unify(f"{body.name}.{item.name}", item.loc, shape, item.shape,
                                       self.rule_of_item(item), extra)
            return shape
        return self.item(body.as_item(), ins, extra, body)

    def rule_of_item(self, item: Item) -> str:
        return f"{item.op}: {ops.REGISTRY[item.op].rule}" if item.op else ""

    def check_arity(self, what: str, ins, lo: int, hi: int):
        n = len(ins)
        if n < lo or (hi != -1 and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi != -1 else f"at least {lo}"
            raise ShapeFail(f"{what} takes {want} input(s), got {n}", "E402")
        for i, s in enumerate(ins):
            if isinstance(s, list):
                raise ShapeFail(f"input {i} is a list of tensors; use an op that takes a list "
                                "(cat, stack, add) or 'map: true'", "E402")

    def item(self, item: Item, ins, extra: dict, owner: Node):
        """The output shape of one op or `use:` call; `owner` is the node it belongs to."""
        if item.use:
            return self.call_spec(item, ins, extra)
        op = ops.REGISTRY[item.op]
        if op.list_input and len(ins) == 1 and isinstance(ins[0], list):
            ins = ins[0]
            if not ins:
                raise ShapeFail("empty list", "E402")
        self.check_arity(f"{op.name}", ins, *op.arity)
        args = self.op_args(op, item.args, extra)
        for a in op.args:
            if a.low is None and a.high is None:
                continue
            try:
                self.ctx.in_bounds(args[a.name], a.low, a.high, f"{op.name}'s '{a.name}'")
            except ShapeFail as exc:  # located at the argument (a default is always valid)
                raise error(item.args[a.name].loc, exc.code,
                            f"node '{owner.name}': {exc}" + config_text(self.config)) from None
        out = op.shape(self.ctx, list(ins), args)
        for shape in out if isinstance(out, list) else [out]:
            bad = next((d for d in shape if not _is_dim(d)), None) if isinstance(shape, tuple) \
                else None
            if bad is not None:  # e.g. Linear(cin, [1, 2]): an argument is no integer
                raise ShapeFail(f"{op.name} gives a dim {bad} that is not an integer: check "
                                "its arguments (" + ", ".join(
                                    f"{k}={v}" for k, v in args.items()) + ")", "E402")
            if isinstance(shape, tuple):
                self.ctx.sizes(shape, f"{op.name}'s output")
        return out

    def op_args(self, op, given: dict, extra: dict) -> dict:
        args = {}
        for a in op.args:
            if a.name in given:
                expr = given[a.name]
                args[a.name] = expr.constant if a.kind == "str" else self.sym(expr, extra)
                if a.kind == "shape" and any(isinstance(d, (list, tuple, sympy.Tuple))
                                             for d in args[a.name]):
                    raise ShapeFail(f"'{a.name}' must be a list of dims, each a name, number "
                                    "or expression (not a list)", "E402")
            elif a.required:
                raise ShapeFail(f"{op.name} needs argument '{a.name}' (args: "
                                + ", ".join(x.name for x in op.args) + ")", "E402")
            else:
                args[a.name] = a.default
        return args

    def call_spec(self, item: Item, ins, extra: dict):
        sub = item.spec
        config, env = {}, Env()
        for p in sub.params.values():
            if p.name in item.args:
                env.sym[p.name] = self.sym(item.args[p.name], extra)
                env.val[p.name] = self.concrete(item.args[p.name], extra)
            elif p.required:
                raise ShapeFail(f"{sub.name} needs argument '{p.name}'", "E402")
            else:
                env.sym[p.name] = env.val[p.name] = p.default
            if p.name in structural_params(sub):
                config[p.name] = env.val[p.name]
        # The outputs are a function of the sub-spec, its arguments and its input shapes, and
        # a spec often calls one sub-spec alike several times (ASFF's three weight_level
        # convs): infer each distinct call once per configuration.
        key = _call_key(sub, env, ins)
        if key is not None and key in self.prover.cache:
            outs = self.prover.cache[key]
            return list(outs) if isinstance(outs, list) else outs
        add_lets(sub, env)
        names = list(sub.sources())
        required = [n for n in names if not sub.sources()[n].optional]
        if not len(required) <= len(ins) <= len(names):
            raise ShapeFail(f"{sub.name} takes {len(required)} to {len(names)} inputs "
                            f"({', '.join(names)}), got {len(ins)}", "E402")
        inner = Inference(sub, env, self.prover, config, forward_order(sub))
        inner.bind_inputs(dict(zip(names, ins)))
        inner.run()
        outs = []
        for o in sub.outputs:
            if inner.active(o.when):
                value = inner.values[inner.prod[o.name]]
                outs.append(value[o.name] if isinstance(value, dict) else value)
        outs = outs[0] if len(outs) == 1 else outs
        if key is not None:
            self.prover.cache[key] = list(outs) if isinstance(outs, list) else outs
        return outs


def _call_key(sub: Spec, env: Env, ins):
    """What a sub-spec call's outputs depend on, hashable; None if some value is not."""
    try:
        return ("call", sub.path, tuple((n, frozen_value(env.sym[n]), frozen_value(env.val[n]))
                                        for n in sub.params), frozen_value(ins))
    except TypeError:
        return None


def actual_shape(shape):
    return shape


_ORDERS: dict[int, tuple[Spec, list[str]]] = {}


def forward_order(spec: Spec) -> list[str]:
    """The forward order of a spec that has been checked (build() would raise otherwise),
    computed once per spec object: a sub-spec is called at every use in every configuration.
    The entry holds the spec itself, so its id cannot be reused while cached."""
    hit = _ORDERS.get(id(spec))
    if hit is None or hit[0] is not spec:
        if len(_ORDERS) >= 256:
            _ORDERS.clear()
        hit = _ORDERS[id(spec)] = (spec, build(spec)[1])
    return hit[1]


# -- driver -----------------------------------------------------------------------------------
def _requirement_rewrites(spec: Spec, env: Env) -> dict:
    """`SYM % E == R` facts as substitutions SYM -> E*k + R (k a fresh positive integer)."""
    rewrites = {}
    for name, divisor, rest in spec.divisibility():
        sym = env.sym.get(name)
        if isinstance(sym, sympy.Symbol):
            d, r = divisor.sympy(env.sym), rest.sympy(env.sym)
            if _is_dim(d) and _is_dim(r):  # not a bool or a float (`c % flag == 0`)
                k = sympy.Symbol(f"{name}_k", integer=True, positive=True)
                rewrites[sym] = d * k + r
    return rewrites


def _samples(spec: Spec, env: Env, dims: list, rng: random.Random):
    """Assignments of the free symbols that satisfy `requires`, drawn one at a time (at most
    N_SAMPLES); the first is the default."""
    params = [(n, s) for n, s in env.sym.items() if isinstance(s, sympy.Symbol) and n in spec.params]
    pool = [7, 5, 11, 3, 13, 17, 6, 10]
    drawn, attempts = 0, 0
    dim_names = [str(d) for d in dims]
    rewrites = [_requirement_rewrites(Spec(spec.name, spec.path, spec.file, spec.loc,
                                           requires=[req]), env) for req in spec.requires]
    while drawn < N_SAMPLES and attempts < N_SAMPLES * 20:
        attempts += 1
        values = {}
        for i, (name, sym) in enumerate(params):
            default = spec.params[name].sample
            if attempts == 1:
                values[name] = default
            else:
                choice = rng.choice([default, default * 2, default + 1, max(1, default - 1),
                                     rng.randint(1, 64), rng.choice([1, 2, 3, 5, 7])])
                values[name] = choice if sym.is_positive is False or choice > 0 else 1
        for i, d in enumerate(dim_names):
            values[d] = pool[i % len(pool)] + 2 * (i // len(pool)) if attempts == 1 \
                else rng.randint(1, 48)
        for rewrite in rewrites:  # make divisibility facts hold by construction
            for sym, expr in rewrite.items():
                k = next(iter(s for s in expr.free_symbols if str(s).endswith("_k")))
                sub = {s: sympy.Integer(values[str(s)]) for s in expr.free_symbols
                       if str(s) in values}
                sub[k] = sympy.Integer(values[str(sym)] if attempts == 1 else rng.randint(1, 8))
                target = _num(expr.xreplace(sub))
                if attempts == 1:
                    continue  # keep the defaults as they are
                values[str(sym)] = int(target)
        val_env = {**env.val, **values}
        try:
            if not all(req.value(val_env) for req in spec.requires):
                continue
        except SpecError:
            continue
        symbols = {s.name: s for s in [*[sym for _, sym in params], *dims]}
        drawn += 1
        yield {symbols[n]: sympy.Integer(v) for n, v in values.items()}


def input_dims(spec: Spec, env: Env) -> list:
    dims, seen = [], set()
    for inp in spec.sources().values():
        for d in inp.shape:
            if d.text.isidentifier() and d.text not in env.sym and d.text not in seen:
                seen.add(d.text)
                dims.append(_symbol(d.text))
    return dims


def check_once(spec: Spec, cache: dict) -> Checked:
    """check(spec), once per spec file: `cache` maps spec paths to their results and is
    shared with the sub-spec checks, so a spec checked as another's sub-spec (danet's
    position_attention) is not checked again on its own, nor the other way round."""
    if spec.path not in cache:
        cache[spec.path] = check(spec, cache)
    return cache[spec.path]


def check(spec: Spec, _cache: dict | None = None) -> Checked:
    """Check a spec (and its sub-specs) in every configuration; collect all errors."""
    cache = _cache if _cache is not None else {}
    issues = Collector()
    subs = {}
    for sub in spec.subspecs():
        if sub.name not in subs:
            try:
                subs[sub.name] = check_once(sub, cache)
            except SpecError as exc:
                issues.add(exc)
    issues.raise_if_any()
    graph, order = build(spec)
    configs = configurations(spec)
    result = Checked(spec, order, configs, subs=subs)
    failed: dict[tuple, list] = {}  # the same problem in several configurations: report it once
    for config in configs:
        try:
            _check_config(spec, config, graph, order, result)
        except SpecError as exc:
            suffix = config_text(config)
            for d in exc.diagnostics:
                base = d.message.removesuffix(suffix) if suffix else d.message
                failed.setdefault((d.loc, d.code, base), []).append(d)
            if len(failed) >= 20:
                break
    for (_loc, _code, base), found in failed.items():
        first = found[0]
        if len(found) == len(configs) > 1:  # in every configuration: no need to name one
            first = Diagnostic(first.loc, first.code, base, first.notes)
        elif len(found) > 1:
            more = f"the same in {len(found) - 1} more configuration(s)"
            first = Diagnostic(first.loc, first.code, first.message, (*first.notes, more))
        issues.add(SpecError([first]))
    issues.raise_if_any()
    return result


def _check_config(spec: Spec, config: dict, graph, order: list[str], result: Checked):
    env = param_env(spec, config)
    for req in spec.requires:
        if not req.value(env.val):
            raise error(req.loc, "E405", f"requirement '{req.text}' does not hold for the "
                        "defaults" + config_text(config),
                        "values: " + ", ".join(f"{n}={env.val[n]!r}" for n in sorted(req.names)
                                               if n in env.val))
    dims = input_dims(spec, env)
    rng = random.Random(spec.name)
    prover = Prover(_requirement_rewrites(spec, env), _samples(spec, env, dims, rng))
    inference = Inference(spec, env, prover, config, order, result)
    inference.bind_inputs()
    for name, value in inference.values.items():
        result.inputs.setdefault(name, value)
    inference.run()
    active_outputs = [o.name for o in spec.outputs if inference.active(o.when)]
    if not active_outputs:
        raise error(spec.outputs[0].loc, "E303", "no output is returned" + config_text(config))
    for name in active_outputs:
        owner = producers(spec)[name]
        if owner not in inference.values:
            raise error(next(o.loc for o in spec.outputs if o.name == name), "E303",
                        f"output '{name}' does not exist" + config_text(config))
        value = inference.values[owner]
        if value is LAYER:
            raise error(next(o.loc for o in spec.outputs if o.name == name), "E303",
                        f"output '{name}' is a layer declared without 'in:', not a tensor")
        result.outputs.setdefault(name, value[name] if isinstance(value, dict) else value)
    active = {n for n in inference.values if n in spec.nodes}
    check_reachable(spec, graph, active, active_outputs, config_text(config))
    for dim, where in inference.bound.items():
        result.symbols.setdefault(dim, where)
