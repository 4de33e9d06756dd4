"""Where the built-in specs and templates live: inside the wheel, or in the checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent
_CHECKOUT = _PKG.parent.parent  # codegen/attngen -> repository root


def _find(name: str) -> Path:
    packaged = _PKG / name
    return packaged if packaged.is_dir() else _CHECKOUT / name


def specs_dir() -> Path:
    return _find("specs")


def templates_dir() -> Path:
    return _find("templates")
