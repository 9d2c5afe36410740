"""A fake Telegram Bot API server on 127.0.0.1 that an unmodified PTB `Bot` can talk to.

    fake = await FakeBotAPI(token="123456:TEST-token").start()     # in the test's loop
    bot = Bot(fake.token, base_url=fake.base_url)                  # PTB appends the token
    ...
    await fake.stop()

`start_in_thread()` / `stop_thread()` run it on its own loop for subprocess tests; every control
method (block, migrate, faults.add, user_message, ...) is thread-safe.

What it reproduces (see the Bot API documentation, core.telegram.org/bots/api): the real JSON
shapes and error bodies (403 blocked/deactivated/kicked, 400 chat not found,
400 + migrate_to_chat_id, 429 + retry_after, 401 bad token, 404 unknown method, 409 concurrent
getUpdates), sliding-window flood accounting
(1/s per private chat, 20/60 s per group or channel, 30/s overall; `time_scale` shrinks the windows,
`strict=False` records `flood_violations` instead of answering 429), strict Telegram-HTML
validation measured after parsing (lengths in UTF-16 code units), the reply-markup limits (100
inline buttons, 8 a row, ~10 KB of JSON, 1-64 bytes of callback_data), fault injection and update
injection for long polling.
Webhooks: `setWebhook` is recorded in `webhook` (url, secret_token, allowed_updates), shown by
`getWebhookInfo` and cleared by `deleteWebhook`; getUpdates answers 409 while one is set. The fake
never posts to it: a test posts the update dict that `user_message` & co. return.

Where Telegram's behaviour is unknown it is stricter (a bare `&`, an unknown named entity or a
non-http(s)/tg/mailto href are rejected), so code that passes here passes there.

Forum supergroups: `add_forum(chat_id)` and `create_topic(chat_id, name)` (returns the topic's
message_thread_id); `user_message(..., thread_id=...)` posts inside a topic; sends naming a
message_thread_id the chat does not have (or a topic removed by `delete_topic`) get 400 "message
thread not found". `sendDocument` takes a URL or an upload (kept in `SentMessage.document_bytes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

ALLOWED_TAGS = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ]
)
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
HREF_SCHEMES = ("http://", "https://", "tg://", "mailto:")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_INLINE_BUTTONS = 100
MAX_BUTTONS_PER_ROW = 8
MAX_MARKUP_BYTES = 10 * 1024  # the JSON of reply_markup, as observed (tginfo/Telegram-Limits)
MAX_ALERT = 200  # answerCallbackQuery text
SEND_METHODS = frozenset(
    [
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvideo",
        "sendaudio",
        "sendanimation",
        "sendvoice",
        "sendmediagroup",
        "sendsticker",
        "sendlocation",
        "sendpoll",
        "copymessage",
        "forwardmessage",
    ]
)
EDIT_METHODS = frozenset({"editmessagetext", "editmessagecaption", "editmessagereplymarkup"})
JSON_PARAMS = frozenset(
    [
        "reply_markup",
        "link_preview_options",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
    ]
)
INT_PARAMS = frozenset(
    [
        "offset",
        "limit",
        "timeout",
        "message_id",
        "user_id",
        "from_chat_id",
        "reply_to_message_id",
        "message_thread_id",
    ]
)
MAX_UPLOAD = 50 * 1024 * 1024  # the Bot API's limit for files bots send
DEFAULT_UPDATES = frozenset(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "my_chat_member",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "chat_join_request",
    ]
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)

WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
BAD_WEBHOOK_URL = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"


class ApiError(Exception):
    """An error answer: `{"ok": false, "description": ..., "parameters": ...}`."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters or {}


class HTMLError(ValueError):
    """Telegram would refuse this HTML; `str(error)` is the text after "can't parse entities: "."""


# --------------------------------------------------------------------------- Telegram HTML


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR = re.compile(r"\s+([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _entity_at(text: str, i: int) -> tuple[str, int]:
    match = _ENTITY.match(text, i)
    if not match:
        raise HTMLError(f"Can't find end of the entity starting at byte offset {_offset(text, i)}")
    name = match.group(1)
    if name.startswith("#"):
        number = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        if not 0 < number <= 0x10FFFF or 0xD800 <= number <= 0xDFFF:
            raise HTMLError(f"Unsupported HTML entity at byte offset {_offset(text, i)}")
        return chr(number), match.end()
    if name not in NAMED_ENTITIES:
        raise HTMLError(f'Unsupported HTML entity "&{name};" at byte offset {_offset(text, i)}')
    return NAMED_ENTITIES[name], match.end()


def _attr_value(raw: str | None) -> str:
    if raw is None:
        return ""
    if raw[:1] in "\"'":
        raw = raw[1:-1]
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "&":
            char, i = _entity_at(raw, i)
            out.append(char)
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _check_attrs(name: str, attrs: dict[str, str], offset: int) -> None:
    if name == "a":
        href = attrs.get("href", "")
        if href and (not href.lower().startswith(HREF_SCHEMES) or re.search(r"\s", href)):
            raise HTMLError(f'Unsupported URL "{href}" in tag "a" at byte offset {offset}')
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HTMLError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')


def _start_tag(text: str, i: int, stack: list[str]) -> int:
    offset = _offset(text, i)
    match = _TAG_NAME.match(text, i + 1)
    if not match:
        raise HTMLError(f'Unsupported start tag "" at byte offset {offset}')
    name = match.group(0).lower()
    if name not in ALLOWED_TAGS:
        raise HTMLError(f'Unsupported start tag "{name}" at byte offset {offset}')
    attrs: dict[str, str] = {}
    j = match.end()
    while (attr := _ATTR.match(text, j)) is not None:
        attrs[attr.group(1).lower()] = _attr_value(attr.group(2))
        j = attr.end()
    while j < len(text) and text[j] in " \t\n\r":
        j += 1
    if j >= len(text) or text[j] != ">":
        raise HTMLError(f"Can't find end of the tag starting at byte offset {offset}")
    _check_attrs(name, attrs, offset)
    stack.append(name)
    return j + 1


def _end_tag(text: str, i: int, stack: list[str]) -> int:
    offset = _offset(text, i)
    j = text.find(">", i)
    if j < 0:
        raise HTMLError(f"Can't find end of the tag starting at byte offset {offset}")
    name = text[i + 2 : j].strip().lower()
    if not stack:
        raise HTMLError(f"Unexpected end tag at byte offset {offset}")
    if stack[-1] != name:
        raise HTMLError(
            f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", '
            f'found "</{name}>"'
        )
    stack.pop()
    return j + 1


def parse_telegram_html(text: str) -> str:
    """The visible text of a Telegram-HTML message; raises HTMLError like Telegram would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            i = _end_tag(text, i, stack) if text.startswith("</", i) else _start_tag(text, i, stack)
        elif char == "&":
            decoded, i = _entity_at(text, i)
            out.append(decoded)
        else:
            out.append(char)
            i += 1
    if stack:
        raise HTMLError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def check_message_text(text: str, parse_mode: str | None, *, caption: bool = False) -> str:
    """Validate a text or caption as sendMessage/sendPhoto would; returns the visible text."""
    visible = text
    if (parse_mode or "").upper() == "HTML":
        try:
            visible = parse_telegram_html(text)
        except HTMLError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    length = utf16_len(visible.strip())
    if caption:
        if length > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
    elif length == 0:
        raise ApiError(400, "Bad Request: message text is empty")
    elif length > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return visible


def _is_int_param(key: str, value: str) -> bool:
    return key in INT_PARAMS or (key == "chat_id" and re.fullmatch(r"-?\d+", value) is not None)


def _visible(text: str, parse_mode: str | None) -> str:
    return parse_telegram_html(text) if (parse_mode or "").upper() == "HTML" else text


def check_reply_markup(markup: Any) -> None:
    """As Telegram: callback_data of 1-64 UTF-8 bytes; at most 100 inline buttons, 8 in a row
    and about 10 KB of markup JSON ("reply markup is too long")."""
    if not isinstance(markup, dict):
        return
    rows = markup.get("inline_keyboard", [])
    buttons = [button for row in rows for button in row]
    size = len(json.dumps(markup, ensure_ascii=False, separators=(",", ":")).encode())
    if (len(buttons) > MAX_INLINE_BUTTONS or any(len(row) > MAX_BUTTONS_PER_ROW for row in rows)
            or size > MAX_MARKUP_BYTES):
        raise ApiError(400, "Bad Request: reply markup is too long")
    for button in buttons:
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """What an injected fault does to a matching call. Build with the static constructors."""

    kind: str  # http | non_json | delay | drop | retry_after | error
    status: int = 500
    seconds: float = 0.0
    description: str = ""
    parameters: JSON = field(default_factory=dict)

    @staticmethod
    def http(status: int = 500) -> Fault:
        return Fault("http", status=status)

    @staticmethod
    def non_json() -> Fault:
        return Fault("non_json", status=502)

    @staticmethod
    def delay(seconds: float) -> Fault:
        """Answer late (then handle the call normally: the client may time out, Telegram not)."""
        return Fault("delay", seconds=seconds)

    @staticmethod
    def drop() -> Fault:
        return Fault("drop")

    @staticmethod
    def retry_after(seconds: int) -> Fault:
        return Fault(
            "error",
            status=429,
            description=f"Too Many Requests: retry after {seconds}",
            parameters={"retry_after": seconds},
        )

    @staticmethod
    def error(code: int, description: str, **parameters: Any) -> Fault:
        return Fault("error", status=code, description=description, parameters=parameters)


_FAULT_NAMES: dict[str, Fault] = {
    "http500": Fault.http(500),
    "http502": Fault.http(502),
    "non_json": Fault.non_json(),
    "drop": Fault.drop(),
}


@dataclass
class _FaultRule:
    method: str
    match: JSON
    times: int | None
    fault: Fault


class Faults:
    """`faults.add("sendMessage", match={"chat_id": 5}, times=1, kind=Fault.http(502))`."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._rules: list[_FaultRule] = []

    def add(
        self,
        method: str,
        *,
        match: Mapping[str, Any] | None = None,
        times: int | None = 1,
        kind: Fault | str = "http500",
    ) -> None:
        """Inject a fault for the next `times` matching calls (None: for ever); "*" any method."""
        fault = _FAULT_NAMES[kind] if isinstance(kind, str) else kind
        with self._lock:
            self._rules.append(_FaultRule(method.lower(), dict(match or {}), times, fault))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, params: Mapping[str, Any]) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.method not in ("*", method):
                    continue
                if any(str(params.get(k)) != str(v) for k, v in rule.match.items()):
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return rule.fault
        return None


# --------------------------------------------------------------------------- records


@dataclass
class Call:
    method: str
    params: JSON
    t: float


@dataclass
class SentMessage:
    """A message the bot sent (or its latest edit)."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    link_preview_options: JSON | None
    t: float
    caption: str | None = None
    photo: str | None = None
    message_thread_id: int | None = None  # the forum topic it went to
    document: str | None = None  # sendDocument: the URL, or the uploaded file's name
    document_bytes: bytes | None = None  # sendDocument: the uploaded content

    @property
    def body(self) -> str:
        """Text or caption, whichever the message has."""
        return self.text if self.text is not None else (self.caption or "")

    def button_data(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


@dataclass
class FloodViolation:
    window: str  # "chat" | "global"
    method: str
    chat_id: int | str
    t: float
    retry_after: int


@dataclass
class ErrorAnswer:
    method: str
    chat_id: Any
    code: int
    description: str
    t: float


@dataclass
class _Window:
    limit: int
    period: float
    stamps: deque[float] = field(default_factory=deque)

    def wait_needed(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.period:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        return self.stamps[0] + self.period - now


# --------------------------------------------------------------------------- the server


class FakeBotAPI:
    """The fake server. State is guarded by one lock so tests may poke it from any thread."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        time_scale: float = 1.0,
        strict: bool = True,
        burst: int = 0,
        flood: bool = True,
        bot_username: str = "fake_bot",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.time_scale = time_scale
        self.strict = strict
        self.burst = burst
        self.flood = flood
        self._lock = threading.RLock()
        self.faults = Faults(self._lock)
        # chat registry and recipient simulation
        self.chats: dict[int, JSON] = {}
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.never_started: set[int] = set()
        self.kicked: set[int] = set()
        self.not_found: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.admins: dict[int, set[int]] = {}
        self.owners: dict[int, int] = {}
        self.bad_photo_urls: set[str] = set()
        self.bad_document_urls: set[str] = set()
        self.topics: dict[int, dict[int, str]] = {}  # forum chat -> thread id -> topic name
        # records
        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.edits: list[SentMessage] = []
        self.answered_callbacks: list[JSON] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.flood_violations: list[FloodViolation] = []
        self.errors: list[ErrorAnswer] = []
        self.unimplemented: list[str] = []
        # internals
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._windows: dict[tuple[str, int | str], _Window] = {}
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATES
        # setWebhook: url "" means none (long polling allowed)
        self.webhook: JSON = {"url": "", "secret_token": None, "allowed_updates": None}
        self._poll_generation = 0
        self._new_update: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._handlers: dict[str, Callable[[JSON], Any]] = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> FakeBotAPI:
        """Listen on 127.0.0.1 (a free port) in the running loop."""
        self._loop = asyncio.get_running_loop()
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            self._poll_generation += 1
            self._wake()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start_in_thread(self) -> FakeBotAPI:
        """Run the server on its own loop in a daemon thread (subprocess and run_polling tests)."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=serve, name="FakeBotAPI", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeBotAPI did not start within 10 s")
        return self

    def stop_thread(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None

    # ------------------------------------------------------------------ chats and recipients

    def add_chat(
        self,
        chat_id: int,
        chat_type: str,
        *,
        title: str = "",
        username: str | None = None,
        is_forum: bool = False,
    ) -> JSON:
        """Register a chat; unregistered ids are private (>0), supergroups (-100...) or groups."""
        with self._lock:
            chat: JSON = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = title or f"User {chat_id}"
            else:
                chat["title"] = title or f"Chat {chat_id}"
            if username:
                chat["username"] = username
            if is_forum:
                chat["is_forum"] = True
            self.chats[chat_id] = chat
            return chat

    def add_forum(self, chat_id: int, *, title: str = "") -> JSON:
        """A supergroup with topics enabled."""
        return self.add_chat(chat_id, "supergroup", title=title, is_forum=True)

    def create_topic(self, chat_id: int, name: str) -> int:
        """A new topic in a forum; returns its message_thread_id (its first message's id)."""
        with self._lock:
            if not self.chat(chat_id).get("is_forum"):
                raise ValueError(f"chat {chat_id} is not a forum; use add_forum first")
            thread_id = next(self._message_counter(chat_id))
            self.topics.setdefault(chat_id, {})[thread_id] = name
            return thread_id

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """The topic is deleted: sends to it get 400 "message thread not found"."""
        with self._lock:
            self.topics.get(chat_id, {}).pop(thread_id, None)

    def chat(self, chat_id: int) -> JSON:
        with self._lock:
            if chat_id not in self.chats:
                if chat_id > 0:
                    kind = "private"
                elif chat_id <= -1_000_000_000_000:
                    kind = "supergroup"
                else:
                    kind = "group"
                self.add_chat(chat_id, kind)
            return dict(self.chats[chat_id])

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sends fail with 403 and a my_chat_member update is queued."""
        with self._lock:
            self.blocked.add(user_id)
            self._member_update(user_id, user_id, "kicked", "member")

    def unblock(self, user_id: int) -> None:
        with self._lock:
            self.blocked.discard(user_id)
            self._member_update(user_id, user_id, "member", "kicked")

    def deactivate(self, user_id: int) -> None:
        with self._lock:
            self.deactivated.add(user_id)

    def kick(self, chat_id: int, by_user: int = 1) -> None:
        """The bot is removed from a group/channel."""
        with self._lock:
            self.kicked.add(chat_id)
            self._member_update(chat_id, by_user, "kicked", "member")

    def forget(self, chat_id: int) -> None:
        """Sends to this chat get 400 "chat not found"."""
        with self._lock:
            self.not_found.add(chat_id)

    def migrate(self, old_chat_id: int, new_chat_id: int, by_user: int = 1) -> None:
        """A group becomes a supergroup: sends to the old id get 400 + migrate_to_chat_id."""
        with self._lock:
            old = self.chat(old_chat_id)
            self.migrated[old_chat_id] = new_chat_id
            self.add_chat(new_chat_id, "supergroup", title=old.get("title", ""))
            self._enqueue(
                "message",
                self._user_message_obj(by_user, old_chat_id, migrate_to_chat_id=new_chat_id),
            )
            self._enqueue(
                "message",
                self._user_message_obj(by_user, new_chat_id, migrate_from_chat_id=old_chat_id),
            )

    def set_admins(
        self, chat_id: int, user_ids: Iterable[int], *, owner: int | None = None
    ) -> None:
        with self._lock:
            self.admins[chat_id] = set(user_ids)
            if owner is not None:
                self.owners[chat_id] = owner

    def _recipient_error(self, chat_id: int) -> ApiError | None:
        if chat_id in self.not_found:
            return ApiError(400, "Bad Request: chat not found")
        if chat_id in self.migrated:
            return ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        if chat_id in self.blocked:
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.deactivated:
            return ApiError(403, "Forbidden: user is deactivated")
        if chat_id in self.never_started:
            return ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat_id in self.kicked:
            kind = self.chat(chat_id)["type"]
            if kind == "channel":
                return ApiError(403, "Forbidden: bot is not a member of the channel chat")
            return ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return None

    def _resolve_chat(self, raw: Any) -> int:
        if isinstance(raw, str) and raw.startswith("@"):
            for chat in self.chats.values():
                if chat.get("username", "").lower() == raw[1:].lower():
                    return int(chat["id"])
            raise ApiError(400, "Bad Request: chat not found")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    # ------------------------------------------------------------------ flood accounting

    def _window(self, key: tuple[str, int | str], limit: int, seconds: float) -> _Window:
        if key not in self._windows:
            self._windows[key] = _Window(limit, seconds * self.time_scale)
        return self._windows[key]

    def _check_flood(self, method: str, chat_id: int) -> None:
        if not self.flood:
            return
        private = self.chat(chat_id)["type"] == "private"
        if method in EDIT_METHODS and private:
            return
        now = time.monotonic()
        windows = [("chat", self._window(("chat", chat_id), *self._chat_limit(private)))]
        if method in SEND_METHODS:
            windows.append(("global", self._window(("global", 0), 30 + self.burst, 1.0)))
        for name, window in windows:
            wait = window.wait_needed(now)
            if wait > 0:
                retry_after = max(1, math.ceil(wait / self.time_scale - 1e-9))
                self.flood_violations.append(
                    FloodViolation(name, method, chat_id, now, retry_after)
                )
                if self.strict:
                    raise ApiError(
                        429,
                        f"Too Many Requests: retry after {retry_after}",
                        {"retry_after": retry_after},
                    )
        for _, window in windows:
            window.stamps.append(now)

    def _chat_limit(self, private: bool) -> tuple[int, float]:
        return (1 + self.burst, 1.0) if private else (20 + self.burst, 60.0)

    def assert_no_flood(self) -> None:
        with self._lock:
            assert not self.flood_violations, f"flood violations: {self.flood_violations[:5]}"

    # ------------------------------------------------------------------ update injection

    def _wake(self) -> None:
        loop, event = self._loop, self._new_update
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def _enqueue(self, kind: str, payload: JSON) -> JSON:
        with self._lock:
            update = {"update_id": next(self._update_ids), kind: payload}
            self._updates.append(update)
        self._wake()
        return update

    def _user(self, user_id: int, language_code: str | None = None) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Fake",
            "username": self.bot_username,
        }

    def _user_message_obj(
        self, user_id: int, chat_id: int, *, language_code: str | None = None, **fields: Any
    ) -> JSON:
        chat = self.chat(chat_id)
        message_id = next(self._message_counter(chat_id))
        message: JSON = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if chat["type"] != "channel":
            message["from"] = self._user(user_id, language_code)
        message.update(fields)
        return message

    def _message_counter(self, chat_id: int) -> itertools.count[int]:
        return self._message_ids.setdefault(chat_id, itertools.count(1))

    def user_message(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        language_code: str | None = "vi",
        title: str = "",
        sender_chat: JSON | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        """A user writes `text` (a `/command` gets its bot_command entity), in the forum topic
        `thread_id` if given; returns the update."""
        with self._lock:
            chat_id = user_id if chat_id is None else chat_id
            if chat_id not in self.chats:
                self.add_chat(chat_id, chat_type, title=title)
            extra: JSON = {"text": text}
            if thread_id is not None:
                if thread_id not in self.topics.get(chat_id, {}):
                    raise ValueError(f"chat {chat_id} has no topic {thread_id}")
                extra.update(message_thread_id=thread_id, is_topic_message=True)
            command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
            if command:
                extra["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}
                ]
            if sender_chat is not None:
                extra["sender_chat"] = sender_chat
            message = self._user_message_obj(user_id, chat_id, language_code=language_code, **extra)
            kind = "channel_post" if self.chat(chat_id)["type"] == "channel" else "message"
            return self._enqueue(kind, message)

    def channel_post(self, chat_id: int, text: str) -> JSON:
        with self._lock:
            if chat_id not in self.chats:
                self.add_chat(chat_id, "channel")
            return self.user_message(0, text, chat_id=chat_id, sender_chat=self.chat(chat_id))

    def callback(
        self, user_id: int, data: str, message: SentMessage, *, language_code: str | None = "vi"
    ) -> str:
        """The user presses the button carrying `data` under `message`; returns the query id."""
        with self._lock:
            current = self._messages.get((message.chat_id, message.message_id), message)
            if data not in current.button_data():
                raise ValueError(f"no button with callback_data {data!r} on that message")
            query_id = str(next(self._callback_ids))
            self._open_callbacks.add(query_id)
            query = {
                "id": query_id,
                "from": self._user(user_id, language_code),
                "chat_instance": str(message.chat_id),
                "data": data,
                "message": self._message_json(current),
            }
            self._enqueue("callback_query", query)
            return query_id

    def my_chat_member(self, chat_id: int, user_id: int, new: str, old: str = "member") -> JSON:
        with self._lock:
            return self._member_update(chat_id, user_id, new, old)

    def _member_update(self, chat_id: int, user_id: int, new: str, old: str) -> JSON:
        def member(status: str) -> JSON:
            body: JSON = {"user": self._bot_user(), "status": status}
            if status == "kicked":
                body["until_date"] = 0
            return body

        payload = {
            "chat": self.chat(chat_id),
            "from": self._user(user_id),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self._enqueue("my_chat_member", payload)

    @property
    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    @property
    def latest_update(self) -> JSON:
        """The update queued last (for a webhook test to post, e.g. after `callback`)."""
        with self._lock:
            return dict(self._updates[-1])

    # ------------------------------------------------------------------ assertions

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    def last_to(self, chat_id: int) -> SentMessage:
        messages = self.messages_to(chat_id)
        assert messages, f"nothing was sent to {chat_id}"
        return messages[-1]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method.lower()]

    def errors_with(self, code: int) -> list[ErrorAnswer]:
        with self._lock:
            return [e for e in self.errors if e.code == code]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait (polling, from any loop) until predicate() is true, else AssertionError."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.01)

    def wait_for_sync(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.01)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"].lower()
        if request.match_info["token"] != self.token:
            return self._error_response(method, {}, ApiError(401, "Unauthorized"))
        try:
            params = await self._params(request)
        except ConnectionResetError:  # the client died mid-request (a crash test): nobody to answer
            raise asyncio.CancelledError from None
        with self._lock:
            self.calls.append(Call(method, params, time.monotonic()))
        fault = self.faults.take(method, params)
        if fault is not None:
            early = await self._apply_fault(fault, method, params, request)
            if early is not None:
                return early
        handler = self._handlers.get(method)
        if handler is None:
            with self._lock:
                self.unimplemented.append(request.match_info["method"])
            return self._error_response(method, params, ApiError(404, "Not Found"))
        try:
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            return self._error_response(method, params, exc)
        return web.json_response({"ok": True, "result": result})

    async def _apply_fault(
        self, fault: Fault, method: str, params: JSON, request: web.Request
    ) -> web.StreamResponse | None:
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "http":
            body = {"ok": False, "error_code": fault.status, "description": "Internal Server Error"}
            return web.json_response(body, status=fault.status)
        if fault.kind == "non_json":
            return web.Response(text="<html>502 Bad Gateway</html>", status=502)
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        error = ApiError(fault.status, fault.description, fault.parameters)
        return self._error_response(method, params, error)

    def _error_response(self, method: str, params: JSON, error: ApiError) -> web.Response:
        with self._lock:
            self.errors.append(
                ErrorAnswer(
                    method, params.get("chat_id"), error.code, error.description, time.monotonic()
                )
            )
        body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.code)

    async def _params(self, request: web.Request) -> JSON:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            raw.update(await request.json())
        elif request.can_read_body:
            uploads: dict[str, bytes] = {}
            for key, value in (await request.post()).items():
                if isinstance(value, str):
                    raw[key] = value
                    continue
                raw[key] = getattr(value, "filename", None) or "file"
                uploads[key] = value.file.read()
            if uploads:
                raw["_uploads"] = uploads
        params: JSON = {}
        for key, value in raw.items():
            if key in JSON_PARAMS and isinstance(value, str):
                value = json.loads(value)
            elif isinstance(value, str) and _is_int_param(key, value):
                value = int(value)
            params[key] = value
        return params

    # ------------------------------------------------------------------ methods

    def _true(self, params: JSON) -> bool:
        return True

    def _get_me(self, params: JSON) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _delete_webhook(self, params: JSON) -> bool:
        with self._lock:
            if str(params.get("drop_pending_updates", "")).lower() == "true":
                self._updates.clear()
            self.webhook = {"url": "", "secret_token": None, "allowed_updates": None}
        return True

    def _set_webhook(self, params: JSON) -> bool:
        """Records the webhook (this fake never posts to it: tests post the updates themselves).
        An empty url removes it, as on Telegram."""
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if url and not url.startswith("https://"):
            raise ApiError(400, BAD_WEBHOOK_URL)
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._lock:
            if str(params.get("drop_pending_updates", "")).lower() == "true":
                self._updates.clear()
            self.webhook = {
                "url": url,
                "secret_token": secret if url else None,
                "allowed_updates": params.get("allowed_updates") if url else None,
            }
        return True

    def _get_webhook_info(self, params: JSON) -> JSON:
        with self._lock:
            info: JSON = {
                "url": self.webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook["allowed_updates"]:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _get_updates(self, params: JSON) -> list[JSON]:
        assert self._new_update is not None
        with self._lock:
            if self.webhook["url"]:
                raise ApiError(409, WEBHOOK_CONFLICT)
            self._poll_generation += 1
            generation = self._poll_generation
            if params.get("allowed_updates"):
                self._allowed_updates = frozenset(params["allowed_updates"])
        self._wake()  # an older poll still waiting is terminated with 409
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, CONFLICT)
                ready = self._ready_updates(params.get("offset"))
                if ready or time.monotonic() >= deadline:
                    return ready[:limit]
                self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())

    def _ready_updates(self, offset: int | None) -> list[JSON]:
        if offset and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = self._allowed_updates
        return [u for u in self._updates if next(k for k in u if k != "update_id") in allowed]

    def _store_message(self, method: str, chat_id: int, params: JSON, **extra: Any) -> JSON:
        message = SentMessage(
            method=method,
            chat_id=chat_id,
            message_id=next(self._message_counter(chat_id)),
            text=params.get("text"),
            parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"),
            link_preview_options=params.get("link_preview_options"),
            t=time.monotonic(),
            **extra,
        )
        self.sent.append(message)
        self._messages[(chat_id, message.message_id)] = message
        return self._message_json(message)

    def _message_json(self, message: SentMessage) -> JSON:
        body: JSON = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": self.chat(message.chat_id),
            "from": self._bot_user(),
        }
        if message.text is not None:
            body["text"] = _visible(message.text, message.parse_mode)
        if message.photo is not None:
            body["photo"] = [
                {"file_id": "photo-1", "file_unique_id": "u-1", "width": 320, "height": 240}
            ]
            if message.caption:
                body["caption"] = _visible(message.caption, message.parse_mode)
        if message.document is not None:
            body["document"] = {
                "file_id": f"document-{message.message_id}",
                "file_unique_id": f"d-{message.message_id}",
                "file_name": message.document.rsplit("/", 1)[-1] or "file",
            }
            if message.caption:
                body["caption"] = _visible(message.caption, message.parse_mode)
        if message.message_thread_id is not None:
            body["message_thread_id"] = message.message_thread_id
            body["is_topic_message"] = True
        if message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    def _prepare_send(self, method: str, params: JSON) -> int:
        chat_id = self._resolve_chat(params.get("chat_id"))
        error = self._recipient_error(chat_id)
        if error is not None:
            raise error
        self._check_flood(method, chat_id)
        check_reply_markup(params.get("reply_markup"))
        self._check_thread(chat_id, params.get("message_thread_id"))
        return chat_id

    def _check_thread(self, chat_id: int, thread_id: Any) -> None:
        if thread_id is None:
            return
        if int(thread_id) not in self.topics.get(chat_id, {}):
            raise ApiError(400, "Bad Request: message thread not found")

    def _send_message(self, params: JSON) -> JSON:
        with self._lock:
            chat_id = self._prepare_send("sendmessage", params)
            check_message_text(str(params.get("text", "")), params.get("parse_mode"))
            return self._store_message(
                "sendMessage", chat_id, params, message_thread_id=params.get("message_thread_id")
            )

    def _send_photo(self, params: JSON) -> JSON:
        with self._lock:
            chat_id = self._prepare_send("sendphoto", params)
            caption = str(params.get("caption", ""))
            check_message_text(caption, params.get("parse_mode"), caption=True)
            photo = str(params.get("photo", ""))
            if photo in self.bad_photo_urls or not photo:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return self._store_message(
                "sendPhoto",
                chat_id,
                params,
                caption=caption or None,
                photo=photo,
                message_thread_id=params.get("message_thread_id"),
            )

    def _send_document(self, params: JSON) -> JSON:
        with self._lock:
            chat_id = self._prepare_send("senddocument", params)
            caption = str(params.get("caption", ""))
            check_message_text(caption, params.get("parse_mode"), caption=True)
            document = str(params.get("document", ""))
            upload = params.get("_uploads", {}).get("document")
            if upload is not None and len(upload) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            if not document or (upload is None and document in self.bad_document_urls):
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return self._store_message(
                "sendDocument",
                chat_id,
                params,
                caption=caption or None,
                document=document,
                document_bytes=upload,
                message_thread_id=params.get("message_thread_id"),
            )

    def _edited(self, method: str, params: JSON) -> SentMessage:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id = self._resolve_chat(params.get("chat_id"))
        error = self._recipient_error(chat_id)
        if error is not None:
            raise error
        message = self._messages.get((chat_id, int(params.get("message_id", 0))))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        self._check_flood(method, chat_id)
        check_reply_markup(params.get("reply_markup"))
        return message

    def _edit_message_text(self, params: JSON) -> JSON:
        with self._lock:
            message = self._edited("editmessagetext", params)
            text = str(params.get("text", ""))
            check_message_text(text, params.get("parse_mode"))
            markup = params.get("reply_markup")
            if (text, params.get("parse_mode"), markup) == (
                message.text,
                message.parse_mode,
                message.reply_markup,
            ):
                raise ApiError(400, NOT_MODIFIED)
            message.text, message.parse_mode, message.reply_markup = (
                text,
                params.get("parse_mode"),
                markup,
            )
            message.t = time.monotonic()
            self.edits.append(SentMessage(**{**message.__dict__, "method": "editMessageText"}))
            return {**self._message_json(message), "edit_date": int(time.time())}

    def _edit_reply_markup(self, params: JSON) -> JSON:
        with self._lock:
            message = self._edited("editmessagereplymarkup", params)
            markup = params.get("reply_markup")
            if markup == message.reply_markup:
                raise ApiError(400, NOT_MODIFIED)
            message.reply_markup = markup
            self.edits.append(
                SentMessage(**{**message.__dict__, "method": "editMessageReplyMarkup"})
            )
            return {**self._message_json(message), "edit_date": int(time.time())}

    def _answer_callback_query(self, params: JSON) -> bool:
        with self._lock:
            query_id = str(params.get("callback_query_id", ""))
            if query_id not in self._open_callbacks:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is "
                    "invalid",
                )
            if len(str(params.get("text", ""))) > MAX_ALERT:
                raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            self._open_callbacks.discard(query_id)
            self.answered_callbacks.append(params)
            return True

    def _commands_key(self, params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return (str(scope.get("type", "default")), str(params.get("language_code") or ""))

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description must be non-empty")
        with self._lock:
            self.commands[self._commands_key(params)] = list(commands)
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        with self._lock:
            key = self._commands_key(params)
            return list(self.commands.get(key, self.commands.get((key[0], ""), [])))

    def _delete_my_commands(self, params: JSON) -> bool:
        with self._lock:
            self.commands.pop(self._commands_key(params), None)
        return True

    def _get_chat(self, params: JSON) -> JSON:
        with self._lock:
            chat_id = self._resolve_chat(params.get("chat_id"))
            error = self._recipient_error(chat_id)
            if error is not None:
                raise error
            gifts = dict.fromkeys(
                [
                    "unlimited_gifts",
                    "limited_gifts",
                    "unique_gifts",
                    "premium_subscription",
                    "gifts_from_channels",
                ],
                False,
            )
            return {
                **self.chat(chat_id),
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": gifts,
            }

    def _get_chat_member(self, params: JSON) -> JSON:
        with self._lock:
            chat_id = self._resolve_chat(params.get("chat_id"))
            error = self._recipient_error(chat_id)
            if error is not None:
                raise error
            user_id = int(params.get("user_id", 0))
            user = self._bot_user() if user_id == self.bot_id else self._user(user_id)
            if self.chat(chat_id)["type"] == "private" and user_id == chat_id:
                return {"user": user, "status": "member"}
            if self.owners.get(chat_id) == user_id:
                return {"user": user, "status": "creator", "is_anonymous": False}
            if user_id in self.admins.get(chat_id, set()) or user_id == self.bot_id:
                return {"user": user, "status": "administrator", **ADMIN_RIGHTS}
            return {"user": user, "status": "member"}


ADMIN_RIGHTS: JSON = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
