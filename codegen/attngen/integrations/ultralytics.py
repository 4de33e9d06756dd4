"""Generated modules by name in ultralytics model YAMLs (docs/integrations.md).

    from attngen.integrations.ultralytics import register
    from ultralytics import YOLO

    register()                       # the library's channel-preserving modules; or register("se")
    model = YOLO("yolov8-se.yaml")   # a row `- [-1, 1, SEAttention, []]` after any layer

ultralytics' `parse_model` gives a module it does not know its YAML args untouched, so a
channel count written there fits one scale only. `register` puts each module's class into
`ultralytics.nn.tasks` and wraps `parse_model` once: a row naming a registered module gets
ultralytics' own `ch` and `f` (strings the parser replaces by its locals, as it does for
`nc`) ahead of its YAML args, and the class reads the incoming channels `ch[f]` from them.
The YAML's args are the module's other params, by position (`[8]`) or as a mapping
(`[{reduction: 8}]`). A row naming a module neither ultralytics nor `register` knows is a
ValueError that says what to register, not parse_model's KeyError.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import ultralytics.nn.tasks as tasks

from .. import load
from .common import SpecOrClass, check_usable, library_specs, resolve, values

REGISTERED: dict[str, type[torch.nn.Module]] = {}
# the names parse_model reads besides its module namespace (`nn.X`, `torchvision.ops.X`)
_PREFIXES = ("nn.", "torchvision.ops.")


def _layer_class(spec_or_class: SpecOrClass) -> type[torch.nn.Module]:
    loaded, cls = resolve(spec_or_class)
    check_usable(loaded, {}, "an ultralytics layer")
    others = [p for p in loaded.spec.params if p not in loaded.binding.channels]

    base: Any = cls  # a generated class: its __init__ takes the params and factory kwargs

    def __init__(self: torch.nn.Module, channels: Any, *given: Any, device: Any = None,
                 dtype: Any = None, **params: Any) -> None:
        args = list(given)
        if isinstance(channels, list):  # from parse_model: its `ch` and `f`
            channels = channels[args.pop(0)]
        if len(args) == 1 and isinstance(args[0], dict):  # a mapping of params in the YAML
            params = {**args[0], **params}
            args = []
        if len(args) > len(others):
            raise TypeError(f"{cls.__name__} takes {len(others)} param(s) besides the "
                            f"channels ({', '.join(others) or 'none'}), got {len(args)}")
        by_name = {**dict(zip(others, args, strict=False)), **params}
        base.__init__(self, **values(loaded, int(channels), by_name), device=device, dtype=dtype)

    doc = f"{cls.__name__} as an ultralytics layer: (channels, *params).\n\n" + (cls.__doc__ or "")
    return type(cls.__name__, (cls,), {"__init__": __init__, "__doc__": doc,
                                       "__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__})


def register(*specs: SpecOrClass) -> dict[str, type[torch.nn.Module]]:
    """Make spec modules usable by class name in ultralytics model YAMLs; with no argument,
    every channel-preserving module of the library but those whose name ultralytics uses
    for a module of its own (YOLOv10's PSA keeps its name). Returns name -> the registered
    class. A spec named explicitly whose name ultralytics uses is refused (ValueError)."""
    chosen = list(specs) or [p for p in library_specs() if _preserving(p)]
    added = {}
    for item in chosen:
        layer = _layer_class(item)
        name = layer.__name__
        if not specs and name in vars(tasks) and name not in REGISTERED:
            continue  # the library's PSA (External-Attention) vs ultralytics' PSA (YOLOv10)
        if name in vars(tasks) and name not in REGISTERED:
            raise ValueError(f"ultralytics already has a '{name}': a spec module of that name "
                             "would replace it (give the spec another name:)")
        added[name] = layer
    REGISTERED.update(added)
    vars(tasks).update(added)
    if not getattr(tasks.parse_model, "attngen_wrapped", False):
        tasks.parse_model = _wrapped(tasks.parse_model)
    return added


def _preserving(path: Any) -> bool:
    return load(path).binding.channel_preserving()


def _wrapped(parse_model: Any) -> Any:
    @functools.wraps(parse_model)
    def wrapper(d: dict, ch: Any, verbose: bool = True) -> Any:
        rows = [*d.get("backbone", []), *d.get("head", [])]
        for i, row in enumerate(rows):
            name = row[2]
            if not isinstance(name, str) or name.startswith(_PREFIXES):
                continue
            if name in REGISTERED:
                args = row[3] if len(row) > 3 else []
                row[3:] = [["ch", "f", *(args if isinstance(args, list) else [args])]]
            elif name not in vars(tasks):
                known = ", ".join(sorted(REGISTERED))
                raise ValueError(f"model YAML layer {i} names '{name}', a module neither "
                                 "ultralytics nor attngen.integrations.ultralytics.register "
                                 f"knows (registered: {known}); register its spec first, e.g. "
                                 "register('path/to/spec.yaml'), or register() for the library")
        return parse_model(d, ch, verbose)

    wrapper.attngen_wrapped = True  # type: ignore[attr-defined]
    return wrapper
