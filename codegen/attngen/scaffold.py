"""`attngen new NAME --from SPEC`: a variant skeleton that builds as it is.

The file `extends:` its base (a built-in name, or a path relative to the new file),
gives the class a new name, and lists the base's params and the edit verbs as
comments, with the base's own node names in the examples.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from .errors import Loc, SpecError, one_line
from .loader import Loader
from .model import Spec


def class_name(stem: str) -> str:
    """`se_wide` -> `SeWide`, `my-eca.v2` -> `MyEcaV2` (may still be invalid: checked later)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", stem) if p)


def extends_ref(base: Path, builtin_name: str | None, target: Path, loader: Loader) -> str:
    """What `extends:` says so that, from `target`, it resolves to `base`: the built-in
    name when that resolves there, else the path relative to the new file's folder."""
    want = base.resolve()
    if builtin_name is not None and target.name not in (builtin_name, builtin_name + ".yaml"):
        # (a file named like its base would find itself first)
        try:
            found = loader.resolve(builtin_name, target, Loc(str(target)))
        except SpecError:  # not resolvable from there: fall back to the path
            found = None
        if found == want:
            return builtin_name
    return Path(os.path.relpath(want, target.parent.resolve())).as_posix()


def _q(text: str) -> str:
    """A YAML scalar on one line that reads back as `text`: plain when safe, else
    double-quoted by PyYAML, which escapes what YAML cannot hold raw (line breaks, controls,
    characters beyond the BMP; JSON's surrogate pairs for those are no YAML)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", text) and yaml.safe_load(text) == text:
        return text
    return yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1 << 30).rstrip("\n")


def _value(value: object) -> str:
    """A param value for a comment, written as the spec would write it (`.inf`, not JSON's
    `Infinity`, which YAML reads as a string)."""
    if isinstance(value, str):
        return _q(value)
    flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 30)
    return flow.removesuffix("\n...\n").rstrip("\n")


def skeleton(name: str, cls: str, ref: str, base: Spec) -> str:
    nodes = list(base.nodes)
    first, last = nodes[0], nodes[-1]
    lines = [
        f"# {name}: a variant of {base.name} ({base.file}).",
        f"# It builds as it is (`attngen build {name}.yaml`); uncomment and edit what differs.",
        f"extends: {_q(ref)}",
        f"name: {cls}",
        f"title: {_q((base.title or base.name) + ' (variant)')}",
        "# doc: what this variant changes, and why",
    ]
    if base.params:
        lines.append("# params:   # a plain value changes a default; a new name adds a param")
        for p in base.params.values():
            shown = f"{{type: {p.type}, example: {_value(p.example)}}}" if p.required \
                else _value(p.default)
            lines.append(f"#   {p.name}: {shown}")
    lines += [
        "# requires: [...]   # conditions added to the base's",
        f"# Edits apply in order to the base's graph; its nodes: {', '.join(nodes)}.",
        "edits: []",
        "# edits:",
        f"#   - replace: {first}   # same name and place, a new definition",
        "#     with: {op: ..., in: ..., shape: [...]}",
        f"#   - insert_after: {first}   # (or insert_before) new nodes, in order",
        "#     nodes:",
        f"#       extra: {{op: ..., in: {first}}}",
        f"#   - patch: {last}   # override keys of a node; `null` drops one",
        "#     set: {in: ...}",
        f"#   - rename: {first}   # renames the node and rewires its readers",
        f"#     to: new_{first}",
        "#   - remove: [...]   # drop nodes, params, lets or inputs",
        "",
    ]
    # names and file names in comments stay on their line (a line break would end the comment)
    return "\n".join(one_line(line) if line.startswith("#") else line for line in lines)


__all__ = ["class_name", "extends_ref", "skeleton"]
