"""The shapes of newsbot's two kinds of TOML file, `config.toml` and `feeds/<id>.toml`, and the
one-line wording of what is wrong in one (the only module importing pydantic).

Every pydantic model of the project is here, so the library stays behind one module (the rule in
tests/test_architecture.py); that is why this module is longer than ~400 lines. Reading the files
and turning them into values is elsewhere: `bot.config` (the daemon's config) and `bot.recipes`.

Both kinds of file reject unknown keys and report errors as one line naming the file, the key, the
bad value and what is expected, e.g.
`config.toml: schedule.interval: "10 phút" is not a duration (write 10m, 1h30m)`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.addresses import parse_allow_entry
from bot.errors import ConfigError
from bot.filters import fold
from bot.model import DEFAULT_TIMEZONE, Section
from bot.source import dom

# What Telegram accepts as a webhook's secret_token (sent back in X-Telegram-Bot-Api-Secret-Token).
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_SECRET_RULE = "1 to 256 characters of A-Z, a-z, 0-9, _ and -"
FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

MAX_DURATION = timedelta(days=3650)  # beyond ten years a duration is a typo (and 1e20 s overflows)
MIN_FETCH_TIMEOUT = timedelta(seconds=1)
MAX_FETCH_TIMEOUT = timedelta(minutes=10)
MAX_USER_AGENT = 256
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")  # a header value: no CR/LF, nothing to smuggle
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


def parse_duration(value: object) -> timedelta:
    """`10m`, `1h30m`, `45s`, `2d`, or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        _check_not_too_long(value, float(value))  # inf and 1e20 would overflow timedelta
        return timedelta(seconds=value)
    match = _DURATION.match(value) if isinstance(value, str) and value.strip() else None
    if not match or not any(match.groups()):
        raise ValueError(f"{_show(value)} is not a duration (write 10m, 1h30m)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    _check_not_too_long(value, ((days * 24 + hours) * 60 + minutes) * 60.0 + seconds)
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not duration:
        raise ValueError(f"{_show(value)} is zero; a duration must be positive (write 10m, 1h30m)")
    return duration


def _check_not_too_long(value: object, seconds: float) -> None:
    if not seconds <= MAX_DURATION.total_seconds():
        raise ValueError(
            f"{_show(value)} is too long: at most {MAX_DURATION.days}d (write 10m, 1h30m, 2d)"
        )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, so `newsbot check` (recipes
    # only) does not pay for the config file's models, nor the daemon for recipes it never reads.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ScheduleConfig(_Strict):
    interval: Duration = timedelta(minutes=10)
    jitter: Duration = timedelta(seconds=30)
    max_backoff: Duration = timedelta(hours=6)
    alert_after_failures: int = Field(3, ge=1)
    retention: Duration = timedelta(days=180)  # items unseen on the page for this long are pruned
    rescan: Duration = timedelta(seconds=45)  # feeds/ is read again this often (and on SIGHUP)


class ServerConfig(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://localhost:8080"
    # /metrics: "local" answers clients on this machine only (not through a proxy), "public"
    # anyone who reaches the port, "off" nobody.
    metrics: Literal["local", "off", "public"] = "local"

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{_show(value)} is not an http(s) URL (write http://host:port)")
        return value.rstrip("/")


class FetchConfig(_Strict):
    timeout: Duration = timedelta(seconds=30)
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    min_host_gap: Duration = timedelta(seconds=1)
    respect_robots: bool = True
    user_agent: str = ""  # empty: newsbot/<version>
    # Non-public addresses a recipe on the internet may still reach (an intranet site):
    # networks like "10.1.2.0/24", host names like "intranet.example".
    allow_private: tuple[str, ...] = ()

    @field_validator("timeout")
    @classmethod
    def _timeout_bounds(cls, value: timedelta) -> timedelta:
        if not MIN_FETCH_TIMEOUT <= value <= MAX_FETCH_TIMEOUT:
            raise ValueError(
                f"{value.total_seconds():g} s is out of bounds: a page gets 1s to 10m to arrive "
                "(write 30s)"
            )
        return value

    @field_validator("user_agent")
    @classmethod
    def _one_header_line(cls, value: str) -> str:
        if not _PRINTABLE_ASCII.match(value) or len(value) > MAX_USER_AGENT:
            raise ValueError(
                f"{value[:40]!r} is not a usable User-Agent: write one line of at most "
                f"{MAX_USER_AGENT} printable ASCII characters, no line breaks (e.g. "
                '"newsbot (+https://example.vn/contact)")'
            )
        return value

    @field_validator("allow_private")
    @classmethod
    def _allow_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                parse_allow_entry(entry)
            except ValueError as exc:
                example = '["10.1.2.0/24", "intranet.example"]'
                raise ValueError(f"{exc} (write e.g. {example})") from None
        return value


class TelegramConfig(_Strict):
    token: SecretStr = SecretStr("")
    api_base_url: str = "https://api.telegram.org/bot"
    admins: tuple[int, ...] = ()
    admin_chats: tuple[int, ...] = ()  # where admin alerts go; default: the admins' private chats
    channels: tuple[int | str, ...] = ()  # channels the bot posts to, subscribed to default_feeds
    default_feeds: tuple[str, ...] = ()  # what /start subscribes to; empty: every feed
    link_preview: bool = False
    send_documents: bool = True  # an item's files (up to 3) follow its message as documents
    max_per_chat_per_round: int = Field(10, ge=1)
    max_age: Duration = timedelta(days=3)  # older items are stored but not announced
    messages_per_second: float = Field(29.0, gt=0, le=30)  # see Pacing
    pacing_scale: float = Field(1.0, gt=0, le=1)  # tests and benchmarks: shrinks every send gap
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""  # the public https URL Telegram posts updates to (webhook mode)
    webhook_secret: SecretStr = SecretStr("")  # empty: derived from the token

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if not value:
            return value
        if not re.match(r"^https://[^/\s]+", value):
            raise ValueError(
                f"{_show(value)} is not an https URL (Telegram only posts to https; write "
                "https://bot.example.vn/telegram/webhook)"
            )
        if urlsplit(value).path.rstrip("/") == "":
            raise ValueError(
                f"{_show(value)} has no path (write https://bot.example.vn/telegram/webhook)"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not WEBHOOK_SECRET.match(secret):
            raise ValueError(f"must be {WEBHOOK_SECRET_RULE}")
        return value

    def with_secrets(self, token: str, webhook_secret: str) -> TelegramConfig:
        """This section with the token and webhook secret as loaded (the environment wins)."""
        return self.model_copy(
            update={"token": SecretStr(token), "webhook_secret": SecretStr(webhook_secret)}
        )


class StoreConfig(_Strict):
    # Empty: SQLite in data_dir/newsbot.db. sqlite:///path (relative to the config file) or
    # postgresql://user@host:port/database; the password comes from NEWSBOT_STORE_PASSWORD or
    # the URL, and is kept apart from it once loaded (so the URL can be logged).
    url: str = ""
    password: SecretStr = SecretStr("")

    @field_validator("url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(
                f"{_show(_without_password(value))} is not a store URL (write "
                "sqlite:///data/newsbot.db or postgresql://newsbot@db:5432/newsbot)"
            )
        return value

    @classmethod
    def holding(cls, url: str, password: str) -> StoreConfig:
        """The store as loaded: the URL without its password, the password kept apart."""
        return cls(url=_without_password(url), password=SecretStr(password))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1)).geturl()


class Config(_Strict):
    """The whole configuration; paths are absolute (resolved against the file's folder)."""

    path: Path | None = None
    data_dir: Path = Path("data")
    feeds_dir: Path = Path("feeds")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    # Factories, not instances: an instance made here would build each model's validator when
    # this module loads, undoing defer_build (90 of `newsbot check`'s ms under cProfile).
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)

    @model_validator(mode="after")
    def _webhook_needs(self) -> Config:
        if self.telegram.mode != "webhook":
            return self
        if not self.telegram.webhook_url:
            raise ValueError(
                'telegram.webhook_url: required when telegram.mode = "webhook" (write the public '
                "https URL Telegram posts to, e.g. https://bot.example.vn/telegram/webhook)"
            )
        if not self.server.enabled:
            raise ValueError(
                'telegram.mode = "webhook" needs the web server (set [server] enabled = true, '
                'or telegram.mode = "polling")'
            )
        return self

    @property
    def db_path(self) -> Path:
        """The SQLite database file (data_dir/newsbot.db unless [store] url names another)."""
        if self.store.url.startswith("sqlite:///"):
            return Path(self.store.url.removeprefix("sqlite:///"))
        return self.data_dir / "newsbot.db"

    @property
    def store_url(self) -> str:
        """[store] url without a password, or the SQLite file's URL."""
        return self.store.url if self.on_postgres else f"sqlite:///{self.db_path}"

    @property
    def on_postgres(self) -> bool:
        return self.store.url.startswith(("postgresql://", "postgres://"))

    @property
    def store_password(self) -> str | None:
        return self.store.password.get_secret_value() or None

    @property
    def public_dir(self) -> Path:
        return self.data_dir / "public"

    @property
    def token(self) -> str:
        return self.telegram.token.get_secret_value()

    @property
    def webhook_secret(self) -> str:
        """telegram.webhook_secret, or one derived from the token (stable across restarts)."""
        secret = self.telegram.webhook_secret.get_secret_value()
        if secret or not self.token:
            return secret
        return hashlib.sha256(f"newsbot-webhook:{self.token}".encode()).hexdigest()


# --- recipes -----------------------------------------------------------------------------------


def _check_selector(value: str) -> str:
    css = value.rsplit("@", 1)[0] if "@" in value else value
    if css.strip():
        try:
            dom.compile_selector(css)
        except ValueError as exc:
            raise ValueError(f"{_show(value)} is not a valid CSS selector ({exc})") from None
    return value


Selector = Annotated[str, BeforeValidator(_check_selector)]


class ListSection(_Strict):
    item: Selector
    title: Selector
    link: Selector | None = None
    summary: Selector | None = None
    date: Selector | None = None
    image: Selector | None = None
    date_formats: tuple[str, ...] = ()
    fallback: Literal["none", "auto"] = "none"
    next_page: Selector | None = None  # the "next page" link, followed until a known item

    @field_validator("item")
    @classmethod
    def _item_not_empty(cls, value: str) -> str:
        if not value.strip() or "@" in value:
            raise ValueError(f"{_show(value)}: item must be a CSS selector without @attr")
        return value


AUTO_CONTENT = "auto"  # [article] content: the main text, found without selectors


class ArticleSection(_Strict):
    content: Selector | None = None  # a selector, or "auto"
    date: Selector | None = None
    author: Selector | None = None
    image: Selector | None = None
    title: Selector | None = None


class SectionEntry(_Strict):
    """A `[[section]]` table: one named listing page of the source."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    id: str | None = None  # default: the folded name, `Thông báo` -> thong-bao

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not FEED_ID.match(value):
            raise ValueError(
                f"{_show(value)} is not a usable section id (write lower-case letters, digits, "
                "- or _, e.g. thong-bao)"
            )
        return value


class RecipeFile(_Strict):
    title: str = Field(min_length=1)
    url: str | tuple[str, ...] | None = None  # with [[section]]: the base of relative URLs
    feed: str | None = None  # an RSS/Atom/JSON Feed URL, read instead of scraping a page
    section: tuple[SectionEntry, ...] = ()
    language: str = "vi"
    timezone: str = DEFAULT_TIMEZONE
    interval: Duration | None = None
    id_pattern: str | None = None
    max_items: int = Field(50, ge=1, le=500)
    list: ListSection | None = None
    article: ArticleSection | None = None

    @field_validator("url")
    @classmethod
    def _urls(cls, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        urls = (value,) if isinstance(value, str) else value or ()
        if not urls:
            raise ValueError('no URL given (write url = "https://site/list")')
        for url in urls:
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"{_show(url)} is not an http(s) URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"{_show(value)} is not a time zone (write Asia/Ho_Chi_Minh)"
            raise ValueError(message) from None
        return value

    @field_validator("feed")
    @classmethod
    def _feed_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{_show(value)} is not an http(s) URL (write https://site/rss.xml)")
        return value

    @model_validator(mode="after")
    def _listing_pages(self) -> RecipeFile:
        if self.feed is not None:
            clash = [
                key
                for key, value in (
                    ("url", self.url),
                    ("list", self.list),
                    ("section", self.section),
                )
                if value
            ]
            if clash:
                raise ValueError(
                    f"feed: a feed recipe has no {clash[0]} (remove {clash[0]}, or remove feed "
                    "to scrape a page)"
                )
            return self
        if self.url is None and not self.section:
            raise ValueError(
                'no URL given (write url = "https://site/list", feed = "https://site/rss.xml", or '
                "[[section]] tables with name and url)"
            )
        if self.section and not (self.url is None or isinstance(self.url, str)):
            raise ValueError(
                "url: a list of pages and [[section]] tables do not mix (move each page into a "
                "[[section]] table)"
            )
        sections_of(self)  # raises on a bad URL or a repeated id
        return self

    @field_validator("id_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{_show(value)} is not a regular expression ({exc})") from None
        return value


def sections_of(parsed: RecipeFile) -> tuple[Section, ...]:
    """The recipe's sections with absolute URLs and ids; ValueError naming the bad one."""
    base = parsed.url if isinstance(parsed.url, str) else None
    sections: list[Section] = []
    for number, entry in enumerate(parsed.section, start=1):
        where = f"section {number} ({entry.name!r})"
        url = urljoin(base, entry.url.strip()) if base else entry.url.strip()
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(
                f"{where}: {_show(entry.url)} is not an http(s) URL (write https://site/list, or "
                "a path like /thong-bao with url = the site at the top)"
            )
        section_id = entry.id or "-".join(fold(entry.name).split())
        if not FEED_ID.match(section_id):
            raise ValueError(f'{where}: no usable id from its name (add id = "thong-bao")')
        for other in sections:
            if section_id == other.section_id or url == other.url:
                same = "id" if section_id == other.section_id else "URL"
                raise ValueError(
                    f"{where}: same {same} as {other.name!r} (give each section its own id and url)"
                )
        sections.append(Section(section_id, entry.name.strip(), url))
    return tuple(sections)


# --- reading and error wording -----------------------------------------------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def validated(
    model: type[_Model], raw: dict[str, Any], path: Path, error: type[ConfigError]
) -> _Model:
    """`raw` (a file's TOML) as `model`, or `error` with one line per problem."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(_explain(path, exc, model)) from None


def read_toml(path: Path, error: type[ConfigError], *, hint: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise error(f"{path}: file not found", hint=hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}", hint="check quotes and brackets") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror}") from None


def _explain(path: Path, exc: ValidationError, model: type[BaseModel] = BaseModel) -> str:
    """One line per problem: `file: key: what is wrong`."""
    lines = []
    for problem in exc.errors():
        parts = [part for part in problem["loc"] if not _is_union_tag(part)]
        key = ".".join(str(part) for part in parts)
        kind = problem["type"]
        if kind == "extra_forbidden":
            lines.append(f"{path}: {key}: unknown key ({_nearest_key(model, parts)})")
            continue
        if kind == "missing":  # the input is the whole table: never print it
            lines.append(f"{path}: {key}: missing (add {parts[-1]} = ...)")
            continue
        message = str(problem["msg"]).removeprefix("Value error, ")
        secret = key.startswith(("telegram.token", "telegram.webhook_secret"))
        if kind not in ("value_error", "assertion_error") and not secret:
            message = f"{_show(problem.get('input'))}: {message.lower()}"
        lines.append(f"{path}: {key}: {message}" if key else f"{path}: {message}")
    return "; ".join(dict.fromkeys(lines))


def _nearest_key(model: type[BaseModel], parts: list[str | int]) -> str:
    """ "did you mean interval?" for schedule.intervall, from the keys known at that place."""
    for part in parts[:-1]:
        if isinstance(part, int):
            continue  # an entry of a list of tables: same keys
        field = model.model_fields.get(str(part))
        inner = _model_of(field.annotation) if field else None
        if inner is None:
            break
        model = inner
    known = list(model.model_fields) if model is not BaseModel else []
    close = difflib.get_close_matches(str(parts[-1]), known, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "remove it or check its spelling"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, or inside Optional[...] / tuple[..., ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _is_union_tag(part: str | int) -> bool:
    # pydantic names union branches in `loc` ("str", "tuple[str, ...]"); readers want the key only.
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "function-before"))
