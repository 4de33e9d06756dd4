"""Generated Python laid out within WIDTH columns, wrapped the way black and ruff format wrap.

The emitter writes every statement as one logical line; `statement` splits one that does
not fit. A `def` splits at its parameters; any other line at the trailing bracket of its
expression, or at parentheses put around an expression that has none (`x = (` ... `)`).
Where neither the text up to that bracket nor the expression in parentheses fits, or that
bracket holds one name or number, an earlier bracket is split instead, the trailers after
it on its closing line (`f(` ... `).squeeze(0)`), as black omits them.
What lies between the brackets goes on one indented line if it fits there, else one item
per line, split at the loosest separator present: commas (each item then ends with a
comma), the clauses of a comprehension or a conditional expression, `or`, `and`,
comparisons, then the arithmetic operators, each leading its line, and last the calls of a
method chain (`x.a(1).b(2).c(3)`: a `.` after a bracket, twice or more), one call per line.
A statement's value that is such a chain goes in parentheses rather than being split at
its last bracket, as black writes it. An item that still
does not fit is split the same way, one level deeper. A trailing comma already in a bracket
(a "magic trailing comma") keeps it exploded, one item per line, even where it would fit.
A string literal too long for its line becomes implicitly concatenated pieces, split after
spaces. Only line breaks, parentheses and trailing commas are added; every token and the
spacing between tokens on a line are kept as the emitter wrote them.

`comment` wraps a comment's text, preferring breaks before ` -> `.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .memo import remember

WIDTH = 99  # the project's line length (ruff's --line-length 99), generated code included

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>(?:[rRbBuUfF]{1,2})?(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))
  | (?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*=?|//=?|->|:=|[=!<>]=|<<=?|>>=?|[-+*/%@&|^~]=?|[<>=.,:;()\[\]{}])
""", re.VERBOSE)
_MAYBE_MAGIC = re.compile(r",\s*[)\]}]")  # a comma before a closing bracket
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_KEYWORDS = frozenset(("and", "or", "not", "in", "is", "if", "else", "for", "lambda", "async",
                       "await", "return", "raise", "del", "assert", "elif", "while", "yield"))
_OPERAND_KEYWORDS = frozenset(("None", "True", "False"))

# Separators, loosest first: a sequence splits at the loosest one present at its top level.
# A unary `not` (NOT) binds more loosely than the comparisons after it.
# A method chain's calls (DOT) come last.
COMMA, CLAUSE, TERNARY, OR, AND, NOT, COMPARE, BITOR, BITXOR, BITAND, SHIFT, ARITH, TERM, \
    POWER, DOT = range(15)
_BINARY = {"|": BITOR, "^": BITXOR, "&": BITAND, "<<": SHIFT, ">>": SHIFT, "+": ARITH,
           "-": ARITH, "*": TERM, "/": TERM, "//": TERM, "%": TERM, "@": TERM, "**": POWER,
           "<": COMPARE, ">": COMPARE, "==": COMPARE, "!=": COMPARE, "<=": COMPARE,
           ">=": COMPARE}


@dataclass
class Tok:
    kind: str  # name, number, string or op
    text: str
    start: int
    end: int


@dataclass
class Group:
    """A bracket pair and what lies between; `kind` is call, subscript, display, or params
    (a `def`'s)."""

    open: Tok
    items: list
    close: Tok
    kind: str

    @property
    def start(self) -> int:
        return self.open.start

    @property
    def end(self) -> int:
        return self.close.end

    @property
    def magic(self) -> bool:
        """Ends with a comma that makes it explode (not the comma of a one-tuple)."""
        if not self.items or not _is(self.items[-1], ","):
            return False
        commas = sum(1 for e in self.items if _is(e, ","))
        return not (commas == 1 and (self.kind == "subscript" or (
            self.kind == "display" and self.open.text == "(")))


def _is(elem, text: str) -> bool:
    return isinstance(elem, Tok) and elem.kind in ("op", "name") and elem.text == text


def _parse(src: str) -> list:
    """The top-level elements of one logical line: tokens, and groups for bracket pairs."""
    stack: list[tuple[Tok | None, list]] = [(None, [])]
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise ValueError(f"cannot lay out {src!r}: unexpected {src[pos]!r}")
        pos = m.end()
        if m.lastgroup == "space":
            continue
        tok = Tok(m.lastgroup or "", m.group(), m.start(), m.end())
        if tok.kind == "op" and tok.text in _CLOSE:
            stack.append((tok, []))
        elif tok.kind == "op" and tok.text in _CLOSE.values():
            opener, items = stack.pop()
            if opener is None or _CLOSE[opener.text] != tok.text or not stack:
                raise ValueError(f"cannot lay out {src!r}: unbalanced {tok.text!r}")
            before = stack[-1][1]
            trailer = bool(before) and _operand_end(before[-1]) and opener.text != "{"
            kind = ("call" if opener.text == "(" else "subscript") if trailer else "display"
            before.append(Group(opener, items, tok, kind))
        else:
            stack[-1][1].append(tok)
    if len(stack) != 1:
        raise ValueError(f"cannot lay out {src!r}: unbalanced brackets")
    return stack[0][1]


def _operand_end(elem) -> bool:
    """Whether `elem` can end an operand (so a following `-` is binary, `(` a call)."""
    if isinstance(elem, Group):
        return True
    if elem.kind in ("number", "string"):
        return True
    return elem.kind == "name" and (elem.text not in _KEYWORDS or elem.text in _OPERAND_KEYWORDS)


def _text(src: str, elems: list) -> str:
    return src[elems[0].start:elems[-1].end] if elems else ""


def _has_magic(elems: list) -> bool:
    return any(isinstance(e, Group) and (e.magic or _has_magic(e.items)) for e in elems)


def _fits(text: str, indent: int) -> bool:
    return indent + len(text) <= WIDTH


# -- statements --------------------------------------------------------------------------
def statement(line: str, indent: int = 0) -> list[str]:
    """One logical line (no line breaks) at `indent` columns -> its lines, indented."""
    src = line.strip()
    pad = " " * indent
    if src.startswith("#"):
        return [pad + c for c in comment(src[1:].strip(), indent)]
    if _fits(src, indent) and not _MAYBE_MAGIC.search(src):  # most lines: nothing to do
        return [pad + src]
    if (src, indent) not in _SPLIT:  # the same long lines recur in every module that has them
        remember(_SPLIT, (src, indent), tuple(_split_statement(src, indent)))
    return list(_SPLIT[src, indent])


_SPLIT: dict[tuple[str, int], tuple[str, ...]] = {}  # (line, indent) -> statement's lines


def _split_statement(src: str, indent: int) -> list[str]:
    """statement() of a line that may need splitting."""
    pad = " " * indent
    try:
        elems = _parse(src)
    except ValueError:  # not a line emit writes; left as it is rather than guessed at
        return [pad + src]
    if not elems or (_fits(src, indent) and not _has_magic(elems)):
        return [pad + src]
    if _is(elems[0], "def") or _is(elems[0], "class"):  # split at the parameters
        at = next((i for i, e in enumerate(elems) if isinstance(e, Group)), None)
        if at is None or not elems[at].items:
            return [pad + src]
        group = elems[at]
        group.kind = "params"
        return ([pad + src[:group.open.end]] + _body(src, group, indent + 4)
                + [pad + src[group.close.start:]])
    targets, lead, expr, tail = _statement_parts(src, elems)
    if targets and not _fits(lead, indent) and _separators(targets)[0] == COMMA:
        # targets too many for the line: `(` one per line `) = value`
        return ([pad + "("] + _split_items(src, targets, indent + 4, None)
                + _item(src, ")" + src[targets[-1].end:expr[0].start], expr, tail, indent))
    return _split(src, lead, expr, tail, indent, statement=True)


def _statement_parts(src: str, elems: list) -> tuple[list, str, list, str]:
    """(assignment targets, what precedes the expression, the expression, what follows it)
    of a statement."""
    tail = ""
    if _is(elems[-1], ":"):
        tail, elems = ":", elems[:-1]
    first = elems[0]
    if isinstance(first, Tok) and first.kind == "name" and first.text in _KEYWORDS \
            and first.text not in ("not", "lambda", "await"):
        lead = src[first.start:elems[1].start] if len(elems) > 1 else first.text
        return [], lead, elems[1:], tail
    for i, e in enumerate(elems):
        if isinstance(e, Tok) and e.kind == "op" and e.text.endswith("=") \
                and e.text not in ("==", "!=", "<=", ">=") and i + 1 < len(elems):
            return elems[:i], src[elems[0].start:elems[i + 1].start], elems[i + 1:], tail
    return [], "", elems, tail


def _split(src: str, lead: str, elems: list, suffix: str, indent: int, *,
           statement: bool = False) -> list[str]:
    """`lead + elems + suffix`, which does not fit on one line, split at a bracket: the
    expression's trailing one, or parentheses put around it where its head (the text up to
    that bracket) would not fit either, or where it is a `statement`'s method chain."""
    pad = " " * indent
    last = elems[-1] if elems else None
    chain = statement and _separators(elems)[0] == DOT
    if isinstance(last, Group) and last.items and _is_primary(elems[:-1]) and not chain:
        head = lead + src[elems[0].start:last.open.end]
        fits = _fits(head, indent) or not lead
        # black's omitted trailers: an earlier bracket, what follows it on its closing line
        # (`f(` ... `).squeeze(0)`), where the head up to the last one would not fit, nor
        # the expression on one line in parentheses, or the last holds one name or number
        atom = len(last.items) == 1 and isinstance(last.items[0], Tok)
        if not fits and not _fits(_text(src, elems), indent + 4) or fits and atom:
            for group in reversed(elems[:-1]):
                if isinstance(group, Group) and group.items:
                    early = lead + src[elems[0].start:group.open.end]
                    close = src[group.close.start:last.end] + suffix
                    if _fits(early, indent) and _fits(close, indent):
                        return [pad + early] + _body(src, group, indent + 4) + [pad + close]
        if fits:
            return [pad + head] + _body(src, last, indent + 4) + [pad + last.close.text + suffix]
    text = _text(src, elems)
    if elems and (lead or _separators(elems)[0] is not None or _all_strings(elems)):
        # parentheses around the expression (a tuple keeps its comma, so its meaning)
        if _fits(text, indent + 4) and not _has_magic(elems):
            return [pad + lead + "(", pad + "    " + text, pad + ")" + suffix]
        return ([pad + lead + "("] + _split_items(src, elems, indent + 4, None)
                + [pad + ")" + suffix])
    return [pad + lead + text + suffix]  # one name or number: nothing to split


def _all_strings(elems: list) -> bool:
    return bool(elems) and all(isinstance(e, Tok) and e.kind == "string" for e in elems)


def _is_primary(elems: list) -> bool:
    """Names, dots, literals and trailers (after leading unary operators): no separator."""
    prefix = True
    for e in elems:
        if isinstance(e, Group):
            prefix = False
            continue
        if prefix and e.text in ("not", "-", "+", "~", "*"):  # `*` unpacks an item
            continue
        prefix = False
        if e.kind == "op" and e.text != ".":
            return False
        if e.kind == "name" and e.text in _KEYWORDS:
            return False
    return True


def _body(src: str, group: Group, indent: int) -> list[str]:
    """The contents of a bracket pair, starting on a new line at `indent`."""
    text = _text(src, group.items)
    if _fits(text, indent) and not group.magic and not _has_magic(group.items):
        return [" " * indent + text]
    return _split_items(src, group.items, indent, group)


def _split_items(src: str, elems: list, indent: int, group: Group | None) -> list[str]:
    """Elements split at their loosest separator, one part per line."""
    level, cuts = _separators(elems)
    if level is None:
        return _item(src, "", elems, "", indent)
    if level == NOT:  # `not` leads; what it negates may go in parentheses
        return _item(src, src[elems[0].start:elems[1].start], elems[1:], "", indent)
    if level == COMMA:
        parts = _cut(elems, cuts, drop=True)
        # every item ends with a comma: with two or more that keeps the meaning, and a
        # single item had one (`(a,)`); no comma is added to one item, as in `x[a]`
        parts = [p for p in parts if p]
        params = group is not None and group.kind == "params"
        return [line for part in parts
                for line in _item(src, "", part, ",", indent, params=params)]
    out = []
    for i, part in enumerate(_cut(elems, cuts, drop=False)):
        # the first part has no separator; a call's `.` stays with it (never `.(`)
        lead, rest = _lead(src, part) if i and level != DOT else ("", part)
        out += _item(src, lead, rest, "", indent)
    return out


def _separators(elems: list) -> tuple[int | None, list[int]]:
    """The loosest separator at the top level of `elems` and where it cuts them."""
    found: dict[int, list[int]] = {}
    in_comprehension = False
    for i, e in enumerate(elems):
        if not isinstance(e, Tok) or e.kind not in ("op", "name"):
            continue
        level = None
        if e.text == ",":
            level = COMMA
        elif e.text == "for" and e.kind == "name":
            level, in_comprehension = CLAUSE, True
        elif e.text == "if" and e.kind == "name":
            level = CLAUSE if in_comprehension else TERNARY
        elif e.text == "else" and e.kind == "name":
            level = TERNARY
        elif e.text in ("or", "and") and e.kind == "name":
            level = OR if e.text == "or" else AND
        elif e.text == "not" and e.kind == "name" and not (i > 0 and _is(elems[i - 1], "is")) \
                and not (i + 1 < len(elems) and _is(elems[i + 1], "in")):
            level = NOT  # unary, so only ever first: `a and not b` splits at `and` first
        elif e.text in ("in", "is") and e.kind == "name" and not in_comprehension:
            level = COMPARE
            if e.text == "in" and i > 0 and _is(elems[i - 1], "not"):
                i -= 1
        elif e.kind == "op" and e.text in _BINARY and i > 0 and _operand_end(elems[i - 1]):
            level = _BINARY[e.text]
        elif e.text == "." and i > 0 and isinstance(elems[i - 1], Group):
            level = DOT  # a call (or subscript) of what a call returned
        if level is not None:
            found.setdefault(level, []).append(i)
    if any(_is(e, ":") or _is(e, "=") for e in elems):
        # a slice, a keyword argument or a parameter: split only between items (an item's
        # value is split by _item)
        found = {COMMA: found[COMMA]} if COMMA in found else {}
    if len(found.get(DOT, ())) < 2:  # one call after another is no chain: not split there
        found.pop(DOT, None)
    if not found:
        return None, []
    level = min(found)
    return level, found[level]


def _cut(elems: list, cuts: list[int], *, drop: bool) -> list[list]:
    """`elems` cut before each index in `cuts`: the separator dropped (commas; a trailing
    comma leaves an empty last part), or leading the part after it."""
    parts, start = [], 0
    for at in cuts:
        parts.append(elems[start:at])
        start = at + 1 if drop else at
    parts.append(elems[start:])
    return parts if drop else [p for p in parts if p]


def _lead(src: str, part: list) -> tuple[str, list]:
    """A part's leading separator (`+ `, `and `, `for x in `) and the expression after it."""
    first = part[0]
    n = 1
    if first.text == "for":  # `for target in` leads; the iterable is the expression
        n = next((i + 1 for i, e in enumerate(part) if _is(e, "in")), len(part))
    elif first.text in ("not", "is") and len(part) > 1 and _is(part[1], "in" if
                                                                first.text == "not" else "not"):
        n = 2
    if n >= len(part):
        return "", part
    return src[first.start:part[n].start], part[n:]


def _item(src: str, lead: str, elems: list, suffix: str, indent: int, *,
          params: bool = False) -> list[str]:
    """One part of a split: `lead + elems + suffix`, split further if it does not fit;
    `params`: the part is a parameter of a `def`."""
    pad = " " * indent
    text = lead + _text(src, elems) + suffix
    if _fits(text, indent) and not _has_magic(elems):
        return [pad + text]
    at = next((i for i, e in enumerate(elems) if _is(e, "=")), None)
    if params and len(elems) > 2 and _is(elems[1], ":"):  # an annotated parameter
        hint = elems[2:at]
        head = lead + src[elems[0].start:hint[0].start]
        rest = src[hint[-1].end:elems[at + 1].start] if at else ""  # ` = ` before a default
        default = elems[at + 1:] if at else []
        opening = "(" if len(default) == 1 and isinstance(default[0], Group) \
            else _text(src, default) + suffix
        if not _fits(head + _text(src, hint) + rest + opening, indent):
            # not even the default's bracket fits after it: the annotation in parentheses
            close = _item(src, ")" + rest, default, suffix, indent) if default \
                else [pad + ")" + suffix]
            return [pad + head + "("] + _item(src, "", hint, "", indent + 4) + close
    if at is not None and 0 < at < len(elems) - 1:  # a keyword argument or a parameter's
        lead, elems = lead + src[elems[0].start:elems[at + 1].start], elems[at + 1:]  # default
    if _all_strings(elems):
        pieces = _string_pieces(elems, indent + (4 if lead else 0), len(suffix))
        if lead:
            return [pad + lead + "("] + [pad + "    " + p for p in pieces] + [pad + ")" + suffix]
        return [pad + p for p in pieces[:-1]] + [pad + pieces[-1] + suffix]
    return _split(src, lead, elems, suffix, indent)


# -- strings -----------------------------------------------------------------------------
_STRING = re.compile(r"(?P<prefix>[rRbBuUfF]{0,2})(?P<quote>[\"'])(?P<body>.*)(?P=quote)$",
                     re.DOTALL)


def _string_pieces(tokens: list[Tok], indent: int, after: int) -> list[str]:
    """String literals as pieces of an implicit concatenation, each filling its line."""
    pieces = []
    for i, tok in enumerate(tokens):
        room = WIDTH - indent - (after if i == len(tokens) - 1 else 0)
        pieces += _split_string(tok.text, room)
    return pieces


def _split_string(literal: str, room: int) -> list[str]:
    """One literal split after spaces into pieces of at most `room` characters where it can
    be; an f-string's pieces without a placeholder become plain strings."""
    m = _STRING.match(literal)
    if m is None or len(literal) <= room:
        return [literal]
    prefix, quote, body = m.group("prefix"), m.group("quote"), m.group("body")
    fmt = "f" in prefix.lower()
    words = _words(body, fmt)
    pieces, current = [], ""
    overhead = len(prefix) + 2
    for word in words:
        if current and overhead + len(current) + len(word) > room:
            pieces.append(current)
            current = ""
        current += word
    pieces.append(current)
    return [_literal(prefix, quote, p, fmt) for p in pieces if p]


def _words(body: str, fmt: bool) -> list[str]:
    """A literal's body cut after each run of spaces; never inside an f-string placeholder
    or an escape."""
    words, current, depth, i = [], "", 0, 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            current += body[i:i + 2]
            i += 2
            continue
        if fmt and ch in "{}" and body[i:i + 2] in ("{{", "}}"):
            current += body[i:i + 2]
            i += 2
            continue
        if fmt and ch == "{":
            depth += 1
        elif fmt and ch == "}":
            depth -= 1
        current += ch
        i += 1
        if ch == " " and depth == 0 and (i == len(body) or body[i] != " "):
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


def _literal(prefix: str, quote: str, body: str, fmt: bool) -> str:
    if fmt and not re.search(r"(?<!\{)\{(?!\{)", body.replace("{{", "")):
        prefix = prefix.replace("f", "").replace("F", "")  # no placeholder: a plain string
        body = body.replace("{{", "{").replace("}}", "}")
    return f"{prefix}{quote}{body}{quote}"


# -- comments ----------------------------------------------------------------------------
def comment(text: str, indent: int) -> list[str]:
    """`# text` in lines that fit at `indent`: `-> ` starts a line, and a part that is still
    too long breaks as `_pieces` says, going on indented by two spaces."""
    room = WIDTH - indent - 2
    if len(text) <= room:
        return [f"# {text}"]
    return ["# " + line for part in re.split(r" (?=-> )", text) for line in _fill(part, room)]


def _fill(text: str, room: int) -> list[str]:
    """Greedy fill of pieces from `_pieces`."""
    lines, current = [], ""
    for piece in _pieces(text, room - 2):
        if current.strip() and len(current) + len(piece.rstrip()) > room:
            lines.append(current.rstrip())
            current = "  "
        current += piece
    lines.append(current.rstrip())
    return lines


def _pieces(text: str, room: int) -> list[str]:
    """`text` cut where it is longer than `room`: after the outermost `, ` or before the
    outermost ` for ` (of a comprehension), then one level deeper, and where no such
    place is left after every space."""
    if len(text.rstrip()) <= room:
        return [text]
    cuts: dict[int, list[int]] = {}
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if not text[i + 1:].strip():  # a cut must leave text on both sides (no recursion
            break                         # on the same text)
        if (ch == " " and text[i - 1:i] == ",") or text.startswith(" for ", i):
            cuts.setdefault(depth, []).append(i + 1)
    if not cuts:
        return re.findall(r"[^ ]+ *", text)
    at = [0, *cuts[min(cuts)], len(text)]
    return [p for a, b in itertools.pairwise(at) for p in _pieces(text[a:b], room)]


def laid_out(lines: list[str], indent: int, wrap=None) -> list[str]:
    """Logical lines of a block at `indent` columns (nested ones start with four spaces per
    level), each wrapped to fit by `wrap` (statement); continuation lines are indented
    relative to the block, as the templates indent every line after the first."""
    out = []
    for line in lines:
        depth = len(line) - len(line.lstrip(" "))
        wrapped = (wrap or statement)(line, indent + depth)
        out.append("\n".join(w[indent:] for w in wrapped))
    return out
