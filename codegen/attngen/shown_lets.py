"""Shapes shown in the spec's own words: a let's value printed as the let's name
(`window**2` where the spec says `window: block_size + 2 * halo_size`, `2*inner_dim` for
`2*dim_head*heads`), and a dim a node's `shape:` names as that name (`Hk` for `1 + (H - 1)
// stride`), in generated comments and docstrings, diagrams, docs pages, `check` and
`show`. Only the printing changes; the checker and the emitter keep the values."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sympy

from .configs import Env, param_env
from .dims import lets_folded
from .graph import annotation_dims
from .model import Spec
from .results import Checked


def let_folds(checked: Checked) -> tuple[tuple[Any, Any], ...]:
    """env_folds of the first configuration, and the dims nodes' shapes bind."""
    spec = checked.spec
    env = param_env(spec, checked.configs[0] if checked.configs else {}) if spec.lets else None
    return env_folds(spec, env, _bound_dims(checked))


def env_folds(spec: Spec, env: Env | None,
              more: Sequence[tuple[Any, Any]] = ()) -> tuple[tuple[Any, Any], ...]:
    """(value, name symbol) of each let whose value in `env` is a whole-number expression
    of params (not a number or a param alone) that no other let has (`d_k` and `d_v` both
    `d_model // h`: which one a dim is, the value cannot say), biggest first, so that a let
    built on another folds before it; the check prints its messages in them (a hint's
    `c_ % g == 0`, not the value at a float param's default)."""
    folds = [(env.sym.get(name), sympy.Symbol(name)) for name in spec.lets] if env else []
    folds = [*folds, *more]
    folds = [(value, name) for value, name in folds if isinstance(value, sympy.Basic)
             and not value.is_Atom and value.free_symbols and value.is_integer]
    values = [value for value, _ in folds]
    unique = [fold for fold in folds if values.count(fold[0]) == 1]
    return tuple(sorted(unique, key=lambda fold: -sympy.count_ops(fold[0])))


def _bound_dims(checked: Checked) -> list[tuple[Any, Any]]:
    """(value, name symbol) of each dim a node's `shape:` binds (graph.annotation_dims:
    `[B, c, Hk, Wk]` after a strided conv, Hk is `1 + (H - 1) // stride`), in a spec of one
    configuration (where there are more, a bound dim's value may differ between them)."""
    if len(checked.configs) > 1:
        return []
    found = []
    for bound in annotation_dims(checked.spec, checked.order):
        try:
            value = checked.value(bound.tensor)
        except (KeyError, ValueError):
            continue
        if not isinstance(value, list) and len(value) == bound.rank:
            found.append((value[bound.axis], sympy.Symbol(bound.name)))
    return found


@contextmanager
def lets_shown(checked: Checked) -> Iterator[None]:
    """Within it, shapes print in `checked`'s lets (dims.fmt_dim)."""
    with lets_folded(let_folds(checked)):
        yield
