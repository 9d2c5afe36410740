"""Plain values that flow between newsbot's modules.

All datetimes are timezone-aware UTC. Nothing here does I/O or holds logic beyond small properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Pick:
    """A CSS selector, optionally taking an attribute: `h2.Title a@href` -> css + attr."""

    css: str
    attr: str | None = None

    def __str__(self) -> str:
        return f"{self.css}@{self.attr}" if self.attr else self.css


@dataclass(frozen=True)
class ListRules:
    """How to find items on a listing page. Every Pick is relative to one `item` element."""

    item: str
    title: Pick
    link: Pick | None = None  # None: the href of the title element, else of its first <a>
    summary: Pick | None = None
    date: Pick | None = None
    image: Pick | None = None
    date_formats: tuple[str, ...] = ()  # strptime formats tried before the built-in parser
    fallback: Literal["none", "auto"] = "none"
    next_page: Pick | None = None  # the listing's next-page link, followed after a burst


@dataclass(frozen=True)
class ArticleRules:
    """How to enrich a new item from its own page."""

    content: Pick | None = None
    date: Pick | None = None
    author: Pick | None = None
    image: Pick | None = None
    title: Pick | None = None
    content_auto: bool = False  # `content = "auto"`: the main text, found without selectors


@dataclass(frozen=True)
class Section:
    """A named listing page of a recipe (Thông báo, a district sub-site); the id is a slug."""

    section_id: str
    name: str
    url: str


@dataclass(frozen=True)
class Recipe:
    """One source: `feeds/<feed_id>.toml`. `rules is None` means auto-detection."""

    feed_id: str
    title: str
    urls: tuple[str, ...]
    rules: ListRules | None = None
    article: ArticleRules | None = None
    id_pattern: str | None = None  # regex; group 1 (or the whole match) is the stable id
    language: str = "vi"
    timezone: str = DEFAULT_TIMEZONE
    interval: timedelta | None = None  # None: the config's schedule.interval
    max_items: int = 50  # items kept in the published feed
    path: Path | None = None  # where the recipe was loaded from, for error messages
    sections: tuple[Section, ...] = ()  # named listing pages; then `urls` are their URLs in order
    feed: bool = False  # `urls` are RSS/Atom/JSON feeds to read, not pages to scrape


@dataclass(frozen=True)
class Attachment:
    """A file an item links to (a decision as PDF, a form as DOCX); `kind` is the extension."""

    url: str
    name: str
    kind: str  # "pdf", "docx", ... or "file" when the URL does not tell


@dataclass(frozen=True)
class Item:
    """A news item. `scrape` fills what the page says; `store` fills first_seen_at/updated_at."""

    feed_id: str
    item_id: str  # stable id (diff.item_id): id_pattern match, canonical URL, or a hash
    url: str
    title: str
    summary: str = ""
    published_at: datetime | None = None  # from the site; None: use first_seen_at
    image: str | None = None
    author: str | None = None
    content: str | None = None  # sanitised HTML from the article page
    first_seen_at: datetime | None = None
    updated_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    doc_number: str | None = None  # an official document's number: `123/QĐ-UBND`
    doc_type: str | None = None  # its type: `Quyết định`, `Công văn`, ...
    section: str | None = None  # the recipe section's id it was listed in

    @property
    def date(self) -> datetime | None:
        """The date readers see: the site's, else when newsbot first saw the item."""
        return self.published_at or self.first_seen_at


@dataclass(frozen=True)
class ScrapeResult:
    """Items found on a page, in page order, and non-fatal problems (a missing date, a bad link)."""

    items: tuple[Item, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheHeaders:
    """Validators remembered from the last 200 response, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A completed fetch. A 304 is a result (`not_modified`), not an error."""

    url: str  # final URL after redirects
    status: int
    body: bytes = b""
    content_type: str | None = None
    cache: CacheHeaders = field(default_factory=CacheHeaders)
    max_age: float | None = None  # Cache-Control max-age, seconds

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class FeedHealth:
    """What the store remembers about a feed's polling."""

    feed_id: str
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = None
    cache: CacheHeaders = field(default_factory=CacheHeaders)
    seeded: bool = False  # a first successful poll happened: later polls announce new items
    last_full_fetch_at: datetime | None = None  # last 200 to an unconditional GET
    alerted: bool = False  # the admin was told about the current failure streak
    # The flood guard held back the announcements of this many new items at that poll; cleared
    # by the next poll that stores new items normally.
    held_back_at: datetime | None = None
    held_back_items: int = 0


PollOutcome = Literal["new", "unchanged", "not_modified", "failed", "skipped"]


@dataclass(frozen=True)
class PollReport:
    """The outcome of one poll of one feed."""

    feed_id: str
    outcome: PollOutcome
    new_items: tuple[Item, ...] = ()
    seeded: bool = False  # first poll: items stored silently
    error: str | None = None
    warnings: tuple[str, ...] = ()
    flood: bool = False  # flood guard: new items stored and published, none announced
    changed: bool = False  # items added or edited: outbox rows (edit notices too) may wait


ChatKind = Literal["private", "group", "supergroup", "channel"]


@dataclass(frozen=True)
class KeywordFilter:
    """Include (any match keeps) and exclude (any match drops) phrases; empty include keeps all."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chat:
    """A Telegram chat newsbot talks to."""

    chat_id: int
    kind: ChatKind = "private"
    language: str = "vi"
    active: bool = True  # False once Telegram says blocked/kicked/deactivated
    paused: bool = False
    title: str = ""


@dataclass(frozen=True)
class Subscription:
    """A chat following a feed, with the filter that applies (chat-wide merged with per-feed)."""

    chat_id: int
    feed_id: str
    filter: KeywordFilter = field(default_factory=KeywordFilter)


@dataclass(frozen=True)
class Delivery:
    """One outbox row: an item to send to a chat. Marked sent only after Telegram accepted it."""

    delivery_id: int
    chat_id: int
    item: Item
    attempts: int = 0
    created_at: datetime | None = None
    matched: str | None = None  # the keyword that let the item through, shown in the message
    kind: DeliveryKind = "item"  # "edit": the item changed upstream after the chat got it
    thread_id: int | None = None  # forum topic (message_thread_id) the message goes to
    previous_title: str | None = None  # kind "edit": the title (and summary) the chat saw
    previous_summary: str | None = None


DeliveryKind = Literal["item", "edit"]
DigestMode = Literal["off", "hourly", "daily"]
MessageFormat = Literal["full", "compact", "title"]
MESSAGE_FORMATS: tuple[MessageFormat, ...] = ("full", "compact", "title")


@dataclass(frozen=True)
class ChatSettings:
    """When a chat wants messages: quiet hours, digests, urgent keywords, edit notices.

    Times of day are minutes after local midnight in `timezone`; a quiet window may cross midnight.
    """

    chat_id: int
    timezone: str = DEFAULT_TIMEZONE
    quiet_start: int | None = None  # None: no quiet hours
    quiet_end: int | None = None
    urgent: tuple[str, ...] = ()  # keywords that go through at once, quiet or not
    digest: DigestMode = "off"  # "hourly"/"daily": digest-only
    digest_at: int = 7 * 60  # daily digest time (minutes after midnight)
    edits: bool = True  # tell the chat when an item it got is edited upstream
    format: MessageFormat = "full"  # full: title, summary, date, feed, link; compact; title
    preview: bool | None = None  # link previews under items; None: the bot's configured default
    missed_before: datetime | None = None  # /resume: rows created before go out as one digest


# How a source was found: the URL is a feed, the page links one, the site serves one at a usual
# path, or the page's list of articles is scraped.
SourceKind = Literal["feed", "linked", "usual", "page"]


@dataclass(frozen=True)
class SourcePreview:
    """A source proposed for adding (`/add`), waiting for Save or Cancel under `key`."""

    key: str
    feed_id: str
    title: str
    url: str  # the feed, or the page whose list is scraped
    kind: SourceKind
    items: tuple[Item, ...]  # the first few, as they would be published
    total: int  # items found in all
