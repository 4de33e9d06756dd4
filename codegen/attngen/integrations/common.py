"""What the integrations share: the spec and class behind what a user hands over, and the
constructor values a channel count determines (the spec's binding, binding.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .. import LoadedSpec, compile, load
from ..resources import specs_dir

SpecOrClass = LoadedSpec | str | os.PathLike[str] | type
_NAME_LINE = re.compile(r"^name:\s*['\"]?(\w+)", re.MULTILINE)


def library_specs() -> list[Path]:
    """The built-in specs and their variants, in a stable order."""
    root = specs_dir()
    return sorted(root.glob("*.yaml")) + sorted((root / "variants").glob("*.yaml"))


def resolve(spec_or_class: SpecOrClass) -> tuple[LoadedSpec, type]:
    """(the checked spec, its nn.Module class) from a spec path, a built-in name, a
    LoadedSpec, or a generated class (one of the library's, by its class name)."""
    if isinstance(spec_or_class, type):
        cls = spec_or_class
        for path in library_specs():
            match = _NAME_LINE.search(path.read_text(encoding="utf-8"))
            if match and match.group(1) == cls.__name__:
                return load(path), cls
        raise ValueError(f"{cls.__name__} is no class of attngen's library: pass its spec "
                         "(a path or an attngen.load(...) result) instead")
    loaded = spec_or_class if isinstance(spec_or_class, LoadedSpec) else load(spec_or_class)
    return loaded, compile(loaded)


def check_usable(loaded: LoadedSpec, fixed: dict[str, object], what: str) -> list[str]:
    """The params the channel count sets; raises ValueError (TypeError for a wrong name)
    where the module cannot stand between two layers of `channels` each."""
    b, spec = loaded.binding, loaded.spec
    name = spec.name
    if b.input is None or not b.preserves_shape:
        raise ValueError(f"{name} cannot be {what}: its output shape differs from its input's "
                         f"({b.describe()})")
    unknown = [k for k in fixed if k not in spec.params]
    if unknown:
        raise TypeError(f"{name} has no param {', '.join(map(repr, unknown))} (params: "
                        f"{', '.join(spec.params) or 'none'})")
    bound = [k for k in fixed if k in b.channels]
    if bound:
        raise TypeError(f"{name}: {', '.join(bound)} is set from the channels; leave it out")
    missing = [p for p in b.others if p not in fixed]
    if missing:
        raise ValueError(f"{name} cannot be {what}: {', '.join(missing)} are sizes of the "
                         f"input's other dims ({b.describe()}); give them as fixed values")
    return b.channels


def values(loaded: LoadedSpec, channels: int, given: dict[str, object]) -> dict[str, object]:
    """Constructor values: the channel params from `channels`, the rest from `given`
    (their defaults otherwise); a required param nobody gives is a TypeError."""
    spec = loaded.spec
    out = dict(given)
    for param in loaded.binding.channels:
        out[param] = channels
    missing = [p.name for p in spec.params.values() if p.required and p.name not in out]
    if missing:
        raise TypeError(f"{spec.name} needs {', '.join(missing)}, which the channels do not "
                        "determine: give a value")
    return out
