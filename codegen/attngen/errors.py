"""Diagnostics: located, compiler-style errors and warnings with stable codes.

Every user-facing problem becomes a `Diagnostic`; stages collect them and raise
`SpecError` with all of them at once. The CLI prints them one per line and exits 1.
A warning (lint.py) is a Diagnostic of severity "warning": printed the same way, it
fails nothing unless asked to (`-W error`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace


class Code(str):
    """A stable diagnostic code, as mypy's error codes are: the text is the code (`E101`,
    `W100`), printed in every diagnostic and documented in docs/errors.md; `summary` says
    what it means."""

    summary: str

    def __new__(cls, code: str, summary: str) -> Code:
        self = super().__new__(cls, code)
        self.summary = summary
        return self

    def __reduce__(self):  # pickled (a build's worker process sends it back) as made
        return type(self), (str(self), self.summary)


class ErrorCode(Code):
    """An error's code: `error()` takes only these, so a misspelt code is a type error, not
    a runtime check."""


class WarningCode(Code):
    """A warning's code (lint.py)."""


YAML_SYNTAX = ErrorCode("E100", "YAML syntax error")
UNKNOWN_KEY = ErrorCode("E101", "unknown key")
BAD_VALUE = ErrorCode("E102", "wrong type or value")
MISSING_KEY = ErrorCode("E103", "missing required key")
BAD_NAME = ErrorCode("E104", "invalid or reserved identifier")
TOO_LARGE = ErrorCode("E105", "input too large or too deeply nested (YAML limits)")
DUPLICATE_NAME = ErrorCode("E106", "duplicate key or name")
OVER_BUDGET = ErrorCode(
    "E107", "over a budget of the whole build (nodes, expression size, `use:` depth, diagram)"
)
EXPR_SYNTAX = ErrorCode("E200", "expression syntax error")
EXPR_NOT_ALLOWED = ErrorCode("E201", "construct not allowed in expressions")
UNKNOWN_NAME = ErrorCode("E202", "unknown name in expression")
UNKNOWN_REF = ErrorCode("E300", "reference to an unknown node or input")
GRAPH_CYCLE = ErrorCode("E301", "cycle in the graph")
UNREACHABLE_NODE = ErrorCode("E302", "node does not reach any output")
UNKNOWN_OUTPUT = ErrorCode("E303", "unknown output")
SHAPE_MISMATCH = ErrorCode("E400", "shape mismatch with annotation")
UNKNOWN_OP = ErrorCode("E401", "unknown op")
BAD_ARGUMENTS = ErrorCode("E402", "bad op arguments or inputs")
SHAPE_RULE = ErrorCode("E403", "op shape rule violated")
UNSTATED_DIVISIBILITY = ErrorCode(
    "E404", "divisibility, equality or bound relied on but not stated in `requires`"
)
REQUIREMENT_FAILS = ErrorCode("E405", "requirement violated by the defaults")
FILE_ERROR = ErrorCode("E500", "file not found or unreadable")
INCLUDE_CYCLE = ErrorCode("E501", "cycle through `use:` or `extends:`")
BAD_EDIT = ErrorCode("E502", "bad variant edit (`extends:`)")
OUTSIDE_ROOTS = ErrorCode(
    "E503", "`use:` or `extends:` target outside the folders specs are read from"
)
VERIFY_RUNTIME = ErrorCode(
    "E600", "`verify`: runtime shape differs from the spec (or the module failed to run)"
)
VERIFY_EXPORT = ErrorCode(
    "E601", "`verify`: torch.export shape differs from the spec (or export failed)"
)

ONNX_FIXED_WINDOW = WarningCode(
    "W100", "adaptive pooling of a free input size: ONNX export fixes its window"
)
FUSED_KERNEL_MISSED = WarningCode(
    "W101", "`verify`: a fused attention call ran PyTorch's math kernel, not a fused one"
)

# code -> summary, for the docs and their tests
CODES = {code: code.summary for code in (
    YAML_SYNTAX, UNKNOWN_KEY, BAD_VALUE, MISSING_KEY, BAD_NAME, TOO_LARGE, DUPLICATE_NAME,
    OVER_BUDGET, EXPR_SYNTAX, EXPR_NOT_ALLOWED, UNKNOWN_NAME, UNKNOWN_REF, GRAPH_CYCLE,
    UNREACHABLE_NODE, UNKNOWN_OUTPUT, SHAPE_MISMATCH, UNKNOWN_OP, BAD_ARGUMENTS, SHAPE_RULE,
    UNSTATED_DIVISIBILITY, REQUIREMENT_FAILS, FILE_ERROR, INCLUDE_CYCLE, BAD_EDIT,
    OUTSIDE_ROOTS, VERIFY_RUNTIME, VERIFY_EXPORT,
)}
NEVER_HOLDS = WarningCode(
    "W102", "a condition holds for no value checked: its branch is never checked"
)
WARNING_CODES = {code: code.summary for code in (ONNX_FIXED_WINDOW, FUSED_KERNEL_MISSED,
                                                 NEVER_HOLDS)}


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
    severity: str = "error"  # or "warning"

    def format(self) -> str:
        head = one_line(f"{self.loc}: {self.severity}[{self.code}]: {self.message}")
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

    def __reduce__(self):  # pickled (a build's worker process sends it back) as built
        return type(self), (self.diagnostics,)

    def noted_outside(self, file: str, note: str) -> SpecError:
        """The same diagnostics, `note` added to each located outside `file` (an error in a
        sub-spec: which call reached it)."""
        return SpecError([d if d.loc.file == file else replace(d, notes=(*d.notes, note))
                          for d in self.diagnostics])


class InternalError(Exception):
    """A bug in attngen found by one of its own oracles (generated source that does not
    compile): reported at the spec that provoked it, and nothing is written."""

    def __init__(self, loc: Loc, message: str):
        super().__init__(one_line(f"{loc}: internal error: {message} (a bug in attngen; "
                                  "please report it with the spec)"))
        self.loc, self.message = loc, message

    def __reduce__(self):  # pickled (a build's worker process sends it back) as built
        return type(self), (self.loc, self.message)


def error(loc: Loc, code: ErrorCode, message: str, *notes: str) -> SpecError:
    return SpecError(Diagnostic(loc, code, message, tuple(n for n in notes if n)))


def guarded(guard: str, line: str) -> str:
    """A hint's `requires` line under its configuration's guard (`not grouped or c % 4 ==
    0`); the line alone where there is none (the default configuration's)."""
    return f"{guard} or {line}" if guard else line


def flow_list(lines: list[str]) -> str:
    """`[a, b]` as a spec's YAML reads it back: a line that YAML's flow syntax would split
    (`gl != [1, 2] or C % 2 == 0`) double-quoted, so a hint's `requires:` pastes as is."""
    def item(line: str) -> str:
        if not any(c in line for c in ",[]{}#") and ": " not in line:
            return line
        return '"' + line.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(item(line) for line in lines) + "]"


def a_(word: str) -> str:
    """`word` after its indefinite article: `an int`, `a float`."""
    return ("an " if word[:1] in tuple("aeiou") else "a ") + word


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


MAX_SHOWN = 20  # errors printed per run; the rest are counted ("and 3 more")


def report(diagnostics: Iterable[Diagnostic], limit: int = MAX_SHOWN) -> list[str]:
    """Diagnostics as the CLI prints them: each once, in file:line:col order, the first
    `limit`, then a line counting the rest, then a count line naming the files."""
    found = sorted(dict.fromkeys(diagnostics), key=lambda d: d.loc)
    lines = [d.format() for d in found[:limit]]
    if len(found) > limit:
        lines.append(f"attngen: ... and {len(found) - limit} more "
                     f"error{'s' if len(found) - limit != 1 else ''} (not shown)")
    return [*lines, count_line(found)] if found else lines


def count_line(found: list[Diagnostic]) -> str:
    """`attngen: 3 errors in specs/x.yaml`, or per file where they are in several."""
    files = Counter(d.loc.file for d in found)
    where = f" in {next(iter(files))}" if len(files) == 1 else ": " + ", ".join(
        f"{n} in {file}" for file, n in files.items())
    return f"attngen: {len(found)} error{'s' if len(found) != 1 else ''}{where}"


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
