"""Which constructor params are sizes of the first input's (and first output's) dims.

A network gives a module its input, not its params: timm calls `attn_layer(channels)`,
ultralytics knows the incoming layer's channels. The spec's shapes say which params those
are: SE's `x: [B, channel, H, W]` makes `channel` the size of axis 1, CoordAtt's output
`[B, oup, H, W]` makes `oup` the output's. Where the input names a dim instead of the param
(`x: [B, C, H, W]` with a param `channel` that only sizes a kernel), the spec declares it:
`binds: {channel: C}` (parse.py). Read from a `Checked`; no torch, no sympy import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # results imports sympy
    from .results import Checked

CHANNEL_AXIS = 1  # NCHW, as torch, timm and ultralytics lay tensors out


@dataclass(frozen=True)
class Binding:
    """The params a network's tensors determine, by axis."""

    spec_name: str
    input: str | None  # the first input (None: a list input, or no tensor input)
    axes: dict[str, int]  # param -> the axis of the first input whose size it is
    out_axes: dict[str, int]  # param -> the axis of the first output whose size it is
    declared: frozenset[str]  # the params of `axes` the spec declares with `binds:`
    preserves_shape: bool  # the first output has the first input's shape, once the output
    #                        params take the input's sizes (an attention block's contract)

    def at(self, axis: int) -> list[str]:
        """The params that are the size of `axis` of the first input or output."""
        found = [p for p, a in self.axes.items() if a == axis]
        return found + [p for p, a in self.out_axes.items() if a == axis and p not in found]

    @property
    def channels(self) -> list[str]:
        """The params the channel count determines (axis 1 of the input or output)."""
        return self.at(CHANNEL_AXIS)

    @property
    def others(self) -> dict[str, int]:
        """Params bound to an axis other than the channels (DANet's `H`, `W`): a caller
        that knows only the channels must be given these."""
        both = {**self.out_axes, **self.axes}
        return {p: a for p, a in both.items() if a != CHANNEL_AXIS}

    def channel_preserving(self) -> bool:
        """Usable where a block expects `channels -> channels`, sizes kept: the output has
        the input's shape and nothing but the channels is bound."""
        return self.input is not None and self.preserves_shape and not self.others

    def describe(self) -> str:
        """One line: `channel = x.shape[1]; shape kept`."""
        parts = [f"{p} = {self.input}.shape[{a}]" + (" (binds)" if p in self.declared else "")
                 for p, a in self.axes.items()]
        parts += [f"{p} = output.shape[{a}]" for p, a in self.out_axes.items()
                  if p not in self.axes]
        kept = "shape kept" if self.preserves_shape else "shape changed"
        return f"{'; '.join(parts) or 'no param is a dim'}; {kept}"


def binding(checked: Checked) -> Binding:
    """The binding of a checked spec, from its shapes and its `binds:`."""
    spec = checked.spec
    first = next(iter(spec.inputs.values()), None)
    if first is None or first.items is not None:
        return Binding(spec.name, None, {}, {}, frozenset(), False)
    shape = [d.text for d in first.tensor_shape]
    axes = {p: shape.index(p) for p in spec.params if p in shape}
    for param, dim in spec.binds.items():
        axes.setdefault(param, shape.index(dim))
    out_axes: dict[str, int] = {}
    out = checked.outputs.get(spec.outputs[0].name) if spec.outputs else None
    if isinstance(out, tuple):
        for axis, d in enumerate(out):
            if getattr(d, "is_Symbol", False) and str(d) in spec.params \
                    and str(d) not in out_axes:
                out_axes[str(d)] = axis
    given = checked.inputs.get(first.name)
    preserves = False
    if isinstance(out, tuple) and isinstance(given, tuple) and len(out) == len(given):
        # an output param takes the input's size at its axis; a `binds:` param is its dim
        same = {p: given[a] for p, a in out_axes.items() if a < len(given)}
        same.update({p: given[axes[p]] for p in spec.binds})
        preserves = all(str(o) == str(i) or (str(o) in same and str(same[str(o)]) == str(i))
                        for o, i in zip(out, given, strict=True))
    return Binding(spec.name, first.name, axes, out_axes, frozenset(spec.binds), preserves)
