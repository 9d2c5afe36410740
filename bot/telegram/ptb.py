"""Telegram through python-telegram-bot (PTB 22): the only module that imports `telegram`.

Two jobs:
- `PtbSender` sends outbox messages and turns PTB errors into bot.errors DeliveryErrors.
- `build_application` wires every `/command` and button press to `Commands`, tracks the bot being
  blocked or removed (`my_chat_member`) and groups becoming supergroups; `start_bot`/`stop_bot`
  run it inside the daemon's own event loop, `startup` (menu commands) serves both run paths.
  Webhook mode: `start_bot_webhook` registers the URL, and the web server hands each update
  Telegram posts to `feed_update`.

What needs no PTB lives beside it: the handlers' wiring, the commands' protocol and command
parsing in bot.telegram.wiring, what a 400's wording means in bot.telegram.refusals. What is left
(~580 lines) all touches PTB's types: one module imports the library (tests/test_architecture.py),
so sending, the handlers and the application's life cycle stay together here.

The bot token never reaches a log line: the `httpx` and `telegram` loggers (which print request
URLs, token included) are held at WARNING and bot.logs.RedactToken scrubs the rest.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.errors import (
    ChatMoved,
    DeliveryError,
    MessageRejected,
    RateLimited,
    RecipientGone,
    TransientDelivery,
)
from bot.logs import RedactToken, redact, remember_secret
from bot.model import ChatKind
from bot.telegram.commands.dispatch import CommandContext, Reply
from bot.telegram.messages import safe_href
from bot.telegram.outbox import ChatRegistry
from bot.telegram.pacing import Pacer
from bot.telegram.refusals import bad_request_error, retry_seconds
from bot.telegram.replies import Buttons, ChatOrder, Replier, alert_text
from bot.telegram.wiring import (
    ADMIN_CACHE_SECONDS,
    ALLOWED_UPDATES,
    MENU_LANGUAGES,
    WIRING_KEY,
    CommandsLike,
    Wiring,
    file_url_for,
    parse_command,
)

__all__ = [
    "App",
    "PtbSender",
    "RedactToken",
    "build_application",
    "feed_update",
    "quiet_http_loggers",
    "start_bot",
    "start_bot_webhook",
    "startup",
    "stop_bot",
]

logger = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
T = TypeVar("T")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# --------------------------------------------------------------------------- sending


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # the int form warns unless PTB_TIMEDELTA=1
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return retry_seconds(exc.retry_after)


def delivery_error(exc: TelegramError) -> DeliveryError:
    """The DeliveryError for a PTB error. Order matters: BadRequest and TimedOut are
    NetworkErrors, and ChatMigrated/RetryAfter come from a 400/429 body's parameters."""
    text = redact(exc.message)
    if isinstance(exc, ChatMigrated):
        return ChatMoved(f"group moved to {exc.new_chat_id}", new_chat_id=int(exc.new_chat_id))
    if isinstance(exc, RetryAfter):
        return RateLimited(text, retry_after=_retry_after(exc))
    if isinstance(exc, Forbidden):
        return RecipientGone(text)
    if isinstance(exc, BadRequest):
        return bad_request_error(text)
    if isinstance(exc, InvalidToken):
        return DeliveryError(
            "Telegram refused the bot token",
            hint="check telegram.token (or NEWSBOT_TELEGRAM_TOKEN) against @BotFather",
        )
    if isinstance(exc, (TimedOut, NetworkError)):
        return TransientDelivery(text)
    return DeliveryError(f"Telegram error: {text}")


async def _mapped(call: Awaitable[T]) -> T:
    try:
        return await call
    except TelegramError as exc:
        raise delivery_error(exc) from exc


class PtbSender:
    """bot.telegram.outbox.Sender over a PTB Bot."""

    def __init__(self, bot: Any) -> None:
        self._bot = bot

    async def send_text(
        self, chat_id: int, html: str, *, preview: bool, thread_id: int | None = None
    ) -> None:
        """`preview`: the chat's link-preview choice (else the bot's telegram.link_preview)."""
        await _mapped(
            self._bot.send_message(
                chat_id,
                html,
                parse_mode=ParseMode.HTML,
                link_preview_options=None if preview else NO_PREVIEW,
                message_thread_id=thread_id,
            )
        )

    async def send_photo(
        self, chat_id: int, photo_url: str, caption_html: str, *, thread_id: int | None = None
    ) -> None:
        await _mapped(
            self._bot.send_photo(
                chat_id,
                photo_url,
                caption=caption_html,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
            )
        )

    async def send_plain(self, chat_id: int, text: str, *, thread_id: int | None = None) -> None:
        await _mapped(
            self._bot.send_message(
                chat_id, text, link_preview_options=NO_PREVIEW, message_thread_id=thread_id
            )
        )

    async def send_document(
        self, chat_id: int, url: str, caption_html: str, *, thread_id: int | None = None
    ) -> None:
        """Send the file at an http(s) URL: Telegram fetches it (up to 20 MB) and refuses with
        a 400 (MessageRejected) when it cannot. Never a local path: PTB would upload that."""
        href = safe_href(url)
        if href is None:
            raise MessageRejected(f"not an http(s) URL: {url[:100]!r}")
        await _mapped(
            self._bot.send_document(
                chat_id,
                href,
                caption=caption_html,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
            )
        )


# --------------------------------------------------------------------------- commands


def keyboard(buttons: Buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in buttons]
    )


class PtbTransport:
    """bot.telegram.replies.Transport over a PTB Bot: command answers, redraws and files."""

    def __init__(self, bot: Any) -> None:
        self._bot = bot

    async def send(self, chat_id: int, text: str, *, html: bool, buttons: Buttons,
                   thread_id: int | None) -> None:
        await _mapped(self._bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML if html else None,
            reply_markup=keyboard(buttons), link_preview_options=NO_PREVIEW,
            message_thread_id=thread_id))

    async def edit(self, chat_id: int, message_id: int, text: str, *, buttons: Buttons) -> None:
        try:
            await self._bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=keyboard(buttons), link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise delivery_error(exc) from exc
        except TelegramError as exc:
            raise delivery_error(exc) from exc

    async def send_file(self, chat_id: int, name: str, data: bytes, caption: str, *,
                        thread_id: int | None) -> None:
        await _mapped(self._bot.send_document(
            chat_id, InputFile(data, filename=name), caption=caption or None,
            parse_mode=ParseMode.HTML, message_thread_id=thread_id))


def _wiring(context: ContextTypes.DEFAULT_TYPE) -> Wiring:
    wiring = context.application.bot_data[WIRING_KEY]
    assert isinstance(wiring, Wiring)
    return wiring


async def _is_chat_admin(
    context: ContextTypes.DEFAULT_TYPE, chat: Chat, message: Message | None, user: User | None
) -> bool:
    """Group admins (also anonymous ones posting as the group); cached for a minute."""
    if chat.type not in (Chat.GROUP, Chat.SUPERGROUP):
        return chat.type == Chat.CHANNEL
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    if user is None:
        return False
    cache = _wiring(context).admin_cache
    key = (chat.id, user.id)
    cached = cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < ADMIN_CACHE_SECONDS:
        return cached[1]
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        logger.warning("admin check in chat %s failed: %s", chat.id, exc)
        return False
    is_admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    cache[key] = (time.monotonic(), is_admin)
    return is_admin


def topic_of(message: object) -> int | None:
    """The forum topic a message was posted in (None: the chat itself, or not a forum)."""
    if isinstance(message, Message) and message.is_topic_message:
        return message.message_thread_id
    return None


async def _context(
    context: ContextTypes.DEFAULT_TYPE,
    chat: Chat,
    user: User | None,
    message: Message | None,
    *,
    thread_id: int | None = None,
) -> CommandContext:
    wiring = _wiring(context)
    return CommandContext(
        chat_id=chat.id,
        chat_type=chat.type,
        user_id=user.id if user else None,
        language_code=user.language_code if user else None,
        chat_title=chat.title or chat.full_name or "",
        is_chat_admin=await _is_chat_admin(context, chat, message, user),
        is_bot_admin=user is not None and user.id in wiring.admins,
        thread_id=thread_id,
    )


async def _on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    parsed = parse_command(message.text, context.bot.username)
    if parsed is None:
        return
    wiring = _wiring(context)
    if chat.type == Chat.CHANNEL and not wiring.serves_channel(chat.id, chat.username):
        return  # anyone can add a bot to a channel; only configured ones are served
    async with wiring.order.turn(chat.id):  # one chat's commands are answered in order
        ctx = await _context(context, chat, message.from_user, message,
                             thread_id=topic_of(message))
        reply = wiring.commands.run(ctx, *parsed)
        if reply is not None:
            await wiring.replier.send(chat.id, _kind(chat), reply, thread_id=ctx.thread_id)
    if reply is not None and reply.later is not None:
        # e.g. /add's fetch: the chat's next commands and other chats are answered meanwhile.
        context.application.create_task(
            _send_later(wiring, chat, reply.later, thread_id=ctx.thread_id),
            update=update, name="command follow-up")


async def _send_later(
    wiring: Wiring, chat: Chat, later: Callable[[], Awaitable[Reply]], *, thread_id: int | None
) -> None:
    follow_up = await later()
    async with wiring.order.turn(chat.id):
        await wiring.replier.send(chat.id, _kind(chat), follow_up, thread_id=thread_id)


async def _on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button: the answer redraws the message, follows it, or (a refusal) is an alert only
    the presser sees, so a group is not told about each member's taps."""
    query = update.callback_query
    if query is None:
        return
    message = query.message
    if message is None or not query.data:
        await query.answer()  # stops the spinner
        return
    wiring = _wiring(context)
    async with wiring.order.turn(message.chat.id):
        thread_id = topic_of(message)
        ctx = await _context(context, message.chat, query.from_user, None, thread_id=thread_id)
        reply = wiring.commands.press(ctx, query.data)
        if reply is not None and reply.alert:
            await query.answer(alert_text(reply), show_alert=True)
            return
        await query.answer()  # before any wait for the chat's turn: the spinner stops now
        if reply is None:
            return
        message_id = message.message_id if isinstance(message, Message) else None
        await wiring.replier.send(message.chat.id, _kind(message.chat), reply,
                                  thread_id=thread_id, message_id=message_id)


async def _on_chatter(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in a private chat: a one-line hint rather than silence."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or chat.type != Chat.PRIVATE:
        return
    wiring = _wiring(context)
    async with wiring.order.turn(chat.id):
        ctx = await _context(context, chat, message.from_user, message)
        reply = wiring.commands.chatter(ctx)
        if reply is not None:
            await wiring.replier.send(chat.id, "private", reply)


def _kind(chat: Chat) -> ChatKind:
    """The chat's kind for pacing: private chats and groups have different limits."""
    kinds: dict[str, ChatKind] = {Chat.PRIVATE: "private", Chat.GROUP: "group",
                                  Chat.SUPERGROUP: "supergroup", Chat.CHANNEL: "channel"}
    return kinds.get(chat.type, "group")


async def _on_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was blocked, kicked or left: stop sending there. Unblocked: sending resumes."""
    change = update.my_chat_member
    if change is None:
        return
    wiring = _wiring(context)
    chat_id = change.chat.id
    status = change.new_chat_member.status
    if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
        logger.info("removed from chat %s (%s); deactivating it", chat_id, status)
        if wiring.store is not None:
            wiring.store.set_chat(chat_id, active=False)
        if wiring.on_chat_gone is not None:
            wiring.on_chat_gone(chat_id)
    elif change.old_chat_member.status == ChatMemberStatus.BANNED and wiring.store is not None:
        wiring.store.set_chat(chat_id, active=True)  # a no-op for a chat that used /stop


async def _on_migration(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: its settings and queue follow the new id."""
    message = update.effective_message
    store = _wiring(context).store
    if message is None or message.migrate_to_chat_id is None or store is None:
        return
    logger.info("chat %s moved to %s", message.chat.id, message.migrate_to_chat_id)
    store.move_chat(message.chat.id, message.migrate_to_chat_id)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("update handling failed: %s", redact(repr(context.error)))


# --------------------------------------------------------------------------- application


def quiet_http_loggers() -> None:
    """httpx logs every request URL (token included) at INFO, PTB at DEBUG: keep them quieter."""
    for name in ("httpx", "httpcore", "telegram"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_application(
    token: str,
    *,
    base_url: str = "https://api.telegram.org/bot",
    commands: CommandsLike,
    admins: Sequence[int] = (),
    channels: Sequence[int | str] = (),
    store: ChatRegistry | None = None,
    on_chat_gone: Callable[[int], None] | None = None,
    base_file_url: str | None = None,
    read_timeout: float = 15.0,
    connect_timeout: float = 10.0,
    pacer: Pacer | None = None,
) -> App:
    """A PTB Application whose handlers call `commands`; start it with `start_bot`."""
    quiet_http_loggers()
    remember_secret(token)  # whoever built the config, the token is redacted in every spelling
    request = HTTPXRequest(
        connection_pool_size=16,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
        connect_timeout=connect_timeout,
        pool_timeout=5.0,
    )
    poll_request = HTTPXRequest(read_timeout=read_timeout, connect_timeout=connect_timeout)
    app: App = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url or file_url_for(base_url))
        .request(request)
        .get_updates_request(poll_request)
        .job_queue(None)
        .post_init(startup)
        .concurrent_updates(True)  # a group's reply waiting for its turn holds up no other chat
        .build()
    )
    app.bot_data[WIRING_KEY] = Wiring(
        commands=commands,
        admins=frozenset(admins),
        channels=frozenset(channels),
        store=store,
        on_chat_gone=on_chat_gone,
        admin_cache={},
        replier=Replier(PtbTransport(app.bot), pacer or Pacer()),
        order=ChatOrder(),
    )
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, _on_migration))
    app.add_handler(MessageHandler(filters.COMMAND & ~filters.UpdateType.EDITED, _on_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE
                                   & ~filters.UpdateType.EDITED, _on_chatter))
    app.add_handler(CallbackQueryHandler(_on_press))
    app.add_handler(ChatMemberHandler(_on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(_on_error)
    return app


async def startup(app: App) -> None:
    """Publish the command menu (Vietnamese by default, and per language) and subscribe the
    configured channels; never fatal."""
    await _publish_menu(app)
    await _adopt_channels(app)


async def _adopt_channels(app: App) -> None:
    """Each channel in telegram.channels follows the default feeds from the start, silently:
    nobody has to post /start into a public channel (which would show its readers a welcome)."""
    wiring: Wiring = app.bot_data[WIRING_KEY]
    for channel in sorted(wiring.channels, key=str):
        name = f"@{channel.lstrip('@')}" if isinstance(channel, str) else channel
        try:
            chat = await app.bot.get_chat(name)
        except TelegramError as exc:
            logger.warning("channel %s from telegram.channels not reachable (%s): add the bot "
                           "as an admin there", channel, redact(exc.message))
            continue
        if chat.type != Chat.CHANNEL:
            logger.warning("telegram.channels names %s, which is a %s, not a channel",
                           channel, chat.type)
            continue
        wiring.commands.adopt_channel(chat.id, chat.title or "")


async def _publish_menu(app: App) -> None:
    commands = app.bot_data[WIRING_KEY].commands
    try:
        default = [BotCommand(c, d) for c, d in commands.command_list(MENU_LANGUAGES[0])]
        await app.bot.set_my_commands(default)
        for language in MENU_LANGUAGES:
            menu = [BotCommand(c, d) for c, d in commands.command_list(language)]
            await app.bot.set_my_commands(menu, language_code=language)
    except TelegramError as exc:
        logger.warning("could not set the command menu: %s", redact(exc.message))


async def start_bot(app: App, *, poll_timeout: float = 10.0) -> None:
    """Run the bot inside the caller's loop: initialize (getMe), menu, start, long polling.

    Raises bot.errors: a refused token is a DeliveryError (not worth retrying), an unreachable
    Telegram a TransientDelivery.
    """
    await _mapped(app.initialize())
    await _mapped(startup(app))
    await app.start()
    assert app.updater is not None
    try:
        await _mapped(app.updater.start_polling(
            timeout=int(poll_timeout), allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
        ))
    except BaseException:
        await app.stop()  # so that a retry can start it again
        raise


async def start_bot_webhook(app: App, url: str, secret: str) -> None:
    """Like start_bot, but Telegram posts updates to `url` (our web server, sending `secret`
    in X-Telegram-Bot-Api-Secret-Token) and they reach the bot through feed_update."""
    await _mapped(app.initialize())
    await _mapped(startup(app))
    try:  # before app.start(), so a failure can simply be retried
        await app.bot.set_webhook(
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
        )
    except BadRequest as exc:
        raise DeliveryError(
            f"Telegram refused the webhook URL {url}: {redact(exc.message)}",
            hint="telegram.webhook_url must be a public https URL on port 443, 80, 88 or 8443",
        ) from exc
    except TelegramError as exc:
        raise delivery_error(exc) from exc
    await app.start()


async def feed_update(app: App, data: dict[str, object]) -> None:
    """Queue one update Telegram posted to the webhook; a malformed one is dropped (logged)."""
    try:
        update = Update.de_json(data, app.bot)
    except Exception as exc:  # PTB raises KeyError, TypeError, AttributeError... on bad shapes
        logger.warning("dropped a malformed webhook update (%s)", type(exc).__name__)
        return
    await app.update_queue.put(update)


def username(app: App) -> str | None:
    """The bot's username, known once the application is initialised (getMe)."""
    try:
        name = app.bot.username
    except RuntimeError:  # PTB: not initialised yet
        return None
    return str(name) if name else None


async def stop_bot(app: App) -> None:
    """The reverse of start_bot and start_bot_webhook; safe on a half-started app.

    The webhook stays registered: while we are down Telegram keeps the updates and retries,
    and the next start sets it again."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
