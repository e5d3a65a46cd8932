"""A memo bounded by the size of what it holds, not by a count of entries.

Counted in entries, a cache of rendered pieces grows with the readers' own topics (each brings
new cards and texts of its own), so a run's memory grew with its readers; bounded by characters,
least recently used out first, it stays flat however many readers a run serves."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
V = TypeVar("V")


class SizedCache(Generic[P, V]):
    """`build` memoised by its positional arguments, within `limit` units of `size(value)`."""

    def __init__(self, build: Callable[P, V], size: Callable[[V], int], limit: int) -> None:
        self.__wrapped__ = build
        self._size = size
        self.limit = limit
        self._held: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._total = 0

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> V:
        key = (args, tuple(kwargs.items())) if kwargs else args
        held = self._held.get(key)
        if held is not None:
            self._held.move_to_end(key)
            return held[0]
        value = self.__wrapped__(*args, **kwargs)
        size = self._size(value)
        self._held[key] = (value, size)
        self._total += size
        while self._total > self.limit and len(self._held) > 1:
            _key, (_old, dropped) = self._held.popitem(last=False)
            self._total -= dropped
        return value

    def cache_clear(self) -> None:
        self._held.clear()
        self._total = 0
