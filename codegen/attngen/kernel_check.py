"""`attngen verify`: which PyTorch kernel each fused attention call ran.

A fused call (fusion.py, the `attention` op) is there to run one of PyTorch's fused
attention kernels. Given inputs those kernels refuse (a last dim of stride other than 1, as
keys copied in [..., E, S] order give once the call transposes them; a 3-D mask; another
dtype), PyTorch runs its math kernel instead: the same numbers, slower, with the n x n
scores held. Nothing fails, so nothing else would tell.

The module runs at the first sample's params and sizes (eval mode, no grad), without its
optional inputs and with each alone, under two torch modes: a
function mode sees each `F.scaled_dot_product_attention` call and the generated line it is
called from, a dispatch mode the aten ops the call becomes. A call that reached no fused
aten op is W101 at the spec lines it computes (the comment `--spec-refs` writes over it),
with what of its inputs PyTorch's checks refuse. Imported only by `verify`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from .errors import FUSED_KERNEL_MISSED, Diagnostic, Loc
from .model import cases_of
from .results import Checked
from .verify import Report, Sample, construct, make_inputs, namespace

FUSED_DTYPES = ("float32", "float64", "bfloat16", "float16")
# the comment over a generated forward line with `spec_refs`: [file:line] or [file:first-last]
_REF = re.compile(r"\[(?P<file>[^\[\]]+):(?P<line>\d+)(?:-\d+)?\]$")


@dataclass
class _Call:
    line: int  # of the generated source
    fused: bool = False
    reasons: list[tuple[str, bool]] = field(default_factory=list)  # (what, fixable)


def check_kernels(checked: Checked, source: str, first: Sample, report: Report) -> None:
    """Run the module and warn at each fused call that ran PyTorch's math kernel (module
    docstring). `source`: what is verified; the check runs the same code with spec
    references (`render(spec_refs=True)`: comments only) to find each call's spec lines."""
    del source  # the check runs the spec-referenced rendering of the same code
    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    from .emit import render

    text = render(checked, spec_refs=True)
    if "scaled_dot_product_attention(" not in text:
        return
    spec = checked.spec
    filename = f"<attngen verify kernels {spec.file}>"
    made = namespace(text, spec, "kernels", filename)
    calls: list[_Call] = []

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if calls and _is_fused(str(func)):
                calls[-1].fused = True
            return func(*args, **(kwargs or {}))

    class Calls(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.nn.functional.scaled_dot_product_attention:
                calls.append(_Call(_caller_line(filename), reasons=_refused(args, kwargs)))
            return func(*args, **kwargs)

    runs = _runs(checked, first)
    for sample in runs:
        try:  # a module that fails: the runtime check reports it
            model, inputs = construct(made, spec, sample), make_inputs(spec, sample)
            with torch.no_grad(), Ops(), Calls():
                model(**inputs)
        except Exception:  # noqa: BLE001, S112
            continue
    lines = text.splitlines()
    missed: dict[Loc, list[str]] = {}  # what the spec can change, or nothing PyTorch shows
    known: dict[str, None] = {}  # what it cannot: the sizes the module is made for
    for call in calls:
        if call.fused:
            continue
        if call.reasons and not any(fixable for _, fixable in call.reasons):
            known.update(dict.fromkeys(text for text, _ in call.reasons))
        else:
            missed.setdefault(_spec_loc(checked, lines, call.line),
                              [text for text, _ in call.reasons])
    fused = sum(c.fused for c in calls)
    math = f", {len(calls) - fused} PyTorch's math kernel" if fused < len(calls) else ""
    alone = ", without optional inputs and with each alone" if len(runs) > 1 else ""
    report.lines.append(
        f"  kernels: {len(calls)} fused attention call{'s' * (len(calls) != 1)} at "
        f"{first.text()}{alone}: {fused} ran a fused kernel{math}"
        + (f" ({'; '.join(known)})" if known else ""))
    for loc, reasons in missed.items():
        why = "; ".join(reasons) if reasons else "PyTorch's checks refused its inputs"
        notes = ["the result is the same; the math kernel is slower and holds the n x n scores"]
        if any("stride" in r for r in reasons):
            notes.append(_LAYOUT_FIX)
        report.warnings.append(Diagnostic(loc, FUSED_KERNEL_MISSED, (
            f"this attention's fused call ran PyTorch's math kernel, not a fused one: {why}"),
            tuple(notes), "warning"))


_LAYOUT_FIX = ("PyTorch's fused kernels read each token's features contiguous in memory: "
               "compute queries, keys and values features last ([..., n, E]; the scores read "
               "keys through a `transpose` view), or copy them (`contiguous`) before the "
               "attention (docs/spec.md, fused attention)")


def _runs(checked: Checked, first: Sample) -> list[Sample]:
    """The first sample's sizes without optional inputs, then with each alone: an optional
    input other than a mask makes the written form run, a mask is the call's own."""
    optional = [n for n, i in checked.spec.inputs.items() if i.optional]
    return [Sample(first.params, first.dims, given)
            for given in (set(), *({n} for n in optional))]


def _is_fused(op: str) -> bool:
    """An aten op of one of PyTorch's fused attention kernels (the math kernel is a
    composite: its ops are matmuls and a softmax)."""
    return op.startswith(("aten._scaled_dot_product_", "aten._flash_attention",
                          "aten._efficient_attention")) and "math" not in op


def _caller_line(filename: str) -> int:
    """The line of the generated source the call is made from (0: none)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == filename:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return 0


def _refused(args: tuple, kwargs: dict[str, Any]) -> list[tuple[str, bool]]:
    """What of a call's inputs PyTorch's fused kernels refuse, as far as it shows, each with
    whether the spec can change it (a layout: yes; the sizes the module is made for, or
    PyTorch's own switches: no)."""
    import torch

    names = ("query", "key", "value")
    q, k, v = (args[i] if len(args) > i else kwargs.get(n) for i, n in enumerate(names))
    tensors = [(w, t) for w, t in (("queries", q), ("keys", k), ("values", v))
               if isinstance(t, torch.Tensor)]
    reasons = []
    for what, t in tensors:
        if t.dim() != 4:
            reasons.append((f"the {what} have {t.dim()} dims, not 4", True))
        if t.stride(-1) != 1 and t.size(-1) > 1:
            reasons.append((f"the {what}' last dim has stride {t.stride(-1)}, not 1", True))
        if str(t.dtype).removeprefix("torch.") not in FUSED_DTYPES:
            reasons.append((f"the {what} are {str(t.dtype).removeprefix('torch.')}", False))
    if len(tensors) == 3 and len({t.size(-1) for _, t in tensors}) > 1:
        reasons.append((f"the values have {tensors[2][1].size(-1)} features, the queries and "
                        f"keys {tensors[0][1].size(-1)}: PyTorch's fused CPU kernel takes one "
                        "size", False))
    mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
    if isinstance(mask, torch.Tensor):
        if mask.dim() not in (2, 4):
            reasons.append((f"the mask has {mask.dim()} dims, not 2 or 4", True))
        if mask.stride(-1) != 1 and mask.size(-1) > 1:
            reasons.append((f"the mask's last dim has stride {mask.stride(-1)}, not 1", True))
    dropout = args[4] if len(args) > 4 else kwargs.get("dropout_p", 0.0)
    if dropout:
        reasons.append((f"dropout_p is {dropout}", False))
    if not torch.backends.cuda.flash_sdp_enabled():
        reasons.append(("flash attention is turned off (torch.backends.cuda.enable_flash_sdp)",
                        False))
    return reasons


def _spec_loc(checked: Checked, lines: list[str], line: int) -> Loc:
    """The spec place of the call at a generated line: the spec reference of the comment
    over its statement, at the column of the node written there."""
    for text in reversed(lines[:max(line, 0)]):
        stripped = text.strip()
        if stripped.startswith("#") and (match := _REF.search(stripped)):
            file, number = match["file"], int(match["line"])
            return next((loc for loc in _node_locs(checked)
                         if loc.file == file and loc.line == number), Loc(file, number, 1))
    return Loc(checked.spec.file)


def _node_locs(checked: Checked) -> list[Loc]:
    """Where each node (and case) of a spec and of its sub-specs is written."""
    locs = []
    for node in checked.spec.nodes.values():
        locs += [node.loc, *(case.loc for case in cases_of(node))]
    for sub in checked.subs.values():
        locs += _node_locs(sub)
    return locs
