"""Generated modules as timm attention layers (docs/integrations.md).

    import timm
    from attngen.integrations.timm import attn_layer

    model = timm.create_model("resnet18", block_args=dict(attn_layer=attn_layer("se")))

timm builds an attention layer as `attn_layer(channels, device=..., dtype=...)`, the
channels positional. `attn_layer` returns a subclass of the spec's class with that
signature: the params the spec's shapes tie to the channels take them (SE's `channel`,
CoordAtt's `inp` and `oup`), the others `fixed` values or their defaults.
"""

from __future__ import annotations

from typing import Any

import torch

from .common import SpecOrClass, check_usable, resolve, values


def attn_layer(spec_or_class: SpecOrClass, **fixed: Any) -> type[torch.nn.Module]:
    """A class `(channels, *, device=None, dtype=None, **params)` for timm's `attn_layer`.

    `spec_or_class`: a spec path, a built-in name (`"se"`), an `attngen.load(...)` result,
    or a library class. `fixed`: values of params the channels do not determine (ECA's
    `kernel_size`); keyword arguments at construction override them. Raises ValueError for
    a module that cannot keep a block's shape (its output differs from its input, or a
    spatial size is a param no value was fixed for) and TypeError for an unknown param.
    """
    loaded, cls = resolve(spec_or_class)
    base: Any = cls  # a generated class: its __init__ takes the params and factory kwargs
    check_usable(loaded, fixed, "a timm attention layer")

    def __init__(self: torch.nn.Module, channels: int, *, device: Any = None,
                 dtype: Any = None, **params: Any) -> None:
        base.__init__(self, **values(loaded, channels, {**fixed, **params}),
                     device=device, dtype=dtype)

    doc = f"{cls.__name__} as a timm attention layer: (channels, *, device, dtype).\n\n" \
          f"Channels set: {', '.join(loaded.binding.channels) or 'none'}; fixed: {fixed}.\n\n" \
          + (cls.__doc__ or "")
    return type(cls.__name__, (cls,), {"__init__": __init__, "__doc__": doc,
                                       "__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__})
