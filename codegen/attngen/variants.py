"""Variants: a spec that `extends:` another and edits it.

A variant is written like any spec, with `extends:` naming its base (a path relative
to the variant's file, or the name of a built-in spec) and only what differs::

    extends: se                       # or ../se.yaml
    name: SEMaxAttention              # the new class name
    title: SE attention with a max-pool squeeze
    params:
      reduction: 8                    # a plain value changes an existing param's default
    edits:
      - replace: avg_pool             # same name and place, new definition
        with: {op: AdaptiveMaxPool2d, args: [1], in: x, shape: [B, channel, 1, 1]}
      - rename: avg_pool              # renames the node and every reference to it
        to: max_pool

The variant's own keys are merged into its base:

- `name`, `title`, `paper`, `doc`, `fuse`, `outputs`, `init`, `aliases`, `binds` replace the
  base's.
- `params`, `let`, `inputs` merge by name: an existing entry keeps its place and is
  replaced, a new one is appended. For a param, a plain value changes only the default
  (type, doc and choices stay); a mapping merges into the base's param mapping.
- `requires` adds conditions to the base's.
- `graph` is not allowed: the graph changes through `edits`, a list applied in order,
  each edit a mapping with one verb:

  ==========================================  =======================================
  `remove: NAME` or `remove: [A, B]`          drop nodes, params, lets or inputs
  `replace: NODE` + `with: {node}`            new definition, same name and place
  `insert_before: NODE` + `nodes: {n: node}`  new nodes, in order, before NODE
  `insert_after: NODE` + `nodes: {n: node}`   ... or after it
  `patch: NODE` + `set: {key: value}`         override keys of a node (`null` drops one)
  `rename: NODE` + `to: NEW`                  rename a node and rewire its readers
  ==========================================  =======================================

Edits apply to the base first, then the variant's keys are merged, so `remove:` of a
param followed by a `let:` of the same name turns a param into a derived value. The
result is a plain spec mapping that goes through the whole schema, graph and shape
check again. Errors keep their own file and line: what comes from the base points
into the base, what the variant wrote points into the variant, and a reference left
dangling by `remove:` is reported at the `remove:` line (with the reader in a note).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from . import ops
from .errors import (
    BAD_EDIT,
    BAD_VALUE,
    DUPLICATE_NAME,
    INCLUDE_CYCLE,
    MISSING_KEY,
    UNKNOWN_KEY,
    UNKNOWN_NAME,
    UNKNOWN_REF,
    Collector,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .expr import parse
from .names import check_identifier
from .yamlload import LList, LMap, LNone, LStr, LValue, load_file, loc_of

VERBS = {  # verb -> the companion key it needs (None: the verb alone)
    "remove": None,
    "replace": "with",
    "insert_before": "nodes",
    "insert_after": "nodes",
    "patch": "set",
    "rename": "to",
}
EDIT_KEYS = tuple(VERBS) + tuple(sorted({c for c in VERBS.values() if c}))
REPLACED = ("name", "title", "paper", "doc", "fuse", "outputs", "init", "aliases", "binds")
MERGED = ("params", "let", "inputs")
MAX_DEPTH = 16  # extends chains longer than this are refused
# Node keys whose strings are references or text, never expressions.
_NOT_EXPR = {"op", "use", "doc", "in", "zip", "apply", "if_given", "out", "map", "name", "title",
             "paper", "type", "dtype", "optional", "choices", "example", "default"}


class Bases(Protocol):
    """What a variant asks of the loader (loader.Loader): where its base is, and how to
    name and record it."""

    digests: dict[Path, str | None]  # what load_file records of each file it reads

    def resolve(self, ref: str, base: Path, loc: Loc,
                stack: tuple[tuple[Path, Loc], ...] = ()) -> Path: ...
    def display(self, path: Path) -> str: ...
    def depends(self, path: Path, on: Path) -> None: ...


def expand_extends(loader: Bases, raw: LMap, path: Path,
                   stack: tuple[tuple[Path, Loc], ...], depth: int = 1) -> LMap:
    """The spec mapping of a variant: its base's mapping with the edits and keys applied.

    `stack` holds the specs being loaded above (those that `use:` this one, then the
    variants being expanded); `depth` counts the `extends` links alone."""
    ext = raw["extends"]
    ext_loc = raw.key_locs["extends"]
    if not isinstance(ext, str) or not str(ext).strip():
        raise error(loc_of(ext, ext_loc), BAD_VALUE, "'extends' must be a spec name or path")
    chain = [p for p, _ in stack] + [path]
    if depth > MAX_DEPTH:
        raise error(ext.loc, INCLUDE_CYCLE, f"'extends' chain deeper than {MAX_DEPTH} specs")
    base_path = loader.resolve(ext, path, ext.loc, stack)
    if base_path in chain:
        names = [loader.display(p) for p in chain[chain.index(base_path):]]
        raise error(ext.loc, INCLUDE_CYCLE, "cycle through `use:`/`extends:`: "
                    + " -> ".join([*names, loader.display(base_path)]))
    loader.depends(path, base_path)
    base = load_file(base_path, loader.display(base_path), loader.digests)
    if not isinstance(base, LMap):
        raise error(ext.loc, BAD_VALUE, f"'{ext}' is not a spec (not a mapping)")
    if "extends" in base:
        base = expand_extends(loader, base, base_path, stack + ((path, raw.loc),), depth + 1)
    _mark_origin(base, base_path)
    return _Variant(base, raw, loader.display(path)).merged()


def _mark_origin(value: LValue, origin: Path) -> None:
    """`use:` targets of the base resolve next to the base file, not next to the variant."""
    if isinstance(value, LMap):
        for key, item in value.items():
            if key == "use" and isinstance(item, LStr) and not hasattr(item, "origin"):
                item.origin = origin
            else:
                _mark_origin(item, origin)
    elif isinstance(value, LList):
        for item in value:
            _mark_origin(item, origin)


def _lmap(pairs: Iterable[tuple[LStr, LValue]], loc: Loc) -> LMap:
    """An LMap from (located key, value) pairs, in order."""
    out = LMap()
    out.loc, out.key_locs = loc, {}
    for key, value in pairs:
        out[key] = value
        out.key_locs[key] = key.loc
    return out


def _lstr(text: str, loc: Loc) -> LStr:
    s = LStr(text)
    s.loc = loc
    return s


def _names(value: LValue, what: str, loc: Loc) -> list[LStr]:
    items = value if isinstance(value, LList) else [value]
    if not items:
        raise error(loc_of(value, loc), BAD_VALUE, f"{what} names nothing")
    names = []
    for item in items:
        if not isinstance(item, LStr):
            raise error(loc_of(item, loc), BAD_VALUE, f"{what} must be a name or a list of names")
        names.append(item)
    return names


class _Variant:
    def __init__(self, base: LMap, raw: LMap, file: str):
        self.base, self.raw, self.file = base, raw, file
        if "graph" in raw:
            raise error(raw.key_locs["graph"], BAD_EDIT, "a variant changes its base's "
                        "graph through 'edits' (replace, insert_before, insert_after, patch, "
                        "rename, remove), not 'graph'")
        graph = base.get("graph")
        if not isinstance(graph, LMap):
            raise error(raw.key_locs["extends"], BAD_EDIT,
                        f"the base spec '{raw['extends']}' has no graph to edit")
        self.graph = graph
        self.removed: dict[str, Loc] = {}  # name -> the remove edit that dropped it
        sections = {k: base.get(k) for k in MERGED}
        self.sections = {k: v for k, v in sections.items() if isinstance(v, LMap)}

    # -- driver ---------------------------------------------------------------------
    def merged(self) -> LMap:
        """The base with the edits made and the variant's own keys merged in."""
        if "edits" in self.raw:
            edits = self.raw["edits"]
            if not isinstance(edits, LList) and not isinstance(edits, LNone):
                raise error(loc_of(edits, self.raw.key_locs["edits"]), BAD_VALUE,
                            "'edits' must be a list of edits like {remove: NAME}")
            issues = Collector()
            for edit in edits or ():
                try:
                    self._edit(edit)
                except SpecError as exc:
                    issues.add(exc)
                    break  # later edits may depend on this one
            issues.raise_if_any()
        merged = self._merge()
        self._check_dangling(merged)
        return merged

    def _merge(self) -> LMap:
        pairs: list[tuple[LStr, LValue]] = []
        for key, value in self.base.items():
            if key in ("extends", "edits"):
                continue
            if key == "graph":
                value = self.graph
            elif key in self.sections:
                value = self.sections[key]
            pairs.append((key, value))
        merged = _lmap(pairs, self.raw.loc)
        for key, value in self.raw.items():
            if key == "edits":
                continue
            old = merged.get(key)
            if key in MERGED and isinstance(value, LMap) and isinstance(old, LMap):
                value = self._merge_section(key, old, value)
            elif key == "requires" and key in merged:
                value = self._concat(merged[key], value)
            merged[key] = value
            merged.key_locs[key] = key.loc
        return merged

    def _merge_section(self, section: str, base: LMap, own: LMap) -> LMap:
        pairs = list(base.items())
        index = {str(k): i for i, (k, _) in enumerate(pairs)}
        for key, value in own.items():
            if str(key) in index:
                i = index[str(key)]
                old = pairs[i][1]
                if section == "params":
                    value = self._merge_param(old, value, key)
                pairs[i] = (key, value)
            else:
                index[str(key)] = len(pairs)
                pairs.append((key, value))
        return _lmap(pairs, own.loc)

    @staticmethod
    def _merge_param(old: LValue, new: LValue, key: LStr) -> LValue:
        if not isinstance(old, LMap):  # a short form's value is its default (`flag: false`)
            if isinstance(new, LMap) and "default" not in new:
                return _lmap([(_lstr("default", key.loc), old), *new.items()], new.loc)
            return new
        if isinstance(new, LMap):  # merge the param's own keys
            return _lmap([*((k, v) for k, v in old.items() if k not in new), *new.items()],
                         new.loc)
        default = _lstr("default", key.loc)
        return _lmap([*((k, v) for k, v in old.items() if k != "default"), (default, new)],
                     old.loc)

    @staticmethod
    def _concat(base: LValue, own: LValue) -> LList:
        out = LList([*(base if isinstance(base, LList) else [base]),
                     *(own if isinstance(own, LList) else [own])])
        out.loc = loc_of(own, loc_of(base, Loc("")))
        return out

    # -- edits ----------------------------------------------------------------------
    def _edit(self, edit: LValue) -> None:
        if not isinstance(edit, LMap):
            raise error(loc_of(edit, self.raw.key_locs["edits"]), BAD_VALUE,
                        "an edit must be a mapping like {remove: NAME}")
        for key in edit:
            if key not in EDIT_KEYS:
                raise error(edit.key_locs[key], UNKNOWN_KEY, f"unknown key '{key}' in an edit"
                            + did_you_mean(key, EDIT_KEYS),
                            "edits: " + ", ".join(f"{v} (+ {c})" if c else v
                                                  for v, c in VERBS.items()))
        verbs = [k for k in edit if k in VERBS]
        if len(verbs) != 1:
            what = "no verb" if not verbs else "several verbs (" + ", ".join(verbs) + ")"
            raise error(edit.loc, BAD_EDIT, f"an edit needs exactly one of "
                        f"{', '.join(VERBS)}; this one has {what}")
        verb = verbs[0]
        companion = VERBS[verb]
        for key in edit:
            if key != verb and key != companion:
                owner = next(v for v, c in VERBS.items() if c == key)
                raise error(edit.key_locs[key], BAD_EDIT, f"'{key}' does not belong to a "
                            f"'{verb}' edit (it goes with '{owner}')")
        if companion and companion not in edit:
            raise error(edit.key_locs[verb], MISSING_KEY, f"a '{verb}' edit needs '{companion}'")
        getattr(self, "_" + verb)(edit, edit[verb], edit.key_locs[verb])

    def _node(self, target: LValue, loc: Loc) -> LStr:
        """The graph key named by an edit's target (or a located E502)."""
        if not isinstance(target, LStr):
            raise error(loc_of(target, loc), BAD_VALUE, "an edit's target must be a node name")
        for key in self.graph:
            if key == target:
                return key
        owner = next((key for key, node in self.graph.items() if isinstance(node, LMap)
                      and target in _mapping(node.get("body"))), None)
        raise error(target.loc, BAD_EDIT, f"no node '{target}' in the graph being edited"
                    + ("" if owner else did_you_mean(target, list(self.graph))),
                    *([f"'{target}' is a node of the body of '{owner}': edits reach the graph's "
                       f"nodes, so replace '{owner}' (its whole body) or patch its 'body'"]
                      if owner else []))

    def _set_graph(self, pairs: Iterable[tuple[LStr, LValue]]) -> None:
        self.graph = _lmap(pairs, self.graph.loc)

    def _new_nodes(self, value: LValue, loc: Loc, verb: str) -> list[tuple[LStr, LValue]]:
        if not isinstance(value, LMap) or not value:
            raise error(loc_of(value, loc), BAD_VALUE, f"'nodes' of '{verb}' must be a mapping of "
                        "name: node")
        taken = self._all_names()
        for key in value:
            # a builtin's name: parsing the edited graph decides (names.check_node_name)
            check_identifier(key, key.loc, "node", attribute=True, builtin_ok=True,
                             private_ok=True)
            if str(key) in taken:
                raise error(key.loc, DUPLICATE_NAME, f"'{key}' already exists in the spec being "
                            "edited (use 'replace' to redefine a node)")
        return list(value.items())

    def _all_names(self) -> set[str]:
        names = {str(k) for k in self.graph}
        for section in self.sections.values():
            names |= {str(k) for k in section}
        return names

    def _remove(self, edit: LMap, value: LValue, loc: Loc) -> None:
        for name in _names(value, "'remove'", loc):
            if name in self.graph:
                self._set_graph([(k, v) for k, v in self.graph.items() if k != name])
            else:
                owner = next((s for s, m in self.sections.items() if name in m), None)
                if owner is None:
                    raise error(name.loc, BAD_EDIT, f"nothing named '{name}' to remove (no node, "
                                "param, let or input)" + did_you_mean(name, self._all_names()))
                sec = self.sections[owner]
                self.sections[owner] = _lmap([(k, v) for k, v in sec.items() if k != name],
                                             sec.loc)
            self.removed[str(name)] = name.loc

    def _replace(self, edit: LMap, value: LValue, loc: Loc) -> None:
        key = self._node(value, loc)
        body = edit["with"]
        if not isinstance(body, LMap):
            raise error(loc_of(body, edit.key_locs["with"]), BAD_VALUE, "'with' must be a node "
                        "mapping like {op: ReLU, in: x}")
        new_key = _lstr(str(key), value.loc)
        self._set_graph([(new_key, body) if k == key else (k, v) for k, v in self.graph.items()])

    def _insert(self, edit: LMap, value: LValue, loc: Loc, verb: str, after: bool) -> None:
        key = self._node(value, loc)
        new = self._new_nodes(edit["nodes"], edit.key_locs["nodes"], verb)
        pairs: list[tuple[LStr, LValue]] = []
        for k, v in self.graph.items():
            if k == key and not after:
                pairs += new
            pairs.append((k, v))
            if k == key and after:
                pairs += new
        self._set_graph(pairs)

    def _insert_before(self, edit: LMap, value: LValue, loc: Loc) -> None:
        self._insert(edit, value, loc, "insert_before", after=False)

    def _insert_after(self, edit: LMap, value: LValue, loc: Loc) -> None:
        self._insert(edit, value, loc, "insert_after", after=True)

    def _patch(self, edit: LMap, value: LValue, loc: Loc) -> None:
        key = self._node(value, loc)
        changes = edit["set"]
        if not isinstance(changes, LMap) or not changes:
            raise error(loc_of(changes, edit.key_locs["set"]), BAD_VALUE, "'set' must be a "
                        "mapping of node keys to new values, like {in: max_pool}")
        node = self.graph[key]
        if not isinstance(node, LMap):
            raise error(value.loc, BAD_VALUE, f"node '{key}' of the base is not a mapping")
        pairs = [(k, changes.get(k, v)) for k, v in node.items()]
        pairs += [(k, v) for k, v in changes.items() if k not in node]
        pairs = [(k, v) for k, v in pairs if not isinstance(v, LNone)]
        # keys the patch wrote point at the patch; the rest still point at the base
        body = _lmap([(next((c for c in changes if c == k), k), v) for k, v in pairs], node.loc)
        self._set_graph([(k, body if k == key else v) for k, v in self.graph.items()])

    def _rename(self, edit: LMap, value: LValue, loc: Loc) -> None:
        key = self._node(value, loc)
        new = edit["to"]
        if not isinstance(new, LStr):
            raise error(loc_of(new, edit.key_locs["to"]), BAD_VALUE, "'to' must be a node name")
        check_identifier(new, new.loc, "node", attribute=True, builtin_ok=True,
                         private_ok=True)  # as above
        if str(new) in self._all_names():
            raise error(
                new.loc, DUPLICATE_NAME, f"'{new}' already exists in the spec being edited"
            )
        self._set_graph([(new if k == key else k, v) for k, v in self.graph.items()])
        old = str(key)
        for node in self.graph.values():
            _rewire(node, old, str(new))
        self._rename_outputs(old, str(new))

    def _rename_outputs(self, old: str, new: str) -> None:
        if "outputs" in self.base:
            self.base = _lmap([(k, _rename_refs(v, old, new) if k == "outputs" else v)
                               for k, v in self.base.items()], self.base.loc)

    # -- dangling references --------------------------------------------------------
    def _check_dangling(self, merged: LMap) -> None:
        if not self.removed:
            return
        defined: set[str] = set()
        for key in MERGED:
            section = merged.get(key)
            if isinstance(section, LMap):
                defined |= {str(k) for k in section}
                if key == "inputs":
                    for v in section.values():
                        items = v.get("items") if isinstance(v, LMap) else None
                        if isinstance(items, LMap):
                            defined |= {str(k) for k in items}
        graph = merged.get("graph")
        for node_name, node in graph.items() if isinstance(graph, LMap) else ():
            defined.add(str(node_name))
            out = node.get("out") if isinstance(node, LMap) else None
            if isinstance(out, LList):
                defined |= {str(o) for o in out}
        gone = {n: loc for n, loc in self.removed.items() if n not in defined}
        if not gone:
            return
        users: dict[str, list[tuple[str, Loc, bool]]] = {n: [] for n in gone}
        for where, ref_loc, name, is_ref in _uses(merged):
            if name in users:
                users[name].append((where, ref_loc, is_ref))
        issues = Collector()
        for name, found in users.items():
            if not found:
                continue
            is_ref = any(r for _, _, r in found)
            notes = [f"{where} still uses it ({loc})" for where, loc, _ in found[:4]]
            if len(found) > 4:
                notes.append(f"... and {len(found) - 4} more")
            issues.add(error(gone[name], UNKNOWN_REF if is_ref else UNKNOWN_NAME,
                             f"removing '{name}' leaves a dangling reference", *notes))
        issues.raise_if_any()


def _rewire(node: LValue, old: str, new: str) -> None:
    """Point a node's tensor references (`in`, `zip`, `apply`, `if_given`, cases) from old
    to new."""
    if not isinstance(node, LMap):
        return
    for key in ("in", "zip", "apply", "if_given"):
        if key in node:
            node[key] = _rename_refs(node[key], old, new)
    cases = node.get("cases")
    if isinstance(cases, LList):
        for case in cases:
            _rewire(case, old, new)


def _rename_refs(value: LValue, old: str, new: str) -> LValue:
    if isinstance(value, LStr):
        return _lstr(new, value.loc) if value == old else value
    if isinstance(value, LList):
        out = LList(_rename_refs(v, old, new) for v in value)
        out.loc = value.loc
        return out
    if isinstance(value, LMap):  # outputs: {list: [...]} or {name: x, when: ...}
        return _lmap([(k, _rename_refs(v, old, new) if k in ("list", "tuple", "name") else v)
                      for k, v in value.items()], value.loc)
    return value


def _uses(merged: LMap) -> Iterator[tuple[str, Loc, str, bool]]:
    """(where, loc, name, is_tensor_ref) for every name the spec mapping reads."""
    graph = merged.get("graph")
    if isinstance(graph, LMap):
        for node_name, node in graph.items():
            yield from _node_uses(f"node '{node_name}'", node)
    if "outputs" in merged:
        for ref in _strings(merged["outputs"], skip=("when",)):
            yield "'outputs'", ref.loc, str(ref), True
    for key in ("let", "requires", "inputs"):
        if key in merged:
            for where, loc, name in _expr_names(merged[key], f"'{key}'"):
                yield where, loc, name, False


def _node_uses(where: str, node: LValue) -> Iterator[tuple[str, Loc, str, bool]]:
    if not isinstance(node, LMap):
        return
    for key in ("in", "zip", "apply", "if_given"):
        for ref in _strings(node.get(key)):
            yield where, ref.loc, str(ref), True
    cases = node.get("cases")  # not a list: the parser reports it
    for case in cases if isinstance(cases, LList) else ():
        yield from _node_uses(where, case)
    str_args: set[str] = set()
    if isinstance(node.get("op"), str) and str(node["op"]) in ops.REGISTRY:
        str_args = {a.name for a in ops.REGISTRY[str(node["op"])].args if a.kind == "str"}
    for key, value in node.items():
        if key in _NOT_EXPR or key in str_args or key == "cases":
            continue
        if key == "seq":  # a list or a mapping of layers (anything else: the parser reports it)
            layers = value.values() if isinstance(value, LMap) else \
                value if isinstance(value, LList) else ()
            for layer in layers:
                yield from _node_uses(where, layer)
            continue
        for w, loc, name in _expr_names(value, f"{where} ('{key}')"):
            yield w, loc, name, False


def _strings(value: LValue | None, skip: Collection[str] = ()) -> Iterator[LStr]:
    if isinstance(value, LStr):
        yield value
    elif isinstance(value, LList):
        for v in value:
            yield from _strings(v, skip)
    elif isinstance(value, LMap):
        for k, v in value.items():
            if k not in skip:
                yield from _strings(v, skip)


def _expr_names(value: LValue, where: str) -> Iterator[tuple[str, Loc, str]]:
    """Names read by the expressions in a value (strings that do not parse are skipped)."""
    if isinstance(value, LMap):
        for key, v in value.items():
            if key not in _NOT_EXPR:
                yield from _expr_names(v, where)
        return
    if isinstance(value, LList):
        for v in value:
            yield from _expr_names(v, where)
        return
    if not isinstance(value, LStr):
        return
    try:
        expr = parse(value, value.loc)
    except SpecError:
        return
    for n in ast.walk(expr.tree):
        if isinstance(n, ast.Name) and n.id in expr.names:
            yield where, value.loc, n.id


def _mapping(value: object) -> LMap | dict:
    """`value` where it is a mapping (a node's `body`), else an empty one."""
    return value if isinstance(value, LMap) else {}
