"""Ops from installed packages: the `attngen.ops` entry-point group.

A distribution declares, in its pyproject.toml,

    [project.entry-points."attngen.ops"]
    fft = "attngen_fft"

naming a module whose import registers its ops (`register(Op(...))`, as the built-in
modules do), or a callable (`"attngen_fft:ops"`) that returns them. `load` imports every
such entry point once, when the registry is first read (base.Registry), each inside
`registering_as` its distribution and version, so every op records where it comes from.
A plugin that fails to load, or an op name declared twice, is a one-line PluginError that
names the distribution. Only installed code is ever imported: a spec names ops by key.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from types import ModuleType

from .base import REGISTRY, Op, PluginError, register, registering_as

GROUP = "attngen.ops"


def entry_points() -> list[metadata.EntryPoint]:
    """The installed entry points of the group, in a fixed order (no plugin imported)."""
    found = metadata.entry_points(group=GROUP)
    return sorted(found, key=lambda ep: (_dist(ep), ep.name, ep.value))


def _dist(ep: metadata.EntryPoint) -> str:
    """'attngen-fft 0.1.0': the distribution that declares the entry point."""
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else f"entry point {ep.name}"


def installed() -> list[str]:
    """One line per plugin entry point, for the build cache's key: its distribution and
    version, what it names, and the digest of the distribution's RECORD (the hash of every
    file it installed), so a plugin installed, removed, upgraded, reinstalled changed or
    repointed changes the key. An editable install records no code: its edits are not seen."""
    lines = []
    for ep in entry_points():
        record = (ep.dist.read_text("RECORD") if ep.dist is not None else None) or ""
        digest = hashlib.sha256(record.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        lines.append(f"plugin {_dist(ep)}: {ep.name} = {ep.value} (files {digest})")
    return lines


def load() -> None:
    """Import every plugin and register its ops (base.Registry calls this once)."""
    for ep in entry_points():
        source = _dist(ep)
        what = f"plugin {source} (entry point '{ep.name} = {ep.value}' of {GROUP})"
        with registering_as(source):
            try:
                value = ep.load()
                if not isinstance(value, ModuleType):
                    _register_all(value(), what)
            except PluginError:
                raise
            except Exception as exc:  # noqa: BLE001  (any error of plugin code: report it)
                raise PluginError(f"{what} failed to load: {type(exc).__name__}: {exc}"
                                  ) from None


def _register_all(ops: object, what: str) -> None:
    """The ops a plugin's callable returned, each registered."""
    if isinstance(ops, Op):
        ops = [ops]
    if not isinstance(ops, (list, tuple)) or not all(isinstance(op, Op) for op in ops):
        raise PluginError(f"{what} returned {type(ops).__name__}, not a list of Op")
    for op in ops:
        register(op)


REGISTRY.load_on_first_read(load)
