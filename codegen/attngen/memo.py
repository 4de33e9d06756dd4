"""Per-process memos of pure functions, keyed by content (a text, the typed values it is
evaluated with), never by a file's path: a spec edited under `attngen serve` or `build
--watch` gives a new key. Each memo is a dict cleared when it is full."""

from __future__ import annotations

from typing import Any

MEMO_SIZE = 50_000  # entries in one memo
_OWN_TYPES = (int, float, bool, str, type(None))


def remember(memo: dict[Any, Any], key: Any, value: object, size: int = MEMO_SIZE) -> None:
    """memo[key] = value, emptying `memo` first when it holds `size` entries."""
    if len(memo) >= size:
        memo.clear()
    memo[key] = value


def frozen_value(value: object) -> object:
    """A hashable stand-in for an env value that tells 1, 1.0, True and Integer(1) apart."""
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(frozen_value(v) for v in value))
    hash(value)  # TypeError for anything else unhashable
    return (type(value), value)


def shareable(value: object) -> bool:
    """Immutable and of Python's own types, so one result may serve every caller."""
    if type(value) is tuple:
        return all(shareable(v) for v in value)
    return type(value) in _OWN_TYPES
