"""The Jinja environment of templates/ and the ops' call templates, made once a process."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from .resources import templates_dir


@lru_cache(maxsize=1)
def env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


@cache
def call_template(call: str) -> Any:
    """An op's `call` template, compiled once a process, ready to `render(**context)`."""
    return env().from_string(call)
