"""The exercises of the lessons, one module per lesson, each with a list `EXERCISES`.

A new lesson's module is added to `_MODULES`; nothing else changes.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..exercises import Exercise

_MODULES = ("lesson0", "lesson1", "lesson2", "lesson3", "lesson4")


def all_exercises() -> list[Exercise]:
    found: list[Exercise] = []
    for name in _MODULES:
        found += import_module(f"{__name__}.{name}").EXERCISES
    return found
