"""A least-recently-used store within a byte budget: how an audit's memos keep what recurs."""

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BytesLRU(Generic[K, V]):
    """Values by key, each with its size in bytes; beyond ``max_bytes`` in all, the least recently used go
    first. Not locked: its owner serialises access.

    >>> kept = BytesLRU[str, str](max_bytes=10)
    >>> kept.put("a", "first", 6); kept.put("b", "second", 6); "a" in kept, kept.get("b"), kept.bytes
    (False, 'second', 6)
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        """The keys, least recently used first (a copy: the store may change meanwhile)."""
        return iter(list(self._entries))

    def get(self, key: K, *, touch: bool = True) -> V | None:
        """The value of ``key`` (None if not kept), made the most recently used unless ``touch`` is False."""
        found = self._entries.get(key)
        if found is None:
            return None
        if touch:
            self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` under ``key`` (replacing what it held) as the most recently used, unless it alone
        exceeds the budget; then drop the least recently used until the rest fits."""
        self.discard(key)
        if size > self.max_bytes:
            return
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self.bytes -= self._entries.popitem(last=False)[1][1]

    def discard(self, key: K) -> None:
        """Drop ``key``, if kept."""
        found = self._entries.pop(key, None)
        if found is not None:
            self.bytes -= found[1]
