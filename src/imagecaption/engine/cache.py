"""A small LRU of finished captions keyed by image content hash, model and options.

Lives on the event loop only, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from imagecaption.models.base import Caption


class CaptionCache:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[Hashable, Caption] = OrderedDict()

    def get(self, key: Hashable) -> Caption | None:
        caption = self._items.get(key)
        if caption is not None:
            self._items.move_to_end(key)
        return caption

    def put(self, key: Hashable, caption: Caption) -> None:
        if self._capacity <= 0:
            return
        self._items[key] = caption
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
