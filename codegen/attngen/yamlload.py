"""Safe YAML loading into located values.

PyYAML's composer gives nodes with marks; we convert them into plain Python
values wrapped so that each one remembers its file:line:col. Only the safe
schema is used. Limits guard against alias bombs, deep nesting and huge files.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import yaml

from .errors import (
    BAD_VALUE,
    DUPLICATE_NAME,
    FILE_ERROR,
    TOO_LARGE,
    YAML_SYNTAX,
    Loc,
    SpecError,
    error,
    one_line,
)
from .files import NotRegular, read_regular
from .memo import remember

if TYPE_CHECKING:
    from _collections_abc import dict_items  # the type dict.items() returns
    from collections.abc import Iterator

MAX_BYTES = 1_000_000  # a spec is a few KB; refuse anything this large
MAX_NODES = 100_000  # values after alias expansion (alias bombs)
MAX_DEPTH = 64  # nesting depth
# Integers of up to MAX_DIGITS decimal digits: what Python converts to and from text (so
# every message and generated file can print them). Longer integer text (hex, binary and
# YAML's base 60 spell the same values longer) is refused before it is parsed.
MAX_DIGITS = 4300
_INT_LIMIT = 10**MAX_DIGITS
_MAX_INT_CHARS = 4 * MAX_DIGITS
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"

try:  # the C loader is ~10x faster where libyaml is available
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[valid-type,misc]  # (PyYAML's loaders are untyped)
    """The safe loader with YAML 1.2's float forms added to YAML 1.1's: an exponent without
    a dot or without a sign (`1e-4`, `1E4`, `+1.5e3`) and a signed leading dot (`-.5`),
    which YAML 1.1 reads as strings. Every other resolution is YAML 1.1's, unchanged."""

    def resolve(self, kind: Any, value: Any, implicit: tuple[bool, bool]) -> str:
        """A node's tag. The composer asks for every node; a scalar's tag depends on its
        text and `implicit` alone (the resolvers are fixed at import), so it is memoized."""
        if kind is not yaml.ScalarNode or len(value) > 64:  # (a doc text is seldom repeated)
            return str(super().resolve(kind, value, implicit))
        key = (value, implicit)
        tag = _TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            remember(_TAGS, key, tag, 10_000)
        return tag


_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}  # (scalar text, implicit) -> tag


# Only forms YAML 1.1 leaves as strings: a whole number stays an int (the int resolver,
# tried first, takes it).
_FLOAT_12 = re.compile(r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+|\.[0-9]+)$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+.0123456789"))


def number_text(value: object) -> str | None:
    """The text of a string that reads as a number (`'1e-4'`, `"0.5"`), else None: a
    quoted number is a string in YAML."""
    if not isinstance(value, str) or not _NUMBER.match(value.strip()):
        return None
    return value.strip()


_NUMBER = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def unquote_hint(value: object) -> str | None:
    """How to write a quoted number so that it is one, or None if `value` is no number."""
    text = number_text(value)
    if text is None:
        return None
    other = ""
    if "e" in text.lower():  # the same number without an exponent, when it is short
        decimal = format(Decimal(text), "f")
        decimal += "" if "." in decimal else ".0"
        other = f" (or {decimal})" if len(decimal) <= 12 else ""
    return f"write {text}{other} without quotes (a quoted number is a string)"


class LMap(dict[str, "LValue"]):
    """A mapping with the location of itself and of each key."""

    loc: Loc
    key_locs: dict[str, Loc]

    # Its keys are located strings (the converter and variants.py make no other): declared
    # for the type checker only, the methods are dict's own.
    if TYPE_CHECKING:
        def __iter__(self) -> Iterator[LStr]: ...
        def items(self) -> dict_items[LStr, LValue]: ...


class LList(list["LValue"]):
    loc: Loc


class LStr(str):
    loc: Loc
    inset: int  # columns from `loc` to the text's first character: 1 if quoted on one line
    origin: Path  # a `use:` target inherited through `extends:`: the file that wrote it


class LInt(int):
    loc: Loc


class LFloat(float):
    loc: Loc


class LBool(int):
    """bool cannot be subclassed; LBool compares and prints like a bool."""

    loc: Loc

    def __repr__(self) -> str:
        return "True" if self else "False"

    __str__ = __repr__


class LNone:
    loc: Loc

    def __bool__(self) -> Literal[False]:
        return False

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, LNone)

    def __hash__(self) -> int:
        return hash(None)

    def __repr__(self) -> str:
        return "None"


# A value read from YAML: each kind remembers where it was written.
LValue: TypeAlias = "LMap | LList | LStr | LInt | LFloat | LBool | LNone"
# What plain() makes of one: the plain Python value.
Plain: TypeAlias = "dict[str, Plain] | list[Plain] | str | int | float | bool | None"


def loc_of(value: object, default: Loc) -> Loc:
    return getattr(value, "loc", default)


@overload
def plain(value: LList) -> list[Plain]: ...
@overload
def plain(value: LValue) -> Plain: ...
def plain(value: LValue) -> Plain:
    """Strip location wrappers (for values handed to code that needs real types)."""
    if isinstance(value, LNone):
        return None
    if isinstance(value, LBool):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, LStr):
        return str(value)
    if isinstance(value, LInt):
        return int(value)
    if isinstance(value, LFloat):
        return float(value)
    return value


def _mark(file: str, node: Any) -> Loc:  # a yaml.Node (PyYAML has no type information)
    return Loc(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.scalars = _Loader("")  # used only to construct scalar values

    def convert(self, node: Any, depth: int = 0) -> LValue:
        self.count += 1
        if self.count > MAX_NODES:  # (a document with aliases was measured before)
            raise error(_mark(self.file, node), TOO_LARGE, f"the document has more than "
                        f"{MAX_NODES} values; split it into specs that `use:` each other")
        if depth > MAX_DEPTH:
            raise error(_mark(self.file, node), TOO_LARGE, f"nesting deeper than {MAX_DEPTH} "
                        "levels")
        kind = type(node)  # the composer makes exactly these three classes
        if kind is yaml.ScalarNode:
            return self.scalar(node)
        if kind is yaml.MappingNode:
            return self.mapping(node, depth)
        items = LList(self.convert(v, depth + 1) for v in node.value)
        items.loc = _mark(self.file, node)
        return items

    def mapping(self, node: Any, depth: int) -> LMap:
        out = LMap()
        out.loc, out.key_locs = _mark(self.file, node), {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                raise error(_mark(self.file, knode), BAD_VALUE,
                            "YAML merge keys ('<<') are not supported")
            key = self.convert(knode, depth + 1)
            if not isinstance(key, (LStr, LInt, LFloat, LBool)):
                raise error(key.loc, BAD_VALUE, "mapping keys must be plain scalars")
            if not isinstance(key, LStr):  # `1:`, `true:`: the text, where it was written
                text = LStr(str(key))
                text.loc = key.loc
                key = text
            if key in out:
                try:  # the second value, for a merge hint; its own errors come next run
                    merged = _merged(key, out[key], self.convert(vnode, depth + 1))
                except SpecError:
                    merged = ""
                raise error(key.loc, DUPLICATE_NAME, f"duplicate key '{key}' "
                            f"(first at line {out.key_locs[key].line})", merged)
            out[key] = self.convert(vnode, depth + 1)
            out.key_locs[key] = key.loc
        return out

    def scalar(self, node: Any) -> LStr | LInt | LFloat | LBool | LNone:
        tag, start = node.tag, node.start_mark
        loc = Loc(self.file, start.line + 1, start.column + 1)
        if tag == _STR:  # a plain string is its text (what construct_yaml_str returns)
            return _text(node.value, node, loc)
        if tag == _INT and len(node.value) > _MAX_INT_CHARS:
            raise _int_too_large(loc, node.value)
        try:
            value = self.scalars.construct_object(node)
        except yaml.YAMLError as exc:  # tags like !!python/object: never constructed
            problem = getattr(exc, "problem", None) or "cannot read this value"
            raise error(loc, BAD_VALUE, f"unsupported YAML value: {problem}") from None
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            # text its tag's constructor refuses: 2001-13-45, !!int 'abc', !!bool 'maybe'
            if tag == _INT and sum(c.isdigit() for c in node.value) > MAX_DIGITS:
                raise _int_too_large(loc, node.value) from None
            what = tag.rsplit(":", 1)[-1]
            why = "" if isinstance(exc, KeyError) else f" ({exc})"
            raise error(loc, BAD_VALUE, f"cannot read {one_line(_short(node.value))!r} as a "
                        f"{what}{why}; quote it, without a tag, to make it a string") from None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_LIMIT:
            raise _int_too_large(loc, node.value)
        wrapped: LStr | LInt | LFloat | LBool | LNone
        if value is None:
            wrapped = LNone()
        elif isinstance(value, bool):
            wrapped = LBool(value)
        elif isinstance(value, int):
            wrapped = LInt(value)
        elif isinstance(value, float):
            wrapped = LFloat(value)
        elif isinstance(value, str):
            return _text(value, node, loc)
        else:  # timestamps, binary: not part of the spec language
            raise error(loc, BAD_VALUE, f"unsupported YAML value {node.value!r} "
                        f"(type {type(value).__name__}); quote it to make it a string")
        wrapped.loc = loc
        return wrapped


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:16]}...{text[-8:]} ({len(text)} characters)"


def _int_too_large(loc: Loc, text: str) -> SpecError:
    return error(loc, TOO_LARGE, f"integer {_short(text)} is too large: integers in a spec have "
                 f"at most {MAX_DIGITS} digits")


def _flow_hint(text: str, line: int, problem: str) -> str:
    """Inside a flow list or mapping (`[...]`, `{...}`), an expression holding brackets (an
    index, `chans[0]`) ends the item early: the note quotes the first one on the line."""
    if "did not find expected ','" not in problem:
        return ""
    lines = text.splitlines()
    found = re.search(r"[A-Za-z_]\w*\[[^\]\[]*\]", lines[line]) if line < len(lines) else None
    if found is None:
        return ""
    return (f"inside [...] or {{...}}, an expression with brackets is quoted: "
            f"\"{found.group(0)}\"")


def load_text(text: str, file: str) -> LValue:
    """Parse YAML text into located values. Raises SpecError."""
    collecting = gc.isenabled()
    gc.disable()  # the trees built here hold no cycles; the collector's passes only cost time
    try:
        return _load_text(text, file)
    finally:
        if collecting:
            gc.enable()


def _load_text(text: str, file: str) -> LValue:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise error(Loc(file, 1, 1), TOO_LARGE, f"file is larger than {MAX_BYTES} bytes")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(loc, YAML_SYNTAX, f"YAML syntax error: {problem}",
                    _flow_hint(text, mark.line if mark else 0, problem)) from None
    except yaml.reader.ReaderError as exc:  # a control character or bad encoding
        before = text[: exc.position]
        loc = Loc(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise error(
            loc, YAML_SYNTAX, f"character U+{char:04X} not allowed: {exc.reason}"
        ) from None
    except yaml.YAMLError as exc:
        raise error(Loc(file, 1, 1), YAML_SYNTAX, f"YAML error: {exc}") from None
    except RecursionError:
        raise error(Loc(file, 1, 1), TOO_LARGE, "nesting too deep") from None
    if node is None:
        empty = LMap()
        empty.loc, empty.key_locs = Loc(file, 1, 1), {}
        return empty
    if "&" in text:  # an alias needs an anchor: without one, conversion counts every value
        _expanded_size(node, file, {}, 0, [False])
    return _Converter(file).convert(node)


def _expanded_size(node: Any, file: str, sizes: dict[int, int], depth: int,
                   aliased: list[bool]) -> int:
    """Values `node` stands for once aliases are expanded, computed without expanding them
    (each shared node once), so an alias bomb is refused before any work. `aliased[0]`
    turns True once an alias (a node met again) is seen."""
    if id(node) in sizes:
        aliased[0] = True
        return sizes[id(node)]
    if depth > MAX_DEPTH:  # also ends self-referencing anchors
        raise error(_mark(file, node), TOO_LARGE, f"nesting deeper than {MAX_DEPTH} levels")
    children = node.value if isinstance(node, yaml.SequenceNode) else \
        [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else []
    size = 1 + sum(_expanded_size(c, file, sizes, depth + 1, aliased) for c in children)
    if size > MAX_NODES:
        how = ("expands to more than {} values through its aliases (*name)" if aliased[0] else
               "has more than {} values; split it into specs that `use:` each other")
        raise error(_mark(file, node), TOO_LARGE, "this value " + how.format(MAX_NODES))
    sizes[id(node)] = size
    return size


def load_file(path: Path, display: str | None = None,
              digests: dict[Path, str | None] | None = None) -> LValue:
    """Read and parse a spec file; `display` is the name used in diagnostics. `digests`,
    when given, receives path -> SHA-256 of the exact bytes parsed (the build cache records
    these, so an edit made after the read is never taken for what was built)."""
    name = display or str(path)
    try:
        data = read_regular(path, MAX_BYTES)
    except FileNotFoundError:
        raise error(Loc(name), FILE_ERROR, "no such file") from None
    except NotRegular as exc:
        what = "a directory" if exc.strerror == "a folder" else exc.strerror
        raise error(Loc(name), FILE_ERROR, f"is {what}, not a spec file") from None
    except OSError as exc:
        raise error(Loc(name), FILE_ERROR, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise error(Loc(name, 1, 1), TOO_LARGE, f"file is larger than {MAX_BYTES} bytes")
    if digests is not None:
        digests[path] = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            Loc(name, 1, 1), YAML_SYNTAX, f"file is not UTF-8 text ({exc.reason})"
        ) from None
    # as a text-mode read gives it: every line break is "\n"
    return load_text(text.replace("\r\n", "\n").replace("\r", "\n"), name)


def _text(value: str, node: Any, loc: Loc) -> LStr:
    """A string scalar, located; `inset` 1 where it is quoted on one line (its text starts
    a column after the quote)."""
    text = LStr(value)
    text.loc = loc
    single = node.start_mark.line == node.end_mark.line
    text.inset = 1 if single and node.style in ("'", '"') else 0
    return text


# an item written bare in a flow list reads back as itself: an expression of names,
# numbers and operators, not starting with an indicator (`-`, `*`, `!`, ...)
PLAIN_ITEM = re.compile(r"[A-Za-z0-9_(][A-Za-z0-9_ .+\-*/%<>=!()]*(?<! )")


def _merged(key: str, first: object, second: object) -> str:
    """For a key given twice with a list each time (a pasted `requires: [...]` line under
    the spec's own), the one line that holds both lists; '' otherwise."""
    if not (isinstance(first, LList) and isinstance(second, LList)) or not all(
            isinstance(v, (LStr, LInt, LFloat)) for v in [*first, *second]):
        return ""
    items = [str(v) for v in dict.fromkeys([*first, *second])]
    shown = [v if PLAIN_ITEM.fullmatch(v) else json.dumps(v) for v in items]
    line = f"{key}: [{', '.join(shown)}]"
    return f"merge them into one: {line}" if len(line) <= 400 else ""  # a line to paste
