"""Diagnostics: located, compiler-style errors with stable codes.

Every user-facing problem becomes a `Diagnostic`; stages collect them and raise
`SpecError` with all of them at once. The CLI prints them one per line and exits 1.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Stable error codes, documented in README.md ("Error codes").
CODES = {
    "E100": "YAML syntax error",
    "E101": "unknown key",
    "E102": "wrong type or value",
    "E103": "missing required key",
    "E104": "invalid or reserved identifier",
    "E105": "input too large or too deeply nested (YAML limits)",
    "E106": "duplicate key or name",
    "E200": "expression syntax error",
    "E201": "construct not allowed in expressions",
    "E202": "unknown name in expression",
    "E300": "reference to an unknown node or input",
    "E301": "cycle in the graph",
    "E302": "node does not reach any output",
    "E303": "unknown output",
    "E400": "shape mismatch with annotation",
    "E401": "unknown op",
    "E402": "bad op arguments or inputs",
    "E403": "op shape rule violated",
    "E404": "divisibility relied on but not stated in `requires`",
    "E405": "requirement violated by the defaults",
    "E500": "file not found or unreadable",
    "E501": "cycle through `use:` or `extends:`",
    "E502": "bad variant edit (`extends:`)",
    "E600": "`verify`: runtime shape differs from the spec (or the module failed to run)",
    "E601": "`verify`: torch.export shape differs from the spec (or export failed)",
}


@dataclass(frozen=True, order=True)
class Loc:
    """A position in a spec file; line and col are 1-based."""

    file: str
    line: int = 0
    col: int = 0

    def shifted(self, offset: int) -> Loc:
        """The location `offset` characters further on the same line."""
        return Loc(self.file, self.line, self.col + offset) if self.line else self

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    loc: Loc
    code: str
    message: str
    notes: tuple[str, ...] = field(default=())

    def format(self) -> str:
        head = one_line(f"{self.loc}: error[{self.code}]: {self.message}")
        return "\n".join([head, *(f"  note: {one_line(n)}" for n in self.notes)])


def one_line(text: str) -> str:
    """Spec text echoed in a message, kept on one line: control characters escaped."""
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in str(text))


# What a terminal, a Graphviz label or a Markdown page would act on, refuse or reorder
# rather than show: C0 and C1 controls and DEL (a newline excepted), lone surrogates,
# U+FFFE/U+FFFF, and the bidirectional embeddings, overrides and isolates.
_NOT_SHOWN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
                        "\u202a-\u202e\u2066-\u2069]")


def visible(text: object) -> str:
    """Text for a person to read (the terminal, diagrams, pages): each character in
    _NOT_SHOWN written as its Python escape (`\\x1b`), so that spec text and file names are
    only ever shown, never acted on; line breaks and every other character kept."""
    return _NOT_SHOWN.sub(lambda m: _escape(m.group()), str(text))


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


class SpecError(Exception):
    """One or more diagnostics; raised by any stage, caught by the CLI."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


def error(loc: Loc, code: str, message: str, *notes: str) -> SpecError:
    assert code in CODES, code
    return SpecError(Diagnostic(loc, code, message, tuple(n for n in notes if n)))


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Collector:
    """Gathers diagnostics so a stage can report every problem at once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def add(self, exc: SpecError) -> None:
        for d in exc.diagnostics:
            if d not in self.diagnostics:
                self.diagnostics.append(d)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise SpecError(sorted(self.diagnostics, key=lambda d: d.loc))
