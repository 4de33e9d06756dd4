"""einops patterns ('b (g c) h w -> (b g) c h w'), read here and never run.

A side is a list of groups; a group is one axis or a parenthesised composition of axes
(`(g c)`, `()`). An axis is a name, the anonymous `1`, or the ellipsis `...`. Every error
is a PatternError carrying the column (0-based) inside the pattern text that it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

ELLIPSIS = "..."
ONE = "1"


class PatternError(Exception):
    """A pattern that cannot be read; `col` is the 0-based column in the pattern text."""

    def __init__(self, message: str, col: int) -> None:
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class Axis:
    name: str  # an identifier, ONE or ELLIPSIS
    col: int


@dataclass(frozen=True)
class Group:
    axes: tuple[Axis, ...]
    col: int
    composite: bool  # written in parentheses

    @property
    def named(self) -> tuple[str, ...]:
        """The axes that are not the anonymous 1, in order (the ellipsis included)."""
        return tuple(a.name for a in self.axes if a.name != ONE)

    @property
    def text(self) -> str:
        inner = " ".join(a.name for a in self.axes)
        return f"({inner})" if self.composite else inner


@dataclass(frozen=True)
class Pattern:
    text: str
    left: tuple[Group, ...]
    right: tuple[Group, ...]

    def names(self, side: tuple[Group, ...]) -> list[str]:
        return [n for g in side for n in g.named]


def _tokens(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """(token, column) for text[start:end]: '(', ')', '...', '1' or an identifier."""
    out = []
    i = start
    while i < end:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append((ch, i))
            i += 1
        elif text.startswith(ELLIPSIS, i):
            out.append((ELLIPSIS, i))
            i += 3
        elif ch.isdigit():
            j = i
            while j < end and text[j].isdigit():
                j += 1
            if text[i:j] != ONE:
                raise PatternError(f"'{text[i:j]}' is an anonymous axis of size other than 1 "
                                   "(rearrange takes only 1; name the axis and give its size "
                                   "in 'sizes')", i)
            out.append((ONE, i))
            i = j
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i
            while j < end and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append((text[i:j], i))
            i = j
        else:
            raise PatternError(f"unexpected '{ch}' (a pattern has axis names, 1, '...', "
                               "parentheses and one '->')", i)
    return out


def _side(text: str, start: int, end: int, which: str) -> tuple[Group, ...]:
    groups: list[Group] = []
    open_at: int | None = None
    inner: list[Axis] = []
    for tok, col in _tokens(text, start, end):
        if tok == "(":
            if open_at is not None:
                raise PatternError("nested parentheses (a composition is one level of axes)",
                                   col)
            open_at, inner = col, []
        elif tok == ")":
            if open_at is None:
                raise PatternError("')' closes no '('", col)
            groups.append(Group(tuple(inner), open_at, True))
            open_at = None
        elif open_at is not None:
            inner.append(Axis(tok, col))
        else:
            groups.append(Group((Axis(tok, col),), col, False))
    if open_at is not None:
        raise PatternError("'(' is never closed", open_at)
    seen: dict[str, int] = {}
    for group in groups:
        for axis in group.axes:
            if axis.name == ONE:
                continue
            if axis.name in seen:
                what = "'...' occurs" if axis.name == ELLIPSIS else f"axis '{axis.name}' is named"
                raise PatternError(f"{what} twice on the {which} side (first at column "
                                   f"{seen[axis.name] + 1} of the pattern)", axis.col)
            seen[axis.name] = axis.col
            if axis.name == ELLIPSIS and group.composite and which == "left":
                raise PatternError("'...' inside parentheses on the left side (the dims it "
                                   "stands for cannot be split)", axis.col)
    return tuple(groups)


def parse_pattern(text: str) -> Pattern:
    """The pattern `text` read into its two sides; raises PatternError."""
    arrow = text.find("->")
    if arrow < 0:
        raise PatternError("no '->' between the input and the output side", len(text))
    if "->" in text[arrow + 2:]:
        raise PatternError("more than one '->'", text.index("->", arrow + 2))
    left = _side(text, 0, arrow, "left")
    right = _side(text, arrow + 2, len(text), "right")
    pattern = Pattern(text, left, right)
    lnames, rnames = pattern.names(left), pattern.names(right)
    for names, other, groups, which, there in ((lnames, rnames, left, "left", "right"),
                                               (rnames, lnames, right, "right", "left")):
        for name in names:
            if name not in other:
                col = next(a.col for g in groups for a in g.axes if a.name == name)
                what = "'...'" if name == ELLIPSIS else f"axis '{name}'"
                raise PatternError(f"{what} is on the {which} side only (rearrange keeps "
                                   f"every axis: name it on the {there} side too)", col)
    return pattern
