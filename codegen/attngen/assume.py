"""The errors an unstated fact hides: a node that relies on a fact `requires` does not state
(E404) stops the nodes after it, so the spec is checked again as if the lines its hints
give were pasted, and what that finds is reported with the first errors, in one run, as a
compiler reports past its first error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from .errors import REQUIREMENT_FAILS, UNSTATED_DIVISIBILITY, Diagnostic, SpecError
from .expr import Expr, parse
from .model import Spec

ROUNDS = 3  # checks with assumed lines at most, each one asked for by the one before
# a hint's line to paste, at the end of its note ("... state it: requires: [C % h == 0]")
_LINE = re.compile(r"requires: \[(.+)\]$")


def with_what_follows(spec: Spec, exc: SpecError, check: Callable[[Spec], object],
                      rounds: int = ROUNDS) -> SpecError:
    """`exc`, the spec's errors, with those `check` finds in `spec` given the lines their
    E404 hints state, then the lines those errors' hints state, ... (each new error noted
    with the lines assumed); `exc` itself where that finds nothing new."""
    stated = {req.text for req in spec.requires}
    reported = list(exc.diagnostics)
    seen = {(d.loc, d.code, d.message) for d in reported}
    assumed: list[Expr] = []
    found = exc.diagnostics
    for _ in range(rounds):
        facts = _lines(found, stated | {f.text for f in assumed})
        if not facts:
            break
        assumed += facts
        try:
            check(replace(spec, requires=[*spec.requires, *assumed]))
            break
        except SpecError as more:
            found = more.diagnostics
        note = "found assuming requires: [" + ", ".join(f.text for f in assumed) + "], as " \
            "asked above"
        for d in found:
            key = (d.loc, d.code, d.message)
            if key in seen or _of_assumed(d, assumed):
                continue
            seen.add(key)
            reported.append(Diagnostic(d.loc, d.code, d.message, (*d.notes, note),
                                       d.severity))
    if len(reported) == len(exc.diagnostics):
        return exc
    return SpecError(sorted(reported, key=lambda d: d.loc))


def _of_assumed(d: Diagnostic, assumed: list[Expr]) -> bool:
    """An error about an assumed line itself (it fails at the defaults, or no input sizes
    satisfy it), not about the spec: a sub-spec's requirement that fails at a node the
    first check never reached (E405 too) is the spec's."""
    return d.code == REQUIREMENT_FAILS and (
        any(f"'{f.text}'" in d.message for f in assumed) or "no input sizes" in d.message)


def _lines(diagnostics: list[Diagnostic], stated: set[str]) -> list[Expr]:
    """The `requires` lines the E404 hints of `diagnostics` give, parsed as the spec's own
    are (never evaluated), without those already stated."""
    out: dict[str, Expr] = {}
    for d in diagnostics:
        if d.code != UNSTATED_DIVISIBILITY:
            continue
        for note in d.notes:
            found = _LINE.search(note)
            for text in _split(found[1]) if found else ():
                if text in stated or text in out:
                    continue
                try:
                    out[text] = parse(text, d.loc)
                except SpecError:
                    continue  # not a line that reads back: nothing assumed from it
    return list(out.values())


def _split(text: str) -> list[str]:
    """`A, B` at its top-level commas (`max(a, b) >= 2` is one line)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]
