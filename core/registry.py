"""Validated registries of the suite's pluggable parts.

Each kind (models, adversarial losses, objectives, datasets) has one registry.
A registry refuses duplicate names and objects of the wrong type, and an
unknown name is a `UserError` that lists the known ones, so the CLI can offer
exactly the registered names as choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from core.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, base: type | tuple[type, ...]):
        self.kind = kind
        self.base = base
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator (or plain call) adding `obj` under `name`."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            is_class = isinstance(obj, type)
            ok = issubclass(obj, self.base) if is_class else isinstance(obj, self.base)
            if not ok:
                raise TypeError(f"{self.kind} {name!r} must be a {self.base}, got {obj!r}")
            self._entries[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UserError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
