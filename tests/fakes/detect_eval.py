"""Scoring of list auto-detection against the hand-labelled real pages (tests and benchmark)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from bot.model import Item
from fakes.realpages import realpage

# The labelled pages (tests/fixtures/realpages/labels/NAME.json), government portal first. Named
# here, not globbed, so that a missing label file fails its tests instead of removing them.
GOVERNMENT_PORTALS = (
    "sotttt-cong-nghe-thong-tin",
    "sotttt-tin-tuc-su-kien",
    "sotttt-tin-tuc-su-kien-page2",
)
NEWS_HOMES = (
    "cnn-home-2014",
    "dantri-home-2019-03",
    "dantri-home-2019-06",
    "e-vnexpress-home",
    "wired-home-2024",
)
LABEL_NAMES = GOVERNMENT_PORTALS + NEWS_HOMES
MIN_PRECISION = 0.8  # "top-1 correct": the best candidate is the labelled main list,
MIN_RECALL = 0.8  # give or take a few items


@dataclass(frozen=True)
class Label:
    """One labelled page: where it is, what its main list holds."""

    name: str
    page: Path
    kind: str  # "government-portal" or "news-home"
    base_url: str
    saved_at: datetime
    items: tuple[dict[str, str | None], ...]


@dataclass(frozen=True)
class Scores:
    """How a candidate's items compare with a page's labelled main list."""

    link_precision: float
    link_recall: float
    title_precision: float
    title_recall: float
    dates_right: int  # among labelled items whose page prints a date
    dates_printed: int
    url_dates_right: int  # dantri: the date in the URL
    url_dates: int

    @property
    def correct(self) -> bool:
        return self.link_precision >= MIN_PRECISION and self.link_recall >= MIN_RECALL

    @property
    def date_share(self) -> float | None:
        return self.dates_right / self.dates_printed if self.dates_printed else None


def load_labels() -> list[Label]:
    """Every labelled page, government portal first."""
    return [load_label(name) for name in LABEL_NAMES]


@cache
def load_label(name: str) -> Label:
    """One labelled page; its label file and its page must be in the checkout."""
    raw = json.loads(realpage(f"labels/{name}.json").read_text(encoding="utf-8"))
    return Label(
        name=name,
        page=realpage(raw["page"]),
        kind=raw["kind"],
        base_url=raw["base_url"],
        saved_at=datetime.fromisoformat(raw["saved_at"].replace("Z", "+00:00")),
        items=tuple(raw["items"]),
    )


def score(items: Sequence[Item], label: Label) -> Scores:
    """Precision/recall of links and titles, and dates right, for one candidate."""
    got_links = {item.url for item in items}
    want_links = {str(entry["url"]) for entry in label.items}
    got_titles = {_norm(item.title) for item in items}
    want_titles = {_norm(str(entry["title"])) for entry in label.items}
    by_url = {item.url: item for item in items}
    printed = [e for e in label.items if e["date_source"] == "printed"]
    from_url = [e for e in label.items if e["date_source"] == "url"]
    return Scores(
        link_precision=_ratio(got_links & want_links, got_links),
        link_recall=_ratio(got_links & want_links, want_links),
        title_precision=_ratio(got_titles & want_titles, got_titles),
        title_recall=_ratio(got_titles & want_titles, want_titles),
        dates_right=sum(1 for e in printed if _same_date(by_url.get(str(e["url"])), e)),
        dates_printed=len(printed),
        url_dates_right=sum(1 for e in from_url if _same_date(by_url.get(str(e["url"])), e)),
        url_dates=len(from_url),
    )


def _same_date(item: Item | None, entry: dict[str, str | None]) -> bool:
    if item is None or item.published_at is None or entry["date"] is None:
        return False
    return item.published_at == datetime.fromisoformat(entry["date"])


def _ratio(part: set[str], whole: set[str]) -> float:
    return len(part) / len(whole) if whole else 0.0


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))
