"""/add URL and /remove ID: the bot's admins (telegram.admins) add and remove sources.

/add answers at once ("checking…") and, once the daemon has looked at the URL (a `SourceDesk`
that bot.app gives: the same fetcher and proposals as `newsbot add`, and a fetch that may not
reach a private address unless the config allows it), follows with a preview of five items and
Save / Cancel buttons. /remove asks for a confirmation button. Saving or removing rewrites feeds/;
the daemon reads it again at once, so /feeds follows.

Buttons: `src:save:<key>`, `src:cancel:<key>` (the desk's proposal key), `src:rm:<hash>`,
`src:keep:<hash>` (the feed id's hash token).
"""

from __future__ import annotations

from typing import Protocol

from bot.errors import NewsbotError
from bot.model import SourcePreview
from bot.telegram.commands.base import (
    NAMES_SHOWN,
    Button,
    Call,
    CommandBase,
    Reply,
    hash_token,
)
from bot.telegram.commands.text import link
from bot.telegram.texts import t

SOURCE_ACTION = "src"
_URL_SHOWN = 200


class SourceDesk(Protocol):
    """Adding and removing recipes, done by the daemon (bot.add_desk.AddDesk)."""

    async def propose(self, url: str) -> SourcePreview: ...

    def save(self, key: str) -> str: ...

    def drop(self, key: str) -> None: ...

    def remove(self, feed_id: str) -> None: ...


class SourceCommands(CommandBase):
    """/add and /remove, and their buttons."""

    sources: SourceDesk | None

    def _add(self, call: Call) -> Reply:
        lang = call.lang
        refused = self._not_for(call)
        if refused is not None:
            return refused
        url = call.args.split()[0] if call.args.split() else ""
        if not url.startswith(("http://", "https://")):
            return Reply(t(lang, "src_add_usage"))
        desk = self.sources
        assert desk is not None  # _not_for said so

        async def preview() -> Reply:
            try:
                found = await desk.propose(url)
            except NewsbotError as exc:
                return Reply(t(lang, "src_add_failed", url=url[:_URL_SHOWN], error=str(exc)))
            return _preview_reply(lang, found)

        return Reply(t(lang, "src_checking", url=url[:_URL_SHOWN]), later=preview)

    def _remove(self, call: Call) -> Reply:
        refused = self._not_for(call)
        if refused is not None:
            return refused
        feed_id = call.args.strip()
        if feed_id not in self.feeds:
            return Reply(t(call.lang, "src_remove_unknown", feed_id=feed_id[:64],
                           names=", ".join(list(self.feeds)[:NAMES_SHOWN]) or "-"))
        token = hash_token(feed_id)
        buttons = ((Button(t(call.lang, "src_remove_button"), f"{SOURCE_ACTION}:rm:{token}"),
                    Button(t(call.lang, "src_keep_button"), f"{SOURCE_ACTION}:keep:{token}")),)
        title = self.feeds[feed_id].title
        return Reply(t(call.lang, "src_remove_confirm", title=title, feed_id=feed_id),
                     buttons=buttons)

    def _source_press(self, call: Call, token: str) -> Reply:
        refused = self._not_for(call)
        if refused is not None:
            return refused
        desk = self.sources
        assert desk is not None
        lang = call.lang
        verb, _, key = token.partition(":")
        try:
            if verb == "save":
                feed_id = desk.save(key)
                return Reply(t(lang, "src_saved", feed_id=feed_id), edit=True)
            if verb == "cancel":
                desk.drop(key)
                return Reply(t(lang, "src_cancelled"), edit=True)
            if verb in ("rm", "keep"):
                feed_id = next((f for f in self.feeds if hash_token(f) == key), "")
                if not feed_id:
                    return Reply(t(lang, "src_remove_gone"), edit=True)
                if verb == "keep":
                    return Reply(t(lang, "src_kept", feed_id=feed_id), edit=True)
                desk.remove(feed_id)
                return Reply(t(lang, "src_removed", feed_id=feed_id), edit=True)
        except NewsbotError as exc:
            return Reply(t(lang, "src_failed", error=str(exc)), edit=True)
        return Reply(t(lang, "src_remove_gone"), edit=True)

    def _not_for(self, call: Call) -> Reply | None:
        """The refusal for anyone but a bot admin, or when adding is not wired (None: go on)."""
        if not call.ctx.is_bot_admin:
            return Reply(t(call.lang, "src_admins_only"))
        if self.sources is None:
            return Reply(t(call.lang, "src_unavailable"))
        return None


def _preview_reply(lang: str, found: SourcePreview) -> Reply:
    lines = [t(lang, f"src_found_{found.kind}", title=found.title, url=found.url,
               feed_id=found.feed_id)]
    for item in found.items:
        date = item.published_at.strftime("%d/%m/%Y") if item.published_at else ""
        lines.append(f"• {link(item.url, item.title)}" + (f" ({date})" if date else ""))
    lines.append(t(lang, "src_shown", shown=len(found.items), total=found.total,
                   feed_id=found.feed_id))
    buttons = ((Button(t(lang, "src_save_button"), f"{SOURCE_ACTION}:save:{found.key}"),
                Button(t(lang, "src_cancel_button"), f"{SOURCE_ACTION}:cancel:{found.key}")),)
    return Reply("\n".join(lines), buttons=buttons)
