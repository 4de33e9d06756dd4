"""The shape checker: a spec and its sub-specs, in every configuration, all errors at once.

The graph is checked first (graph.py: references, cycles); then each configuration is
inferred (infer.py) with its own Prover (prover.py), and every active node must reach an
active output.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from .algebra import TooLarge
from .assume import with_what_follows
from .budget import MAX_NODES, NodeCount
from .call_args import sub_args
from .configs import (
    Env,
    check_names,
    config_text,
    configurations,
    guard_apart,
    param_env,
    region_guard,
    structural_params,
)
from .dead_branches import never_holding
from .dims import dim_symbol, lets_folded
from .errors import (
    NEVER_HOLDS,
    OVER_BUDGET,
    REQUIREMENT_FAILS,
    UNKNOWN_OUTPUT,
    Collector,
    Diagnostic,
    Loc,
    SpecError,
    error,
)
from .graph import (
    build,
    check_body_dims,
    check_choice_comparisons,
    check_constructor_names,
    check_reachable,
    producers,
)
from .in_place_reads import check_in_place_reads
from .infer import Inference, bound_text
from .model import NO_COPIES, Node, Spec, SubSpec
from .names import check_file_names
from .ops.ctx import Shape, ShapeFail
from .overlap import check_in_place
from .prover import HintScope, Prover, requirement_rewrites, valid_samples
from .recovery import run_all
from .results import LAYER, Checked, ValueShape
from .shown_lets import env_folds
from .strides import merging_views

REQUIRES_SCOPE = "requires may name params, lets and the dims of the inputs' shapes"


def input_dims(spec: Spec, env: Env) -> list[Any]:
    """The free dims the inputs' shapes name (not params or lets), as symbols, in order; a
    loop body's caller's dims first (Spec.free_dims), then the int inputs."""
    given = [*spec.free_dims, *spec.int_inputs]
    dims, seen = [dim_symbol(d) for d in given], set(given)
    for inp in spec.sources().values():
        for d in inp.tensor_shape:
            if d.text.isidentifier() and d.text not in env.sym and d.text not in seen:
                seen.add(d.text)
                dims.append(dim_symbol(d.text))
    return dims


# spec file -> its check's result, or the SpecError it raised
CheckCache = dict[Path, "Checked | SpecError"]


def check_once(spec: Spec, cache: CheckCache) -> Checked:
    """check(spec), once per spec file: `cache` maps spec paths to their results and is
    shared with the sub-spec checks, so a spec checked as another's sub-spec (danet's
    position_attention) is not checked again on its own, nor the other way round. A spec
    that fails is not checked again either: a sub-spec reached by many paths (a diamond of
    `use:`) would be checked once per path, exponentially many times."""
    if spec.path not in cache:
        try:
            cache[spec.path] = check(spec, cache)
        except SpecError as exc:
            cache[spec.path] = exc
    result = cache[spec.path]
    if isinstance(result, SpecError):
        raise result
    return result


def _body_noted(sub: Spec, exc: SpecError) -> SpecError:
    """A loop body's error, with the copy its own check ran (the first at the defaults)."""
    var = sub.loop_var
    if var is None:
        return exc
    param = sub.params[var]
    note = (f"a loop body is checked alone at its first copy at the defaults ({var} = "
            f"{param.default!r})" + ("; at the defaults the loop has no copies: give the params "
                                     "defaults where it runs" if param.doc == NO_COPIES else ""))
    return SpecError([replace(d, notes=(*d.notes, note)) for d in exc.diagnostics])


def _region_note(spec: Spec, config: dict[str, object]) -> str:
    """What a configuration that pins int params stands for (its counterexamples are drawn
    there, at other values of them): `h=14, w=14 stand for every value where
    `is_global` is false`; '' for any other configuration."""
    pinned = [n for n in config if n not in structural_params(spec)
              and not spec.params[n].tries_example and config[n] != spec.params[n].sample]
    guard = region_guard(spec, {n: config[n] for n in pinned},
                         {n: spec.params[n].sample for n in pinned})
    if not pinned or not guard:
        return ""
    values = ", ".join(f"{n}={config[n]!r}" for n in pinned)
    verb = "stand" if len(pinned) > 1 else "stands"
    return f"{values} {verb} for every value where `{guard}` is false: samples are drawn there"


def check(spec: Spec, _cache: CheckCache | None = None, *, follow: bool = True) -> Checked:
    """Check a spec (and its sub-specs) in every configuration; collect all errors, and with
    `follow` those an unstated fact hides (assume.py)."""
    cache = _cache if _cache is not None else {}
    check_file_names(spec)  # before anything keys sub-specs by class name
    issues = Collector()
    subs = {}
    for sub in spec.subspecs():
        if sub.name not in subs:
            try:
                subs[sub.name] = check_once(sub, cache)
            except SpecError as exc:
                issues.add(_body_noted(sub, exc))
    issues.raise_if_any()
    graph, order = build(spec)
    check_constructor_names(spec)
    check_choice_comparisons(spec)
    check_body_dims(spec, order)
    configs = configurations(spec)
    result = Checked(spec, order, configs, subs=subs)
    for cond, fix in never_holding(spec, configs):
        result.warnings.append(Diagnostic(
            cond.loc, NEVER_HOLDS, f"'{cond.text}' holds for no value the checker tries: "
            "what it guards is never checked", (fix,) if fix else (), "warning"))
    count = NodeCount()  # the node budget holds for all configurations together
    reached: set[tuple[frozenset[str], tuple[str, ...]]] = set()  # see _check_config
    # the same problem in several configurations: report it once
    failed: dict[tuple[Loc, str, str], list[Diagnostic]] = {}
    where: dict[tuple[Loc, str, str], set[int]] = {}  # the configurations each is found in
    for i, config in enumerate(configs):
        try:
            _check_config(spec, config, graph, order, result, count, reached)
        except SpecError as exc:
            suffix, region = config_text(config), _region_note(spec, config)
            for d in exc.diagnostics:
                base = d.message.removesuffix(suffix) if suffix else d.message
                d = replace(d, notes=(*d.notes, region)) if region else d
                d = _float_caution(d)
                failed.setdefault((d.loc, d.code, base), []).append(d)
                where.setdefault((d.loc, d.code, base), set()).add(i)
            if len(failed) >= 20 or count.used > MAX_NODES:  # the budget is spent
                break
    _guard_default_hints(spec, configs, failed, where,
                         lambda guard: _check_config(spec, configs[0], graph, order,
                                                     Checked(spec, order, configs, subs=subs),
                                                     NodeCount(), set(), guard))
    for (_loc, _code, base), found in failed.items():
        first = found[0]
        if len(found) == len(configs) > 1:  # in every configuration: no need to name one
            first = Diagnostic(first.loc, first.code, base, first.notes)
        elif len(found) > 1:
            more = f"the same in {len(found) - 1} more configuration(s)"
            first = Diagnostic(first.loc, first.code, first.message, (*first.notes, more))
        issues.add(SpecError([first]))
    try:
        issues.raise_if_any()
    except SpecError as exc:
        if not follow:
            raise
        raise with_what_follows(spec, exc, lambda s: check(s, cache, follow=False)) from None
    return result


_HINT_LINE = re.compile(r"requires: \[(.*)\]$")
_FLOAT = re.compile(r"(?<![\w.])\d+\.\d+")


def _float_caution(d: Diagnostic) -> Diagnostic:
    """A hint whose line holds a float (`c % (int(0.5*c)) == 0`) has a float param's value
    in it, which the checker takes as a number: the line holds at that value only."""
    lines = [m[1] for n in d.notes if (m := _HINT_LINE.search(n))]
    found = [f for line in lines for f in _FLOAT.findall(line)]
    if not found:
        return d
    return replace(d, notes=(*d.notes, f"where {found[0]} is a float param's value, the line "
                             "holds at that value only: name the expression in `let:` "
                             "(`g: int(c * e)`) and the hint reads the let"))


def _guard_default_hints(spec: Spec, configs: list[dict[str, object]],
                         failed: dict[tuple[Loc, str, str], list[Diagnostic]],
                         where: dict[tuple[Loc, str, str], set[int]],
                         recheck: Callable[[str], None]) -> None:
    """A hint found at the defaults (configs[0]) but not in every configuration holds only
    where the defaults' branches are taken: its line gets the guard that is false there and
    true in the configurations without the problem (`not channels_last or D3 == dim`), as
    another configuration's line gets its own. The defaults are checked again under it
    (`recheck`), and those diagnostics replace the first ones."""
    for key, found_in in where.items():
        if 0 not in found_in or len(found_in) == len(configs):
            continue
        guard = guard_apart(spec, configs, found_in)
        if not guard:
            continue
        try:
            recheck(guard)
        except SpecError as exc:
            again = {(d.loc, d.code, d.message.removesuffix(config_text(configs[0]))): d
                     for d in exc.diagnostics}
            if key in again:
                failed[key][0] = _float_caution(again[key])


def _check_config(spec: Spec, config: dict[str, object], graph: Any, order: list[str],
                  result: Checked, count: NodeCount,
                  reached: set[tuple[frozenset[str], tuple[str, ...]]],
                  guard: str | None = None) -> None:
    """One configuration of `spec`; `reached`: the (active nodes, active outputs) already
    found to reach each other in another configuration (check_reachable, asked once);
    `guard`: the condition its hints' lines are guarded by (region_guard's by default)."""
    env = param_env(spec, config)
    for req in spec.requires:
        check_names(req, {**env.val, **dict.fromkeys(spec.input_dims())}, REQUIRES_SCOPE, spec)
        if spec.on_input_dims(req):
            continue  # input dims have no defaults: checked on samples below
        if not req.value(env.val):
            raise error(
                req.loc,
                REQUIREMENT_FAILS,
                f"requirement '{req.text}' does not hold for the defaults" + config_text(config),
                "values: "
                + ", ".join(f"{n}={env.val[n]!r}" for n in sorted(req.names) if n in env.val),
            )
    dims = input_dims(spec, env)
    rng = random.Random(spec.name)
    in_scope = spec.input_dims()  # what a hint's `requires` line may name
    default = {n: spec.params[n].sample for n in config}
    scope = HintScope(in_scope, [*spec.params, *spec.lets, *in_scope],
                      region_guard(spec, config, default) if guard is None else guard)
    prover = Prover(requirement_rewrites(spec, env, dims),
                    valid_samples(spec, env, dims, rng), scope)
    on_inputs = [r for r in spec.requires if spec.on_input_dims(r)]
    if on_inputs and not prover.default():
        raise error(on_inputs[0].loc, REQUIREMENT_FAILS,
                    f"no input sizes were found that satisfy requires{config_text(config)}",
                    "requirements: " + "; ".join(r.text for r in spec.requires))
    inference = Inference(spec, env, prover, config, order, result, count)
    try:
        inference.bind_inputs()
        for name, value in inference.values.items():
            # bind_inputs() with no values given binds every input to its tuple of dims
            result.inputs.setdefault(name, cast(Shape, value))
        with lets_folded(lambda: env_folds(spec, env)):  # messages, hints in the spec's lets
            found = run_all(inference)  # every node that can be inferred, not just the first
    except TooLarge as exc:  # a build budget, at the node of this spec that ran over it
        node = inference.current
        where = f"node '{node.name}': " if node is not None else ""
        raise error(node.loc if node is not None else spec.loc, OVER_BUDGET,
                    where + str(exc) + config_text(config)) from None
    if found:  # the outputs and the rest are checked once every node has a shape
        raise SpecError(found)
    active_outputs = [o.name for o in spec.outputs if inference.active(o.when)]
    if not active_outputs:
        raise error(
            spec.outputs[0].loc, UNKNOWN_OUTPUT, "no output is returned" + config_text(config)
        )
    for name in active_outputs:
        owner = producers(spec)[name]
        if owner not in inference.values:
            raise error(next(o.loc for o in spec.outputs if o.name == name), UNKNOWN_OUTPUT,
                        f"output '{name}' does not exist" + config_text(config))
        value = inference.values[owner]
        if value is LAYER:
            raise error(next(o.loc for o in spec.outputs if o.name == name), UNKNOWN_OUTPUT,
                        f"output '{name}' is a layer declared without 'in:', not a tensor")
        # a shape: not LAYER (refused above), nor None (every input is bound)
        shape = cast("ValueShape | dict[str, ValueShape]", value)
        result.outputs.setdefault(name, shape[name] if isinstance(shape, dict) else shape)
    check_in_place(spec, order, env.val, config_text(config))
    check_in_place_reads(spec, order, env.val, config_text(config))
    for name in order:  # sub-modules kept unused: no call checks them, so check them as made
        node = spec.nodes[name]
        if node.unused and isinstance(node.form, SubSpec) and name in inference.values:
            _check_kept_module(node, node.form, env, config)
    result.merging_views |= merging_views(spec, inference.values, inference.active,
                                          lambda a, b: prover.equal(a, b)[0])
    active = {n for n in inference.values if n in spec.nodes}
    if (frozenset(active), tuple(active_outputs)) not in reached:
        check_reachable(spec, graph, active, active_outputs, config_text(config))
        reached.add((frozenset(active), tuple(active_outputs)))
    for dim, bound_at in inference.bound.items():
        result.symbols.setdefault(dim, bound_text(bound_at))


def _check_kept_module(node: Node, call: SubSpec, env: Env, config: dict[str, object]) -> None:
    """A `use:` sub-module marked `unused: true`: the sub-spec checked on its own with the
    call's arguments as its defaults (its inputs free), as the constructor makes it; an
    error of it is reported at the node, its own place in a note."""
    sub = call.spec
    try:
        values = sub_args(call, lambda expr: expr.value(env.val), node, config)
    except ShapeFail as exc:
        raise error(node.loc, exc.code, f"node '{node.name}': {exc}" + config_text(config)
                    ) from None
    params = {name: p.set_to(values[name]) if name in values else p
              for name, p in sub.params.items()}
    try:
        check(replace(sub, params=params), follow=False)
    except SpecError as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise SpecError([Diagnostic(node.loc, d.code, f"node '{node.name}': {sub.name}({shown}) "
                                    f"does not check: {d.message}" + config_text(config),
                                    (f"at {d.loc}", *d.notes))
                         for d in exc.diagnostics]) from None
