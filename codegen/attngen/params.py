"""`attngen params`: the table of parameter counts per node, `--set NAME=VALUE` read and
checked (requires, shapes) at the values set; the counts themselves are counts.py's."""

from __future__ import annotations

import ast
from dataclasses import replace

from .counts import param_values, per_node
from .describe import label
from .errors import (
    BAD_VALUE,
    REQUIREMENT_FAILS,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .expr import parse
from .model import Spec
from .parse import check_param_value

# -- `attngen params --set NAME=VALUE` ---------------------------------------------------
SET_LOC = Loc("--set")
YAML_WORDS = {"true": True, "false": False, "null": None}  # `--set residual=true`


def parse_sets(spec: Spec, sets: list[str]) -> dict[str, object]:
    """`NAME=VALUE` strings -> {param: value}. Values go through the whitelist expression
    parser and its interpreter (never eval); they may name params set before them or
    defaults (`d_k=d_model // h`). A bare word is taken as text for a `str` param."""
    overrides: dict[str, object] = {}
    for text in sets:
        name, eq, raw = str(text).partition("=")
        name = name.strip()
        if not eq or not name or not raw.strip():
            raise error(SET_LOC, BAD_VALUE, f"'{text}' is not NAME=VALUE (e.g. --set channel=256)")
        if name not in spec.params:
            what = "a derived value (let), not a param" if name in spec.lets else "no param"
            known = ", ".join(spec.params) or "none"
            raise error(SET_LOC, BAD_VALUE, f"{spec.name} has {what} '{name}'"
                        + did_you_mean(name, spec.params), f"its params: {known}")
        param = spec.params[name]
        expr = parse(raw, SET_LOC)
        env = {**{p.name: p.sample for p in spec.params.values()}, **overrides}
        value: object
        if param.type == "str" and isinstance(expr.tree, ast.Name) and expr.tree.id not in env:
            value = expr.tree.id
        elif raw.strip() in YAML_WORDS and raw.strip() not in env:  # as the spec writes them
            value = YAML_WORDS[raw.strip()]
        else:
            value = expr.value(env)
        if param.type == "list" and isinstance(value, tuple):
            value = list(value)
        if param.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        check_param_value(param.set_to(value), SET_LOC)
        overrides[name] = value
    return overrides


def check_requires(spec: Spec, values: dict[str, object]) -> None:
    """The spec's `requires` at concrete values (E405 at the requirement, values in a note)."""
    for req in spec.requires:
        if spec.on_input_dims(req):
            continue  # on input sizes: the generated forward checks it
        if not req.value(values):
            shown = ", ".join(f"{n}={values[n]!r}" for n in sorted(req.names) if n in values)
            raise error(
                req.loc,
                REQUIREMENT_FAILS,
                f"requirement '{req.text}' does not hold for these values",
                f"values: {shown}",
            )


def check_shapes(spec: Spec, overrides: dict[str, object]) -> None:
    """The shape checker with the set values in place of the defaults, so that a count is
    never shown for values that make no valid module (a bottleneck of width 0, an
    indivisible group count). Its diagnostics say which values were used."""
    if not overrides:
        return  # the spec itself already passed the checker
    from .checker import check

    params = {name: p.set_to(overrides[name]) if name in overrides
              else p for name, p in spec.params.items()}
    try:
        check(replace(spec, params=params))
    except SpecError as exc:
        used = "with " + ", ".join(f"{n}={v!r}" for n, v in overrides.items()) + \
            " (--set) as the defaults"
        raise SpecError([replace(d, notes=(*d.notes, used)) for d in exc.diagnostics]) from None


def table(spec: Spec, overrides: dict[str, object] | None = None, *,
          show_all: bool = False) -> str:
    """The `attngen params` report: values used, one row per node with parameters, total."""
    values = param_values(spec, overrides)
    counts = per_node(spec, overrides)
    shown = []
    for p in spec.params.values():
        note = " (set)" if p.name in (overrides or {}) else " (example)" if p.required else ""
        shown.append(f"{p.name}={values[p.name]!r}{note}")
    head = f"{spec.file}: {spec.name}" + (f" with {', '.join(shown)}" if shown else "")
    rows = [(name, label(spec.nodes[name]), f"{n:,}") for name, n in counts.items()
            if n or show_all]
    n_total = sum(counts.values())
    rows.append(("total", "", f"{n_total:,}"))
    w1 = max(len("node"), *(len(r[0]) for r in rows))
    w2 = max(len("op"), *(len(r[1]) for r in rows))
    w3 = max(len("params"), *(len(r[2]) for r in rows))
    lines = [head, f"  {'node':<{w1}}  {'op':<{w2}}  {'params':>{w3}}"]
    lines += [f"  {a:<{w1}}  {b:<{w2}}  {c:>{w3}}" for a, b, c in rows[:-1]]
    hidden = sum(1 for n in counts.values() if not n) if not show_all else 0
    if hidden:
        lines.append(f"  ({hidden} node{'s' if hidden != 1 else ''} without parameters "
                     "not shown; --all lists them)")
    lines.append(f"  {'total':<{w1}}  {'':<{w2}}  {rows[-1][2]:>{w3}}")
    return "\n".join(lines)
