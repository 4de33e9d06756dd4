"""The Jinja environment of templates/ and the ops' call templates, made once a process.

A call template of plain text and `{{ name }}` / `{{ ins[N] }}` placeholders (about half
of the ops') is filled in by substitution, the text Jinja renders for it (the str of each
value), without compiling a Jinja template (about a millisecond each, once per op a
build uses); any other template is Jinja's.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from .resources import templates_dir

_PLACEHOLDER = re.compile(r"\{\{ (\w+)(?:\[(\d+)\])? \}\}")


@lru_cache(maxsize=1)
def env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


class Substitution:
    """A call template of text and plain placeholders. A name or index the context lacks
    goes to Jinja, which raises as it would for the template (StrictUndefined)."""

    def __init__(self, call: str) -> None:
        self.call = call
        self.parts: list[tuple[str, str, int | None]] = []  # (text before, name, index)
        end = 0
        for m in _PLACEHOLDER.finditer(call):
            self.parts.append((call[end:m.start()], m[1], None if m[2] is None else int(m[2])))
            end = m.end()
        self.tail = call[end:]

    def render(self, **context: Any) -> str:
        out: list[str] = []
        try:
            for text, name, index in self.parts:
                value = context[name] if index is None else context[name][index]
                out += (text, str(value))
        except (KeyError, IndexError, TypeError):
            return str(env().from_string(self.call).render(**context))
        out.append(self.tail)
        return "".join(out)


@cache
def call_template(call: str) -> Any:
    """An op's `call` template, ready to `render(**context)`."""
    rest = _PLACEHOLDER.sub("", call)
    if "{" not in rest and "}" not in rest:
        return Substitution(call)
    return env().from_string(call)
