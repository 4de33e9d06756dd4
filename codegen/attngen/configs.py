"""Configurations and the environment expressions are evaluated in.

Params of type int and free dims are positive integer symbols (but those bounding a
`range`, loops.bounds); every other param takes its default (or example). Bool and
`choices` params are structural: each combination of their values that satisfies
`requires` is a configuration, and every configuration is checked. A combination that
breaks `requires` at the int params' defaults pins the int params the broken requirements
read to the values found nearest their defaults that satisfy `requires`
(`not (apply_transform and h > 1)`: apply_transform=True with h=1); one that no values
tried satisfy is excluded (the default combination is always checked: E405 if it breaks
`requires`).

A `when:` that reads an int param (`when: ratio > 1`) is decided by the param's value, so
the default alone would check one branch: each combination of the truth values of the
`when:` conditions that some values of those params give (satisfying `requires`) adds a
configuration with them pinned to the values found nearest their defaults (branches). The
guards of equality facts (`ratio == 1` of `ratio == 1 or nq == H * W`) are split on alike.
A configuration stands for every value of its int params that gives each condition its
truth value (its region): they stay symbols (a pinned one with the pinned value as its
sample value), its samples are drawn in the region, and a guard is decided there.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar, cast

import sympy

from .comparisons import MIRROR
from .counts import param_values
from .dims import dim_symbol
from .errors import BAD_VALUE, REQUIREMENT_FAILS, UNKNOWN_NAME, SpecError, did_you_mean, error
from .expr import Expr, frozen_value, parse
from .facts import config_guard, guards
from .loops import bounds
from .model import Param, Spec, whens
from .results import dtype_of
from .sub_conditions import calls, in_caller_terms

MAX_CONFIGS = 64
T = TypeVar("T")


def structural_params(spec: Spec) -> list[str]:
    """The bool and `choices` params: each value gives other code (`if`/`else`)."""
    return [p.name for p in spec.params.values() if p.structural]


def _structural(spec: Spec, reqs: list[Expr]) -> list[dict[str, object]]:
    """Every combination of structural param values that `reqs` (the requirements over
    params and lets) allow, the default one first, each with the int params pinned that it
    needs to satisfy them (module docstring)."""
    names = structural_params(spec)
    domains = [spec.params[n].values for n in names]
    configs = [dict(zip(names, combo, strict=False)) for combo in itertools.product(*domains)]
    default = {n: spec.params[n].sample for n in names}
    configs.sort(key=lambda c: c != default)  # the default configuration first
    if len(configs) > MAX_CONFIGS:
        raise error(spec.loc, BAD_VALUE, f"{len(configs)} configurations of bool/choices params "
                    f"(at most {MAX_CONFIGS} are checked)")
    if not reqs:
        return configs
    # the default configuration is always checked: if it breaks `requires`, that is E405
    kept = [configs[0]]
    for config in configs[1:]:
        if (found := _satisfying(spec, reqs, config)) is not None:
            kept.append(found)
    for req in reqs:
        if len(kept) == 1 < len(configs) and not any(holds(spec, req, c) for c in configs):
            raise error(req.loc, REQUIREMENT_FAILS, f"requirement '{req.text}' holds in no "
                        "configuration of bool/choices params (at the other params' defaults, "
                        "nor at the values of int params tried near them)")
    return kept


def _satisfying(spec: Spec, reqs: list[Expr], config: dict[str, object]
                ) -> dict[str, object] | None:
    """`config`, with the int params that its failing requirements read pinned to the
    values nearest their defaults that satisfy `requires` (`apply_transform=True, h=1`
    for `not (apply_transform and h > 1)`); None where no values tried do."""
    failing = [r for r in reqs if not holds(spec, r, config)]
    if not failing:
        return config
    ints = int_params(spec, reads_through_lets(spec, {n for r in failing for n in r.names}))
    for pinned, held in _pinned_candidates(
            spec, config, ints, failing,
            lambda pinned, env: bool(pinned) and all(r.value(env) for r in reqs)):
        if held:
            return {**config, **pinned}
    return None


def int_params(spec: Spec, names: set[str]) -> list[Param]:
    """The int params among `names` a configuration may pin (no `choices`, an int default)."""
    return [p for p in spec.params.values() if p.type == "int" and not p.choices
            and p.name in names and type(p.sample) is int]


def split_params(spec: Spec) -> list[str]:
    """The params configurations split on: the structural ones, the int ones (region) and
    those with an `example:` beside their default."""
    return [*structural_params(spec), *(p.name for p in int_params(spec, set(spec.params))),
            *(p.name for p in spec.params.values() if p.tries_example)]


def configurations(spec: Spec) -> list[dict[str, object]]:
    """Every combination of structural param values that `requires` allows, the default
    one first, each followed by the branches its `when:` conditions (and guards) over int
    params can take besides its own (module docstring)."""
    reqs = [r for r in spec.requires if not spec.on_input_dims(r)]
    configs = _with_examples(spec, _structural(spec, reqs), reqs)
    conds = conditions(spec)
    ints = int_params(spec, {n for c in conds for n in reads_through_lets(spec, c.names)})
    if not ints:
        return _at_most(spec, configs, ints)

    def branch(pinned: dict[str, object], env: dict[str, object]) -> tuple[bool, ...] | None:
        if pinned and not all(r.value(env) for r in reqs):
            return None
        return tuple(bool(c.value(env)) for c in conds)

    out: list[dict[str, object]] = []
    for config in configs:
        seen: set[tuple[bool, ...]] = set()
        for pinned, truth in _pinned_candidates(spec, config, ints, conds, branch):
            if truth is None:
                if not pinned:  # the configuration itself is checked whatever its values
                    out.append(config)
                continue
            if truth not in seen:
                seen.add(truth)
                out.append({**config, **pinned})
    # an int's example where a branch pins the same value (or the default's): checked once
    def key(c: dict[str, object]) -> str:
        return repr(sorted((k, v) for k, v in c.items() if v != spec.params[k].sample))
    unique = {key(c): c for c in reversed(out)}
    return _at_most(spec, [c for c in out if unique[key(c)] is c], ints)


def _at_most(spec: Spec, out: list[dict[str, object]], ints: list[Param]
             ) -> list[dict[str, object]]:
    """`out`, or E102 where it is more configurations than are checked."""
    if len(out) > MAX_CONFIGS:
        structural = [spec.params[n] for n in structural_params(spec)]
        examples = [p for p in spec.params.values() if p.tries_example]
        parts = [", ".join(f"{p.name} ({len(p.choices) if p.choices else 2})"
                           for p in structural), ", ".join(p.name for p in examples)]
        parts = [f"values of {parts[0]}" if parts[0] else "",
                 f"the examples of {parts[1]}" if parts[1] else "",
                 f"branches of `when:` over {', '.join(p.name for p in ints)}" if ints else ""]
        raise error((structural or examples or ints)[0].loc, BAD_VALUE,
                    f"{len(out)} configurations (at most {MAX_CONFIGS} are checked): "
                    + ", ".join(p for p in parts if p),
                    "each configuration is checked in full: give a bool or `choices` param one "
                    "value in a variant (`params: {NAME: {choices: [VALUE]}}`) to check fewer "
                    "at once" + (", or drop an `example:`" if examples else ""))
    return out


def _with_examples(spec: Spec, configs: list[dict[str, object]], reqs: list[Expr]
                   ) -> list[dict[str, object]]:
    """`configs`, then each again with a param at its `example:` beside a default (where
    `requires` allows): both values are checked."""
    for p in spec.params.values():
        if not p.tries_example or p.example == p.default:
            continue
        tried = [{**c, p.name: p.example} for c in configs]
        kept = [t for t in tried if all(holds(spec, r, t) for r in reqs)]
        if not kept:
            failing = next(r for r in reqs if not holds(spec, r, tried[0]))
            raise error(p.loc, REQUIREMENT_FAILS, f"param '{p.name}': its example "
                        f"{p.example!r} breaks requirement '{failing.text}' in every "
                        "configuration", "an example is a second value the checker tries: "
                        "give one that `requires` allows")
        configs = configs + kept
    return configs


def region_guard(spec: Spec, config: Mapping[str, object],
                 default: Mapping[str, object]) -> str:
    """The condition that is false in the configuration `config` stands for and true in
    the default one's: for its structural params, their values (facts.config_guard:
    `not reduce`); for the int params it pins, the conditions they decide, as this region
    does not have them (`stride <= 1` for the region of `when: stride > 1`, not
    `stride != 2`: a requirement under it holds for every stride above 1). '' for the
    default configuration."""
    # a param at its example is told as a structural one is (`gl != [1, 2]`), but an int
    # example is a value of a symbol: told by the conditions it decides, as a pinned int
    # (`r <= 1`, not `r != 2`, which no other value of r makes true)
    symbolic = {n for n, v in config.items() if type(v) is int and spec.params[n].type == "int"
                and n not in bounds(spec)}  # (a range's bound is taken at its value)
    told_by_value = {*structural_params(spec), *(p.name for p in spec.params.values()
                                                 if p.tries_example and p.name not in symbolic)}
    # beside a null default, every int: its region is the param given (LPI's
    # `out_features`: `out_features is None`, not `out_features != 64`)
    given = [n for n in symbolic - told_by_value if default.get(n) is None]
    parts = [config_guard({k: v for k, v in config.items() if k in told_by_value}, default),
             *(f"{n} is None" for n in sorted(given))]
    pinned = [p for p in int_params(spec, set(config)) if p.name not in told_by_value
              and p.name not in given and config[p.name] != default.get(p.name)
              and type(config[p.name]) is int]
    if pinned:
        here, there = param_values(spec, dict(config)), param_values(spec, dict(default))
        # the conditions the pinned params decide that tell this region from the default's
        told = [(c, truth) for c in conditions(spec)
                if {p.name for p in pinned} & reads_through_lets(spec, c.names)
                and (truth := _truth(c, here)) is not None and _truth(c, there) != truth]
        # other values of the pinned params, to leave out a condition the others imply
        # (`stride == 1` beside `stride > 1`)
        trials = [truths for values in itertools.islice(itertools.product(
            *(_candidates(cast(int, config[p.name]), [c for c, _ in told]) for p in pinned)),
            MAX_BRANCH_TRIES)
            if (truths := _truths(spec, told, dict(zip([p.name for p in pinned], values,
                                                        strict=True)), config)) is not None]
        kept = list(range(len(told)))
        for k in reversed(kept):  # the first conditions (the spec's order) are kept
            rest = [j for j in kept if j != k]
            if rest and all(any(t[j] for j in rest) == any(t[j] for j in kept) for t in trials):
                kept = rest
        parts += [negated(told[k][0]) if told[k][1] else told[k][0].text for k in kept]
    return " or ".join(p for p in parts if p)


def guard_apart(spec: Spec, configs: list[dict[str, object]], failing: set[int]) -> str:
    """A condition false in each configuration of `failing` (where a problem was found)
    and true in each other one: per other configuration, the first candidate that is
    (see below), joined by `or`; '' if none is found for any."""
    first = configs[min(failing)]
    at_failing = [param_values(spec, configs[i]) for i in failing]
    kept: list[str] = []
    for j, config in enumerate(configs):
        if j in failing:
            continue
        here = {n: first.get(n, spec.params[n].sample) for n in config}
        told = region_guard(spec, here, config)
        # its guard against the first failing one, that guard's parts, its own values
        # (`mode == 'c'` where `mode != 'a'` holds at the failing `b` too), then the
        # spec's conditions either way (`r > 2` apart from r == 1 and r == 2)
        candidates = [*([told, *told.split(" or ")] if told else []),
                      *_values_of(spec, config),
                      *(t for c in conditions(spec) for t in (c.text, negated(c)))]
        values = param_values(spec, config)
        for guard in candidates:
            try:
                cond = parse(guard, spec.loc)
            except SpecError:  # a part split out of a bracketed `or`
                continue
            if _truth(cond, values) and all(_truth(cond, v) is False for v in at_failing):
                if guard not in kept:
                    kept.append(guard)
                break
    return " or ".join(kept)


def _values_of(spec: Spec, config: Mapping[str, object]) -> list[str]:
    """The condition that a configuration's structural values hold (`mode == 'c' and
    flag`), if it has any."""
    parts = []
    for name in structural_params(spec):
        value = config.get(name, spec.params[name].sample)
        parts.append(name if value is True else f"not {name}" if value is False else
                     f"{name} is None" if value is None else f"{name} == {value!r}")
    return [" and ".join(parts)] if parts else []


def _truth(cond: Expr, values: Mapping[str, object]) -> bool | None:
    try:
        return bool(cond.value(values))
    except (SpecError, ZeroDivisionError, ValueError, TypeError):
        return None


def _truths(spec: Spec, told: list[tuple[Expr, bool]], pins: dict[str, object],
            config: Mapping[str, object]) -> tuple[bool, ...] | None:
    """For each condition of `told`, whether it differs from its truth in the region, at
    the params `pins` sets (None where one cannot be evaluated)."""
    try:
        values = param_values(spec, {**config, **pins})
    except (SpecError, ZeroDivisionError, ValueError, TypeError):
        return None
    truths = [_truth(c, values) for c, _ in told]
    if any(t is None for t in truths):
        return None
    return tuple(t != truth for t, (_, truth) in zip(truths, told, strict=True))


_FLIPPED = {ast.Gt: "<=", ast.GtE: "<", ast.Lt: ">=", ast.LtE: ">", ast.Eq: "!=",
            ast.NotEq: "=="}


def negated(cond: Expr) -> str:
    """`cond`'s negation as a spec writes it: one comparison flipped (`stride > 1` ->
    `stride <= 1`), `not x` -> `x`, else `not (cond)`."""
    tree = cond.tree
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and type(tree.ops[0]) in _FLIPPED:
        return (f"{ast.unparse(tree.left)} {_FLIPPED[type(tree.ops[0])]} "
                f"{ast.unparse(tree.comparators[0])}")
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not):
        return ast.unparse(tree.operand)
    return f"not ({cond.text})"


def _pinned_candidates(
        spec: Spec, config: dict[str, object], ints: list[Param], exprs: list[Expr],
        judge: Callable[[dict[str, object], dict[str, object]], T],
) -> Iterator[tuple[dict[str, object], T | None]]:
    """The candidate search of _satisfying and of branches: for each combination of values
    of the int params `ints` (_candidates: from their values in `config` outward, by the
    numbers `exprs` compare with; at most MAX_BRANCH_TRIES), the params it pins (those
    that differ from `config`'s values) and `judge(pinned, values of params and lets)`,
    None where that cannot be evaluated."""
    base = [cast(int, config.get(p.name, p.sample)) for p in ints]
    domains = [_candidates(b, _reading(spec, exprs, p.name), stated_low(spec, p.name))
               if type(b) is int else [b]  # (an example beside it: `null`)
               for b, p in zip(base, ints, strict=True)]
    for values in itertools.islice(itertools.product(*domains), MAX_BRANCH_TRIES):
        pinned: dict[str, object] = {p.name: v for p, v, b in zip(ints, values, base,
                                                                  strict=True) if v != b}
        try:
            result: T | None = judge(pinned, param_values(spec, {**config, **pinned}))
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            result = None
        yield pinned, result


MAX_BRANCH_TRIES = 4096  # combinations of int param values tried per configuration


_CONDITIONS: dict[int, tuple[Spec, list[Expr]]] = {}  # id -> (the spec, its conditions)


def conditions(spec: Spec) -> list[Expr]:
    """Every `when:` of a spec (nodes, cases, `seq:` layers, outputs), every guard of an
    equality fact (facts.guards), its sub-specs' in its terms (sub_conditions.py): what a
    configuration decides. Once per spec object (the entry holds it, as loops.bounds)."""
    hit = _CONDITIONS.get(id(spec))
    if hit is None or hit[0] is not spec:
        conds = [*whens(spec), *guards(spec)]
        conds += [t for call in calls(spec) for c in conditions(call.sub.spec)
                  for t in in_caller_terms(c, call, spec)]  # sub_conditions.py
        if len(_CONDITIONS) >= 256:
            _CONDITIONS.clear()
        hit = _CONDITIONS[id(spec)] = (spec, list(dict.fromkeys(conds)))  # once each (by text)
    return list(hit[1])


def reads_through_lets(spec: Spec, names: Iterable[str]) -> set[str]:
    """`names` and the names the lets among them read, through lets."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            if name in spec.lets:
                todo += spec.lets[name].expr.names
    return found


def _reading(spec: Spec, conds: list[Expr], name: str) -> list[Expr]:
    """The conditions that read `name`, and the lets through which they read it."""
    found = []
    for c in conds:
        names = reads_through_lets(spec, c.names)
        if name in names:
            found += [c, *(spec.lets[n].expr for n in names if n in spec.lets)]
    return found


def _candidates(default: int, exprs: list[Expr],
                stated: tuple[int | None, frozenset[int]] = (None, frozenset())) -> list[int]:
    """Values of an int param to try, its default first, then the nearest: small sizes and
    each side of the numbers `exprs` (its conditions) compare with (`ratio > 1`: 0, 1, 2).
    A positive default is a size, tried at positive values only, and at what `requires`
    states it may be at or below 0 (stated_low): a lower bound (`offset >= -1`: values from
    it up) or values (`side == 0`)."""
    low, named = stated
    numbers = {k for e in exprs for n in ast.walk(e.tree)  # `x > -1`: -1 and 1
               if isinstance(n, ast.expr) and (k := int_literal(n)) is not None}
    values = {v for k in numbers for v in (k - 1, k, k + 1)}
    values |= {a * b for a in numbers for b in numbers if abs(a * b) <= 4096}  # `f // 10 == 3`
    values |= {math.isqrt(k) for k in numbers if k > 0}  # `f * f == 49`
    values |= {1, 2, 3, 4, 8, default - 1, default + 1, 2 * default}
    if low is not None:
        values = {v for v in values | {low} if v >= low}
    elif default > 0:  # a positive size stays one
        values = {v for v in values if v >= 1} | named
    return [default, *sorted(values - {default}, key=lambda v: (abs(v - default), v))]


def stated_low(spec: Spec, name: str) -> tuple[int | None, frozenset[int]]:
    """What `requires` states int param `name` may be at or below 0: the smallest lower
    bound there (`name >= -3`, `-1 <= name`, `name > -2`) or None, and the values named
    (`side == 0 or side % 2 == 1`). Otherwise a positive default is a size, positive in
    every configuration."""
    lows: list[int] = []
    named: set[int] = set()
    for req in spec.requires:
        negated = {id(n.operand) for n in ast.walk(req.tree)  # `not f < -3`: `f >= -3`
                   if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not)}
        for node in ast.walk(req.tree):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            for (a, b), op in zip(itertools.pairwise(sides), node.ops, strict=True):
                if id(node) in negated and len(node.ops) == 1:
                    op = _OPPOSITE.get(type(op), op)
                if _offset(b, name) is not None:  # `-1 <= name` as `name >= -1`
                    a, b, op = b, a, MIRROR[type(op)]() if type(op) in MIRROR else op
                shift, k = _offset(a, name), int_literal(b)
                if shift is None or k is None or k - shift > 0:
                    continue
                k -= shift  # `name + 3 >= 0` as `name >= -3`
                if isinstance(op, ast.Eq):
                    named.add(k)
                elif isinstance(op, ast.GtE | ast.Gt):
                    lows.append(k if isinstance(op, ast.GtE) else k + 1)
    return (min(lows) if lows else None), frozenset(named)


_OPPOSITE: dict[type[ast.cmpop], ast.cmpop] = {
    ast.Lt: ast.GtE(), ast.LtE: ast.Gt(), ast.Gt: ast.LtE(), ast.GtE: ast.Lt()}


def _offset(node: ast.expr, name: str) -> int | None:
    """k where `node` is `name + k` (`name`, `name - 3`, `2 + name`), else None."""
    if _is_name(node, name):
        return 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        left, right = node.left, node.right
        if _is_name(left, name) and (k := int_literal(right)) is not None:
            return k if isinstance(node.op, ast.Add) else -k
        if isinstance(node.op, ast.Add) and _is_name(right, name) \
                and (k := int_literal(left)) is not None:
            return k
    return None


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def int_literal(node: ast.expr) -> int | None:
    """The value of an int literal, negative ones included; None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_literal(node.operand)
        return -inner if inner is not None else None
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def holds(spec: Spec, req: Expr, config: dict[str, object], *, undecided: bool = True) -> bool:
    """Whether `req` holds in `config` at the other params' defaults; `undecided` where it
    cannot be evaluated (True for a requirement: the configuration is kept, and checking it
    reports why)."""
    try:
        return bool(req.value(param_values(spec, config)))
    except (SpecError, ZeroDivisionError, ValueError, TypeError):
        return undecided


def region(spec: Spec, env: Env) -> list[tuple[Expr, bool]]:
    """The conditions (`when:`, guards) that read an int param `env` keeps a symbol, each
    with its truth value at `env`'s values: the configuration stands for the values of
    those params that give each condition that truth value, and its samples are drawn
    there (prover.valid_samples)."""
    symbolic = {n for n in spec.params if getattr(env.sym.get(n), "is_Symbol", False)}
    out = []
    for c in conditions(spec):
        if reads_through_lets(spec, c.names) & symbolic:
            try:
                out.append((c, bool(c.value(env.val))))
            except (SpecError, ZeroDivisionError, ValueError, TypeError):
                continue  # decides nothing here (nor does it as a guard: facts.py)
    return out


def branch_truths(spec: Spec, env: Env) -> dict[Any, bool]:
    """The conditions of region(spec, env) in sympy form (over `env.sym`), each with its
    truth value: a Piecewise whose condition is one of them (`nk if ratio == 1 else h_r *
    w_r` beside `when: ratio == 1`) takes that branch everywhere the configuration stands
    for."""
    out = {}
    for c, truth in region(spec, env):
        try:
            cond = c.sympy(env.sym)
        except SpecError:
            continue
        if not isinstance(cond, sympy.logic.boolalg.Boolean):
            cond = sympy.Ne(cond, 0)  # a number's truthiness, as Expr.sympy reads `t if t % 2`
        if isinstance(cond, (sympy.core.relational.Relational,
                             sympy.logic.boolalg.BooleanFunction)):
            out[cond] = truth
    return out


def config_text(config: dict[str, object]) -> str:
    """` (when level=1, rfb=True)`: the suffix of a message about one configuration."""
    return f" (when {', '.join(f'{k}={v!r}' for k, v in config.items())})" if config else ""


class Env:
    """Names visible to expressions: symbolic (`sym`) and concrete sample values (`val`)."""

    def __init__(self) -> None:
        self.sym: dict[str, Any] = {}  # sympy values (sympy is untyped), or the value itself
        self.val: dict[str, object] = {}
        # the conditions over int param symbols the configuration decides (branch_truths)
        self.truths: dict[Any, bool] = {}

    def child(self) -> Env:
        env = Env()
        env.sym, env.val, env.truths = dict(self.sym), dict(self.val), self.truths
        return env

    def decided(self, value: Any) -> Any:
        """`value` with each Piecewise condition that `truths` decides replaced by its truth
        value (`nk if ratio == 1 else h_r * w_r` is h_r * w_r where ratio > 1)."""
        if self.truths and getattr(value, "has", None) and value.has(sympy.Piecewise):
            return value.xreplace(self.truths)
        return value


def param_env(spec: Spec, config: dict[str, object]) -> Env:
    """A spec's params and lets in one configuration (int params as symbols, the value a
    configuration pins one to its value in `val`: the symbol stands for every value of its
    region)."""
    env = Env()
    fixed = bounds(spec)  # range bounds: at their defaults
    for p in spec.params.values():
        value = config.get(p.name, p.sample)
        env.val[p.name] = value
        if p.type == "int" and not p.choices and type(value) is int and p.name not in fixed:
            env.sym[p.name] = dim_symbol(p.name, positive=value > 0)
        else:
            env.sym[p.name] = value
    add_lets(spec, env)
    env.truths = branch_truths(spec, env)
    for let in spec.lets.values():
        env.sym[let.name] = env.decided(env.sym[let.name])
    return env


def add_lets(spec: Spec, env: Env) -> None:
    for let in spec.lets.values():
        env.val[let.name] = let.expr.value(env.val)
        env.sym[let.name] = let.expr.sympy(env.sym)


def check_names(expr: Expr, env, scope: str = "", spec: Spec | None = None) -> None:
    """E202 at the first unknown name of an expression, with a suggestion (and `scope`, a
    note on what the expression may name); with `spec`, a name its input shapes use only
    inside a dim's expression (`[B, 3, h * p, w * p]`: no dim is bound to it) is said so."""
    if all(n in env for n in expr.names):  # the common case: nothing to locate
        return
    for n in ast.walk(expr.tree):
        if isinstance(n, ast.Name) and n.id in expr.names and n.id not in env:
            inside = next((f"'{n.id}' is in the shape of input '{name}' only inside "
                           f"`{d.text}`, which binds no dim: a dim is bound by a bare name "
                           f"([B, C, H, W]); bind one and write the relation with it "
                           f"(`H // p`), or make '{n.id}' a param"
                           for name, inp in (spec.sources().items() if spec else ())
                           for d in inp.tensor_shape
                           if not d.text.isidentifier() and n.id in d.names), "")
            raise error(expr.loc.shifted(n.col_offset), UNKNOWN_NAME, f"unknown name '{n.id}' in "
                        f"'{expr.text}'" + did_you_mean(n.id, [k for k in env if k]),
                        inside or scope)


def call_key(sub: Spec, env: Env, ins):
    """What a sub-spec call's outputs depend on, hashable; None if some value is not."""
    dtypes = tuple(tuple(map(dtype_of, s)) if isinstance(s, list) else dtype_of(s) for s in ins)
    try:
        return ("call", sub.path, tuple((n, frozen_value(env.sym[n]), frozen_value(env.val[n]))
                                        for n in sub.params),
                tuple(frozen_value(env.sym[n]) for n in sub.int_inputs), frozen_value(ins), dtypes)
    except TypeError:
        return None
