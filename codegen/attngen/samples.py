"""The samples `verify` runs a module at: params near their examples and free input dims,
drawn so that `requires` holds (divisibility and equality facts by construction)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .configs import conditions, configurations, structural_params
from .errors import SpecError
from .expr import Expr
from .facts import impose_equalities
from .model import Spec, compute_lets

DIM_VALUES = [2, 3, 5, 7, 11, 13, 6, 9]  # first sample: distinct, mostly odd (non-square)


@dataclass
class Sample:
    params: dict[str, object]
    dims: dict[str, int]  # free input dim name -> int
    present: set[str]  # optional inputs passed

    def text(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in {**self.params, **self.dims}.items())


# -- sampling --------------------------------------------------------------------------------
def free_dims(spec: Spec) -> list[str]:
    """The int inputs, then plain dim names of the input shapes that no param or let
    defines, in order."""
    known = set(spec.params) | set(spec.lets)
    out: list[str] = [*spec.int_inputs]
    for inp in spec.sources().values():
        for d in inp.tensor_shape:
            if d.text.isidentifier() and d.text not in known and d.text not in out:
                out.append(d.text)
    return out


# dims are drawn from 2 to 12; where no draw there satisfies `requires` (MLP-Mixer's
# `tokens == (H // p) * (W // p)` at 16 tokens of patches of 4), from 2 to 64
DIM_RANGES = ((2, 12, 200), (2, 64, 2000))  # (low, high, draws)


def draw_samples(spec: Spec, n: int, rng: random.Random) -> list[Sample]:
    """n assignments satisfying `requires`, at least one per configuration; sample i uses
    configuration i (mod their count)."""
    configs, samples = configurations(spec), []
    for i in range(max(n, len(configs))):
        for low, high, draws in DIM_RANGES:
            sample = _draw_one(spec, configs[i % len(configs)], i, rng, low, high, draws)
            if sample is not None:
                samples.append(sample)
                break
    return samples


def _region(spec: Spec, config: dict[str, object]) -> list[tuple[Expr, bool]]:
    """The conditions a configuration decides, each with its truth value there: a sample
    of the configuration keeps them (an int param drawn near its value may not)."""
    values = {p.name: config.get(p.name, p.sample) for p in spec.params.values()}
    out = []
    for cond in conditions(spec):
        try:
            compute_lets(spec.lets.values(), values)
            out.append((cond, bool(cond.value(values))))
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            continue  # decides nothing here
    return out


def unsatisfied(spec: Spec, rng: random.Random) -> tuple[Expr | None, int]:
    """The requirement that failed most often in draws like draw_samples' widest (None if
    every draw failed before any requirement was read), and how many draws were made."""
    failed: dict[int, int] = {}
    _, high, draws = DIM_RANGES[-1]
    _draw_one(spec, configurations(spec)[0], 0, rng, 2, high, draws, failed)
    if not failed:
        return None, draws
    return spec.requires[max(failed, key=lambda k: failed[k])], draws


def _draw_one(spec: Spec, config: dict[str, object], i: int, rng: random.Random, low: int,
              high: int, draws: int, failed: dict[int, int] | None = None) -> Sample | None:
    """Sample i: one assignment of `config` that satisfies `requires`, dims drawn from
    `low` to `high` (the first draw of sample 0: DIM_VALUES); None after `draws` misses.
    `failed` counts, per requirement, the draws it was the first to fail."""
    dims = free_dims(spec)
    optional = [name for name, inp in spec.sources().items() if inp.optional]
    facts = spec.divisibility()
    region = _region(spec, config)
    for attempt in range(draws):
        params = {}
        for p in spec.params.values():
            v = config.get(p.name, p.sample)
            if (i and p.type == "int" and p.name not in structural_params(spec)
                    and isinstance(v, int) and v > 0 and attempt < draws // 2):
                v = rng.choice([v, v, 2 * v, v + 1])  # (the later draws keep the values)
            params[p.name] = v
        values = {d: DIM_VALUES[j % len(DIM_VALUES)] if i == 0 and attempt == 0 and low == 2
                  and high == DIM_RANGES[0][1] else rng.randint(low, high)
                  for j, d in enumerate(dims)}
        env: dict[str, Any] = {**params, **values}  # what the spec's expressions read
        try:
            compute_lets(spec.lets.values(), env)
            for name, div, rest in facts:  # make divisibility facts hold by construction
                if name in values or (i and name in params):
                    e, r = div.value(env), rest.value(env)
                    if isinstance(e, int) and e > 0 and env[name] % e != r % e:
                        # at least twice the divisor: a quotient of 1 (H // 16 at
                        # H = 16) is a size torch.export specializes
                        k = max(2, env[name] // e) + (i > 0 and rng.random() < 0.5)
                        env[name] = e * k + r % e
                        (values if name in values else params)[name] = env[name]
            compute_lets(spec.lets.values(), env)
            impose_equalities(spec, env, values)  # and equality facts (`n == N`)
            compute_lets(spec.lets.values(), env)
            first = next((k for k, req in enumerate(spec.requires) if not req.value(env)), None)
            if first is None and any(bool(c.value(env)) != truth for c, truth in region):
                continue  # another configuration's sample (`h` moved off `H == h`)
            if first is None:
                present = set(optional) if i % 2 == 0 else set()
                return Sample(params, values, present)
            if failed is not None:
                failed[first] = failed.get(first, 0) + 1
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            continue
    return None
