"""What each listing page read as at its feed's last poll, item by item: an unchanged item is not
read again.

A changed page usually differs by one item: the other 19 items' elements are byte for byte the
ones the last poll read, and reading them again (text, link, dates, ids, attachments: 60 % of
reading the gov.vn listing) gives the same Items. So an `ItemMemo` keeps, per page (a feed id
and the page's base URL: each section of a sectioned feed is its own page), each item element's
reading under a digest of its HTML, and `bot.source.scrape` looks there first. The
caller owns it (the daemon's `PollDeps.item_memo`, made once), so the scraper stays pure and two
daemons in one process never share one; without one, every item is read.

A reading depends on more than the element's bytes only in ways this module rules out:
- the recipe and the page's base URL: a page's memory is kept under (feed id, base) and holds
  for the recipe that read it only;
- the elements around it, which a pick may look at (`:first-child`, `+`, `~`): recipes whose
  picks have a pseudo-class or a sibling combinator keep no memory;
- `now`, for relative, yearless or time-less dates: the scraper keeps a reading only when its
  date reads the same at another `now` (`NOW_SHIFT` later).

Memory: the Items of each page's last reading, ~1.8 KB per item with its key (tracemalloc, the
real gov.vn page): about 37 MB for 1,000 pages of 20 items, at most MAX_PAGES pages (the least
recently read are dropped). Digests are blake2b (128 bits): a page cannot make two different
elements collide.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from bot.model import Item, ListRules, Recipe

MAX_PAGES = 2000
# Another `now` for the stability check: a year and some hours later, so that a yearless date
# lands in another year and a time-less one gets another time of day.
NOW_SHIFT = timedelta(days=400, hours=7, minutes=13, seconds=17)
_CONTEXT_CSS = (":", "+", "~")  # pseudo-classes and sibling combinators see outside the element


@dataclass(frozen=True)
class Reading:
    """One item element, read: the Item (None without a title or link) and the fields it lacked."""

    item: Item | None
    missing: tuple[str, ...]


@dataclass
class _PageMemory:
    recipe: Recipe
    readings: dict[bytes, Reading]


class ItemMemo:
    """Per listing page (feed id, base URL), the readings of its last read; safe to share
    between threads."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self._max_pages = max_pages
        self._pages: OrderedDict[tuple[str, str], _PageMemory] = OrderedDict()
        self._lock = threading.Lock()

    def recall(self, recipe: Recipe, base: str) -> dict[bytes, Reading]:
        """The page's last readings, if this recipe read them."""
        with self._lock:
            memory = self._pages.get((recipe.feed_id, base))
        return memory.readings if memory is not None and memory.recipe == recipe else {}

    def keep(self, recipe: Recipe, base: str, readings: dict[bytes, Reading]) -> None:
        """Remember this page's readings (in place of its previous ones)."""
        key = (recipe.feed_id, base)
        with self._lock:
            self._pages[key] = _PageMemory(recipe, readings)
            self._pages.move_to_end(key)
            while len(self._pages) > self._max_pages:
                self._pages.popitem(last=False)


def element_key(outer_bytes: bytes) -> bytes:
    """The digest an element's reading is kept under (of `dom.outer_bytes`)."""
    return hashlib.blake2b(outer_bytes, digest_size=16).digest()


def memorable(rules: ListRules) -> bool:
    """Whether the rules' picks see only inside the item element (so its bytes decide)."""
    picks = (rules.title, rules.link, rules.summary, rules.date, rules.image)
    return _inside_only(tuple(pick.css for pick in picks if pick is not None))


@lru_cache(maxsize=256)
def _inside_only(selectors: tuple[str, ...]) -> bool:
    return not any(mark in css for css in selectors for mark in _CONTEXT_CSS)
