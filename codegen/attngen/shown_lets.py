"""Shapes shown in the spec's own words: a let's value printed as the let's name
(`window**2` where the spec says `window: block_size + 2 * halo_size`, `2*inner_dim` for
`2*dim_head*heads`) in generated comments and docstrings, diagrams, docs pages, `check` and
`show`. Only the printing changes; the checker and the emitter keep the values."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sympy

from .configs import param_env
from .dims import lets_folded
from .results import Checked


def let_folds(checked: Checked) -> tuple[tuple[Any, Any], ...]:
    """(value, name symbol) of each let whose value in the first configuration is a
    whole-number expression of params (not a number or a param alone) that no other let
    has (`d_k` and `d_v` both `d_model // h`: which one a dim is, the value cannot say),
    biggest first, so that a let built on another folds before it."""
    spec = checked.spec
    if not spec.lets:
        return ()
    env = param_env(spec, checked.configs[0] if checked.configs else {})
    folds = []
    for name in spec.lets:
        value = env.sym.get(name)
        if isinstance(value, sympy.Basic) and not value.is_Atom and value.free_symbols \
                and value.is_integer:
            folds.append((value, sympy.Symbol(name)))
    values = [value for value, _ in folds]
    unique = [fold for fold in folds if values.count(fold[0]) == 1]
    return tuple(sorted(unique, key=lambda fold: -sympy.count_ops(fold[0])))


@contextmanager
def lets_shown(checked: Checked) -> Iterator[None]:
    """Within it, shapes print in `checked`'s lets (dims.fmt_dim)."""
    with lets_folded(let_folds(checked)):
        yield
